"""The torch modules and their maths (``skvae/_vae.py``), without sklearn."""

import math

import pytest
import torch
from torch.testing import assert_close

from skvae._vae import VAE, SemiSupervisedVAE


def _vae(n_features=6, n_components=2, seed=0, **kwargs):
    module = VAE(n_features, n_components, (16,), **kwargs)
    module.reset_parameters(torch.Generator().manual_seed(seed))
    return module.eval()


def _one_hot(idx, n):
    return torch.nn.functional.one_hot(torch.as_tensor(idx), n).float()


# ---------------------------------------------------------------- construction
def test_reset_parameters_is_reproducible_and_leaves_global_rng_alone():
    a, b, c = (VAE(6, 2, (16,)) for _ in range(3))
    state = torch.get_rng_state()
    for module, seed in ((a, 0), (b, 0), (c, 1)):
        module.reset_parameters(torch.Generator().manual_seed(seed))
    assert torch.equal(torch.get_rng_state(), state)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k])
    assert not torch.equal(a.mean_head.weight, c.mean_head.weight)
    assert torch.all(a.logvar_head.bias == -2.0)  # narrow posterior at start


def test_config_rebuilds_the_same_architecture():
    for kwargs in ({}, {"n_conditions": 3, "condition_encoder": True}):
        module = _vae(**kwargs)
        again = VAE(**module.config())
        assert again.config() == module.config()
        again.load_state_dict(module.state_dict())  # same tensors, same shapes
    conv = _vae(n_features=24, frame_shape=(8, 3))
    assert conv.config()["frame_shape"] == [8, 3]
    assert VAE(**conv.config()).conv is not None


def test_frame_shape_must_match_the_features():
    with pytest.raises(ValueError, match=r"frame_shape=\(4, 4\) holds 16 values"):
        VAE(15, 2, (8,), frame_shape=(4, 4))


def test_standardisation_happens_inside_the_module():
    module = _vae(n_features=3)
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    loc, scale = torch.tensor([1.0, 0.0, -1.0]), torch.tensor([2.0, 1.0, 4.0])
    plain = module.encode_mean((x - loc) / scale)
    module.set_standardization(loc, scale, constant=torch.tensor([0.0, 1.0, 0.0]))
    assert_close(module.encode_mean(x), plain)
    # a constant feature is reproduced exactly: its standardised value is 0
    z = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    assert torch.all(module.reconstruct(z)[:, 1] == loc[1])
    assert module.has_constant


# ---------------------------------------------------------------- the bound
def test_kl_divergence_closed_form():
    mean = torch.tensor([[0.0, 0.0], [1.0, -2.0]])
    logvar = torch.tensor([[0.0, 0.0], [math.log(4.0), 0.0]])
    # 0.5 * (m^2 + s^2 - 1 - log s^2) per dimension
    expected = torch.tensor([0.0, 0.5 * (1 + 4 - 1 - math.log(4)) + 0.5 * 4])
    assert_close(VAE.kl_divergence(mean, logvar), expected)


def test_gaussian_log_likelihood_matches_torch_distributions():
    module = _vae(n_features=4)
    with torch.no_grad():
        module.obs_logvar.copy_(torch.tensor([0.0, 1.0, -1.0, 2.0]))
    x, out = torch.randn(5, 4), torch.randn(5, 4)
    std = torch.exp(0.5 * module.observation_logvar())
    expected = torch.distributions.Normal(out, std).log_prob(x).sum(-1)
    assert_close(module.log_likelihood(x, out), expected, rtol=1e-5, atol=1e-5)


def test_bernoulli_log_likelihood_matches_torch_distributions():
    module = _vae(n_features=4, likelihood="bernoulli")
    x = (torch.rand(5, 4, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    logits = torch.randn(5, 4)
    expected = torch.distributions.Bernoulli(logits=logits).log_prob(x).sum(-1)
    assert_close(module.log_likelihood(x, logits), expected)


def test_score_of_a_row_does_not_depend_on_its_batch():
    module = _vae()
    x = torch.randn(9, 6, generator=torch.Generator().manual_seed(0))
    eps = torch.randn(5, 2, generator=torch.Generator().manual_seed(1))
    for importance in (False, True):
        full = module.log_likelihood_bound(x, eps, importance=importance)
        assert full.dtype == torch.float64 and full.shape == (9,)
        parts = torch.cat(
            [
                module.log_likelihood_bound(x[i : i + 2], eps, importance=importance)
                for i in range(0, 9, 2)
            ]
        )
        assert_close(parts, full, rtol=1e-6, atol=1e-6)


def test_importance_weighted_bound_is_tighter_than_the_elbo():
    module = _vae()
    x = torch.randn(20, 6, generator=torch.Generator().manual_seed(0))
    eps = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    elbo = module.log_likelihood_bound(x, eps)
    iwae = module.log_likelihood_bound(x, eps, importance=True)
    assert torch.all(iwae >= elbo - 1e-9)


# ---------------------------------------------------------------- mixtures over groups
def test_reconstruct_mixture_is_the_weighted_mean_of_group_decoders():
    module = _vae(n_conditions=3)
    z = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    weights = [0.2, 0.5, 0.3]
    per_group = torch.stack(
        [module.reconstruct(z, _one_hot([g] * 4, 3)) for g in range(3)]
    )
    expected = sum(w * r for w, r in zip(weights, per_group))
    assert_close(module.reconstruct_mixture(z, weights), expected)


def test_mixture_bound_is_the_log_sum_exp_of_group_bounds():
    module = _vae(n_conditions=2)
    x = torch.randn(7, 6, generator=torch.Generator().manual_seed(0))
    eps = torch.randn(4, 2, generator=torch.Generator().manual_seed(1))
    weights = [0.25, 0.75]
    for importance in (False, True):
        per_group = torch.stack(
            [
                module.log_likelihood_bound(
                    x, eps, importance=importance, cond=_one_hot([g] * 7, 2)
                )
                for g in range(2)
            ]
        )
        expected = torch.log(
            torch.exp(per_group).T @ torch.tensor(weights, dtype=torch.float64)
        )
        got = module.log_likelihood_bound_mixture(
            x, eps, weights, importance=importance
        )
        assert_close(got, expected)


def test_standardized_view_shares_the_weights_and_changes_nothing():
    module = _vae(n_features=3)
    loc, scale = torch.tensor([1e3, 0.0, -1.0]), torch.tensor([2.0, 1.0, 4.0])
    module.set_standardization(loc, scale, constant=torch.tensor([0.0, 1.0, 0.0]))
    before = {k: v.clone() for k, v in module.state_dict().items()}
    view = module.standardized()
    x = torch.tensor([[1001.0, 2.0, 3.0], [1004.0, 5.0, 6.0]])
    assert torch.equal(view.encode_mean((x - loc) / scale), module.encode_mean(x))
    z = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    assert_close(view.reconstruct(z) * scale + loc, module.reconstruct(z))
    assert all(torch.equal(v, before[k]) for k, v in module.state_dict().items())
    # training the view trains the module: the parameters are the same objects
    assert all(a is b for a, b in zip(view.parameters(), module.parameters()))
    assert view.keep is module.keep and view.has_constant


# ---------------------------------------------------------------- generation
def test_draw_latent_scales_the_prior_and_shifts_to_class_means():
    eps = torch.randn(6, 2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(_vae().draw_latent(eps), eps)
    assert_close(_vae().draw_latent(eps, temperature=0.5), 0.5 * eps)
    m2 = SemiSupervisedVAE(6, 2, (16,), n_conditions=3)
    m2.reset_parameters(torch.Generator().manual_seed(0), spread_prior_means=True)
    c = _one_hot([0, 1, 2, 0, 1, 2], 3)
    with torch.no_grad():
        z = m2.draw_latent(eps, c, temperature=0.1)
    assert_close(z, 0.1 * eps + m2.prior_means[[0, 1, 2, 0, 1, 2]])


def test_sample_observation_follows_the_likelihood():
    gen = torch.Generator().manual_seed(0)
    gauss = _vae(n_features=3)
    with torch.no_grad():
        gauss.obs_logvar.copy_(torch.log(torch.tensor([1.0, 4.0, 0.25])))
    out = torch.zeros(20000, 3)
    with torch.no_grad():
        x = gauss.sample_observation(out, gen)
    assert_close(x.std(0), torch.tensor([1.0, 2.0, 0.5]), rtol=0.03, atol=0.0)
    bern = _vae(n_features=3, likelihood="bernoulli")
    logits = torch.tensor([[-20.0, 0.0, 20.0]]).expand(20000, 3)
    x = bern.sample_observation(logits, gen)
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    assert_close(x.mean(0), torch.tensor([0.0, 0.5, 1.0]), rtol=0, atol=0.02)
    assert_close(bern.output_mean(logits[:1]), torch.sigmoid(logits[:1]))


# ---------------------------------------------------------------- M2
def test_semi_supervised_terms_for_labelled_and_unlabelled_rows():
    module = SemiSupervisedVAE(5, 2, (16,), n_conditions=3)
    module.reset_parameters(torch.Generator().manual_seed(0))
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(1))
    eps = torch.randn(6, 2, generator=torch.Generator().manual_seed(2))
    labels = torch.tensor([0, 2, -1, 1, -1, 0])
    rec, kl = module.loss_terms(x, eps, cond=labels)
    assert rec.shape == kl.shape == (6,)
    assert torch.isfinite(rec).all() and torch.all(kl >= 0)
    # a labelled row's terms do not depend on the other rows of the batch
    rec1, kl1 = module.loss_terms(x[:1], eps[:1], cond=labels[:1])
    assert_close(rec1, rec[:1], rtol=1e-5, atol=1e-5)
    assert_close(kl1, kl[:1], rtol=1e-5, atol=1e-5)
    # class_logits runs in float64, so a row's logits barely depend on its
    # batch (float32 would differ from the 7th digit; BLAS kernels for other
    # batch sizes round float64 differently in the last bits on some CPUs)
    logits = module.class_logits(x)
    assert logits.dtype == torch.float64 and logits.shape == (6, 3)
    assert_close(module.class_logits(x[2:4]), logits[2:4], rtol=1e-12, atol=1e-14)


def test_class_logits_leaves_the_module_unchanged_during_the_call():
    """Several threads may predict at once: a call must not swap float64
    weights into the shared module, even for the duration of the call."""
    module = SemiSupervisedVAE(5, 2, (16, 8), n_conditions=3).eval()
    module.reset_parameters(torch.Generator().manual_seed(0))
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(1))
    linears = [m for m in module.classifier.modules() if isinstance(m, torch.nn.Linear)]
    seen = []
    activation = module.classifier[0][1]  # runs between the linear layers
    activation.register_forward_hook(
        lambda *_: seen.append({m.weight.dtype for m in linears})
    )
    logits = module.class_logits(x)
    assert seen == [{torch.float32}]
    assert logits.dtype == torch.float64
    # the same numbers as the classifier run in float64 on a float64 copy
    double = SemiSupervisedVAE(5, 2, (16, 8), n_conditions=3).double()
    double.load_state_dict(module.state_dict())
    xs = (x.double() - module.loc.double()) / module.scale.double()
    assert torch.equal(logits, double.classifier(xs))
