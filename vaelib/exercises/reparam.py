"""Self-checks for the exercises of lesson 05 (the reparameterization trick).

Each ``check_*`` prints whether the answer is right, with a hint when it is not, and returns a
bool. The right answers are computed here with ``vaelib.reparam`` and autograd, never typed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import distributions as D

from vaelib.exercises.feedback import as_float, call_student, close, unanswered, verdict
from vaelib.reparam import z2_gradient_variance

# Exercise 1: f(z) = z^2 with q = N(MU, SIGMA^2).
MU, SIGMA = 1.0, 1.0


def check_variance_ratio(answer: float | None) -> bool:
    """Exercise 1: Var[score-function d/dmu] / Var[pathwise d/dmu], per sample, f(z) = z^2."""
    if unanswered(answer, "your ratio (a number)"):
        return False
    answer = as_float(answer)
    v = z2_gradient_variance(torch.tensor(MU, dtype=torch.float64), torch.tensor(SIGMA))
    score, path = v["score"][0].item(), v["pathwise"][0].item()
    if close(answer, score / path):
        return verdict(True, f"{score:g} / {path:g} = {score / path:g}.", "")
    if close(answer, path / score):
        hint = "that is pathwise / score: put the score-function variance on top."
    elif close(answer, score) or close(answer, path):
        hint = (
            "that is one of the two variances: divide the score-function one by the pathwise one."
        )
    elif close(answer, 15 / 4):
        hint = "that is the ratio at mu = 0: keep the mu terms (mu = 1)."
    else:
        hint = (
            "pathwise: Var[2z] = 4 sigma^2; score: E[z^4 eps^2] / sigma^2 - (2 mu)^2, expand "
            "(mu + sigma eps)^4 and use E[eps^2, eps^4, eps^6] = 1, 3, 15."
        )
    return verdict(False, "", hint)


def check_score_mu(
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None,
) -> bool:
    """Exercise 2: ``fn(z, mu, sigma)`` returns ``d/dmu log N(z; mu, sigma^2)``, elementwise.

    On success, uses it for a score-function estimate of ``d/dmu P(z > 0)``, which pathwise
    gradients cannot give (the step function has derivative 0 almost everywhere).
    """
    if unanswered(fn, "your function"):
        return False
    g = torch.Generator().manual_seed(4)
    mu = torch.randn(50, generator=g, dtype=torch.float64)
    sigma = torch.rand(50, generator=g, dtype=torch.float64) + 0.3
    z = mu + sigma * torch.randn(50, generator=g, dtype=torch.float64)
    m = mu.clone().requires_grad_(True)
    (target,) = torch.autograd.grad(D.Normal(m, sigma).log_prob(z).sum(), m)
    got = call_student(fn, z, mu, sigma, none_hint="write its body and return a tensor.")
    if isinstance(got, str):
        return verdict(False, "", got)
    if got.shape != target.shape:
        return verdict(False, "", f"return one value per z, shape (50,), got {tuple(got.shape)}.")
    if torch.allclose(got, -target):
        return verdict(False, "", "the sign is flipped: the derivative is (z - mu) / sigma^2.")
    if torch.allclose(got, target * sigma):
        return verdict(False, "", "that is (z - mu) / sigma = eps: divide by sigma once more.")
    if not torch.allclose(got, target, rtol=1e-6, atol=1e-9):
        return verdict(
            False, "", "log N(z; mu, sigma^2) = -(z - mu)^2 / (2 sigma^2) + const: differentiate."
        )
    # the payoff: d/dmu P(z > 0) for z ~ N(0.5, 1), exact phi(0.5)
    n, mu0 = 200_000, torch.tensor(0.5, dtype=torch.float64)
    z = mu0 + torch.randn(n, generator=g, dtype=torch.float64)
    per_sample = (z > 0).double() * fn(z, mu0, torch.tensor(1.0, dtype=torch.float64))
    est, se = per_sample.mean().item(), per_sample.std().item() / math.sqrt(n)
    exact = math.exp(-0.125) / math.sqrt(2 * math.pi)
    return verdict(
        True,
        f"(z - mu) / sigma^2. With it, d/dmu P(z > 0) at mu = 0.5 is estimated as "
        f"{est:.4f} +- {se:.4f}; exact phi(0.5) = {exact:.4f}.",
        "",
    )
