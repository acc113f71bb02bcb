"""Deploy a fitted VAE without Python's ML stack: ONNX export.

The encoder (``transform``) and the decoder (``inverse_transform``) of a
fitted ``VAETransformer`` are exported as two ONNX files, with the learned
standardisation inside, and run with onnxruntime, which needs neither torch
nor scikit-learn nor skvae (and exists for C, C++, C#, Java, JavaScript and
mobile). The outputs are checked against the estimator.

Run: ``python examples/onnx_export.py [OUT_DIR]`` (needs ``pip install
"skvae[onnx]"``; a few seconds). The files go to OUT_DIR, else to a
temporary folder.
"""

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skvae import VAETransformer, export_onnx

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument(
    "out_dir",
    nargs="?",
    help="folder for vae_encoder.onnx and vae_decoder.onnx (default: a new "
    "temporary folder)",
)
args = parser.parse_args()
warnings.filterwarnings("ignore", category=ConvergenceWarning)  # short demo fit

X, _ = load_digits(return_X_y=True)
X = X.astype(np.float32)  # ONNX graphs take float32
vae = VAETransformer(n_components=8, hidden_layer_sizes=(128,), max_iter=50)
vae.set_params(random_state=0).fit(X)

out_dir = Path(args.out_dir or tempfile.mkdtemp())
out_dir.mkdir(parents=True, exist_ok=True)
for part in ("encoder", "decoder"):
    path = out_dir / f"vae_{part}.onnx"
    model = export_onnx(vae, path, part=part)
    meta = {p.key: p.value for p in model.metadata_props}
    print(f"{part}: {path}, input {meta['input']!r} -> output {meta['output']!r}")

# --- deployment side: only numpy and onnxruntime from here on -------------
options = ort.SessionOptions()
options.intra_op_num_threads = 1
encoder = ort.InferenceSession(
    str(out_dir / "vae_encoder.onnx"), options, providers=["CPUExecutionProvider"]
)
decoder = ort.InferenceSession(
    str(out_dir / "vae_decoder.onnx"), options, providers=["CPUExecutionProvider"]
)
# new rows: digits with noise added
noise = np.random.RandomState(0).normal(scale=1.0, size=X.shape)
rows = np.clip(X + noise, 0, 16).astype(np.float32)
(Z,) = encoder.run(None, {"X": rows})  # any number of rows
(X_rec,) = decoder.run(None, {"Z": Z})
# ---------------------------------------------------------------------------

print(f"max |ONNX - transform|:         {np.abs(Z - vae.transform(rows)).max():.2e}")
rec = vae.inverse_transform(vae.transform(rows))
print(f"max |ONNX - inverse_transform|: {np.abs(X_rec - rec).max():.2e}")
assert np.allclose(Z, vae.transform(rows), rtol=1e-5, atol=1e-5)

one = rows[:1]
for name, fn in [
    ("onnxruntime", lambda: encoder.run(None, {"X": one})),
    ("transform", lambda: vae.transform(one)),
]:
    fn()
    start = time.perf_counter()
    for _ in range(200):
        fn()
    print(f"one row, {name:12s} {(time.perf_counter() - start) / 200 * 1e6:7.0f} us")
print(f"opset {onnx.load(out_dir / 'vae_encoder.onnx').opset_import[0].version}")
