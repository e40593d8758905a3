"""vaelib.collapse (per-dimension KL, activity, Burda et al.'s active units) and the losses that
fight collapse (vaelib.losses: warm-up of beta, ELBOLoss)."""

from __future__ import annotations

import math

import pytest
import torch

from vaelib.collapse import active_units, activity, kl_per_dimension
from vaelib.kl import kl_gaussian
from vaelib.losses import ELBOLoss, beta_warmup
from vaelib.models import VAE
from vaelib.priors import MixturePrior, StandardNormalPrior
from vaelib.train import train


def test_kl_per_dimension_known_values_and_sum():
    mu = torch.tensor([[2.0, 0.0, 0.0], [2.0, 0.0, 1.0]])
    logvar = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    torch.testing.assert_close(kl_per_dimension(mu, logvar), torch.tensor([2.0, 0.0, 0.25]))
    mu, logvar = torch.randn(10, 4), torch.randn(10, 4)
    torch.testing.assert_close(kl_per_dimension(mu, logvar).sum(), kl_gaussian(mu, logvar).mean())
    with pytest.raises(ValueError, match=r"must both have shape \(N, D\)"):
        kl_per_dimension(mu, logvar[:, :2])


def test_activity_and_active_units():
    mu = torch.stack([torch.tensor([0.0, 1.0, -1.0, 3.0]), torch.tensor([0.05, 1.0, 1.0, -3.0])], 1)
    # dims: (0, 0.05) var 0.00125; (1, 1) var 0; (-1, 1) var 2; (3, -3) var 18
    a = activity(mu.T)
    torch.testing.assert_close(a, torch.tensor([0.00125, 0.0, 2.0, 18.0]))
    assert active_units(mu.T) == 2 and active_units(mu.T, threshold=1e-3) == 3
    with pytest.raises(ValueError, match="threshold must be a positive number"):
        active_units(mu.T, 0.0)
    with pytest.raises(ValueError, match=r"mu must have shape \(N, D\)"):
        active_units(a)  # the activities (D,), not the means (N, D)
    with pytest.raises(ValueError, match="N >= 2"):
        activity(torch.zeros(1, 3))


def test_active_units_by_hand_as_burda_a_fixed_mean_with_another_variance_is_not_active():
    # 2 images, 2 dimensions. Dimension 0: mu = -1, +1 -> Var = ((-1)^2 + 1^2) / (2 - 1) = 2.
    # Dimension 1: mu = 0.5 for both images (it never moves) -> Var = 0, but its variance is
    # exp(logvar) = 0.5, not the prior's 1, so its KL_1 = 0.5 (0.25 + 0.5 - 1 - log 0.5) = 0.2216.
    mu = torch.tensor([[-1.0, 0.5], [1.0, 0.5]])
    logvar = torch.log(torch.tensor([[1.0, 0.5], [1.0, 0.5]]))
    torch.testing.assert_close(activity(mu), torch.tensor([2.0, 0.0]))
    kl_d = kl_per_dimension(mu, logvar)  # dimension 0: 0.5 * mu^2 = 0.5 for each image
    torch.testing.assert_close(kl_d, torch.tensor([0.5, 0.5 * (0.25 + 0.5 - 1 - math.log(0.5))]))
    assert float(kl_d[1]) > 0.2  # it costs nats ...
    assert active_units(mu) == 1  # ... and carries nothing about x: one active unit, not two
    assert int((kl_d > 0.01).sum()) == 2  # a KL count would say 2


def test_beta_warmup_is_linear_then_flat():
    assert [beta_warmup(t, 4, 2.0) for t in (0, 1, 2, 4, 10)] == [0.0, 0.5, 1.0, 2.0, 2.0]
    assert beta_warmup(0, 0, 3.0) == 3.0
    with pytest.raises(ValueError, match="step must be an int >= 0"):
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
    with pytest.raises(ValueError, match="beta must be a non-negative number"):
        ELBOLoss(-1.0)


def test_check_active_units(capsys):
    from vaelib import collapse
    from vaelib.exercises import collapse as ex

    def right(mu, logvar, threshold):
        return int((mu.var(0) > threshold).sum())

    def by_kl(mu, logvar, threshold):
        kl_d = (0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).mean(0)
        return int((kl_d > threshold).sum())

    assert ex.check_active_units(right)
    assert capsys.readouterr().out.startswith("Right:")
    assert not ex.check_active_units(by_kl)
    assert "KL_d" in capsys.readouterr().out
    assert not ex.check_active_units(lambda mu, logvar, t: mu.shape[1] - right(mu, logvar, t))
    assert "collapsed" in capsys.readouterr().out
    total = lambda mu, logvar, t: int(mu.var(0).sum() > t)  # noqa: E731
    assert not ex.check_active_units(total)
    assert "one value per dimension" in capsys.readouterr().out
    shortcut = lambda mu, logvar, t: collapse.active_units(mu, t)  # noqa: E731
    assert not ex.check_active_units(shortcut)
    assert "write it yourself" in capsys.readouterr().out
    assert not ex.check_active_units(lambda mu, logvar, t: None)
    assert "returns None" in capsys.readouterr().out
