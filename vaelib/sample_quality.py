"""Sample quality in a feature space: the Fréchet distance and precision/recall (lesson 10).

Both compare two sets of features, ``real`` (N, D) from data and ``fake`` (M, D) from a model,
computed by one fixed network (the course's own Fashion-MNIST classifier,
``vaelib.classifier``; its ``features``).

- **Fréchet distance** (Heusel et al. 2017): fit a Gaussian to each set and take the squared
  2-Wasserstein distance between the two Gaussians,

      FD = ||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^{1/2}).

  With Inception-v3's pool features on ImageNet-like images this is the FID. Here the network is
  a small classifier the course trains on Fashion-MNIST, so the numbers are a **Fashion-MNIST
  analogue of FID, not FID**: they compare models within this course, never with FIDs in papers.
- **Precision and recall** (Kynkäänniemi et al. 2019): the data manifold is the union of balls
  around each real feature with radius its distance to its k-th nearest real neighbour;
  precision is the fraction of fake samples inside it (are samples realistic?), recall the
  fraction of real samples inside the fakes' manifold, built the same way (is the data covered?).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from vaelib import validate as check

DEFAULT_K = 3  # Kynkäänniemi et al. 2019 use k = 3
RANK_TOL = 1e-10  # an eigenvalue below RANK_TOL * the largest counts as zero: a singular matrix


def _features(f: object, name: str, min_rows: int = 1) -> torch.Tensor:
    """A float (N, D) feature tensor with N >= ``min_rows``, finite."""
    check.floating(f, name)
    if f.dim() != 2:
        raise ValueError(
            f"{name} must have shape (N, D), one feature vector per row, got {tuple(f.shape)}: "
            f"flatten images with a feature network first (classifier.features)."
        )
    if f.shape[0] < min_rows or f.shape[1] < 1:
        raise ValueError(
            f"{name} must hold at least {min_rows} rows of at least one feature, got "
            f"{tuple(f.shape)}: pass a non-empty set of samples."
        )
    check.finite(f, name)
    return f


def _same_width(a: torch.Tensor, b: torch.Tensor, names: tuple[str, str]) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{names[0]} has {a.shape[1]} features per row but {names[1]} has {b.shape[1]}: "
            "compute both with the same feature network."
        )


def feature_moments(
    features: torch.Tensor, name: str = "features"
) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean (D,) and the unbiased covariance (D, D) of ``features`` (N, D), in float64.

    Needs N > D and no constant feature: otherwise the covariance is singular (a Gaussian on a
    subspace) and the Fréchet distance depends on directions the samples never explored, so a
    ValueError names ``name`` and the fix.
    """
    f = _features(features, name, min_rows=2).double()
    n, d = f.shape
    if n <= d:
        raise ValueError(
            f"{name} has {n} rows for {d} features: its covariance is singular (rank < {d}). "
            f"Pass more than {d} samples (thousands for a stable estimate)."
        )
    mu = f.mean(0)
    centred = f - mu
    cov = centred.T @ centred / (n - 1)
    eig = torch.linalg.eigvalsh(cov)
    if eig.min() <= RANK_TOL * max(float(eig.max()), 1e-300):
        dead = int((centred.abs().amax(0) == 0).sum())
        why = f"{dead} features are constant" if dead else "the features are linearly dependent"
        raise ValueError(
            f"{name}'s covariance is singular (smallest eigenvalue {float(eig.min()):.3g}): {why}. "
            "Drop constant features or use a feature layer without dead units."
        )
    return mu, cov


def _sqrt_psd(cov: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a symmetric PSD matrix, by its eigendecomposition."""
    eig, vec = torch.linalg.eigh(cov)
    return (vec * eig.clamp(min=0).sqrt()) @ vec.T


def frechet_distance_gaussians(
    mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor
) -> float:
    """The Fréchet (2-Wasserstein squared) distance between N(mu1, cov1) and N(mu2, cov2).

    ``||mu1 - mu2||^2 + Tr(cov1) + Tr(cov2) - 2 Tr((cov1 cov2)^{1/2})``; mu (D,), cov (D, D)
    symmetric positive semi-definite. ``Tr((cov1 cov2)^{1/2})`` is computed as
    ``Tr((A cov2 A)^{1/2})`` with ``A = cov1^{1/2}`` (a symmetric PSD matrix with the same
    eigenvalues as ``cov1 cov2``), in float64: no complex parts, as ``scipy.linalg.sqrtm`` can
    give on the non-symmetric product.
    """
    for value, name in ((mu1, "mu1"), (mu2, "mu2"), (cov1, "cov1"), (cov2, "cov2")):
        check.floating(value, name)
    if mu1.dim() != 1 or mu1.shape != mu2.shape:
        raise ValueError(
            f"mu1 and mu2 must be vectors (D,) of one length, got {tuple(mu1.shape)} and "
            f"{tuple(mu2.shape)}."
        )
    d = mu1.shape[0]
    for cov, name in ((cov1, "cov1"), (cov2, "cov2")):
        if cov.shape != (d, d):
            raise ValueError(
                f"{name} must have shape ({d}, {d}) to match mu1, got {tuple(cov.shape)}."
            )
        check.symmetric_psd(cov, name, definite=False)
    mu1, mu2, cov1, cov2 = (t.double() for t in (mu1, mu2, cov1, cov2))
    a = _sqrt_psd(cov1)
    cross = _sqrt_psd(a @ cov2 @ a)
    fd = (mu1 - mu2).pow(2).sum() + torch.trace(cov1) + torch.trace(cov2) - 2 * torch.trace(cross)
    return max(float(fd), 0.0)  # rounding can give -1e-12 for equal Gaussians


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """The Fréchet distance between the Gaussians fitted to two feature sets (N, D), (M, D).

    ``FD = ||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^{1/2})`` with the sample means and
    unbiased covariances (``feature_moments``). Heusel et al. (2017) compute it on Inception
    features (the FID); in the course's classifier features it is a Fashion-MNIST analogue of
    FID, not FID. It is biased upwards at small N: compare models with equal set sizes.
    """
    _same_width(_features(real, "real"), _features(fake, "fake"), ("real", "fake"))
    mu_r, cov_r = feature_moments(real, "real")
    mu_f, cov_f = feature_moments(fake, "fake")
    return frechet_distance_gaussians(mu_r, cov_r, mu_f, cov_f)


def _check_k(k: int, n: int, name: str) -> int:
    k = check.integer(k, "k", 1, "the neighbour whose distance sets each ball's radius")
    if k >= n:
        raise ValueError(f"k={k} needs more than k rows in {name}, which has {n}: lower k.")
    return k


def knn_radii(
    features: torch.Tensor, k: int = DEFAULT_K, *, batch_size: int = 1024
) -> torch.Tensor:
    """Each row's distance to its k-th nearest other row: features (N, D) -> radii (N,).

    The radius of the ball around each sample in the k-NN manifold estimate (the row itself,
    at distance 0, is not its own neighbour).
    """
    f = _features(features, "features", min_rows=2).double()
    k = _check_k(k, f.shape[0], "features")
    check.integer(batch_size, "batch_size", 1)
    radii = []
    for start in range(0, f.shape[0], batch_size):
        dist = torch.cdist(f[start : start + batch_size], f)  # (B, N)
        radii.append(dist.kthvalue(k + 1, dim=1).values)  # k + 1: the row itself is first
    return torch.cat(radii)


def inside_manifold(
    queries: torch.Tensor, support: torch.Tensor, radii: torch.Tensor, *, batch_size: int = 1024
) -> torch.Tensor:
    """Which query rows (Q, D) lie in some ball ``||q - s_i|| <= radii[i]``: bool (Q,)."""
    q, s = _features(queries, "queries").double(), _features(support, "support").double()
    _same_width(q, s, ("queries", "support"))
    if radii.shape != (s.shape[0],):
        raise ValueError(
            f"radii must have shape ({s.shape[0]},), one per support row, got {tuple(radii.shape)}."
        )
    out = []
    for start in range(0, q.shape[0], batch_size):
        dist = torch.cdist(q[start : start + batch_size], s)  # (B, N)
        out.append((dist <= radii.double()[None]).any(1))
    return torch.cat(out)


class PrecisionRecall(NamedTuple):
    """Kynkäänniemi et al. (2019): precision = share of fakes inside the real manifold,
    recall = share of reals inside the fake manifold; both in [0, 1], higher is better."""

    precision: float
    recall: float


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = DEFAULT_K) -> PrecisionRecall:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of ``fake`` (M, D) against
    ``real`` (N, D), with k-NN balls: ``precision = (1/M) sum_j 1[fake_j in manifold(real)]``,
    ``recall = (1/N) sum_i 1[real_i in manifold(fake)]``, where ``manifold(S)`` is the union of
    the balls around each s in S with radius its distance to its k-th nearest neighbour in S.

    Use sets of equal size (the balls grow as a set shrinks); the paper uses k = 3.
    """
    real, fake = _features(real, "real", 2), _features(fake, "fake", 2)
    _same_width(real, fake, ("real", "fake"))
    _check_k(k, real.shape[0], "real"), _check_k(k, fake.shape[0], "fake")
    precision = inside_manifold(fake, real, knn_radii(real, k)).double().mean()
    recall = inside_manifold(real, fake, knn_radii(fake, k)).double().mean()
    return PrecisionRecall(float(precision), float(recall))
