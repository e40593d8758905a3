"""Self-checks for the exercises of lesson 04 (the evidence lower bound).

Both use the 1-D linear-Gaussian model ``p(z) = N(0, 1)``, ``p(x|z) = N(w z + b, sigma2)``.
The right answers are computed here with ``vaelib.linear_gaussian``, never typed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from vaelib import linear_gaussian as lg
from vaelib.exercises import feedback
from vaelib.losses import NegativeELBO

# Exercise 2: the gap of the encoder that ignores x, q(z|x) = p(z) = N(0, 1), at this point.
GAP_X, GAP_W, GAP_B, GAP_SIGMA2 = 1.0, 2.0, 0.0, 1.0

_ELBO_1D_HINT = (
    "ELBO = E_q[log p(x|z)] - KL(q || p(z)) with "
    "E_q[log p(x|z)] = -0.5 log(2 pi sigma2) - ((x - w mu - b)^2 + w^2 exp(logvar)) / (2 sigma2) "
    "and KL = 0.5 (exp(logvar) + mu^2 - 1 - logvar)."
)


def _elbo_terms_1d(x, mu, logvar, w, b, sigma2) -> NegativeELBO:
    model = lg.LinearGaussian([[w]], [b], sigma2)
    return lg.gaussian_elbo(model, x[:, None], mu[:, None], torch.diag_embed(logvar.exp()[:, None]))


def check_elbo_1d(fn: Callable[..., torch.Tensor] | None) -> bool:
    """Exercise 1: ``fn(x, mu, logvar, w, b, sigma2)`` returns the ELBO of ``q = N(mu, exp(logvar))``.

    x, mu, logvar: (N,) tensors; w, b, sigma2: floats; returns (N,), one ELBO per x, in nats.
    Tested on points, encoders and models the lesson has not shown, without vaelib.linear_gaussian's ELBO.
    """
    if feedback.unanswered(fn, "your function"):
        return False
    g = torch.Generator().manual_seed(41)
    x, mu = 2 * torch.randn(2, 9, generator=g, dtype=torch.float64)
    logvar = torch.randn(9, generator=g, dtype=torch.float64)
    w, b, sigma2 = -1.3, 0.4, 0.6
    with feedback.refuse_shortcut(
        fn,
        (lg, "gaussian_elbo"),
        (lg, "log_evidence"),
        (lg, "kl_to_posterior"),
    ):
        got = feedback.call_student(fn, x, mu, logvar, w, b, sigma2, none_hint="write its body.")
    if isinstance(got, str):
        return feedback.not_yet(got)
    target = _elbo_terms_1d(x, mu, logvar, w, b, sigma2)
    if got.shape != target.elbo.shape:
        return feedback.not_yet(
            f"return one ELBO per x, shape (N,) = (9,); got {tuple(got.shape)}."
        )
    if torch.allclose(got, target.elbo, rtol=1e-6, atol=1e-9):
        return feedback.right(
            "reconstruction E_q[log p(x|z)] minus KL(q || p(z)), both in closed form."
        )
    no_spread = target.elbo + w**2 * logvar.exp() / (2 * sigma2)
    if torch.allclose(got, no_spread, rtol=1e-6, atol=1e-9):
        return feedback.not_yet(
            "you evaluated log p(x|z) at z = mu only: E_q[(x - w z - b)^2] = "
            "(x - w mu - b)^2 + w^2 sigma_q^2, so the spread of q costs w^2 exp(logvar) / (2 sigma2)."
        )
    if torch.allclose(got, -target.recon + target.kl, rtol=1e-6, atol=1e-9):
        return feedback.not_yet("the KL to the prior is subtracted: ELBO = E_q[log p(x|z)] - KL.")
    if torch.allclose(got, -target.recon, rtol=1e-6, atol=1e-9):
        return feedback.not_yet("that is the reconstruction term alone: subtract KL(q || p(z)).")
    if torch.allclose(
        got, target.elbo + 0.5 * math.log(2 * math.pi * sigma2), rtol=1e-6, atol=1e-9
    ):
        return feedback.not_yet("log p(x|z) includes the normaliser -0.5 log(2 pi sigma2).")
    return feedback.not_yet(_ELBO_1D_HINT)


def check_prior_gap(answer: float | None) -> bool:
    """Exercise 2: the gap ``log p(x) - ELBO`` in nats when ``q(z|x) = p(z) = N(0, 1)``,
    at x = GAP_X for w = GAP_W, b = GAP_B, sigma2 = GAP_SIGMA2."""
    if feedback.unanswered(answer, "your number (nats)"):
        return False
    answer = feedback.as_float(answer)
    model = lg.LinearGaussian([[GAP_W]], [GAP_B], GAP_SIGMA2)
    x = torch.tensor([[GAP_X]], dtype=torch.float64)
    zero, one = torch.zeros(1, 1, dtype=torch.float64), torch.eye(1, dtype=torch.float64)
    target = lg.kl_to_posterior(model, x, zero, one).item()
    post = lg.posterior(model, x)
    reverse = 0.5 * (
        post.cov.item() + post.mu.item() ** 2 - 1 - math.log(post.cov.item())
    )  # KL(p(z|x) || p(z)): the other direction
    log_px = lg.log_evidence(model, x).item()
    if feedback.is_close(answer, target):
        return feedback.right(
            f"log p(x) - ELBO = KL(p(z) || p(z|x)) = {target:.4f} nats: the prior ignores x, "
            "and pays for the posterior's narrower, shifted shape."
        )
    if feedback.is_close(answer, -target):
        return feedback.not_yet("the gap is log p(x) - ELBO, which is >= 0: flip the sign.")
    if feedback.is_close(answer, reverse):
        return feedback.not_yet(
            "that is KL(p(z|x) || q), the other direction: the gap is KL(q || p(z|x))."
        )
    if feedback.is_close(answer, log_px):
        return feedback.not_yet("that is log p(x) alone: subtract the ELBO of q = N(0, 1).")
    return feedback.not_yet(
        "log p(x) = log N(x; b, w^2 + sigma2); with q = p(z) the KL term is 0 and "
        "ELBO = E_{z~N(0,1)}[log N(x; w z + b, sigma2)] = -0.5 log(2 pi sigma2) - ((x - b)^2 + w^2) / (2 sigma2)."
    )
