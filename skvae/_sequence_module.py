"""The torch module of the segment-level FHVAE (:class:`~skvae.SequenceVAE`);
no scikit-learn, no global torch RNG."""

import torch
from torch import nn

from ._factorized_module import FactorizedVAEModule

__all__ = ["SequenceVAEModule"]


class SequenceVAEModule(FactorizedVAEModule):
    """:class:`FactorizedVAEModule` over fixed-length segments of frames.

    Rows are segments flattened time-major (``frame_shape=(segment_length,
    n_frame_features)``: the content encoder convolves over their frames);
    groups are sequences (or speakers). ``cond`` rows hold ``(group, valid
    frames, label)``: frames past a short sequence's end are padding, left
    out of the likelihood; a label >= 0 adds ``label_weight`` times log
    q(label | z1 mean) (a linear softmax on the content latent).
    """

    def __init__(self, *args, n_classes=0, **kwargs):
        super().__init__(*args, **kwargs)
        self.n_classes = int(n_classes)
        self.label_head = nn.Linear(self.n_content, self.n_classes or 1)
        #: weight of the label term (a training setting)
        self.label_weight = 0.0

    def config(self):
        return {**super().config(), "n_classes": self.n_classes}

    def frame_mask(self, n_valid):
        """0/1 per feature of segment rows with ``n_valid`` real frames."""
        n_frames, n_coef = self.frame_shape
        steps = torch.arange(n_frames, device=n_valid.device)
        mask = (steps[None, :] < n_valid[:, None]).to(torch.float32)
        return mask.repeat_interleave(n_coef, dim=1)

    def loss_terms(self, x, eps, target=None, cond=None, corruption=None):
        """Per-row ``(rec, kl)`` as :meth:`FactorizedVAEModule.loss_terms`,
        padded frames masked, plus the label term on labelled rows."""
        xs = self.standardize(x)
        if corruption is not None:
            xs = xs + corruption
        g, n_valid, label = cond.long().unbind(1)
        mu2 = self.group_means[g]
        rec, kl, (m1, m2) = self.elbo_terms(
            xs, self.standardize(x), eps, mu2, self.frame_mask(n_valid)
        )
        kl = kl + 0.5 * mu2.square().sum(-1) / self.group_sizes[g]
        if self.discriminative_weight > 0 and self.n_groups > 1:
            logits = self._log_density(m2)
            log_pg = logits.gather(1, g[:, None]).squeeze(1)
            rec = rec + self.discriminative_weight * (
                log_pg - torch.logsumexp(logits, dim=1)
            )
        if self.label_weight > 0 and self.n_classes > 1:
            known = label >= 0
            logp = torch.log_softmax(self.label_head(m1), dim=1)
            picked = logp.gather(1, label.clamp(min=0)[:, None]).squeeze(1)
            rec = rec + self.label_weight * picked * known
        return rec, kl

    def segment_elbo(self, x, eps, mu2, n_valid):
        """Per-segment ELBO in the standardised space, z2's prior centred on
        the sequence latent ``mu2`` (one row per segment)."""
        xs = self.standardize(x)
        rec, kl, _ = self.elbo_terms(xs, xs, eps, mu2, self.frame_mask(n_valid))
        return rec - kl
