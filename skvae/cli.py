"""The ``skvae`` command line: train, use and inspect a speech recogniser.

``skvae train [DATA]`` extracts log-mel features, fits the recommended
pipeline (:func:`make_recognizer`: ``SpeechFeatures -> VAETransformer ->
SVC``), evaluates it on a held-out split against PCA and raw-feature
baselines, saves it, and writes an HTML report. ``skvae predict``,
``skvae sample`` and ``skvae report`` use the saved model. Run
``skvae --help`` or ``skvae COMMAND --help`` for the details.

Built on skvae's public API only. Importing this module is cheap: torch,
librosa, scikit-learn and matplotlib are imported by the commands that need
them.

The saved model (``model.joblib``) is a dict, loaded by :func:`load_model`:

- ``"format"``: ``"skvae-recognizer"``, ``"format_version"``: 1;
- ``"pipeline"``: the fitted :class:`~sklearn.pipeline.Pipeline` with steps
  ``"features"`` (:class:`~skvae.features.SpeechFeatures`), ``"vae"``
  (:class:`~skvae.VAETransformer`) and ``"clf"`` (a calibrated SVC); it
  takes audio file paths or waveforms, so ``pipeline.predict(["a.wav"])``
  works on its own;
- ``"classes"``: the labels, as ``pipeline.classes_``;
- ``"generator"``: a fitted :class:`~skvae.VAEClassifier` on the training
  log-mel rows, the conditional VAE that generates utterances of a given
  label (``generator.sample(n, y=label)``);
- ``"latent_means"`` (n_classes, n_components) and ``"latent_covs"``
  (n_classes, n_components, n_components): a Gaussian fitted to each label's
  latent codes (posterior means) of the training utterances; models saved
  before the generator existed generate from these;
- ``"durations"`` (n_classes,): the median duration in seconds of each
  label's training utterances, the length given to generated audio;
- ``"metadata"``: a JSON-like dict (data and split used, accuracies, epochs,
  timings, versions, command line).

Exit codes: 0 success; 1 a failure while running (unreadable audio, data
that cannot be found or downloaded, a missing optional dependency); 2 a bad
command line, including a DATA folder or MODEL file that does not exist.
"""

import argparse
import contextlib
import os
import sys
import time
import warnings
from pathlib import Path

from ._version import __version__

__all__ = ["load_model", "main", "make_generator", "make_recognizer"]

MODEL_FORMAT = "skvae-recognizer"
MODEL_FORMAT_VERSION = 1
MODEL_FILE = "model.joblib"
WEIGHTS_FILE = "model.safetensors"
DEFAULT_OUT = "skvae-run"
DATA_KEYWORDS = ("fsdd", "generated")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

# the generated corpus used when no DATA is given and FSDD is not available
GENERATED_SPEAKERS = 12
GENERATED_REPEATS = 20


class UsageError(Exception):
    """A bad command line: reported with the usage text, exit code 2."""


class CLIError(Exception):
    """A failure while running: reported in one line, exit code 1."""


class _Console:
    """Where messages go: results to stdout, information to stderr.

    ``-q`` silences information and progress bars (results and errors are
    still printed); ``-v`` adds detail.
    """

    def __init__(self, quiet=False, verbose=0):
        self.quiet = bool(quiet)
        self.verbose = 0 if quiet else int(verbose)

    def result(self, msg=""):
        print(msg, file=sys.stdout, flush=True)

    def info(self, msg):
        if not self.quiet:
            print(msg, file=sys.stderr, flush=True)

    def detail(self, msg):
        if self.verbose:
            print(msg, file=sys.stderr, flush=True)

    def error(self, msg):
        print(f"skvae: error: {msg}", file=sys.stderr, flush=True)

    def progress(self, **kwargs):
        from tqdm.auto import tqdm

        return tqdm(disable=self.quiet, file=sys.stderr, **kwargs)


# --------------------------------------------------------------------------
# the recommended pipeline
# --------------------------------------------------------------------------
def make_recognizer(
    *,
    n_components=16,
    hidden_layer_sizes=(256, 128),
    sr=8000,
    n_mels=40,
    n_frames=32,
    top_db=30.0,
    max_iter=300,
    cv=5,
    random_state=0,
    device="cpu",
    n_threads=None,
    verbose=0,
):
    """The recommended speech recognition pipeline (unfitted).

    ``SpeechFeatures`` (log-mel, ``n_frames`` x ``n_mels``, silence trimmed)
    -> ``VAETransformer`` (``n_components``-D latent code, early stopping)
    -> one-vs-rest RBF SVC with calibrated probabilities (temperature
    scaling where scikit-learn has it, else sigmoid; the calibration does
    not change the predicted label). Log-mel rather than MFCC so that
    latent codes decode to log-mel rows that
    ``SpeechFeatures.inverse_transform`` turns back into audio.

    Parameters
    ----------
    n_components : int, default=16
        Dimension of the VAE's latent space.
    hidden_layer_sizes : tuple of int, default=(256, 128)
        Widths of the VAE's encoder layers (the decoder mirrors them).
    sr : int, default=8000
        Sample rate the audio is analysed at (files are resampled).
    n_mels : int, default=40
        Mel bands.
    n_frames : int, default=32
        Frames per utterance (every utterance is resampled in time to this).
    top_db : float or None, default=30.0
        Trim leading and trailing audio this many dB below the peak.
    max_iter : int, default=300
        Maximum VAE epochs (early stopping usually ends sooner).
    cv : int, default=5
        Folds used to calibrate the classifier's probabilities.
    random_state : int or None, default=0
        Seed of the VAE and the classifier.
    device : str, default="cpu"
        Torch device of the VAE ("cpu", "cuda", "auto", ...).
    n_threads : int or None, default=None
        Torch CPU threads of the VAE.
    verbose : int, default=0
        If > 0, the VAE shows a progress bar while training.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Steps ``"features"``, ``"vae"`` and ``"clf"``; fit it on audio file
        paths (or waveforms at ``sr``) and labels.

    Examples
    --------
    >>> from skvae.cli import make_recognizer
    >>> pipe = make_recognizer(n_components=8)
    >>> [name for name, _ in pipe.steps]
    ['features', 'vae', 'clf']
    """
    import sklearn
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    from . import VAETransformer
    from .features import SpeechFeatures

    major_minor = tuple(int(p) for p in sklearn.__version__.split(".")[:2])
    method = "temperature" if major_minor >= (1, 8) else "sigmoid"
    features = SpeechFeatures(
        kind="logmel", sr=sr, n_mels=n_mels, n_frames=n_frames, top_db=top_db
    )
    vae = VAETransformer(
        n_components=n_components,
        hidden_layer_sizes=hidden_layer_sizes,
        max_iter=max_iter,
        early_stopping=True,
        random_state=random_state,
        device=device,
        n_threads=n_threads,
        verbose=verbose,
    )
    # one-vs-rest margins calibrate far better than SVC's vote-based
    # multi-class decision function (log-loss 0.11 vs 0.36 on FSDD)
    clf = CalibratedClassifierCV(
        OneVsRestClassifier(SVC()), method=method, cv=cv, ensemble=False
    )
    return Pipeline([("features", features), ("vae", vae), ("clf", clf)])


def _classifier_like(pipe):
    """A fresh copy of the pipeline's classifier, for the baselines.

    Without its probability calibration, which does not change the labels it
    predicts (only accuracy is compared) and would cost 5 more fits.
    """
    from sklearn.base import clone

    clf = pipe.named_steps["clf"]
    return clone(getattr(clf, "estimator", None) or clf)


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------
class _Data:
    """The utterances a command works on, whatever their source."""

    def __init__(self, *, name, spec, X, y, speaker, is_test, source, sr, note=""):
        self.name = name  # for people
        self.spec = spec  # JSON-able: how to get the same data again
        self.X = X  # 1-D object array of file paths or waveforms
        self.y = y
        self.speaker = speaker  # or None
        self.is_test = is_test  # official test split, or None
        self.source = source  # a folder, or "generated"
        self.sr = sr  # the rate of the waveforms in X; None for files
        self.note = note

    @property
    def n_speakers(self):
        return 0 if self.speaker is None else len(set(self.speaker.tolist()))

    def describe(self):
        import numpy as np

        parts = [f"{len(self.y):,} utterances"]
        if self.speaker is not None:
            parts.append(f"{self.n_speakers} speakers")
        parts.append(f"{len(np.unique(self.y))} labels")
        return f"{self.name}: {', '.join(parts)} ({self.source})"

    def durations(self):
        """Duration in seconds of every utterance (NaN where unknown)."""
        import numpy as np

        out = np.full(len(self.X), np.nan)
        if self.sr is not None:
            for i, x in enumerate(self.X):
                out[i] = len(x) / self.sr
            return out
        import soundfile

        for i, path in enumerate(self.X):
            with contextlib.suppress(Exception):  # a duration is optional
                out[i] = soundfile.info(path).duration
        return out


def _data_spec(args, console):
    """Turn the DATA argument into a data spec (a JSON-able dict)."""
    from .datasets import _fsdd  # module access, so tests can patch its paths

    data = args.data
    generated = {
        "kind": "generated",
        "n_speakers": args.synth_speakers,
        "n_repeats": args.synth_repeats,
        "random_state": args.seed,
    }
    if data is None:
        home = _fsdd.find_fsdd_home(args.data_home)
        if home is not None:
            return {"kind": "fsdd", "data_home": str(home)}
        looked = ", ".join(str(h) for h in _fsdd.fsdd_search_paths(args.data_home))
        generated["note"] = (
            f"FSDD was not found offline (looked in {looked}; set SKVAE_DATA to "
            "the folder holding fsdd/recordings/), so a spoken-digit corpus was "
            "generated with eSpeak NG"
        )
        return generated
    if data == "fsdd":
        home = _fsdd.find_fsdd_home(args.data_home)
        return {
            "kind": "fsdd",
            "data_home": None if home is None else str(home),
            "data_home_arg": args.data_home,
        }
    if data == "generated":
        return generated
    path = Path(data).expanduser()
    if not path.exists():
        raise UsageError(
            f"data folder '{data}' does not exist. DATA is a folder of labelled "
            "audio files, 'fsdd', 'generated', or nothing (FSDD if available "
            "offline, else generated)"
        )
    if not path.is_dir():
        raise UsageError(f"DATA must be a folder of audio files, got the file '{data}'")
    return {
        "kind": "folder",
        "path": str(path.resolve()),
        "label_from": args.label_from,
    }


def _load_data(spec, console, *, offline=False):
    """Load the utterances a data spec describes."""
    import numpy as np

    kind = spec["kind"]
    if kind == "fsdd":
        from .datasets import fetch_fsdd

        home = spec.get("data_home") or spec.get("data_home_arg")
        try:
            bunch = fetch_fsdd(home, download_if_missing=not offline)
        except OSError as exc:
            raise CLIError(
                f"FSDD is not available: {exc} (set SKVAE_DATA to a folder "
                "holding fsdd/recordings/, or run 'skvae train generated' to use "
                "a generated corpus)"
            ) from exc
        folder = str(Path(bunch.filenames[0]).parent)
        return _Data(
            name="FSDD (Free Spoken Digit Dataset)",
            spec={"kind": "fsdd", "data_home": str(Path(folder).parents[1])},
            X=bunch.filenames,
            y=bunch.target,
            speaker=bunch.speaker,
            is_test=bunch.is_test,
            source=folder,
            sr=None,
        )
    if kind == "generated":
        try:
            import espeakng_loader  # noqa: F401
        except ImportError as exc:
            raise CLIError(
                "the generated corpus needs eSpeak NG: "
                'pip install "skvae[synth]" (or give a DATA folder or fsdd)'
            ) from exc
        from .datasets import make_spoken_digits

        n = spec["n_speakers"] * spec["n_repeats"] * 10
        console.info(f"generating {n:,} spoken digits with eSpeak NG (offline) ...")
        bunch = make_spoken_digits(
            spec["n_speakers"], spec["n_repeats"], random_state=spec["random_state"]
        )
        return _Data(
            name="generated spoken digits (eSpeak NG)",
            spec={
                k: spec[k] for k in ("kind", "n_speakers", "n_repeats", "random_state")
            },
            X=bunch.data,
            y=bunch.target,
            speaker=bunch.speaker,
            is_test=bunch.is_test,
            source="generated",
            sr=bunch.sr,
            note=spec.get("note", ""),
        )
    if kind == "folder":
        from .datasets import load_audio_folder

        path = Path(spec["path"])
        if not path.is_dir():
            raise CLIError(f"data folder '{path}' does not exist")
        try:
            bunch = load_audio_folder(path, label_from=spec["label_from"])
        except ValueError as exc:
            raise CLIError(str(exc)) from exc
        return _Data(
            name=f"folder {path.name}",
            spec=dict(spec),
            X=bunch.filenames,
            y=np.asarray(bunch.target),
            speaker=bunch.speaker,
            is_test=None,
            source=str(path),
            sr=None,
        )
    raise CLIError(f"unknown data kind {kind!r} in the model's metadata")


def _split(data, how, *, test_size, seed):
    """Train/test indices and a JSON-able description of the split."""
    import numpy as np
    from sklearn.model_selection import (
        GroupShuffleSplit,
        ShuffleSplit,
        StratifiedShuffleSplit,
    )

    n = len(data.y)
    if how == "auto":
        if data.spec["kind"] == "fsdd":
            how = "official"
        elif data.n_speakers >= 2:
            how = "speaker"
        else:
            how = "random"
    if how == "official":
        if data.is_test is None:
            raise UsageError(f"--split official: {data.name} has no official split")
        test = np.flatnonzero(data.is_test)
        train = np.flatnonzero(~data.is_test)
        text = "official split"
        if data.spec["kind"] == "fsdd":
            text += " (repetitions 0-4 of every speaker and digit)"
    elif how == "speaker":
        if data.n_speakers < 2:
            raise UsageError(
                f"--split speaker: {data.name} has {data.n_speakers} known speakers"
            )
        gss = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        train, test = next(gss.split(np.zeros(n), data.y, data.speaker))
        held = sorted(set(data.speaker[test].tolist()))
        text = f"speaker-independent: held-out speakers {', '.join(held)}"
    else:
        _, counts = np.unique(data.y, return_counts=True)
        if counts.min() >= 2:
            splitter = StratifiedShuffleSplit(
                n_splits=1, test_size=test_size, random_state=seed
            )
        else:
            splitter = ShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        train, test = next(splitter.split(np.zeros(n), data.y))
        text = "random stratified split"
    train, test = np.sort(train), np.sort(test)
    info = {
        "kind": how,
        "test_size": test_size,
        "seed": seed,
        "text": f"{text}: {len(train):,} train, {len(test):,} test",
    }
    return train, test, info


def _extract(features, X, console, *, n_jobs=1, desc="features"):
    """Feature rows of all utterances, with a progress bar."""
    import numpy as np
    from sklearn.base import clone

    from .features import AudioReadError

    fe = clone(features).set_params(n_jobs=n_jobs).fit()
    step = 64 * max(1, n_jobs if n_jobs > 0 else (os.cpu_count() or 1))
    rows = []
    with console.progress(total=len(X), desc=desc, unit="utt") as bar:
        for start in range(0, len(X), step):
            try:
                rows.append(fe.transform(X[start : start + step]))
            except AudioReadError as exc:
                raise CLIError(f"{exc.path}: {exc.reason}") from exc
            bar.update(min(step, len(X) - start))
    return np.vstack(rows)


# --------------------------------------------------------------------------
# fitting, generating, saving
# --------------------------------------------------------------------------
def _fit_pipeline(F, y, params, console):
    """Fit make_recognizer(**params) on precomputed features F."""
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning

    _, counts = np.unique(y, return_counts=True)
    if len(counts) < 2:
        raise CLIError("the training data holds a single label: nothing to recognise")
    if counts.min() < 2:
        raise CLIError(
            "every label needs at least 2 training utterances; got "
            f"{counts.min()} for some label"
        )
    pipe = make_recognizer(
        cv=int(min(5, counts.min())), verbose=int(not console.quiet), **params
    )
    pipe.named_steps["features"].fit()
    with warnings.catch_warnings():
        # the number of epochs is reported instead
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe[1:].fit(F, y)
    pipe.named_steps["vae"].set_params(verbose=0)
    return pipe


def _latent_gaussians(Z, y, classes):
    """Mean and (Ledoit-Wolf shrunk) covariance of each class's codes."""
    import numpy as np
    from sklearn.covariance import LedoitWolf

    d = Z.shape[1]
    means = np.zeros((len(classes), d))
    covs = np.zeros((len(classes), d, d))
    for k, c in enumerate(classes):
        Zc = Z[y == c]
        means[k] = Zc.mean(axis=0)
        if len(Zc) >= 2:
            covs[k] = LedoitWolf().fit(Zc).covariance_
        else:
            covs[k] = 0.01 * np.eye(d)
        covs[k] += 1e-6 * np.eye(d)
    return means, covs


def _class_durations(durations, y, classes, default):
    import numpy as np

    out = np.full(len(classes), float(default))
    for k, c in enumerate(classes):
        d = durations[y == c]
        d = d[np.isfinite(d)]
        if d.size:
            out[k] = float(np.median(d))
    return out


def _rows_to_audio(features, rows, duration):
    """Log-mel rows -> waveforms lasting about ``duration`` seconds."""
    import numpy as np
    from sklearn.base import clone

    fe = features
    n_frames, n_mels = fe.n_frames, fe.n_mels
    hop = fe.hop_length_
    target = n_frames
    if np.isfinite(duration) and duration > 0:
        target = max(2, int(round(duration * fe.sr / hop)) + 1)
    if target != n_frames:
        old = np.linspace(0.0, 1.0, n_frames)
        new = np.linspace(0.0, 1.0, target)
        stretched = np.empty((len(rows), target * n_mels))
        for i, row in enumerate(rows):
            R = np.asarray(row, dtype=float).reshape(n_frames, n_mels)
            S = np.stack([np.interp(new, old, R[:, m]) for m in range(n_mels)], 1)
            stretched[i] = S.ravel()
        rows = stretched
        fe = clone(fe).set_params(n_frames=target, n_jobs=None).fit()
    return fe.inverse_transform(rows)


def make_generator(
    *,
    n_components=16,
    hidden_layer_sizes=(256, 128),
    max_iter=300,
    random_state=0,
    device="cpu",
    n_threads=None,
):
    """The conditional VAE that ``skvae train`` fits to generate utterances.

    A :class:`~skvae.VAEClassifier` (label fed to encoder and decoder,
    learned prior mean per label) on the log-mel rows of
    :func:`make_recognizer`'s front end, with early stopping.

    Parameters
    ----------
    n_components : int, default=16
        Dimension of the latent style code.
    hidden_layer_sizes : tuple of int, default=(256, 128)
        Widths of the encoder's layers.
    max_iter : int, default=300
        Maximum epochs.
    random_state : int or None, default=0
        Seed.
    device : str, default="cpu"
        Torch device.
    n_threads : int or None, default=None
        Torch CPU threads.

    Returns
    -------
    generator : VAEClassifier
        Unfitted; fit it on log-mel rows and labels, then
        ``generator.sample(n, y=label, observation_noise=False)``.

    Examples
    --------
    >>> from skvae.cli import make_generator
    >>> make_generator(n_components=8).n_components
    8
    """
    from . import VAEClassifier

    return VAEClassifier(
        n_components=n_components,
        hidden_layer_sizes=hidden_layer_sizes,
        max_iter=max_iter,
        early_stopping=True,
        random_state=random_state,
        device=device,
        n_threads=n_threads,
    )


def _generate(bundle, label, n, rng, temperature=1.0):
    """Generate ``n`` utterances of ``label``: (log-mel rows, waveforms)."""
    import numpy as np

    classes = list(bundle["classes"])
    k = classes.index(label)
    pipe = bundle["pipeline"]
    generator = bundle.get("generator")
    if generator is not None:
        rows, _ = generator.sample(
            n,
            y=np.full(n, label, dtype=np.asarray(generator.classes_).dtype),
            random_state=int(rng.integers(2**31 - 1)),
            observation_noise=False,
            temperature=temperature,
        )
    else:
        mean, cov = bundle["latent_means"][k], bundle["latent_covs"][k]
        L = np.linalg.cholesky(cov)
        Z = mean + temperature * rng.standard_normal((n, mean.size)) @ L.T
        rows = pipe.named_steps["vae"].inverse_transform(Z)
    waves = _rows_to_audio(pipe.named_steps["features"], rows, bundle["durations"][k])
    return rows, waves


def load_model(path):
    """Load a model saved by ``skvae train``.

    Parameters
    ----------
    path : str or os.PathLike
        The ``model.joblib`` file, or the folder holding it (the ``--out``
        folder of ``skvae train``). joblib files can execute code when
        loaded: load only models you trust.

    Returns
    -------
    bundle : dict
        See the module docstring. A plain fitted scikit-learn pipeline saved
        with joblib is accepted too, wrapped as ``{"pipeline": ...,
        "classes": ...}`` (it can predict but not generate).
    """
    import joblib

    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise UsageError(
            f"model '{path}' does not exist (train one with 'skvae train --out DIR' "
            "and pass DIR or DIR/model.joblib)"
        )
    try:
        obj = joblib.load(path)
    except Exception as exc:  # any unpickling failure
        raise CLIError(f"cannot load the model '{path}': {exc}") from exc
    if isinstance(obj, dict) and obj.get("format") == MODEL_FORMAT:
        if obj.get("format_version", 0) > MODEL_FORMAT_VERSION:
            raise CLIError(
                f"'{path}' was saved by a newer skvae; upgrade skvae to use it"
            )
        obj["path"] = str(path)
        return obj
    if hasattr(obj, "predict_proba") and hasattr(obj, "classes_"):
        return {"pipeline": obj, "classes": obj.classes_, "metadata": {}, "path": path}
    raise CLIError(f"'{path}' is not a model saved by 'skvae train'")


def _require_generator(bundle):
    if "generator" not in bundle and "latent_means" not in bundle:
        raise CLIError(
            f"'{bundle['path']}' holds no generator (it was not saved by "
            "'skvae train'), so it cannot generate"
        )


# --------------------------------------------------------------------------
# evaluation and report
# --------------------------------------------------------------------------
def _model_names(pipe, n_features):
    k = pipe.named_steps["vae"].n_components
    return {
        "vae": f"VAE ({k}-D) + SVC",
        "pca": f"PCA ({k}-D) + SVC",
        "raw": f"log-mel ({n_features}-D) + SVC",
    }


def _accuracies(pipe, F_train, y_train, F_test, y_test, seed):
    """Accuracy of the fitted pipeline and of the PCA and raw baselines."""
    import numpy as np
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    names = _model_names(pipe, F_train.shape[1])
    k = pipe.named_steps["vae"].n_components
    pred = pipe[1:].predict(F_test)
    out = {names["vae"]: float(np.mean(pred == y_test))}
    baselines = {
        "pca": make_pipeline(
            StandardScaler(), PCA(k, random_state=seed), _classifier_like(pipe)
        ),
        "raw": make_pipeline(StandardScaler(), _classifier_like(pipe)),
    }
    for key, est in baselines.items():
        est.fit(F_train, y_train)
        out[names[key]] = float(est.score(F_test, y_test))
    return out, pred


def _speaker_eval(data, F, params, seed, console):
    """Accuracy with one held-out speaker (a second fit); None if not useful."""
    from sklearn.model_selection import GroupShuffleSplit

    if data.n_speakers < 3:
        return None
    gss = GroupShuffleSplit(n_splits=1, test_size=1, random_state=seed)
    train, test = next(gss.split(F, data.y, data.speaker))
    held = sorted(set(data.speaker[test].tolist()))
    console.info(
        f"speaker-independent check: training again without speaker "
        f"{', '.join(held)} ({len(train):,} utterances), testing on it "
        f"({len(test):,})"
    )
    pipe = _fit_pipeline(F[train], data.y[train], params, console)
    acc, _ = _accuracies(pipe, F[train], data.y[train], F[test], data.y[test], seed)
    return {
        "held_out": held,
        "n_test": int(len(test)),
        "accuracy": acc,
        "epochs": int(pipe.named_steps["vae"].n_iter_),
        "label": f"held-out speaker {', '.join(held)}",
    }


def _generation_check(bundle, *, n_per_class, seed, console):
    """Generate utterances of every label and recognise them again."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pipe = bundle["pipeline"]
    out = []
    classes = list(bundle["classes"])
    with console.progress(total=len(classes), desc="generate", unit="label") as bar:
        for label in classes:
            rows, waves = _generate(bundle, label, n_per_class, rng)
            pred = pipe.predict(list(waves))
            out.append(
                {
                    "label": label,
                    "rows": rows,
                    "waves": waves,
                    "recognised": int(np.sum(pred == label)),
                    "n": int(n_per_class),
                }
            )
            bar.update()
    return out


def _pick_examples(y, n=5):
    """Indices of up to n examples with distinct labels, spread over labels."""
    import numpy as np

    labels = np.unique(y)
    chosen = labels[np.linspace(0, len(labels) - 1, min(n, len(labels))).astype(int)]
    return np.array([np.flatnonzero(y == c)[0] for c in chosen])


def _latent_map(Z, labels, speakers, seed, max_points=1000):
    """2-D map of latent codes: t-SNE (PCA for very few points)."""
    import numpy as np
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    if len(Z) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(Z), max_points, False))
        Z, labels = Z[keep], labels[keep]
        speakers = None if speakers is None else speakers[keep]
    if len(Z) >= 10:
        perplexity = min(30.0, (len(Z) - 1) / 3)
        points = TSNE(
            2, perplexity=perplexity, init="pca", random_state=seed
        ).fit_transform(Z)
        axes, method = ("t-SNE 1", "t-SNE 2"), "t-SNE"
    else:
        points = PCA(2, random_state=seed).fit_transform(Z)
        axes, method = ("latent PC 1", "latent PC 2"), "PCA"
    return {
        "points": points,
        "labels": labels,
        "speakers": speakers,
        "axis_labels": axes,
        "method": method,
    }


def _evaluate(bundle, F, data, train, test, *, seed, n_check, console):
    """Everything the summary and the report show, for a fitted bundle."""

    pipe = bundle["pipeline"]
    vae = pipe.named_steps["vae"]
    y = data.y
    console.info("evaluating against the PCA and raw-feature baselines ...")
    acc, pred = _accuracies(pipe, F[train], y[train], F[test], y[test], seed)
    console.info("generating utterances of every label and recognising them ...")
    generated = _generation_check(
        bundle, n_per_class=n_check, seed=seed, console=console
    )
    examples = test[_pick_examples(y[test])]
    recon = vae.inverse_transform(vae.transform(F[examples]))
    speakers = None if data.speaker is None else data.speaker[test]
    return {
        "accuracy": acc,
        "y_test": y[test],
        "y_pred": pred,
        "latent": _latent_map(vae.transform(F[test]), y[test], speakers, seed),
        "reconstructions": [
            {"label": y[i], "original": F[i], "reconstruction": r}
            for i, r in zip(examples, recon)
        ],
        "generated": generated,
    }


def _generated_rate(generated):
    hit = sum(g["recognised"] for g in generated)
    total = sum(g["n"] for g in generated)
    return hit, total


def _print_summary(console, evaluation, split_info, speaker_eval):
    console.result(f"accuracy, {split_info['text']}:")
    for name, value in evaluation["accuracy"].items():
        console.result(f"  {name:<28} {value:.3f}")
    if speaker_eval:
        console.result(
            f"accuracy, {speaker_eval['label']} ({speaker_eval['n_test']:,} test "
            "utterances, model trained without them):"
        )
        for name, value in speaker_eval["accuracy"].items():
            console.result(f"  {name:<28} {value:.3f}")
    hit, total = _generated_rate(evaluation["generated"])
    console.result(
        f"generated utterances recognised as the requested label: {hit}/{total} "
        f"({hit / max(total, 1):.0%})"
    )


def _write_report(
    out, bundle, data, evaluation, split_info, *, n_wavs, command, console
):
    """Write the WAV samples, the PNGs and index.html into ``out``."""
    import numpy as np

    from . import _report
    from .features import write_wav

    pipe = bundle["pipeline"]
    fe = pipe.named_steps["features"]
    vae = pipe.named_steps["vae"]
    meta = bundle["metadata"]
    out = Path(out)
    samples = out / "samples"
    samples.mkdir(parents=True, exist_ok=True)
    generated = []
    for g in evaluation["generated"]:
        wavs = []
        for i, wave in enumerate(g["waves"][:n_wavs]):
            name = f"{g['label']}_skvae_{i}.wav"
            write_wav(samples / name, wave, fe.sr, normalize=True)
            wavs.append(f"samples/{name}")
        generated.append({**g, "row": g["rows"][0], "wavs": wavs})

    import librosa

    mel_hz = librosa.mel_frequencies(n_mels=fe.n_mels + 2, fmin=fe.fmin, fmax=fe.sr / 2)
    accuracy = {f"test set ({split_info['kind']} split)": evaluation["accuracy"]}
    speaker_eval = meta.get("speaker_eval")
    if speaker_eval and meta.get("data") == data.spec:
        accuracy[speaker_eval["label"]] = speaker_eval["accuracy"]
    hit, total = _generated_rate(evaluation["generated"])
    stopped = "early stopping" if vae.n_iter_ < vae.max_iter else "--max-iter reached"
    run = [
        ("data", data.describe()),
        ("split", split_info["text"]),
        (
            "features",
            f"log-mel, {fe.n_mels} bands x {fe.n_frames} frames per utterance, "
            f"{fe.sr} Hz, silence trimmed at {fe.top_db} dB",
        ),
        (
            "model",
            f"VAE {vae.n_components}-D latent, hidden layers "
            f"{tuple(vae.hidden_layer_sizes)}, {vae.n_iter_} epochs ({stopped}) "
            "-> SVC with calibrated probabilities",
        ),
        ("model file", meta.get("model_file", bundle.get("path", ""))),
        ("training time", f"{meta.get('train_seconds', float('nan')):.0f} s"),
        ("skvae", meta.get("skvae_version", __version__)),
    ]
    notes = [
        f"Generated utterances recognised as the requested label by the same "
        f"pipeline (through audio and back): {hit}/{total} ({hit / max(total, 1):.0%})."
    ]
    if data.note:
        notes.append(data.note + ".")
    content = {
        "title": f"skvae speech recogniser: {data.name}",
        "command": command,
        "run": run,
        "accuracy": accuracy,
        "chance": 1.0 / len(bundle["classes"]),
        "notes": notes,
        "history": vae.history_,
        "latent": evaluation["latent"],
        "spectrogram": {
            "n_frames": fe.n_frames,
            "n_mels": fe.n_mels,
            "mel_hz": np.asarray(mel_hz[1:-1]),
        },
        "reconstructions": evaluation["reconstructions"],
        "generated": generated,
        "confusion": {
            "y_true": evaluation["y_test"],
            "y_pred": evaluation["y_pred"],
            "labels": list(bundle["classes"]),
        },
    }
    return _report.write_report(out, content)


def _versions():
    import sklearn
    import torch

    return {
        "skvae_version": __version__,
        "sklearn_version": sklearn.__version__,
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
    }


# --------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------
def _cmd_train(args, console):
    import joblib

    start = time.perf_counter()
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out '{out}' is a file, not a folder")
    if args.report:
        from . import _report

        try:
            _report.check_available()
        except ImportError as exc:
            raise CLIError(f"{exc} (or pass --no-report)") from exc
    spec = _data_spec(args, console)
    data = _load_data(spec, console, offline=args.offline)
    if data.note:
        console.info(f"note: {data.note}")
    console.result(f"data: {data.describe()}")
    train, test, split_info = _split(
        data, args.split, test_size=args.test_size, seed=args.seed
    )
    console.result(f"split: {split_info['text']}")

    params = {
        "n_components": args.n_components,
        "n_mels": args.n_mels,
        "n_frames": args.n_frames,
        "max_iter": args.max_iter,
        "random_state": args.seed,
        "device": args.device,
        "n_threads": args.threads,
    }
    recognizer = make_recognizer(**params)
    console.detail(f"pipeline: {recognizer}")
    fe = recognizer.named_steps["features"]
    t = time.perf_counter()
    F = _extract(fe, data.X, console, n_jobs=args.n_jobs)
    console.detail(f"features: {F.shape} in {time.perf_counter() - t:.1f} s")

    console.info(
        f"training the VAE ({args.n_components}-D latent code) and the classifier "
        f"on {len(train):,} utterances ..."
    )
    t = time.perf_counter()
    pipe = _fit_pipeline(F[train], data.y[train], params, console)
    train_seconds = time.perf_counter() - t
    vae = pipe.named_steps["vae"]
    console.info(
        f"trained in {train_seconds:.0f} s ({vae.n_iter_} epochs"
        + (", early stopping)" if vae.n_iter_ < vae.max_iter else ", --max-iter)")
    )
    classes = pipe.classes_
    means, covs = _latent_gaussians(vae.transform(F[train]), data.y[train], classes)
    console.info("training the conditional VAE that generates utterances ...")
    t = time.perf_counter()
    generator = make_generator(
        n_components=args.n_components,
        max_iter=args.max_iter,
        random_state=args.seed,
        device=args.device,
        n_threads=args.threads,
    )
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        generator.fit(F[train], data.y[train])
    console.detail(
        f"generator: {generator.n_iter_} epochs in {time.perf_counter() - t:.0f} s"
    )
    default_len = (fe.n_frames - 1) * (fe.sr // 100) / fe.sr
    durations = _class_durations(
        data.durations()[train], data.y[train], classes, default_len
    )
    bundle = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "pipeline": pipe,
        "classes": classes,
        "generator": generator,
        "latent_means": means,
        "latent_covs": covs,
        "durations": durations,
        "metadata": {},
    }

    speaker_eval = None
    want_speaker_eval = args.speaker_eval
    if want_speaker_eval is None:
        want_speaker_eval = split_info["kind"] != "speaker"
    if want_speaker_eval:
        speaker_eval = _speaker_eval(data, F, params, args.seed, console)

    evaluation = _evaluate(
        bundle,
        F,
        data,
        train,
        test,
        seed=args.seed,
        n_check=args.n_check,
        console=console,
    )
    out.mkdir(parents=True, exist_ok=True)
    model_path = out / MODEL_FILE
    bundle["metadata"] = {
        "data": data.spec,
        "data_name": data.name,
        "data_description": data.describe(),
        "split": split_info,
        "params": params,
        "accuracy": evaluation["accuracy"],
        "speaker_eval": speaker_eval,
        "generated_recognised": list(_generated_rate(evaluation["generated"])),
        "epochs": int(vae.n_iter_),
        "train_seconds": round(train_seconds, 1),
        "n_train": int(len(train)),
        "n_test": int(len(test)),
        "command": args.command_line,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "model_file": str(model_path),
        **_versions(),
    }
    joblib.dump(bundle, model_path)
    console.detail(f"saved {model_path}")
    if args.weights:
        from . import save

        save(vae, out / WEIGHTS_FILE)

    _print_summary(console, evaluation, split_info, speaker_eval)
    console.result(f"model: {model_path}")
    if args.weights:
        console.result(
            f"weights: {out / WEIGHTS_FILE} (VAE only, weights-only format; "
            "load with skvae.load)"
        )
    if args.report:
        console.info("writing the report ...")
        index = _write_report(
            out / "report",
            bundle,
            data,
            evaluation,
            split_info,
            n_wavs=args.report_samples,
            command=args.command_line,
            console=console,
        )
        console.result(f"report: {index}")
    console.result(f"done in {time.perf_counter() - start:.0f} s")
    return EXIT_OK


def _expand_files(items):
    """Files named on the command line, with folders expanded to their audio."""
    from .datasets import load_audio_folder

    files = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            try:
                files.extend(load_audio_folder(p, label_from=None).filenames)
            except ValueError:
                files.append(str(p))  # reported as unreadable
        else:
            files.append(str(p))
    return files


def _cmd_predict(args, console):
    import numpy as np

    from .features import AudioReadError

    bundle = load_model(args.model)
    pipe = bundle["pipeline"]
    features = pipe.named_steps.get("features")
    files = _expand_files(args.files)
    rows, ok, failed = [], [], 0
    for path in files:
        try:
            if features is None:
                rows.append(path)
            else:
                rows.append(features.transform([path])[0])
            ok.append(path)
        except AudioReadError as exc:
            console.error(f"{exc.path}: {exc.reason}")
            failed += 1
    if ok:
        if features is None:
            proba = pipe.predict_proba(rows)
        else:
            proba = pipe[1:].predict_proba(np.vstack(rows))
        classes = pipe.classes_
        top = min(3 if console.verbose else 1, len(classes))
        for path, p in zip(ok, proba):
            order = np.argsort(p)[::-1][:top]
            line = f"{path}\t{classes[order[0]]}\t{p[order[0]]:.3f}"
            if top > 1:
                line += "\t" + "  ".join(f"{classes[j]}:{p[j]:.3f}" for j in order)
            console.result(line)
    if failed:
        console.error(f"{failed} of {len(files)} files could not be read")
        return EXIT_FAILURE
    return EXIT_OK


def _label_of(bundle, text):
    for c in bundle["classes"]:
        if str(c) == text:
            return c
    known = ", ".join(str(c) for c in bundle["classes"])
    raise UsageError(f"--digit {text!r} is not a label of this model (labels: {known})")


def _cmd_sample(args, console):
    import numpy as np

    from .features import write_wav

    bundle = load_model(args.model)
    _require_generator(bundle)
    labels = (
        list(bundle["classes"])
        if not args.digit
        else [_label_of(bundle, d) for d in args.digit]
    )
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out '{out}' is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    pipe = bundle["pipeline"]
    sr = pipe.named_steps["features"].sr
    hit = total = 0
    for label in labels:
        _, waves = _generate(bundle, label, args.n, rng, args.temperature)
        pred = pipe.predict(list(waves))
        for i, wave in enumerate(waves):
            path = write_wav(out / f"{label}_skvae_{i}.wav", wave, sr, normalize=True)
            console.result(path)
        hit += int(np.sum(pred == label))
        total += len(waves)
    console.info(
        f"wrote {total} WAV files ({sr} Hz) to {out}; the model recognises "
        f"{hit}/{total} of them as the requested label"
    )
    return EXIT_OK


def _cmd_report(args, console):
    start = time.perf_counter()
    from . import _report

    try:
        _report.check_available()
    except ImportError as exc:
        raise CLIError(str(exc)) from exc
    bundle = load_model(args.model)
    _require_generator(bundle)
    meta = bundle["metadata"]
    if args.data is not None:
        spec = _data_spec(args, console)
    elif meta.get("data"):
        spec = meta["data"]
    else:
        raise UsageError("this model does not record its data: give DATA")
    data = _load_data(spec, console, offline=args.offline)
    console.result(f"data: {data.describe()}")
    split = meta.get("split") or {}
    how = args.split if args.split != "auto" else split.get("kind", "auto")
    seed = split.get("seed", args.seed)
    test_size = split.get("test_size", args.test_size)
    train, test, split_info = _split(data, how, test_size=test_size, seed=seed)
    console.result(f"split: {split_info['text']}")
    pipe = bundle["pipeline"]
    F = _extract(pipe.named_steps["features"], data.X, console, n_jobs=args.n_jobs)
    evaluation = _evaluate(
        bundle, F, data, train, test, seed=seed, n_check=args.n_check, console=console
    )
    out = Path(args.out) if args.out else Path(bundle["path"]).parent / "report"
    _print_summary(
        console,
        evaluation,
        split_info,
        meta.get("speaker_eval") if meta.get("data") == data.spec else None,
    )
    index = _write_report(
        out,
        bundle,
        data,
        evaluation,
        split_info,
        n_wavs=args.report_samples,
        command=args.command_line,
        console=console,
    )
    console.result(f"report: {index}")
    console.detail(f"done in {time.perf_counter() - start:.0f} s")
    return EXIT_OK


# --------------------------------------------------------------------------
# the parser
# --------------------------------------------------------------------------
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number in (0, 1), got {text!r}"
        ) from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive number, got {text!r}"
        ) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


_MAIN_HELP = """\
Variational autoencoders as scikit-learn estimators, for speech.

One command trains a spoken-digit recogniser and writes a report; the others
use the saved model:

  skvae train                         FSDD if available offline, else a
                                      generated corpus; writes skvae-run/
  skvae predict skvae-run a.wav b.wav label and probability of each file
  skvae sample skvae-run --digit 3 -n 5 --out samples
                                      new utterances of "three" as WAV files
  skvae report skvae-run              redraw skvae-run/report/index.html
"""

_MAIN_EPILOG = """\
Run 'skvae COMMAND --help' for a command's options.
Exit codes: 0 success, 1 failure while running (e.g. unreadable audio),
2 bad command line (including a DATA folder or MODEL that does not exist).
"""

_TRAIN_HELP = """\
Extract log-mel features, fit the recommended pipeline (SpeechFeatures ->
VAETransformer -> SVC), evaluate it on held-out utterances against PCA and
raw-feature baselines with the same classifier, save it, and write a report.

DATA is one of:
  (nothing)   FSDD if it is already on this machine (in --data-home,
              $SKVAE_DATA, scikit-learn's data home or a shared/data folder
              beside the checkout), else a generated corpus; no network needed
  fsdd        the Free Spoken Digit Dataset (downloaded unless --offline)
  generated   spoken digits synthesised offline with eSpeak NG (several
              accents and voices; see --synth-speakers, --synth-repeats)
  FOLDER      your own recordings, any sample rate, searched recursively,
              labelled by file name ('7_alice_0.wav' is label 7, speaker
              alice) or by sub-folder (--label-from parent)

Held-out split (--split auto): FSDD's official split (repetitions 0-4) plus
a second fit with one speaker held out; else whole speakers held out when
the file names give speakers; else a random stratified split.

Writes OUT/model.joblib (the pipeline plus what 'sample' needs),
OUT/model.safetensors (the VAE alone, weights-only) and
OUT/report/index.html with its PNGs and samples/*.wav.
"""

_TRAIN_EPILOG = """\
examples:
  skvae train                                # the main job, about 2 min on FSDD
  skvae train fsdd --out runs/fsdd --seed 1
  skvae train ~/recordings --label-from parent --split random
  skvae train generated --quick -q           # a fast smoke test
"""

_PREDICT_HELP = """\
Recognise recordings with a trained model. Prints one tab-separated line per
file: path, predicted label, its probability (with -v: the top 3 labels).
Files may have any sample rate (they are resampled) and may be folders
(searched for audio files). Unreadable files are reported on stderr and the
others still processed; the exit code is then 1.
"""

_SAMPLE_HELP = """\
Generate new utterances with a trained model and write them as WAV files
named LABEL_skvae_I.wav (so 'skvae predict' and load_audio_folder read their
label back). The model's conditional VAE draws a latent code from the
label's prior, decodes it with the label to a log-mel spectrogram, and
Griffin-Lim turns that into audio. Prints the paths written; reports how
many of them the model itself recognises as the requested label.
"""

_REPORT_HELP = """\
Write the report of a trained model again: accuracy against the PCA and
raw-feature baselines, confusion matrix, latent space, reconstructions,
generated spectrograms with their WAV files, and training curves, as PNGs
and an HTML page. Uses the data and split recorded in the model unless DATA
is given (the model is not retrained; the baselines are refitted).
"""


def _add_common(p):
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print only results and errors (no progress bars)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="print more detail (and tracebacks of errors)",
    )


def _add_data_args(p, *, data_help):
    p.add_argument("data", nargs="?", metavar="DATA", help=data_help)
    p.add_argument(
        "--label-from",
        choices=("filename", "parent"),
        default="filename",
        help="for a DATA folder: label = file name up to the first '_' "
        "(default) or the name of the sub-folder",
    )
    p.add_argument(
        "--data-home",
        metavar="DIR",
        help="folder holding fsdd/recordings/ (default: $SKVAE_DATA, "
        "scikit-learn's data home, ../shared/data)",
    )
    p.add_argument(
        "--offline", action="store_true", help="never download; fail instead"
    )
    p.add_argument(
        "--synth-speakers",
        type=_positive_int,
        default=GENERATED_SPEAKERS,
        metavar="N",
        help=f"speakers of the generated corpus (default {GENERATED_SPEAKERS})",
    )
    p.add_argument(
        "--synth-repeats",
        type=_positive_int,
        default=GENERATED_REPEATS,
        metavar="N",
        help="repetitions of every digit by every generated speaker "
        f"(default {GENERATED_REPEATS})",
    )
    p.add_argument(
        "--split",
        choices=("auto", "official", "speaker", "random"),
        default="auto",
        help="held-out test set: the dataset's official split, whole "
        "speakers, or random utterances (default: auto, see above)",
    )
    p.add_argument(
        "--test-size",
        type=_fraction,
        default=0.25,
        metavar="F",
        help="fraction of speakers or utterances held out by --split "
        "speaker/random (default 0.25)",
    )
    p.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        metavar="N",
        help="processes for feature extraction (-1: all cores; default 1)",
    )
    p.add_argument(
        "--n-check",
        type=_positive_int,
        default=10,
        metavar="N",
        help="utterances generated per label for the recognition check (default 10)",
    )
    p.add_argument(
        "--report-samples",
        type=_positive_int,
        default=3,
        metavar="N",
        help="generated WAV files per label linked from the report (default 3)",
    )


def build_parser(prog="skvae"):
    """The argparse parser of the ``skvae`` command."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=prog, description=_MAIN_HELP, epilog=_MAIN_EPILOG, formatter_class=fmt
    )
    parser.add_argument("--version", action="version", version=f"skvae {__version__}")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only results and errors"
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="print more detail"
    )
    parser.set_defaults(func=None)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    # train ------------------------------------------------------------------
    p = sub.add_parser(
        "train",
        help="train a recogniser on DATA, evaluate it, save it, write a report",
        description=_TRAIN_HELP,
        epilog=_TRAIN_EPILOG,
        formatter_class=fmt,
    )
    _add_data_args(
        p, data_help="a folder of labelled audio, 'fsdd' or 'generated' (see above)"
    )
    p.add_argument(
        "-o",
        "--out",
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"output folder (default ./{DEFAULT_OUT})",
    )
    p.add_argument(
        "--n-components",
        type=_positive_int,
        default=16,
        metavar="K",
        help="dimension of the VAE's latent code, and of the PCA baseline (default 16)",
    )
    p.add_argument(
        "--n-mels", type=_positive_int, default=40, metavar="N", help="mel bands (40)"
    )
    p.add_argument(
        "--n-frames",
        type=_positive_int,
        default=32,
        metavar="N",
        help="frames per utterance after time resampling (default 32)",
    )
    p.add_argument(
        "--max-iter",
        type=_positive_int,
        default=None,
        metavar="N",
        help="maximum VAE epochs (default 300; early stopping usually ends "
        "sooner; 30 with --quick)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a fast, rough run (30 epochs): for smoke tests",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--device",
        default="cpu",
        help="torch device of the VAE: cpu, cuda, mps or auto (default cpu)",
    )
    p.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        metavar="N",
        help="torch CPU threads (default: torch's setting)",
    )
    p.add_argument(
        "--speaker-eval",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also train once more without one speaker and test on that "
        "speaker (default: when the split is not already by speaker)",
    )
    p.add_argument(
        "--report",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write OUT/report/ (default: yes; needs matplotlib)",
    )
    p.add_argument(
        "--weights",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also save the VAE as OUT/model.safetensors (default: yes)",
    )
    _add_common(p)
    p.set_defaults(func=_cmd_train, parser=p)

    # predict ----------------------------------------------------------------
    p = sub.add_parser(
        "predict",
        help="recognise recordings with a trained model",
        description=_PREDICT_HELP,
        epilog="example:\n  skvae predict skvae-run recordings/*.wav",
        formatter_class=fmt,
    )
    p.add_argument("model", metavar="MODEL", help="model.joblib or its folder")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files or folders")
    _add_common(p)
    p.set_defaults(func=_cmd_predict, parser=p)

    # sample -----------------------------------------------------------------
    p = sub.add_parser(
        "sample",
        help="generate new utterances of a label as WAV files",
        description=_SAMPLE_HELP,
        epilog="example:\n  skvae sample skvae-run --digit 3 -n 5 --out samples",
        formatter_class=fmt,
    )
    p.add_argument("model", metavar="MODEL", help="model.joblib or its folder")
    p.add_argument(
        "-d",
        "--digit",
        "--label",
        action="append",
        metavar="LABEL",
        help="label to generate (repeatable; default: every label)",
    )
    p.add_argument(
        "-n", type=_positive_int, default=5, help="utterances per label (default 5)"
    )
    p.add_argument(
        "-o",
        "--out",
        default="skvae-samples",
        metavar="DIR",
        help="output folder (default ./skvae-samples)",
    )
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.add_argument(
        "--temperature",
        type=_positive_float,
        default=1.0,
        help="scale of the latent spread: <1 typical, >1 varied (default 1)",
    )
    _add_common(p)
    p.set_defaults(func=_cmd_sample, parser=p)

    # report -----------------------------------------------------------------
    p = sub.add_parser(
        "report",
        help="write the report of a trained model (again)",
        description=_REPORT_HELP,
        epilog="example:\n  skvae report skvae-run --out /tmp/report",
        formatter_class=fmt,
    )
    p.add_argument("model", metavar="MODEL", help="model.joblib or its folder")
    _add_data_args(p, data_help="data to evaluate on (default: the training data)")
    p.add_argument(
        "-o",
        "--out",
        default=None,
        metavar="DIR",
        help="output folder (default: report/ beside the model)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    _add_common(p)
    p.set_defaults(func=_cmd_report, parser=p)
    return parser


def main(argv=None, *, prog="skvae"):
    """Run the ``skvae`` command line.

    Parameters
    ----------
    argv : list of str or None, default=None
        The arguments (without the program name); None means ``sys.argv[1:]``.
    prog : str, default="skvae"
        Program name shown in messages.

    Returns
    -------
    code : int
        The exit code: 0 success, 1 failure while running, 2 bad command line.
    """
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version or a usage error
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if getattr(args, "quick", False) and args.max_iter is None:
        args.max_iter = 30
    if getattr(args, "max_iter", 0) is None:
        args.max_iter = 300
    args.command_line = " ".join([prog, *argv])
    console = _Console(args.quiet, args.verbose)
    try:
        return args.func(args, console)
    except UsageError as exc:
        args.parser.print_usage(sys.stderr)
        print(f"{args.parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except (CLIError, OSError, ValueError, ImportError) as exc:
        if console.verbose:
            import traceback

            traceback.print_exc()
        console.error(exc)
        return EXIT_FAILURE
