"""The training loop (torch, no scikit-learn): epochs of index-gathered
mini-batches on the training device, validation, early stopping, history."""

import math
import sys
import warnings
from dataclasses import dataclass, field

import torch

from ._threads import ThreadTuner
from .exceptions import TrainingDiverged

__all__ = [
    "EpochResult",
    "Trainer",
    "TrainingData",
    "TrainingDiverged",
    "evaluate",
    "train_one_epoch",
]


@dataclass
class EpochResult:
    """Per-sample averages of one pass over the data."""

    loss: float
    reconstruction: float
    kl: float


def _stats(sums, n):
    loss, rec, kl = (sums / n).tolist()  # the one host sync of an epoch
    return EpochResult(loss=loss, reconstruction=rec, kl=kl)


def train_one_epoch(
    module,
    optimizer,
    X,
    *,
    batch_size,
    beta,
    shuffle_gen,
    noise_gen,
    target=None,
    cond=None,
    corruption_std=0.0,
    indices=None,
    tuner=None,
    check_each_step=False,
):
    """One pass over ``X`` (or its rows ``indices``) in shuffled mini-batches:
    the per-sample :class:`EpochResult`. ``corruption_std`` > 0 adds noise to
    the standardised encoder input; ``tuner`` is ticked before each step; with
    ``check_each_step`` a non-finite loss ends the epoch before the step (NaN).
    """
    module.train()
    n = X.shape[0] if indices is None else indices.shape[0]
    d = module.n_components
    device = X.device
    perm = torch.randperm(n, generator=shuffle_gen).to(device, non_blocking=True)
    if indices is not None:
        perm = indices[perm]
    sums = torch.zeros(3, device=device)
    if tuner is not None:
        tuner.epoch_start()
    for start in range(0, n, batch_size):
        if tuner is not None:
            tuner.tick()
        idx = perm[start : start + batch_size]
        xb = X.index_select(0, idx)
        tb = None if target is None else target.index_select(0, idx)
        cb = None if cond is None else cond.index_select(0, idx)
        m = xb.shape[0]
        eps = torch.randn(m, d, generator=noise_gen, device=device)
        corruption = None
        if corruption_std > 0:
            corruption = corruption_std * torch.randn(
                xb.shape, generator=noise_gen, device=device
            )
        rec, kl = module.loss_terms(xb, eps, tb, cb, corruption)
        nll_sum = -rec.sum()
        kl_sum = kl.sum()
        loss_sum = nll_sum + beta * kl_sum
        if check_each_step and not torch.isfinite(loss_sum):
            return EpochResult(loss=math.nan, reconstruction=math.nan, kl=math.nan)
        optimizer.zero_grad(set_to_none=True)
        (loss_sum / m).backward()
        optimizer.step()
        sums += torch.stack((loss_sum, nll_sum, kl_sum)).detach()
    return _stats(sums, n)


@torch.inference_mode()
def evaluate(module, X, *, beta, eps, batch_size, target=None, cond=None, indices=None):
    """Objective on ``X`` (or its rows ``indices``) with fixed noise ``eps``
    (one row per evaluated row), so successive evaluations are comparable."""
    module.eval()
    n = X.shape[0] if indices is None else indices.shape[0]
    sums = torch.zeros(3, device=X.device)
    for start in range(0, n, batch_size):
        sl = slice(start, start + batch_size)
        rows = sl if indices is None else indices[sl]
        tb = None if target is None else target[rows]
        cb = None if cond is None else cond[rows]
        rec, kl = module.loss_terms(X[rows], eps[sl], tb, cb)
        nll_sum = -rec.sum()
        kl_sum = kl.sum()
        sums += torch.stack((nll_sum + beta * kl_sum, nll_sum, kl_sum))
    return _stats(sums, n)


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _all_finite(module):
    return all(bool(torch.isfinite(p).all()) for p in module.parameters())


@dataclass(frozen=True)
class TrainingData:
    """The tensors of one training run, on the training device: ``target`` (the
    rows decoded, ``X`` when None), ``cond``, index splits and validation noise.
    """

    X: torch.Tensor
    target: torch.Tensor = None
    cond: torch.Tensor = None
    train_indices: torch.Tensor = None
    val_indices: torch.Tensor = None
    val_eps: torch.Tensor = None
    corruption_std: float = 0.0

    @property
    def n_train(self):
        """Number of rows trained on."""
        if self.train_indices is None:
            return self.X.shape[0]
        return self.train_indices.shape[0]


@dataclass
class Trainer:
    """Runs epochs with KL warm-up, convergence check and early stopping;
    keeps the epoch count and best scores between calls (``partial_fit``)."""

    module: torch.nn.Module
    optimizer: torch.optim.Optimizer
    batch_size: int
    beta: float = 1.0
    kl_warmup: int = 0
    tol: float = 1e-4
    n_iter_no_change: int = 10
    verbose: int = 0
    shuffle_gen: torch.Generator = None
    noise_gen: torch.Generator = None
    tuner: ThreadTuner = None
    history: list = field(default_factory=list)
    best_loss: float = math.inf
    best_validation_score: float = -math.inf
    best_state: dict = None
    best_epoch: int = 0
    no_improvement: int = 0

    @property
    def n_epochs(self):
        return len(self.history)

    def beta_at(self, epoch):
        """KL weight of epoch ``epoch`` (0-based): linear warm-up, then beta."""
        if self.kl_warmup <= 0:
            return self.beta
        return self.beta * min(1.0, (epoch + 1) / self.kl_warmup)

    def run(self, data, *, max_epochs, early_stopping=False, check_convergence=True):
        """Train up to ``max_epochs`` epochs; True if converged. Early stopping
        restores the best epoch's weights; so does Ctrl-C, with a warning."""
        # last-resort weights should the very first epoch diverge
        self._start = _snapshot(self.module) if self.best_state is None else None
        progress = self._progress_bar(max_epochs)
        try:
            converged = False
            for _ in range(max_epochs):
                record = self.run_epoch(data)
                improved = self.update_best(record, early_stopping)
                _show_progress(progress, record)
                if check_convergence and self._converged(improved):
                    converged = True
                    break
        except KeyboardInterrupt:
            self._interrupted()
            return False
        finally:
            if progress is not None:
                progress.close()
        if early_stopping and self.best_state is not None:
            self.module.load_state_dict(self.best_state)
        return converged

    def run_epoch(self, data):
        """Train and validate one epoch, append its record to history;
        TrainingDiverged (last finite weights restored) if not finite."""
        epoch = self.n_epochs
        beta = self.beta_at(epoch)
        res = train_one_epoch(
            self.module,
            self.optimizer,
            data.X,
            batch_size=self.batch_size,
            beta=beta,
            shuffle_gen=self.shuffle_gen,
            noise_gen=self.noise_gen,
            target=data.target,
            cond=data.cond,
            corruption_std=data.corruption_std,
            indices=data.train_indices,
            tuner=self.tuner,
            check_each_step=data.X.device.type == "cpu",
        )
        self._check_finite(res, epoch)
        record = {
            "epoch": epoch + 1,
            "beta": beta,
            "loss": res.loss,
            "reconstruction": res.reconstruction,
            "kl": res.kl,
        }
        if data.val_indices is not None:
            record.update(self._validate(data))
        self.history.append(record)
        return record

    def _validate(self, data):
        """Validation entries of an epoch's record (objective at full beta)."""
        val = evaluate(
            self.module,
            data.X,
            beta=self.beta,
            eps=data.val_eps,
            batch_size=max(self.batch_size, 4096),
            target=data.target,
            cond=data.cond,
            indices=data.val_indices,
        )
        return {
            "validation_score": -val.loss,
            "validation_reconstruction": val.reconstruction,
            "validation_kl": val.kl,
        }

    def _check_finite(self, result, epoch):
        if math.isfinite(result.loss) and _all_finite(self.module):
            return
        fallback = self.best_state if self.best_state is not None else self._start
        self.module.load_state_dict(fallback)
        raise TrainingDiverged(
            f"The training loss became {result.loss} at epoch {epoch + 1}. The "
            "model did not converge: lower learning_rate_init, keep "
            "standardize=True, check the input for extreme values, or use a "
            "smaller beta. The estimator is left with the last finite weights."
        )

    def update_best(self, record, early_stopping):
        """Track the best epoch (by validation score with ``early_stopping``,
        else by training loss) and its weights; whether this one improved
        by ``tol``."""
        early = early_stopping and "validation_score" in record
        # higher is better: the validation score, or minus the training loss
        score = record["validation_score"] if early else -record["loss"]
        best = self.best_validation_score if early else -self.best_loss
        improved = score > best + self.tol
        if score > best:
            self.best_state = _snapshot(self.module)
            self.best_epoch = record["epoch"]
            if early:
                self.best_validation_score = score
        self.best_loss = min(self.best_loss, record["loss"])
        self.no_improvement = 0 if improved else self.no_improvement + 1
        return improved

    def _converged(self, improved):
        return not improved and self.no_improvement >= self.n_iter_no_change

    def _progress_bar(self, max_epochs):
        """A tqdm bar over the epochs when ``verbose``, else None; redrawn
        at most once a minute when it goes to a log rather than a terminal."""
        if not self.verbose:
            return None
        from tqdm.auto import tqdm

        interval = 0.1 if _interactive(tqdm) else LOG_PROGRESS_INTERVAL
        return tqdm(
            total=max_epochs,
            desc="VAE",
            unit="epoch",
            leave=True,
            mininterval=interval,
        )

    def _interrupted(self):
        """Ctrl-C: warn, and keep the best weights seen so far."""
        warnings.warn(
            f"Training interrupted by the user after {self.n_epochs} epoch(s); "
            f"the model keeps the best weights so far (epoch {self.best_epoch}).",
            UserWarning,
            stacklevel=4,
        )
        if self.best_state is not None:
            self.module.load_state_dict(self.best_state)


#: seconds between two redraws of a progress bar that goes to a log
LOG_PROGRESS_INTERVAL = 60.0


def _interactive(bar_class):
    """Whether progress bars of ``bar_class`` (tqdm.auto's choice) are seen
    live: a notebook widget, or text bars on a terminal's stderr."""
    if any(c.__module__ == "tqdm.notebook" for c in bar_class.__mro__):
        return True  # tqdm.auto chose the notebook widget
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def _show_progress(progress, record):
    if progress is None:
        return
    progress.update(1)
    post = {"loss": f"{record['loss']:.4g}"}
    if "validation_score" in record:
        post["val"] = f"{record['validation_score']:.4g}"
    progress.set_postfix(post, refresh=False)
