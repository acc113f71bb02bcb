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

The data folder is ``--data-home``, else ``$SKVAE_DATA``, else
``../shared/data`` (a folder holding ``fsdd/recordings``).
"""

import argparse
import sys
import time
import warnings

import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score

from skvae import VAETransformer
from skvae.datasets import fetch_fsdd, find_fsdd_home
from skvae.features import SpeechFeatures

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data-home", default=None)
args = parser.parse_args()
# a fixed, short epoch budget on purpose: no warning that the loss still falls
warnings.filterwarnings("ignore", category=ConvergenceWarning)
home = find_fsdd_home(args.data_home)
if home is None:
    sys.exit("FSDD not found: pass --data-home (a folder holding fsdd/recordings)")

fsdd = fetch_fsdd(home, load_audio=True, download_if_missing=False)
waves_train = fsdd.data[~fsdd.is_test]
waves_test = list(fsdd.data[fsdd.is_test])
fe = SpeechFeatures(kind="logmel", sr=8000, n_mels=40, n_frames=32, top_db=30)
X_train = fe.transform(waves_train)

# 50 clips of each kind, each as long and as loud as a random test utterance
rng = np.random.RandomState(0)
clips, kinds = [], []
for kind in ["white noise", "tone", "reversed speech", "speech in noise"]:
    for _ in range(50):
        ref = waves_test[rng.randint(len(waves_test))].astype(np.float64)
        rms = np.sqrt(np.mean(ref**2))
        if kind == "white noise":
            x = rng.standard_normal(ref.size)
        elif kind == "tone":
            x = np.sin(2 * np.pi * rng.uniform(100, 3500) * np.arange(ref.size) / 8000)
        elif kind == "reversed speech":
            x = ref[::-1]
        else:  # noise 5 dB louder than the speech
            x = ref + rng.standard_normal(ref.size) * rms * 10 ** (5 / 20)
        clips.append((x * rms / np.sqrt(np.mean(x**2))).astype(np.float32))
        kinds.append(kind)
kinds = np.array(kinds)
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
