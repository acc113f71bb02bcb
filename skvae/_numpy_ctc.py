"""A fitted CTCTranscriber run by NumPy: transcription without importing
torch (which takes seconds), for ``skvae transcribe``."""

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ._numpy_encoder import _conv1d, _gelu
from ._spoken import tokens_to_digits

__all__ = ["NumpyCTC"]


def _gru_direction(x, w_ih, w_hh, b_ih, b_hh, reverse):
    """One direction of a ``torch.nn.GRU`` layer over x (steps, features)."""
    gates_x = x @ w_ih.T + b_ih  # all steps at once: (steps, 3 * hidden)
    hidden = w_hh.shape[1]
    h = np.zeros(hidden, dtype=x.dtype)
    out = np.empty((len(x), hidden), dtype=x.dtype)
    steps = range(len(x) - 1, -1, -1) if reverse else range(len(x))
    w_hh_t = w_hh.T
    for t in steps:
        gx = gates_x[t]
        gh = h @ w_hh_t + b_hh
        r = expit(gx[:hidden] + gh[:hidden])
        z = expit(gx[hidden : 2 * hidden] + gh[hidden : 2 * hidden])
        n = np.tanh(gx[2 * hidden :] + r * gh[2 * hidden :])
        h = (1.0 - z) * n + z * h
        out[t] = h
    return out


class NumpyCTC(BaseEstimator):
    """The network and best-path decoding of a fitted
    :class:`~skvae.CTCTranscriber`, in NumPy (float64).

    Made by :meth:`from_transcriber`. Its :meth:`predict` gives the
    transcriber's strings (tested equal); it holds plain arrays, so it
    pickles and runs without torch.
    """

    @classmethod
    def from_transcriber(cls, transcriber):
        """The NumPy twin of a fitted :class:`~skvae.CTCTranscriber`."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(transcriber)
        module = transcriber.module_
        self = cls()
        self.config_ = module.config()
        self.weights_ = {
            k: v.detach().cpu().double().numpy() for k, v in module.state_dict().items()
        }
        self.classes_ = np.asarray(transcriber.classes_)
        self.mean_ = np.asarray(transcriber.mean_, dtype=np.float64)
        self.scale_ = np.asarray(transcriber.scale_, dtype=np.float64)
        self.n_features_in_ = int(transcriber.n_features_in_)
        self.stride_ = int(module.stride)
        self.targets_ = transcriber.targets
        return self

    def fit(self, X=None, y=None):
        """Nothing to fit (already fitted); returns ``self``."""
        return self

    def _log_probs(self, seq):
        w, cfg = self.weights_, self.config_
        x = ((seq - self.mean_) / self.scale_)[None].transpose(0, 2, 1)
        h = _gelu(_conv1d(x, w["conv1.0.weight"], w["conv1.0.bias"], stride=1))
        h = _gelu(
            _conv1d(h, w["conv2.0.weight"], w["conv2.0.bias"], stride=self.stride_)
        )
        h = h[0].T  # (steps, channels)
        for layer in range(cfg["n_layers"]):
            parts = []
            for suffix, reverse in (("", False), ("_reverse", True)):
                key = f"l{layer}{suffix}"
                parts.append(
                    _gru_direction(
                        h,
                        w[f"rnn.weight_ih_{key}"],
                        w[f"rnn.weight_hh_{key}"],
                        w[f"rnn.bias_ih_{key}"],
                        w[f"rnn.bias_hh_{key}"],
                        reverse,
                    )
                )
            h = np.concatenate(parts, axis=1)
        logits = h @ w["out.weight"].T + w["out.bias"]
        logits -= logits.max(axis=1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    def predict_log_proba(self, X):
        """Per sequence, the log-probabilities of each output step."""
        from ._segments import _check_sequences

        check_is_fitted(self)
        seqs = _check_sequences(
            X, self.n_features_in_, name="X", owner="CTCTranscriber"
        )
        return [self._log_probs(s.astype(np.float64)) for s in seqs]

    def predict(self, X):
        """The string of each sequence (best path), as the transcriber's."""
        check_is_fitted(self)
        out = []
        for lp in self.predict_log_proba(X):
            path = lp.argmax(axis=1)
            keep = path[(path != 0) & np.r_[True, path[1:] != path[:-1]]]
            text = "".join(self.classes_[keep - 1])
            out.append(text if self.targets_ == "symbols" else tokens_to_digits(text))
        return np.array(out, dtype=object)
