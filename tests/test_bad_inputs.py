"""Bad inputs, one row each: every public helper refuses them with a clear error.

Each row calls vaelib the way a student could get wrong and asserts the exception type and a
fragment of its message (which names the argument and the fix). A row that returns instead of
raising is a silent wrong result: the test fails. Below the table: the faults that must never
be saved or reused (killed checkpoint saves, corrupt checkpoints, empty or diverging training).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.mixture import GaussianMixture
from torch import distributions as D

from vaelib import (
    bic,
    checkpoint,
    collapse,
    data,
    datafiles,
    evaluate,
    figures,
    holes,
    kl,
    latent,
    losses,
    priors,
    reparam,
    runtime,
)
from vaelib import checkpoint as C
from vaelib import linear_gaussian as LG
from vaelib import losses as L
from vaelib import train as T
from vaelib.models import VAE, Autoencoder

REPO = Path(__file__).resolve().parents[1]

g = torch.Generator().manual_seed(0)
X = torch.rand(4, 1, 28, 28, generator=g)  # pixels in [0, 1]
LOGITS = torch.randn(4, 1, 28, 28, generator=g)
MU, LOGVAR = torch.randn(4, 3, generator=g), torch.zeros(4, 3)
U8 = (X * 255).to(torch.uint8)
I64 = (X * 255).long()
PIX255 = X * 255
NAN_X = X.clone()
NAN_X[0, 0, 0, 0] = float("nan")
Z = torch.randn(50, 2, generator=g)
ZNP = np.random.default_rng(0).standard_normal((30, 2))
NONSYM = torch.tensor([[1.0, 0.9], [-0.9, 1.0]])  # Cholesky reads one triangle: KL 0.0 before
INDEF = torch.tensor([[1.0, 2.0], [2.0, 1.0]])
ONE = torch.ones(1)


def z2(z):
    return z.pow(2).sum(-1)


def fitted_gmm():
    return GaussianMixture(1).fit(ZNP)


def small_vae():
    torch.manual_seed(0)
    return VAE(latent_dim=2)


@dataclass
class Ctx:
    """What a row may need: a temp folder and monkeypatch (for data and checkpoint rows)."""

    tmp: Path
    mp: pytest.MonkeyPatch


@dataclass
class Case:
    id: str
    call: Callable[[Ctx], object]
    exc: type[BaseException]
    match: str


CASES: list[Case] = []


def case(id_: str, exc: type[BaseException], match: str, call: Callable[..., object]) -> None:
    """Add a row; ``call`` takes no argument or the ``Ctx``."""
    takes_ctx = call.__code__.co_argcount - len(call.__defaults__ or ()) == 1
    wrapped = call if takes_ctx else (lambda ctx, f=call: f())
    CASES.append(Case(id_, wrapped, exc, match))


# The table is kept one row per line or two (ruff would spread each over six).
# fmt: off
# ------------------------------------------------------------------------------ explorer
def _explorer(**kw):
    from vaelib.explorer import LatentExplorer

    model = VAE(latent_dim=2, hidden=(8,), image_shape=(1, 28, 28))
    return LatentExplorer(model, kw.pop("images", U8), **{"codes": torch.zeros(5, 2), **kw})


case("explorer/limit 0", ValueError, "limit must be a positive number", lambda: _explorer(limit=0))
case("explorer/limit nan", ValueError, "limit must be a finite number",
     lambda: _explorer(limit=float("nan")))
case("explorer/limit str", TypeError, "limit must be a number", lambda: _explorer(limit="3"))
case("explorer/0..255 floats", ValueError, r"train_images must lie in \[0, 1\].*255",
     lambda: _explorer(images=PIX255))
case("explorer/nan pixel", ValueError, "train_images contains nan",
     lambda: _explorer(images=torch.where(X > 0.99, float("nan"), X)))
case("explorer/nan code", ValueError, "codes contains nan or inf",
     lambda: _explorer(codes=torch.tensor([[0.0, 1.0], [float("nan"), 0.0]])))

# ------------------------------------------------------------------------------ losses
case("recon/x uint8", TypeError, r"x must be a floating-point tensor, got uint8.*to_float",
     lambda: L.reconstruction_loss(U8, X))
case("recon/x_hat uint8", TypeError, "x_hat must be a floating-point tensor, got uint8",
     lambda: L.reconstruction_loss(X, U8))
case("recon/x int64", TypeError, r"got torch.int64: use x.float\(\)",
     lambda: L.reconstruction_loss(I64, X))
case("recon/x half", TypeError, "got torch.float16", lambda: L.reconstruction_loss(X.half(), X))
case("recon/x bfloat16", TypeError, "bfloat16", lambda: L.reconstruction_loss(X.bfloat16(), X))
case("recon/x list", TypeError, "got list", lambda: L.reconstruction_loss(X.tolist(), X))
case("recon/x bool", TypeError, "torch.bool", lambda: L.reconstruction_loss(X > 0.5, X))
case("recon/broadcast target", ValueError, "never broadcast",
     lambda: L.reconstruction_loss(X[:1], X))
case("recon/flat x_hat", ValueError, r"x_hat has shape \(4, 784\)",
     lambda: L.reconstruction_loss(X, X.flatten(1)))
case("recon/x 0..255", ValueError, r"x \(the targets\) must lie in \[0, 1\].*255",
     lambda: L.reconstruction_loss(PIX255, X))
case("recon/x_hat > 1", ValueError, r"x_hat \(the reconstructions\) must lie in \[0, 1\]",
     lambda: L.reconstruction_loss(X, X + 1))
case("recon/x negative", ValueError, r"must lie in \[0, 1\]", lambda: L.reconstruction_loss(X - 1, X))
case("recon/x nan", ValueError, "x .* contains nan", lambda: L.reconstruction_loss(NAN_X, X))
case("logits/x uint8", TypeError, "uint8", lambda: L.reconstruction_loss_with_logits(U8, LOGITS))
case("logits/logits int", TypeError, "logits must be a floating-point",
     lambda: L.reconstruction_loss_with_logits(X, LOGITS.long()))
case("logits/logits half", TypeError, "float16",
     lambda: L.reconstruction_loss_with_logits(X, LOGITS.half()))
case("logits/broadcast", ValueError, "never broadcast",
     lambda: L.reconstruction_loss_with_logits(X[:1], LOGITS))
case("logits/x 0..255", ValueError, r"\[0, 1\]", lambda: L.reconstruction_loss_with_logits(PIX255, LOGITS))
case("logits/x nan", ValueError, "nan", lambda: L.reconstruction_loss_with_logits(NAN_X, LOGITS))
case("mse/x uint8", TypeError, "uint8", lambda: L.mse_reconstruction_loss(U8, X))
case("mse/x_hat int", TypeError, "x_hat must be a floating-point",
     lambda: L.mse_reconstruction_loss(X, I64))
case("mse/broadcast", ValueError, "never broadcast", lambda: L.mse_reconstruction_loss(X, X[:1]))
case("negative_elbo/nan beta", ValueError, "beta must be a finite number",
     lambda: L.negative_elbo(X, LOGITS, MU, LOGVAR, beta=float("nan")))
case("negative_elbo/str beta", TypeError, "beta must be a number",
     lambda: L.negative_elbo(X, LOGITS, MU, LOGVAR, beta="1"))
case("negative_elbo/x uint8", TypeError, "uint8", lambda: L.negative_elbo(U8, LOGITS, MU, LOGVAR))
case("negative_elbo/x 0..255", ValueError, r"x must lie in \[0, 1\]",
     lambda: L.negative_elbo(PIX255, LOGITS, MU, LOGVAR))
case("negative_elbo/x nan", ValueError, "contains nan",
     lambda: L.negative_elbo(NAN_X, LOGITS, MU, LOGVAR))
case("negative_elbo/logits shape", ValueError, "logits has shape",
     lambda: L.negative_elbo(X, LOGITS[:1], MU, LOGVAR))
case("negative_elbo/logits int", TypeError, "logits must be a floating-point",
     lambda: L.negative_elbo(X, LOGITS.long(), MU, LOGVAR))
case("negative_elbo/mu 3-D", ValueError, r"must both have shape \(N, D\)",
     lambda: L.negative_elbo(X, LOGITS, MU[None], LOGVAR[None]))
case("negative_elbo/mu batch", ValueError, "N = 4", lambda: L.negative_elbo(X, LOGITS, MU[:2], LOGVAR[:2]))
case("negative_elbo/beta", ValueError, "beta must be a non-negative",
     lambda: L.negative_elbo(X, LOGITS, MU, LOGVAR, beta=-0.5))

# ---------------------------------------------------------------------------------- KL
case("kl_gaussian/mu int", TypeError, "mu must be a floating-point", lambda: kl.kl_gaussian(MU.long(), LOGVAR))
case("kl_gaussian/logvar uint8", TypeError, "logvar must be a floating-point",
     lambda: kl.kl_gaussian(MU, LOGVAR.to(torch.uint8)))
case("kl_gaussian/mu list", TypeError, "got list", lambda: kl.kl_gaussian([0.0, 1.0], LOGVAR))
case("kl_gaussian/shapes", ValueError, "one log-variance per mean", lambda: kl.kl_gaussian(MU, LOGVAR[:, :2]))
case("kl_gaussian/scalar", ValueError, "mu is a scalar",
     lambda: kl.kl_gaussian(torch.tensor(0.0), torch.tensor(0.0)))
case("kl_gaussian/prior shape", ValueError, "mu_prior has shape",
     lambda: kl.kl_gaussian(MU, LOGVAR, torch.zeros(2)))
case("kl_gaussian/prior int", TypeError, "logvar_prior must be a floating-point",
     lambda: kl.kl_gaussian(MU, LOGVAR, None, torch.zeros(3, dtype=torch.long)))
case("kl_discrete/negative", ValueError, "negative entries", lambda: kl.kl_discrete([1.2, -0.2], [0.5, 0.5]))
case("kl_discrete/sum", ValueError, "do not sum to 1", lambda: kl.kl_discrete([0.2, 0.2], [0.5, 0.5]))
case("kl_discrete/nan", ValueError, "contains nan", lambda: kl.kl_discrete([float("nan"), 1.0], [0.5, 0.5]))
case("kl_discrete/shapes", ValueError, "same shape", lambda: kl.kl_discrete([0.5, 0.5], [0.2, 0.3, 0.5]))
case("kl_discrete/scalar", ValueError, "is a scalar", lambda: kl.kl_discrete(1.0, 1.0))
case("entropy/sum", ValueError, "do not sum to 1", lambda: kl.entropy([0.3, 0.3]))
case("cross_entropy/shapes", ValueError, "same shape", lambda: kl.cross_entropy([1.0], [0.5, 0.5]))
case("kl_monte_carlo/n 1", ValueError, "n_samples must be an int >= 2",
     lambda: kl.kl_monte_carlo(D.Normal(0.0, 1.0), D.Normal(0.0, 1.0), 1))
case("kl_monte_carlo/n float", TypeError, "n_samples must be an int >= 2",
     lambda: kl.kl_monte_carlo(D.Normal(0.0, 1.0), D.Normal(0.0, 1.0), 100.0))
case("kl_monte_carlo/n bool", TypeError, "n_samples",
     lambda: kl.kl_monte_carlo(D.Normal(0.0, 1.0), D.Normal(0.0, 1.0), True))
case("kl_monte_carlo/q tensor", ValueError, "q must be a torch.distributions",
     lambda: kl.kl_monte_carlo(ONE, D.Normal(0.0, 1.0), 10))
case("kl_monte_carlo/event shapes", ValueError, "event shape",
     lambda: kl.kl_monte_carlo(D.Normal(0.0, 1.0), D.MultivariateNormal(torch.zeros(2), torch.eye(2)), 10))
case("kl_integral_1d/2-D grid", ValueError, "1-D grid",
     lambda: kl.kl_integral_1d(D.Normal(0.0, 1.0), D.Normal(0.0, 1.0), torch.zeros(2, 2)))
case("kl_integral_1d/decreasing", ValueError, "strictly increasing",
     lambda: kl.kl_integral_1d(D.Normal(0.0, 1.0), D.Normal(0.0, 1.0), torch.tensor([1.0, 0.0])))
case("mixture/negative sigma", ValueError, "sigmas must be positive",
     lambda: kl.gaussian_mixture_on_grid(torch.linspace(-3, 3, 9), [1.0], [0.0], [-1.0]))
case("mixture/zero weight", ValueError, "weights must be positive",
     lambda: kl.gaussian_mixture_on_grid(torch.linspace(-3, 3, 9), [0.0], [0.0], [1.0]))
case("mixture/lengths", ValueError, "one entry per component",
     lambda: kl.gaussian_mixture_on_grid(torch.linspace(-3, 3, 9), [1.0], [0.0, 1.0], [1.0]))
case("grid fit/direction", ValueError, "'forward' or 'reverse'",
     lambda: kl.fit_gaussian_on_grid(torch.linspace(0, 1, 4), [0.25] * 4, "both"))
case("grid fit/x 2-D", ValueError, "x must be a 1-D grid",
     lambda: kl.fit_gaussian_on_grid(torch.zeros(2, 2), [0.25] * 4, "forward"))
case("grid fit/p sum", ValueError, "do not sum to 1",
     lambda: kl.fit_gaussian_on_grid(torch.linspace(0, 1, 4), [0.5] * 4, "forward"))

# ------------------------------------------------------------------------------ latent
case("kl_to_N(0,I)/non-symmetric cov", ValueError, "cov is not symmetric",
     lambda: latent.kl_to_standard_normal(torch.zeros(2), NONSYM))
case("kl_to_N(0,I)/indefinite cov", ValueError, "not positive definite",
     lambda: latent.kl_to_standard_normal(torch.zeros(2), INDEF))
case("kl_to_N(0,I)/singular cov", ValueError, "not positive definite",
     lambda: latent.kl_to_standard_normal(torch.zeros(2), torch.ones(2, 2)))
case("kl_to_N(0,I)/nan cov", ValueError, "nan or inf",
     lambda: latent.kl_to_standard_normal(torch.zeros(2), torch.full((2, 2), float("nan"))))
case("kl_to_N(0,I)/int cov", TypeError, "cov must be a floating-point",
     lambda: latent.kl_to_standard_normal(torch.zeros(2), torch.eye(2, dtype=torch.long)))
case("kl_to_N(0,I)/cov shape", ValueError, "cov must have shape",
     lambda: latent.kl_to_standard_normal(torch.zeros(2), torch.eye(3)))
case("kl_to_N(0,I)/mean 2-D", ValueError, r"mean must have shape \(D,\)",
     lambda: latent.kl_to_standard_normal(torch.zeros(1, 2), torch.eye(2)))
case("kl_to_N(0,I)/mean int", TypeError, "mean must be a floating-point",
     lambda: latent.kl_to_standard_normal(torch.zeros(2, dtype=torch.long), torch.eye(2)))
case("kl_to_N(0,I)/mean inf", ValueError, "mean contains nan or inf",
     lambda: latent.kl_to_standard_normal(torch.tensor([0.0, float("inf")]), torch.eye(2)))
case("code_moments/int codes", TypeError, "z must be a floating-point",
     lambda: latent.code_moments(torch.zeros(5, 2, dtype=torch.long)))
case("code_moments/one row", ValueError, "at least 2 rows", lambda: latent.code_moments(Z[:1]))
case("code_moments/1-D", ValueError, r"shape \(N, D\)", lambda: latent.code_moments(Z[:, 0]))
case("encode_dataset/int64 0..255", TypeError, "images must be a floating-point tensor, got torch.int64",
     lambda: latent.encode_dataset(Autoencoder(latent_dim=2), I64))
case("encode_dataset/float 0..255", ValueError, r"images must lie in \[0, 1\].*255",
     lambda: latent.encode_dataset(Autoencoder(latent_dim=2), PIX255))
case("encode_dataset/3-D", ValueError, r"images must have shape \(N, C, H, W\)",
     lambda: latent.encode_dataset(Autoencoder(latent_dim=2), X[:, 0]))
case("encode_dataset/batch_size 0", ValueError, "batch_size must be a positive int",
     lambda: latent.encode_dataset(Autoencoder(latent_dim=2), X, batch_size=0))
case("encode_dataset/batch_size float", TypeError, "batch_size must be a positive int",
     lambda: latent.encode_dataset(Autoencoder(latent_dim=2), X, batch_size=2.5))
case("nearest_distance/int64 images", TypeError, "x must be a floating-point tensor, got torch.int64",
     lambda: latent.nearest_distance(I64, X))
case("nearest_distance/reference int64", TypeError, "reference must be a floating-point",
     lambda: latent.nearest_distance(X, I64))
case("nearest_distance/features", ValueError, "features per row",
     lambda: latent.nearest_distance(X, Z))
case("nearest_distance/1-D", ValueError, "batch of shape", lambda: latent.nearest_distance(X[0, 0, 0], X))
case("nearest_distance/batch_size", ValueError, "batch_size", lambda: latent.nearest_distance(X, X, batch_size=0))
case("mean_nearest_distance/int64", TypeError, "torch.int64", lambda: latent.mean_nearest_distance(I64, X))
case("bounding_box/margin", ValueError, "margin must be non-negative", lambda: latent.bounding_box(Z, -0.1))
case("bounding_box/int z", TypeError, "z must be a floating-point", lambda: latent.bounding_box(Z.long()))
case("empty_cells/steps 0", ValueError, "steps must be a positive int",
     lambda: latent.empty_cell_fraction(Z, -torch.ones(2), torch.ones(2), 0))
case("empty_cells/steps float", TypeError, "steps must be a positive int",
     lambda: latent.empty_cell_fraction(Z, -torch.ones(2), torch.ones(2), 2.5))
case("empty_cells/low shape", ValueError, r"shape \(D,\)",
     lambda: latent.empty_cell_fraction(Z, -torch.ones(3), torch.ones(3), 4))
case("empty_cells/high <= low", ValueError, "high must exceed low",
     lambda: latent.empty_cell_fraction(Z, torch.ones(2), torch.ones(2), 4))
case("latent_grid/steps 1", ValueError, "steps must be an int >= 2",
     lambda: latent.latent_grid((-1.0, -1.0), (1.0, 1.0), 1))
case("latent_grid/3-D corners", ValueError, "2-D latent space only",
     lambda: latent.latent_grid((-1.0,) * 3, (1.0,) * 3, 4))
case("latent_grid/high <= low", ValueError, "high must exceed low",
     lambda: latent.latent_grid((1.0, 1.0), (-1.0, 1.0), 4))
case("interpolate/shapes", ValueError, "single codes", lambda: latent.interpolate(Z[0], Z[:2], 5))
case("interpolate/steps 1", ValueError, "steps must be an int >= 2", lambda: latent.interpolate(Z[0], Z[1], 1))
case("inside_box/int z", TypeError, "z must be a floating-point",
     lambda: latent.fraction_inside_box(Z.long(), -ONE, ONE))

# ----------------------------------------------------------------------------- reparam
R = reparam
case("reparameterize/mu int", TypeError, "mu must be a floating-point", lambda: R.reparameterize(MU.long(), LOGVAR))
case("reparameterize/logvar uint8", TypeError, "logvar must be a floating-point",
     lambda: R.reparameterize(MU, LOGVAR.to(torch.uint8)))
case("reparameterize/shapes", ValueError, "pass one logvar per mu", lambda: R.reparameterize(MU, LOGVAR[:2]))
case("reparameterize/broadcast", ValueError, "logvar has shape", lambda: R.reparameterize(MU, LOGVAR[:1]))
case("reparameterize/mu nan", ValueError, "mu contains nan or inf",
     lambda: R.reparameterize(torch.full((2, 2), float("nan")), torch.zeros(2, 2)))
case("reparameterize/logvar inf", ValueError, "logvar contains nan or inf",
     lambda: R.reparameterize(torch.zeros(2, 2), torch.full((2, 2), float("inf"))))
case("reparameterize/mu list", TypeError, "got list", lambda: R.reparameterize([0.0], LOGVAR))
for _est in (R.score_function_gradient, R.pathwise_gradient):
    _n = _est.__name__
    case(f"{_n}/negative sigma", ValueError, "sigma must be positive", lambda e=_est: e(z2, ONE, -ONE, 10))
    case(f"{_n}/zero sigma", ValueError, "sigma must be positive", lambda e=_est: e(z2, ONE, 0 * ONE, 10))
    case(f"{_n}/n 1", ValueError, "n must be an int >= 2", lambda e=_est: e(z2, ONE, ONE, 1))
    case(f"{_n}/n float", TypeError, "n must be an int >= 2", lambda e=_est: e(z2, ONE, ONE, 10.0))
    case(f"{_n}/sigma nan", ValueError, "sigma contains nan", lambda e=_est: e(z2, ONE, ONE * float("nan"), 10))
    case(f"{_n}/mu scalar", ValueError, "mu is a scalar",
         lambda e=_est: e(z2, torch.tensor(0.0), torch.tensor(1.0), 10))
    case(f"{_n}/shapes", ValueError, "mu has shape .* sigma has shape",
         lambda e=_est: e(z2, torch.zeros(2), torch.ones(3), 10))
    case(f"{_n}/sigma int", TypeError, "sigma must be a floating-point",
         lambda e=_est: e(z2, ONE, torch.ones(1, dtype=torch.long), 10))
case("score/f shape", ValueError, "one value per sample",
     lambda: R.score_function_gradient(lambda z: z, ONE, ONE, 10))
case("z2 variance/negative sigma", ValueError, "sigma must be positive",
     lambda: R.z2_gradient_variance(torch.tensor(1.0), torch.tensor(-1.0)))
case("z2 variance/negative sigma float", ValueError, "sigma must be positive",
     lambda: R.z2_gradient_variance(1.0, -2.0))
case("z2 variance/zero sigma", ValueError, "sigma must be positive", lambda: R.z2_gradient_variance(1.0, 0.0))
case("z2 variance/int mu", TypeError, "mu must be a floating-point",
     lambda: R.z2_gradient_variance(torch.tensor(1), torch.tensor(1.0)))
case("z2 variance/nan mu", ValueError, "mu contains nan", lambda: R.z2_gradient_variance(float("nan"), 1.0))
case("fit_gaussian/steps 0", ValueError, "steps must be a positive int",
     lambda: R.fit_gaussian(z2, ONE, ONE, 0))
case("fit_gaussian/steps float", TypeError, "steps must be a positive int",
     lambda: R.fit_gaussian(z2, ONE, ONE, 10.0))
case("fit_gaussian/n_samples 0", ValueError, "n_samples must be a positive int",
     lambda: R.fit_gaussian(z2, ONE, ONE, 5, n_samples=0))
case("fit_gaussian/lr negative", ValueError, "lr must be a positive number",
     lambda: R.fit_gaussian(z2, ONE, ONE, 5, lr=-0.1))
case("fit_gaussian/lr nan", ValueError, "lr must be a finite number",
     lambda: R.fit_gaussian(z2, ONE, ONE, 5, lr=float("nan")))
case("fit_gaussian/mu 2-D", ValueError, r"mu must have shape \(D,\)",
     lambda: R.fit_gaussian(z2, torch.zeros(1, 1), torch.zeros(1, 1), 5))
case("fit_gaussian/mu int", TypeError, "mu must be a floating-point",
     lambda: R.fit_gaussian(z2, torch.zeros(1, dtype=torch.long), ONE, 5))

# --------------------------------------------------------------------------------- BIC
case("bic_curve/float ks", TypeError, "ks must hold ints, got float 1.5",
     lambda: bic.bic_curve(ZNP, [1.5, 2.5]))
case("bic_curve/whole float ks", TypeError, "ks must hold ints, got float 1.0",
     lambda: bic.bic_curve(ZNP, [1.0, 2.0]))
case("bic_curve/numpy float ks", TypeError, "ks must hold ints",
     lambda: bic.bic_curve(ZNP, np.array([1.0, 2.0])))
case("bic_curve/int ks", TypeError, "ks must be an iterable of ints", lambda: bic.bic_curve(ZNP, 3))
case("bic_curve/str ks", TypeError, "ks must be an iterable of ints", lambda: bic.bic_curve(ZNP, "123"))
case("bic_curve/empty ks", ValueError, "ks is empty", lambda: bic.bic_curve(ZNP, []))
case("bic_curve/zero k", ValueError, "positive numbers", lambda: bic.bic_curve(ZNP, [0, 1]))
case("bic_curve/decreasing", ValueError, "increasing", lambda: bic.bic_curve(ZNP, [2, 1]))
case("bic_curve/repeats", ValueError, "repeats", lambda: bic.bic_curve(ZNP, [1, 1]))
case("bic_curve/k > n", ValueError, "only n=30 codes", lambda: bic.bic_curve(ZNP, [1, 31]))
case("bic_curve/nan codes", ValueError, "NaN or inf", lambda: bic.bic_curve(np.full((5, 2), np.nan), [1]))
case("bic_curve/1-D codes", ValueError, r"z must have shape \(n, d\)", lambda: bic.bic_curve(ZNP[:, 0], [1]))
case("bic_curve/3-D codes", ValueError, r"z must have shape \(n, d\)", lambda: bic.bic_curve(ZNP[None], [1]))
case("bic_curve/covariance type", ValueError, "covariance_type='dense' is unknown",
     lambda: bic.bic_curve(ZNP, [1], covariance_type="dense"))
case("bic_curve/n_init 0", ValueError, "n_init must be at least 1", lambda: bic.bic_curve(ZNP, [1], n_init=0))
case("bic_curve/n_init float", TypeError, "n_init must be an int", lambda: bic.bic_curve(ZNP, [1], n_init=1.5))
case("bic_curve/max_iter 0", ValueError, "max_iter must be a positive int",
     lambda: bic.bic_curve(ZNP, [1], max_iter=0))
case("bic_curve/reg_covar negative", ValueError, "reg_covar must be a non-negative",
     lambda: bic.bic_curve(ZNP, [1], reg_covar=-1e-6))
case("n_parameters/k float", TypeError, "k must be a positive int", lambda: bic.n_parameters(2.5, 2))
case("n_parameters/k 0", ValueError, "k must be a positive int", lambda: bic.n_parameters(0, 2))
case("n_parameters/k bool", TypeError, "k must be a positive int", lambda: bic.n_parameters(True, 2))
case("n_parameters/d 0", ValueError, "d must be a positive int", lambda: bic.n_parameters(2, 0))
case("n_parameters/type", ValueError, "covariance_type", lambda: bic.n_parameters(2, 2, "dense"))
case("bic/n 0", ValueError, "n must be at least 1", lambda: bic.bic(0.0, 1, 0))
case("bic/n float", TypeError, "n must be an int", lambda: bic.bic(0.0, 1, 2.5))
case("bic/p negative", ValueError, "p must be an int >= 0", lambda: bic.bic(0.0, -1, 10))
case("bic/log L nan", ValueError, "log_likelihood must be a finite", lambda: bic.bic(float("nan"), 1, 10))
case("sample_mixture/n 0", ValueError, "n must be at least 1", lambda: bic.sample_mixture(fitted_gmm(), 0))
case("sample_mixture/n float", TypeError, "n must be an int", lambda: bic.sample_mixture(fitted_gmm(), 1.5))
case("sample_mixture/unfitted", ValueError, "gmm is not fitted",
     lambda: bic.sample_mixture(GaussianMixture(2), 5))
case("ellipse/non-symmetric", ValueError, "cov is not symmetric",
     lambda: bic.ellipse(np.zeros(2), NONSYM.numpy()))
case("ellipse/indefinite", ValueError, "not positive definite", lambda: bic.ellipse(np.zeros(2), INDEF.numpy()))
case("ellipse/3-D", ValueError, "2-D latent space only", lambda: bic.ellipse(np.zeros(3), np.eye(3)))
case("ellipse/n_std 0", ValueError, "n_std must be positive", lambda: bic.ellipse(np.zeros(2), np.eye(2), 0.0))

# ------------------------------------------------------------- priors, collapse, holes
case("StandardNormalPrior/latent_dim 0", ValueError, "latent_dim must be a positive int",
     lambda: priors.StandardNormalPrior(0))
case("StandardNormalPrior/z wrong D", ValueError, r"z must have shape \(N, 3\)",
     lambda: priors.StandardNormalPrior(3).log_prob(torch.zeros(4, 2)))
case("StandardNormalPrior/z uint8", TypeError, "uint8",
     lambda: priors.StandardNormalPrior(2).log_prob(torch.zeros(4, 2, dtype=torch.uint8)))
case("StandardNormalPrior/sample n float", TypeError, "n must be a positive int",
     lambda: priors.StandardNormalPrior(2).sample(2.5))
case("MixturePrior/n_components 0", ValueError, "n_components must be a positive int",
     lambda: priors.MixturePrior(0, 2))
case("MixturePrior/z 1-D", ValueError, r"z must have shape \(N, 2\)",
     lambda: priors.MixturePrior(3, 2).log_prob(torch.zeros(2)))
case("MixturePrior/full gmm", ValueError, "covariance_type='diag'",
     lambda: priors.MixturePrior.from_gmm(fitted_gmm()))
case("VampPrior/encode", TypeError, "encode must be the encoder", lambda: priors.VampPrior(None, 2))
case("VampPrior/n_components 0", ValueError, "n_components must be a positive int",
     lambda: priors.VampPrior(small_vae().encode, 0))
case("kl_per_dimension/shapes", ValueError, r"must both have shape \(N, D\)",
     lambda: collapse.kl_per_dimension(torch.zeros(4, 2), torch.zeros(4, 3)))
case("kl_per_dimension/list", TypeError, "must be tensors",
     lambda: collapse.kl_per_dimension([[0.0]], torch.zeros(1, 1)))
case("activity/one image", ValueError, "N >= 2", lambda: collapse.activity(torch.zeros(1, 3)))
case("active_units/the activities", ValueError, r"mu must have shape \(N, D\)",
     lambda: collapse.active_units(torch.zeros(3)))
case("active_units/threshold 0", ValueError, "threshold must be a positive number",
     lambda: collapse.active_units(torch.randn(4, 2), 0.0))
case("active_units/int mu", TypeError, "floating-point",
     lambda: collapse.active_units(torch.zeros(4, 2, dtype=torch.int64)))
case("prior_holes/quantile 1", ValueError, "quantile must lie in",
     lambda: holes.prior_holes(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, 2), 1.0))
case("prior_holes/z_prior wrong D", ValueError, r"z_prior must have shape \(N, 2\)",
     lambda: holes.prior_holes(torch.zeros(3, 3), torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, 2)))
case("prior_holes/logvar shape", ValueError, r"must both have shape \(N, D\)",
     lambda: holes.prior_holes(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(2, 2)))
case("aggregate_posterior/chunk 0", ValueError, "chunk must be a positive int",
     lambda: holes.aggregate_posterior_log_prob(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, 2), chunk=0))
case("measure_prior_holes/one image", ValueError, r"train_images must have shape \(N, ...\) with N >= 2",
     lambda: holes.measure_prior_holes(small_vae(), torch.zeros(3, 2), U8[:1]))
case("train_validation_split/float labels", ValueError, "integer class labels",
     lambda: data.train_validation_split(torch.zeros(10), 2))
case("train_validation_split/too many", ValueError, "must be below the number",
     lambda: data.train_validation_split(torch.arange(10) % 2, 10))
case("encode_dataset/posterior of an AE", ValueError, r"no posterior q\(z\|x\)",
     lambda: latent.encode_dataset(Autoencoder(latent_dim=2), U8, posterior=True))

# ---------------------------------------------------------------- the linear-Gaussian model
case("LinearGaussian/x wrong d", ValueError, "x",
     lambda: LG.log_evidence(LG.random_model(5, 2, generator=torch.Generator().manual_seed(0)), torch.zeros(3, 4, dtype=torch.float64)))
case("gaussian_elbo/cov not PSD", ValueError, "cov",
     lambda: LG.gaussian_elbo(LG.random_model(5, 2, generator=torch.Generator().manual_seed(0)), torch.zeros(3, 5, dtype=torch.float64),
                              torch.zeros(3, 2, dtype=torch.float64), -torch.eye(2, dtype=torch.float64)))
case("iw_bound/k 0", ValueError, "k must be a positive int",
     lambda: LG.iw_bound(LG.random_model(5, 2, generator=torch.Generator().manual_seed(0)), torch.zeros(3, 5, dtype=torch.float64),
                         torch.zeros(3, 2, dtype=torch.float64), torch.eye(2, dtype=torch.float64), 0, generator=torch.Generator()))
case("iw_bound/no generator", TypeError, "generator",
     lambda: LG.iw_bound(LG.random_model(5, 2, generator=torch.Generator().manual_seed(0)), torch.zeros(3, 5, dtype=torch.float64),
                         torch.zeros(3, 2, dtype=torch.float64), torch.eye(2, dtype=torch.float64), 2, generator=None))

# -------------------------------------------------- lesson 11: autoregressive, hierarchical, gaps
def _lesson11():
    from vaelib import autoregressive, gaps, hierarchical

    return autoregressive, gaps, hierarchical

case("ARVAE/decode without x", ValueError, "pass x",
     lambda: _lesson11()[0].ARVAE(latent_dim=2, hidden=8, ar_hidden=28).decode_logits(torch.zeros(4, 2), None))
case("MaskedLinear/mask shape", ValueError, "mask must have shape",
     lambda: _lesson11()[0].MaskedLinear(3, 2, torch.ones(3, 2)))
case("AutoregressiveDecoder/block 0", ValueError, "block",
     lambda: _lesson11()[0].AutoregressiveDecoder(2, hidden=8, block=0))
case("hierarchical/not a TwoLevelVAE", TypeError, "TwoLevelVAE",
     lambda: _lesson11()[2].negative_elbo(VAE(latent_dim=2, hidden=(8,)), BIN))
case("hierarchical/k 0", ValueError, "k",
     lambda: _lesson11()[2].log_weights(_lesson11()[2].TwoLevelVAE(2, 2, 8, 8), BIN, 0))
case("refine/steps 0", ValueError, "steps",
     lambda: _lesson11()[1].refine(lambda m, lv: m.sum(1), MU, LOGVAR, steps=0))
case("refine/lr 0", ValueError, "lr",
     lambda: _lesson11()[1].refine(lambda m, lv: m.sum(1), MU, LOGVAR, lr=0))
case("refine/diverges", ValueError, "lower lr",
     lambda: _lesson11()[1].refine(lambda m, lv: m.exp().exp().sum(1), MU, LOGVAR, steps=50, lr=50.0, progress=False))
case("inference_gaps/other shapes", ValueError, "one value per image",
     lambda: _lesson11()[1].inference_gaps(torch.zeros(4), torch.zeros(3), torch.zeros(3)))
case("iwae_log_likelihood/q for other images", ValueError, "one row per image",
     lambda: evaluate.iwae_log_likelihood(VAE(latent_dim=3, hidden=(8,)), (X > 0.5).float(), 2, q=(MU[:2], LOGVAR[:2])))

# ---------------------------------------------------------------------------- evaluate
E = evaluate
BIN = (X > 0.5).float()
case("iwae/k 0", ValueError, "k must be a positive int", lambda: E.iwae_log_likelihood(small_vae(), BIN, 0))
case("iwae/k float", TypeError, "k must be a positive int", lambda: E.iwae_log_likelihood(small_vae(), BIN, 2.5))
case("iwae/max_rows 0", ValueError, "max_rows", lambda: E.iwae_log_likelihood(small_vae(), BIN, 2, max_rows=0))
case("iwae/x 2-D", ValueError, "shape", lambda: E.iwae_log_likelihood(small_vae(), BIN.flatten(1), 2))
case("iwae/grey bernoulli", ValueError, "binar", lambda: E.iwae_log_likelihood(small_vae(), X, 2))
case("iwae/0..255", ValueError, r"\[0, 1\]",
     lambda: E.iwae_log_likelihood(small_vae(), PIX255, 2, likelihood="continuous_bernoulli"))
case("iwae/uint8", TypeError, "uint8", lambda: E.iwae_log_likelihood(small_vae(), U8, 2))
case("iwae/likelihood", ValueError, "likelihood='gaussian' is unknown",
     lambda: E.iwae_log_likelihood(small_vae(), BIN, 2, likelihood="gaussian"))
case("decoder_log_prob/0..255", ValueError, r"x \(pixel intensities\) must lie in \[0, 1\]",
     lambda: E.decoder_log_prob(PIX255, LOGITS, "continuous_bernoulli"))
case("decoder_log_prob/uint8", TypeError, "uint8", lambda: E.decoder_log_prob(U8, LOGITS, "bernoulli"))
case("decoder_log_prob/broadcast", ValueError, "logits has shape",
     lambda: E.decoder_log_prob(X, LOGITS[:1], "bernoulli"))
case("decoder_log_prob/unknown", ValueError, "likelihood='poisson'", lambda: E.decoder_log_prob(X, LOGITS, "poisson"))
case("model_negative_elbo/0..255", ValueError, r"\[0, 1\]", lambda: E.model_negative_elbo(small_vae(), PIX255))
case("model_negative_elbo/uint8", TypeError, "uint8", lambda: E.model_negative_elbo(small_vae(), U8))
case("model_negative_elbo/flat", ValueError, r"\(N, 1, H, W\)", lambda: E.model_negative_elbo(small_vae(), X.flatten(1)))
case("model_negative_elbo/likelihood", ValueError, "likelihood",
     lambda: E.model_negative_elbo(small_vae(), X, likelihood="poisson"))
case("binarize/0..255", ValueError, r"\[0, 1\]", lambda: E.binarize(PIX255))
case("binarize/uint8", TypeError, "uint8", lambda: E.binarize(U8))
case("binarize/nan", ValueError, "contains nan", lambda: E.binarize(NAN_X))


# -------------------------------------------------------------------------------- data
def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> Path:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    blob = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(blob))
    else:
        path.write_bytes(blob)
    return path


def split_files(ctx: Ctx, images: np.ndarray, labels: np.ndarray) -> tuple[Path, Path]:
    return (write_idx(ctx.tmp / "fashion-mnist" / "t10k-images-idx3-ubyte", images),
            write_idx(ctx.tmp / "fashion-mnist" / "t10k-labels-idx1-ubyte", labels))  # fmt: skip


def load_test_split(ctx: Ctx, images: np.ndarray, labels: np.ndarray):
    ctx.mp.setattr(datafiles, "SIZES", {"train": 20, "test": 20})
    return datafiles.load_split("fashion-mnist", "test", *split_files(ctx, images, labels))


def no_data(ctx: Ctx) -> None:
    ctx.mp.setattr(runtime, "REPO_ROOT", ctx.tmp / "repo")
    ctx.mp.setattr(datafiles, "SYSTEM_DIRS", {k: str(ctx.tmp / "system" / k) for k in datafiles.SYSTEM_DIRS})
    ctx.mp.delenv("VAELIB_DATA", raising=False)
    ctx.mp.setattr(datafiles, "SIZES", {"train": 20, "test": 20})


def fake_dataset(folder: Path, n: int = 20) -> None:
    for images, labels in datafiles.FILES.values():
        write_idx(folder / images, np.full((n, 28, 28), 7), gz=True)
        write_idx(folder / labels, np.arange(n) % 10, gz=True)


def write(path: Path, blob: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    return path


LAB20 = np.arange(20) % 10
IMG20 = np.zeros((20, 28, 28))
IDX_BLOB = bytes([0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 4])
case("load_dataset/name", ValueError, "name='cifar10'", lambda: data.load_dataset("cifar10"))
case("load_dataset/split", ValueError, "split='valid'", lambda: data.load_dataset(split="valid"))
case("to_float/float", ValueError, "images must be uint8", lambda: data.to_float(X))
case("DeviceLoader/batch 0", ValueError, "batch_size must be at least 1", lambda: data.DeviceLoader(U8, 0))
case("DeviceLoader/batch float", TypeError, "batch_size must be an int", lambda: data.DeviceLoader(U8, 2.5))
case("DeviceLoader/3-D", ValueError, r"\(N, C, H, W\)", lambda: data.DeviceLoader(U8[:, 0]))
case("DeviceLoader/nan pixel", ValueError, "images contains nan", lambda: data.DeviceLoader(NAN_X))
case("DeviceLoader/0..255 floats", ValueError, r"uint8 or floats in \[0, 1\]", lambda: data.DeviceLoader(PIX255))
case("DeviceLoader/int64 images", TypeError, "torch.int64", lambda: data.DeviceLoader(I64))
case("DeviceLoader/half", TypeError, "float16", lambda: data.DeviceLoader(X.half()))
case("DeviceLoader/list", TypeError, "images must be", lambda: data.DeviceLoader(X.tolist()))
case("stratified_subset/2-D", ValueError, r"labels must have shape \(N,\)",
     lambda: data.stratified_subset(torch.zeros(2, 2), 2))
case("stratified_subset/n small", ValueError, "smaller than the number of classes",
     lambda: data.stratified_subset(torch.arange(10), 5))
case("read_idx/png", ValueError, "not an unsigned-byte IDX file",
     lambda c: datafiles.read_idx(write(c.tmp / "a", b"\x89PNG....")))
case("read_idx/empty", ValueError, "not an unsigned-byte IDX file",
     lambda c: datafiles.read_idx(write(c.tmp / "a", b"")))
case("read_idx/truncated", ValueError, "'.*/a' is truncated", lambda c: datafiles.read_idx(write(c.tmp / "a", IDX_BLOB[:-1])))
case("read_idx/truncated header", ValueError, "truncated inside its header",
     lambda c: datafiles.read_idx(write(c.tmp / "a", IDX_BLOB[:6])))
case("read_idx/extra bytes", ValueError, "bytes after", lambda c: datafiles.read_idx(write(c.tmp / "a", IDX_BLOB + b"x")))
case("read_idx/truncated gz", ValueError, r"a\.gz.* cannot be read \(EOFError",
     lambda c: datafiles.read_idx(write(c.tmp / "a.gz", gzip.compress(IDX_BLOB)[:-6])))
case("read_idx/not gzip", ValueError, r"a\.gz.* cannot be read \(BadGzipFile",
     lambda c: datafiles.read_idx(write(c.tmp / "a.gz", IDX_BLOB)))
case("read_idx/missing", ValueError, "cannot be read", lambda c: datafiles.read_idx(c.tmp / "none"))
case("load_split/flat images", ValueError, r"holds shape \(20, 784\)",
     lambda c: load_test_split(c, np.zeros((20, 784)), LAB20))
case("load_split/32x32", ValueError, r"holds shape \(20, 32, 32\)",
     lambda c: load_test_split(c, np.zeros((20, 32, 32)), LAB20))
case("load_split/labels hold images", ValueError, "holds images, not labels",
     lambda c: load_test_split(c, IMG20, IMG20))
case("load_split/label 12", ValueError, "holds label 12",
     lambda c: load_test_split(c, IMG20, np.full(20, 12)))
case("load_split/swapped", ValueError, "swapped", lambda c: load_test_split(c, LAB20, IMG20))
case("load_split/wrong count", ValueError, r"holds shape \(19, 28, 28\)",
     lambda c: load_test_split(c, IMG20[:19], LAB20))
case("load_split/real size", ValueError, r"test images are \(10000, 28, 28\)",
     lambda c: datafiles.load_split("fashion-mnist", "test", *split_files(c, IMG20, LAB20)))


def only_broken_folder(ctx: Ctx):
    no_data(ctx)
    fake_dataset(ctx.tmp / "system" / "fashion-mnist")
    path = ctx.tmp / "system" / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])  # a truncated download
    with pytest.warns(UserWarning, match="skipping"):
        return data.load_dataset("fashion-mnist", "test", fast=False)


def mnist_from_flat_fashion(ctx: Ctx):
    no_data(ctx)
    fake_dataset(ctx.tmp / "env")  # flat: files of unknown origin
    ctx.mp.setenv("VAELIB_DATA", str(ctx.tmp / "env"))
    with pytest.warns(UserWarning, match="not a known release of mnist"):
        return data.load_dataset("mnist", "test", fast=False)


def missing(ctx: Ctx, name: str):
    no_data(ctx)
    return data.load_dataset(name, fast=False)


case("load_dataset/only a broken folder", FileNotFoundError, r"Skipped \(broken\).*cannot be read",
     only_broken_folder)
case("load_dataset/mnist from flat files", FileNotFoundError, "no Debian package ships MNIST",
     mnist_from_flat_fashion)
case("load_dataset/no fashion", FileNotFoundError, "apt-get install dataset-fashion-mnist",
     lambda c: missing(c, "fashion-mnist"))
case("load_dataset/no mnist", FileNotFoundError, "mnist --ensure", lambda c: missing(c, "mnist"))


# ------------------------------------------------------------------------- checkpoints
def ckpt_file(ctx: Ctx, blob: object = None, raw: bytes | None = None) -> Path:
    path = ctx.tmp / "m.pt"
    if raw is not None:
        path.write_bytes(raw)
    else:
        torch.save(blob, path)
    return path


def good_blob(**change) -> dict:
    blob = {"state_dict": VAE(latent_dim=2).state_dict(), "history": {"loss": [1.0]}, "meta": {}}
    return {**blob, **change}


def nan_state() -> dict:
    state = VAE(latent_dim=2).state_dict()
    state["mu_head.weight"] = state["mu_head.weight"] * float("nan")
    return state


def load_into_vae(path: Path):
    return checkpoint.load_checkpoint(path, VAE(latent_dim=2))


CE = checkpoint.CheckpointError
for _bad in ("", "a/b", "m.pt", "name\n", " name", ".hidden"):
    case(f"checkpoint_path/{_bad!r}", ValueError, "bare file stem", lambda b=_bad: C.checkpoint_path(b))
case("checkpoint_path/int", ValueError, "bare file stem", lambda: C.checkpoint_path(5))
case("load/0 bytes", CE, r"m\.pt is empty \(0 bytes", lambda c: load_into_vae(ckpt_file(c, raw=b"")))
case("load/text", CE, "not a readable checkpoint", lambda c: load_into_vae(ckpt_file(c, raw=b"hello\n")))
case("load/half a file", CE, "not a readable checkpoint",
     lambda c: load_into_vae(ckpt_file(c, raw=(lambda p: p.read_bytes()[:500])(ckpt_file(c, good_blob())))))
case("load/a list", CE, "holds a list", lambda c: load_into_vae(ckpt_file(c, [1, 2])))
case("load/a bare tensor", CE, "holds a Tensor", lambda c: load_into_vae(ckpt_file(c, torch.zeros(3))))
case("load/a state_dict alone", CE, "has keys", lambda c: load_into_vae(ckpt_file(c, VAE(latent_dim=2).state_dict())))
case("load/wrong keys", CE, "has keys", lambda c: load_into_vae(ckpt_file(c, {"weights": {}})))
case("load/wrong shapes", RuntimeError, "size mismatch",
     lambda c: load_into_vae(ckpt_file(c, good_blob(state_dict=VAE(latent_dim=3).state_dict()))))
case("load/non-finite weights", CE, "non-finite values",
     lambda c: load_into_vae(ckpt_file(c, good_blob(state_dict=nan_state()))))
case("load/state_dict of lists", CE, "state_dict is not a dict of named tensors",
     lambda c: load_into_vae(ckpt_file(c, good_blob(state_dict={"w": [1.0]}))))
case("load/history of str", CE, "history is not", lambda c: load_into_vae(ckpt_file(c, good_blob(history={"loss": "x"}))))
case("load/meta list", CE, "meta is not a dict", lambda c: load_into_vae(ckpt_file(c, good_blob(meta=[1]))))
case("load/a folder", CE, "is not a file", lambda c: load_into_vae(c.tmp))


def save_nan(ctx: Ctx):
    model = VAE(latent_dim=2)
    with torch.no_grad():
        model.mu_head.weight.fill_(float("nan"))
    return checkpoint.save_checkpoint(ctx.tmp / "m.pt", model)


def train_into_unwritable(ctx: Ctx):
    (ctx.tmp / "file").write_text("not a folder")
    ctx.mp.setenv("VAELIB_CHECKPOINTS", str(ctx.tmp / "file"))
    return T.train(VAE(latent_dim=2), [X], L.vae_loss, epochs=1,
                   checkpoint=C.checkpoint_path("m"), progress=False)  # fmt: skip


def one_shot(n: int = 1):
    return iter([X] * n)


case("save/nan weights", CE, "non-finite values", save_nan)
case("save/nan history", CE, "history.* non-finite",
     lambda c: checkpoint.save_checkpoint(c.tmp / "m.pt", VAE(latent_dim=2), {"loss": [float("nan")]}))
case("train/unwritable folder", PermissionError, "is not writable.*VAELIB_CHECKPOINTS", train_into_unwritable)
case("train/empty loader", ValueError, "epoch 1 of 2 ran no batch",
     lambda: T.train(VAE(latent_dim=2), [], L.vae_loss, epochs=2, progress=False))
case("train/one-shot iterator", ValueError, "epoch 2 of 10 ran no batch.*generator or iterator",
     lambda: T.train(VAE(latent_dim=2), one_shot(), L.vae_loss, epochs=10, progress=False))
case("train/nan pixel", ValueError, "mu contains nan or inf.*learning rate",
     lambda: T.train(VAE(latent_dim=2), [NAN_X], L.vae_loss, epochs=1, progress=False))
case("train/huge lr", ValueError, "nan or inf.*learning rate",
     lambda: T.train(VAE(latent_dim=2), [X] * 2, L.vae_loss, epochs=1, lr=1e30, progress=False))
case("train/epochs 0", ValueError, "epochs must be a positive int",
     lambda: T.train(VAE(), [X], L.vae_loss, epochs=0))
case("train/epochs float", TypeError, "epochs must be a positive int",
     lambda: T.train(VAE(), [X], L.vae_loss, epochs=2.5))
case("train/lr negative", ValueError, "lr must be a positive number",
     lambda: T.train(VAE(), [X], L.vae_loss, epochs=1, lr=-1e-3))
case("train/lr nan", ValueError, "lr must be a finite number",
     lambda: T.train(VAE(), [X], L.vae_loss, epochs=1, lr=float("nan")))
case("train_or_load/name", ValueError, "has no recipe", lambda: T.train_or_load("vae_mlp_latent3"))
case("build_model/kind", ValueError, "recipe kind 'gan' is unknown",
     lambda: T.build_model(T.Recipe("gan", latent_dim=2, epochs=1)))

# -------------------------------------------------------------- environment and figures
case("seed_everything/negative", ValueError, "seed must be a non-negative int", lambda: runtime.seed_everything(-1))
case("seed_everything/float", ValueError, "seed must be a non-negative int", lambda: runtime.seed_everything(1.5))
case("setup_lesson/str seed", ValueError, "seed must be", lambda: runtime.setup_lesson(seed="0"))
if not torch.cuda.is_available():
    case("pick_device/cuda", ValueError, "CUDA is not available", lambda: runtime.pick_device("cuda"))
case("pick_device/VAELIB_DEVICE", ValueError, "VAELIB_DEVICE='tpu9' is not a device",
     lambda c: (c.mp.setenv("VAELIB_DEVICE", "tpu9"), runtime.pick_device()))
for value in ("2", "maybe", "ture", "1.0", "-1"):
    case(f"fast_mode/VAELIB_FAST={value}", ValueError, "VAELIB_FAST",
         lambda c, v=value: (c.mp.setenv("VAELIB_FAST", v), runtime.fast_mode()))
for bad_name in ("AE/curves\n", "AE/cur\tves", "AE/\x00curves", "AE/curves\r"):
    case(f"figures.save/control {bad_name!r}", ValueError, "TOPIC/file_name",
         lambda n=bad_name: figures.save(None, n))
case("figures.save/lower-case topic", ValueError, "must look like 'TOPIC/file_name'",
     lambda: figures.save(None, "ae/curves"))
case("figures.save/extension", ValueError, "no extension", lambda: figures.save(None, "AE/curves.png"))
case("figures.save/no topic", ValueError, "TOPIC/file_name", lambda: figures.save(None, "curves"))
case("figures.save/dpi", ValueError, "dpi=72", lambda: figures.save(None, "AE/x", dpi=72))
case("figures.image_grid/3-D", ValueError, r"images must have shape \(N, 1, H, W\)",
     lambda: figures.image_grid(X[:, 0], nrow=2))


# ------------------------------------------------ issue 26: the newest modules' edges
NAN_ROW = ZNP.copy()
NAN_ROW[3, 1] = np.nan
case("bic_curve/one nan code", ValueError, "z holds 1 rows with NaN", lambda: bic.bic_curve(NAN_ROW, [1, 2]))
case("bic_curve/more k than distinct codes", ValueError, "only 2 distinct codes",
     lambda: bic.bic_curve(np.repeat(np.eye(2), 5, axis=0), [1, 3]))
case("bic_curve/n_jobs float", TypeError, "n_jobs must be an int", lambda: bic.bic_curve(ZNP, [1], n_jobs=2.0))
case("bic_curve/n_jobs str", TypeError, "n_jobs must be an int", lambda: bic.bic_curve(ZNP, [1], n_jobs="2"))
case("bic_curve/seed float", TypeError, "seed must be an int", lambda: bic.bic_curve(ZNP, [1], seed=0.5))
case("bic_curve/n_init str", TypeError, "n_init must be an int", lambda: bic.bic_curve(ZNP, [1], n_init="5"))
case("bic_curve/n_init bool", TypeError, "n_init must be an int", lambda: bic.bic_curve(ZNP, [1], n_init=True))
case("sample_mixture/n 0-d float tensor", TypeError, r"n must be an int.*int\(n\)",
     lambda: bic.sample_mixture(fitted_gmm(), torch.tensor(5.0)))
case("save_checkpoint/meta np.float64 array", checkpoint.CheckpointError, r"meta\['beta'\] is a ndarray",
     lambda ctx: checkpoint.save_checkpoint(ctx.tmp / "m.pt", small_vae(), {}, {"beta": np.ones(2)}))
case("save_checkpoint/meta set", checkpoint.CheckpointError, r"meta\['ks'\] is a set",
     lambda ctx: checkpoint.save_checkpoint(ctx.tmp / "m.pt", small_vae(), {}, {"ks": {1, 2}}))
case("save_checkpoint/meta int key", checkpoint.CheckpointError, "string keys",
     lambda ctx: checkpoint.save_checkpoint(ctx.tmp / "m.pt", small_vae(), {}, {1: 2}))
case("save_checkpoint/history str", checkpoint.CheckpointError, "must be a list of numbers",
     lambda ctx: checkpoint.save_checkpoint(ctx.tmp / "m.pt", small_vae(), {"loss": ["1"]}, {}))
case("save_checkpoint/meta list", checkpoint.CheckpointError, "meta is a list",
     lambda ctx: checkpoint.save_checkpoint(ctx.tmp / "m.pt", small_vae(), {}, [1]))
# NaN in, error out: every measure that reduces over codes, images or samples
MU4 = torch.randn(40, 4, generator=g)
LV4 = torch.zeros(40, 4)
Z4 = torch.randn(30, 4, generator=g)


def nan_at(t: torch.Tensor, row: int = 3) -> torch.Tensor:
    t = t.clone()
    t[row, 0] = float("nan")
    return t


NAN_R = torch.rand(6, 1, 28, 28, generator=g)
NAN_R[2, 0, 5, 5] = float("nan")
case("prior_holes/nan mu", ValueError, r"mu contains nan.*no hole",
     lambda: holes.prior_holes(Z4, Z4, nan_at(MU4), LV4))
case("prior_holes/nan logvar", ValueError, "logvar contains nan", lambda: holes.prior_holes(Z4, Z4, MU4, nan_at(LV4)))
case("prior_holes/nan z_data", ValueError, "z_data contains nan", lambda: holes.prior_holes(Z4, nan_at(Z4), MU4, LV4))
case("prior_holes/nan z_prior", ValueError, "z_prior contains nan",
     lambda: holes.prior_holes(nan_at(Z4), Z4, MU4, LV4))
case("prior_holes/inf z_prior", ValueError, "z_prior contains nan or inf",
     lambda: holes.prior_holes(torch.full((5, 4), float("inf")), Z4, MU4, LV4))
case("prior_holes/empty z_data", ValueError, r"z_data must have shape \(N, 4\) with N >= 1",
     lambda: holes.prior_holes(Z4, Z4[:0], MU4, LV4))
case("aggregate_log_prob/nan z", ValueError, "z contains nan",
     lambda: holes.aggregate_posterior_log_prob(nan_at(Z4), MU4, LV4))
case("aggregate_log_prob/chunk 0", ValueError, "chunk must be a positive int",
     lambda: holes.aggregate_posterior_log_prob(Z4, MU4, LV4, chunk=0))
case("aggregate_log_prob/chunk str", TypeError, "chunk must be a positive int",
     lambda: holes.aggregate_posterior_log_prob(Z4, MU4, LV4, chunk="8"))
case("measure_prior_holes/z_prior numpy", TypeError, "z_prior must be a floating-point tensor, got ndarray",
     lambda: holes.measure_prior_holes(small_vae(), np.zeros((5, 2)), X))
case("measure_prior_holes/images 0..255", ValueError, r"images must lie in \[0, 1\].*255",
     lambda: holes.measure_prior_holes(small_vae(), torch.zeros(5, 2), PIX255, n_reference=2, n_threshold=2))
case("active_units/nan mu", ValueError, r"mu contains nan.*no threshold counts",
     lambda: collapse.active_units(nan_at(MU4)))
case("active_units/threshold str", TypeError, "threshold must be a number", lambda: collapse.active_units(MU4, "0.01"))
case("activity/inf mu", ValueError, "mu contains nan or inf",
     lambda: collapse.activity(MU4.index_fill(0, torch.tensor([1]), float("inf"))))
case("kl_per_dimension/nan logvar", ValueError, "logvar contains nan",
     lambda: collapse.kl_per_dimension(MU4, nan_at(LV4)))
case("nearest_distance/nan reference", ValueError, "reference contains nan.*every distance",
     lambda: latent.nearest_distance(X, NAN_R))
case("nearest_distance/nan x", ValueError, "x contains nan", lambda: latent.nearest_distance(NAN_R, X))
case("nearest_distance/nan codes", ValueError, "reference contains nan", lambda: latent.nearest_distance(Z4, nan_at(Z4)))
case("code_moments/nan", ValueError, "z contains nan", lambda: latent.code_moments(nan_at(Z4)))
case("bounding_box/nan", ValueError, "z contains nan", lambda: latent.bounding_box(nan_at(Z4)))
case("inside_box/nan", ValueError, "z contains nan",
     lambda: latent.fraction_inside_box(nan_at(Z4[:, :2]), -ONE.expand(2), ONE.expand(2)))
case("empty_cells/nan", ValueError, "z contains nan",
     lambda: latent.empty_cell_fraction(nan_at(Z4[:, :2]), -torch.ones(2), torch.ones(2), 4))
case("aggregate_covariance/nan mu", ValueError, "mu contains nan", lambda: bic.aggregate_covariance(nan_at(MU4), LV4))
case("ellipse/nan mean", ValueError, "mean contains nan", lambda: bic.ellipse(np.array([np.nan, 0.0]), np.eye(2)))
# 0..255 images refused where vaelib refuses them everywhere else (uint8 is converted)
case("encode_dataset(posterior)/float 0..255", ValueError, r"images must lie in \[0, 1\].*255",
     lambda: latent.encode_dataset(small_vae(), PIX255, posterior=True))
case("encode_dataset(posterior)/int64", TypeError, "images must be a floating-point tensor, got torch.int64",
     lambda: latent.encode_dataset(small_vae(), I64, posterior=True))
case("encode_dataset/nan images", ValueError, "images contains nan", lambda: latent.encode_dataset(small_vae(), NAN_X))
case("nearest_distance/reference 0..255", ValueError, r"reference must lie in \[0, 1\].*255",
     lambda: latent.nearest_distance(X, PIX255))
case("mean_nearest_distance/reference 0..255", ValueError, r"reference must lie in \[0, 1\]",
     lambda: latent.mean_nearest_distance(X, PIX255))
case("nearest_distance/x 0..255", ValueError, r"x must lie in \[0, 1\]", lambda: latent.nearest_distance(PIX255, X))
# negative_elbo's log_prior: its output must be (N,), and it is the density, not the module
ZS = MU + 0.1
case("negative_elbo/log_prior (N, 1)", ValueError, r"log_prior\(z\) must return .* shape \(N,\) = \(4,\), got \(4, 1\)",
     lambda: L.negative_elbo(X, LOGITS, MU, LOGVAR, z=ZS, log_prior=lambda z: -z.pow(2).sum(1, keepdim=True)))
case("negative_elbo/log_prior batch sum", ValueError, r"never over the batch",
     lambda: L.negative_elbo(X, LOGITS, MU, LOGVAR, z=ZS, log_prior=lambda z: -z.pow(2).sum()))
case("negative_elbo/log_prior module", TypeError, r"log_prior=prior.log_prob",
     lambda: L.negative_elbo(X, LOGITS, MU, LOGVAR, z=ZS, log_prior=priors.MixturePrior(2, 3)))
case("negative_elbo/free_bits inf", ValueError, "free_bits must be a finite number",
     lambda: L.negative_elbo(X, LOGITS, MU, LOGVAR, free_bits=float("inf")))
case("negative_elbo/free_bits str", TypeError, "free_bits must be a number",
     lambda: L.negative_elbo(X, LOGITS, MU, LOGVAR, free_bits="1"))
case("negative_elbo/empty batch", ValueError, r"x must have shape \(N, ...\) with N >= 1",
     lambda: L.negative_elbo(X[:0], LOGITS[:0], MU[:0], LOGVAR[:0]))
case("negative_elbo/nan mu", ValueError, "mu contains nan or inf.*learning rate",
     lambda: L.negative_elbo(X, LOGITS, nan_at(MU, 0), LOGVAR))
# prior wiring (train.train optimises model.parameters() only)


def with_prior() -> VAE:
    model = small_vae()
    model.prior = priors.MixturePrior(3, 2)
    return model


case("ELBOLoss/prior not attached", ValueError, r"prior \(a MixturePrior\) is not part of the model.*model.prior = prior",
     lambda: L.ELBOLoss(prior=priors.MixturePrior(3, 2))(small_vae(), X))
case("ELBOLoss/model.prior ignored", ValueError, r"model.prior is a MixturePrior.*ELBOLoss\(prior=model.prior\)",
     lambda: L.ELBOLoss()(with_prior(), X))
case("vae_loss/model.prior ignored", ValueError, "model.prior is a MixturePrior", lambda: L.vae_loss(with_prior(), X))
case("ELBOLoss/x uint8", TypeError, r"x must be a floating-point tensor, got uint8.*to_float",
     lambda: L.ELBOLoss()(small_vae(), U8))
case("ELBOLoss/empty batch", ValueError, "x must have shape", lambda: L.ELBOLoss()(small_vae(), X[:0]))
case("ELBOLoss/free_bits inf", ValueError, "free_bits must be a finite number", lambda: L.ELBOLoss(free_bits=float("inf")))
case("vae_loss/x uint8", TypeError, "uint8", lambda: L.vae_loss(small_vae(), U8))
case("ae_loss/x uint8", TypeError, "uint8", lambda: L.ae_loss(Autoencoder(latent_dim=2), U8))
case("beta_warmup/beta negative", ValueError, "beta must be a non-negative number", lambda: L.beta_warmup(5, 10, beta=-1))
case("beta_warmup/beta nan", ValueError, "beta must be a finite number", lambda: L.beta_warmup(5, 10, beta=float("nan")))
case("beta_warmup/step nan", TypeError, "step must be an int", lambda: L.beta_warmup(float("nan"), 10))
# priors: counts through validate, the encoder method not the model, a fitted diagonal mixture
case("StandardNormalPrior/latent_dim str", TypeError, "latent_dim must be a positive int",
     lambda: priors.StandardNormalPrior("2"))
case("MixturePrior/n_components float", TypeError, "n_components must be a positive int",
     lambda: priors.MixturePrior(2.5, 2))
case("MixturePrior.sample/n float", TypeError, "n must be a positive int", lambda: priors.MixturePrior(2, 2).sample(4.0))
case("MixturePrior.sample/n bool", TypeError, "n must be a positive int", lambda: priors.MixturePrior(2, 2).sample(True))
case("StandardNormalPrior.sample/n str", TypeError, "n must be a positive int",
     lambda: priors.StandardNormalPrior(2).sample("4"))
case("MixturePrior.log_prob/int z", TypeError, "z must be a floating-point",
     lambda: priors.MixturePrior(2, 2).log_prob(torch.zeros(3, 2, dtype=torch.long)))
case("VampPrior/the model", TypeError, r"encode is the whole VAE.*VampPrior\(model.encode, K\)",
     lambda: priors.VampPrior(small_vae(), 3))
case("VampPrior/K float", TypeError, "n_components must be a positive int", lambda: priors.VampPrior(small_vae().encode, 3.0))
case("from_gmm/unfitted", ValueError, "gmm is not fitted",
     lambda: priors.MixturePrior.from_gmm(GaussianMixture(2, covariance_type="diag")))
case("from_gmm/BICCurve", TypeError, r"from_gmm\(curve.best\)",
     lambda: priors.MixturePrior.from_gmm(bic.bic_curve(ZNP, [1, 2], "diag")))
# linear_gaussian: counts through validate, a bool diagonal, divergence and tiny psi named
LGM = LG.random_model(5, 2, generator=torch.Generator().manual_seed(0))
LGX = LG.sample(LGM, 10, generator=torch.Generator().manual_seed(1)).x
case("lg.sample/n float", TypeError, "n must be a positive int", lambda: LG.sample(LGM, 3.0, generator=g))
case("lg.sample/n str", TypeError, "n must be a positive int", lambda: LG.sample(LGM, "3", generator=g))
case("lg.random_model/x_dim bool", TypeError, "x_dim must be a positive int",
     lambda: LG.random_model(True, 2, generator=g))
case("lg.random_model/noise str", TypeError, "noise must be a number",
     lambda: LG.random_model(5, 2, generator=g, noise="0.5"))
case("lg.iw_bound/k float", TypeError, "k must be a positive int",
     lambda: LG.iw_bound(LGM, LGX, torch.zeros(10, 2), torch.eye(2), 3.0, generator=g))
case("lg.train_encoder/diagonal str", TypeError, "diagonal must be True",
     lambda: LG.train_encoder(LGM, LGX, diagonal="no", steps=1, progress=False))
case("lg.train_encoder/lr 1e6", ValueError, r"diverged at step .* lr=1000000.0 is too large",
     lambda: LG.train_encoder(LGM, LGX, diagonal=False, steps=5, lr=1e6, progress=False))
case("lg.log_evidence/tiny psi", ValueError, r"psi are too small",
     lambda: LG.log_evidence(LG.LinearGaussian(LGM.W, LGM.b, torch.full((5,), 1e-300, dtype=torch.float64)), LGX))


# fmt: on


@pytest.mark.parametrize("row", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_a_clear_error(row: Case, tmp_path, monkeypatch):
    ctx = Ctx(tmp_path, monkeypatch)
    with pytest.raises(row.exc, match=row.match) as info:
        row.call(ctx)
    assert len(str(info.value)) > 15  # a sentence, not a bare code


def test_the_table_covers_every_area():
    areas = {c.id.split("/")[0] for c in CASES}
    assert len(CASES) >= 150 and len({c.id for c in CASES}) == len(CASES)
    for prefix in ("recon", "kl_gaussian", "reparameterize", "bic_curve", "iwae", "read_idx",
                   "load", "train", "figures.save", "seed_everything"):  # fmt: skip
        assert prefix in areas, prefix


# ------------------------------------------------------------ what was silent before
def test_fixed_silent_results_now_give_right_numbers():
    """The other side of a few rows: the right input gives the number the wrong one hid."""
    x8 = torch.tensor([[[[200]]]], dtype=torch.uint8)
    right = losses.reconstruction_loss(data.to_float(x8), torch.tensor([[[[0.5]]]]))
    assert right.item() == pytest.approx(np.log(2), rel=1e-5)  # BCE(x, 0.5) = log 2 for any x
    kl = latent.kl_to_standard_normal(torch.zeros(2), (NONSYM + NONSYM.T) / 2)
    assert kl.item() == pytest.approx(0.0, abs=1e-7)  # symmetrised: cov = I
    assert bic.bic_curve(ZNP, np.arange(1, 3)).ks == [1, 2]  # NumPy ints are ints


def test_counts_accept_python_numpy_and_0d_tensor_integers(tmp_path):
    """Issue 26: every count, size, k and threshold accepts the integers a student has at hand
    (Python, numpy, 0-d tensor) and gives what the Python int gives."""
    for n in (5, np.int64(5), np.int32(5), torch.tensor(5), np.array(5)):
        assert bic.sample_mixture(fitted_gmm(), n, seed=np.int64(0)).shape == (5, 2)
        curve = bic.bic_curve(ZNP, [1, torch.tensor(2)], n_init=n, seed=np.int64(0), n_jobs=n)
        assert curve.ks == [1, 2]
        assert bic.n_parameters(n, torch.tensor(2)) == bic.n_parameters(5, 2)
    path = checkpoint.save_checkpoint(tmp_path / "m.pt", small_vae(), {"loss": (np.float32(1.5),)},
                                      {"beta": np.float64(0.5), "k": torch.tensor(3)})  # fmt: skip
    blob = checkpoint.read_checkpoint(path)
    assert blob["history"] == {"loss": [1.5]} and blob["meta"] == {"beta": 0.5, "k": 3}
    gen = torch.Generator().manual_seed(0)
    for n in (3, np.int64(3), torch.tensor(3)):
        for prior in (priors.StandardNormalPrior(np.int64(2)), priors.MixturePrior(n, 2),
                      priors.VampPrior(small_vae().encode, n)):  # fmt: skip
            assert prior.sample(n, gen).shape == (3, 2)
        model = LG.random_model(np.int64(5), torch.tensor(2), generator=gen)
        assert LG.sample(model, n, generator=gen).x.shape == (3, 5)
        x = LG.sample(model, 4, generator=gen).x
        post = LG.posterior(model, x)
        assert LG.iw_bound(model, x, post.mu, post.cov, n, generator=gen, repeats=n).shape == (3, 4)
        assert L.beta_warmup(n, torch.tensor(6), np.float64(2.0)) == 1.0
        assert holes.aggregate_posterior_log_prob(Z4, MU4, LV4, chunk=n).shape == (30,)
    assert collapse.active_units(MU4, np.float64(0.01)) == collapse.active_units(
        MU4, torch.tensor(0.01)
    )


def test_prior_wiring_faults_stop_training_before_a_step(tmp_path):
    """Issue 26: a learnable prior outside the model (never updated, never saved) and a
    model.prior that the loss ignores both stop train.train before the first step; the right
    wiring trains the prior."""
    x = X.clone()
    model = small_vae()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="is not part of the model"):
        T.train(model, [x], L.ELBOLoss(prior=priors.MixturePrior(3, 2)), epochs=1, progress=False)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # no step ran
    model = with_prior()
    with pytest.raises(ValueError, match="model.prior is a MixturePrior"):
        T.train(model, [x], L.ELBOLoss(), epochs=1, progress=False)
    means = model.prior.means.detach().clone()
    T.train(model, [x], L.ELBOLoss(prior=model.prior), epochs=1, progress=False)
    assert not torch.equal(means, model.prior.means.detach())  # attached: the optimiser moves it
    fixed = L.ELBOLoss(prior=priors.StandardNormalPrior(2))(small_vae(), x)  # no parameters: fine
    assert torch.isfinite(fixed["loss"])


# ------------------------------------------------------------------ data: broken folders
def test_a_broken_folder_does_not_hide_a_good_one(tmp_path, monkeypatch):
    ctx = Ctx(tmp_path, monkeypatch)
    no_data(ctx)
    fake_dataset(tmp_path / "system" / "fashion-mnist")  # the good system copy
    partial = tmp_path / "repo" / "data" / "FashionMNIST" / "raw"
    fake_dataset(partial)
    bad = partial / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:-20])  # a partial download
    with pytest.warns(UserWarning, match=re.escape(str(partial))):
        images, _ = data.load_dataset("fashion-mnist", "test", fast=False)
    assert images.shape == (20, 1, 28, 28)


def test_vaelib_data_without_the_files_warns_naming_the_variable(tmp_path, monkeypatch):
    ctx = Ctx(tmp_path, monkeypatch)
    no_data(ctx)
    fake_dataset(tmp_path / "system" / "fashion-mnist")
    monkeypatch.setenv("VAELIB_DATA", str(tmp_path / "typo"))
    with pytest.warns(UserWarning, match=r"VAELIB_DATA=.*typo does not exist"):
        data.load_dataset("fashion-mnist", "test", fast=False)


def test_files_in_an_unnamed_folder_count_only_with_the_right_checksum(tmp_path, monkeypatch):
    ctx = Ctx(tmp_path, monkeypatch)
    no_data(ctx)
    monkeypatch.setattr(datafiles, "SIZES", {"train": 60_000, "test": 10_000})
    flat = tmp_path / "flat"
    flat.mkdir()
    system = Path("/usr/share/datasets/fashion-mnist")
    if not (system / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("needs the system Fashion-MNIST")
    for f in system.glob("t10k-*.gz"):
        (flat / f.name).symlink_to(f)
    images, _ = data.load_dataset("fashion-mnist", "test", root=flat, fast=False)  # checksums match
    assert images.shape == (10_000, 1, 28, 28)
    with (
        pytest.warns(UserWarning, match="not a known release of mnist"),
        pytest.raises(FileNotFoundError),
    ):
        data.load_dataset("mnist", "test", root=flat, fast=False)


def test_make_data_tries_the_download_and_says_why_not(tmp_path, monkeypatch, capsys):
    ctx = Ctx(tmp_path, monkeypatch)
    no_data(ctx)
    monkeypatch.setattr(datafiles.os, "geteuid", lambda: 1000)
    assert datafiles.main(["--name", "mnist", "--ensure"]) == 1
    captured = capsys.readouterr()
    assert "trying torchvision's download" in captured.out
    assert (
        "VAELIB_NO_DOWNLOAD=1" in captured.err and "no Debian package ships MNIST" in captured.err
    )
