"""Flag non-speech and corrupted recordings with a VAE's likelihood.

A :class:`skvae.VAETransformer` is fitted on log-mel rows of the Free Spoken
Digit Dataset's training utterances. Its ``score_samples`` (an
importance-weighted bound on log p(x), higher = more speech-like) then
scores the 300 test utterances and 200 synthesised "recordings" that are not
clean speech: white noise, pure tones, time-reversed test speech and test
speech buried in white noise at -5 dB SNR, each with the length and level of
a test utterance. The example prints the ROC AUC of the VAE score and of
``PCA(same n_components).score_samples`` (probabilistic PCA) fitted on the
same rows, overall and per kind, and how many of each kind a threshold at
the 1st percentile of the training scores flags.

Run (under a minute on one core)::

    python examples/outliers.py [--data-home ../shared/data]

FSDD is read from ``--data-home`` (a folder holding ``fsdd/recordings``),
else from where :func:`skvae.datasets.find_fsdd_home` finds it
(``$SKVAE_DATA``, else scikit-learn's data home); nothing is
downloaded.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score

from skvae import VAETransformer
from skvae.datasets import fetch_fsdd
from skvae.evaluation import make_outlier_clips
from skvae.features import SpeechFeatures

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument(
    "--data-home",
    metavar="DIR",
    help="folder holding fsdd/recordings (default: where "
    "skvae.datasets.find_fsdd_home finds FSDD)",
)
args = parser.parse_args()
# a fixed, short epoch budget on purpose: no warning that the loss still falls
warnings.filterwarnings("ignore", category=ConvergenceWarning)

fsdd = fetch_fsdd(args.data_home, load_audio=True, download_if_missing=False)
waves_train = fsdd.data[~fsdd.is_test]
waves_test = list(fsdd.data[fsdd.is_test])
fe = SpeechFeatures(kind="logmel", sr=8000, n_mels=40, n_frames=32, top_db=30)
X_train = fe.transform(waves_train)

# 50 clips of each kind, each as long and as loud as a random test utterance;
# "speech in noise" is a test utterance with noise 5 dB louder than the speech
clips, kinds = make_outlier_clips(
    waves_test,
    kinds=("white noise", "tone", "reversed speech", "speech in noise"),
    n_per_kind=50,
    sr=8000,
    snr_db=-5.0,
    random_state=np.random.RandomState(0),
)
X = fe.transform(waves_test + clips)
is_speech = np.r_[np.ones(len(waves_test)), np.zeros(len(clips))]

start = time.perf_counter()
vae = VAETransformer(
    n_components=16, max_iter=100, early_stopping=True, random_state=0, n_threads=1
).fit(X_train)
print(f"VAE: {vae.n_iter_} epochs, {time.perf_counter() - start:.0f} s")
pca = PCA(n_components=16, random_state=0).fit(X_train)
scores = {
    "VAE": vae.score_samples(X, n_importance_samples=16),
    "PCA": pca.score_samples(X),
}
threshold = np.percentile(vae.score_samples(X_train, n_importance_samples=16), 1)

print(f"{'ROC AUC (speech vs)':22s} {'VAE':>6s} {'PCA':>6s}   flagged by VAE")
print(
    f"{'all 200 clips':22s} {roc_auc_score(is_speech, scores['VAE']):6.3f} "
    f"{roc_auc_score(is_speech, scores['PCA']):6.3f}   "
    f"{np.sum(scores['VAE'][: len(waves_test)] < threshold)}/300 test speech"
)
for kind in dict.fromkeys(kinds):
    sel = np.r_[np.ones(len(waves_test), bool), kinds == kind]
    auc = {k: roc_auc_score(is_speech[sel], s[sel]) for k, s in scores.items()}
    flagged = np.sum(scores["VAE"][len(waves_test) :][kinds == kind] < threshold)
    print(f"{kind:22s} {auc['VAE']:6.3f} {auc['PCA']:6.3f}   {flagged}/50")
