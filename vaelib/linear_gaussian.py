"""The linear-Gaussian model (probabilistic PCA, factor analysis): the evidence lower bound on a
model with an exact answer (lesson 04).

Probabilistic PCA / factor analysis, with ``z`` in R^D and ``x`` in R^d:

    p(z) = N(0, I_D),    p(x|z) = N(W z + b, Psi),    Psi = diag(psi)  (psi = sigma^2 for PPCA)

Everything a VAE can only bound or estimate is known here in closed form:

- the evidence ``p(x) = integral p(x|z) p(z) dz = N(x; b, W W^T + Psi)``       (log_evidence)
- the posterior ``p(z|x) = N(mu_post, Sigma_post)``                              (posterior)
- for a Gaussian ``q(z|x) = N(mu, Sigma)`` the ELBO
  ``E_q[log p(x|z)] - KL(q(z|x) || p(z))``                                      (gaussian_elbo)
- its gap ``log p(x) - ELBO = KL(q(z|x) || p(z|x))``                            (kl_to_posterior)
- the importance-weighted bound ``L_k = log (1/k) sum_i p(x, z_i) / q(z_i|x)``    (iw_bound)

and an amortized encoder ``q(z|x) = N(A x + c, Sigma)`` trained by gradient ascent on the
closed-form ELBO (:func:`train_encoder`) shows the gap closing. Everything is float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from tqdm.auto import tqdm

from vaelib import validate as check
from vaelib.densities import LOG_2PI, log_normal_diag, log_standard_normal
from vaelib.losses import NegativeELBO

F64 = torch.float64


# ----------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class LinearGaussian:
    """``p(z) = N(0, I_D)``, ``p(x|z) = N(W z + b, diag(psi))``.

    W: (d, D) loadings; b: (d,) offset; psi: (d,) noise variances > 0, or one number
    ``sigma^2`` (probabilistic PCA), stored as (d,). All stored as float64.
    """

    W: torch.Tensor
    b: torch.Tensor
    psi: torch.Tensor

    def __post_init__(self) -> None:
        W = _as_f64(self.W, "W")
        if W.dim() != 2 or W.numel() == 0:
            raise ValueError(
                f"W must be a non-empty (d, D) matrix (data dim d, latent dim D), got shape "
                f"{tuple(W.shape)}."
            )
        b = _as_f64(self.b, "b")
        if b.shape != (W.shape[0],):
            raise ValueError(f"b must have shape (d,) = ({W.shape[0]},), got {tuple(b.shape)}.")
        psi = _as_f64(self.psi, "psi")
        if psi.dim() == 0:
            psi = psi.expand(W.shape[0]).clone()  # sigma^2 I: probabilistic PCA
        if psi.shape != (W.shape[0],) or not (psi > 0).all():
            raise ValueError(
                f"psi must be positive noise variances of shape (d,) = ({W.shape[0]},) or one "
                f"positive number sigma^2, got {psi.tolist() if psi.numel() < 8 else psi.shape}."
            )
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "psi", psi)

    @property
    def x_dim(self) -> int:
        """d, the dimension of x."""
        return self.W.shape[0]

    @property
    def z_dim(self) -> int:
        """D, the dimension of z."""
        return self.W.shape[1]


def random_model(
    x_dim: int, z_dim: int, *, generator: torch.Generator, noise: float = 0.5, ppca: bool = False
) -> LinearGaussian:
    """A model with W, b ~ N(0, 1) entries and noise variances ``psi = noise * exp(N(0, 0.25))``
    (factor analysis), or ``psi = noise`` in every dimension when ``ppca``."""
    x_dim = check.integer(x_dim, "x_dim", 1, "the dimension of x")
    z_dim = check.integer(z_dim, "z_dim", 1, "the dimension of z")
    noise = check.number(noise, "noise", minimum=0, strict=True)
    _check_generator(generator)
    W = torch.randn(x_dim, z_dim, generator=generator, dtype=F64)
    b = torch.randn(x_dim, generator=generator, dtype=F64)
    spread = 0.5 * torch.randn(x_dim, generator=generator, dtype=F64)
    psi = torch.full((x_dim,), noise, dtype=F64) if ppca else noise * spread.exp()
    return LinearGaussian(W, b, psi)


class Sample(NamedTuple):
    """Draws from the model: x (n, d) and the z (n, D) that made them."""

    x: torch.Tensor
    z: torch.Tensor


def sample(model: LinearGaussian, n: int, *, generator: torch.Generator) -> Sample:
    """``z ~ N(0, I_D)``, then ``x = W z + b + sqrt(psi) * eps``, ``eps ~ N(0, I_d)``: (n, d), (n, D)."""
    n = check.integer(n, "n", 1, "the number of draws")
    _check_generator(generator)
    z = torch.randn(n, model.z_dim, generator=generator, dtype=F64)
    eps = torch.randn(n, model.x_dim, generator=generator, dtype=F64)
    return Sample(x=z @ model.W.T + model.b + model.psi.sqrt() * eps, z=z)


# ----------------------------------------------------------------------------- exact quantities


def log_prior(z: torch.Tensor) -> torch.Tensor:
    """``log p(z) = -0.5 * (D log 2 pi + ||z||^2)``; z: (..., D), returns (...)."""
    return log_standard_normal(z)


def log_likelihood(model: LinearGaussian, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``log p(x|z) = -0.5 * sum_i [log(2 pi psi_i) + (x - W z - b)_i^2 / psi_i]``.

    x: (N, d); z: (..., N, D) (leading sample dimensions broadcast); returns (..., N).
    """
    x = _check_x(model, x)
    return log_normal_diag(x, z @ model.W.T + model.b, model.psi.log())


def log_evidence(model: LinearGaussian, x: torch.Tensor) -> torch.Tensor:
    """``log p(x) = log N(x; b, C)``, ``C = W W^T + Psi``: the integral over z in closed form.

    ``= -0.5 * (d log 2 pi + log det C + (x - b)^T C^-1 (x - b))``, by a Cholesky factor of C.
    x: (N, d); returns (N,).
    """
    x = _check_x(model, x)
    C = model.W @ model.W.T + torch.diag(model.psi)
    L = _cholesky(C, "C = W W^T + diag(psi)")
    r = torch.linalg.solve_triangular(L, (x - model.b).T, upper=False)  # L^-1 (x - b): (d, N)
    return -0.5 * (model.x_dim * LOG_2PI + 2 * L.diagonal().log().sum() + r.pow(2).sum(0))


class Posterior(NamedTuple):
    """``p(z|x) = N(mu, cov)``: mu (N, D), one per x; cov (D, D), the same for every x."""

    mu: torch.Tensor
    cov: torch.Tensor


def posterior(model: LinearGaussian, x: torch.Tensor) -> Posterior:
    """The exact posterior by Bayes' rule (a Gaussian prior times a linear-Gaussian likelihood):

    ``Sigma_post = (I_D + W^T Psi^-1 W)^-1``, ``mu_post = Sigma_post W^T Psi^-1 (x - b)``.
    x: (N, d); returns mu (N, D) and cov (D, D), which does not depend on x.
    """
    x = _check_x(model, x)
    precision = torch.eye(model.z_dim, dtype=F64) + model.W.T @ (model.W / model.psi[:, None])
    cov = torch.cholesky_inverse(_cholesky(precision, "I + W^T Psi^-1 W"))
    mu = ((x - model.b) / model.psi) @ model.W @ cov  # rows of Sigma W^T Psi^-1 (x - b)
    return Posterior(mu=mu, cov=cov)


def optimal_diagonal_q(model: LinearGaussian, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The diagonal Gaussian ``q(z|x) = N(mu, diag exp(logvar))`` with the highest ELBO, in closed
    form: ``mu = mu_post`` (the exact posterior mean) and ``var_d = 1 / Lambda_dd``, the inverse
    of the posterior *precision*'s diagonal ``Lambda = I + W^T Psi^-1 W`` (not the posterior
    covariance's diagonal, which is larger wherever the posterior's dimensions correlate).

    Setting the ELBO's derivative to zero: ``d/d var_d [-0.5 Lambda_dd var_d + 0.5 log var_d]
    = 0``. Its gap ``KL(q* || p(z|x))`` is the approximation gap of the diagonal family.
    x: (N, d); returns mu (N, D) and logvar (N, D) (the same row for every x).
    """
    post = posterior(model, x)
    precision = torch.eye(model.z_dim, dtype=F64) + model.W.T @ (model.W / model.psi[:, None])
    logvar = -precision.diagonal().log().expand_as(post.mu).clone()
    return post.mu, logvar


# ----------------------------------------------------------------------------- the ELBO


def gaussian_elbo(
    model: LinearGaussian, x: torch.Tensor, mu: torch.Tensor, cov: torch.Tensor
) -> NegativeELBO:
    """The ELBO of ``q(z|x) = N(mu, Sigma)`` in closed form, ``E_q[log p(x|z)] - KL(q || p(z))``:

    ``E_q[log p(x|z)] = -0.5 sum_i [log(2 pi psi_i) + ((x - W mu - b)_i^2 + (W Sigma W^T)_ii) / psi_i]``
    ``KL(q || N(0, I)) = 0.5 (tr Sigma + ||mu||^2 - D - log det Sigma)``.

    x: (N, d); mu: (N, D); cov: (D, D) shared or (N, D, D), symmetric positive definite.
    Returns the course's one tuple, ``losses.NegativeELBO(loss, recon, kl)``, each (N,):
    ``recon = -E_q[log p(x|z)]``, ``kl``, ``loss = recon + kl = -ELBO``; ``.elbo`` is the ELBO.
    """
    x, mu, cov = _check_q(model, x, mu, cov)
    residual = x - mu @ model.W.T - model.b  # (N, d)
    spread = torch.einsum("ik,...kl,il->...i", model.W, cov, model.W)  # diag(W Sigma W^T): (N|1, d)
    expected_loglik = -0.5 * (LOG_2PI + model.psi.log() + (residual.pow(2) + spread) / model.psi)
    expected_loglik = expected_loglik.sum(-1)
    trace = cov.diagonal(dim1=-2, dim2=-1).sum(-1)
    kl = 0.5 * (trace + mu.pow(2).sum(-1) - model.z_dim - torch.logdet(cov))
    return NegativeELBO(loss=kl - expected_loglik, recon=-expected_loglik, kl=kl)


def kl_to_posterior(
    model: LinearGaussian, x: torch.Tensor, mu: torch.Tensor, cov: torch.Tensor
) -> torch.Tensor:
    """``KL(q(z|x) || p(z|x))`` for ``q = N(mu, Sigma)``, the exact posterior ``N(mu_post, Lambda^-1)``:

    ``0.5 [tr(Lambda Sigma) + (mu_post - mu)^T Lambda (mu_post - mu) - D - log det Lambda - log det Sigma]``
    with the posterior precision ``Lambda = I_D + W^T Psi^-1 W``. This is the ELBO's gap,
    ``log p(x) - ELBO``. x: (N, d); mu: (N, D); cov: (D, D) or (N, D, D); returns (N,).
    """
    x, mu, cov = _check_q(model, x, mu, cov)
    post = posterior(model, x)
    precision = torch.eye(model.z_dim, dtype=F64) + model.W.T @ (model.W / model.psi[:, None])
    delta = post.mu - mu  # (N, D)
    trace = (precision * cov).sum((-2, -1))  # tr(Lambda Sigma), both symmetric
    mahalanobis = ((delta @ precision) * delta).sum(-1)
    return 0.5 * (trace + mahalanobis - model.z_dim - torch.logdet(precision) - torch.logdet(cov))


def iw_bound(
    model: LinearGaussian,
    x: torch.Tensor,
    mu: torch.Tensor,
    cov: torch.Tensor,
    k: int,
    *,
    generator: torch.Generator,
    repeats: int = 1,
) -> torch.Tensor:
    """The importance-weighted bound, estimated from k draws ``z_i = mu + L eps_i ~ q(z|x)``:

    ``L_k = log (1/k) sum_{i=1}^k p(x|z_i) p(z_i) / q(z_i|x)``  (``L_1`` estimates the ELBO).

    ``E[L_k] <= E[L_{k+1}] <= log p(x)`` in expectation over the draws, and ``E[L_k] -> log p(x)``
    as k grows; a single estimate can exceed log p(x). x: (N, d); mu: (N, D); cov: (D, D) or
    (N, D, D); returns (repeats, N): ``repeats`` independent estimates per x.
    """
    x, mu, cov = _check_q(model, x, mu, cov)
    k = check.integer(k, "k", 1, "importance samples")
    repeats = check.integer(repeats, "repeats", 1, "independent estimates")
    _check_generator(generator)
    L = torch.linalg.cholesky(cov)  # Sigma = L L^T
    eps = torch.randn(repeats, k, x.shape[0], model.z_dim, generator=generator, dtype=F64)
    z = mu + (L @ eps.unsqueeze(-1)).squeeze(-1)  # (repeats, k, N, D)
    log_q = -0.5 * (model.z_dim * LOG_2PI + torch.logdet(cov) + eps.pow(2).sum(-1))
    log_w = log_likelihood(model, x, z) + log_prior(z) - log_q  # (repeats, k, N)
    return torch.logsumexp(log_w, dim=1) - math.log(k)


# ----------------------------------------------------------------------------- amortized inference


class LinearEncoder(nn.Module):
    """An amortized Gaussian encoder, one set of weights for every x:

    ``q(z|x) = N(mu, Sigma)``, ``mu = A x + c``, and a covariance shared by every x (in this
    model the exact posterior's is): ``Sigma = diag(exp(logvar))`` when ``diagonal``, else
    ``Sigma = L L^T`` with L lower-triangular, ``exp`` on its diagonal. Starts at ``q = p(z)``.
    """

    def __init__(self, x_dim: int, z_dim: int, *, diagonal: bool) -> None:
        super().__init__()
        self.diagonal = _check_diagonal(diagonal)
        x_dim = check.integer(x_dim, "x_dim", 1, "the dimension of x")
        z_dim = check.integer(z_dim, "z_dim", 1, "the dimension of z")
        self.A = nn.Parameter(torch.zeros(z_dim, x_dim, dtype=F64))
        self.c = nn.Parameter(torch.zeros(z_dim, dtype=F64))
        if diagonal:
            self.logvar = nn.Parameter(torch.zeros(z_dim, dtype=F64))
        else:
            self.L_raw = nn.Parameter(torch.zeros(z_dim, z_dim, dtype=F64))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (N, d) -> mu (N, D), cov (D, D)."""
        mu = x @ self.A.T + self.c
        if self.diagonal:
            return mu, torch.diag(self.logvar.exp())
        L = torch.tril(self.L_raw, -1) + torch.diag(self.L_raw.diagonal().exp())
        return mu, L @ L.T


class EncoderFit(NamedTuple):
    """The trained encoder and ``gap[t]``, the mean of ``log p(x) - ELBO`` over the training x
    before step t (``gap[0]``: at ``q = p(z)``; ``gap[-1]``: after the last step), (steps + 1,)."""

    encoder: LinearEncoder
    gap: torch.Tensor


def train_encoder(
    model: LinearGaussian,
    x: torch.Tensor,
    *,
    diagonal: bool,
    steps: int = 1000,
    lr: float = 0.05,
    progress: bool = True,
) -> EncoderFit:
    """Fit a :class:`LinearEncoder` by gradient ascent (Adam) on the mean closed-form ELBO of x.

    ``max_{A, c, Sigma} (1/N) sum_n ELBO(x_n)``; since ``log p(x)`` does not depend on the
    encoder, this is ``min (1/N) sum_n KL(q(z|x_n) || p(z|x_n))``. Deterministic (no sampling).
    x: (N, d). Returns the encoder and the history of the mean gap, (steps + 1,).
    """
    x = _check_x(model, x)
    _check_diagonal(diagonal)
    steps = check.integer(steps, "steps", 1, "Adam steps")
    lr = check.number(lr, "lr", minimum=0, strict=True)
    log_px = log_evidence(model, x)
    encoder = LinearEncoder(model.x_dim, model.z_dim, diagonal=diagonal)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=lr)
    gap = []
    for step in tqdm(range(steps), desc="ELBO ascent", disable=not progress):
        mu, cov = encoder(x)
        if not (torch.isfinite(mu).all() and torch.isfinite(cov).all()) or bool(
            torch.linalg.cholesky_ex(cov).info
        ):
            raise ValueError(
                f"the encoder diverged at step {step} of {steps} (its covariance is no longer "
                f"positive definite or its mean not finite): lr={lr!r} is too large for this "
                "model; lower it (the default is 0.05)."
            )
        elbo = gaussian_elbo(model, x, mu, cov).elbo
        gap.append((log_px - elbo).mean().item())
        optimizer.zero_grad()
        (-elbo.mean()).backward()  # ascent on the ELBO = descent on -ELBO
        optimizer.step()
    with torch.no_grad():
        gap.append((log_px - gaussian_elbo(model, x, *encoder(x)).elbo).mean().item())
    return EncoderFit(encoder=encoder, gap=torch.tensor(gap, dtype=F64))


# ----------------------------------------------------------------------------- validation


def _as_f64(t: object, name: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor | float | int | list | tuple):
        raise TypeError(f"{name} must be a tensor (or a number/list), got {type(t).__name__}.")
    t = torch.as_tensor(t, dtype=F64)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains nan or inf: pass finite values.")
    return t


def _check_diagonal(diagonal: object) -> bool:
    if not isinstance(diagonal, bool):
        raise TypeError(
            f"diagonal must be True (a diagonal covariance) or False (a full one), got "
            f"{type(diagonal).__name__} {diagonal!r}."
        )
    return diagonal


def _cholesky(matrix: torch.Tensor, what: str) -> torch.Tensor:
    """The lower Cholesky factor of ``matrix``, or a ValueError naming psi when rounding in
    float64 made it singular (noise variances too small against W W^T)."""
    L, info = torch.linalg.cholesky_ex(matrix)
    if bool(info) or not bool(torch.isfinite(L).all()):
        raise ValueError(
            f"{what} is not positive definite in float64: the noise variances psi are too "
            "small against W (a near-deterministic model); use psi >= 1e-8 * max|W|^2 or so, "
            "or rescale W."
        )
    return L


def _check_generator(generator: object) -> None:
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator, got {type(generator).__name__}: pass "
            "generator=torch.Generator().manual_seed(seed)."
        )


def _check_x(model: LinearGaussian, x: object) -> torch.Tensor:
    if not isinstance(model, LinearGaussian):
        raise TypeError(
            f"model must be a LinearGaussian, got {type(model).__name__}: build one with "
            "LinearGaussian(W, b, psi) or random_model(d, D, generator=...)."
        )
    x = _as_f64(x, "x")
    if x.dim() != 2 or x.shape[1] != model.x_dim:
        raise ValueError(
            f"x must have shape (N, d) = (N, {model.x_dim}), got {tuple(x.shape)}: one row per "
            "data point (use x[None] for a single point)."
        )
    return x


def _check_q(
    model: LinearGaussian, x: object, mu: object, cov: object
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = _check_x(model, x)
    mu, cov = _as_f64(mu, "mu"), _as_f64(cov, "cov")
    n, dz = x.shape[0], model.z_dim
    if mu.shape != (n, dz):
        raise ValueError(
            f"mu must have shape (N, D) = ({n}, {dz}), one mean of q(z|x) per x, got "
            f"{tuple(mu.shape)}."
        )
    if cov.shape not in ((dz, dz), (n, dz, dz)):
        raise ValueError(
            f"cov must have shape (D, D) = ({dz}, {dz}) (shared) or (N, D, D), got "
            f"{tuple(cov.shape)}: for q = N(mu, diag sigma^2) pass torch.diag_embed(logvar.exp())."
        )
    if not torch.allclose(cov, cov.transpose(-2, -1)) or torch.linalg.cholesky_ex(cov).info.any():
        raise ValueError(
            "cov must be symmetric positive definite (a covariance with all variances > 0)."
        )
    return x, mu, cov
