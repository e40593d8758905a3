"""Self-checks for lesson 08 (beta, posterior collapse and learned priors): each prints
``Right: ...`` or ``Not yet: ...`` and returns a bool."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from vaelib import collapse, kl
from vaelib.exercises.feedback import NoAnswer, not_yet, refuse_shortcut, right


def _codes() -> tuple[torch.Tensor, torch.Tensor]:
    """8 images, 7 dimensions: used (0, 3: their means move), collapsed (1, 4, 5, 6), and one (2)
    whose mean never moves but whose variance is far from the prior's: its KL is not small, and
    it is not active."""
    g = torch.Generator().manual_seed(0)
    mu = torch.zeros(8, 7, dtype=torch.float64)
    logvar = torch.zeros(8, 7, dtype=torch.float64)
    mu[:, 0] = 2 * torch.randn(8, generator=g, dtype=torch.float64)
    logvar[:, 0] = -3.0
    mu[:, 1] = 0.01 * torch.randn(8, generator=g, dtype=torch.float64)  # KL_1 ~ 5e-5
    logvar[:, 2] = -2.0  # KL_2 = 0.5 * (e^-2 - 1 + 2) = 0.57, yet Var(mu_2) = 0
    mu[0, 3] = 1.0  # one image only: KL_3 = 0.5 / 8 = 0.0625
    logvar[:, 4] = 0.05  # KL_4 ~ 6e-4
    return mu, logvar


def check_active_units(fn: Callable[[torch.Tensor, torch.Tensor, float], int] | None) -> bool:
    """``fn(mu, logvar, threshold)``: mu, logvar (N, D) -> Burda et al.'s (2016) number of
    active units, the dimensions whose posterior mean moves with x: ``Var_x(mu_d) > threshold``
    (logvar is there to be left out). Refuses ``collapse.activity``, ``collapse.active_units``,
    ``collapse.kl_per_dimension`` and ``kl.kl_gaussian``."""
    mu, logvar = _codes()
    expected = int((mu.var(0) > 0.01).sum())  # 2: dimensions 0 and 3
    with refuse_shortcut(
        fn,
        (collapse, "activity"),
        (collapse, "active_units"),
        (collapse, "kl_per_dimension"),
        (kl, "kl_gaussian"),
    ):
        try:
            got = fn(mu, logvar, 0.01)
        except Exception as err:  # noqa: BLE001 - the student's code may fail in any way
            return not_yet(f"your function raised {type(err).__name__}: {err}")
    if got is None:
        return not_yet(NoAnswer("your function returns None; write its body."))
    try:
        got = int(got)
    except (TypeError, ValueError):
        return not_yet(f"return one whole number (a count of dimensions), got {got!r:.60}.")
    if got == expected:
        return right(
            "a unit is active when its posterior mean moves with x (Burda et al. 2016): the "
            "variance over images of mu_d is above the threshold."
        )
    kl_d = (0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).mean(0)
    if got == int((kl_d > 0.01).sum()):
        return not_yet(
            "that counts dimensions whose KL_d is above the threshold: the rate they cost. A "
            "dimension whose mean never moves but whose variance differs from 1 costs nats and "
            "carries nothing about x; count from the means: Var over images of mu_d."
        )
    if got == mu.shape[1] - expected:
        return not_yet("that counts the collapsed dimensions: count those above the threshold.")
    if got in (0, 1):
        return not_yet(
            "keep one value per dimension: the variance of mu over the images (dim 0), then "
            "compare each of the D values with the threshold."
        )
    return not_yet(
        "per dimension d: A_d = variance over images of mu[:, d]; count A_d > threshold."
    )


# ----------------------------------------------------------------------------- exercise 3

_LOG_2PI = math.log(2 * math.pi)


def _mixture_cases() -> list[tuple[torch.Tensor, ...]]:
    """(z, mu, logvar, log_weights, means, logvars): K = 3 in 2-D, K = 1 in 4-D, and K = 5 in
    3-D with one code far from every component (its mixture density underflows in exp)."""
    g = torch.Generator().manual_seed(81)
    cases = []
    for n, d, k in ((6, 2, 3), (4, 4, 1), (5, 3, 5)):
        mu = torch.randn(n, d, generator=g, dtype=torch.float64)
        logvar = torch.randn(n, d, generator=g, dtype=torch.float64) - 1
        z = mu + torch.exp(0.5 * logvar) * torch.randn(n, d, generator=g, dtype=torch.float64)
        log_w = torch.log_softmax(torch.randn(k, generator=g, dtype=torch.float64), 0)
        means = 2 * torch.randn(k, d, generator=g, dtype=torch.float64)
        logvars = torch.randn(k, d, generator=g, dtype=torch.float64) - 2
        cases.append([z, mu, logvar, log_w, means, logvars])
    cases[2][0][0] = 40.0  # far out: every component's density is exp(-thousands)
    cases[2][1][0] = 40.0
    return [tuple(c) for c in cases]


def _log_normal(z, mean, logvar):
    return -0.5 * ((z - mean).pow(2) / logvar.exp() + logvar + _LOG_2PI).sum(-1)


def _mixture_terms(z, mu, logvar, log_w, means, logvars):
    """log q(z|x) (N,), the per-component log N(z; m_k, s_k^2) (N, K), and log p(z) (N,)."""
    log_q = _log_normal(z, mu, logvar)
    log_nk = _log_normal(z[:, None], means, logvars)
    return log_q, log_nk, torch.logsumexp(log_w + log_nk, 1)


def check_mixture_kl(fn: Callable[..., object] | None) -> bool:
    """Lesson 08, exercise 3: ``fn(z, mu, logvar, log_weights, means, logvars)`` returns the
    one-sample Monte Carlo KL ``log q(z|x) - log p(z)`` per image (N,), for z (N, D) drawn from
    q(z|x) = N(mu, diag exp(logvar)) and the mixture prior ``p(z) = sum_k pi_k N(z; m_k, diag
    exp(s_k))``: log_weights = log pi (K,), means and logvars (K, D). Exact (rel 1e-6) on three
    unseen cases, one with a code where every component's density underflows; vaelib's priors
    and losses refused."""
    if fn is None:
        print("No answer yet: replace None with your function, then run the cell again.")
        return False
    from vaelib import losses, priors

    refused = [(priors.MixturePrior, "log_prob"), (losses, "negative_elbo")]
    refused += [(priors, name) for name in ("log_normal_diag",) if hasattr(priors, name)]
    with refuse_shortcut(fn, *refused) as student:
        for case in _mixture_cases():
            try:
                got = student(*case)
            except Exception as err:  # noqa: BLE001 - the student's code may fail in any way
                return not_yet(f"your function raised {type(err).__name__}: {err}")
            if got is None:
                return not_yet(NoAnswer("your function returns None; write its body."))
            hint = _mixture_hint(torch.as_tensor(got, dtype=torch.float64), *case)
            if hint is not None:
                k, d = case[4].shape
                return not_yet(f"{hint} (K = {k} components in {d}-D)")
    return right(
        "log q(z|x) - logsumexp_k (log pi_k + log N(z; m_k, s_k^2)) with the z the decoder uses: "
        "unbiased for KL(q || p), and stable where every component's density underflows."
    )


def _mixture_hint(got, z, mu, logvar, log_w, means, logvars) -> str | None:
    n = z.shape[0]
    if got.shape != (n,):
        return f"return one value per image, shape (N,) = ({n},), got {tuple(got.shape)}."
    log_q, log_nk, log_p = _mixture_terms(z, mu, logvar, log_w, means, logvars)

    def close(t: torch.Tensor) -> bool:
        return bool(torch.allclose(got, t, rtol=1e-6, atol=1e-8))

    if close(log_q - log_p):
        return None
    if not bool(torch.isfinite(got).all()):
        return (
            "inf or nan: far from every component, exp(log N) is 0 and log 0 = -inf. Add the "
            "log-weights to the log-densities and take torch.logsumexp over the components."
        )
    if close(log_p - log_q):
        return "the sign: KL(q || p) is estimated by log q(z|x) - log p(z)."
    if close(log_q - torch.logsumexp(log_nk, 1)):
        return "weight the components: logsumexp_k (log pi_k + log N(z; m_k, s_k^2))."
    if close(log_q - torch.logsumexp(log_nk, 1) + math.log(log_nk.shape[1])):
        return "that weighs every component 1/K: use the given log_weights = log pi_k."
    if close(log_q - (log_w + log_nk).max(1).values):
        return "that is the nearest component only: sum over all of them (logsumexp)."
    if close(log_q - (log_w.exp() * log_nk).sum(1)):
        return (
            "the log of a sum is not the sum of logs: log p(z) = logsumexp_k (log pi_k + log N_k)."
        )
    return (
        "log q(z|x) = -0.5 sum_d ((z - mu)^2 / exp(logvar) + logvar + log 2 pi); log p(z) = "
        "logsumexp_k (log pi_k + log N(z; m_k, diag exp(s_k))); return log q - log p."
    )
