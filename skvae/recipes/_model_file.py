"""The model file: save_recognizer, load_recognizer, and the types it trusts."""

from pathlib import Path

MODEL_FORMAT = "skvae-recognizer"
#: the model file format this version writes and reads
MODEL_FORMAT_VERSION = 1
#: the model file ``skvae train`` writes (skops, no pickle)
MODEL_FILE = "model.skops"
#: the recogniser's VAE alone, weights-only (:func:`skvae.save`)
WEIGHTS_FILE = "model.safetensors"
#: scikit-learn's private types inside a calibrated classifier
_SKLEARN_PRIVATE = (
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.calibration._TemperatureScaling",
)


def trusted_types():
    """The types a model file may hold beyond those :mod:`skops.io` trusts.

    Every estimator class that ``skvae``, ``skvae.features``, ``skvae.augment``
    and ``skvae.recipes`` export, and the private types of a calibrated
    classifier.

    Returns
    -------
    types : list of str
        Full type names, as skops writes them.

    Examples
    --------
    >>> from skvae.recipes import trusted_types
    >>> "skvae._transformer.VAETransformer" in trusted_types()
    True
    """
    import sys

    from sklearn.base import BaseEstimator

    from .. import augment, features

    names = set(_SKLEARN_PRIVATE)
    for module in (sys.modules["skvae"], features, augment, sys.modules[__package__]):
        for name in module.__all__:
            try:
                obj = getattr(module, name)
            except ImportError:  # an optional dependency is missing
                continue
            if isinstance(obj, type) and issubclass(obj, BaseEstimator):
                names.add(f"{obj.__module__}.{obj.__qualname__}")
    return sorted(names)


def _model_path(path):
    """The model file ``path`` names (a file, or a folder holding one)."""
    path = Path(path)
    return path / MODEL_FILE if path.is_dir() else path


def _existing_model(path):
    """The model file ``path`` names, which must exist."""
    file = _model_path(path)
    if not file.is_file():
        where = f" (the folder '{path}' holds no {MODEL_FILE})" * (file != Path(path))
        raise FileNotFoundError(
            f"model '{file}' does not exist{where}: train one with 'skvae train "
            f"--out DIR' and pass DIR or DIR/{MODEL_FILE}"
        )
    return file


def _steps(bundle):
    """(name, estimator) of every part of a bundle that is saved, innermost last."""
    out = []

    def walk(prefix, est):
        out.append((prefix, est))
        inner = getattr(est, "estimator_", None) or getattr(est, "estimator", None)
        if hasattr(est, "steps"):
            for name, step in est.steps:
                walk(f"{prefix}['{name}']", step)
        elif inner is not None and hasattr(inner, "steps"):
            walk(f"{prefix}.estimator_", inner)

    walk("recognizer", bundle.get("recognizer"))
    if bundle.get("generator") is not None:
        out.append(("generator", bundle["generator"]))
    return out


def _round_trip(obj, trusted):
    """Why ``obj`` could not be saved and loaded back, or None."""
    import skops.io

    if "_metadata_request" in getattr(obj, "__dict__", {}):
        return "a model file cannot hold metadata requests (set_fit_request)"
    try:
        data = skops.io.dumps(obj)
        untrusted = set(skops.io.get_untrusted_types(data=data)) - set(trusted)
        if untrusted:
            types = ", ".join(sorted(untrusted))
            return f"it holds types a model file may not hold ({types})"
        skops.io.loads(data, trusted=trusted)
    except Exception as exc:  # what skops or the estimator raised
        return f"{type(exc).__name__}: {exc}"
    return None


def save_recognizer(bundle, path):
    """Save a bundle as ``skvae train`` does: one skops file, no pickle.

    Written atomically with :func:`skops.io.dumps`. A recogniser that
    :func:`load_recognizer` could not load back is refused before anything
    is written, naming the innermost step at fault.

    Parameters
    ----------
    bundle : dict
        From :func:`recognizer_bundle` (see :mod:`skvae.recipes`).
    path : str or os.PathLike
        The file, or an existing folder (then ``folder/model.skops``).

    Returns
    -------
    path : pathlib.Path
        The file written; ``ValueError`` if the bundle is not one or a step
        cannot be saved and loaded back.
    """
    import skops.io

    from .._atomic import write_atomic

    _check_bundle(bundle, "the bundle to save", damaged="is not a recogniser bundle")
    content = {k: v for k, v in bundle.items() if k != "path"}
    trusted = trusted_types()
    reason = _round_trip(content, trusted)
    if reason is not None:  # name the innermost part that fails
        for name, part in reversed(_steps(content)):
            if (why := _round_trip(part, trusted)) is not None:
                raise ValueError(
                    f"cannot save the recogniser: its step {name} "
                    f"({type(part).__name__}) could not be loaded back: {why}"
                )
        raise ValueError(f"cannot save the recogniser: {reason}")
    return write_atomic(_model_path(path), skops.io.dumps(content))


def _check_bundle(bundle, where, *, damaged="is damaged"):
    """ValueError unless ``bundle`` is a model of this format (``where``: its name)."""
    import numpy as np
    from sklearn import config_context
    from sklearn.base import is_classifier
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    def fail(reason):
        raise ValueError(f"{where} {damaged} ({reason})")

    if not isinstance(bundle, dict) or bundle.get("format") != MODEL_FORMAT:
        raise ValueError(f"{where} is not a model saved by 'skvae train'")
    version = bundle.get("format_version")
    if type(version) is not int:
        fail(f"format_version is {version!r}, not an integer")
    if version > MODEL_FORMAT_VERSION:
        raise ValueError(f"{where} was saved by a newer skvae; upgrade skvae to use it")
    if version != MODEL_FORMAT_VERSION:
        fail(f"unknown format_version {version}")
    task = bundle.get("task", "recognize")
    if task == "transcribe":
        _check_transcriber(bundle, fail)
        return
    if task != "recognize":
        fail(f"unknown task {task!r}")
    rec = bundle.get("recognizer")
    steps = getattr(rec, "steps", None)
    try:
        (first, _), (second, model) = steps
        classifier = is_classifier(model)
    except (TypeError, ValueError, AttributeError):  # not two (name, step) pairs
        first = second = model = classifier = None
    if (first, second) != ("features", "model") or not classifier:
        fail(
            f"the recognizer is {type(rec).__name__}, not a pipeline of a "
            "'features' step and a classifier 'model' step"
        )
    try:
        for _, step in steps:
            check_is_fitted(step)
        classes = rec.classes_
        threshold = getattr(model, "threshold_", 0.0)  # the reject option's
        if not isinstance(threshold, float) or np.isnan(threshold):
            raise ValueError(f"threshold_ is {threshold!r}, not a number")
        with config_context(enable_metadata_routing=True):
            rec.get_metadata_routing()  # a step's requests are readable
    except (NotFittedError, AttributeError, TypeError, ValueError, KeyError) as exc:
        fail(f"{type(exc).__name__}: {exc}")

    durations = bundle.get("durations")
    if not (
        isinstance(durations, np.ndarray)
        and durations.dtype.kind == "f"
        and durations.shape == (len(classes),)
    ):
        fail("its durations are not one number per label")
    if not isinstance(bundle.get("metadata"), dict):
        fail("its metadata is not a dict")
    generator = bundle.get("generator")
    if generator is not None and not hasattr(generator, "sample"):
        fail(f"its generator is a {type(generator).__name__}")
    variances = bundle.get("band_variances")
    if variances is not None and not (
        isinstance(variances, np.ndarray)
        and variances.dtype.kind == "f"
        and variances.ndim == 2
        and len(variances) == len(classes)
    ):
        fail("its band variances are not one row per label")


def _check_transcriber(bundle, fail):
    """``fail`` unless ``bundle`` holds a fitted transcriber pipeline."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    rec = bundle.get("recognizer")
    names = [name for name, _ in getattr(rec, "steps", ())]
    if not names or names[0] != "features" or names[-1] != "model":
        fail(
            f"the transcriber is {type(rec).__name__}, not a pipeline of a "
            "'features' step and a 'model' step"
        )
    model = rec["model"]
    if not hasattr(model, "predict") or not hasattr(model, "classes_"):
        fail(f"its model is a {type(model).__name__}, not a transcriber")
    try:
        for _, step in rec.steps:
            if hasattr(step, "get_params"):
                check_is_fitted(step)
    except (NotFittedError, TypeError) as exc:
        fail(f"{type(exc).__name__}: {exc}")
    if not isinstance(bundle.get("metadata"), dict):
        fail("its metadata is not a dict")


def is_transcriber(bundle):
    """Whether a loaded model transcribes strings (``skvae train --task
    transcribe``) rather than recognising one word per file."""
    return bundle.get("task") == "transcribe"


def _failure_reason(exc):
    """Why loading failed, in words, never empty."""
    import zipfile

    text = str(exc).strip()
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    words = ("truncated", "eof", "ran out of input", "unexpected end")
    if isinstance(exc, EOFError | zipfile.BadZipFile) or any(
        w in text.lower() for w in words
    ):
        return f"the file is damaged or truncated ({detail}); was writing interrupted?"
    return f"the file is damaged ({detail})"


def _load_file(path, data=None):
    """The checked bundle of the model file ``path`` (``data``: its bytes)."""
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    data = path.read_bytes() if data is None else data
    if not data:
        raise ValueError(
            f"cannot load the model '{path}': the file is empty; was "
            "writing it interrupted? Train the model again"
        )
    if data[:2] != b"PK":
        what = (
            "the weights-only file of a VAE alone (load it with skvae.load)"
            if data[8:9] == b"{"
            else f"not a {MODEL_FILE} skops archive"
        )
        raise ValueError(
            f"cannot load the model '{path}': it is {what}; the "
            f"model is the {MODEL_FILE} written by 'skvae train'"
        )
    trusted = trusted_types()
    try:
        bundle = skops.io.loads(data, trusted=trusted)
    except UntrustedTypesFoundException as exc:
        found = sorted(set(skops.io.get_untrusted_types(data=data)) - set(trusted))
        raise ValueError(
            f"refusing to load the model '{path}': it holds types skvae does "
            f"not trust ({', '.join(found)}); see skvae.recipes.trusted_types"
        ) from exc
    except Exception as exc:  # damaged archive, edited content, ...
        raise ValueError(
            f"cannot load the model '{path}': {_failure_reason(exc)}; "
            "train the model again"
        ) from exc
    _check_bundle(bundle, f"the model '{path}'")
    bundle["path"] = str(path)
    return bundle


def load_recognizer(path, *, require_generator=False):
    """Load a model saved by ``skvae train`` (or :func:`save_recognizer`).

    Read with :func:`skops.io.loads` (never pickle), trusting only skops's
    default types and :func:`trusted_types`, then checked.

    Parameters
    ----------
    path : str or os.PathLike
        The ``model.skops`` file, or the folder holding it.
    require_generator : bool, default=False
        Raise ``ValueError`` if the model holds no generator.

    Returns
    -------
    bundle : dict
        See :mod:`skvae.recipes`, plus ``"path"``, the file loaded.

    Raises
    ------
    FileNotFoundError
        No such file, or a folder without a model.
    ValueError
        The file is damaged, edited, holds untrusted types, is not a model,
        is from a newer skvae, or cannot generate though ``require_generator``.

    Examples
    --------
    >>> from skvae.recipes import load_recognizer
    >>> load_recognizer("no-such-run")
    Traceback (most recent call last):
    ...
    FileNotFoundError: model 'no-such-run' does not exist: ...
    """
    from ._generate import _NO_GENERATOR, can_generate

    bundle = _load_file(_existing_model(path))
    if require_generator and is_transcriber(bundle):
        raise ValueError(
            f"'{bundle['path']}' is a transcriber ('skvae train --task "
            "transcribe'): it has no generator, and its report is the one "
            "that command wrote; use 'skvae transcribe' with it"
        )
    if require_generator and not can_generate(bundle):
        raise ValueError(_NO_GENERATOR.format(path=bundle["path"]))
    return bundle
