"""vaelib.vq: nearest-code quantisation, the straight-through gradient, the two losses, codebook
use, and the priors over code indices."""

from __future__ import annotations

import math

import pytest
import torch

from vaelib import vq


def quantizer():
    q = vq.VectorQuantizer(n_codes=3, code_dim=2, beta=0.25)
    with torch.no_grad():
        q.codebook.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    q.initialised.fill_(True)  # a set codebook: no data-dependent start at the first batch
    return q


def test_nearest_code_picks_the_closest_entry():
    z_e = torch.tensor([[[0.1, -0.1], [0.9, 0.2], [0.2, 0.7]], [[5.0, 0.0], [0.0, 5.0], [-1, -1]]])
    codes = vq.nearest_code(z_e, quantizer().codebook)
    assert codes.tolist() == [[0, 1, 2], [1, 2, 0]]
    brute = torch.cdist(z_e.reshape(-1, 2), quantizer().codebook.detach()).argmin(1)
    torch.testing.assert_close(codes.flatten(), brute)


def test_forward_value_is_the_code_and_the_losses_are_the_squared_distance():
    q = quantizer()
    z_e = torch.tensor([[[0.1, -0.1], [0.9, 0.2]]])
    out = q(z_e)
    torch.testing.assert_close(out.z_st, torch.tensor([[[0.0, 0.0], [1.0, 0.0]]]))
    sq = 0.1**2 + 0.1**2 + 0.1**2 + 0.2**2
    torch.testing.assert_close(out.codebook_loss, torch.tensor([sq]))
    torch.testing.assert_close(out.commitment_loss, torch.tensor([0.25 * sq]))


def test_the_encoder_receives_the_decoders_gradient_unchanged():
    """Straight-through: d loss / d z_e (from the decoder's side) = d loss / d z_q."""
    q = quantizer()
    z_e = torch.tensor([[[0.1, -0.1], [0.9, 0.2], [0.2, 0.7]]], requires_grad=True)
    out = q(z_e)
    upstream = torch.randn(out.z_st.shape, generator=torch.Generator().manual_seed(0))
    (out.z_st * upstream).sum().backward()  # a "decoder" whose gradient at z_q is `upstream`
    torch.testing.assert_close(z_e.grad, upstream)
    assert q.codebook.grad is None  # the decoder's path does not move the codebook


def test_codebook_loss_moves_the_codes_and_commitment_moves_the_encoder():
    q = quantizer()
    z_e = torch.tensor([[[0.1, -0.1]]], requires_grad=True)
    out = q(z_e)
    out.codebook_loss.sum().backward()
    assert z_e.grad is None or torch.all(z_e.grad == 0)
    torch.testing.assert_close(q.codebook.grad[0], -2 * torch.tensor([0.1, -0.1]))
    q.codebook.grad = None
    z_e2 = torch.tensor([[[0.1, -0.1]]], requires_grad=True)
    q(z_e2).commitment_loss.sum().backward()
    torch.testing.assert_close(z_e2.grad[0, 0], 0.25 * 2 * torch.tensor([0.1, -0.1]))
    assert q.codebook.grad is None or torch.all(q.codebook.grad == 0)


def test_the_first_training_batch_seeds_the_codebook_once():
    torch.manual_seed(0)
    q = vq.VectorQuantizer(n_codes=4, code_dim=2)
    z_e = torch.randn(3, 5, 2)
    q(z_e)
    rows = z_e.reshape(-1, 2)
    for code in q.codebook.detach():  # every code is one of the batch's vectors
        assert torch.isclose(rows, code).all(1).any()
    assert bool(q.initialised)
    before = q.codebook.detach().clone()
    q(z_e + 10)  # later batches do not re-seed it
    torch.testing.assert_close(q.codebook.detach(), before)
    fresh = vq.VectorQuantizer(n_codes=4, code_dim=2)
    fresh.load_state_dict(q.state_dict())  # a trained codebook, loaded, is kept
    fresh(z_e + 10)
    torch.testing.assert_close(fresh.codebook.detach(), before)


def test_vqvae_shapes_and_loss_terms():
    torch.manual_seed(0)
    model = vq.VQVAE(n_positions=4, n_codes=8, code_dim=3, hidden=16)
    x = torch.rand(5, 1, 28, 28)
    logits, q = model(x)
    assert logits.shape == x.shape and q.codes.shape == (5, 4) and q.z_st.shape == (5, 4, 3)
    out = vq.vq_loss(model, x)
    torch.testing.assert_close(out["loss"], out["recon"] + out["codebook"] + out["commit"])
    assert model.decode_codes(q.codes).shape == x.shape
    assert vq.uniform_rate(model) == pytest.approx(4 * math.log(8))


def test_perplexity_and_dead_codes():
    codes = torch.tensor([[0, 1], [2, 3]])
    assert vq.perplexity(codes, 4) == pytest.approx(4.0)
    assert vq.dead_codes(codes, 6) == 2
    assert vq.perplexity(torch.zeros(3, 2, dtype=torch.long), 4) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"codes must lie in 0..3"):
        vq.perplexity(torch.tensor([[4]]), 4)
    with pytest.raises(ValueError, match=r"integer code indices"):
        vq.dead_codes(torch.rand(2, 2), 4)


def test_categorical_prior_counts_and_normalises():
    codes = torch.tensor([[0, 1], [0, 1], [1, 1], [0, 0]])
    prior = vq.CategoricalPrior(codes, 2, alpha=1.0)
    # position 0: counts (3, 1) -> (4/6, 2/6); position 1: counts (1, 3) -> (2/6, 4/6)
    expected = math.log(4 / 6) + math.log(4 / 6)
    assert prior.log_prob(torch.tensor([[0, 1]])).item() == pytest.approx(expected, rel=1e-6)
    every = torch.cartesian_prod(torch.arange(2), torch.arange(2))
    assert prior.log_prob(every).exp().sum().item() == pytest.approx(1.0, rel=1e-6)
    assert prior.sample(7, torch.Generator().manual_seed(0)).shape == (7, 2)


def test_autoregressive_prior_is_normalised_and_learns_a_dependency():
    torch.manual_seed(0)
    prior = vq.CodePrior(n_codes=3, n_positions=2, hidden=16, embed=8)
    every = torch.cartesian_prod(torch.arange(3), torch.arange(3))
    assert prior.log_prob(every).exp().sum().item() == pytest.approx(1.0, rel=1e-5)
    # data: c_2 = c_1, c_1 uniform: the best prior has log p = log(1/3) per sequence
    codes = torch.arange(3).repeat(100)[:, None].repeat(1, 2)
    opt = torch.optim.Adam(prior.parameters(), lr=0.05)
    for _ in range(100):
        opt.zero_grad()
        vq.code_prior_loss(prior, codes)["loss"].backward()
        opt.step()
    assert -prior.log_prob(codes).mean().item() < math.log(3) + 0.1  # independent: 2 log 3
    sample = prior.sample(50, torch.Generator().manual_seed(0))
    assert sample.shape == (50, 2) and (sample[:, 0] == sample[:, 1]).float().mean() > 0.9


def test_fit_code_prior_caches_under_the_codes_and_cache_false_saves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("VAELIB_CHECKPOINTS", str(tmp_path))
    codes = torch.arange(3).repeat(40)[:, None].repeat(1, 2)
    fit = dict(epochs=2, progress=False)
    vq.fit_code_prior(codes, 3, "code_prior_test", cache=False, **fit)
    assert not list(tmp_path.rglob("*.pt"))  # a benchmark's fit leaves no checkpoint
    first, _ = vq.fit_code_prior(codes, 3, "code_prior_test", **fit)
    (path,) = tmp_path.rglob("code_prior_test.pt")
    stamp = path.stat().st_mtime_ns
    loaded, _ = vq.fit_code_prior(codes, 3, "code_prior_test", **fit)
    assert path.stat().st_mtime_ns == stamp  # loaded, not retrained
    assert torch.equal(loaded.log_prob(codes), first.log_prob(codes))
    other, _ = vq.fit_code_prior(codes, 3, "code_prior_test", seed=1, **fit)  # seed is in meta
    assert not torch.equal(other.log_prob(codes), first.log_prob(codes))


def test_vq_elbo_adds_the_prior_to_the_likelihood():
    torch.manual_seed(0)
    model = vq.VQVAE(n_positions=2, n_codes=4, code_dim=3, hidden=16)
    x = torch.rand(3, 1, 28, 28)
    flat = vq.vq_elbo(model, x, lambda c: torch.full((len(c),), -2 * math.log(4)))
    with_zero = vq.vq_elbo(model, x, lambda c: torch.zeros(len(c)))
    torch.testing.assert_close(flat, with_zero - 2 * math.log(4))
