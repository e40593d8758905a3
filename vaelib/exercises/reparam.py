"""Self-checks for lesson 05 (the reparameterization trick), in the course's one voice.

Each ``check_*`` prints ``Right: <why>`` or ``Not yet: <hint>`` and returns the bool. Right
answers are computed here (closed forms, autograd), never typed in; a function the student
writes is tried on inputs the notebook never showed, with vaelib's version refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import distributions as D

from vaelib.exercises import feedback
from vaelib.reparam import z2_gradient_variance

F64 = torch.float64
# Exercise 1: f(z) = z^2 with q = N(MU, SIGMA^2).
MU, SIGMA = 1.0, 1.0


def check_variance_ratio(answer: float | None) -> bool:
    """Exercise 1: Var[score-function d/dmu] / Var[pathwise d/dmu], per sample, f(z) = z^2,
    at mu = MU, sigma = SIGMA; relative tolerance 1e-6 (floats, NumPy or tensor scalars)."""
    if feedback.unanswered(answer, "your ratio (a number)"):
        return False
    value = feedback.as_float(answer)
    v = z2_gradient_variance(torch.tensor(MU, dtype=F64), torch.tensor(SIGMA, dtype=F64))
    score, path = v["score"][0].item(), v["pathwise"][0].item()
    if feedback.is_close(value, score / path):
        return feedback.right(
            f"score {score:g} (= mu^4/sigma^2 + 14 mu^2 + 15 sigma^2) over pathwise {path:g} "
            f"(= 4 sigma^2) is {score / path:g}: the score function multiplies f's size by noise."
        )
    if feedback.is_close(value, path / score):
        return feedback.not_yet("that is pathwise / score: put the score-function variance on top.")
    if feedback.is_close(value, score) or feedback.is_close(value, path):
        return feedback.not_yet(
            "that is one of the two variances: divide the score-function one by the pathwise one."
        )
    if feedback.is_close(value, 15 / 4):
        return feedback.not_yet("that is the ratio at mu = 0: keep the mu terms (mu = 1).")
    return feedback.not_yet(
        "pathwise: Var[2z] = 4 sigma^2; score: E[z^4 eps^2] / sigma^2 - (2 mu)^2, expand "
        "(mu + sigma eps)^4 and use E[eps^2, eps^4, eps^6] = 1, 3, 15."
    )


def check_score_mu(
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None,
) -> bool:
    """Exercise 2: ``fn(z, mu, sigma)`` returns ``d/dmu log N(z; mu, sigma^2)``, elementwise.

    Tried on a (50,) and a (4, 3) batch against autograd of ``torch.distributions.Normal``;
    on success, used for a score-function estimate of ``d/dmu P(z > 0)``, which pathwise
    gradients cannot give (the step function has derivative 0 almost everywhere).
    """
    if feedback.unanswered(fn, "your function"):
        return False
    g = torch.Generator().manual_seed(4)
    for shape in ((50,), (4, 3)):
        mu = torch.randn(shape, generator=g, dtype=F64)
        sigma = torch.rand(shape, generator=g, dtype=F64) + 0.3
        z = mu + sigma * torch.randn(shape, generator=g, dtype=F64)
        m = mu.clone().requires_grad_(True)
        (target,) = torch.autograd.grad(D.Normal(m, sigma).log_prob(z).sum(), m)
        got = feedback.call_student(
            fn, z, mu, sigma, none_hint="write its body and return a tensor."
        )
        if isinstance(got, str):
            return feedback.not_yet(got)
        if got.shape != target.shape:
            return feedback.not_yet(
                f"return one value per z, shape {shape}, got {tuple(got.shape)}."
            )
        if torch.allclose(got, -target):
            return feedback.not_yet("the sign is flipped: the derivative is (z - mu) / sigma^2.")
        if torch.allclose(got, target * sigma):
            return feedback.not_yet("that is (z - mu) / sigma = eps: divide by sigma once more.")
        if not torch.allclose(got, target, rtol=1e-6, atol=1e-9):
            return feedback.not_yet(
                "log N(z; mu, sigma^2) = -(z - mu)^2 / (2 sigma^2) + const: differentiate in mu."
            )
    # the payoff: d/dmu P(z > 0) for z ~ N(0.5, 1), exact phi(0.5)
    n, mu0 = 200_000, torch.tensor(0.5, dtype=F64)
    z = mu0 + torch.randn(n, generator=g, dtype=F64)
    per_sample = (z > 0).double() * fn(z, mu0, torch.tensor(1.0, dtype=F64))
    est, se = per_sample.mean().item(), per_sample.std().item() / math.sqrt(n)
    exact = math.exp(-0.125) / math.sqrt(2 * math.pi)
    return feedback.right(
        f"(z - mu) / sigma^2. With it, d/dmu P(z > 0) at mu = 0.5 is estimated as "
        f"{est:.4f} +- {se:.4f}; exact phi(0.5) = {exact:.4f}."
    )


def _reparam_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(mu, logvar, eps) of shapes (5, 3), (2, 4, 2) and (1,), float64."""
    g = torch.Generator().manual_seed(5)
    cases = []
    for shape in ((5, 3), (2, 4, 2), (1,)):
        mu = torch.randn(shape, generator=g, dtype=F64)
        logvar = 2 * torch.randn(shape, generator=g, dtype=F64)
        eps = torch.randn(shape, generator=g, dtype=F64)
        cases.append((mu, logvar, eps))
    return cases


def _reparam_hint(got: torch.Tensor, mu, logvar, eps) -> str | None:
    def close(t: torch.Tensor) -> bool:
        return got.shape == t.shape and bool(torch.allclose(got, t, rtol=1e-6, atol=1e-9))

    if got.shape != mu.shape:
        return f"return z with mu's shape {tuple(mu.shape)}, got {tuple(got.shape)}."
    if close(mu + torch.exp(0.5 * logvar) * eps):
        return None
    if close(mu + torch.exp(logvar) * eps):
        return "exp(logvar) is sigma^2, the variance: sigma = exp(0.5 * logvar)."
    if close(mu + logvar * eps) or close(mu + 0.5 * logvar * eps):
        return "logvar is log sigma^2, not sigma: sigma = exp(0.5 * logvar)."
    if not bool(torch.isfinite(got).all()):
        return "some values are nan: logvar can be negative, so take exp, not sqrt or log."
    return "z = mu + sigma * eps with sigma = exp(0.5 * logvar), using the eps passed in."


def check_reparameterize(
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None,
) -> bool:
    """Exercise 3: ``fn(mu, logvar, eps)`` returns ``z = mu + exp(0.5 * logvar) * eps``,
    differentiable in mu and logvar: ``dz/dmu = 1``, ``dz/dlogvar = 0.5 * sigma * eps``.

    Tried on three shapes, values and gradients, with ``vaelib.reparam.reparameterize`` refused.
    """
    if feedback.unanswered(fn, "your function"):
        return False
    from vaelib import reparam

    with feedback.refuse_shortcut(fn, (reparam, "reparameterize")) as stand_in:
        fn = stand_in or fn  # a stand-in when fn is the library function itself
        for mu, logvar, eps in _reparam_cases():
            got = feedback.call_student(
                fn, mu, logvar, eps, none_hint="write its body and return z."
            )
            if isinstance(got, str):
                return feedback.not_yet(got)
            hint = _reparam_hint(got, mu, logvar, eps)
            if hint is not None:
                return feedback.not_yet(f"{hint} (shape {tuple(mu.shape)})")
            m, lv = mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
            z = fn(m, lv, eps)
            if not isinstance(z, torch.Tensor) or z.grad_fn is None:
                return feedback.not_yet(
                    "z carries no gradient: compute it from mu and logvar with tensor "
                    "operations (no .detach(), .item(), torch.normal or a fresh tensor)."
                )
            d_mu, d_lv = torch.autograd.grad(z.sum(), (m, lv), allow_unused=True)
            want = 0.5 * torch.exp(0.5 * logvar) * eps
            if (
                d_mu is None
                or d_lv is None
                or not (torch.allclose(d_mu, torch.ones_like(mu)) and torch.allclose(d_lv, want))
            ):
                return feedback.not_yet(
                    "the values are right but the gradients are not: dz/dmu must be 1 and "
                    "dz/dlogvar = 0.5 * sigma * eps; don't detach any part of the formula."
                )
    return feedback.right(
        "z = mu + exp(0.5 * logvar) * eps: the noise is an input, so dz/dmu = 1 and "
        "dz/dlogvar = 0.5 * sigma * eps reach the encoder, for every shape tried."
    )


# ----------------------------------------------------------------------------- exercise 5


def _loo_cases() -> list[tuple[torch.Tensor, torch.Tensor, float, float]]:
    """(f_z, z, mu, sigma): f = z^2 with n = 7, an indicator with n = 500, and n = 2."""
    g = torch.Generator().manual_seed(51)
    cases = []
    for n, mu, sigma, f in ((7, 1.5, 0.7, lambda z: z**2), (500, -0.3, 2.0, lambda z: (z > 0) * 1.0),
                            (2, 0.0, 1.0, lambda z: torch.sin(3 * z))):  # fmt: skip
        z = mu + sigma * torch.randn(n, generator=g, dtype=torch.float64)
        cases.append((f(z), z, mu, sigma))
    return cases


def _loo_parts(f_z, z, mu, sigma) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The scores (2, n) for mu and sigma, and the leave-one-out baselines b_i (n,)."""
    n = z.shape[0]
    score = torch.stack([(z - mu) / sigma**2, ((z - mu) ** 2 / sigma**2 - 1) / sigma])
    baseline = (f_z.sum() - f_z) / (n - 1)
    return score, baseline, (f_z - baseline)


def check_score_with_baseline(fn: Callable[..., object] | None) -> bool:
    """Lesson 05, exercise 5: ``fn(f_z, z, mu, sigma)`` returns the score-function estimate of
    ``(d/dmu, d/dsigma) E_{z ~ N(mu, sigma^2)}[f(z)]`` from n samples with the leave-one-out
    baseline ``b_i = (1/(n-1)) sum_{j != i} f(z_j)``: ``(1/n) sum_i (f(z_i) - b_i) grad log
    N(z_i; mu, sigma^2)``, a tensor of 2 numbers. Checked exactly (rel 1e-6) on three sets of
    samples, one with an indicator f and one with n = 2; ``reparam.score_function_gradient`` is
    refused."""
    if feedback.unanswered(fn, "your function"):
        return False
    from vaelib import reparam

    with feedback.refuse_shortcut(fn, (reparam, "score_function_gradient")) as student:
        for f_z, z, mu, sigma in _loo_cases():
            got = feedback.call_student(student, f_z, z, mu, sigma, none_hint="write its body.")
            if isinstance(got, str):
                return feedback.not_yet(got)
            if got.numel() != 2:
                return feedback.not_yet(
                    f"return two numbers, (d/dmu, d/dsigma), got a tensor of shape {tuple(got.shape)}."
                )
            hint = _loo_hint(got.reshape(2), f_z, z, mu, sigma)
            if hint is not None:
                return feedback.not_yet(f"{hint} (n = {z.shape[0]} samples)")
    return feedback.right(
        "each sample's score is weighted by f(z_i) - b_i with b_i from the other samples: b_i does "
        "not depend on z_i, so E[(f - b_i) score] = E[f score], unbiased, and most of f's "
        "common level cancels, which is where the score function's variance came from."
    )


def _loo_hint(got, f_z, z, mu, sigma) -> str | None:
    score, baseline, centred = _loo_parts(f_z, z, mu, sigma)
    n = z.shape[0]
    target = (centred * score).mean(1)

    def close(t: torch.Tensor) -> bool:
        return bool(torch.allclose(got, t, rtol=1e-6, atol=1e-9))

    if close(target):
        return None
    if close((f_z * score).mean(1)):
        return "that is the plain score-function estimate: subtract the baseline b_i from f(z_i)."
    if close(((f_z - f_z.mean()) * score).mean(1)):
        return (
            "b_i must leave sample i out, the mean of the other n - 1 values: with f(z_i) in "
            f"its own baseline the estimate shrinks by (n - 1)/n = {(n - 1) / n:.3f}, biased."
        )
    if close(torch.stack([target[1], target[0]])):
        return "the order is (d/dmu, d/dsigma)."
    if torch.allclose(got[0], target[0], rtol=1e-6) and not close(target):
        return (
            "d/dmu is right; the score for sigma is d/dsigma log N(z; mu, sigma^2) = "
            "((z - mu)^2 / sigma^2 - 1) / sigma."
        )
    if torch.allclose(got[0], (centred * (z - mu) / sigma).mean(), rtol=1e-6):
        return "the score for mu is (z - mu) / sigma^2 (sigma squared)."
    return (
        "for each sample: (f(z_i) - b_i) * ((z_i - mu) / sigma^2, ((z_i - mu)^2 / sigma^2 - 1) / "
        "sigma) with b_i = (sum_j f(z_j) - f(z_i)) / (n - 1); then the mean over the n samples."
    )
