"""The torch variational autoencoder and its ELBO.

This module knows nothing of scikit-learn: it holds the ``torch.nn.Module``
(MLP encoder with separate mean and log-variance heads, reparameterised
latent, MLP decoder) and the terms of the evidence lower bound.

All random numbers are drawn from an explicit ``torch.Generator`` so that the
global torch RNG is never touched.
"""

import math

import torch
from torch import nn

__all__ = ["VAE", "ACTIVATIONS", "LIKELIHOODS"]

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}
LIKELIHOODS = ("gaussian", "bernoulli")

# Bounds of the learned per-feature Gaussian log-variance. Without a floor a
# feature the decoder predicts exactly (e.g. a constant column) drives its
# variance to zero and the likelihood to infinity.
LOGVAR_MIN = math.log(1e-4)
LOGVAR_MAX = math.log(1e4)
# Smooth bound on the posterior log-variance: |logvar| < 15.
POSTERIOR_LOGVAR_BOUND = 15.0
_LOG_2PI = math.log(2.0 * math.pi)


def _mlp(sizes, activation):
    """Linear layers of ``sizes`` with ``activation`` after each of them."""
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers.append(nn.Linear(fan_in, fan_out))
        layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class VAE(nn.Module):
    """Multilayer-perceptron variational autoencoder.

    Parameters
    ----------
    n_features : int
        Dimension of the observations.
    n_components : int
        Dimension of the latent space.
    hidden_layer_sizes : tuple of int
        Widths of the encoder's hidden layers; the decoder mirrors them.
    activation : str
        Key of :data:`ACTIVATIONS`.
    likelihood : {"gaussian", "bernoulli"}
        Observation model. ``"gaussian"`` has a learned per-feature variance,
        ``"bernoulli"`` expects data in [0, 1] and the decoder emits logits.
    """

    def __init__(
        self,
        n_features,
        n_components,
        hidden_layer_sizes=(256, 128),
        activation="relu",
        likelihood="gaussian",
    ):
        super().__init__()
        hidden = tuple(int(h) for h in hidden_layer_sizes)
        self.n_features = int(n_features)
        self.n_components = int(n_components)
        self.hidden_layer_sizes = hidden
        self.activation = activation
        self.likelihood = likelihood

        self.encoder = _mlp((self.n_features, *hidden), activation)
        last = hidden[-1] if hidden else self.n_features
        self.mean_head = nn.Linear(last, self.n_components)
        self.logvar_head = nn.Linear(last, self.n_components)
        rev = hidden[::-1]
        self.decoder = _mlp((self.n_components, *rev), activation)
        self.output = nn.Linear(rev[-1] if rev else self.n_components, self.n_features)
        if likelihood == "gaussian":
            self.obs_logvar = nn.Parameter(torch.zeros(self.n_features))
        else:
            self.register_parameter("obs_logvar", None)
        # Standardisation of the inputs, applied inside the module so the
        # training data never needs a standardised copy: x_std = (x - loc) / scale.
        self.register_buffer("loc", torch.zeros(self.n_features))
        self.register_buffer("scale", torch.ones(self.n_features))
        # 0 for constant features: the decoder predicts them exactly (their
        # standardised value is always 0) instead of learning to.
        self.register_buffer("keep", torch.ones(self.n_features))
        self.has_constant = False

    def config(self):
        """Constructor arguments, to rebuild the module from a state dict."""
        return {
            "n_features": self.n_features,
            "n_components": self.n_components,
            "hidden_layer_sizes": list(self.hidden_layer_sizes),
            "activation": self.activation,
            "likelihood": self.likelihood,
        }

    @torch.no_grad()
    def reset_parameters(self, generator):
        """Initialise all weights from ``generator`` (PyTorch's default scheme).

        Linear weights and biases are drawn from U(-1/sqrt(fan_in),
        1/sqrt(fan_in)), which is what ``nn.Linear`` does with the global RNG.
        """
        for module in self.modules():
            if isinstance(module, nn.Linear):
                bound = 1.0 / math.sqrt(module.in_features)
                module.weight.uniform_(-bound, bound, generator=generator)
                module.bias.uniform_(-bound, bound, generator=generator)
        # Start the posterior narrow, so early training is not all KL noise.
        self.logvar_head.bias.fill_(-2.0)
        if self.obs_logvar is not None:
            self.obs_logvar.zero_()

    @torch.no_grad()
    def set_standardization(self, loc, scale, constant=None):
        """Set the input standardisation (1-D arrays of length n_features).

        ``constant`` marks features without variance; they are reproduced
        exactly rather than modelled.
        """
        self.loc.copy_(torch.as_tensor(loc, dtype=self.loc.dtype))
        self.scale.copy_(torch.as_tensor(scale, dtype=self.scale.dtype))
        if constant is None:
            self.keep.fill_(1.0)
        else:
            keep = 1.0 - torch.as_tensor(constant, dtype=self.keep.dtype)
            self.keep.copy_(keep)
        self.has_constant = bool((self.keep == 0).any())

    def load_state_dict(self, state_dict, strict=True, assign=False):
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.has_constant = bool((self.keep == 0).any())
        return result

    # -- forward pieces ---------------------------------------------------
    # Inputs ``x`` are in the caller's units; everything between encoder and
    # decoder, and the likelihood, lives in the standardised space.
    def standardize(self, x):
        return (x - self.loc) / self.scale

    def encode(self, x):
        """Posterior parameters ``(mean, logvar)`` of q(z | x)."""
        return self._encode_standardized(self.standardize(x))

    def _encode_standardized(self, xs):
        h = self.encoder(xs)
        # a smooth bound keeps exp(logvar) finite for badly scaled inputs
        logvar = POSTERIOR_LOGVAR_BOUND * torch.tanh(
            self.logvar_head(h) / POSTERIOR_LOGVAR_BOUND
        )
        return self.mean_head(h), logvar

    def encode_mean(self, x):
        """Posterior mean only (what ``transform`` needs)."""
        return self.mean_head(self.encoder(self.standardize(x)))

    def decode(self, z):
        """Decoder output: the mean (gaussian) or the logits (bernoulli)."""
        out = self.output(self.decoder(z))
        if self.has_constant:
            out = out * self.keep
        return out

    def decode_mean(self, z):
        """E[x | z] in the model's (standardised) space."""
        out = self.decode(z)
        if self.likelihood == "bernoulli":
            return torch.sigmoid(out)
        return out

    def reconstruct(self, z):
        """E[x | z] in the caller's units (what ``inverse_transform`` needs)."""
        return self.decode_mean(z) * self.scale + self.loc

    def observation_logvar(self):
        """The clamped per-feature Gaussian log-variance."""
        return self.obs_logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)

    def log_likelihood(self, x, out):
        """log p(x | z) summed over features, for decoder outputs ``out``.

        ``out`` may carry extra leading dimensions (importance samples) that
        broadcast against ``x``.
        """
        if self.likelihood == "bernoulli":
            # log sigmoid(l) * x + log sigmoid(-l) * (1 - x), computed stably
            return -nn.functional.binary_cross_entropy_with_logits(
                out, x.expand_as(out), reduction="none"
            ).sum(-1)
        logvar = self.observation_logvar().to(out.dtype)
        # -0.5 * sum_j [(x_j - out_j)^2 / var_j + logvar_j + log 2 pi], with the
        # weighted sum as one matrix-vector product (fewer elementwise passes)
        const = logvar.sum() + logvar.shape[0] * _LOG_2PI
        return -0.5 * ((x - out).square() @ torch.exp(-logvar) + const)

    @staticmethod
    def kl_divergence(mean, logvar):
        """KL(N(mean, exp(logvar)) || N(0, I)) summed over latent dimensions."""
        return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).sum(-1)

    def loss_terms(self, x, eps, target=None):
        """Per-sample reconstruction log-likelihood and KL for one eps draw.

        Parameters
        ----------
        x : Tensor of shape (n, n_features)
            Encoder input, in the caller's units.
        eps : Tensor of shape (n, n_components)
            Standard normal noise for the reparameterisation.
        target : Tensor of shape (n, n_features), default=None
            What the decoder must reconstruct (``x`` when None). A denoising
            model encodes a corrupted ``x`` and reconstructs a clean target.
        """
        xs = self.standardize(x)
        mean, logvar = self._encode_standardized(xs)
        z = mean + torch.exp(0.5 * logvar) * eps
        target = xs if target is None else self.standardize(target)
        rec = self.log_likelihood(target, self.decode(z))
        return rec, self.kl_divergence(mean, logvar)

    def score_draws(self, x, eps, importance=False):
        """Per-draw terms of the ELBO or of the importance-weighted bound.

        The network runs in its own dtype; everything after it (likelihoods,
        KL, and the reductions over features) is computed in float64 so that
        a row's score does not depend on the size of the batch it is in.

        Parameters
        ----------
        x : Tensor of shape (n, n_features)
        eps : Tensor of shape (K, n_components)
            The same K draws are used for every row ("common random numbers"),
            so a row's score does not depend on the other rows in the batch.
        importance : bool
            False: ``log p(x | z_k) - KL(q(z|x) || p(z))`` (average over k for
            the ELBO). True: ``log p(x, z_k) - log q(z_k | x)`` (log-mean-exp
            over k for the importance-weighted bound).

        Returns
        -------
        Tensor of shape (K, n), float64
        """
        mean, logvar = (t.double() for t in self.encode(x))
        std = torch.exp(0.5 * logvar)
        e = eps.double()[:, None, :]
        z = mean[None] + std[None] * e  # (K, n, d)
        out = self.decode(z.to(x.dtype)).double()
        log_px = self.log_likelihood(self.standardize(x).double()[None], out)
        if not importance:
            return log_px - self.kl_divergence(mean, logvar)[None]
        log_pz = -0.5 * (z.square() + _LOG_2PI).sum(-1)
        log_qz = -0.5 * (e.square() + logvar[None] + _LOG_2PI).sum(-1)
        return log_px + log_pz - log_qz
