"""The training loop and its helpers (``skvae/_training.py``): Trainer,
train_one_epoch, evaluate, ThreadTuner, torch_threads.

The estimators' use of them (threads during fit, early stopping through
``fit``) is tested in ``test_transformer.py``; devices end to end in
``test_device.py``.
"""

import io
import math
import sys
import time

import pytest
import torch

import skvae._training as training
from skvae._vae import VAE
from skvae.exceptions import TrainingDiverged


def _module(n_features, n_components, gen):
    module = VAE(n_features, n_components, (64,))
    module.reset_parameters(gen)
    return module


def _trainer(module, **kwargs):
    return training.Trainer(
        module=module,
        optimizer=torch.optim.Adam(module.parameters(), lr=kwargs.pop("lr", 3e-2)),
        batch_size=kwargs.pop("batch_size", 8),
        shuffle_gen=torch.Generator().manual_seed(1),
        noise_gen=torch.Generator().manual_seed(2),
        **kwargs,
    )


# ---------------------------------------------------------------- Trainer
def test_trainer_restores_exact_best_state():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(60, 12, generator=gen)
    train_idx, val_idx = torch.arange(40), torch.arange(40, 60)
    eps = torch.randn(20, 4, generator=gen)
    module = _module(12, 4, gen)
    trainer = _trainer(module, tol=0.0, n_iter_no_change=10)
    data = training.TrainingData(
        X, train_indices=train_idx, val_indices=val_idx, val_eps=eps
    )
    trainer.run(data, max_epochs=200, early_stopping=True)
    assert trainer.best_epoch < trainer.n_epochs
    val = training.evaluate(module, X[40:], beta=1.0, eps=eps, batch_size=64)
    assert -val.loss == pytest.approx(trainer.best_validation_score, rel=1e-6)


def test_trainer_records_every_epoch_and_stops_when_converged():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(50, 6, generator=gen)
    trainer = _trainer(_module(6, 2, gen), beta=2.0, kl_warmup=4, tol=1e9)
    converged = trainer.run(training.TrainingData(X), max_epochs=20)
    # an improvement of 1e9 nats never happens: it stops after
    # n_iter_no_change epochs without one (the first epoch improves on inf)
    assert converged
    assert trainer.n_epochs == 1 + trainer.n_iter_no_change
    assert [h["epoch"] for h in trainer.history] == list(range(1, 12))
    assert [h["beta"] for h in trainer.history[:5]] == [0.5, 1.0, 1.5, 2.0, 2.0]
    for h in trainer.history:
        assert h.keys() == {"epoch", "beta", "loss", "reconstruction", "kl"}
        assert h["loss"] == pytest.approx(h["reconstruction"] + h["beta"] * h["kl"])
    # the same trainer continues where it stopped (partial_fit)
    assert not trainer.run(
        training.TrainingData(X), max_epochs=2, check_convergence=False
    )
    assert trainer.n_epochs == 13


def test_beta_warmup():
    trainer = training.Trainer(module=None, optimizer=None, batch_size=1, beta=3.0)
    assert [trainer.beta_at(e) for e in range(3)] == [3.0, 3.0, 3.0]
    trainer.kl_warmup = 3
    assert [trainer.beta_at(e) for e in range(5)] == [1.0, 2.0, 3.0, 3.0, 3.0]


def test_update_best_tracks_loss_or_validation_score():
    trainer = training.Trainer(
        module=torch.nn.Linear(1, 1), optimizer=None, batch_size=1, tol=0.5
    )
    assert trainer.update_best({"epoch": 1, "loss": 10.0}, early_stopping=False)
    assert not trainer.update_best({"epoch": 2, "loss": 9.8}, early_stopping=False)
    assert (trainer.best_loss, trainer.best_epoch, trainer.no_improvement) == (
        9.8,
        2,
        1,
    )
    record = {"epoch": 3, "loss": 20.0, "validation_score": -5.0}
    assert trainer.update_best(record, early_stopping=True)
    assert (trainer.best_validation_score, trainer.best_epoch) == (-5.0, 3)
    assert trainer.best_loss == 9.8 and trainer.no_improvement == 0


def test_divergence_raises_and_restores_the_start_weights():
    gen = torch.Generator().manual_seed(0)
    module = _module(4, 2, gen)
    start = {k: v.clone() for k, v in module.state_dict().items()}
    X = torch.randn(32, 4, generator=gen)
    X[3, 1] = math.inf
    trainer = _trainer(module)
    with pytest.raises(TrainingDiverged, match="at epoch 1"):
        trainer.run(training.TrainingData(X), max_epochs=3)
    for k, v in module.state_dict().items():
        assert torch.equal(v, start[k])


def test_train_one_epoch_uses_only_the_given_rows():
    gen = torch.Generator().manual_seed(0)
    module = _module(3, 1, gen)
    X = torch.randn(20, 3, generator=gen)
    X[10:] = math.nan  # rows outside the indices would poison the loss
    res = training.train_one_epoch(
        module,
        torch.optim.SGD(module.parameters(), lr=1e-3),
        X,
        batch_size=4,
        beta=1.0,
        shuffle_gen=torch.Generator().manual_seed(0),
        noise_gen=torch.Generator().manual_seed(0),
        indices=torch.arange(10),
    )
    assert math.isfinite(res.loss)
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_evaluate_is_deterministic_and_batch_size_independent():
    gen = torch.Generator().manual_seed(0)
    module = _module(5, 2, gen)
    X = torch.randn(40, 5, generator=gen)
    eps = torch.randn(40, 2, generator=gen)
    a = training.evaluate(module, X, beta=1.0, eps=eps, batch_size=40)
    b = training.evaluate(module, X, beta=1.0, eps=eps, batch_size=7)
    assert a.loss == pytest.approx(b.loss, rel=1e-6)
    assert a.loss == pytest.approx(a.reconstruction + a.kl, rel=1e-6)


def test_training_data_counts_the_training_rows():
    X = torch.zeros(10, 2)
    assert training.TrainingData(X).n_train == 10
    assert training.TrainingData(X, train_indices=torch.arange(7)).n_train == 7


def test_training_diverged_is_the_same_class_everywhere():
    import skvae.exceptions

    assert training.TrainingDiverged is skvae.exceptions.TrainingDiverged
    assert issubclass(TrainingDiverged, FloatingPointError)


# ---------------------------------------------------------------- progress
class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _run_slow_epochs(monkeypatch, n_epochs):
    """Run a verbose Trainer for ``n_epochs`` epochs of about 0.15 s each."""

    def slow_epoch(*args, **kwargs):
        time.sleep(0.15)
        return training.EpochResult(loss=1.0, reconstruction=1.0, kl=0.0)

    monkeypatch.setattr(training, "train_one_epoch", slow_epoch)
    gen = torch.Generator().manual_seed(0)
    trainer = _trainer(_module(4, 2, gen), verbose=1, n_iter_no_change=100)
    trainer.run(training.TrainingData(torch.zeros(8, 4)), max_epochs=n_epochs)


def test_progress_bar_into_a_log_is_drawn_at_start_and_end(monkeypatch, capsys):
    """A log (not a terminal) gets no line per redraw: the CI log of a
    training was mostly progress bars."""
    _run_slow_epochs(monkeypatch, 12)
    err = capsys.readouterr().err
    assert err.count("\r") <= 2  # the start and the end (one a minute between)
    assert "12/12" in err and "loss=1" in err


def test_progress_bar_on_a_terminal_is_redrawn(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    _run_slow_epochs(monkeypatch, 12)
    assert terminal.getvalue().count("\r") >= 10
    assert "12/12" in terminal.getvalue()
