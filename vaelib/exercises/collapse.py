"""Self-checks for lesson 08 (beta, posterior collapse and learned priors): each prints
``Right: ...`` or ``Not yet: ...`` and returns a bool."""

from __future__ import annotations

from collections.abc import Callable

import torch

from vaelib import collapse, kl
from vaelib.exercises.feedback import NoAnswer, not_yet, refuse_shortcut, right


def _codes() -> tuple[torch.Tensor, torch.Tensor]:
    """8 images, 7 dimensions: used (0, 3), collapsed (1, 4, 5, 6), and one (2) whose mean never moves
    but whose variance is far from the prior's, so its KL is not small."""
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
    """``fn(mu, logvar, threshold)``: mu, logvar (N, D) -> the number of dimensions whose KL to
    N(0, 1), averaged over the N images, is above ``threshold`` nats. Refuses
    ``collapse.kl_per_dimension``, ``collapse.active_units`` and ``kl.kl_gaussian``."""
    mu, logvar = _codes()
    kl_d = (0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).mean(0)
    expected = int((kl_d > 0.01).sum())  # 3: dimensions 0, 2, 3
    with refuse_shortcut(
        fn, (collapse, "kl_per_dimension"), (collapse, "active_units"), (kl, "kl_gaussian")
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
        return right("a dimension is active when its KL, averaged over images, is above the floor.")
    if got == int((mu.var(0) > 0.01).sum()):
        return not_yet(
            "that counts dimensions whose mean moves (Var mu_d); the exercise asks for KL_d, "
            "which also sees a variance that differs from the prior's."
        )
    if got == mu.shape[1] - expected:
        return not_yet("that counts the collapsed dimensions: count those above the threshold.")
    if got in (0, 1):
        return not_yet(
            "keep one KL per dimension: sum (1 + logvar - mu^2 - exp(logvar)) over nothing, "
            "average over the images (dim 0), then compare each of the D values."
        )
    return not_yet(
        "per dimension d: KL_d = mean over images of 0.5 * (mu^2 + exp(logvar) - 1 - logvar)."
    )
