"""vaelib.holes: the one prior-hole measure, on known mixtures and on a small VAE."""

from __future__ import annotations

import math

import pytest
import torch

from vaelib import holes
from vaelib.densities import log_normal_diag
from vaelib.models import VAE


def test_aggregate_posterior_is_the_mean_of_the_posteriors():
    mu, logvar = torch.tensor([[0.0, 0.0], [3.0, 1.0]]), torch.tensor([[0.0, 0.0], [-1.0, 0.0]])
    z = torch.randn(6, 2)
    expected = torch.log(0.5 * log_normal_diag(z[:, None], mu, logvar).exp().sum(1))
    got = holes.aggregate_posterior_log_prob(z, mu, logvar, chunk=4)
    torch.testing.assert_close(got, expected)


def _two_clusters(g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    mu = torch.cat(
        [torch.randn(500, 2, generator=g) * 0.3 - 2, torch.randn(500, 2, generator=g) * 0.3 + 2]
    )
    return mu, torch.full_like(mu, math.log(0.1))


def test_prior_equal_to_q_scores_the_quantile_and_n01_falls_into_the_gap():
    g = torch.Generator().manual_seed(0)
    mu, logvar = _two_clusters(g)

    def draws_of_q(n: int) -> torch.Tensor:
        idx = torch.randint(1000, (n,), generator=g)
        return mu[idx] + math.sqrt(0.1) * torch.randn(n, 2, generator=g)

    z_data = draws_of_q(4000)
    same = holes.prior_holes(draws_of_q(4000), z_data, mu, logvar)  # a prior equal to q(z)
    assert same.expected == holes.QUANTILE == 0.05
    assert same.fraction == pytest.approx(0.05, abs=0.015)
    assert same.in_hole.shape == (4000,) and same.in_hole.dtype == torch.bool
    # N(0, I) puts much of its mass between the two clusters, where no code lies
    gap = holes.prior_holes(torch.randn(4000, 2, generator=g), z_data, mu, logvar)
    assert gap.fraction > 0.3
    assert gap.threshold == same.threshold  # the threshold depends on the data, not the prior
    assert bool(gap.in_holes(torch.zeros(1, 2))) and not bool(gap.in_holes(torch.full((1, 2), 2.0)))


def test_prior_holes_errors():
    mu, logvar = torch.zeros(5, 2), torch.zeros(5, 2)
    with pytest.raises(ValueError, match="quantile must lie"):
        holes.prior_holes(torch.zeros(3, 2), torch.zeros(4, 2), mu, logvar, 1.5)
    with pytest.raises(ValueError, match="z_prior has 3 dimensions"):
        holes.prior_holes(torch.zeros(3, 3), torch.zeros(4, 2), mu, logvar)
    with pytest.raises(ValueError, match=r"must both have shape \(N, D\)"):
        holes.prior_holes(torch.zeros(3, 2), torch.zeros(4, 2), mu, logvar[:, :1])


def test_measure_prior_holes_uses_two_disjoint_training_subsets():
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=(16,))
    images = torch.randint(0, 256, (40, 1, 28, 28), dtype=torch.uint8)
    z_prior = torch.randn(50, 2, generator=torch.Generator().manual_seed(1))
    h = holes.measure_prior_holes(model, z_prior, images, n_reference=10, n_threshold=10, seed=3)
    assert h.mu.shape == h.logvar.shape == (10, 2) and h.in_hole.shape == (50,)
    order = torch.randperm(40, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        mu_ref, _ = model.encode(images[order[:10]].float() / 255)
    torch.testing.assert_close(h.mu, mu_ref)  # the reference set: the permutation's first 10
    again = holes.measure_prior_holes(
        model, z_prior, images, n_reference=10, n_threshold=10, seed=3
    )
    assert again.fraction == h.fraction  # seeded: the same subsets, the same draws
    halves = holes.measure_prior_holes(model, z_prior, images[:9])  # fewer than asked: halves
    assert halves.mu.shape == (4, 2)
