"""vaelib.reparam: sample moments, analytic gradients, both estimators against known answers."""

from __future__ import annotations

import math

import pytest
import torch
from torch import distributions as D

from vaelib import reparam

F64 = torch.float64


def z2(z: torch.Tensor) -> torch.Tensor:
    """f(z) = sum_j z_j^2, one value per sample."""
    return z.pow(2).sum(-1)


# ----------------------------------------------------------------------------- reparameterize


@pytest.mark.parametrize("shape", [(3,), (4, 5), (2, 3, 2)])
def test_reparameterize_keeps_shape_dtype_and_is_reproducible(shape):
    mu, logvar = torch.zeros(shape, dtype=F64), torch.zeros(shape, dtype=F64)
    z1 = reparam.reparameterize(mu, logvar, torch.Generator().manual_seed(1))
    z2_ = reparam.reparameterize(mu, logvar, torch.Generator().manual_seed(1))
    assert z1.shape == shape and z1.dtype == F64
    assert torch.equal(z1, z2_)
    eps = torch.randn(shape, generator=torch.Generator().manual_seed(1), dtype=F64)
    assert torch.equal(z1, eps)  # mu = 0, sigma = 1: z is eps itself


def test_reparameterize_sample_mean_and_variance():
    n = 200_000
    mu = torch.tensor([-1.0, 0.0, 2.5], dtype=F64).expand(n, 3)
    sigma = torch.tensor([0.3, 1.0, 2.0], dtype=F64)
    z = reparam.reparameterize(mu, (2 * sigma.log()).expand(n, 3), torch.Generator().manual_seed(0))
    se_mean = sigma / math.sqrt(n)
    se_var = sigma.pow(2) * math.sqrt(2 / (n - 1))  # standard error of a Gaussian sample variance
    assert ((z.mean(0) - mu[0]).abs() < 4 * se_mean).all()
    assert ((z.var(0) - sigma.pow(2)).abs() < 4 * se_var).all()


def test_reparameterize_gradients_match_the_analytic_ones():
    g = torch.Generator().manual_seed(3)
    mu = torch.randn(6, 4, generator=g, dtype=F64).requires_grad_(True)
    logvar = torch.randn(6, 4, generator=g, dtype=F64).requires_grad_(True)
    z = reparam.reparameterize(mu, logvar, torch.Generator().manual_seed(4))
    z.pow(2).sum().backward()  # d/dz z^2 = 2z
    eps = (z - mu) / (0.5 * logvar).exp()
    torch.testing.assert_close(mu.grad, 2 * z.detach())  # dz/dmu = 1
    sigma = (0.5 * logvar).exp()
    torch.testing.assert_close(logvar.grad, (2 * z * 0.5 * sigma * eps).detach())
    torch.testing.assert_close(logvar.grad, (z * (z - mu)).detach())  # 0.5 sigma eps = (z-mu)/2


def test_reparameterize_matches_rsample_of_torch_distributions():
    mu, logvar = torch.tensor([0.5, -2.0]), torch.tensor([0.2, -1.0])
    ours = reparam.reparameterize(mu, logvar, torch.Generator().manual_seed(5))
    torch.manual_seed(5)  # rsample draws eps from the global generator
    ref = D.Normal(mu, (0.5 * logvar).exp()).rsample()
    torch.testing.assert_close(ours, ref)


def test_reparameterize_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="mu has shape .* logvar has shape"):
        reparam.reparameterize(torch.zeros(4, 2), torch.zeros(4, 3))


def test_reparameterize_rejects_integer_tensors():
    with pytest.raises(ValueError, match="mu must be a floating-point tensor"):
        reparam.reparameterize(torch.zeros(3, dtype=torch.long), torch.zeros(3))


# ----------------------------------------------------------------------------- estimators

ESTIMATORS = [reparam.score_function_gradient, reparam.pathwise_gradient]


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("mu0, sigma0", [(0.0, 1.0), (2.0, 0.5), (-1.0, 1.5)])
def test_estimators_are_unbiased_for_z_squared(estimator, mu0, sigma0):
    mu, sigma = torch.tensor([mu0], dtype=F64), torch.tensor([sigma0], dtype=F64)
    est = estimator(z2, mu, sigma, 50_000, torch.Generator().manual_seed(7))
    exact = torch.tensor([[2 * mu0], [2 * sigma0]], dtype=F64)  # d/dmu, d/dsigma of mu^2 + sigma^2
    assert est.grad.shape == (2, 1) and est.stderr.shape == (2, 1)
    assert est.per_sample.shape == (2, 50_000, 1)
    assert ((est.grad - exact).abs() < 4 * est.stderr).all()


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_estimators_on_a_batch_of_independent_problems(estimator):
    g = torch.Generator().manual_seed(8)
    mu = torch.randn(5, 3, generator=g, dtype=F64)
    sigma = torch.rand(5, 3, generator=g, dtype=F64) + 0.5
    f = lambda z: (z.pow(2) + 3 * z).sum(-1)  # noqa: E731 - d/dmu = 2 mu + 3, d/dsigma = 2 sigma
    est = estimator(f, mu, sigma, 40_000, g)
    exact = torch.stack([2 * mu + 3, 2 * sigma])
    assert est.grad.shape == (2, 5, 3)
    assert ((est.grad - exact).abs() < 4.5 * est.stderr).all()  # 30 checks: a little slack


def test_estimators_are_exact_where_they_should_be():
    mu, sigma = torch.tensor([1.5], dtype=F64), torch.tensor([0.7], dtype=F64)
    g = torch.Generator().manual_seed(9)
    # f(z) = z: the pathwise per-sample gradient is exactly (1, eps), d/dmu with zero variance
    est = reparam.pathwise_gradient(lambda z: z.sum(-1), mu, sigma, 100, g)
    assert torch.equal(est.per_sample[0], torch.ones(100, 1, dtype=F64))
    # a constant f: the true gradient is 0, and the pathwise estimate is exactly 0
    est = reparam.pathwise_gradient(lambda z: torch.ones(z.shape[:-1]), mu, sigma, 100, g)
    assert torch.equal(est.grad, torch.zeros(2, 1, dtype=F64))


def test_score_function_matches_autograd_of_log_prob():
    mu, sigma = torch.tensor([0.3], dtype=F64), torch.tensor([1.7], dtype=F64)
    est = reparam.score_function_gradient(
        lambda z: torch.ones(z.shape[:-1], dtype=F64),
        mu,
        sigma,
        10,
        torch.Generator().manual_seed(1),
    )  # f = 1: per-sample values are the score itself
    eps = torch.randn(10, 1, generator=torch.Generator().manual_seed(1), dtype=F64)
    z = mu + sigma * eps
    m, s = mu.clone().requires_grad_(True), sigma.clone().requires_grad_(True)
    for i in range(10):
        d_mu, d_sigma = torch.autograd.grad(D.Normal(m, s).log_prob(z[i]).sum(), (m, s))
        torch.testing.assert_close(est.per_sample[:, i], torch.stack([d_mu, d_sigma]))


def test_score_function_handles_a_step_function_where_pathwise_cannot():
    mu, sigma = torch.tensor([0.4], dtype=F64), torch.tensor([1.0], dtype=F64)
    step = lambda z: (z > 0).to(z.dtype).sum(-1)  # noqa: E731 - E[f] = P(z > 0) = Phi(mu/sigma)
    exact = math.exp(-0.5 * 0.4**2) / math.sqrt(2 * math.pi)  # d/dmu Phi(mu) = phi(mu)
    est = reparam.score_function_gradient(
        step, mu, sigma, 100_000, torch.Generator().manual_seed(2)
    )
    assert abs(est.grad[0, 0].item() - exact) < 4 * est.stderr[0, 0].item()
    path = reparam.pathwise_gradient(step, mu, sigma, 1000, torch.Generator().manual_seed(2))
    assert torch.equal(path.grad, torch.zeros(2, 1, dtype=F64))  # no gradient through a step


@pytest.mark.parametrize("mu0, sigma0", [(0.0, 1.0), (2.0, 0.5), (-1.0, 1.5)])
def test_z2_gradient_variance_matches_measured_per_sample_variances(mu0, sigma0):
    mu, sigma = torch.tensor([mu0], dtype=F64), torch.tensor([sigma0], dtype=F64)
    theory = reparam.z2_gradient_variance(mu, sigma)
    g = torch.Generator().manual_seed(11)
    for name, estimator in (("score", ESTIMATORS[0]), ("pathwise", ESTIMATORS[1])):
        measured = estimator(z2, mu, sigma, 400_000, g).per_sample.var(1)
        torch.testing.assert_close(measured, theory[name], rtol=0.05, atol=0.0)


def test_z2_gradient_variance_known_values():
    v = reparam.z2_gradient_variance(torch.tensor(0.0, dtype=F64), torch.tensor(1.0, dtype=F64))
    # mu = 0, sigma = 1: Var[z^3] = E z^6 = 15, Var[z^4 - z^2] = 105 - 30 + 3 - 4 = 74,
    # Var[2z] = 4, Var[2 z^2] = 4 * 2 = 8
    assert v["score"].tolist() == [15.0, 74.0] and v["pathwise"].tolist() == [4.0, 8.0]


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_estimators_reject_bad_input(estimator):
    one = torch.ones(1)
    with pytest.raises(ValueError, match="mu has shape .* sigma has shape"):
        estimator(z2, torch.zeros(2), torch.ones(3), 10)
    with pytest.raises(ValueError, match="sigma must be positive"):
        estimator(z2, one, -one, 10)
    with pytest.raises(ValueError, match="mu contains nan or inf"):
        estimator(z2, torch.tensor([math.nan]), one, 10)
    with pytest.raises(ValueError, match="sigma contains nan or inf"):
        estimator(z2, one, torch.tensor([math.inf]), 10)
    with pytest.raises(ValueError, match="n must be an int >= 2"):
        estimator(z2, one, one, 1)
    with pytest.raises(ValueError, match="mu is a scalar"):
        estimator(z2, torch.tensor(0.0), torch.tensor(1.0), 10)
    with pytest.raises(ValueError, match="f must map z"):
        estimator(lambda z: z.pow(2), torch.zeros(2), torch.ones(2), 10)  # forgot .sum(-1)


# ----------------------------------------------------------------------------- fit_gaussian


def test_fit_gaussian_converges_to_a_gaussian_target():
    target = D.Normal(torch.tensor([3.0, -1.0]), torch.tensor([0.5, 2.0]))
    hist = reparam.fit_gaussian(
        lambda z: target.log_prob(z).sum(-1),
        torch.zeros(2),
        torch.zeros(2),
        steps=600,
        lr=0.05,
        generator=torch.Generator().manual_seed(0),
    )
    assert hist.mu.shape == (601, 2) and hist.loss.shape == (600,)
    torch.testing.assert_close(hist.mu[-50:].mean(0), target.loc, atol=0.1, rtol=0)
    torch.testing.assert_close(hist.sigma[-50:].mean(0), target.scale, rtol=0.1, atol=0)
    assert hist.loss[-50:].mean() < 0.05  # the loss is KL(q || p) >= 0, here near 0


def test_fit_gaussian_rejects_bad_input():
    log_p = lambda z: -z.pow(2).sum(-1)  # noqa: E731
    with pytest.raises(ValueError, match="steps must be a positive int"):
        reparam.fit_gaussian(log_p, torch.zeros(1), torch.zeros(1), steps=0)
    with pytest.raises(ValueError, match="n_samples must be a positive int"):
        reparam.fit_gaussian(log_p, torch.zeros(1), torch.zeros(1), steps=5, n_samples=0)
    with pytest.raises(ValueError, match=r"mu must have shape \(D,\)"):
        reparam.fit_gaussian(log_p, torch.zeros(2, 1), torch.zeros(2, 1), steps=5)
    with pytest.raises(ValueError, match="mu has shape .* logvar has shape"):
        reparam.fit_gaussian(log_p, torch.zeros(2), torch.zeros(3), steps=5)
