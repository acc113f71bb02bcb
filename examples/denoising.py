"""Speech enhancement in the log-mel domain with a denoising VAE.

White noise is added to the WAVEFORMS of the Free Spoken Digit Dataset's
training utterances at random SNRs (0-20 dB); a
:class:`skvae.VAETransformer` learns to map their log-mel rows to the clean
rows (``fit(X_noisy, X_clean=X_clean)``). On the 300 test utterances with
noise at 0, 5 and 10 dB SNR it prints the log-mel RMSE to the clean rows
(in dB) before and after ``inverse_transform(transform(noisy))``, and the
accuracy of a recogniser trained on clean rows (StandardScaler + SVC) on
the noisy and on the denoised rows. Silence is not trimmed, so that noisy
and clean rows stay aligned frame by frame.

Run (under a minute on one core)::

    python examples/denoising.py [--data-home ../shared/data]

FSDD is read from ``--data-home`` (a folder holding ``fsdd/recordings``),
else from where :func:`skvae.datasets.find_fsdd_home` finds it
(``$SKVAE_DATA``, else scikit-learn's data home); nothing is
downloaded.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skvae import VAETransformer
from skvae.datasets import fetch_fsdd
from skvae.evaluation import add_noise
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


def rmse_db(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2)))


fsdd = fetch_fsdd(args.data_home, load_audio=True, download_if_missing=False)
train, test = ~fsdd.is_test, fsdd.is_test
waves_train, waves_test = fsdd.data[train], fsdd.data[test]
y_train, y_test = fsdd.target[train], fsdd.target[test]
fe = SpeechFeatures(kind="logmel", sr=8000, n_mels=40, n_frames=32)  # no trimming

# white noise at an SNR drawn for each utterance (0-20 dB below its power)
rng = np.random.RandomState(0)
clean_train = fe.transform(waves_train)
noisy_train = fe.transform(
    [add_noise(w, rng.uniform(0, 20), random_state=rng) for w in waves_train]
)

start = time.perf_counter()
denoiser = VAETransformer(
    n_components=32,
    hidden_layer_sizes=(256, 128),
    max_iter=80,
    random_state=0,
    n_threads=1,
).fit(noisy_train, X_clean=clean_train)
print(f"denoising VAE: {denoiser.n_iter_} epochs, {time.perf_counter() - start:.0f} s")

recogniser = make_pipeline(StandardScaler(), SVC()).fit(clean_train, y_train)
clean_test = fe.transform(waves_test)
acc = recogniser.score(clean_test, y_test)
print(f"clean test rows: recogniser accuracy {acc:.3f}")
print("   SNR  RMSE noisy  denoised  acc noisy  denoised   (RMSE in dB)")
rng = np.random.RandomState(1)
for snr in [0, 5, 10]:
    noisy = fe.transform(add_noise(waves_test, snr, random_state=rng))
    denoised = denoiser.inverse_transform(denoiser.transform(noisy))
    print(
        f"{snr:4d}dB {rmse_db(noisy, clean_test):11.2f} "
        f"{rmse_db(denoised, clean_test):9.2f} "
        f"{recogniser.score(noisy, y_test):10.3f} "
        f"{recogniser.score(denoised, y_test):9.3f}"
    )
