"""Speech front end: audio in, fixed-size feature rows out, and back to audio.

Built on librosa (at ``fit``) and NumPy; never imports torch.

- :class:`SpeechFeatures`: log-mel / MFCC rows (and frames) of utterances,
  a scikit-learn transformer that stores its analysis window, mel filterbank
  and DCT matrix at ``fit``, with optional gain normalisation and
  ``inverse_transform`` back to audio through Griffin-Lim.
- :func:`extract_features`: the same for one utterance, as a function.
- :class:`GroupStandardScaler`: per-speaker (per-group) mean and variance
  normalisation of feature rows.
- :func:`load_audio`, :func:`write_wav`, :class:`AudioReadError`: audio I/O,
  from :mod:`skvae.audio`.

The names are loaded on first use, so that the joblib workers of the
extractors, which import only ``skvae.features._spectrogram``, start without
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
