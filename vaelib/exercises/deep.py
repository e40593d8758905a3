"""Self-checks for lesson 11 (deeper VAEs), in the course's one voice.

``check_optimal_diagonal``: the student writes the best diagonal Gaussian posterior of the
linear-Gaussian model, ``optimal_diagonal(model, x) -> (mu, var)``, the point that per-image
refinement climbs to and whose gap to ``log p(x)`` is the approximation gap. It is tried on
models the notebook never shows (factor analysis with correlated posteriors), against the closed
form, with vaelib's ``linear_gaussian.optimal_diagonal_q`` refused; ``linear_gaussian.posterior``
is allowed.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vaelib import linear_gaussian as lg
from vaelib.exercises.feedback import NoAnswer, not_yet, refuse_shortcut, right, unanswered

F64 = torch.float64
_OPTIMUM = lg.optimal_diagonal_q  # the check's own reference, untouched by the refusal


def _cases() -> list[tuple[lg.LinearGaussian, torch.Tensor]]:
    g = torch.Generator().manual_seed(11)
    out = []
    for d, z_dim, n in ((5, 3, 4), (7, 2, 3)):
        model = lg.random_model(d, z_dim, generator=g)
        out.append((model, lg.sample(model, n, generator=g).x))
    return out


def _answer(fn, model, x) -> tuple[torch.Tensor, torch.Tensor] | str:
    """The student's (mu, var) as float64 (N, D) tensors, or a hint."""
    try:
        got = fn(model, x)
    except Exception as err:  # noqa: BLE001 - the student's code may fail in any way
        return f"your function raised {type(err).__name__}: {err}"
    if got is None or (isinstance(got, tuple | list) and any(g is None for g in got)):
        return NoAnswer("your function returns None; return the pair (mu, var).")
    if not (isinstance(got, tuple | list) and len(got) == 2):
        return "return a pair (mu, var): the mean (N, D) and the variances of q."
    n, d = x.shape[0], model.z_dim
    try:
        mu, var = (torch.as_tensor(t, dtype=F64).broadcast_to(n, d) for t in got)
    except (RuntimeError, TypeError, ValueError):
        return f"mu and var must each have shape (N, D) = ({n}, {d}) (var may be (D,))."
    return mu, var


def check_optimal_diagonal(fn: Callable | None) -> bool:
    """Exercise 1: ``fn(model, x)`` returns ``(mu, var)`` of the diagonal Gaussian q(z|x) with
    the highest ELBO on the linear-Gaussian model: ``mu`` the exact posterior mean, ``var_d =
    1 / Lambda_dd`` with ``Lambda = I + W^T diag(psi)^-1 W`` the posterior precision."""
    if unanswered(fn, "your function"):
        return False
    with refuse_shortcut(fn, (lg, "optimal_diagonal_q")) as student:
        for model, x in _cases():
            got = _answer(student, model, x)
            if isinstance(got, str):
                return not_yet(got)
            mu, var = got
            post = lg.posterior(model, x)
            best_mu, best_logvar = _OPTIMUM(model, x)
            if not torch.allclose(mu, best_mu, rtol=1e-6, atol=1e-8):
                return not_yet(
                    "mu is off: the best Gaussian is centred on the exact posterior mean, "
                    "lg.posterior(model, x).mu (the ELBO's mean term is a quadratic centred there)."
                )
            marginal = post.cov.diagonal().expand_as(var)
            if torch.allclose(var, marginal, rtol=1e-6):
                return not_yet(
                    "those are the posterior's marginal variances, diag(Sigma_post). A diagonal q "
                    "that minimises KL(q || p) matches the precision instead: var_d = 1 / Lambda_dd,"
                    " with Lambda = I + W^T diag(1/psi) W, smaller wherever dimensions correlate."
                )
            if torch.allclose(var.log(), -best_logvar, rtol=1e-6):
                return not_yet(
                    "that is Lambda_dd itself: the variance is its inverse, 1 / Lambda_dd."
                )
            if not torch.allclose(var, best_logvar.exp(), rtol=1e-6, atol=1e-10):
                return not_yet(
                    "var is off: set the ELBO's derivative in var_d to zero, "
                    "-0.5 Lambda_dd + 0.5 / var_d = 0, so var_d = 1 / Lambda_dd."
                )
    return right(
        "q* = N(mu_post, diag(1 / Lambda_dd)): the mean is exact, but the variances are those "
        "of the precision, not of the posterior's marginals, so q* is narrower than p(z|x) "
        "wherever z's dimensions correlate, and KL(q* || p(z|x)) > 0 is the approximation gap."
    )
