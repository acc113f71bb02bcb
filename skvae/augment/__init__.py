"""Fit-time voice augmentation: imbalanced-learn samplers for speech.

:class:`VoicePerturbation` / :func:`perturb_voice` (speed, VTLP, pitch; no
torch), :class:`SyntheticVoices` (the labels' words said by eSpeak NG voices;
no torch), :class:`FillerWords` (other words as a filler class, for the
reject option; no torch), :class:`VoiceConversionSampler` (other speakers'
voices; imports torch on first use) and :class:`ResamplingPipeline`
(re-indexes ``groups`` with the rows). Its dependencies (imbalanced-learn,
Praat, eSpeak NG) come with skvae.
"""

from ..datasets._synth import voice_names
from ._filler import FILLER_WORDS, FillerWords
from ._pipeline import ResamplingPipeline
from ._synth import SyntheticVoices
from ._waveform import VoicePerturbation, perturb_voice

__all__ = [
    "FILLER_WORDS",
    "FillerWords",
    "ResamplingPipeline",
    "SyntheticVoices",
    "VoiceConversionSampler",
    "VoicePerturbation",
    "perturb_voice",
    "voice_names",
]


def __getattr__(name):
    if name == "VoiceConversionSampler":  # imports torch
        from ._model import VoiceConversionSampler

        globals()[name] = VoiceConversionSampler
        return VoiceConversionSampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
