"""Ready-made speech recognisers and generators, and the steps that train them.

What ``skvae train`` does, as functions a Python user can call:

- :func:`make_recognizer`: the recommended recogniser, an unfitted
  :class:`RecognizerPipeline` with steps ``"features"`` (the front end,
  from audio to log-mel rows) and ``"model"`` (the rows model: VAE and
  calibrated SVC, inside a :class:`~skvae.RejectOptionClassifier` with the
  reject option); :func:`make_generator`: the conditional VAE that
  generates utterances.
- :func:`train_recognizer` (:func:`fit_recognizer`, :func:`fit_generator`,
  :func:`recognizer_bundle`): training on front-end rows computed once, so
  that the baselines and the generator reuse them.
- :func:`generate_utterances`, :func:`write_utterances`: new utterances of
  a label, as audio and as WAV files; :func:`recognize_files`: labels of
  audio files, past unreadable ones.
- :func:`save_recognizer`, :func:`load_recognizer`: the model file, which
  loads without unpickling anything; :func:`load_predictor`: the same model
  for prediction only, loaded in a fraction of a second.

The model (a "bundle") is a dict: ``"format"`` (``"skvae-recognizer"``),
``"format_version"`` (1), ``"recognizer"`` (the fitted
:class:`RecognizerPipeline`; ``bundle["recognizer"].predict(["a.wav"])``
works on its own), ``"generator"`` (a fitted :class:`~skvae.VAEClassifier`
on the training log-mel rows, or absent), ``"durations"`` (the median
duration in seconds of each label's training utterances, the length of
generated audio) and ``"metadata"`` (a JSON-like dict: data, split,
accuracies, epochs, timings, versions, command line). On disk
(``model.skops``) it is a :mod:`skops.io` file: objects stored as data, the
VAEs' weights as bytes of their weights-only format, loaded trusting only
skops's default types and :func:`trusted_types`.

Library functions raise standard exceptions (``ValueError``, ``OSError``,
``FileNotFoundError``, ``ImportError``); the command line turns them into
messages and exit codes. torch and librosa are imported by the functions
that need them.
"""

from ._factories import REJECT_HOLD_OUT as REJECT_HOLD_OUT
from ._factories import make_generator, make_recognizer
from ._generate import (
    can_generate,
    generate_utterances,
    recognize_files,
    write_utterances,
)
from ._model_file import (
    MODEL_FILE,
    WEIGHTS_FILE,
    load_recognizer,
    save_recognizer,
    trusted_types,
)
from ._model_file import MODEL_FORMAT as MODEL_FORMAT
from ._model_file import MODEL_FORMAT_VERSION as MODEL_FORMAT_VERSION
from ._pipeline import RecognizerPipeline
from ._predictor import CACHE_MAX_ENTRIES, PredictionCache, cache_dir, load_predictor
from ._train import (
    check_device,
    fit_generator,
    fit_recognizer,
    recognizer_bundle,
    train_recognizer,
)

__all__ = [
    "CACHE_MAX_ENTRIES",
    "MODEL_FILE",
    "PredictionCache",
    "WEIGHTS_FILE",
    "RecognizerPipeline",
    "cache_dir",
    "can_generate",
    "check_device",
    "fit_generator",
    "fit_recognizer",
    "generate_utterances",
    "load_predictor",
    "load_recognizer",
    "make_generator",
    "make_recognizer",
    "recognize_files",
    "recognizer_bundle",
    "save_recognizer",
    "train_recognizer",
    "trusted_types",
    "write_utterances",
]
