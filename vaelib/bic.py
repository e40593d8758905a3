"""Gaussian mixtures on latent codes, chosen by the Bayesian Information Criterion (lesson 07).

Fit a mixture of k Gaussians to codes ``z`` (n, d) for every k in a range and keep the k with
the smallest

    BIC(k) = -2 log L(k) + p(k) log n,

where ``log L(k) = sum_i log sum_j pi_j N(z_i; mu_j, Sigma_j)`` is the maximised
log-likelihood of the n codes and ``p(k)`` the number of free parameters of the mixture
(``n_parameters``). The first term rewards fit, the second charges ``(log n) / 2`` nats of
log-likelihood per parameter, so the curve falls while extra components explain real
structure and rises once they only fit noise. Sampling from the chosen mixture and decoding
is "ex-post density estimation" (Ghosh et al. 2020, "From Variational to Deterministic
Autoencoders").

Which codes? An AE gives one code ``z = f(x)`` per image. A VAE gives a distribution
``q(z|x) = N(mu(x), diag sigma^2(x))``; the codes it decodes during training are samples
``z ~ q(z|x)``, and their distribution over the data set is the **aggregate posterior**
``q(z) = (1/N) sum_n q(z|x_n)``, with covariance ``Cov[mu] + E[diag sigma^2]``
(``aggregate_covariance``, the law of total covariance). ``latent.encode_dataset(model,
images, posterior=True)`` gives ``(mu, logvar)`` per image; fit the mixtures to samples of
``q(z)``, not to the means ``mu(x)`` alone, whose covariance misses the ``E[sigma^2]`` term.

scikit-learn's ``GaussianMixture`` does the EM fitting (``n_init`` starts per k, each from
k-means++ seeds with every code given to its nearest seed, the best kept);
``BICCurve.flat_region`` names the k whose BIC is within a tolerance of the minimum; ``ellipse`` draws one component of a 2-D mixture.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.cluster import kmeans_plusplus
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from vaelib import validate as check

COVARIANCE_TYPES = ("full", "diag", "tied", "spherical")
SERIAL_BELOW = 20_000  # n * len(ks) * n_init: below it, bic_curve never starts worker processes


def _check_covariance_type(covariance_type: str) -> str:
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"covariance_type={covariance_type!r} is unknown: use one of {COVARIANCE_TYPES}."
        )
    return covariance_type


def n_parameters(k: int, d: int, covariance_type: str = "full") -> int:
    """Free parameters ``p`` of a mixture of ``k`` Gaussians in ``d`` dimensions.

    ``p = (k - 1)`` weights (they sum to 1) ``+ k d`` means ``+`` the covariances:

    - ``"full"``: one symmetric d x d matrix per component, ``k d (d + 1) / 2``;
    - ``"diag"``: d variances per component, ``k d``;
    - ``"tied"``: one symmetric d x d matrix shared by all components, ``d (d + 1) / 2``;
    - ``"spherical"``: one variance per component, ``k``.
    """
    k = check.integer(k, "k", 1, "the number of components")
    d = check.integer(d, "d", 1, "the dimension of the codes")
    covariances = {
        "full": k * d * (d + 1) // 2,
        "diag": k * d,
        "tied": d * (d + 1) // 2,
        "spherical": k,
    }[_check_covariance_type(covariance_type)]
    return int((k - 1) + k * d + covariances)


def bic(log_likelihood: float, p: int, n: int) -> float:
    """``BIC = -2 log L + p log n`` for a total log-likelihood ``log L`` of ``n`` points under
    a model with ``p`` free parameters (smaller is better)."""
    check.number(log_likelihood, "log_likelihood")
    p = check.integer(p, "p", 0, "the number of free parameters")
    n = check.integer(n, "n", None)
    if n < 1:
        raise ValueError(f"n must be at least 1 (number of codes), got {n}.")
    return float(-2.0 * log_likelihood + p * math.log(n))


def _as_codes(z: torch.Tensor | np.ndarray) -> np.ndarray:
    """z (n, d) as a float64 NumPy array, checked: 2-D, non-empty, finite."""
    if isinstance(z, torch.Tensor):
        z = z.detach().cpu().double().numpy()
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 1 or z.shape[1] < 1:
        raise ValueError(
            f"z must have shape (n, d) with n, d >= 1, got {z.shape}: one code per row "
            "(use z.reshape(len(z), -1) for a batch of images or feature maps)."
        )
    if not np.isfinite(z).all():
        bad = int((~np.isfinite(z)).any(axis=1).sum())
        raise ValueError(
            f"z holds {bad} rows with NaN or inf values: drop them (z[torch.isfinite(z).all(1)])"
            " or fix the encoder that produced them."
        )
    return z


def _check_ks(ks: Iterable[int], n: int) -> list[int]:
    ks = check.integers(ks, "ks", minimum=None)  # the sign is checked below
    if not ks:
        raise ValueError("ks is empty: pass the numbers of components to try, e.g. range(1, 21).")
    if min(ks) < 1:
        raise ValueError(f"ks must hold positive numbers of components, got min {min(ks)}.")
    if max(ks) > n:
        raise ValueError(
            f"ks asks for k={max(ks)} components but z has only n={n} codes: a mixture needs at "
            f"least one code per component, so keep every k <= {n} (better, k << n)."
        )
    if len(set(ks)) != len(ks) or ks != sorted(ks):
        raise ValueError(f"ks must be increasing without repeats, e.g. range(1, 21); got {ks}.")
    return ks


@dataclass
class BICCurve:
    """The result of ``bic_curve``: one fitted mixture and its BIC per k.

    ``ks`` (K,), ``bic`` (K,), ``log_likelihood`` (K,) the total log L of the n codes,
    ``n_parameters`` (K,), ``models`` the K fitted ``GaussianMixture``s.
    """

    ks: list[int]
    bic: np.ndarray
    log_likelihood: np.ndarray
    n_parameters: np.ndarray
    models: list[GaussianMixture]
    covariance_type: str
    n: int
    d: int

    @property
    def best_index(self) -> int:
        """Index into ``ks`` of the smallest BIC."""
        return int(np.argmin(self.bic))

    @property
    def best_k(self) -> int:
        """The number of components BIC chooses."""
        return self.ks[self.best_index]

    @property
    def best(self) -> GaussianMixture:
        """The fitted mixture with the smallest BIC."""
        return self.models[self.best_index]

    def is_interior(self) -> bool:
        """True when the minimum is a real one: not at the largest k tried (which says: try
        larger k) nor at the smallest unless that is k = 1 (fewer than one component is no
        model)."""
        return 0 < self.best_index < len(self.ks) - 1 or (self.best_index == 0 and self.ks[0] == 1)

    def flat_region(self, tolerance: float = 10.0) -> list[int]:
        """The k whose BIC is within ``tolerance`` of the smallest: ``BIC(k) <= min BIC + tol``.

        A BIC difference above 10 is "very strong" evidence for the smaller value (Kass and
        Raftery 1995); within the default tolerance the data do not clearly prefer one k.
        """
        if not tolerance >= 0:
            raise ValueError(f"tolerance must be >= 0 (a BIC difference), got {tolerance!r}.")
        return [
            k for k, b in zip(self.ks, self.bic, strict=True) if b <= self.bic.min() + tolerance
        ]

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """n codes from the chosen mixture, float32 (n, d); see ``sample_mixture``."""
        return sample_mixture(self.best, n, seed=seed)


def _nearest_seed_start(
    z: np.ndarray, k: int, covariance_type: str, reg_covar: float, rng: np.random.RandomState
) -> dict[str, np.ndarray]:
    """One EM start that is sane for every covariance type: k-means++ seeds (Arthur and
    Vassilvitskii 2007), then every code to its nearest seed (hard responsibilities over all n
    codes), and the mixture's weights, means and covariances estimated from that partition.

    scikit-learn's own ``init_params="k-means++"`` gives responsibility to the k seeds only: the
    per-component covariances start at ``reg_covar`` (harmless: the first E-step is then this
    nearest-seed partition), but the shared ``"tied"`` covariance is the scatter of all n codes
    divided by k, about n/k times too large, and EM collapses every k >= 2 onto one blob.
    """
    _, seeds = kmeans_plusplus(z, k, random_state=rng)
    distances = ((z[:, None, :] - z[seeds][None, :, :]) ** 2).sum(-1)  # (n, k)
    labels = distances.argmin(1)
    labels[seeds] = np.arange(k)  # each seed keeps itself: no empty component
    counts = np.bincount(labels, minlength=k).astype(np.float64)  # (k,)
    means = np.stack([z[labels == j].mean(0) for j in range(k)])  # (k, d)
    diff = z - means[labels]  # (n, d), each code minus its component's mean
    d = z.shape[1]
    if covariance_type == "tied":  # pooled within-component scatter
        precisions = np.linalg.inv(diff.T @ diff / len(z) + reg_covar * np.eye(d))
    elif covariance_type == "full":
        covs = [diff[labels == j].T @ diff[labels == j] / counts[j] for j in range(k)]
        precisions = np.linalg.inv(np.stack(covs) + reg_covar * np.eye(d))
    else:
        var = np.stack([(diff[labels == j] ** 2).mean(0) for j in range(k)]) + reg_covar
        precisions = 1.0 / (var if covariance_type == "diag" else var.mean(1))
    return {"weights_init": counts / counts.sum(), "means_init": means,
            "precisions_init": precisions}  # fmt: skip


def _fit_mixture(
    z: np.ndarray, k: int, covariance_type: str, n_init: int, seed: int, max_iter: int,
    reg_covar: float,
) -> GaussianMixture:  # fmt: skip
    """EM from ``n_init`` nearest-seed starts (``_nearest_seed_start``), the one with the
    largest final lower bound kept (as scikit-learn's ``n_init``); one thread (small
    problems). The seeds are drawn in sequence from ``RandomState(seed)``."""
    rng = np.random.RandomState(seed)
    best = None
    with threadpool_limits(limits=1):  # small EM problems: threads only oversubscribe
        for _ in range(n_init):
            gmm = GaussianMixture(
                n_components=k, covariance_type=covariance_type, max_iter=max_iter,
                reg_covar=reg_covar, random_state=seed,
                **_nearest_seed_start(z, k, covariance_type, reg_covar, rng),
            ).fit(z)  # fmt: skip
            if best is None or gmm.lower_bound_ > best.lower_bound_:
                best = gmm
    return best


def bic_curve(
    z: torch.Tensor | np.ndarray,
    ks: Iterable[int],
    covariance_type: str = "full",
    n_init: int = 1,
    seed: int = 0,
    *,
    max_iter: int = 200,
    reg_covar: float = 1e-6,
    n_jobs: int = 1,
    progress: bool = False,
) -> BICCurve:
    """Fit a ``k``-component Gaussian mixture to the codes ``z`` (n, d) for each k in ``ks``.

    Each fit is EM (scikit-learn's ``GaussianMixture``) started ``n_init`` times from
    nearest-seed partitions (k-means++ seeds drawn with ``seed``, every code to its nearest
    seed: ``_nearest_seed_start``, a sane start for all four covariance types); the start with
    the largest final likelihood bound is kept. Returns a ``BICCurve`` with
    ``BIC(k) = -2 log L(k) + p(k) log n``, ``p(k) = n_parameters(k, d, covariance_type)``.

    ``n_jobs > 1`` fits several k at once in worker processes (joblib), with the same results.
    Starting the workers costs seconds (each imports torch), far more than a small serial fit
    (``benchmarks/bic_jobs.py``: 100 codes, k = 1..3), so it is an upper bound: a problem below
    ``SERIAL_BELOW`` code-fits (``n * len(ks) * n_init``) runs serially, and the default,
    ``n_jobs=1``, is serial. ``python benchmarks/bic_jobs.py`` prints the trade-off as JSON.
    Raises ValueError for codes that are not a finite (n, d) array, for k > n or more
    components than distinct codes, and for unknown covariance types.
    """
    z = _as_codes(z)
    n, d = z.shape
    ks = _check_ks(ks, n)
    _check_covariance_type(covariance_type)
    n_init = check.integer(n_init, "n_init", None)
    if n_init < 1:
        raise ValueError(f"n_init must be at least 1 (EM restarts per k), got {n_init}.")
    max_iter = check.integer(max_iter, "max_iter", 1, "EM iterations per start")
    seed = check.integer(seed, "seed", None, "the seed of the EM starts")
    reg_covar = check.number(reg_covar, "reg_covar", minimum=0)
    n_jobs = check.integer(n_jobs, "n_jobs", None)
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be at least 1 (worker processes), got {n_jobs}.")
    distinct = len(np.unique(z, axis=0)) if max(ks) > 1 else 1
    if max(ks) > distinct:
        raise ValueError(
            f"ks asks for k={max(ks)} components but z has only {distinct} distinct codes: a "
            f"component needs a code of its own, so keep every k <= {distinct}."
        )
    if n * len(ks) * n_init < SERIAL_BELOW:
        n_jobs = 1  # worker start-up would cost more than the fits
    args = (covariance_type, n_init, seed, max_iter, reg_covar)
    bar = tqdm(total=len(ks), desc=f"GMM {covariance_type}, d={d}", disable=not progress)
    if n_jobs == 1:
        models = []
        for k in ks:
            models.append(_fit_mixture(z, k, *args))
            bar.update()
    else:  # largest k first: the slow fits start early and the workers finish together
        order = sorted(range(len(ks)), key=lambda i: -ks[i])
        jobs = (delayed(_fit_mixture)(z, ks[i], *args) for i in order)
        fitted = {}
        for i, gmm in zip(order, Parallel(n_jobs=n_jobs, return_as="generator")(jobs), strict=True):
            fitted[i] = gmm
            bar.update()
        models = [fitted[i] for i in range(len(ks))]
    bar.close()
    log_liks = np.array([float(gmm.score(z)) * n for gmm in models])  # score: mean per code
    ps = np.array([n_parameters(k, d, covariance_type) for k in ks])
    bics = np.array([bic(log_lik, p, n) for log_lik, p in zip(log_liks, ps, strict=True)])
    return BICCurve(
        ks=ks, bic=bics, log_likelihood=log_liks, n_parameters=ps,
        models=models, covariance_type=covariance_type, n=n, d=d,
    )  # fmt: skip


def _check_posterior(mu: torch.Tensor, logvar: torch.Tensor) -> None:
    if not isinstance(mu, torch.Tensor) or not isinstance(logvar, torch.Tensor):
        raise TypeError(
            "mu and logvar must be tensors (N, D), as latent.encode_dataset(..., posterior=True) "
            "returns them."
        )
    if mu.dim() != 2 or mu.shape != logvar.shape or mu.shape[0] < 1:
        raise ValueError(
            f"mu and logvar must both have shape (N, D) with N >= 1, got {tuple(mu.shape)} and "
            f"{tuple(logvar.shape)}: one row per image, as latent.encode_dataset(..., posterior=True) returns them."
        )


def aggregate_covariance(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The covariance ``(D, D)`` of the aggregate posterior ``q(z) = (1/N) sum_n q(z|x_n)``:

    ``Cov_q[z] = Cov_n[mu_n] + diag(mean_n sigma_n^2)``, ``sigma_n^2 = exp(logvar_n)``

    (the law of total covariance: the spread of the means plus the mean spread around them).
    ``Cov_n[mu_n] = (1/N) sum_n (mu_n - mu_bar)(mu_n - mu_bar)^T``, the exact covariance of the
    N-component mixture q(z). mu, logvar: ``(N, D)``; computed in float64.
    """
    _check_posterior(mu, logvar)
    check.finite(mu, "mu"), check.finite(logvar, "logvar")  # else every entry is nan
    centred = mu.double() - mu.double().mean(dim=0)
    return centred.T @ centred / mu.shape[0] + torch.diag(logvar.double().exp().mean(dim=0))


def _component_covariances(gmm: GaussianMixture) -> np.ndarray:
    """The k covariance matrices (k, d, d) of a fitted mixture, whatever its covariance type."""
    k, d = gmm.means_.shape
    cov = np.asarray(gmm.covariances_)
    if gmm.covariance_type == "full":
        return cov
    if gmm.covariance_type == "tied":
        return np.broadcast_to(cov, (k, d, d))
    if gmm.covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return cov[:, None, None] * np.eye(d)  # spherical: one variance per component


def sample_mixture(gmm: GaussianMixture, n: int, seed: int = 0) -> torch.Tensor:
    """n codes ``z ~ sum_j pi_j N(mu_j, Sigma_j)`` from a fitted mixture, float32 (n, d).

    Two steps, as the model says: draw a component ``j ~ Categorical(pi)``, then
    ``z = mu_j + L_j eps`` with ``eps ~ N(0, I)`` and ``L_j L_j^T = Sigma_j`` (Cholesky).
    The same ``seed`` gives the same codes.
    """
    n = check.integer(n, "n", None)
    if n < 1:
        raise ValueError(f"n must be at least 1 (number of codes to draw), got {n}.")
    if not hasattr(gmm, "means_"):
        raise ValueError("gmm is not fitted: call gmm.fit(z) or use bic_curve(...).best.")
    rng = np.random.default_rng(check.integer(seed, "seed", 0))
    weights = np.asarray(gmm.weights_, dtype=np.float64)
    j = rng.choice(len(weights), size=n, p=weights / weights.sum())
    chol = np.linalg.cholesky(_component_covariances(gmm))  # (k, d, d)
    eps = rng.standard_normal((n, gmm.means_.shape[1]))
    z = gmm.means_[j] + np.einsum("nij,nj->ni", chol[j], eps)
    return torch.from_numpy(z).float()


def ellipse(
    mean: np.ndarray | torch.Tensor,
    cov: np.ndarray | torch.Tensor,
    n_std: float = 2.0,
    n_points: int = 100,
) -> np.ndarray:
    """The contour ``(z - mean)^T cov^{-1} (z - mean) = n_std^2`` of a 2-D Gaussian, as
    ``n_points`` points (n_points, 2) of a closed curve: ``z(t) = mean + n_std L [cos t, sin t]``
    with ``L L^T = cov``. For drawing a mixture's components over the codes."""
    mean = np.asarray(mean, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    if mean.shape != (2,) or cov.shape != (2, 2):
        raise ValueError(
            f"mean must have shape (2,) and cov (2, 2), got {mean.shape} and {cov.shape}: an "
            "ellipse is drawn for a 2-D latent space only."
        )
    if n_std <= 0 or n_points < 3:
        raise ValueError(f"n_std must be positive and n_points >= 3, got {n_std}, {n_points}.")
    check.symmetric_psd(torch.from_numpy(cov), "cov")
    check.finite(torch.from_numpy(mean), "mean")
    t = np.linspace(0.0, 2.0 * np.pi, n_points)
    circle = np.stack([np.cos(t), np.sin(t)], axis=1)  # (n_points, 2), the unit circle
    return mean + n_std * circle @ np.linalg.cholesky(cov).T
