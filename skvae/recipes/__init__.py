"""Ready-made speech recognisers and generators, and the steps that train them.

What ``skvae train`` does, as functions a Python user can call:

- :func:`make_recognizer`: the recommended recogniser, an unfitted
  :class:`RecognizerPipeline` from audio (file paths or waveforms) to
  labels: ``SpeechFeatures -> VAETransformer -> calibrated SVC``.
- :func:`make_generator`: the conditional VAE that generates utterances.
- :func:`extract_features`, :func:`train_recognizer` (which calls
  :func:`fit_recognizer`, :func:`fit_generator` and
  :func:`recognizer_bundle`): the training steps, on feature rows computed
  once (so that the baselines and the generator reuse them).
- :func:`generate_utterances`: new utterances of a label, as audio;
  :func:`write_utterances`: as WAV files; :func:`recognize_files`: labels of
  audio files, past unreadable ones.
- :func:`save_recognizer`, :func:`load_recognizer`: the saved model, a file
  that loads without unpickling anything; :func:`load_predictor`: the same
  model for prediction only, loaded in a fraction of a second (no torch;
  a private cache spares reading the skops file again);
  :func:`staged_folder`: write a folder's new contents aside and swap them
  in at once.

Library functions raise standard exceptions (``ValueError``, ``OSError``,
``FileNotFoundError``, ``ImportError``); the command line turns them into
messages and exit codes. torch and librosa are imported by the functions
that need them.

The model (a "bundle") is a dict:

- ``"format"``: ``"skvae-recognizer"``, ``"format_version"``: 2 (3 with the
  reject option);
- ``"pipeline"``: the fitted recogniser (steps ``"features"``, ``"vae"``,
  ``"clf"``); it takes audio file paths or waveforms, so
  ``bundle["pipeline"].predict(["a.wav"])`` works on its own. With the
  reject option (``make_recognizer(reject=True)``) it is a fitted
  :class:`~skvae.RejectOptionClassifier` around that pipeline, whose
  ``predict`` answers -1 (or ``"<unknown>"``) for words it does not know;
  :func:`recognizer_pipeline` gives the pipeline inside either way;
- ``"classes"``: the labels, as ``pipeline.classes_``;
- ``"generator"``: a fitted :class:`~skvae.VAEClassifier` on the training
  log-mel rows, the conditional VAE that generates utterances of a label;
- ``"latent_means"`` (n_classes, n_components) and ``"latent_covs"``
  (n_classes, n_components, n_components): a Gaussian fitted to each label's
  latent codes of the training utterances; models saved before the
  generator existed generate from these;
- ``"durations"`` (n_classes,): the median duration in seconds of each
  label's training utterances, the length given to generated audio;
- ``"metadata"``: a JSON-like dict (data and split used, accuracies, epochs,
  timings, versions, command line).

On disk (``model.skops``, :func:`save_recognizer`) it is a :mod:`skops.io`
file, which stores objects as data and loads only the types it is told to
trust, never through :mod:`pickle`: the VAE steps and the generator are kept
inside it as the bytes of their weights-only files (:func:`skvae.save`:
safetensors tensors and JSON), the rest as skops objects. Loading trusts
skops's own default types (Python built-ins, NumPy and SciPy arrays,
scikit-learn's public estimators) and the few of :data:`TRUSTED_TYPES`, and
refuses a file holding anything else. Models saved by older skvae versions
as ``model.joblib`` (pickle) are refused unless ``trust_pickle=True``.
"""

from ._factories import REJECT_HOLD_OUT as REJECT_HOLD_OUT
from ._factories import (
    make_generator,
    make_recognizer,
    recognizer_pipeline,
)
from ._generate import (
    can_generate,
    generate_utterances,
    recognize_files,
    write_utterances,
)
from ._model_file import (
    LEGACY_MODEL_FILE,
    MODEL_FILE,
    TRUSTED_TYPES,
    WEIGHTS_FILE,
    load_recognizer,
    save_recognizer,
)
from ._model_file import MODEL_FORMAT as MODEL_FORMAT
from ._model_file import MODEL_FORMAT_VERSION as MODEL_FORMAT_VERSION
from ._pipeline import RecognizerPipeline
from ._predictor import CACHE_MAX_ENTRIES, cache_dir, load_predictor
from ._staging import staged_folder
from ._train import (
    check_device,
    extract_features,
    fit_generator,
    fit_recognizer,
    recognizer_bundle,
    train_recognizer,
    versions,
)

__all__ = [
    "CACHE_MAX_ENTRIES",
    "LEGACY_MODEL_FILE",
    "MODEL_FILE",
    "TRUSTED_TYPES",
    "WEIGHTS_FILE",
    "RecognizerPipeline",
    "cache_dir",
    "can_generate",
    "check_device",
    "extract_features",
    "fit_generator",
    "fit_recognizer",
    "generate_utterances",
    "load_predictor",
    "load_recognizer",
    "make_generator",
    "make_recognizer",
    "recognize_files",
    "recognizer_bundle",
    "recognizer_pipeline",
    "save_recognizer",
    "staged_folder",
    "train_recognizer",
    "versions",
    "write_utterances",
]
