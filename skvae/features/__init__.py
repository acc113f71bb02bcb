"""Speech front end: audio in, fixed-size feature rows out, and back to audio.

- :class:`SpeechFeatures`: log-mel / MFCC rows (and frames) of utterances,
  and :func:`extract_features` for one; ``inverse_transform`` goes back to
  audio (Griffin-Lim).
- :class:`GroupStandardScaler`: per-speaker feature normalisation.
- :func:`load_audio`, :func:`write_wav`, :class:`AudioReadError`: from
  :mod:`skvae.audio`.

Never imports torch. The names are loaded on first use, so that the joblib
workers, which import only ``skvae.features._spectrogram``, start without
importing scikit-learn or librosa.
"""

import importlib

# public name -> the module that defines it
_LAZY_ATTRS = {
    "AudioReadError": "..audio",
    "load_audio": "..audio",
    "write_wav": "..audio",
    "GroupStandardScaler": "._normalize",
    "SpeechFeatures": "._spectral",
    "extract_features": "._spectral",
}

__all__ = list(_LAZY_ATTRS)


def __getattr__(name):
    if name not in _LAZY_ATTRS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY_ATTRS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
