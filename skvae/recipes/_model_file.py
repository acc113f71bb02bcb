"""The model file: save_recognizer, load_recognizer, and the types it trusts."""

from pathlib import Path

from sklearn import config_context

from ._factories import recognizer_pipeline
from ._generate import _NO_GENERATOR, can_generate
from ._staging import _write_atomic

MODEL_FORMAT = "skvae-recognizer"
#: the newest model file format this version reads: 3 marks a recogniser with
#: a reject option (older skvae versions refuse it with a clear message);
#: recognisers without one are still written as version 2
MODEL_FORMAT_VERSION = 3
#: the model file ``skvae train`` writes (skops, no pickle)
MODEL_FILE = "model.skops"
#: the pickle file of skvae versions before ``model.skops`` (loaded only
#: with ``trust_pickle=True``)
LEGACY_MODEL_FILE = "model.joblib"
#: the recogniser's VAE alone, weights-only (:func:`skvae.save`)
WEIGHTS_FILE = "model.safetensors"
#: Types a model file may hold beyond those :mod:`skops.io` trusts by default
#: (Python built-ins, NumPy and SciPy arrays and scikit-learn's public
#: estimators); anything else is refused. The VAEs are not among them: they
#: travel as the bytes of weights-only files.
TRUSTED_TYPES = (
    "skvae.recipes.RecognizerPipeline",
    "skvae._openset.RejectOptionClassifier",
    "skvae.features._spectral.SpeechFeatures",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.calibration._TemperatureScaling",
)

_PICKLE_REFUSED = (
    "'{path}' is a pickle (joblib) file, the format of models saved by skvae "
    "before {file} existed; pickle files can run any code when loaded, so "
    "they are not loaded by default. Train the model again ('skvae train "
    "--out DIR' writes DIR/{file}), or, only if you trust this file, load it "
    "with trust_pickle=True (on the command line: --trust-pickle)"
)


def _model_path(path, *, for_writing=False):
    """The model file ``path`` names (a file, or a folder holding one)."""
    path = Path(path)
    if not path.is_dir():
        return path
    if for_writing:
        return path / MODEL_FILE
    for name in (MODEL_FILE, LEGACY_MODEL_FILE):
        if (path / name).is_file():
            return path / name
    raise FileNotFoundError(
        f"the folder '{path}' holds no model ({MODEL_FILE}): pass the --out "
        "folder of 'skvae train' or the model file itself"
    )


def _file_kind(path):
    """What a file holds, from its first bytes: skops, pickle, safetensors."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if not head:
        return "empty"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "skops"  # a zip archive
    if len(head) > 8 and head[8:9] == b"{":
        return "safetensors"  # 8-byte header length, then a JSON header
    zlib = (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda")
    compressed = (*zlib, b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x5d\x00\x00", b"ZF")
    if head[:1] == b"\x80" or head.startswith(compressed):
        return "pickle"  # pickle protocol >= 2, or joblib's compressed pickle
    if path.suffix in (".joblib", ".pkl", ".pickle"):
        return "pickle"
    return "unknown"


def _failure_reason(exc):
    """Why loading failed, in words, never empty."""
    import zipfile

    text = str(exc).strip()
    name = type(exc).__name__
    words = ("truncated", "eof", "ran out of input", "unexpected end")
    truncated = isinstance(exc, EOFError | zipfile.BadZipFile) or any(
        w in text.lower() for w in words
    )
    detail = f"{name}: {text}" if text else name
    if truncated:
        return (
            f"the file is damaged or truncated ({detail}); was writing it "
            "interrupted? Train the model again"
        )
    return detail


def _weights_bytes(estimator):
    """The bytes of ``skvae.save(estimator, ...)``'s weights-only file."""
    import tempfile

    from .. import save

    with tempfile.TemporaryDirectory() as tmp:
        return Path(save(estimator, Path(tmp) / "vae.safetensors")).read_bytes()


def _from_weights_bytes(data, what, path):
    import tempfile

    from .. import load

    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "vae.safetensors"
        file.write_bytes(data)
        try:
            return load(file)
        except (ValueError, OSError) as exc:
            reason = str(exc).replace(f"'{file}': ", "").replace(str(file), what)
            raise ValueError(
                f"cannot load the model '{path}': its {what} is damaged ({reason})"
            ) from exc


_REQUEST_METHODS = ("fit", "partial_fit", "transform", "inverse_transform")


def _requests(estimator):
    """The metadata requests of ``estimator`` that are set: {method: {param: v}}."""
    routing = estimator.get_metadata_routing()
    out = {}
    for method in _REQUEST_METHODS:
        requests = getattr(routing, method, None)
        if requests is not None:
            chosen = {k: v for k, v in requests.requests.items() if v is not None}
            if chosen:
                out[method] = chosen
    return out


def _set_requests(estimator, requests):
    with config_context(enable_metadata_routing=True):
        for method, chosen in requests.items():
            getattr(estimator, f"set_{method}_request")(**chosen)


def _to_file_content(bundle):
    """The bundle as skops stores it: the VAEs as weights-only bytes.

    A reject option is stored around the same on-disk pipeline (its
    ``estimator`` parameter too, which :func:`_from_file_content` makes an
    unfitted copy of the restored pipeline again).
    """
    import copy

    from .. import RejectOptionClassifier, VAEClassifier, VAETransformer

    model = bundle["pipeline"]
    pipe = recognizer_pipeline(model)
    steps, weights, requests = [], {}, {}
    for name, step in pipe.steps:
        if isinstance(step, VAETransformer | VAEClassifier):
            weights[name] = _weights_bytes(step)
            requests[name] = _requests(step)
            step = "passthrough"  # the weights-only bytes replace it on disk
        steps.append((name, step))
    content = {
        k: v for k, v in bundle.items() if k not in ("pipeline", "generator", "path")
    }
    on_disk = type(pipe)(steps, memory=pipe.memory, verbose=pipe.verbose)
    version = 2
    if isinstance(model, RejectOptionClassifier):
        wrapper = copy.copy(model)
        wrapper.estimator = wrapper.estimator_ = on_disk
        on_disk, version = wrapper, 3
    content.update(
        format=MODEL_FORMAT,
        format_version=version,
        pipeline=on_disk,
        step_weights=weights,
        step_requests=requests,
    )
    if bundle.get("generator") is not None:
        content["generator_weights"] = _weights_bytes(bundle["generator"])
    return content


def _numpy_step(data):
    """The torch-free NumpyEncoder of a VAE step's weights, or None where the
    VAE's encoder cannot run without torch."""
    from .._numpy_encoder import NumpyEncoder

    try:
        return NumpyEncoder(data).fit()
    except ValueError:
        return None


def _from_file_content(content, path, *, predict_only=False):
    """The bundle again: the VAEs rebuilt from their weights-only bytes.

    ``predict_only``: a VAE step whose encoder NumPy can run becomes a
    :class:`~skvae._numpy_encoder.NumpyEncoder` (no torch), unless a reject
    option needs the VAE's likelihood; the generator is left out.
    """
    from sklearn.base import clone

    from .. import RejectOptionClassifier

    model = content["pipeline"]
    pipe = recognizer_pipeline(model)
    weights = content.pop("step_weights", {})
    requests = content.pop("step_requests", {})
    steps = list(pipe.steps)
    fast = predict_only and not isinstance(model, RejectOptionClassifier)
    for k, (name, _) in enumerate(steps):
        if name in weights:
            step = _numpy_step(weights[name]) if fast else None
            if step is None:
                step = _from_weights_bytes(weights[name], f"'{name}' step", path)
                _set_requests(step, requests.get(name, {}))
            steps[k] = (name, step)
    pipe.steps = steps
    if isinstance(model, RejectOptionClassifier):
        model.estimator_ = pipe
        model.estimator = clone(pipe)  # the unfitted template, as at fit
    if "generator_weights" in content:
        data = content.pop("generator_weights")
        if not predict_only:
            content["generator"] = _from_weights_bytes(data, "generator", path)
    return content


def save_recognizer(bundle, path):
    """Save a bundle as ``skvae train`` does: one skops file, no pickle.

    The VAE steps and the generator are stored as the bytes of their
    weights-only files (:func:`skvae.save`), the rest with
    :func:`skops.io.dumps`; see the module docstring. The file is written
    atomically: a temporary file beside it, renamed over it when complete.

    Parameters
    ----------
    bundle : dict
        From :func:`recognizer_bundle`.
    path : str or os.PathLike
        The file, or an existing folder (then ``folder/model.skops``).

    Returns
    -------
    path : pathlib.Path
        The file written.

    See Also
    --------
    load_recognizer : The way back.
    skvae.save : The VAE alone, weights-only (``bundle["pipeline"]["vae"]``).
    """
    import skops.io

    path = _model_path(path, for_writing=True)
    return _write_atomic(path, skops.io.dumps(_to_file_content(bundle)))


def _load_skops(path):
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        return skops.io.load(path, trusted=list(TRUSTED_TYPES))
    except UntrustedTypesFoundException as exc:
        found = sorted(set(skops.io.get_untrusted_types(file=path)) - {*TRUSTED_TYPES})
        raise ValueError(
            f"refusing to load the model '{path}': it holds types skvae does "
            f"not trust ({', '.join(found)}); a model saved by skvae holds only "
            "skops's default types and those of skvae.recipes.TRUSTED_TYPES"
        ) from exc
    except Exception as exc:  # damaged archive, unknown schema, ...
        raise ValueError(
            f"cannot load the model '{path}': {_failure_reason(exc)}"
        ) from exc


def _load_pickle(path):
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:  # any unpickling failure
        raise ValueError(
            f"cannot load the model '{path}': {_failure_reason(exc)}"
        ) from exc


def load_recognizer(path, *, require_generator=False, trust_pickle=False):
    """Load a model saved by ``skvae train`` (or :func:`save_recognizer`).

    Never unpickles anything unless ``trust_pickle``: the file is read with
    :func:`skops.io.load`, trusting only skops's default types and
    :data:`TRUSTED_TYPES`, and its VAEs with :func:`skvae.load`.

    Parameters
    ----------
    path : str or os.PathLike
        The ``model.skops`` file, or the folder holding it (the ``--out``
        folder of ``skvae train``).
    require_generator : bool, default=False
        Raise ``ValueError`` if the model cannot generate utterances
        (:func:`can_generate`).
    trust_pickle : bool, default=False
        Also load a pickle (joblib) file, such as the ``model.joblib`` of
        skvae versions before ``model.skops``. Pickle files can run any code
        when loaded: only for files you trust.

    Returns
    -------
    bundle : dict
        See the module docstring, plus ``"path"``, the file loaded. A plain
        fitted scikit-learn classifier saved with :mod:`skops.io` (or,
        trusted, with joblib) is accepted too, wrapped as ``{"pipeline": ...,
        "classes": ..., "metadata": {}}`` (it can predict but not generate).

    Raises
    ------
    FileNotFoundError
        No such file, or a folder without a model.
    ValueError
        The file is damaged or truncated (the message says so), holds types
        that are not trusted, is a pickle file without ``trust_pickle``, is
        not a model (e.g. a weights-only file of a VAE alone), was saved by a
        newer skvae, or cannot generate though ``require_generator``.

    Examples
    --------
    >>> from skvae.recipes import load_recognizer
    >>> load_recognizer("no-such-run")
    Traceback (most recent call last):
    ...
    FileNotFoundError: model 'no-such-run' does not exist (...)
    """
    bundle = _load_bundle(_existing_model(path), trust_pickle=trust_pickle)
    if require_generator and not can_generate(bundle):
        raise ValueError(_NO_GENERATOR.format(path=bundle["path"]))
    return bundle


def _existing_model(path):
    """The model file ``path`` names, which must exist."""
    path = _model_path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"model '{path}' does not exist (train one with 'skvae train --out DIR' "
            f"and pass DIR or DIR/{MODEL_FILE})"
        )
    return path


def _load_bundle(path, *, trust_pickle=False, predict_only=False):
    """The bundle in the model file ``path`` (see :func:`load_recognizer`)."""
    kind = _file_kind(path)
    if kind == "skops":
        obj = _load_skops(path)
    elif kind == "pickle":
        if not trust_pickle:
            raise ValueError(_PICKLE_REFUSED.format(path=path, file=MODEL_FILE))
        obj = _load_pickle(path)
    elif kind == "safetensors":
        raise ValueError(
            f"'{path}' is the weights-only file of a VAE alone (load it with "
            f"skvae.load); the recogniser is the {MODEL_FILE} beside it: pass "
            "that file or its folder"
        )
    elif kind == "empty":
        raise ValueError(
            f"cannot load the model '{path}': the file is empty; was writing it "
            "interrupted? Train the model again"
        )
    else:
        raise ValueError(
            f"cannot load the model '{path}': it is not a model file of skvae "
            f"(a {MODEL_FILE} skops archive, or a pickle with trust_pickle=True)"
        )
    if isinstance(obj, dict) and obj.get("format") == MODEL_FORMAT:
        if obj.get("format_version", 0) > MODEL_FORMAT_VERSION:
            raise ValueError(
                f"'{path}' was saved by a newer skvae; upgrade skvae to use it"
            )
        if kind == "skops":
            bundle = _from_file_content(obj, path, predict_only=predict_only)
        else:
            bundle = obj
    elif hasattr(obj, "predict_proba") and hasattr(obj, "classes_"):
        bundle = {"pipeline": obj, "classes": obj.classes_, "metadata": {}}
    else:
        raise ValueError(f"'{path}' is not a model saved by 'skvae train'")
    bundle["path"] = str(path)
    return bundle
