"""The self-checks of lesson 05 (vaelib.exercises.reparam): each accepts a right answer,
rejects typical wrong ones with a hint that names the mistake, and refuses the shortcut."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _solutions import load_solutions, verdict

from vaelib import reparam
from vaelib.exercises import reparam as ex
from vaelib.reparam import reparameterize as lib_reparameterize  # a global, as in a notebook


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("05_reparameterization_trick")


# ----------------------------------------------------------------------------- exercise 1
def test_variance_ratio_right_with_a_tolerance_and_any_scalar_type(capsys, solutions):
    verdict(capsys, ex.check_variance_ratio(solutions.variance_ratio), "Right:", "7.5")
    verdict(capsys, ex.check_variance_ratio(30 / 4 * (1 + 1e-9)), "Right:")  # rounding is fine
    verdict(capsys, ex.check_variance_ratio(np.float32(7.5)), "Right:")
    verdict(capsys, ex.check_variance_ratio(torch.tensor(7.5)), "Right:")


def test_variance_ratio_wrong_answers(capsys):
    verdict(capsys, ex.check_variance_ratio(4 / 30), "Not yet:", "on top")
    verdict(capsys, ex.check_variance_ratio(15 / 4), "Not yet:", "mu = 0")
    verdict(capsys, ex.check_variance_ratio(30.0), "Not yet:", "one of the two variances")
    assert not ex.check_variance_ratio(None)
    assert "No answer yet" in capsys.readouterr().out
    with pytest.raises(TypeError, match="answer"):
        ex.check_variance_ratio("7.5")


# ----------------------------------------------------------------------------- exercise 2
def test_score_mu_right_and_wrong(capsys, solutions):
    verdict(capsys, ex.check_score_mu(solutions.score_mu), "Right:", "phi(0.5)")
    verdict(capsys, ex.check_score_mu(lambda z, mu, sigma: (z - mu) / sigma), "Not yet:", "eps")
    verdict(capsys, ex.check_score_mu(lambda z, mu, sigma: (mu - z) / sigma**2), "Not yet:", "sign")
    verdict(capsys, ex.check_score_mu(lambda z, mu, sigma: (z - mu).sum()), "Not yet:", "shape")
    verdict(capsys, ex.check_score_mu(lambda z, mu, sigma: None), "No answer yet:", "returns None")
    assert not ex.check_score_mu(None)


def test_score_mu_has_no_vaelib_shortcut(capsys):
    # vaelib has no function for d/dmu log N; autograd through torch.distributions is a fair
    # way to write it, and is accepted:
    def with_autograd(z, mu, sigma):
        m = mu.clone().requires_grad_(True)
        lp = torch.distributions.Normal(m, sigma).log_prob(z).sum()
        return torch.autograd.grad(lp, m)[0]

    verdict(capsys, ex.check_score_mu(with_autograd), "Right:")


# ----------------------------------------------------------------------------- exercise 3
def test_reparameterize_right(capsys, solutions):
    verdict(capsys, ex.check_reparameterize(solutions.reparameterize), "Right:", "dz/dmu = 1")


def test_reparameterize_wrong_answers(capsys):
    def variance(mu, logvar, eps):
        return mu + torch.exp(logvar) * eps

    verdict(capsys, ex.check_reparameterize(variance), "Not yet:", "variance")

    def log_as_sigma(mu, logvar, eps):
        return mu + logvar * eps

    verdict(capsys, ex.check_reparameterize(log_as_sigma), "Not yet:", "not sigma")

    def detached(mu, logvar, eps):
        return (mu + torch.exp(0.5 * logvar) * eps).detach()

    verdict(capsys, ex.check_reparameterize(detached), "Not yet:", "no gradient")

    def sampled(mu, logvar, eps):  # torch.normal ignores eps: other values, zero gradients
        return torch.normal(mu, torch.exp(0.5 * logvar))

    verdict(capsys, ex.check_reparameterize(sampled), "Not yet:", "eps passed in")

    def no_sigma_gradient(mu, logvar, eps):
        return mu + torch.exp(0.5 * logvar).detach() * eps

    verdict(capsys, ex.check_reparameterize(no_sigma_gradient), "Not yet:", "gradients")


def test_reparameterize_refuses_the_library(capsys):
    def shortcut(mu, logvar, eps):
        return lib_reparameterize(mu, logvar)

    verdict(capsys, ex.check_reparameterize(shortcut), "Not yet:", "write it yourself")

    def via_module(mu, logvar, eps):
        return reparam.reparameterize(mu, logvar)

    verdict(capsys, ex.check_reparameterize(via_module), "Not yet:", "write it yourself")
    assert reparam.reparameterize is lib_reparameterize  # restored after the check
    assert not ex.check_reparameterize(None)


def test_passing_the_library_function_itself_is_not_accepted(capsys):
    verdict(capsys, ex.check_reparameterize(reparam.reparameterize), "Not yet:")
