"""vaelib.collapse: per-dimension KL, activity, active units, warm-up, and the ELBOLoss."""

from __future__ import annotations

import pytest
import torch

from vaelib.collapse import ELBOLoss, active_units, activity, beta_warmup, kl_per_dimension
from vaelib.kl import kl_gaussian
from vaelib.models import VAE
from vaelib.priors import MixturePrior, StandardNormalPrior
from vaelib.train import train


def test_kl_per_dimension_known_values_and_sum():
    mu = torch.tensor([[2.0, 0.0, 0.0], [2.0, 0.0, 1.0]])
    logvar = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    torch.testing.assert_close(kl_per_dimension(mu, logvar), torch.tensor([2.0, 0.0, 0.25]))
    mu, logvar = torch.randn(10, 4), torch.randn(10, 4)
    torch.testing.assert_close(kl_per_dimension(mu, logvar).sum(), kl_gaussian(mu, logvar).mean())
    with pytest.raises(ValueError, match=r"must both be \(N, D\)"):
        kl_per_dimension(mu, logvar[:, :2])


def test_activity_and_active_units():
    mu = torch.stack([torch.tensor([0.0, 1.0, -1.0, 3.0]), torch.tensor([0.05, 1.0, 1.0, -3.0])], 1)
    # dims: (0, 0.05) var 0.00125; (1, 1) var 0; (-1, 1) var 2; (3, -3) var 18
    a = activity(mu.T)
    torch.testing.assert_close(a, torch.tensor([0.00125, 0.0, 2.0, 18.0]))
    assert active_units(a) == 2 and active_units(a, threshold=1e-3) == 3
    with pytest.raises(ValueError, match="threshold must be positive"):
        active_units(a, 0.0)
    with pytest.raises(ValueError, match=r"values must be \(D,\)"):
        active_units(mu)
    with pytest.raises(ValueError, match="N >= 2"):
        activity(torch.zeros(1, 3))


def test_beta_warmup_is_linear_then_flat():
    assert [beta_warmup(t, 4, 2.0) for t in (0, 1, 2, 4, 10)] == [0.0, 0.5, 1.0, 2.0, 2.0]
    assert beta_warmup(0, 0, 3.0) == 3.0
    with pytest.raises(ValueError, match="must be >= 0"):
        beta_warmup(-1, 4)


def _tiny():
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=(16,), image_shape=(1, 4, 4))
    x = torch.bernoulli(torch.rand(32, 1, 4, 4, generator=torch.Generator().manual_seed(0)))
    return model, x


def test_elbo_loss_counts_training_steps_and_warms_up_beta():
    model, x = _tiny()
    loss_fn = ELBOLoss(2.0, warmup_steps=4)
    betas = [float(loss_fn(model, x)["beta"]) for _ in range(6)]
    assert betas == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]
    model.eval()
    loss_fn(model, x)  # evaluation does not advance the schedule
    assert loss_fn.step == 6
    terms = loss_fn(model, x)
    torch.testing.assert_close(terms["loss"], terms["recon"] + 2.0 * terms["kl"])
    assert loss_fn.recipe() == {"beta": 2.0, "free_bits": 0.0, "warmup_steps": 4, "prior": None}


def test_elbo_loss_with_n01_prior_estimates_the_closed_form_kl():
    model, x = _tiny()
    model.eval()
    x = x.repeat(500, 1, 1, 1)
    torch.manual_seed(1)
    with torch.no_grad():
        mc = ELBOLoss(prior=StandardNormalPrior(2))(model, x)["kl"]
        closed = ELBOLoss()(model, x)["kl"]
    assert float(mc) == pytest.approx(float(closed), rel=0.05, abs=0.01)


def test_elbo_loss_trains_an_attached_mixture_prior():
    model, x = _tiny()
    model.prior = MixturePrior(3, 2)
    before = model.prior.means.detach().clone()
    history = train(model, [x, x], ELBOLoss(prior=model.prior), epochs=2, progress=False)
    assert all(torch.isfinite(torch.tensor(v)).all() for v in history.values())
    assert not torch.equal(before, model.prior.means.detach())  # the optimiser moved the prior
    with pytest.raises(TypeError, match="prior must have log_prob"):
        ELBOLoss(prior=torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="must be >= 0"):
        ELBOLoss(-1.0)


def test_check_active_units(capsys):
    from vaelib import collapse
    from vaelib.exercises import collapse as ex

    def right(mu, logvar, threshold):
        kl_d = (0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).mean(0)
        return int((kl_d > threshold).sum())

    assert ex.check_active_units(right)
    assert capsys.readouterr().out.startswith("Right:")
    assert not ex.check_active_units(lambda mu, logvar, t: int((mu.var(0) > t).sum()))
    assert "Var mu_d" in capsys.readouterr().out
    assert not ex.check_active_units(lambda mu, logvar, t: mu.shape[1] - right(mu, logvar, t))
    assert "collapsed" in capsys.readouterr().out
    total = lambda mu, logvar, t: int((0.5 * (mu**2 + logvar.exp() - 1 - logvar)).sum(1).mean() > t)  # noqa: E731
    assert not ex.check_active_units(total)
    assert "one KL per dimension" in capsys.readouterr().out
    shortcut = lambda mu, logvar, t: collapse.active_units(collapse.kl_per_dimension(mu, logvar), t)  # noqa: E731
    assert not ex.check_active_units(shortcut)
    assert "write it yourself" in capsys.readouterr().out
    assert not ex.check_active_units(lambda mu, logvar, t: None)
    assert "returns None" in capsys.readouterr().out
