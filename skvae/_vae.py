"""The torch variational autoencoders and their ELBO; no scikit-learn.

Random numbers come from the caller (explicit generators or noise tensors):
the global torch RNG is never touched.
"""

import copy
import math

import torch
from torch import nn

__all__ = ["VAE", "SemiSupervisedVAE", "ACTIVATIONS", "LIKELIHOODS"]

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}
LIKELIHOODS = ("gaussian", "bernoulli")

# Bounds of the per-feature Gaussian log-variance (a perfect fit's -> -inf).
LOGVAR_MIN = math.log(1e-4)
LOGVAR_MAX = math.log(1e4)
# Smooth bound on the posterior log-variance: |logvar| < 15.
POSTERIOR_LOGVAR_BOUND = 15.0
_LOG_2PI = math.log(2.0 * math.pi)


def _forward_float64(layers, x):
    """``layers(x)`` (an :func:`_mlp`) in float64, with weight copies local to
    the call (thread-safe), ``layers`` unchanged."""
    for layer in layers:
        if isinstance(layer, nn.Sequential):
            x = _forward_float64(layer, x)
        elif isinstance(layer, nn.Linear):
            x = nn.functional.linear(x, layer.weight.double(), layer.bias.double())
        elif not any(True for _ in layer.parameters()):
            x = layer(x)
        else:  # pragma: no cover - _mlp builds no other layers
            raise TypeError(f"no float64 forward for {type(layer).__name__}")
    return x


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
    n_features, n_components : int
        Widths of the observations and of the latent space.
    hidden_layer_sizes, activation, likelihood, frame_shape
        As the estimators' parameters (``"bernoulli"``: the decoder emits logits).
    n_conditions : int, default=0
        Width of a conditioning vector ``c`` (e.g. one-hot) appended to the
        decoder's input: p(x | z, c).
    condition_encoder : bool, default=False
        Also append ``c`` to the encoder's input: q(z | x, c).
    """

    def __init__(
        self,
        n_features,
        n_components,
        hidden_layer_sizes=(256, 128),
        activation="relu",
        likelihood="gaussian",
        n_conditions=0,
        condition_encoder=False,
        frame_shape=None,
    ):
        super().__init__()
        hidden = tuple(int(h) for h in hidden_layer_sizes)
        self.n_features = int(n_features)
        self.n_components = int(n_components)
        self.hidden_layer_sizes = hidden
        self.activation = activation
        self.likelihood = likelihood
        self.n_conditions = int(n_conditions)
        self.condition_encoder = bool(condition_encoder) and self.n_conditions > 0
        self.frame_shape = None if frame_shape is None else tuple(map(int, frame_shape))

        enc_in = self.n_conditions if self.condition_encoder else 0
        if self.frame_shape is None:
            self.conv = None
            self.encoder = _mlp((self.n_features + enc_in, *hidden), activation)
        else:
            n_frames, n_coef = self.frame_shape
            if n_frames * n_coef != self.n_features:
                raise ValueError(
                    f"frame_shape={self.frame_shape} holds {n_frames * n_coef} "
                    f"values, but rows have {self.n_features} features."
                )
            channels = hidden[0] if hidden else 64
            act = ACTIVATIONS[activation]
            self.conv = nn.Sequential(
                nn.Conv1d(n_coef, channels, 5, stride=2, padding=2),
                act(),
                nn.Conv1d(channels, channels, 5, stride=2, padding=2),
                act(),
                nn.Flatten(),
            )
            length = n_frames
            for _ in range(2):
                length = (length - 1) // 2 + 1
            self.encoder = _mlp((channels * length + enc_in, *hidden[1:]), activation)
        if self.frame_shape is not None and len(hidden) <= 1:
            last = (hidden[0] if hidden else 64) * length + enc_in
        else:
            last = hidden[-1] if hidden else self.n_features + enc_in
        self.mean_head = nn.Linear(last, self.n_components)
        self.logvar_head = nn.Linear(last, self.n_components)
        rev = hidden[::-1]
        self.decoder = _mlp((self.n_components + self.n_conditions, *rev), activation)
        self.output = nn.Linear(
            rev[-1] if rev else self.n_components + self.n_conditions, self.n_features
        )
        if likelihood == "gaussian":
            self.obs_logvar = nn.Parameter(torch.zeros(self.n_features))
        else:
            self.register_parameter("obs_logvar", None)
        # x_std = (x - loc) / scale inside the module: no standardised copy
        self.register_buffer("loc", torch.zeros(self.n_features))
        self.register_buffer("scale", torch.ones(self.n_features))
        # 0 for constant features: the decoder predicts them exactly (as 0)
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
            "n_conditions": self.n_conditions,
            "condition_encoder": self.condition_encoder,
            "frame_shape": None if self.frame_shape is None else list(self.frame_shape),
        }

    @torch.no_grad()
    def reset_parameters(self, generator):
        """Weights from ``generator``, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as
        ``nn.Linear`` draws them from the global RNG."""
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Conv1d):
                fan_in = module.weight[0].numel()
                bound = 1.0 / math.sqrt(fan_in)
                module.weight.uniform_(-bound, bound, generator=generator)
                module.bias.uniform_(-bound, bound, generator=generator)
        # Start the posterior narrow, so early training is not all KL noise.
        self.logvar_head.bias.fill_(-2.0)
        if self.obs_logvar is not None:
            self.obs_logvar.zero_()

    @torch.no_grad()
    def set_standardization(self, loc, scale, constant=None):
        """Set the input standardisation; ``constant`` features are reproduced
        exactly rather than modelled."""
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

    def standardized(self):
        """A view of this module for inputs standardised outside it: it
        shares everything but ``loc`` and ``scale`` (0 and 1), so training it
        trains this module, and making it changes nothing here."""
        view = copy.copy(self)
        view.__dict__["_buffers"] = {
            **self._buffers,
            "loc": torch.zeros_like(self.loc),
            "scale": torch.ones_like(self.scale),
        }
        return view

    # ``x`` in the caller's units; latents and likelihood in the standardised space
    def standardize(self, x):
        return (x - self.loc) / self.scale

    def encode(self, x, c=None):
        """Posterior parameters ``(mean, logvar)`` of q(z | x[, c])."""
        return self._encode_standardized(self.standardize(x), c)

    def _hidden(self, xs, c=None):
        if self.conv is not None:
            n_frames, n_coef = self.frame_shape
            # (n, frames * coef) -> (n, coef, frames): convolve over time
            xs = self.conv(xs.reshape(-1, n_frames, n_coef).transpose(1, 2))
        if self.condition_encoder:
            xs = torch.cat((xs, c.to(xs.dtype)), dim=-1)
        return self.encoder(xs)

    def _encode_standardized(self, xs, c=None):
        h = self._hidden(xs, c)
        # a smooth bound keeps exp(logvar) finite for badly scaled inputs
        logvar = POSTERIOR_LOGVAR_BOUND * torch.tanh(
            self.logvar_head(h) / POSTERIOR_LOGVAR_BOUND
        )
        return self.mean_head(h), logvar

    def encode_mean(self, x, c=None):
        """Posterior mean only (what ``transform`` needs)."""
        return self.mean_head(self._hidden(self.standardize(x), c))

    def decode(self, z, c=None):
        """Decoder output: the mean (gaussian) or the logits (bernoulli).

        ``c`` (..., n_conditions) is the conditioning vector when the model
        has one; leading dimensions of ``z`` and ``c`` broadcast.
        """
        if self.n_conditions:
            lead = torch.broadcast_shapes(z.shape[:-1], c.shape[:-1])
            z = torch.cat(
                (
                    z.expand(*lead, z.shape[-1]),
                    c.to(z.dtype).expand(*lead, c.shape[-1]),
                ),
                dim=-1,
            )
        out = self.output(self.decoder(z))
        if self.has_constant:
            out = out * self.keep
        return out

    def output_mean(self, out):
        """E[x | z] from decoder outputs ``out``: the outputs themselves
        (gaussian) or their sigmoid (bernoulli), in the standardised space."""
        if self.likelihood == "bernoulli":
            return torch.sigmoid(out)
        return out

    def sample_observation(self, out, generator):
        """A draw of x from p(x | z) for decoder outputs ``out``, in the
        standardised space, from ``generator`` on ``out``'s device."""
        if self.likelihood == "bernoulli":
            return torch.bernoulli(torch.sigmoid(out), generator=generator)
        std = torch.exp(0.5 * self.observation_logvar()) * self.keep
        noise = torch.randn(out.shape, generator=generator, device=out.device)
        return out + std.to(out.device) * noise

    def draw_latent(self, eps, c=None, temperature=1.0):
        """z = temperature * eps from the prior N(0, I) (``c`` is ignored)."""
        return temperature * eps

    def decode_mean(self, z, c=None):
        """E[x | z] in the model's (standardised) space."""
        return self.output_mean(self.decode(z, c))

    def reconstruct(self, z, c=None):
        """E[x | z] in the caller's units (what ``inverse_transform`` needs)."""
        return self.decode_mean(z, c) * self.scale + self.loc

    def reconstruct_mixture(self, z, weights):
        """E[x | z] = sum_g w_g E[x | z, g] over every group (one-hot
        conditions), in the caller's units: for an unknown group."""
        eye = torch.eye(self.n_conditions, device=z.device)
        means = self.decode_mean(z[None], eye[:, None, :])
        w = torch.as_tensor(weights, dtype=means.dtype, device=z.device)
        return torch.tensordot(w, means, dims=1) * self.scale + self.loc

    def observation_logvar(self):
        """The clamped per-feature Gaussian log-variance."""
        return self.obs_logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)

    def log_likelihood(self, x, out):
        """log p(x | z) summed over features, for decoder outputs ``out`` (extra
        leading dimensions broadcast against ``x``)."""
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

    def loss_terms(self, x, eps, target=None, cond=None, corruption=None):
        """Per-row ``(log p(x | z), KL)`` for one draw ``eps``; the decoder
        reconstructs ``target`` (``x`` when None), ``corruption`` is added to
        the standardised encoder input only."""
        xs = self.standardize(x)
        target = xs if target is None else self.standardize(target)
        if corruption is not None:
            xs = xs + corruption
        mean, logvar = self._encode_standardized(xs, cond)
        z = mean + torch.exp(0.5 * logvar) * eps
        rec = self.log_likelihood(target, self.decode(z, cond))
        return rec, self.kl_divergence(mean, logvar)

    def score_draws(self, x, eps, importance=False, cond=None, posterior=None):
        """Per-draw float64 terms (K, n) of the ELBO, or with ``importance`` of
        the importance-weighted bound; the K draws ``eps`` serve every row, so
        a row's score does not depend on its batch. ``posterior``:
        ``encode(x, cond)`` if already computed."""
        if posterior is None:
            posterior = self.encode(x, cond)
        mean, logvar = (t.double() for t in posterior)
        std = torch.exp(0.5 * logvar)
        e = eps.double()[:, None, :]
        z = mean[None] + std[None] * e  # (K, n, d)
        c = None if cond is None else cond[None]
        out = self.decode(z.to(x.dtype), c).double()
        log_px = self.log_likelihood(self.standardize(x).double()[None], out)
        if not importance:
            return log_px - self.kl_divergence(mean, logvar)[None]
        log_pz = -0.5 * (z.square() + _LOG_2PI).sum(-1)
        log_qz = -0.5 * (e.square() + logvar[None] + _LOG_2PI).sum(-1)
        return log_px + log_pz - log_qz

    def log_likelihood_bound(
        self, x, eps, *, importance=False, cond=None, posterior=None
    ):
        """Per-row float64 bound on log p(x[, | c]) in the standardised space:
        the mean of :meth:`score_draws`, or with ``importance`` its
        log-mean-exp (Burda et al.)."""
        draws = self.score_draws(x, eps, importance, cond, posterior)
        if not importance:
            return draws.mean(0)
        return torch.logsumexp(draws, dim=0) - math.log(eps.shape[0])

    def log_likelihood_bound_mixture(
        self, x, eps, weights, importance=False, posterior=None
    ):
        """Bound on log sum_g w_g p(x | g), from :meth:`log_likelihood_bound`
        under each group's one-hot code; ``weights``: the groups' priors;
        ``posterior``: ``encode(x)``, shared by the groups (an encoder that
        takes no condition)."""
        per_group = []
        for g, weight in enumerate(weights):
            code = torch.zeros(
                x.shape[0], self.n_conditions, dtype=x.dtype, device=x.device
            )
            code[:, g] = 1.0
            bound = self.log_likelihood_bound(
                x, eps, importance=importance, cond=code, posterior=posterior
            )
            per_group.append(bound + math.log(weight))
        return torch.logsumexp(torch.stack(per_group), dim=0)


class SemiSupervisedVAE(VAE):
    """The M2 model of Kingma et al. (2014) with a learned prior mean per class:
    y ~ Cat(1/K), z ~ N(m_y, I), x ~ p(x | y, z); inference q(y | x) (an MLP
    classifier) and q(z | x, y).

    Parameters
    ----------
    n_features, n_components, hidden_layer_sizes, activation, likelihood, \
frame_shape
        As in :class:`VAE`.
    n_classes : int
        Number of classes K.
    """

    def __init__(self, *args, **kwargs):
        # the encoder always sees the class: q(z | x, y)
        super().__init__(*args, **{**kwargs, "condition_encoder": True})
        hidden = self.hidden_layer_sizes
        self.classifier = nn.Sequential(
            _mlp((self.n_features, *hidden), self.activation),
            nn.Linear(hidden[-1] if hidden else self.n_features, self.n_conditions),
        )
        #: prior mean of z for each class, p(z | y) = N(m_y, I)
        self.prior_means = nn.Parameter(
            torch.zeros(self.n_conditions, self.n_components)
        )
        #: weight of log q(y | x) on labelled rows (a training setting)
        self.classification_weight = 1.0

    @torch.no_grad()
    def reset_parameters(self, generator, *, spread_prior_means=False):
        """Weights as :meth:`VAE.reset_parameters`; class prior means at 0
        (plain M2), or N(0, I) draws with ``spread_prior_means`` (for fully
        labelled data: with unlabelled rows it pulls q(y | x) off the labels)."""
        super().reset_parameters(generator)
        if spread_prior_means:
            self.prior_means.normal_(generator=generator)
        else:
            self.prior_means.zero_()

    @property
    def n_classes(self):
        return self.n_conditions

    def draw_latent(self, eps, c, temperature=1.0):
        """z from the class prior N(m_y, temperature^2 I); ``c``: one-hot classes."""
        return temperature * eps + c @ self.prior_means

    def class_logits(self, x):
        """Logits of q(y | x) for rows in the caller's units, in float64 (so
        a row's output does not depend on its batch's size), with weight
        copies local to the call (thread-safe)."""
        xs = (x.double() - self.loc.double()) / self.scale.double()
        return _forward_float64(self.classifier, xs)

    def _elbo_given(self, xs, target, onehot, eps):
        mean, logvar = self._encode_standardized(xs, onehot)
        z = mean + torch.exp(0.5 * logvar) * eps
        rec = self.log_likelihood(target, self.decode(z, onehot))
        # KL(q(z | x, y) || N(m_y, I))
        return rec, self.kl_divergence(mean - onehot @ self.prior_means, logvar)

    def loss_terms(self, x, eps, target=None, cond=None, corruption=None):
        """Per-row ``(rec, kl)``, loss ``-(rec - beta * kl)``; ``cond``: class
        index, -1 unlabelled. Labelled: ``rec`` = log p(x | y, z) + log p(y) +
        ``classification_weight`` * log q(y | x); unlabelled: E_q(y|x) of the
        former terms + H(q(y | x)); ``kl``: the matching (expected) KL."""
        xs = self.standardize(x)
        target = xs if target is None else self.standardize(target)
        if corruption is not None:
            xs = xs + corruption
        k = self.n_classes
        labels = cond.long()
        labelled = labels >= 0
        log_q = torch.log_softmax(self.classifier(xs), dim=-1)
        log_prior = -math.log(k)
        rec = torch.empty(x.shape[0], dtype=xs.dtype, device=xs.device)
        kl = torch.empty_like(rec)
        lab = labelled.nonzero().squeeze(1)
        unl = (~labelled).nonzero().squeeze(1)
        if lab.numel():
            y = labels[lab]
            onehot = nn.functional.one_hot(y, k).to(xs.dtype)
            r, q = self._elbo_given(xs[lab], target[lab], onehot, eps[lab])
            log_qy = log_q[lab].gather(1, y[:, None]).squeeze(1)
            rec[lab] = r + log_prior + self.classification_weight * log_qy
            kl[lab] = q
        if unl.numel():
            m = unl.numel()
            eye = torch.eye(k, dtype=xs.dtype, device=xs.device)
            # every unlabelled row once per class: (k * m) rows, class-major
            onehot = eye.repeat_interleave(m, dim=0)
            r, q = self._elbo_given(
                xs[unl].repeat(k, 1),
                target[unl].repeat(k, 1),
                onehot,
                eps[unl].repeat(k, 1),
            )
            probs = log_q[unl].exp()  # (m, k)
            r = r.reshape(k, m).T
            q = q.reshape(k, m).T
            entropy = -(probs * log_q[unl]).sum(-1)
            rec[unl] = (probs * r).sum(-1) + log_prior + entropy
            kl[unl] = (probs * q).sum(-1)
        return rec, kl
