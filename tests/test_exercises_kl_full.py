"""Lesson 03, exercise 6 (vaelib.exercises.kl.check_kl_full_covariance): the KL between two
full-covariance Gaussians. Right answers (the solution, torch's own formula outside the check),
typical wrong ones with the hint that names the term, and the refused shortcuts."""

from __future__ import annotations

import pytest
import torch
from _solutions import load_solutions, verdict
from torch import distributions as D

from vaelib.exercises import kl as ex


def parts(mu_q, cov_q, mu_p, cov_p):
    diff = mu_p - mu_q
    trace = torch.trace(torch.linalg.solve(cov_p, cov_q))
    maha = diff @ torch.linalg.solve(cov_p, diff)
    logdets = torch.linalg.slogdet(cov_p)[1] - torch.linalg.slogdet(cov_q)[1]
    return trace, maha, logdets, mu_q.shape[0]


def test_right_answers(capsys):
    solution = load_solutions("03_kl_divergence_gaussian").kl_full_covariance
    verdict(capsys, ex.check_kl_full_covariance(solution), "Right:", "slogdet")

    def with_inverse_and_logdet(mu_q, cov_q, mu_p, cov_p):  # a right answer, less stable
        inv = torch.linalg.inv(cov_p)
        diff = mu_p - mu_q
        return 0.5 * (torch.trace(inv @ cov_q) + diff @ inv @ diff - len(mu_q)
                      + torch.logdet(cov_p) - torch.logdet(cov_q))  # fmt: skip

    verdict(capsys, ex.check_kl_full_covariance(with_inverse_and_logdet), "Right:")


def test_the_target_is_torch_distributions_kl():
    for mu_q, cov_q, mu_p, cov_p in ex._kl_full_inputs():
        t, m, ld, d = parts(mu_q, cov_q, mu_p, cov_p)
        ref = D.kl_divergence(D.MultivariateNormal(mu_q, cov_q), D.MultivariateNormal(mu_p, cov_p))
        torch.testing.assert_close(0.5 * (t + m - d + ld), ref)


def wrong(combine):
    def fn(mu_q, cov_q, mu_p, cov_p):
        return combine(*parts(mu_q, cov_q, mu_p, cov_p))

    return fn


def swapped(mu_q, cov_q, mu_p, cov_p):
    t, m, ld, d = parts(mu_p, cov_p, mu_q, cov_q)
    return 0.5 * (t + m - d + ld)


def diagonal_only(mu_q, cov_q, mu_p, cov_p):
    t, m, ld, d = parts(mu_q, torch.diag(cov_q.diagonal()), mu_p, torch.diag(cov_p.diagonal()))
    return 0.5 * (t + m - d + ld)


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (swapped, "D_KL(p || q)"),
        (wrong(lambda t, m, ld, d: t + m - d + ld), "factor 1/2"),
        (wrong(lambda t, m, ld, d: 0.5 * (t + m + ld)), "subtract D"),
        (wrong(lambda t, m, ld, d: 0.5 * (t + m - d - ld)), "log-determinants"),
        (diagonal_only, "off-diagonal"),
        (lambda *a: torch.zeros(2), "one number"),
    ],
)
def test_wrong_answers_get_the_term_that_is_off(fn, hint, capsys):
    verdict(capsys, ex.check_kl_full_covariance(fn), "Not yet:", hint)


def test_refuses_torch_kl_and_says_no_answer_yet(capsys):
    def shortcut(mu_q, cov_q, mu_p, cov_p):
        return D.kl_divergence(D.MultivariateNormal(mu_q, cov_q), D.MultivariateNormal(mu_p, cov_p))

    verdict(capsys, ex.check_kl_full_covariance(shortcut), "Not yet:", "write it yourself")
    assert D.kl_divergence.__name__ == "kl_divergence"  # restored after the check
    assert not ex.check_kl_full_covariance(None)
    assert "No answer yet" in capsys.readouterr().out
