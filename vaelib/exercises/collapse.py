"""Self-checks for lesson 08 (beta, posterior collapse and learned priors): each prints
``Right: ...`` or ``Not yet: ...`` and returns a bool."""

from __future__ import annotations

from collections.abc import Callable

import torch

from vaelib import collapse, kl
from vaelib.exercises.feedback import not_yet, refuse_shortcut, right


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
        return not_yet("your function returns None: write its body.")
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
