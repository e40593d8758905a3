"""Self-checks for lesson 07 (BIC curves, Gaussian mixtures on the codes): each prints
``Right: <why>`` or ``Not yet: <hint>`` and returns the bool.

The checks run the student's function on inputs the notebook never shows (other k, d, n,
other mixtures, edge cases such as k = 1 or d = 1) and, while they run, refuse the library
function the exercise re-implements (``bic.n_parameters``, ``bic.sample_mixture``).
"""

from __future__ import annotations

import math
import warnings
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


# ----------------------------------------------------------------------------- EM, exercise 4


def _em_data() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(x, weights, means, variances): three 1-D data sets and starting parameters, one with
    points hundreds of standard deviations from a component (its density underflows in exp)."""
    g = torch.Generator().manual_seed(71)
    f64 = torch.float64
    a = torch.cat(
        [
            torch.randn(150, generator=g, dtype=f64) - 2,
            0.5 * torch.randn(100, generator=g, dtype=f64) + 3,
        ]
    )
    b = torch.cat([torch.randn(60, generator=g, dtype=f64) * 2, torch.randn(40, generator=g, dtype=f64) + 8,
                   0.3 * torch.randn(50, generator=g, dtype=f64) - 5])  # fmt: skip
    c = torch.cat(
        [
            0.01 * torch.randn(30, generator=g, dtype=f64),
            0.01 * torch.randn(30, generator=g, dtype=f64) + 50,
        ]
    )
    return [
        (a, torch.tensor([0.5, 0.5], dtype=f64), torch.tensor([-1.0, 1.0], dtype=f64), torch.tensor([1.0, 1.0], dtype=f64)),
        (b, torch.tensor([0.2, 0.3, 0.5], dtype=f64), torch.tensor([0.0, 6.0, -4.0], dtype=f64),
         torch.tensor([4.0, 1.0, 1.0], dtype=f64)),
        (c, torch.tensor([0.5, 0.5], dtype=f64), torch.tensor([0.1, 45.0], dtype=f64), torch.tensor([1e-3, 1e-3], dtype=f64)),
    ]  # fmt: skip


def _em_reference(x, weights, means, variances):
    """One EM step for a 1-D mixture: responsibilities r (N, K), then the M-step."""
    log_n = -0.5 * ((x[:, None] - means).pow(2) / variances + torch.log(2 * math.pi * variances))
    log_r = torch.log(weights) + log_n
    r = torch.softmax(log_r, dim=1)
    nk = r.sum(0)
    new_means = (r * x[:, None]).sum(0) / nk
    new_vars = (r * (x[:, None] - new_means).pow(2)).sum(0) / nk
    return nk / x.shape[0], new_means, new_vars, r


def _as_triple(got: object) -> tuple[torch.Tensor, ...] | str:
    if isinstance(got, str):
        return got
    if not (isinstance(got, tuple | list) and len(got) == 3):
        return f"return a tuple (weights, means, variances), got {type(got).__name__}."
    try:
        return tuple(torch.as_tensor(t, dtype=torch.float64).reshape(-1) for t in got)
    except (TypeError, ValueError, RuntimeError) as err:
        return f"return three tensors of shape (K,): {err}"


def check_em_step(fn: Callable[..., object] | None) -> bool:
    """Lesson 07, exercise 4: ``fn(x, weights, means, variances)`` does one EM step for a 1-D
    Gaussian mixture (x (N,), the rest (K,)) and returns the new ``(weights, means, variances)``.

    One step is compared with the formula (rel 1e-6) on three unseen data sets, one with points
    hundreds of standard deviations from a component; then 300 of the student's steps from the
    same start are compared with scikit-learn's ``GaussianMixture`` (``reg_covar=0``, the same
    start) to rel 1e-4. ``bic.fit_gmm`` is refused."""
    if feedback.unanswered(fn, "your function"):
        return False
    from sklearn.mixture import GaussianMixture

    with feedback.refuse_shortcut(
        fn, *[(bic, n) for n in ("fit_gmm", "bic_curve") if hasattr(bic, n)]
    ) as student:
        for x, w, m, v in _em_data():
            got = _as_triple(_call_em(student, x, w, m, v))
            if isinstance(got, str):
                return feedback.not_yet(got)
            hint = _em_hint(got, x, w, m, v)
            if hint is not None:
                return feedback.not_yet(f"{hint} (K = {len(w)}, N = {len(x)})")
        x, w, m, v = _em_data()[1]
        for _ in range(300):
            got = _as_triple(_call_em(student, x, w, m, v))
            if isinstance(got, str):
                return feedback.not_yet(got)
            w, m, v = got
    gm = GaussianMixture(3, covariance_type="diag", reg_covar=0.0, tol=0.0, max_iter=300,
                         weights_init=_em_data()[1][1].numpy(),
                         means_init=_em_data()[1][2].numpy()[:, None],
                         precisions_init=1 / _em_data()[1][3].numpy()[:, None])  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0: it always "fails to converge" after 300 steps
        gm.fit(x.numpy()[:, None])
    ref_m = torch.as_tensor(gm.means_[:, 0])
    if not torch.allclose(m, ref_m, rtol=1e-4, atol=1e-6):
        return feedback.not_yet(
            f"one step is right, but 300 steps end at means {m.tolist()}, scikit-learn's at "
            f"{ref_m.tolist()}: return new tensors, don't change the inputs in place."
        )
    return feedback.right(
        "E-step by logsumexp (softmax of log pi_k + log N_k), M-step with the responsibilities "
        "as weights; 300 of your steps land where scikit-learn's GaussianMixture does."
    )


def _call_em(fn, *args):
    try:
        out = fn(*[a.clone() for a in args])
    except Exception as err:  # noqa: BLE001 - the student's code may fail in any way
        return f"your function raised {type(err).__name__}: {err}"
    if out is None:  # an empty body: no answer yet
        return feedback.NoAnswer("your function returns None; return (weights, means, variances).")
    return out


def _em_hint(got, x, w, m, v) -> str | None:
    w1, m1, v1, r = _em_reference(x, w, m, v)
    k = len(w)
    if any(t.shape != (k,) for t in got):
        return f"return three tensors of shape (K,) = ({k},)."
    gw, gm, gv = got

    def close(a, b) -> bool:
        return bool(torch.allclose(a, b, rtol=1e-6, atol=1e-10))

    if close(gw, w1) and close(gm, m1) and close(gv, v1):
        return None
    if not all(bool(torch.isfinite(t).all()) for t in got):
        return (
            "nan or inf: far from a component exp(log N) underflows to 0 for every k, and 0 / 0 "
            "is nan. Normalise in logs: r = softmax(log pi_k + log N_k, dim=1)."
        )
    if close(gw, r.sum(0)):
        return "the weights are the responsibilities' mean over points, N_k / N: divide by N."
    if close(gm, m1) and close(gv, (r * (x[:, None] - m).pow(2)).sum(0) / r.sum(0)):
        return "the variances use the NEW means (the M-step's own means), not the old ones."
    if close(gm, m1) and close(gv, v1.sqrt()):
        return "return variances, not standard deviations."
    if close(gm, m1) and close(gv, (r * (x[:, None] - m1).pow(2)).mean(0)):
        return "divide the weighted squared deviations by N_k = sum_n r_nk, not by N."
    if not close(gm, m1):
        unnorm = torch.log(w) - 0.5 * ((x[:, None] - m).pow(2) / v + torch.log(2 * math.pi * v))
        un = unnorm.exp()
        if close(gm, (un * x[:, None]).sum(0) / un.sum(0)) or close(gw, un.mean(0)):
            return "normalise the responsibilities over the components: each row of r sums to 1."
        return (
            "the means: m_k = sum_n r_nk x_n / N_k with r_nk = pi_k N(x_n; m_k, v_k) / "
            "sum_j pi_j N(x_n; m_j, v_j)."
        )
    return (
        "M-step: pi_k = N_k / N, m_k = sum_n r_nk x_n / N_k, v_k = sum_n r_nk (x_n - m_k)^2 / N_k."
    )
