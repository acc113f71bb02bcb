"""Semi-supervised spoken-digit recognition with 3 % of the labels.

:class:`skvae.VAEClassifier` (the M2 model of Kingma et al. 2014) learns
from all 2,700 training utterances of the Free Spoken Digit Dataset but only
81 of their labels (3 %, stratified); the other rows get ``y = -1``, as in
:mod:`sklearn.semi_supervised`. It is compared with an SVC trained on the 81
labelled rows alone, on the 300 utterances of the official test split.
Features are 13 MFCCs x 32 frames per utterance (silence trimmed).

Run (under a minute on one core)::

    python examples/semi_supervised.py [--data-home ../shared/data] [--seed 0]

FSDD is read from ``--data-home`` (a folder holding ``fsdd/recordings``),
else from where :func:`skvae.datasets.find_fsdd_home` finds it
(``$SKVAE_DATA``, else scikit-learn's data home); nothing is
downloaded.
"""

import argparse
import time
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skvae import VAEClassifier
from skvae.datasets import fetch_fsdd
from skvae.evaluation import hide_labels, stratified_subset
from skvae.features import SpeechFeatures

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument(
    "--data-home",
    metavar="DIR",
    help="folder holding fsdd/recordings (default: where "
    "skvae.datasets.find_fsdd_home finds FSDD)",
)
parser.add_argument(
    "--seed", type=int, default=0, help="seeds the label draw and the model"
)
args = parser.parse_args()
# a fixed, short epoch budget on purpose: no warning that the loss still falls
warnings.filterwarnings("ignore", category=ConvergenceWarning)

fsdd = fetch_fsdd(args.data_home, download_if_missing=False)
fe = SpeechFeatures(kind="mfcc", sr=8000, n_mels=40, n_mfcc=13, n_frames=32, top_db=30)
X = fe.fit_transform(fsdd.filenames)
train, test = ~fsdd.is_test, fsdd.is_test
X_train, y_train = X[train], fsdd.target[train]
X_test, y_test = X[test], fsdd.target[test]

# keep 3 % of the training labels, stratified by digit; -1 marks the rest
labelled = stratified_subset(y_train, 0.03, random_state=args.seed)
y_partial = hide_labels(y_train, labelled)
print(f"{y_train.size} training utterances, {labelled.size} of them labelled")

start = time.perf_counter()
svc = make_pipeline(StandardScaler(), SVC()).fit(X_train[labelled], y_train[labelled])
print(f"SVC on the labelled rows only:  test accuracy {svc.score(X_test, y_test):.3f}")

clf = VAEClassifier(
    n_components=16,
    hidden_layer_sizes=(256, 128),
    classification_weight=400.0,  # "auto" would be ~1,400 here; 400 did a bit better
    learning_rate_init=3e-3,
    max_iter=30,
    random_state=args.seed,
    n_threads=1,
)
start = time.perf_counter()
clf.fit(X_train, y_partial)
print(
    f"VAEClassifier, labelled + unlabelled: test accuracy "
    f"{clf.score(X_test, y_test):.3f} ({clf.n_iter_} epochs, "
    f"{time.perf_counter() - start:.0f} s)"
)

# the same model is a class-conditional generator: a few MFCC rows of "seven"
X_new, y_new = clf.sample(5, y=7, random_state=0, observation_noise=False)
print(f"generated rows of shape {X_new.shape}; q(y|x) says {clf.predict(X_new)}")
