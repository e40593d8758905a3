"""vaelib.linear_gaussian against torch.distributions, a brute-force integral, and the ELBO's identities."""

from __future__ import annotations

import math

import pytest
import torch
from torch import distributions as D

from vaelib import linear_gaussian as E

F64 = torch.float64


@pytest.fixture
def setup():
    g = torch.Generator().manual_seed(0)
    model = E.random_model(5, 2, generator=g)
    x = E.sample(model, 40, generator=g).x
    return model, x, g


def _random_q(n: int, dz: int, g: torch.Generator, shared: bool = False):
    mu = torch.randn(n, dz, generator=g, dtype=F64)
    B = torch.randn(*(() if shared else (n,)), dz, dz, generator=g, dtype=F64)
    cov = B @ B.transpose(-2, -1) + 0.1 * torch.eye(dz, dtype=F64)
    return mu, cov


def test_model_stores_float64_and_expands_sigma2_for_ppca():
    model = E.LinearGaussian([[1.0], [2.0]], [0.0, 1.0], 0.3)
    assert model.W.dtype == model.b.dtype == model.psi.dtype == F64
    assert model.psi.tolist() == [0.3, 0.3] and (model.x_dim, model.z_dim) == (2, 1)
    ppca = E.random_model(4, 2, generator=torch.Generator().manual_seed(1), ppca=True, noise=0.2)
    assert torch.equal(ppca.psi, torch.full((4,), 0.2, dtype=F64))


def test_log_evidence_is_the_marginal_multivariate_normal(setup):
    model, x, _ = setup
    C = model.W @ model.W.T + torch.diag(model.psi)
    reference = D.MultivariateNormal(model.b, covariance_matrix=C).log_prob(x)
    assert torch.allclose(E.log_evidence(model, x), reference, rtol=0, atol=1e-10)


def test_log_evidence_matches_a_brute_force_integral_in_1d():
    model = E.LinearGaussian([[1.5], [-0.7], [0.4]], [0.2, 0.0, -1.0], [0.3, 0.5, 0.8])
    x = torch.tensor([[1.0, -0.5, 0.0], [-2.0, 1.0, -1.5], [0.0, 0.0, 0.0]], dtype=F64)
    z = torch.linspace(-12, 12, 24_001, dtype=F64)  # p(x|z) p(z) on a fine grid, trapezoid rule
    joint = (
        E.log_likelihood(model, x, z[:, None, None].expand(-1, 3, 1))
        + E.log_prior(z[:, None])[:, None]
    ).exp()
    integral = torch.trapezoid(joint, z, dim=0).log()
    assert torch.allclose(E.log_evidence(model, x), integral, rtol=0, atol=1e-9)


def test_log_likelihood_and_prior_match_torch_distributions(setup):
    model, x, g = setup
    z = torch.randn(3, x.shape[0], model.z_dim, generator=g, dtype=F64)
    ref = D.Independent(D.Normal(z @ model.W.T + model.b, model.psi.sqrt()), 1).log_prob(x)
    assert torch.allclose(E.log_likelihood(model, x, z), ref, atol=1e-10)
    prior = D.MultivariateNormal(torch.zeros(2, dtype=F64), torch.eye(2, dtype=F64))
    assert torch.allclose(E.log_prior(z), prior.log_prob(z), atol=1e-12)


def test_posterior_satisfies_bayes_rule_at_any_z(setup):
    model, x, g = setup
    post = E.posterior(model, x)
    q_post = D.MultivariateNormal(post.mu, covariance_matrix=post.cov)
    for _ in range(3):  # log p(x|z) + log p(z) - log p(z|x) = log p(x) wherever z is
        z = 3 * torch.randn(x.shape[0], model.z_dim, generator=g, dtype=F64)
        bayes = E.log_likelihood(model, x, z) + E.log_prior(z) - q_post.log_prob(z)
        assert torch.allclose(bayes, E.log_evidence(model, x), rtol=0, atol=1e-9)


def test_gaussian_elbo_terms_match_monte_carlo_and_torch_kl(setup):
    model, x, g = setup
    mu, cov = _random_q(x.shape[0], model.z_dim, g)
    terms = E.gaussian_elbo(model, x, mu, cov)
    q = D.MultivariateNormal(mu, covariance_matrix=cov)
    prior = D.MultivariateNormal(torch.zeros(2, dtype=F64), torch.eye(2, dtype=F64))
    assert torch.allclose(terms.kl, D.kl_divergence(q, prior), atol=1e-10)
    z = q.sample((20_000,))  # the expectation E_q[log p(x|z)] by sampling
    draws = E.log_likelihood(model, x, z)
    z_score = (draws.mean(0) - (-terms.recon)) / (draws.std(0) / math.sqrt(20_000))
    assert z_score.abs().max() < 5
    assert torch.allclose(terms.elbo, -terms.recon - terms.kl)


def test_elbo_is_below_log_evidence_and_the_gap_is_the_kl_to_the_posterior(setup):
    model, x, g = setup
    log_px = E.log_evidence(model, x)
    for shared in (False, True):
        mu, cov = _random_q(x.shape[0], model.z_dim, g, shared=shared)
        elbo = E.gaussian_elbo(model, x, mu, cov).elbo
        gap = E.kl_to_posterior(model, x, mu, cov)
        assert (elbo < log_px).all() and (gap > 0).all()
        assert torch.allclose(elbo + gap, log_px, rtol=0, atol=1e-6)
        post = E.posterior(model, x)
        ref = D.kl_divergence(
            D.MultivariateNormal(mu, covariance_matrix=cov.expand(x.shape[0], 2, 2)),
            D.MultivariateNormal(post.mu, covariance_matrix=post.cov),
        )
        assert torch.allclose(gap, ref, atol=1e-9)


def test_gap_is_zero_at_the_exact_posterior(setup):
    model, x, _ = setup
    post = E.posterior(model, x)
    assert E.kl_to_posterior(model, x, post.mu, post.cov).abs().max() < 1e-10
    elbo = E.gaussian_elbo(model, x, post.mu, post.cov).elbo
    assert torch.allclose(elbo, E.log_evidence(model, x), rtol=0, atol=1e-10)


def test_iw_bound_rises_with_k_in_expectation_and_converges(setup):
    model, x, g = setup
    x = x[:10]
    mu, cov = torch.zeros(10, 2, dtype=F64), torch.eye(2, dtype=F64)  # q = p(z): a poor q
    log_px, elbo = E.log_evidence(model, x), E.gaussian_elbo(model, x, mu, cov).elbo
    means = []
    for k in (1, 10, 100, 1000):
        L = E.iw_bound(model, x, mu, cov, k, generator=g, repeats=200)
        assert L.shape == (200, 10)
        means.append(L.mean().item())
    assert means == sorted(means)
    # L_1 is an unbiased estimate of the ELBO; E[L_k] < log p(x) and approaches it.
    L1 = E.iw_bound(model, x, mu, cov, 1, generator=g, repeats=20_000)
    assert ((L1.mean(0) - elbo).abs() / (L1.std(0) / math.sqrt(20_000))).max() < 5
    assert means[-1] < log_px.mean().item() and log_px.mean().item() - means[-1] < 0.1


def test_iw_bound_is_exact_for_every_k_at_the_posterior(setup):
    model, x, g = setup
    post = E.posterior(model, x)  # p(x, z) / p(z|x) = p(x): every weight is the evidence
    L = E.iw_bound(model, x, post.mu, post.cov, 3, generator=g, repeats=2)
    assert torch.allclose(L, E.log_evidence(model, x).expand(2, -1), atol=1e-9)


def test_iw_bound_exceeds_log_evidence_on_some_single_draws(setup):
    model, x, g = setup
    mu, cov = torch.zeros(x.shape[0], 2, dtype=F64), torch.eye(2, dtype=F64)
    L = E.iw_bound(model, x, mu, cov, 10, generator=g, repeats=50)
    assert (L > E.log_evidence(model, x)).any()  # a bound in expectation, not per draw


def test_sample_has_the_model_moments():
    g = torch.Generator().manual_seed(3)
    model = E.random_model(3, 2, generator=g)
    x, z = E.sample(model, 200_000, generator=g)
    assert x.shape == (200_000, 3) and z.shape == (200_000, 2) and x.dtype == F64
    assert torch.allclose(x.mean(0), model.b, atol=0.03)
    C = model.W @ model.W.T + torch.diag(model.psi)
    assert torch.allclose(torch.cov(x.T), C, atol=0.05 * C.abs().max().item())
    again = E.sample(model, 5, generator=torch.Generator().manual_seed(9)).x
    assert torch.equal(again, E.sample(model, 5, generator=torch.Generator().manual_seed(9)).x)


@pytest.mark.parametrize("diagonal", [False, True])
def test_training_the_encoder_closes_the_gap(diagonal):
    # columns of W nearly parallel: the posterior's two coordinates are strongly correlated
    model = E.LinearGaussian([[2, 1.8], [1, 1.2], [0.5, 0.3], [1, 0.8], [0.3, 0.5]], [0.0] * 5, 0.5)
    x = E.sample(model, 40, generator=torch.Generator().manual_seed(0)).x
    fit = E.train_encoder(model, x, diagonal=diagonal, steps=300, lr=0.1, progress=False)
    assert fit.gap.shape == (301,)
    post = E.posterior(model, x)
    assert math.isclose(
        fit.gap[0].item(),
        E.kl_to_posterior(model, x, torch.zeros_like(post.mu), torch.eye(2, dtype=F64))
        .mean()
        .item(),
    )  # it starts at q = p(z)
    precision = torch.linalg.inv(post.cov)
    # a diagonal q can do no better than KL(N(mu_post, diag(1/Lambda_ii)) || p(z|x))
    floor = 0.5 * (precision.diagonal().log().sum() - torch.logdet(precision)).item()
    assert fit.gap[-1] < 1e-3 * fit.gap[0] + (floor if diagonal else 0) + 1e-3
    assert fit.gap[-1] >= (floor - 1e-9 if diagonal else -1e-9)
    mu, cov = fit.encoder(x)
    assert torch.allclose(mu, post.mu, atol=0.05)
    if diagonal:  # mode-seeking: the variances of the best diagonal q are 1/Lambda_ii
        assert torch.allclose(cov.diagonal(), 1 / precision.diagonal(), rtol=0.01)
        assert (cov.diagonal() < 0.5 * post.cov.diagonal()).all()  # far too narrow
        assert floor > 0.5


# ----------------------------------------------------------------------------- error paths


def test_model_rejects_bad_parameters():
    with pytest.raises(ValueError, match="W must be"):
        E.LinearGaussian(torch.ones(3), torch.zeros(3), 1.0)
    with pytest.raises(ValueError, match="b must have shape"):
        E.LinearGaussian(torch.ones(3, 1), torch.zeros(2), 1.0)
    with pytest.raises(ValueError, match="psi must be positive"):
        E.LinearGaussian(torch.ones(3, 1), torch.zeros(3), torch.tensor([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="psi must be positive"):
        E.LinearGaussian(torch.ones(3, 1), torch.zeros(3), torch.ones(2))
    with pytest.raises(ValueError, match="nan or inf"):
        E.LinearGaussian(torch.tensor([[math.nan]]), torch.zeros(1), 1.0)
    with pytest.raises(TypeError, match="W must be a tensor"):
        E.LinearGaussian("W", torch.zeros(1), 1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x_dim": 0, "z_dim": 1}, "x_dim must be"),
        ({"x_dim": 2, "z_dim": 1.5}, "z_dim must be"),
        ({"x_dim": 2, "z_dim": 1, "noise": 0.0}, "noise must be"),
    ],
)
def test_random_model_rejects_bad_sizes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        E.random_model(**kwargs, generator=torch.Generator())


def test_generators_are_required(setup):
    model, x, _ = setup
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        E.random_model(2, 1, generator=0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        E.sample(model, 3, generator=None)
    with pytest.raises(ValueError, match="n must be"):
        E.sample(model, 0, generator=torch.Generator())
    mu, cov = torch.zeros(x.shape[0], 2), torch.eye(2)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        E.iw_bound(model, x, mu, cov, 2, generator=1)


def test_x_and_q_are_checked(setup):
    model, x, _ = setup
    with pytest.raises(TypeError, match="model must be a LinearGaussian"):
        E.log_evidence("model", x)
    with pytest.raises(ValueError, match=r"x must have shape \(N, d\) = \(N, 5\)"):
        E.log_evidence(model, x[0])
    with pytest.raises(ValueError, match=r"x must have shape"):
        E.posterior(model, x[:, :3])
    with pytest.raises(ValueError, match="x contains nan"):
        E.log_evidence(model, torch.full((2, 5), math.nan))
    mu, cov = torch.zeros(x.shape[0], 2), torch.eye(2)
    with pytest.raises(ValueError, match="mu must have shape"):
        E.gaussian_elbo(model, x, mu[:3], cov)
    with pytest.raises(ValueError, match="cov must have shape"):
        E.gaussian_elbo(model, x, mu, torch.ones(2))
    with pytest.raises(ValueError, match="symmetric positive definite"):
        E.kl_to_posterior(model, x, mu, torch.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="symmetric positive definite"):
        E.gaussian_elbo(model, x, mu, torch.tensor([[1.0, 0.5], [0.0, 1.0]]))


def test_iw_bound_and_training_check_their_counts(setup):
    model, x, g = setup
    mu, cov = torch.zeros(x.shape[0], 2), torch.eye(2)
    with pytest.raises(ValueError, match="k must be a positive int"):
        E.iw_bound(model, x, mu, cov, 0, generator=g)
    with pytest.raises(ValueError, match="repeats must be a positive int"):
        E.iw_bound(model, x, mu, cov, 1, generator=g, repeats=2.0)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        E.train_encoder(model, x, diagonal=True, steps=0)
    with pytest.raises(ValueError, match="lr must be a positive"):
        E.train_encoder(model, x, diagonal=True, lr=-1.0)
