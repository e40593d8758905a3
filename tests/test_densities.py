"""vaelib.densities: the Gaussian log-densities, by hand and against torch.distributions."""

from __future__ import annotations

import math

import torch
from torch import distributions as D

from vaelib.densities import log_mixture_diag, log_normal_diag, log_standard_normal


def test_log_normal_diag_by_hand_and_against_torch():
    # 1-D, z = 1, mu = 0, var = e^0 = 1: -0.5 (1 + 0 + log 2 pi)
    got = log_normal_diag(torch.tensor([[1.0]]), torch.tensor([[0.0]]), torch.tensor([[0.0]]))
    assert math.isclose(float(got), -0.5 * (1 + math.log(2 * math.pi)), rel_tol=1e-6)
    # 2-D: z = (1, 2), mu = (0, 2), var = (4, 1): -0.5 (1/4 + log 4 + 0 + 0 + 2 log 2 pi)
    z, mu = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 2.0]])
    logvar = torch.log(torch.tensor([[4.0, 1.0]]))
    by_hand = -0.5 * (0.25 + math.log(4) + 2 * math.log(2 * math.pi))
    assert math.isclose(float(log_normal_diag(z, mu, logvar)), by_hand, rel_tol=1e-6)
    z, mu, logvar = torch.randn(7, 3, 4), torch.randn(3, 4), torch.randn(3, 4)
    ref = D.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    torch.testing.assert_close(log_normal_diag(z, mu, logvar), ref)  # broadcasts: (7, 3)


def test_log_standard_normal_is_log_normal_diag_at_zero():
    z = torch.randn(5, 3)
    zero = torch.zeros(3)
    torch.testing.assert_close(log_standard_normal(z), log_normal_diag(z, zero, zero))
    assert math.isclose(
        float(log_standard_normal(torch.zeros(1, 2))), -math.log(2 * math.pi), rel_tol=1e-6
    )


def test_log_mixture_diag_by_hand_and_against_torch():
    # two equal 1-D components at -1 and 1, unit variance, at z = 0: log N(0; 1, 1)
    means, logvars = torch.tensor([[-1.0], [1.0]]), torch.zeros(2, 1)
    log_w = torch.log(torch.tensor([0.5, 0.5]))
    got = log_mixture_diag(torch.zeros(1, 1), log_w, means, logvars)
    assert math.isclose(float(got), -0.5 * (1 + math.log(2 * math.pi)), rel_tol=1e-6)
    k, d = 4, 3
    logits, means, logvars = torch.randn(k), torch.randn(k, d), torch.randn(k, d)
    mix = D.MixtureSameFamily(
        D.Categorical(logits=logits),
        D.Independent(D.Normal(means, (0.5 * logvars).exp()), 1),
    )
    z = torch.randn(9, d)
    got = log_mixture_diag(z, torch.log_softmax(logits, 0), means, logvars)
    torch.testing.assert_close(got, mix.log_prob(z))
