"""Voice augmentation at fit time: imbalanced-learn samplers for speech.

Rows are added only when a pipeline is fitted (``fit_resample``, skipped by
``predict`` and ``transform``), so augmentation is tuned and cross-validated
like any other step. Needs the ``augment`` extra
(``pip install "skvae[augment]"``: imbalanced-learn, praat-parselmouth).

- :class:`VoicePerturbation`: speed (resampling), vocal-tract-length
  (formant) and pitch perturbed copies of utterances, before
  :class:`~skvae.features.SpeechFeatures`; never imports torch.
- :func:`perturb_voice`: one perturbed copy of one waveform.
- :class:`VoiceConversionSampler`: feature rows re-rendered in other (or
  mixed) speakers' voices by a speaker-factorised
  (:class:`~skvae.FactorizedVAE`) or speaker-conditioned
  (:class:`~skvae.VAETransformer` with groups) decoder fitted at fit time.
  It needs torch, so it is imported on first use.
- :class:`ResamplingPipeline`: an :class:`imblearn.pipeline.Pipeline`
  that takes ``groups`` and re-indexes them (and any row-aligned metadata)
  after each sampler with its ``sample_indices_``, so that speaker CMVN
  (:class:`~skvae.features.GroupStandardScaler`) and speaker-conditioned
  models after a sampler get groups aligned with the resampled rows.
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
