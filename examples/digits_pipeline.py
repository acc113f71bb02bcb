"""VAE features in an ordinary scikit-learn workflow.

Pipeline(VAETransformer -> SVC), tuned with GridSearchCV, saved and loaded
with joblib, compared with PCA at the same dimension. Uses scikit-learn's
bundled 8x8 digits (no download), so it runs anywhere in about a minute.

Run: ``python examples/digits_pipeline.py``
"""

import argparse
import tempfile
import time
from pathlib import Path

import joblib
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skvae import VAETransformer

argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

pipe = make_pipeline(
    VAETransformer(
        hidden_layer_sizes=(256, 128),
        max_iter=300,
        batch_size=64,
        early_stopping=True,
        random_state=0,
    ),
    SVC(),
)
grid = GridSearchCV(
    pipe,
    {"vaetransformer__n_components": [8, 16], "vaetransformer__beta": [0.5, 1.0]},
    cv=3,
    n_jobs=2,
)
start = time.perf_counter()
grid.fit(X_train, y_train)
print(f"grid search: {time.perf_counter() - start:.1f} s, best {grid.best_params_}")

with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "vae_svc.joblib"
    joblib.dump(grid.best_estimator_, path)
    model = joblib.load(path)
vae_acc = model.score(X_test, y_test)

n = grid.best_params_["vaetransformer__n_components"]
pca = make_pipeline(StandardScaler(), PCA(n, random_state=0), SVC())
pca_acc = pca.fit(X_train, y_train).score(X_test, y_test)
raw_acc = (
    make_pipeline(StandardScaler(), SVC()).fit(X_train, y_train).score(X_test, y_test)
)
print(
    f"test accuracy  VAE{n}+SVC: {vae_acc:.3f}  PCA{n}+SVC: {pca_acc:.3f}  "
    f"raw+SVC: {raw_acc:.3f}"
)
vae = model[0]
print(
    f"VAE: {vae.n_iter_} epochs, final loss {vae.loss_curve_[-1]:.2f} nats/sample, "
    f"held-out ELBO {vae.score(X_test):.1f} nats/sample"
)
