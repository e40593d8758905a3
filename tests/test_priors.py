"""vaelib.priors: log-densities against torch.distributions and scikit-learn, and sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.mixture import GaussianMixture
from torch import distributions as D

from vaelib.priors import MixturePrior, StandardNormalPrior, VampPrior


def test_standard_normal_prior_is_n01():
    prior = StandardNormalPrior(3)
    z = torch.randn(5, 3)
    torch.testing.assert_close(prior.log_prob(z), D.Normal(0.0, 1.0).log_prob(z).sum(1))
    s = prior.sample(20_000, torch.Generator().manual_seed(0))
    assert s.shape == (20_000, 3)
    torch.testing.assert_close(s.mean(0), torch.zeros(3), atol=0.03, rtol=0)
    with pytest.raises(ValueError, match=r"z must have shape \(N, 3\)"):
        prior.log_prob(torch.randn(5, 2))
    with pytest.raises(ValueError, match="n must be a positive int"):
        prior.sample(0)


def _mixture() -> MixturePrior:
    prior = MixturePrior(3, 2, seed=1)
    with torch.no_grad():
        prior.weight_logits.copy_(torch.tensor([0.0, 1.0, -1.0]))
        prior.means.copy_(torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, -4.0]]))
        prior.logvars.copy_(torch.tensor([[0.0, 0.0], [-1.0, 0.5], [0.2, -0.3]]))
    return prior


def test_mixture_log_prob_is_the_mixture_density():
    prior = _mixture()
    ref = D.MixtureSameFamily(
        D.Categorical(logits=prior.weight_logits.detach()),
        D.Independent(D.Normal(prior.means.detach(), torch.exp(0.5 * prior.logvars.detach())), 1),
    )
    z = torch.randn(7, 2) * 3
    torch.testing.assert_close(prior.log_prob(z), ref.log_prob(z))
    torch.testing.assert_close(prior.weights.sum(), torch.tensor(1.0))
    s = prior.sample(50_000, torch.Generator().manual_seed(0))
    expected_mean = (prior.weights[:, None] * prior.means).sum(0).detach()
    torch.testing.assert_close(s.mean(0), expected_mean, atol=0.05, rtol=0)
    prior.log_prob(z).sum().backward()  # learnable: every parameter gets a gradient
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in prior.parameters())


def test_mixture_from_a_fitted_diag_gmm_has_its_density():
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(-3, 1, (300, 2)), rng.normal(3, 0.5, (300, 2))])
    gmm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(z)
    prior = MixturePrior.from_gmm(gmm)
    np.testing.assert_allclose(
        prior.log_prob(torch.from_numpy(z).float()).detach().numpy(),
        gmm.score_samples(z),
        rtol=1e-4,
    )
    full = GaussianMixture(2, covariance_type="full", random_state=0).fit(z)
    with pytest.raises(ValueError, match="covariance_type='diag'"):
        MixturePrior.from_gmm(full)


def test_vamp_prior_is_the_mean_of_the_encoders_posteriors():
    mu = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    logvar = torch.tensor([[0.0, 0.5], [-0.5, 0.0]])
    calls = []

    def encode(u):
        calls.append(u)
        return mu + 0 * u.sum(), logvar  # depends on u only for the gradient check

    prior = VampPrior(encode, 2, image_shape=(1, 3, 3))
    z = torch.randn(4, 2)
    expected = torch.log(
        torch.stack([D.Normal(mu[k], torch.exp(0.5 * logvar[k])).log_prob(z).sum(1).exp()
                     for k in range(2)]).mean(0)
    )  # fmt: skip
    torch.testing.assert_close(prior.log_prob(z), expected)
    assert calls[0].min() >= 0 and calls[0].max() <= 1  # pseudo-inputs are images in [0, 1]
    assert prior.sample(10, torch.Generator().manual_seed(0)).shape == (10, 2)
    assert [name for name, _ in prior.named_parameters()] == ["pseudo_logits"]
    with pytest.raises(TypeError, match="encode must be"):
        VampPrior(None, 2)
