"""Self-checks for lesson 07 (BIC curves and Gaussian mixtures on the latent space): each
prints right or wrong, with a hint, and returns a bool."""

from __future__ import annotations

from collections.abc import Callable

import torch

from vaelib.exercises.feedback import call_student, report


def check_n_parameters_full(fn: Callable[[int, int], int]) -> bool:
    """``fn(k, d)`` must return the number of free parameters of a mixture of ``k`` Gaussians
    with full covariances in ``d`` dimensions: ``(k - 1) + k d + k d (d + 1) / 2``."""
    cases = [(1, 1), (1, 2), (3, 2), (10, 20), (7, 5)]
    try:
        got = [fn(k, d) for k, d in cases]
    except Exception as err:  # noqa: BLE001 - the student's code: report, don't crash
        return report(False, f"your function raised {type(err).__name__}: {err}")
    if any(g is None for g in got):
        return report(False, "your function returns None: write its body.")
    expected = [(k - 1) + k * d + k * d * (d + 1) // 2 for k, d in cases]
    if got == expected:
        return report(True, "")
    if got == [k + k * d + k * d * (d + 1) // 2 for k, d in cases]:
        return report(False, "the k weights sum to 1, so only k - 1 of them are free.")
    if got == [(k - 1) + k * d + k * d * d for k, d in cases]:
        return report(
            False,
            "a covariance matrix is symmetric: only d (d + 1) / 2 of its d^2 entries are free.",
        )
    if got == [(k - 1) + k * d + k * d for k, d in cases]:
        return report(False, "that is the count for diagonal covariances; full ones have more.")
    return report(
        False,
        f"for k=3, d=2 expect {expected[2]}: 2 weights + 6 means + 3 x 3 covariance entries.",
    )


def _mixture() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    weights = torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64)
    means = torch.tensor([[0.0, 0.0], [30.0, 0.0], [0.0, 30.0]], dtype=torch.float64)
    covariances = torch.tensor(
        [[[4.0, 1.5], [1.5, 1.0]], [[0.25, 0.0], [0.0, 2.25]], [[1.0, -0.5], [-0.5, 1.0]]],
        dtype=torch.float64,
    )
    return weights, means, covariances


def check_sample_mixture(
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int, torch.Generator], torch.Tensor],
) -> bool:
    """``fn(weights, means, covariances, n, generator)`` must draw ``n`` codes ``(n, d)`` from
    the mixture ``sum_j weights[j] N(means[j], covariances[j])``: a component
    ``j ~ Categorical(weights)``, then ``z = means[j] + L_j eps`` with ``L_j L_j^T = Sigma_j``.

    weights (k,), means (k, d), covariances (k, d, d), all float64. Checked on a 3-component
    mixture in 2-D whose components lie far apart: the share of samples near each mean must
    match the weights and each component's samples its mean and covariance.
    """
    weights, means, covariances = _mixture()
    n = 20_000
    z = call_student(fn, weights, means, covariances, n, torch.Generator().manual_seed(0))
    if isinstance(z, str):
        return report(False, z)
    if z.shape != (n, 2):
        return report(False, f"return one code per row, shape ({n}, 2), got {tuple(z.shape)}.")
    j = torch.cdist(z, means).argmin(dim=1)  # the components lie far apart: nearest mean
    share = torch.bincount(j, minlength=3).double() / n
    if (share - weights).abs().max() > 0.02:
        return report(
            False,
            f"the components' shares are {share.numpy().round(3)}, expected {weights.numpy()}: "
            "draw j with torch.multinomial(weights, n, replacement=True, generator=generator).",
        )
    for c in range(3):
        zc = z[j == c]
        cov = torch.cov(zc.T)
        if (zc.mean(0) - means[c]).abs().max() > 0.15:
            return report(False, f"component {c}'s samples are not centred on means[{c}].")
        if torch.allclose(cov, covariances[c] @ covariances[c], rtol=0.15, atol=0.1):
            return report(
                False,
                "you multiplied eps by the covariance: use its Cholesky factor L, L L^T = Sigma.",
            )
        if not torch.allclose(cov, covariances[c], rtol=0.15, atol=0.1):
            return report(
                False,
                f"component {c}'s samples have covariance {cov.numpy().round(2).tolist()}, "
                f"expected {covariances[c].numpy().tolist()}: z = mu + eps @ L.T with "
                "L = torch.linalg.cholesky(Sigma).",
            )
    return report(True, "")
