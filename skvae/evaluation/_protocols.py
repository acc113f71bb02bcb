"""Baselines and protocols: held-out speakers, few labels, same-run baselines."""

import numpy as np
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch

from ._common import _info
from ._perturb import stratified_subset


def baseline_scores(
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    classifier,
    n_components,
    random_state=None,
    feature_name="raw",
    classifier_name=None,
):
    """Accuracy of ``StandardScaler -> PCA -> classifier`` and of
    ``StandardScaler -> classifier``.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : arrays
        Feature rows and labels.
    classifier : estimator
        Cloned for each baseline.
    n_components : int
        Dimension of PCA (give the model's latent dimension).
    random_state : int or None, default=None
        Seed of PCA.
    feature_name, classifier_name : str, default="raw", None
        Names in the result; ``classifier_name=None``: the class name.

    Returns
    -------
    scores : dict
        Model name -> accuracy.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.svm import SVC
    >>> from skvae.evaluation import baseline_scores
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(60, 5)), np.arange(60) % 2
    >>> X[:, 0] += 3 * y
    >>> baseline_scores(X[:40], y[:40], X[40:], y[40:], classifier=SVC(),
    ...                 n_components=2)
    {'PCA (2-D) + SVC': 0.7, 'raw (5-D) + SVC': 0.9}
    """
    name = classifier_name or type(classifier).__name__
    d = np.shape(X_train)[1]
    pca = PCA(n_components, random_state=random_state)
    models = {
        f"PCA ({n_components}-D) + {name}": (StandardScaler(), pca, clone(classifier)),
        f"{feature_name} ({d}-D) + {name}": (StandardScaler(), clone(classifier)),
    }
    return {
        key: float(make_pipeline(*steps).fit(X_train, y_train).score(X_test, y_test))
        for key, steps in models.items()
    }


def recognizer_accuracies(
    recognizer, F_train, y_train, F_test, y_test, *, random_state=0
):
    """Accuracy of a fitted recogniser (answering every row) and of its PCA
    and raw baselines, with its classifier less the probability calibration.

    Parameters
    ----------
    recognizer : RecognizerPipeline
        Fitted (:func:`skvae.recipes.make_recognizer`).
    F_train, y_train, F_test, y_test : arrays
        Front-end rows (or per-utterance frames of a sequence front end, which
        the baselines see as :func:`skvae.recipes.flat_rows`) and labels.
    random_state : int, default=0
        Seed of PCA.

    Returns
    -------
    accuracy : dict
        Model name -> accuracy, the recogniser first (its name says which
        VAE: "VAE (k-D) + SVC", "sequence VAE (k-D) + SVC" or "no VAE:
        log-mel + SVC").
    y_pred : ndarray
        The recogniser's predictions on ``F_test``.

    Examples
    --------
    >>> from skvae.datasets import make_spoken_digits
    >>> from skvae.evaluation import recognizer_accuracies
    >>> from skvae.recipes import make_recognizer
    >>> d = make_spoken_digits(3, 2, random_state=0)
    >>> rec = make_recognizer(n_components=4, max_iter=2, augment=None)
    >>> rec = rec.fit(d.data, d.target)
    >>> F = rec["features"].transform(d.data)
    >>> acc, pred = recognizer_accuracies(rec, F, d.target, F, d.target)
    >>> list(acc)
    ['sequence VAE (4-D) + SVC', 'PCA (4-D) + SVC', 'log-mel (1280-D) + SVC']
    """
    from ..recipes import as_utterances, flat_rows

    model = recognizer["model"]
    rows = getattr(model, "estimator_", model)
    vae, clf = rows.named_steps.get("vae"), rows["clf"]
    # a reject option: its answer among the known classes (never the filler)
    known = getattr(model, "predict_known", rows.predict)
    pred = known(as_utterances(F_test))
    fe = recognizer["features"]
    F_train, F_test = flat_rows(fe, F_train), flat_rows(fe, F_test)
    k = 16 if vae is None else vae.n_components
    k = min(k, len(F_train), F_train.shape[1])
    base = getattr(clf, "estimator", None) or clf  # without the calibration
    if base.get_params().get("probability") is True:
        base = clone(base).set_params(probability=False)  # the same vote, faster
    kw = dict(n_components=k, random_state=random_state, feature_name="log-mel")
    kw.update(classifier=base, classifier_name="SVC")
    baselines = baseline_scores(F_train, y_train, F_test, y_test, **kw)
    return {_model_name(rows): float(np.mean(pred == y_test)), **baselines}, pred


def _model_name(rows):
    """The recogniser's row name: which VAE, or none."""
    vae = rows.named_steps.get("vae")
    if vae is None:
        return "no VAE: log-mel + SVC"
    kind = "sequence VAE" if type(vae).__name__ == "SequenceVAE" else "VAE"
    return f"{kind} ({vae.n_components}-D) + SVC"


def speaker_held_out(
    F,
    y,
    speaker,
    *,
    features,
    audio=None,
    min_speakers=3,
    random_state=0,
    verbose=0,
    **params,
):
    """Train the recogniser and its baselines again without one speaker
    (``GroupShuffleSplit(test_size=1)``), and test them on that speaker.

    Parameters
    ----------
    F, y, speaker : arrays of n_utterances rows
        Front-end rows, labels and speakers (or ``speaker=None``).
    features : SpeechFeatures
        The fitted front end ``F`` came from.
    audio : sequence or None, default=None
        The utterances ``F`` came from; needed by a recogniser that augments
        (``augment``).
    min_speakers : int, default=3
        With fewer speakers, return None.
    random_state : int, default=0
        Chooses the speaker; seeds the recogniser and the baselines.
    verbose : int, default=0
        If > 0, say which speaker is held out and show the VAE's progress.
    **params
        Other parameters of :func:`skvae.recipes.make_recognizer`.

    Returns
    -------
    result : dict or None
        ``held_out`` (speakers), ``n_test``, ``accuracy`` (as
        :func:`recognizer_accuracies`), ``epochs`` (of the VAE; None without
        one) and ``label``.
    """
    from sklearn.model_selection import GroupShuffleSplit

    from ..recipes import as_utterances, fit_recognizer

    if speaker is None or len(set(np.asarray(speaker).tolist())) < min_speakers:
        return None
    F, y, speaker = as_utterances(F), np.asarray(y), np.asarray(speaker)
    gss = GroupShuffleSplit(n_splits=1, test_size=1, random_state=random_state)
    train, test = next(gss.split(F, y, speaker))
    held = sorted(set(speaker[test].tolist()))
    _info(
        verbose,
        f"speaker-independent check: training again without speaker "
        f"{', '.join(held)} ({len(train):,} utterances), testing on it "
        f"({len(test):,})",
    )
    params.update(random_state=random_state, verbose=verbose)
    if audio is not None:
        audio = [audio[i] for i in train]
    rec = fit_recognizer(F[train], y[train], features=features, audio=audio, **params)
    acc, _ = recognizer_accuracies(
        rec, F[train], y[train], F[test], y[test], random_state=random_state
    )
    vae = getattr(rec["model"], "estimator_", rec["model"]).named_steps.get("vae")
    return {
        "held_out": held,
        "n_test": int(len(test)),
        "accuracy": acc,
        "epochs": None if vae is None else int(vae.n_iter_),
        "label": f"held-out speaker {', '.join(held)}",
    }


def leave_one_speaker_out(estimator, X, y, speaker, *, groups=False):
    """Accuracy on each speaker of a model trained on all the others.

    Parameters
    ----------
    estimator : estimator
        Cloned and fitted once per speaker; scored with ``score``.
    X, y, speaker : arrays of n_samples rows
        Inputs (feature rows, or audio for a recogniser), labels and speakers
        (at least two).
    groups : bool, default=False
        Also pass the speakers as ``groups`` to ``fit`` and ``score``.

    Returns
    -------
    result : Bunch
        ``scores`` (speaker -> accuracy, sorted), ``mean``, ``worst_speaker``
        and ``worst``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.svm import SVC
    >>> from skvae.evaluation import leave_one_speaker_out
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(60, 4)), np.arange(60) % 2
    >>> X[:, 0] += 4 * y
    >>> res = leave_one_speaker_out(SVC(), X, y, np.repeat(["a", "b", "c"], 20))
    >>> sorted(res.scores), res.mean
    (['a', 'b', 'c'], 1.0)
    """
    y, speaker = np.asarray(y), np.asarray(speaker)
    names = sorted(set(speaker.tolist()))
    if len(names) < 2:
        raise ValueError(f"leave-one-speaker-out needs 2 speakers, got {names}")
    X = X if hasattr(X, "shape") else np.asarray(X, dtype=object)
    scores = {}
    for name in names:
        test = speaker == name
        fit_kw = {"groups": speaker[~test]} if groups else {}
        score_kw = {"groups": speaker[test]} if groups else {}
        model = clone(estimator).fit(X[~test], y[~test], **fit_kw)
        scores[name] = float(model.score(X[test], y[test], **score_kw))
    worst = min(scores, key=scores.get)
    mean = float(np.mean(list(scores.values())))
    return Bunch(scores=scores, mean=mean, worst_speaker=worst, worst=scores[worst])


def few_label_scores(
    representation,
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    size=0.03,
    n_draws=5,
    classifier=None,
    raw_baseline=True,
):
    """Accuracy with a few labels on a representation fitted without labels.

    For each draw, a :func:`stratified_subset` (``random_state=draw``) of the
    training rows trains the classifier on their codes.

    Parameters
    ----------
    representation : transformer
        Cloned and fitted on ``X_train`` without labels.
    X_train, y_train, X_test, y_test : arrays
        Feature rows and labels.
    size : float or int, default=0.03
        Labelled fraction (or count) of the training rows.
    n_draws : int, default=5
        Label draws.
    classifier : estimator or None, default=None
        Trained on the codes; None: ``SVC()``.
    raw_baseline : bool, default=True
        Also score ``StandardScaler -> classifier`` on the raw rows as ``"raw"``.

    Returns
    -------
    scores : dict
        ``"representation"`` (and ``"raw"``) -> ndarray of ``n_draws`` accuracies.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from skvae.evaluation import few_label_scores
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(200, 6)), np.arange(200) % 2
    >>> X[:, 0] += 4 * y
    >>> s = few_label_scores(PCA(2), X[:150], y[:150], X[150:], y[150:],
    ...                      size=0.1, n_draws=2)
    >>> sorted(s), s["raw"].shape
    (['raw', 'representation'], (2,))
    """
    from sklearn.svm import SVC

    classifier = SVC() if classifier is None else classifier
    y_train = np.asarray(y_train)
    rep = clone(representation).fit(X_train)
    Z_train, Z_test = rep.transform(X_train), rep.transform(X_test)
    scores = {"representation": [], **({"raw": []} if raw_baseline else {})}
    for draw in range(n_draws):
        lab = stratified_subset(y_train, size, random_state=draw)
        clf = clone(classifier).fit(Z_train[lab], y_train[lab])
        scores["representation"].append(clf.score(Z_test, y_test))
        if raw_baseline:
            raw = make_pipeline(StandardScaler(), clone(classifier))
            scores["raw"].append(
                raw.fit(X_train[lab], y_train[lab]).score(X_test, y_test)
            )
    return {k: np.asarray(v, dtype=float) for k, v in scores.items()}
