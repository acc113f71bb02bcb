"""Speaker-independent spoken-digit recognition, from audio files to a saved model.

Shows a complete scikit-learn workflow on the Free Spoken Digit Dataset
(FSDD, 8 kHz recordings of 6 speakers saying 0-9):

- one :class:`~sklearn.pipeline.Pipeline` that takes audio *file paths*:
  :class:`~skvae.features.SpeechFeatures` (20 MFCCs x 32 frames) ->
  :class:`~skvae.VAETransformer` (unsupervised latent code) ->
  :class:`~sklearn.svm.SVC`;
- :class:`~sklearn.model_selection.GridSearchCV` over two VAE parameters
  (latent size, denoising noise) with ``cv=LeaveOneGroupOut()`` and
  ``groups=speaker``: every candidate is scored on speakers it never
  heard. With metadata routing enabled and
  ``VAETransformer(...).set_fit_request(groups=True)``, the same ``groups``
  also reach the VAE's ``fit``, whose decoder is then conditioned on the
  speaker, so the latent code need not carry who is speaking;
- ``joblib.dump`` / ``joblib.load`` of the best pipeline and prediction on
  new recordings given as paths (here a few FSDD test files, which the
  search never saw).

Training uses the official FSDD training split (utterance index 5-49);
the official test split (index 0-4) is scored at the end. Few epochs and a
2 x 2 grid keep the run to one to two minutes on two CPU cores (the
pipeline caches the features of each fold with ``memory=``, so the four
candidates share one extraction per fold); see
``benchmarks/bench_recognition.py`` for the full measurements.

Run from the repository root::

    python examples/recognition_speakers.py [--data-home ../shared/data]

FSDD is read from ``--data-home`` (a folder holding ``fsdd/recordings``),
else from where :func:`skvae.datasets.find_fsdd_home` finds it
(``$SKVAE_DATA``, else scikit-learn's data home); nothing is
downloaded.
"""

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import joblib
import numpy as np
import sklearn
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from skvae import VAETransformer
from skvae.datasets import fetch_fsdd
from skvae.features import SpeechFeatures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-home",
        metavar="DIR",
        help="folder holding fsdd/recordings (default: where "
        "skvae.datasets.find_fsdd_home finds FSDD)",
    )
    parser.add_argument(
        "--max-iter", type=int, default=20, help="VAE epochs (default: 20)"
    )
    parser.add_argument(
        "--n-jobs", type=int, default=1, help="GridSearchCV jobs (default: 1)"
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message=".*max_iter.*")  # few epochs
    train = fetch_fsdd(args.data_home, subset="train", download_if_missing=False)
    test = fetch_fsdd(args.data_home, subset="test", download_if_missing=False)

    # Route `groups` to the VAE's fit as well as to the CV splitter.
    sklearn.set_config(enable_metadata_routing=True)
    cache = tempfile.TemporaryDirectory()
    pipe = make_pipeline(
        SpeechFeatures(
            kind="mfcc",
            sr=8000,
            n_mfcc=20,
            n_mels=40,
            n_frames=32,
            top_db=30,
            preemphasis=0.97,
        ),  # fmt: skip
        VAETransformer(
            n_components=16,
            hidden_layer_sizes=(256, 128),
            max_iter=args.max_iter,
            random_state=0,
            n_threads=1,
        ).set_fit_request(groups=True),
        SVC(),
        memory=cache.name,  # extract each fold's features once, not per candidate
    )
    search = GridSearchCV(
        pipe,
        {
            "vaetransformer__n_components": [16, 32],
            "vaetransformer__corruption_std": [0.0, 1.0],
        },
        cv=LeaveOneGroupOut(),
        n_jobs=args.n_jobs,
    )
    start = time.perf_counter()
    search.fit(train.filenames, train.target, groups=train.speaker)
    elapsed = time.perf_counter() - start
    print(
        f"grid search, {len(train.target)} files, leave-one-speaker-out: "
        f"{elapsed:.0f} s"
    )
    res = search.cv_results_
    for params, mean, std in zip(
        res["params"], res["mean_test_score"], res["std_test_score"]
    ):
        print(f"  {params}: LOSO accuracy {mean:.3f} ± {std:.3f} (std over speakers)")
    print(f"best: {search.best_params_}")
    best = search.best_estimator_.set_params(memory=None)
    cache.cleanup()
    vae = best.named_steps["vaetransformer"]
    print(f"refitted VAE's decoder is conditioned on speakers {list(vae.groups_)}")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "digits.joblib"
        joblib.dump(best, path)
        model = joblib.load(path)
        print(f"saved and reloaded: {path.name}, {path.stat().st_size / 1e6:.1f} MB")

    print(
        f"official test split accuracy: {model.score(test.filenames, test.target):.3f}"
    )
    rng = np.random.default_rng(0)
    some = rng.choice(len(test.filenames), 5, replace=False)
    files = [str(f) for f in test.filenames[some]]
    for f, pred in zip(files, model.predict(files)):
        print(f"  {Path(f).name:>22} -> {test.target_names[pred]}")


if __name__ == "__main__":
    main()
