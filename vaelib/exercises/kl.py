"""Self-checks for the exercises of lessons 02 (discrete KL) and 03 (Gaussian KL).

Each ``check_*`` prints whether the answer is right, with a hint when it is not, and returns a
bool. The right answers are computed here with ``vaelib.kl``, never typed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from vaelib.exercises.feedback import as_float, call_student, close, unanswered, verdict
from vaelib.kl import kl_discrete, kl_gaussian

# Lesson 02, exercise 1: a fair die P against a loaded die Q that favours six.
FAIR_DIE = [1 / 6] * 6
LOADED_DIE = [0.1, 0.1, 0.1, 0.1, 0.1, 0.5]
# Lesson 03, exercise 1: q = N(1, 2^2) against the prior N(0, 1).
Q_MU, Q_SIGMA = 1.0, 2.0


def check_die_kl(answer: float | None) -> bool:
    """Lesson 02: ``D_KL(fair die || loaded die)`` in nats, loaded die = LOADED_DIE."""
    if unanswered(answer, "your number (nats)"):
        return False
    answer = as_float(answer)
    target = float(kl_discrete(FAIR_DIE, LOADED_DIE))
    reverse = float(kl_discrete(LOADED_DIE, FAIR_DIE))
    if close(answer, target):
        return verdict(True, f"D_KL(P || Q) = {target:.4f} nats.", "")
    if close(answer, reverse):
        hint = "that is D_KL(Q || P): the weights P(x) in front of the log come from the fair die."
    elif close(answer, target / math.log(2)):
        hint = "that is in bits: use the natural log for nats."
    elif close(answer, target / math.log(10)):
        hint = "that uses log base 10: use the natural log for nats."
    else:
        hint = "sum over the six faces of (1/6) * log((1/6) / Q(face))."
    return verdict(False, "", hint)


def check_kl_bits(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None) -> bool:
    """Lesson 02: ``fn(p, q)`` returns ``D_KL(P || Q)`` in bits from entropy and cross-entropy."""
    if unanswered(fn, "your function"):
        return False
    g = torch.Generator().manual_seed(2)
    p = torch.softmax(3 * torch.randn(4, 5, generator=g, dtype=torch.float64), dim=-1)
    q = torch.softmax(3 * torch.randn(4, 5, generator=g, dtype=torch.float64), dim=-1)
    target = kl_discrete(p, q) / math.log(2)
    got = call_student(fn, p, q, none_hint="write its body and return a tensor.")
    if isinstance(got, str):
        return verdict(False, "", got)
    if got.shape != target.shape:
        return verdict(
            False, "", f"for p, q of shape (4, 5) return shape (4,), got {tuple(got.shape)}."
        )
    if torch.allclose(got, target, rtol=1e-6, atol=1e-9):
        return verdict(True, "KL = H(P, Q) - H(P), divided by log 2 for bits.", "")
    if torch.allclose(got, target * math.log(2), rtol=1e-6, atol=1e-9):
        return verdict(False, "", "that is in nats: divide by log 2 for bits.")
    if torch.allclose(got, -target, rtol=1e-6, atol=1e-9):
        return verdict(False, "", "the sign is flipped: KL = H(P, Q) - H(P), not H(P) - H(P, Q).")
    return verdict(False, "", "compute (cross_entropy(p, q) - entropy(p)) / math.log(2).")


def check_mode_seeking(answer: str | None) -> bool:
    """Lesson 02: which KL, 'forward' D_KL(P || Q) or 'reverse' D_KL(Q || P), seeks one mode?"""
    if unanswered(answer, "'forward' or 'reverse'"):
        return False
    answer = str(answer).strip().lower()
    if answer not in ("forward", "reverse"):
        raise ValueError(f"answer must be 'forward' or 'reverse', got {answer!r}.")
    return verdict(
        answer == "reverse",
        "reverse KL weights the log-ratio by Q, so Q pays nothing where it puts no mass.",
        "forward KL is +inf wherever P > 0 = Q, so its Q must cover every mode of P.",
    )


def check_gaussian_kl(answer: float | None) -> bool:
    """Lesson 03: ``D_KL(N(1, 2^2) || N(0, 1))`` in nats, by hand from the closed form."""
    if unanswered(answer, "your number (nats)"):
        return False
    answer = as_float(answer)
    mu = torch.tensor([Q_MU], dtype=torch.float64)
    logvar = torch.tensor([2 * math.log(Q_SIGMA)], dtype=torch.float64)
    target = float(kl_gaussian(mu, logvar))
    reverse = float(kl_gaussian(torch.zeros_like(mu), torch.zeros_like(logvar), mu, logvar))
    if close(answer, target):
        return verdict(True, f"0.5 * (sigma^2 + mu^2 - 1 - log sigma^2) = {target:.4f} nats.", "")
    if close(answer, reverse):
        hint = "that is D_KL(N(0, 1) || N(1, 4)), the other direction."
    elif close(answer, 0.5 * (Q_SIGMA + Q_MU**2 - 1 - math.log(Q_SIGMA))):
        hint = "use the variance sigma^2 = 4, not the standard deviation sigma = 2."
    else:
        hint = "plug mu = 1, sigma^2 = 4 into 0.5 * (sigma^2 + mu^2 - 1 - log sigma^2)."
    return verdict(False, "", hint)


def check_vae_kl_term(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None) -> bool:
    """Lesson 03: ``fn(mu, logvar)`` with mu, logvar (N, D) returns the VAE's KL term (N,)."""
    if unanswered(fn, "your function"):
        return False
    g = torch.Generator().manual_seed(3)
    mu = torch.randn(7, 3, generator=g, dtype=torch.float64)
    logvar = torch.randn(7, 3, generator=g, dtype=torch.float64)
    target = kl_gaussian(mu, logvar)
    got = call_student(fn, mu, logvar, none_hint="write its body and return a tensor.")
    if isinstance(got, str):
        return verdict(False, "", got)
    if got.shape == () and torch.allclose(got, target.sum()):
        return verdict(False, "", "sum over the last dimension only: return one KL per row (N,).")
    if got.shape != target.shape:
        return verdict(False, "", f"return shape (N,) = (7,), got {tuple(got.shape)}.")
    if torch.allclose(got, target, rtol=1e-6, atol=1e-9):
        return verdict(True, "-0.5 * sum(1 + logvar - mu^2 - exp(logvar), dim=-1).", "")
    if torch.allclose(got, -target, rtol=1e-6, atol=1e-9):
        return verdict(False, "", "the sign is flipped: the term starts with -0.5.")
    return verdict(False, "", "logvar is log sigma^2, so sigma^2 = exp(logvar); sum over dim=-1.")


def check_samples_needed(answer: int | None) -> bool:
    """Lesson 03: with a standard error of 0.1 at n = 100, how many samples give 0.01?"""
    if unanswered(answer, "your number of samples"):
        return False
    answer = as_float(answer)
    target = 100 * (0.1 / 0.01) ** 2
    if answer == target:
        return verdict(True, "the error shrinks like 1/sqrt(n): 10x smaller needs 100x more.", "")
    if answer == 1000:
        hint = "the error shrinks like 1/sqrt(n), not 1/n."
    else:
        hint = "stderr = c / sqrt(n): solve c / sqrt(n) = 0.01 with c = 0.1 * sqrt(100)."
    return verdict(False, "", hint)
