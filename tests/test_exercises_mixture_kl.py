"""Lesson 08, exercise 3 (vaelib.exercises.collapse.check_mixture_kl): the mixture prior's
one-sample Monte Carlo KL. Right answers (the solution; vaelib's own prior outside the check),
typical wrong ones with their hints, the refused shortcut, and the unanswered stub."""

from __future__ import annotations

import math

import pytest
import torch
from _solutions import load_solutions, verdict

from vaelib import priors
from vaelib.exercises import collapse as ex


@pytest.fixture(scope="module")
def solution():
    return load_solutions("08_beta_collapse_priors").mixture_kl


def log_normal(z, mean, logvar):
    return -0.5 * ((z - mean).pow(2) / logvar.exp() + logvar + math.log(2 * math.pi)).sum(-1)


def test_right(capsys, solution):
    verdict(capsys, ex.check_mixture_kl(solution), "Right:", "unbiased")


def test_the_target_is_vaelibs_mixture_prior(solution):
    for z, mu, logvar, log_w, means, logvars in ex._mixture_cases()[:2]:
        k, d = means.shape
        prior = priors.MixturePrior(k, d).double()
        with torch.no_grad():
            prior.weight_logits.copy_(log_w)
            prior.means.copy_(means)
            prior.logvars.copy_(logvars)
        expected = log_normal(z, mu, logvar) - prior.log_prob(z)
        torch.testing.assert_close(solution(z, mu, logvar, log_w, means, logvars), expected)


def wrong(log_p):
    def fn(z, mu, logvar, log_w, means, logvars):
        return log_normal(z, mu, logvar) - log_p(log_w, log_normal(z[:, None], means, logvars))

    return fn


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (wrong(lambda lw, ln: torch.log((lw.exp() * ln.exp()).sum(1))), "logsumexp"),
        (wrong(lambda lw, ln: torch.logsumexp(ln, 1)), "weight the components"),
        (wrong(lambda lw, ln: torch.logsumexp(ln, 1) - math.log(ln.shape[1])), "1/K"),
        (wrong(lambda lw, ln: (lw.exp() * ln).sum(1)), "not the sum of logs"),
    ],
)
def test_wrong_answers_get_pointed_hints(fn, hint, capsys):
    verdict(capsys, ex.check_mixture_kl(fn), "Not yet:", hint)


def test_the_sign_and_the_shape(capsys, solution):
    verdict(capsys, ex.check_mixture_kl(lambda *a: -solution(*a)), "Not yet:", "the sign")
    verdict(capsys, ex.check_mixture_kl(lambda *a: solution(*a).sum()), "Not yet:", "shape (N,)")


def test_refuses_the_library_and_says_no_answer_yet(capsys):
    def shortcut(z, mu, logvar, log_w, means, logvars):
        prior = priors.MixturePrior(means.shape[0], means.shape[1]).double()
        return log_normal(z, mu, logvar) - prior.log_prob(z)

    verdict(capsys, ex.check_mixture_kl(shortcut), "Not yet:", "write it yourself")
    assert priors.MixturePrior.log_prob.__name__ == "log_prob"  # restored
    assert not ex.check_mixture_kl(None)
    assert "No answer yet" in capsys.readouterr().out
