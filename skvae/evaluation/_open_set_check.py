"""How a recogniser's reject option treats known and unknown utterances."""

import numpy as np

from ..datasets._noise import OUTLIER_KINDS, make_outlier_clips


def open_set_check(
    recognizer, F_test, y_test, audio_test, *, words=True, n_per_kind=25, random_state=0
):
    """In-vocabulary scores and rejections of known and unknown utterances.

    Known: the test utterances. Unknown: those played backwards; noise and
    tones as long and loud as them (:func:`make_outlier_clips`); and, with
    eSpeak NG, English words that are not digits by 4 generated voices.

    Parameters
    ----------
    recognizer : RecognizerPipeline
        Fitted, its ``"model"`` a :class:`~skvae.RejectOptionClassifier`.
    F_test, y_test, audio_test : arrays of n_test rows
        Front-end rows, labels and utterances (paths or waveforms at the front
        end's ``sr``) of the test set.
    words : bool, default=True
        Also score generated words (skipped with a note without eSpeak NG).
    n_per_kind : int, default=25
        Clips of each non-speech kind.
    random_state : int, default=0
        Seeds the clips and the generated voices.

    Returns
    -------
    result : dict
        ``threshold``, ``target`` (false-rejection target), ``reject_label``,
        ``scores`` (kind -> in-vocabulary scores, known kinds first),
        ``rejected`` (unknown kind -> fraction rejected), ``known_kept``,
        ``accuracy_kept`` and ``accuracy_all`` (on the kept known test
        utterances; on all without rejection) and ``notes`` (list of str).
    """
    from ..datasets import make_spoken_words
    from ..features import load_audio

    fe, model = recognizer["features"], recognizer["model"]
    y_test = np.asarray(y_test)
    known = model.score_samples(F_test)
    kept = known >= model.threshold_
    right = model.predict_known(F_test) == y_test  # every one answered
    waves = [load_audio(a, sr=fe.sr)[0] for a in audio_test]
    clips, _ = make_outlier_clips(
        waves,
        kinds=OUTLIER_KINDS[:4],  # not reversed speech
        n_per_kind=n_per_kind,
        sr=fe.sr,
        random_state=np.random.default_rng(random_state),
    )
    unknown = {
        "reversed speech": [w[::-1].copy() for w in waves],
        "noise and tones": clips,
    }
    notes = []
    if words:
        try:
            spoken = make_spoken_words(
                n_speakers=4, sr=fe.sr, random_state=random_state
            )
            unknown["generated words"] = list(spoken.data)
            notes.append(
                "Generated words: 40 English words that are not digits, by 4 "
                "eSpeak NG voices; a recogniser trained on recordings alone "
                "rejects generated digits as well, for their voice (one with "
                "a filler class heard the digits said by generated voices "
                "too)."
            )
        except ImportError as exc:
            notes.append(f"no generated words: {exc}")
    scores = {
        "known (held out at fit)": np.asarray(model.calibration_scores_),
        "known test utterances": known,
    }
    rejected = {}
    for kind, audio in unknown.items():
        scores[kind] = model.score_samples(fe.transform(audio))
        rejected[kind] = float(np.mean(scores[kind] < model.threshold_))
    return {
        "threshold": float(model.threshold_),
        "target": float(model.target_false_rejection),
        "reject_label": model.reject_label_,
        "scores": scores,
        "rejected": rejected,
        "known_kept": float(np.mean(kept)),
        "accuracy_kept": float(np.mean(right[kept])) if kept.any() else np.nan,
        "accuracy_all": float(np.mean(right)),
        "notes": notes,
    }


def format_open_set(open_set):
    """The lines that summarise :func:`open_set_check` (none for None).

    Examples
    --------
    >>> from skvae.evaluation import format_open_set
    >>> res = {"target": 0.05, "known_kept": 0.96, "accuracy_kept": 0.99,
    ...        "accuracy_all": 0.97, "rejected": {"reversed speech": 0.9}}
    >>> print("\\n".join(format_open_set(res)))
    reject option (target: reject 5% of known words):
      known test utterances kept   0.960 (accuracy on them 0.990; all: 0.970)
      reversed speech rejected     0.900
    """
    if not open_set:
        return []
    lines = [
        f"reject option (target: reject {open_set['target']:.0%} of known words):",
        f"  {'known test utterances kept':<28} {open_set['known_kept']:.3f} "
        f"(accuracy on them {open_set['accuracy_kept']:.3f}; all: "
        f"{open_set['accuracy_all']:.3f})",
    ]
    lines += [
        f"  {kind + ' rejected':<28} {value:.3f}"
        for kind, value in open_set["rejected"].items()
    ]
    return lines
