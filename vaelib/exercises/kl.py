"""Self-checks for the exercises of lessons 02 (discrete KL) and 03 (Gaussian KL).

Each ``check_*`` prints ``Right: <why>`` or ``Not yet: <hint>`` (``vaelib.exercises.feedback``)
and returns a bool. Numbers are compared with a relative tolerance of 1e-6 unless the exercise
says otherwise, and may be Python floats, NumPy or tensor scalars. The right answers are computed
here from the formulas, never typed in; a function the student writes is tested on inputs the
lesson never shows, with the library's own version refused while the check runs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch

from vaelib import kl
from vaelib.exercises import feedback

# Lesson 02, exercise 1: a fair die P against a skewed die Q (not the lesson's loaded die).
FAIR_DIE = (1 / 6,) * 6
SKEWED_DIE = (0.05, 0.1, 0.15, 0.2, 0.2, 0.3)
# Lesson 02, exercise 2: the two-mode target whose forward-KL Gaussian fit you predict.
TARGET_WEIGHTS = (0.2, 0.8)
TARGET_MUS = (-3.0, 1.0)
TARGET_SIGMAS = (0.5, 1.0)
FORWARD_FIT_RTOL = 1e-4  # the exercise asks for four significant digits
# Lesson 03, exercise 1: q = N(1, 2^2) against the prior N(0, 1).
Q_MU, Q_SIGMA = 1.0, 2.0
# Lesson 03, exercise 2: the KL between two diagonal Gaussians, check_kl_diagonal.
# Lesson 03, exercise 3: the standard error measured at N_MEASURED samples, and the one wanted.
N_MEASURED, SE_MEASURED, SE_WANTED = 400, 0.05, 0.02


def _discrete_kl(p: list[float] | tuple[float, ...], q: list[float] | tuple[float, ...]) -> float:
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True) if pi > 0)


# ----------------------------------------------------------------------------- lesson 02


def check_die_kl(answer: float | None) -> bool:
    """Lesson 02, exercise 1: ``D_KL(P || Q)`` in nats, P = FAIR_DIE, Q = SKEWED_DIE."""
    if feedback.unanswered(answer, "your number (nats)"):
        return False
    target = _discrete_kl(FAIR_DIE, SKEWED_DIE)
    if feedback.is_close(answer, target):
        return feedback.right(
            "each face weighs its excess surprise log(P/Q) by P = 1/6, and the faces Q "
            "under-rates (face 1: 1/6 against 0.05) dominate the sum."
        )
    if feedback.is_close(answer, _discrete_kl(SKEWED_DIE, FAIR_DIE)):
        return feedback.not_yet(
            "that is D_KL(Q || P): the weights in front of the log come from P = 1/6."
        )
    if feedback.is_close(answer, target / math.log(2)):
        return feedback.not_yet("that is in bits (log2): use the natural log, math.log, for nats.")
    if feedback.is_close(answer, target / math.log(10)):
        return feedback.not_yet("that uses log base 10: use the natural log, math.log, for nats.")
    if feedback.is_close(answer, 6 * target):
        return feedback.not_yet("you summed log(P/Q) without the weights P(x) = 1/6 in front.")
    if feedback.as_float(answer) < 0:
        return feedback.not_yet(
            "KL is never negative (Gibbs): check the order inside the log, P/Q."
        )
    return feedback.not_yet("sum over the six faces of (1/6) * math.log((1/6) / Q[face]).")


def _kl_bits_inputs() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Shapes the lesson never shows: one distribution, a batch, a 3-D batch, zeros in P."""
    g = torch.Generator().manual_seed(2)

    def probs(*shape: int) -> torch.Tensor:
        return torch.softmax(3 * torch.randn(*shape, generator=g, dtype=torch.float64), dim=-1)

    p_zero = torch.tensor([[0.5, 0.0, 0.5], [0.0, 0.0, 1.0]], dtype=torch.float64)
    q_zero = torch.tensor([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], dtype=torch.float64)
    same = probs(3, 4)
    return [(probs(5), probs(5)), (probs(4, 6), probs(4, 6)), (probs(2, 3, 7), probs(2, 3, 7)),
            (p_zero, q_zero), (same, same.clone())]  # fmt: skip


def check_kl_bits(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None) -> bool:
    """Lesson 02: ``fn(p, q)`` returns ``D_KL(P || Q)`` in bits, shape (...,) for p, q (..., K),
    from ``kl.cross_entropy`` and ``kl.entropy`` (``kl.kl_discrete`` and ``kl.nats_to_bits``
    are refused)."""
    if feedback.unanswered(fn, "your function"):
        return False
    with feedback.refuse_shortcut(fn, (kl, "kl_discrete"), (kl, "nats_to_bits")) as student:
        for p, q in _kl_bits_inputs():
            target = (kl.cross_entropy(p, q) - kl.entropy(p)) / math.log(2)
            got = feedback.call_student(
                student, p, q, none_hint="write its body and return a tensor."
            )
            if isinstance(got, str):
                return feedback.not_yet(got)
            if got.shape != target.shape:
                if got.dim() == 0 and torch.allclose(got, target.sum(), rtol=1e-6):
                    return feedback.not_yet(
                        "sum over the last dimension only (dim=-1): one KL per row."
                    )
                return feedback.not_yet(
                    f"for p, q of shape {tuple(p.shape)} return shape {tuple(target.shape)}, "
                    f"got {tuple(got.shape)}: one KL per distribution (the last dim is K)."
                )
            if torch.allclose(got, target, rtol=1e-6, atol=1e-12):
                continue
            if torch.allclose(got, target * math.log(2), rtol=1e-6, atol=1e-12):
                return feedback.not_yet("that is in nats: divide by math.log(2) for bits.")
            if torch.allclose(got, target * math.log(2) ** 2, rtol=1e-6, atol=1e-12):
                return feedback.not_yet("you multiplied by log 2: bits = nats / log 2.")
            if torch.allclose(got, -target, rtol=1e-6, atol=1e-12):
                return feedback.not_yet(
                    "the sign is flipped: KL = H(P, Q) - H(P), not H(P) - H(P, Q)."
                )
            return feedback.not_yet(
                f"wrong for p, q of shape {tuple(p.shape)}: compute "
                "(kl.cross_entropy(p, q) - kl.entropy(p)) / math.log(2)."
            )
    return feedback.right(
        "H(P, Q) - H(P) is the expected excess surprise in nats; one bit is log 2 nats, "
        "and rows with zeros or P = Q work too."
    )


def forward_fit_target() -> tuple[float, float]:
    """The mean and standard deviation of the two-mode target: the forward-KL Gaussian fit.

    ``mean = sum_j w_j mu_j``; ``var = sum_j w_j (sigma_j^2 + mu_j^2) - mean^2``.
    """
    mean = sum(w * m for w, m in zip(TARGET_WEIGHTS, TARGET_MUS, strict=True))
    second = sum(
        w * (s**2 + m**2) for w, m, s in zip(TARGET_WEIGHTS, TARGET_MUS, TARGET_SIGMAS, strict=True)
    )
    return mean, math.sqrt(second - mean**2)


def check_forward_fit(answer: tuple[float, float] | None) -> bool:
    """Lesson 02: ``(mu, sigma)`` of the Gaussian that minimises ``D_KL(P || Q)`` for the target
    P with TARGET_WEIGHTS, TARGET_MUS, TARGET_SIGMAS (the continuous mixture), to rel 1e-4."""
    if feedback.unanswered(answer, "your pair (mu, sigma)"):
        return False
    mu, sigma = feedback.as_floats(answer, 2, "answer (mu, sigma)")
    mean, std = forward_fit_target()
    heavy = max(range(len(TARGET_WEIGHTS)), key=lambda j: TARGET_WEIGHTS[j])
    if abs(mu - TARGET_MUS[heavy]) < 0.1 and abs(sigma - TARGET_SIGMAS[heavy]) < 0.1:
        return feedback.not_yet(
            "that is the heavier mode: reverse KL's fit. Forward KL must cover every mode."
        )
    if not feedback.is_close(mu, mean, rtol=FORWARD_FIT_RTOL):
        if feedback.is_close(mu, sum(TARGET_MUS) / len(TARGET_MUS), rtol=FORWARD_FIT_RTOL):
            return feedback.not_yet(
                "weight each mode's mean by its weight w_j: mean = sum_j w_j mu_j."
            )
        return feedback.not_yet("the forward fit's mu is P's mean, sum_j w_j mu_j.")
    if feedback.is_close(sigma, std, rtol=FORWARD_FIT_RTOL):
        return feedback.right(
            "minimising D_KL(P || Q) over Gaussians matches P's mean and variance, and the "
            "variance includes the spread between the modes: Q covers both."
        )
    if feedback.is_close(sigma, std**2, rtol=FORWARD_FIT_RTOL):
        return feedback.not_yet("that is the variance: sigma is its square root.")
    within = math.sqrt(sum(w * s**2 for w, s in zip(TARGET_WEIGHTS, TARGET_SIGMAS, strict=True)))
    if feedback.is_close(sigma, within, rtol=FORWARD_FIT_RTOL):
        return feedback.not_yet(
            "that is only the spread within the modes: add their spread around the mean, "
            "var = sum_j w_j (sigma_j^2 + mu_j^2) - mean^2."
        )
    return feedback.not_yet(
        "sigma^2 = E_P[x^2] - mean^2 with E_P[x^2] = sum_j w_j (sigma_j^2 + mu_j^2)."
    )


# Lesson 02, exercise 5: fit by gradient descent, on a target the lesson never shows.
GD_WEIGHTS, GD_MUS, GD_SIGMAS = (0.3, 0.7), (-2.5, 2.0), (0.6, 0.8)
GD_START = (0.5, 1.0)  # (mu, sigma) where the descent starts
GD_TOL = 0.05  # |mu - mu*| and |sigma - sigma*| allowed


def _gd_target() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.linspace(-8, 8, 801, dtype=torch.float64)
    return x, kl.gaussian_mixture_on_grid(x, list(GD_WEIGHTS), list(GD_MUS), list(GD_SIGMAS))


def _gd_kl(x, p, mu, log_sigma, direction):
    log_q = torch.log_softmax(-0.5 * ((x - mu) / log_sigma.exp()) ** 2, dim=0)
    log_p = p.log()
    return (
        (p * (log_p - log_q)).sum()
        if direction == "forward"
        else (log_q.exp() * (log_q - log_p)).sum()
    )


@functools.lru_cache(maxsize=2)
def _gd_reference(direction: str) -> tuple[float, float]:
    """The optimum gradient descent reaches from GD_START: Adam, 3000 steps, then L-BFGS."""
    x, p = _gd_target()
    mu = torch.tensor(GD_START[0], dtype=torch.float64, requires_grad=True)
    log_sigma = torch.tensor(math.log(GD_START[1]), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([mu, log_sigma], lr=0.05)
    for _ in range(3000):
        opt.zero_grad()
        _gd_kl(x, p, mu, log_sigma, direction).backward()
        opt.step()
    return float(mu.detach()), float(log_sigma.detach().exp())


def check_fit_by_gradient(fn: Callable[..., object] | None) -> bool:
    """Lesson 02, exercise 5: ``fn(x, p, direction)`` fits Q = N(mu, sigma^2), discretised on the
    grid x (K,), to the target probabilities p (K,) by gradient descent from (mu, sigma) =
    GD_START, minimising D_KL(P || Q) (``direction="forward"``) or D_KL(Q || P) (``"reverse"``),
    and returns (mu, sigma). Checked on a two-mode target the lesson never shows against the
    optimum reached from the same start (within GD_TOL); ``kl.fit_gaussian_on_grid`` refused."""
    if feedback.unanswered(fn, "your function"):
        return False
    x, p = _gd_target()
    with feedback.refuse_shortcut(fn, (kl, "fit_gaussian_on_grid"), (kl, "kl_discrete")) as student:
        for direction in ("forward", "reverse"):
            try:
                got = student(x.clone(), p.clone(), direction)
            except Exception as err:  # noqa: BLE001 - the student's code may fail in any way
                return feedback.not_yet(f"your function raised {type(err).__name__}: {err}")
            if got is None:
                return feedback.not_yet(
                    feedback.NoAnswer("your function returns None; return (mu, sigma).")
                )
            mu, sigma = feedback.as_floats(got, 2, "the result (mu, sigma)")
            hint = _gd_hint(mu, sigma, direction)
            if hint is not None:
                return feedback.not_yet(f"{hint} ({direction})")
    fwd, rev = _gd_reference("forward"), _gd_reference("reverse")
    return feedback.right(
        f"forward KL covers both modes, N({fwd[0]:.2f}, {fwd[1]:.2f}^2); reverse KL from the same "
        f"start sits on the heavier one, N({rev[0]:.2f}, {rev[1]:.2f}^2): mode covering against "
        "mode seeking, found by descent rather than by search."
    )


def _gd_hint(mu: float, sigma: float, direction: str) -> str | None:
    if not (math.isfinite(mu) and math.isfinite(sigma)):
        return (
            "nan or inf: descend on log sigma (sigma = exp(log_sigma) stays positive), and use "
            "log_softmax for log Q on the grid."
        )
    ref = _gd_reference(direction)
    if abs(mu - ref[0]) <= GD_TOL and abs(sigma - ref[1]) <= GD_TOL:
        return None
    other = _gd_reference("reverse" if direction == "forward" else "forward")
    if abs(mu - other[0]) <= GD_TOL and abs(sigma - other[1]) <= GD_TOL:
        return (
            "that is the other direction's fit: forward is D_KL(P || Q) = sum p (log p - log q), "
            "reverse is D_KL(Q || P) = sum q (log q - log p)."
        )
    if sigma < 0:
        return "sigma came out negative: descend on log sigma and return exp(log_sigma)."
    if abs(mu - GD_START[0]) < 0.02 and abs(sigma - GD_START[1]) < 0.02:
        return "mu and sigma never moved: call backward() and step the optimiser on both."
    return (
        f"got (mu, sigma) = ({mu:.3f}, {sigma:.3f}), the descent from {GD_START} reaches "
        f"({ref[0]:.3f}, {ref[1]:.3f}): more steps or a larger learning rate (Adam, lr 0.05, a "
        "few thousand steps), until the KL stops changing."
    )


# ----------------------------------------------------------------------------- lesson 03


def check_gaussian_kl(answer: float | None) -> bool:
    """Lesson 03: ``D_KL(N(1, 2^2) || N(0, 1))`` in nats, by hand from the closed form."""
    if feedback.unanswered(answer, "your number (nats)"):
        return False
    var = Q_SIGMA**2
    target = 0.5 * (var + Q_MU**2 - 1 - math.log(var))
    if feedback.is_close(answer, target):
        return feedback.right(
            "0.5 * (sigma^2 + mu^2 - 1 - log sigma^2): the mean costs mu^2 / 2 = 0.5 nats, "
            "the too-wide sigma the rest."
        )
    if feedback.is_close(answer, math.log(Q_SIGMA) + (1 + Q_MU**2) / (2 * var) - 0.5):
        return feedback.not_yet(
            "that is D_KL(N(0, 1) || N(1, 4)), the other direction: q comes first."
        )
    if feedback.is_close(answer, 0.5 * (Q_SIGMA + Q_MU**2 - 1 - math.log(Q_SIGMA))):
        return feedback.not_yet(
            "use the variance sigma^2 = 4, not the standard deviation sigma = 2."
        )
    if feedback.is_close(answer, 2 * target):
        return feedback.not_yet("you forgot the factor 1/2 in front.")
    return feedback.not_yet(
        "plug mu = 1, sigma^2 = 4 into 0.5 * (sigma^2 + mu^2 - 1 - log sigma^2)."
    )


def _kl_diagonal_inputs() -> list[tuple[torch.Tensor, ...]]:
    """Batches the lesson never shows: a (D,) prior and a per-row prior, the prior N(0, I),
    q = p (KL 0), one dimension, float32."""
    g = torch.Generator().manual_seed(3)
    f64 = {"generator": g, "dtype": torch.float64}
    same_mu, same_lv = torch.randn(4, 5, **f64), torch.randn(4, 5, **f64)
    return [
        (torch.randn(7, 3, **f64), torch.randn(7, 3, **f64), torch.randn(3, **f64),
         0.5 * torch.randn(3, **f64)),
        (2 * torch.randn(5, 20, **f64), torch.randn(5, 20, **f64) - 3,
         torch.randn(5, 20, **f64), torch.randn(5, 20, **f64)),
        (torch.randn(6, 2, **f64), torch.randn(6, 2, **f64), torch.zeros(2, dtype=torch.float64),
         torch.zeros(2, dtype=torch.float64)),
        (same_mu, same_lv, same_mu.clone(), same_lv.clone()),
        (torch.randn(1, 1, **f64), torch.randn(1, 1, **f64), torch.randn(1, **f64),
         torch.randn(1, **f64)),
        tuple(torch.randn(3, 2, generator=g) for _ in range(4)),
    ]  # fmt: skip


def _kl_diagonal(mu, logvar, mu_p, logvar_p) -> torch.Tensor:
    """Per dimension ``0.5 (logvar_p - logvar + (exp(logvar) + (mu - mu_p)^2) / exp(logvar_p) - 1)``."""
    return 0.5 * (logvar_p - logvar + (logvar.exp() + (mu - mu_p).pow(2)) / logvar_p.exp() - 1)


def check_kl_diagonal(
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None,
) -> bool:
    """Lesson 03: ``fn(mu, logvar, mu_p, logvar_p)`` returns
    ``D_KL(N(mu, diag exp(logvar)) || N(mu_p, diag exp(logvar_p)))`` per row: mu, logvar
    (N, D); mu_p, logvar_p (D,) or (N, D); returns (N,). ``kl.kl_gaussian`` is refused."""
    if feedback.unanswered(fn, "your function"):
        return False
    with feedback.refuse_shortcut(fn, (kl, "kl_gaussian")) as student:
        for args in _kl_diagonal_inputs():
            mu, logvar, mu_p, logvar_p = (a.double() for a in args)
            per_dim = _kl_diagonal(mu, logvar, mu_p, logvar_p)
            target = per_dim.sum(-1)
            got = feedback.call_student(
                student, *args, none_hint="write its body and return a tensor."
            )
            if isinstance(got, str):
                return feedback.not_yet(got)
            tol = {"rtol": 1e-6 if args[0].dtype == torch.float64 else 1e-5, "atol": 1e-9}
            where = f"mu of shape {tuple(mu.shape)}, prior of shape {tuple(mu_p.shape)}"
            if got.shape != target.shape:
                if got.dim() == 0 and torch.allclose(got, target.sum(), **tol):
                    return feedback.not_yet(
                        "sum over the last dimension only (dim=-1): one KL per row."
                    )
                return feedback.not_yet(
                    f"for {where} return shape {tuple(target.shape)}, got {tuple(got.shape)}."
                )
            if torch.allclose(got, target, **tol):
                continue
            if torch.allclose(got, -target, **tol):
                return feedback.not_yet("the sign is flipped: KL >= 0, and 0 only where q = p.")
            if torch.allclose(got, _kl_diagonal(mu_p, logvar_p, mu, logvar).sum(-1), **tol):
                return feedback.not_yet("that is D_KL(p || q): q = N(mu, exp(logvar)) comes first.")
            if torch.allclose(got, per_dim.mean(-1), **tol):
                return feedback.not_yet("sum over the latent dimensions, don't average them.")
            standard = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
            if torch.allclose(got, standard, **tol):
                return feedback.not_yet(
                    "that is the KL to N(0, I): use the prior's mu_p and logvar_p."
                )
            no_div = 0.5 * (logvar_p - logvar + logvar.exp() + (mu - mu_p).pow(2) - 1).sum(-1)
            if torch.allclose(got, no_div, **tol):
                return feedback.not_yet(
                    "divide sigma^2 + (mu - mu_p)^2 by the prior's variance exp(logvar_p)."
                )
            full_log = target + 0.5 * (logvar_p - logvar).sum(-1)  # log ratio without the 1/2
            if torch.allclose(got, full_log, **tol):
                return feedback.not_yet(
                    "log(sigma_p / sigma) = 0.5 * (logvar_p - logvar): mind the 1/2."
                )
            return feedback.not_yet(
                f"wrong for {where}: per dimension log(sigma_p / sigma) + (sigma^2 + (mu - mu_p)^2)"
                " / (2 sigma_p^2) - 1/2 with sigma^2 = exp(logvar), summed over dim=-1."
            )
    return feedback.right(
        "with logvar = log sigma^2 every term is a sum or an exp, so it broadcasts over a (D,) "
        "or per-row prior, and it is 0 exactly where q = p."
    )


def samples_needed_target() -> float:
    """``n = N_MEASURED * (SE_MEASURED / SE_WANTED)^2``: the standard error is ``c / sqrt(n)``."""
    return N_MEASURED * (SE_MEASURED / SE_WANTED) ** 2


def check_samples_needed(answer: float | None) -> bool:
    """Lesson 03: a standard error of SE_MEASURED at N_MEASURED samples; how many samples give
    SE_WANTED? (rel 1e-6; a float such as 2500.0000000000005 is right)"""
    if feedback.unanswered(answer, "your number of samples"):
        return False
    ratio = SE_MEASURED / SE_WANTED
    if feedback.is_close(answer, samples_needed_target()):
        return feedback.right(
            f"the error shrinks like 1/sqrt(n): {ratio:g} times smaller needs {ratio**2:g} "
            "times more samples."
        )
    if feedback.is_close(answer, N_MEASURED * ratio):
        return feedback.not_yet("the error shrinks like 1/sqrt(n), not 1/n.")
    if feedback.is_close(answer, N_MEASURED * math.sqrt(ratio)):
        return feedback.not_yet(
            "you took a square root: n grows like the square of the error ratio."
        )
    if feedback.as_float(answer) < N_MEASURED:
        return feedback.not_yet("a smaller error needs more samples, not fewer.")
    return feedback.not_yet(
        "stderr = c / sqrt(n): find c from the measurement, then solve c / sqrt(n) = 0.02."
    )


# ----------------------------------------------------------------------------- lesson 03, ex. 6


def _spd(d: int, g: torch.Generator, corr: float = 0.0) -> torch.Tensor:
    """A random symmetric positive-definite (D, D) covariance; ``corr`` adds a shared factor
    (strong correlations)."""
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    shared = torch.ones(d, 1, dtype=torch.float64)
    return a @ a.T / d + 0.3 * torch.eye(d, dtype=torch.float64) + corr * shared @ shared.T


def _kl_full_inputs() -> list[tuple[torch.Tensor, ...]]:
    """(mu_q, cov_q, mu_p, cov_p): 3-D, 1-D, and 5-D with strong correlations."""
    g = torch.Generator().manual_seed(31)
    cases = []
    for d, corr in ((3, 0.0), (1, 0.0), (5, 2.0)):
        mu_q = torch.randn(d, generator=g, dtype=torch.float64)
        mu_p = torch.randn(d, generator=g, dtype=torch.float64)
        cases.append((mu_q, _spd(d, g, corr), mu_p, _spd(d, g, corr)))
    return cases


def _kl_full_parts(mu_q, cov_q, mu_p, cov_p) -> tuple[float, float, float, int]:
    """trace(S_p^-1 S_q), the Mahalanobis term, log det S_p - log det S_q, D."""
    diff = (mu_p - mu_q)[:, None]
    trace = float(torch.trace(torch.linalg.solve(cov_p, cov_q)))
    maha = float((diff.T @ torch.linalg.solve(cov_p, diff)).squeeze())
    logdets = float(torch.linalg.slogdet(cov_p)[1] - torch.linalg.slogdet(cov_q)[1])
    return trace, maha, logdets, mu_q.shape[0]


def check_kl_full_covariance(fn: Callable[..., object] | None) -> bool:
    """Lesson 03, exercise 6: ``fn(mu_q, cov_q, mu_p, cov_p)`` returns
    ``D_KL(N(mu_q, S_q) || N(mu_p, S_p)) = 0.5 (tr(S_p^-1 S_q) + (mu_p - mu_q)^T S_p^-1
    (mu_p - mu_q) - D + log det S_p - log det S_q)`` for means (D,) and covariances (D, D), as a
    number. Tried on three pairs (D = 3, 1, 5; the last strongly correlated), to rel 1e-6, with
    ``torch.distributions.kl_divergence`` and vaelib's KLs refused."""
    if feedback.unanswered(fn, "your function"):
        return False
    from vaelib import latent

    refused = [(torch.distributions, "kl_divergence"), (torch.distributions.kl, "kl_divergence"),
               (kl, "kl_gaussian"), (latent, "kl_to_standard_normal")]  # fmt: skip
    with feedback.refuse_shortcut(fn, *refused) as student:
        for mu_q, cov_q, mu_p, cov_p in _kl_full_inputs():
            got = feedback.call_student(
                student, mu_q, cov_q, mu_p, cov_p, none_hint="write its body."
            )
            if isinstance(got, str):
                return feedback.not_yet(got)
            if got.numel() != 1:
                return feedback.not_yet(
                    f"return one number, got a tensor of shape {tuple(got.shape)}."
                )
            hint = _kl_full_hint(float(got), mu_q, cov_q, mu_p, cov_p)
            if hint is not None:
                return feedback.not_yet(f"{hint} (D = {mu_q.shape[0]})")
    return feedback.right(
        "trace, Mahalanobis and log-determinant terms, each through S_p^-1 (a solve, not an "
        "inverse) and slogdet: with diagonal covariances it is exercise 2's sum over dimensions."
    )


def _kl_full_hint(value: float, mu_q, cov_q, mu_p, cov_p) -> str | None:
    trace, maha, logdets, d = _kl_full_parts(mu_q, cov_q, mu_p, cov_p)
    target = 0.5 * (trace + maha - d + logdets)

    def near(t: float) -> bool:
        return math.isfinite(value) and math.isclose(value, t, rel_tol=1e-6, abs_tol=1e-9)

    if near(target):
        return None
    if not math.isfinite(value):
        return "your KL is nan or inf: use torch.linalg.slogdet (or a Cholesky factor) for log det."
    t2, m2, l2, _ = _kl_full_parts(mu_p, cov_p, mu_q, cov_q)
    if near(0.5 * (t2 + m2 - d + l2)):
        return "that is D_KL(p || q): q = N(mu_q, S_q) comes first, and S_p^-1 is the prior's."
    if near(2 * target):
        return "mind the factor 1/2 in front of the bracket."
    if near(0.5 * (trace + maha + logdets)):
        return "subtract D, the dimension: the KL is 0 when q = p."
    if near(0.5 * (trace + maha - d - logdets)):
        return "the log-determinants: + log det S_p - log det S_q (the prior's first)."
    diag = [torch.diag(torch.diagonal(c)) for c in (cov_q, cov_p)]
    t3, m3, l3, _ = _kl_full_parts(mu_q, diag[0], mu_p, diag[1])
    if near(0.5 * (t3 + m3 - d + l3)):
        return "that uses only the covariances' diagonals: the off-diagonal terms matter here."
    inv_q = 0.5 * (
        float(torch.trace(torch.linalg.solve(cov_q, cov_p)))
        + float((mu_p - mu_q) @ torch.linalg.solve(cov_q, mu_p - mu_q))
        - d + logdets
    )  # fmt: skip
    if near(inv_q):
        return "both the trace and the Mahalanobis term use the prior's S_p^-1, not S_q^-1."
    return (
        "0.5 * (tr(S_p^-1 S_q) + (mu_p - mu_q)^T S_p^-1 (mu_p - mu_q) - D + log det S_p - "
        "log det S_q): check each term (torch.linalg.solve, torch.trace, torch.linalg.slogdet)."
    )
