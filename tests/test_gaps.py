"""The inference gaps of lesson 11 (vaelib.gaps), checked where every term is exact: the
linear-Gaussian model of lesson 04."""

from __future__ import annotations

import pytest
import torch

from vaelib import gaps
from vaelib import linear_gaussian as lg
from vaelib.models import VAE

F64 = torch.float64


@pytest.fixture(scope="module")
def problem():
    g = torch.Generator().manual_seed(4)
    model = lg.random_model(6, 3, generator=g)
    x = lg.sample(model, 40, generator=g).x
    fit = lg.train_encoder(model, x, diagonal=True, steps=30, lr=0.05, progress=False)
    with torch.no_grad():
        mu, cov = fit.encoder(x)
    return model, x, mu, cov.diagonal().log().expand_as(mu).clone()


def test_the_closed_form_optimum_beats_every_nearby_diagonal_q(problem):
    model, x, _, _ = problem
    elbo = gaps.linear_gaussian_elbo(model)
    mu, logvar = lg.optimal_diagonal_q(model, x)
    best = elbo(x, mu, logvar)
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        d_mu = 0.05 * torch.randn(mu.shape, generator=g, dtype=F64)
        d_lv = 0.05 * torch.randn(mu.shape, generator=g, dtype=F64)
        assert (elbo(x, mu + d_mu, logvar + d_lv) < best).all()
    post = lg.posterior(model, x)
    assert (logvar.exp()[0] < post.cov.diagonal()).all()  # 1/Lambda_dd, not diag(Sigma_post)


def test_refinement_reaches_the_optimal_diagonal_q_and_the_exact_gaps(problem):
    model, x, mu0, logvar0 = problem
    elbo = gaps.linear_gaussian_elbo(model)
    refined = gaps.refine(
        lambda m, lv: elbo(x, m, lv), mu0, logvar0, steps=600, lr=0.05, progress=False
    )
    mu_star, logvar_star = lg.optimal_diagonal_q(model, x)
    torch.testing.assert_close(refined.mu, mu_star, atol=1e-4, rtol=0)
    torch.testing.assert_close(refined.logvar, logvar_star, atol=1e-4, rtol=0)
    assert refined.history[-1] > refined.history[0]
    log_px = lg.log_evidence(model, x)
    found = gaps.inference_gaps(log_px, elbo(x, refined.mu, refined.logvar), elbo(x, mu0, logvar0))
    exact = gaps.inference_gaps(log_px, elbo(x, mu_star, logvar_star), elbo(x, mu0, logvar0))
    for name in ("amortization", "approximation", "total"):
        assert abs(found[name].mean - exact[name].mean) < 1e-6
    assert exact["amortization"].mean > 0.1  # the briefly trained encoder leaves a gap
    kl = lg.kl_to_posterior(model, x, mu_star, torch.diag_embed(logvar_star.exp()))
    assert abs(exact["approximation"].mean - kl.mean().item()) < 1e-9  # = KL(q* || p(z|x))


def test_vae_refinement_raises_the_elbo_and_iwae_takes_any_proposal():
    torch.manual_seed(0)
    model = VAE(latent_dim=3, hidden=(16,))
    x = torch.bernoulli(torch.full((4, 1, 28, 28), 0.3))
    g = torch.Generator().manual_seed(0)
    refined = gaps.refine_posterior(model, x, steps=60, lr=0.05, samples=4, generator=g,
                                    progress=False)  # fmt: skip
    with torch.no_grad():
        mu, logvar = model.encode(x)
        before = gaps.mc_elbo(model, x, mu, logvar, 500, g)
        after = gaps.mc_elbo(model, x, refined.mu, refined.logvar, 500, g)
    assert (after > before).all()
    from vaelib import evaluate

    ll = evaluate.iwae_log_likelihood(model, x, 50, q=(refined.mu, refined.logvar), generator=g)
    assert ll.shape == (4,) and (ll > after - 1).all()


def test_bad_inputs_are_named():
    t = torch.zeros(3)
    with pytest.raises(ValueError, match="log_px"):
        gaps.inference_gaps(torch.zeros(4), t, t)
    with pytest.raises(ValueError, match="steps"):
        gaps.refine(lambda m, lv: m.sum(1), torch.zeros(2, 2), torch.zeros(2, 2), steps=0)
