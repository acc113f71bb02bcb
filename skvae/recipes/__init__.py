"""Ready-made speech recognisers and generators, and the steps that train them.

:func:`make_recognizer` builds the recogniser (a :class:`RecognizerPipeline`
of steps ``"features"`` and ``"model"``; by default a
:class:`~skvae.augment.ResamplingPipeline` whose ``"voices"`` sampler adds
generated voices at fit time first), :func:`train_recognizer` fits it and
the generator on front-end rows computed once, :func:`save_recognizer`,
:func:`load_recognizer` and :func:`load_predictor` keep it in a model file.

The model (a "bundle") is a dict: ``"format"`` (``"skvae-recognizer"``),
``"format_version"`` (1), ``"recognizer"`` (the fitted
:class:`RecognizerPipeline`), ``"generator"`` (a fitted
:class:`~skvae.VAEClassifier` on the training log-mel rows, or absent),
``"durations"`` (each label's median training duration in seconds, the
length of generated audio), ``"band_variances"`` (each label's variance
over time of each mel band, which generated rows are matched to) and
``"metadata"`` (a JSON-like dict: data, split, accuracies, epochs, timings,
versions, command line). On disk it is
a :mod:`skops.io` file (``model.skops``), loaded without unpickling,
trusting only skops's default types and :func:`trusted_types`. torch and
librosa are imported by the functions that need them.
"""

from ._factories import FILLER as FILLER
from ._factories import GENERATED_VOICES as GENERATED_VOICES
from ._factories import PERTURBATION as PERTURBATION
from ._factories import REJECT_HOLD_OUT as REJECT_HOLD_OUT
from ._factories import SEQUENCE_VAE as SEQUENCE_VAE
from ._factories import (
    make_generator,
    make_recognizer,
    resolve_augment,
    resolve_auto,
    without_filler,
)
from ._generate import GENERATION_TEMPERATURE as GENERATION_TEMPERATURE
from ._generate import MAX_VARIANCE_GAIN as MAX_VARIANCE_GAIN
from ._generate import MEL_INVERSE as MEL_INVERSE
from ._generate import (
    can_generate,
    generate_utterances,
    match_variance,
    recognize_files,
    resynthesize,
    write_utterances,
)
from ._model_file import (
    MODEL_FILE,
    WEIGHTS_FILE,
    is_transcriber,
    load_recognizer,
    save_recognizer,
    trusted_types,
)
from ._model_file import MODEL_FORMAT as MODEL_FORMAT
from ._model_file import MODEL_FORMAT_VERSION as MODEL_FORMAT_VERSION
from ._pipeline import RecognizerPipeline
from ._predictor import CACHE_MAX_ENTRIES, PredictionCache, cache_dir, load_predictor
from ._rows import (
    as_utterances,
    flat_rows,
    generator_features,
    generator_rows,
    is_sequence,
)
from ._train import (
    band_variances,
    check_device,
    fit_generator,
    fit_recognizer,
    recognizer_bundle,
    train_recognizer,
)
from ._transcribe import N_TEST_VOICES as N_TEST_VOICES
from ._transcribe import TRAINING_STRINGS as TRAINING_STRINGS
from ._transcribe import TRANSCRIBER as TRANSCRIBER
from ._transcribe import (
    SegmentCodes,
    make_transcriber,
    split_voices,
    train_transcriber,
    training_strings,
    transcriber_bundle,
)

__all__ = [
    "CACHE_MAX_ENTRIES",
    "MODEL_FILE",
    "PredictionCache",
    "WEIGHTS_FILE",
    "RecognizerPipeline",
    "SegmentCodes",
    "as_utterances",
    "band_variances",
    "cache_dir",
    "can_generate",
    "check_device",
    "fit_generator",
    "fit_recognizer",
    "flat_rows",
    "generate_utterances",
    "generator_features",
    "generator_rows",
    "is_sequence",
    "is_transcriber",
    "load_predictor",
    "load_recognizer",
    "make_generator",
    "make_recognizer",
    "make_transcriber",
    "match_variance",
    "recognize_files",
    "recognizer_bundle",
    "resolve_augment",
    "resolve_auto",
    "resynthesize",
    "save_recognizer",
    "split_voices",
    "train_recognizer",
    "train_transcriber",
    "training_strings",
    "transcriber_bundle",
    "trusted_types",
    "without_filler",
    "write_utterances",
]
