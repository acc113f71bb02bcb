"""Speech front end: :class:`SpeechFeatures` (audio to fixed-size rows and back),
:func:`extract_features`, :class:`GroupStandardScaler` (per-speaker CMVN), and
:mod:`skvae.audio`'s ``load_audio``, ``write_wav`` and ``AudioReadError``.

Never imports torch; names load on first use, so joblib workers (which import
only ``_spectrogram``) start without scikit-learn or librosa.
"""

import importlib

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
