"""Speech front end: audio in, fixed-size feature rows out, and back to audio.

Built on librosa and soundfile; never imports torch. The public names are
defined in private modules and loaded on first use, so that the joblib
workers of the extractors, which import only ``skvae.features._kernel``,
start without importing scikit-learn or librosa.

- :class:`SpeechFeatures`: log-mel / MFCC rows (and frames) of utterances,
  a scikit-learn transformer that learns only the bandwidth of its training
  audio, with optional gain normalisation and ``inverse_transform`` back to
  audio through Griffin-Lim.
- :func:`extract_features`: the same for one utterance, as a function.
- :class:`GroupStandardScaler`: per-speaker (per-group) mean and variance
  normalisation of feature rows.
- :func:`load_audio`, :func:`write_wav`, :class:`AudioReadError`: audio I/O.
"""

import importlib

# public name -> private module that defines it
_LAZY_ATTRS = {
    "AudioReadError": "._audio",
    "load_audio": "._audio",
    "write_wav": "._audio",
    "GroupStandardScaler": "._normalize",
    "SpeechFeatures": "._spectral",
    "extract_features": "._spectral",
}

__all__ = list(_LAZY_ATTRS)


def __getattr__(name):
    if name in _LAZY_ATTRS:
        module = importlib.import_module(_LAZY_ATTRS[name], __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
