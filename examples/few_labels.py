"""Spoken-digit recognition from 3% of the labels, with an unsupervised VAE.

Semi-supervised learning the simple way ("M1" of Kingma et al., 2014): a
:class:`~skvae.VAETransformer` is fitted on ALL the training recordings of
the Free Spoken Digit Dataset without their labels, then an SVC is trained
on the VAE's latent code of a small labelled subset: a stratified 3% of the
official training split (81 of 2,700 recordings, about 8 per digit). A
second VAE is also told who speaks each training recording (``fit(X,
groups=speaker)``: its decoder is conditioned on the speaker, so the latent
code need not spend capacity on the voice); speaker names are no digit
labels, so this stays label-free. The same labelled recordings train an SVC
on the standardised raw features for comparison; all are scored on the
official test split (300 recordings). The label draw is repeated a few
times, since with 81 labels the accuracy depends on which ones.

Features: 20 MFCCs x 32 frames (:class:`~skvae.features.SpeechFeatures`).
Runs in about a minute on two CPU cores.

Run from the repository root::

    python examples/few_labels.py [--data-home ../shared/data] [--fraction 0.03]

FSDD is read from ``--data-home`` (a folder holding ``fsdd/recordings``),
else from where :func:`skvae.datasets.find_fsdd_home` finds it
(``$SKVAE_DATA``, else scikit-learn's data home); nothing is
downloaded.
"""

import argparse
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skvae import VAETransformer
from skvae.datasets import fetch_fsdd
from skvae.evaluation import stratified_subset
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
        "--fraction",
        type=float,
        default=0.03,
        help="labelled share of the training recordings (default: 0.03)",
    )
    parser.add_argument("--draws", type=int, default=5, help="label draws (default: 5)")
    parser.add_argument(
        "--max-iter", type=int, default=100, help="VAE epochs (default: 100)"
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message=".*max_iter.*")
    fsdd = fetch_fsdd(args.data_home, download_if_missing=False)
    features = SpeechFeatures(
        kind="mfcc", sr=8000, n_mfcc=20, n_mels=40, n_frames=32,
        top_db=30, preemphasis=0.97,
    )  # fmt: skip
    X = features.fit_transform(fsdd.filenames)
    train, test = ~fsdd.is_test, fsdd.is_test
    X_train, y_train = X[train], fsdd.target[train]
    X_test, y_test = X[test], fsdd.target[test]

    codes = {}  # name -> (latent code of the training rows, of the test rows)
    for name, groups in [("VAE", None), ("speaker-cond. VAE", fsdd.speaker[train])]:
        start = time.perf_counter()
        vae = VAETransformer(
            n_components=16,
            hidden_layer_sizes=(256, 128),
            max_iter=args.max_iter,
            random_state=0,
            n_threads=1,
        )
        vae.fit(X_train, groups=groups)  # every training recording, no label
        codes[name] = vae.transform(X_train), vae.transform(X_test)
        print(
            f"{name} fitted on {len(X_train)} unlabelled recordings "
            f"({X.shape[1]} features -> {vae.n_components} latents): "
            f"{time.perf_counter() - start:.0f} s"
        )

    acc = {name: [] for name in [*codes, "raw"]}
    for draw in range(args.draws):
        labelled = stratified_subset(y_train, args.fraction, random_state=draw)
        y_lab = y_train[labelled]
        for name, (Z_train, Z_test) in codes.items():
            clf = SVC().fit(Z_train[labelled], y_lab)
            acc[name].append(clf.score(Z_test, y_test))
        raw = make_pipeline(StandardScaler(), SVC()).fit(X_train[labelled], y_lab)
        acc["raw"].append(raw.score(X_test, y_test))
        print(
            f"draw {draw}: {len(labelled)} labels  "
            + "  ".join(f"{name}+SVC {a[-1]:.3f}" for name, a in acc.items())
        )
    print(
        f"test accuracy with {args.fraction:.0%} of the labels, mean ± std over "
        f"{args.draws} draws:"
    )
    for name, a in acc.items():
        print(f"  {name:>17} + SVC  {np.mean(a):.3f} ± {np.std(a):.3f}")


if __name__ == "__main__":
    main()
