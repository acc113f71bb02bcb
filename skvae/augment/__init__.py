"""Voice augmentation at fit time: imbalanced-learn samplers for speech.

Rows are added only when a pipeline is fitted (``fit_resample``; ``predict``
and ``transform`` skip the samplers), so augmentation is tuned and
cross-validated like any other step. Needs the ``augment`` extra
(``pip install "skvae[augment]"``).

- :class:`VoicePerturbation`: speed, vocal-tract-length and pitch perturbed
  copies of utterances (never imports torch); :func:`perturb_voice`: one.
- :class:`VoiceConversionSampler`: feature rows re-rendered in other
  speakers' voices by a VAE fitted at fit time (needs torch: imported on
  first use).
- :class:`ResamplingPipeline`: an imblearn Pipeline whose samplers
  re-index ``groups`` (and other row-aligned metadata) with the rows.
"""

from ._pipeline import ResamplingPipeline
from ._waveform import VoicePerturbation, perturb_voice

__all__ = [
    "ResamplingPipeline",
    "VoiceConversionSampler",
    "VoicePerturbation",
    "perturb_voice",
]


def __getattr__(name):
    if name == "VoiceConversionSampler":  # imports torch
        from ._model import VoiceConversionSampler

        globals()[name] = VoiceConversionSampler
        return VoiceConversionSampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
