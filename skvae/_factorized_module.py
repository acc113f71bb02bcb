"""The torch module of the factorized hierarchical VAE (FHVAE, Hsu, Zhang and
Glass 2017) and its ELBO; no scikit-learn, no global torch RNG."""

import math

import torch
from torch import nn

from ._vae import _LOG_2PI, POSTERIOR_LOGVAR_BOUND, VAE, _mlp

__all__ = ["FactorizedVAEModule"]


class FactorizedVAEModule(VAE):
    """The model of :class:`~skvae.FactorizedVAE`: encoders q(z2 | x) and
    q(z1 | x, z2) (the VAE encoder with z2 appended). ``n_components`` is the
    width of z1; the built module's ``n_components`` is that of z1 and z2
    together (the noise per row), ``config()`` gives the content width back.
    """

    def __init__(
        self,
        n_features,
        n_components,
        hidden_layer_sizes=(256, 128),
        activation="relu",
        likelihood="gaussian",
        frame_shape=None,
        n_group_components=2,
        n_groups=1,
        group_latent_std=0.5,
    ):
        super().__init__(
            n_features,
            n_components,
            hidden_layer_sizes,
            activation,
            likelihood,
            n_conditions=int(n_group_components),
            condition_encoder=True,
            frame_shape=frame_shape,
        )
        self.n_content = self.n_components
        self.n_group_components = int(n_group_components)
        self.n_groups = int(n_groups)
        self.group_latent_std = float(group_latent_std)
        if self.n_groups < 1 or self.n_group_components < 1:
            raise ValueError("n_groups and n_group_components must be positive.")
        std = self.group_latent_std
        if not (std > 0 and math.isfinite(std)):
            raise ValueError(f"group_latent_std must be positive, got {std!r}.")
        # the noise width: eps rows hold (z1 noise, z2 noise)
        self.n_components = self.n_content + self.n_group_components
        hidden = self.hidden_layer_sizes
        self.group_encoder = _mlp((self.n_features, *hidden), activation)
        last = hidden[-1] if hidden else self.n_features
        self.group_mean_head = nn.Linear(last, self.n_group_components)
        self.group_logvar_head = nn.Linear(last, self.n_group_components)
        #: mu2_g, the learned mean of each training group's latent
        self.group_means = nn.Parameter(
            torch.zeros(self.n_groups, self.n_group_components)
        )
        #: training rows of each group (weights log p(mu2_g) per row)
        self.register_buffer("group_sizes", torch.ones(self.n_groups))
        #: weight of the discriminative term log p(g | z2) (a training setting)
        self.discriminative_weight = 0.0

    def config(self):
        return {
            **{
                k: v
                for k, v in super().config().items()
                if k not in ("n_conditions", "condition_encoder")
            },
            "n_components": self.n_content,
            "n_group_components": self.n_group_components,
            "n_groups": self.n_groups,
            "group_latent_std": self.group_latent_std,
        }

    @torch.no_grad()
    def reset_parameters(self, generator, *, group_sizes=None):
        """Weights as :meth:`VAE.reset_parameters`, group means at 0;
        ``group_sizes``: training rows per group."""
        super().reset_parameters(generator)
        self.group_logvar_head.bias.fill_(-2.0)
        self.group_means.zero_()
        if group_sizes is None:
            self.group_sizes.fill_(1.0)
        else:
            self.group_sizes.copy_(torch.as_tensor(group_sizes, dtype=torch.float32))

    def _group_posterior(self, xs):
        h = self.group_encoder(xs)
        logvar = POSTERIOR_LOGVAR_BOUND * torch.tanh(
            self.group_logvar_head(h) / POSTERIOR_LOGVAR_BOUND
        )
        return self.group_mean_head(h), logvar

    def encode_group_mean(self, x):
        """Mean of q(z2 | x) for each row."""
        return self.group_mean_head(self.group_encoder(self.standardize(x)))

    def encode_content_mean(self, x, z2):
        """Mean of q(z1 | x, z2) for rows ``x`` with group latents ``z2``."""
        return self.encode_mean(x, z2)

    def shrinkage(self):
        """``group_latent_std^2``: the posterior mean of mu2 given the z2 of N
        rows is ``sum(z2) / (N + shrinkage)``."""
        return self.group_latent_std**2

    def _log_density(self, z2):
        """log N(z2; mu2_j, group_latent_std^2 I), up to a constant, for each j."""
        diff = z2[:, None, :] - self.group_means[None]
        return -0.5 * diff.square().sum(-1) / self.group_latent_std**2

    def loss_terms(self, x, eps, target=None, cond=None, corruption=None):
        """Per-row ``(rec, kl)``, loss ``-(rec - beta * kl)``; ``cond``: group index.

        ``rec``: log p(x | z1, z2) + ``discriminative_weight`` * log p(g | z2
        mean) (softmax over groups of N(z2; mu2_g, std^2 I)); ``kl``: both
        latents' KL terms - log p(mu2_g) / N_g (the group prior over its rows).
        """
        xs = self.standardize(x)
        target = xs if target is None else self.standardize(target)
        if corruption is not None:
            xs = xs + corruption
        g = cond.long()
        mu2 = self.group_means[g]
        rec, kl, (_, m2) = self.elbo_terms(xs, target, eps, mu2)
        log_p_mu2 = -0.5 * mu2.square().sum(-1)
        kl = kl - log_p_mu2 / self.group_sizes[g]
        if self.discriminative_weight > 0 and self.n_groups > 1:
            logits = self._log_density(m2)
            log_pg = logits.gather(1, g[:, None]).squeeze(1) - torch.logsumexp(
                logits, dim=1
            )
            rec = rec + self.discriminative_weight * log_pg
        return rec, kl

    def elbo_terms(self, xs, target, eps, mu2, mask=None):
        """``(log p(target | z1, z2), KL of z1 and z2, (mean of q(z1 | x, z2),
        mean of q(z2 | x)))`` per row of standardised ``xs``, z2's prior
        centred on ``mu2``; ``mask`` (0/1 per feature) leaves padded features
        out of the likelihood."""
        d1 = self.n_content
        m2, lv2 = self._group_posterior(xs)
        z2 = m2 + torch.exp(0.5 * lv2) * eps[:, d1:]
        m1, lv1 = self._encode_standardized(xs, z2)
        z1 = m1 + torch.exp(0.5 * lv1) * eps[:, :d1]
        out = self.decode(z1, z2)
        if mask is None:
            rec = self.log_likelihood(target, out)
        else:
            logvar = self.observation_logvar().to(out.dtype)
            terms = (target - out).square() * torch.exp(-logvar) + logvar + _LOG_2PI
            rec = -0.5 * (terms * mask).sum(-1)
        var = self.group_latent_std**2
        kl2 = 0.5 * (
            (lv2.exp() + (m2 - mu2).square()) / var - 1.0 - lv2 + math.log(var)
        ).sum(-1)
        return rec, self.kl_divergence(m1, lv1) + kl2, (m1, m2)
