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
- :class:`ResamplingPipeline`: an :class:`imblearn.pipeline.Pipeline`
  that takes ``groups`` and re-indexes them (and any row-aligned metadata)
  after each sampler with its ``sample_indices_``, so that speaker CMVN
  (:class:`~skvae.features.GroupStandardScaler`) and speaker-conditioned
  models after a sampler get groups aligned with the resampled rows.

The public names are defined in private modules and loaded on first use, so
that the waveform sampler does not import torch.
"""

import importlib

# public name -> private module that defines it
_LAZY_ATTRS = {
    "VoicePerturbation": "._waveform",
    "perturb_voice": "._waveform",
    "ResamplingPipeline": "._pipeline",
    "VoiceConversionSampler": "._model",
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
