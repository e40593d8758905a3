"""The self-check of lesson 11 (vaelib.exercises.deep): it accepts a right answer, rejects
typical wrong ones with a hint that names the mistake, and refuses the shortcut."""

from __future__ import annotations

import pytest
import torch
from _solutions import load_solutions, verdict

from vaelib import linear_gaussian as lg
from vaelib.exercises import deep as ex


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("11_deeper_vaes")


def precision(model):
    return torch.eye(model.z_dim, dtype=torch.float64) + model.W.T @ (model.W / model.psi[:, None])


def test_right_answer(capsys, solutions):
    verdict(capsys, ex.check_optimal_diagonal(solutions.optimal_diagonal), "Right:", "precision")


def test_a_right_answer_written_differently(capsys):
    def via_inverse(model, x):
        post = lg.posterior(model, x)
        var = 1 / torch.linalg.inv(post.cov).diagonal()  # Lambda = Sigma_post^-1
        return post.mu, var.expand_as(post.mu)

    verdict(capsys, ex.check_optimal_diagonal(via_inverse), "Right:")


def test_typical_wrong_answers(capsys):
    def marginal(model, x):
        post = lg.posterior(model, x)
        return post.mu, post.cov.diagonal()

    verdict(capsys, ex.check_optimal_diagonal(marginal), "Not yet:", "marginal variances")

    def not_inverted(model, x):
        return lg.posterior(model, x).mu, precision(model).diagonal()

    verdict(capsys, ex.check_optimal_diagonal(not_inverted), "Not yet:", "inverse")

    def prior_mean(model, x):
        return torch.zeros(x.shape[0], model.z_dim), 1 / precision(model).diagonal()

    verdict(capsys, ex.check_optimal_diagonal(prior_mean), "Not yet:", "mu is off")

    def unit_var(model, x):
        return lg.posterior(model, x).mu, torch.ones(model.z_dim)

    verdict(capsys, ex.check_optimal_diagonal(unit_var), "Not yet:", "var is off")
    verdict(capsys, ex.check_optimal_diagonal(lambda m, x: None), "No answer yet:", "None")
    verdict(capsys, ex.check_optimal_diagonal(lambda m, x: x), "Not yet:", "pair")
    assert not ex.check_optimal_diagonal(None)
    assert "No answer yet" in capsys.readouterr().out


def test_the_shortcut_is_refused(capsys):
    verdict(capsys, ex.check_optimal_diagonal(lambda m, x: lg.optimal_diagonal_q(m, x)),
            "Not yet:", "write it yourself")  # fmt: skip
    verdict(capsys, ex.check_optimal_diagonal(lg.optimal_diagonal_q), "Not yet:", "write it")
