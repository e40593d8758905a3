"""Self-checks for lesson 07 (BIC curves, Gaussian mixtures on the codes): each prints
``Right: <why>`` or ``Not yet: <hint>`` and returns the bool.

The checks run the student's function on inputs the notebook never shows (other k, d, n,
other mixtures, edge cases such as k = 1 or d = 1) and, while they run, refuse the library
function the exercise re-implements (``bic.n_parameters``, ``bic.sample_mixture``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from vaelib import bic
from vaelib.exercises import feedback

# (k, d) the notebook never prints: edge cases first (k = 1 has no free weight, d = 1 is a line)
_COUNT_CASES = [(1, 1), (1, 5), (4, 1), (3, 2), (7, 13), (12, 31)]


def _returns_none(fn: Callable[..., object], *args: object) -> bool:
    """True for the exercise's untouched stub (it returns None); errors are the check's job."""
    try:
        return fn(*args) is None
    except Exception:  # noqa: BLE001 - the student's code may fail in any way
        return False


def _full_count(k: int, d: int) -> int:
    return (k - 1) + k * d + k * d * (d + 1) // 2


def check_n_parameters_full(fn: Callable[[int, int], int]) -> bool:
    """``fn(k, d)`` must return the free parameters of a mixture of ``k`` full-covariance
    Gaussians in ``d`` dimensions, ``(k - 1) + k d + k d (d + 1) / 2``, without calling
    ``bic.n_parameters``. Checked on (k, d) pairs the lesson does not print."""
    got = []
    if _returns_none(fn, 2, 3):
        return not feedback.unanswered(None, "a return statement that counts the parameters")
    with feedback.refuse_shortcut(fn, (bic, "n_parameters")):
        for k, d in _COUNT_CASES:
            answer = feedback.call_student(fn, k, d, none_hint="return the count for (k, d).")
            if isinstance(answer, str):
                return feedback.not_yet(answer)
            if answer.numel() != 1:
                return feedback.not_yet(
                    f"return one number for (k, d) = ({k}, {d}), got {answer.shape}."
                )
            got.append(float(answer))
    expected = [_full_count(k, d) for k, d in _COUNT_CASES]
    if all(feedback.is_close(g, e) for g, e in zip(got, expected, strict=True)):
        return feedback.right(
            "k - 1 free weights (they sum to 1), k d means and d (d + 1) / 2 entries per "
            "symmetric covariance: one more component in 20-D costs 1 + 20 + 210 = 231."
        )
    slips = [
        (lambda k, d: k + k * d + k * d * (d + 1) // 2,
         "the k weights sum to 1, so only k - 1 of them are free (k = 1 has none)."),
        (lambda k, d: k * d + k * d * (d + 1) // 2,
         "you left out the mixture weights pi_j: k - 1 of them are free parameters too."),
        (lambda k, d: (k - 1) + k * d + k * d * d,
         "a covariance matrix is symmetric: only d (d + 1) / 2 of its d^2 entries are free."),
        (lambda k, d: (k - 1) + k * d + k * d,
         "that is the count for diagonal covariances; a full one has d (d + 1) / 2 entries."),
        (lambda k, d: (k - 1) + k * d + d * (d + 1) // 2,
         "that is one covariance shared by all components ('tied'); here each has its own."),
    ]  # fmt: skip
    for slip, hint in slips:
        if all(
            feedback.is_close(g, slip(k, d)) for g, (k, d) in zip(got, _COUNT_CASES, strict=True)
        ):
            return feedback.not_yet(hint)
    k, d = next(c for c, g, e in zip(_COUNT_CASES, got, expected, strict=True) if g != e)
    return feedback.not_yet(
        f"wrong for k = {k}, d = {d}: add up the free weights, the means and each component's "
        "free covariance entries separately."
    )


def check_nats_per_component(fn: Callable[[int, int], float]) -> bool:
    """``fn(d, n)`` must return how many nats one more full-covariance component must raise the
    maximised log-likelihood ``log L`` of ``n`` codes in ``d`` dimensions by, for the BIC to
    fall: ``(p(k + 1) - p(k)) log(n) / 2 = (1 + d + d (d + 1) / 2) log(n) / 2`` (relative
    tolerance 1e-6). Checked on (d, n) pairs the lesson does not use."""
    cases = [(1, 50), (2, 500), (5, 3000), (31, 123_456)]
    got = []
    if _returns_none(fn, 2, 100):
        return not feedback.unanswered(None, "a return statement that computes the nats")
    for d, n in cases:
        answer = feedback.call_student(fn, d, n, none_hint="return the number of nats for (d, n).")
        if isinstance(answer, str):
            return feedback.not_yet(answer)
        if answer.numel() != 1:
            return feedback.not_yet(
                f"return one number for (d, n) = ({d}, {n}), got {answer.shape}."
            )
        got.append(float(answer))

    def matches(formula: Callable[[int, int], float]) -> bool:
        return all(
            feedback.is_close(g, formula(d, n)) for g, (d, n) in zip(got, cases, strict=True)
        )

    def extra(d: int) -> int:  # parameters one more component adds
        return 1 + d + d * (d + 1) // 2

    if matches(lambda d, n: extra(d) * math.log(n) / 2):
        return feedback.right(
            "BIC = -2 log L + p log n, so each new parameter must buy log(n) / 2 nats of log L, "
            "and a full component adds 1 weight + d means + d (d + 1) / 2 covariance entries."
        )
    if matches(lambda d, n: (extra(d) - 1) * math.log(n) / 2):
        return feedback.not_yet(
            "the new component's weight is a free parameter too: add 1 to the count."
        )
    if matches(lambda d, n: extra(d) * math.log(n)):
        return feedback.not_yet(
            "BIC counts -2 log L: a gain of G nats in log L lowers the BIC by 2 G, so halve it."
        )
    if matches(lambda d, n: extra(d) * math.log10(n) / 2) or matches(
        lambda d, n: extra(d) * math.log2(n) / 2
    ):
        return feedback.not_yet(
            "use the natural log: nats are ln units, and the BIC's log n is ln n."
        )
    if matches(lambda d, n: extra(d) / 2):
        return feedback.not_yet(
            "the price per parameter grows with the number of codes: log(n) / 2 each."
        )
    return feedback.not_yet(
        "count the parameters one more full component adds (its weight, mean and covariance), "
        "then ask what rise in log L pays for p log n in the BIC."
    )


def _mixtures() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Three mixtures the lesson never shows, each with components far apart: 2-D with
    correlated components, 3-D with four, and 1-D (d = 1: covariances of shape (k, 1, 1))."""
    g = torch.Generator().manual_seed(20_200_525)
    a = torch.randn(4, 3, 3, generator=g, dtype=torch.float64)
    return [
        (
            torch.tensor([0.55, 0.3, 0.15], dtype=torch.float64),
            torch.tensor([[0.0, 0.0], [30.0, 0.0], [0.0, 30.0]], dtype=torch.float64),
            torch.tensor(
                [[[4.0, 1.5], [1.5, 1.0]], [[0.25, 0.0], [0.0, 2.25]], [[1.0, -0.5], [-0.5, 1.0]]],
                dtype=torch.float64,
            ),
        ),
        (
            torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64),
            40.0 * torch.eye(4, 3, dtype=torch.float64),
            a @ a.transpose(1, 2) / 3 + 0.3 * torch.eye(3, dtype=torch.float64),
        ),
        (
            torch.tensor([0.7, 0.3], dtype=torch.float64),
            torch.tensor([[-20.0], [20.0]], dtype=torch.float64),
            torch.tensor([[[9.0]], [[0.25]]], dtype=torch.float64),
        ),
    ]


def _check_one_mixture(z: torch.Tensor, weights, means, covariances) -> str | None:
    """None when the samples z (n, d) match the mixture, else a hint."""
    n, (k, d) = z.shape[0], means.shape
    j = torch.cdist(z, means).argmin(dim=1)  # the components lie far apart: nearest mean
    share = torch.bincount(j, minlength=k).double() / n
    if (share - weights).abs().max() > 0.02:
        return (
            f"the components' shares are {share.numpy().round(3).tolist()}, expected "
            f"{weights.numpy().round(3).tolist()}: pick each code's component j with "
            "probability weights[j] (torch.multinomial with replacement), not uniformly."
        )
    for c in range(k):
        zc = z[j == c]
        if (zc.mean(0) - means[c]).abs().max() > 0.2:
            return f"component {c}'s samples are not centred on means[{c}]: z = means[j] + ..."
        cov = torch.cov(zc.T).reshape(d, d)
        tol = dict(rtol=0.15, atol=0.1 * float(covariances[c].diagonal().max()))
        if torch.allclose(cov, covariances[c], **tol):
            continue
        if torch.allclose(cov, covariances[c] @ covariances[c], **tol):
            return "you multiplied eps by the covariance: use its Cholesky factor L, L L^T = Sigma."
        if torch.allclose(cov, torch.diag(covariances[c].diagonal()), **tol):
            return (
                "your samples ignore the correlations: use the Cholesky factor of the full Sigma."
            )
        if torch.allclose(cov.diagonal(), covariances[c].diagonal().sqrt(), **tol):
            return "your variances are the square roots of Sigma's: L L^T = Sigma, not L = sqrt."
        return (
            f"component {c}'s samples have covariance {cov.numpy().round(2).tolist()}, expected "
            f"{covariances[c].numpy().round(2).tolist()}: z = mu_j + L_j eps with "
            "L_j = torch.linalg.cholesky(Sigma_j)."
        )
    return None


def check_sample_mixture(
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int, torch.Generator], torch.Tensor],
) -> bool:
    """``fn(weights, means, covariances, n, generator)`` must draw ``n`` codes ``(n, d)`` from
    ``sum_j weights[j] N(means[j], covariances[j])``: a component ``j ~ Categorical(weights)``,
    then ``z = means[j] + L_j eps`` with ``L_j L_j^T = Sigma_j``, all randomness from
    ``generator``. weights (k,), means (k, d), covariances (k, d, d), float64.

    Checked on three mixtures the lesson never shows (2-D, 3-D, and 1-D), with components far
    apart: each component's share must match its weight (within 0.02) and its samples its mean
    and covariance; the same generator seed must give the same codes. ``bic.sample_mixture``
    is refused while the check runs.
    """
    n = 20_000
    weights, means, covariances = _mixtures()[0]
    if _returns_none(fn, weights, means, covariances, 10, torch.Generator().manual_seed(0)):
        return not feedback.unanswered(None, "a return statement that draws the codes")
    with feedback.refuse_shortcut(fn, (bic, "sample_mixture")):
        for weights, means, covariances in _mixtures():
            d = means.shape[1]
            z = feedback.call_student(
                fn, weights, means, covariances, n, torch.Generator().manual_seed(0),
                none_hint="return the codes, a tensor (n, d).",
            )  # fmt: skip
            if isinstance(z, str):
                return feedback.not_yet(z)
            if z.shape != (n, d):
                return feedback.not_yet(
                    f"for a {d}-D mixture return one code per row, shape ({n}, {d}), "
                    f"got {tuple(z.shape)}."
                )
            hint = _check_one_mixture(z, weights, means, covariances)
            if hint is not None:
                return feedback.not_yet(f"{d}-D mixture: {hint}")
            again = feedback.call_student(
                fn, weights, means, covariances, n, torch.Generator().manual_seed(0)
            )
            if isinstance(again, str) or not torch.equal(again, z):
                return feedback.not_yet(
                    "the same generator seed gave different codes: draw every random number "
                    "from `generator` (generator=generator), not from the global seed."
                )
    return feedback.right(
        "first j ~ Categorical(pi), then z = mu_j + L_j eps: the two steps of the mixture's "
        "generative story, with L_j L_j^T = Sigma_j so that Cov[z | j] = Sigma_j."
    )
