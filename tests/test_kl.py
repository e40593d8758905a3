"""vaelib.kl against torch.distributions, direct sums, closed forms and known values."""

from __future__ import annotations

import math

import pytest
import torch
from torch import distributions as D

from vaelib import kl

SHAPES = [(5,), (3, 4), (2, 3, 6)]
DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: dict(rtol=1e-4, atol=1e-5), torch.float64: dict(rtol=1e-10, atol=1e-12)}


def random_probs(shape, dtype, seed, zeros=False):
    g = torch.Generator().manual_seed(seed)
    p = torch.softmax(2 * torch.randn(shape, generator=g, dtype=torch.float64), dim=-1)
    if zeros:  # knock out about a third of the entries, keep at least one per row
        mask = torch.rand(shape, generator=g, dtype=torch.float64) < 0.33
        mask[..., 0] = False
        p = torch.where(mask, 0.0, p)
        p = p / p.sum(-1, keepdim=True)
    return p.to(dtype)


def direct_kl(p, q):
    """sum_x P(x) log(P(x) / Q(x)), one row at a time in plain Python floats."""
    rows_p, rows_q = p.reshape(-1, p.shape[-1]).tolist(), q.reshape(-1, q.shape[-1]).tolist()
    out = [
        sum(a * math.log(a / b) for a, b in zip(rp, rq, strict=True) if a > 0)
        for rp, rq in zip(rows_p, rows_q, strict=True)
    ]
    return torch.tensor(out, dtype=torch.float64).reshape(p.shape[:-1])


# ----------------------------------------------------------------------------- kl_discrete


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_discrete_matches_torch_distributions_and_direct_sum(shape, dtype):
    p, q = random_probs(shape, dtype, 0), random_probs(shape, dtype, 1)
    got = kl.kl_discrete(p, q)
    assert got.shape == shape[:-1] and got.dtype == dtype
    ref = D.kl_divergence(D.Categorical(probs=p), D.Categorical(probs=q))
    torch.testing.assert_close(got, ref, **TOL[dtype])
    torch.testing.assert_close(got.double(), direct_kl(p.double(), q.double()), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_discrete_with_zeros_in_p_counts_0_log_0_as_0(dtype):
    p, q = random_probs((4, 7), dtype, 2, zeros=True), random_probs((4, 7), dtype, 3)
    assert (p == 0).any()
    got = kl.kl_discrete(p, q)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got.double(), direct_kl(p.double(), q.double()), **TOL[dtype])
    ref = D.kl_divergence(D.Categorical(probs=p), D.Categorical(probs=q))
    torch.testing.assert_close(got, ref, **TOL[dtype])


def test_kl_discrete_is_inf_not_nan_where_q_is_zero_and_p_is_not():
    p = torch.tensor([[0.5, 0.5], [0.5, 0.5], [1.0, 0.0]])
    q = torch.tensor([[1.0, 0.0], [0.5, 0.5], [1.0, 0.0]])
    got = kl.kl_discrete(p, q)
    assert got[0] == math.inf
    assert got[1] == 0 and got[2] == 0
    assert kl.cross_entropy(p, q)[0] == math.inf
    assert not torch.isnan(got).any()


def test_kl_discrete_known_values():
    assert kl.kl_discrete([0.5, 0.5], [0.5, 0.5]).item() == 0.0
    coin = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert kl.kl_discrete([0.5, 0.5], [0.9, 0.1]).item() == pytest.approx(coin, rel=1e-6)
    # P certain of outcome 0: KL = -log Q(0)
    assert kl.kl_discrete([1.0, 0.0, 0.0], [0.25, 0.25, 0.5]).item() == pytest.approx(
        math.log(4), rel=1e-6
    )
    assert kl.nats_to_bits(math.log(2)) == pytest.approx(1.0)


def test_kl_discrete_is_non_negative_zero_on_equal_rows_and_asymmetric():
    p, q = random_probs((1000, 6), torch.float64, 4), random_probs((1000, 6), torch.float64, 5)
    assert (kl.kl_discrete(p, q) >= 0).all()
    assert (kl.kl_discrete(p, p) == 0).all()
    p1, q1 = [0.5, 0.5], [0.9, 0.1]
    assert kl.kl_discrete(p1, q1) != pytest.approx(kl.kl_discrete(q1, p1).item(), rel=1e-3)


def test_kl_is_cross_entropy_minus_entropy():
    p, q = (
        random_probs((8, 5), torch.float64, 6, zeros=True),
        random_probs((8, 5), torch.float64, 7),
    )
    torch.testing.assert_close(kl.kl_discrete(p, q), kl.cross_entropy(p, q) - kl.entropy(p))
    torch.testing.assert_close(kl.entropy(p), D.Categorical(probs=p).entropy())
    assert kl.entropy(torch.full((4,), 0.25)).item() == pytest.approx(math.log(4))
    assert kl.entropy([1.0, 0.0]).item() == 0.0


def test_kl_discrete_gradcheck():
    p = random_probs((3, 4), torch.float64, 8).requires_grad_()
    q = random_probs((3, 4), torch.float64, 9).requires_grad_()
    # gradcheck nudges entries by 1e-6, inside the 1e-5 tolerance on row sums
    assert torch.autograd.gradcheck(kl.kl_discrete, (p, q))
    assert torch.autograd.gradcheck(kl.entropy, (p,))


def test_kl_discrete_gradient_is_finite_where_p_is_zero():
    p = torch.tensor([0.0, 0.3, 0.7], dtype=torch.float64, requires_grad=True)
    q = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64, requires_grad=True)
    kl.kl_discrete(p, q).backward()
    assert torch.isfinite(p.grad).all() and torch.isfinite(q.grad).all()
    torch.testing.assert_close(q.grad, -p.detach() / q.detach())  # d/dq of -sum p log q


def test_kl_discrete_accepts_lists_and_integer_one_hots():
    assert kl.kl_discrete([1, 0], [1, 0]).item() == 0.0


@pytest.mark.parametrize(
    ("p", "q", "match"),
    [
        ([0.5, 0.5], [1.2, -0.2], r"q has negative entries.*softmax"),
        ([-0.1, 1.1], [0.5, 0.5], r"p has negative entries"),
        ([0.5, 0.6], [0.5, 0.5], r"p has rows that do not sum to 1 .*normalise"),
        ([0.5, 0.5], [[0.5, 0.5], [0.3, 0.3]], r"q has rows that do not sum to 1"),
        ([0.5, 0.5], [0.2, 0.3, 0.5], r"p has shape .* but q has shape"),
        ([[0.5, 0.5]] * 2, [0.5, 0.5], r"p has shape .* but q has shape"),
        (0.5, [0.5, 0.5], r"p is a scalar"),
        ([float("nan"), 1.0], [0.5, 0.5], r"p contains nan"),
    ],
)
def test_kl_discrete_rejects_bad_input(p, q, match):
    with pytest.raises(ValueError, match=match):
        kl.kl_discrete(p, q)


def test_entropy_and_cross_entropy_reject_bad_input():
    with pytest.raises(ValueError, match="p has rows that do not sum to 1"):
        kl.entropy([0.2, 0.2])
    with pytest.raises(ValueError, match=r"p has shape .* but q has shape"):
        kl.cross_entropy([0.5, 0.5], [1.0])


def test_row_sum_tolerance_is_1e_5():
    kl.kl_discrete([0.5 + 4e-6, 0.5], [0.5, 0.5])
    with pytest.raises(ValueError, match="tolerance 1e-05"):
        kl.kl_discrete([0.5 + 4e-5, 0.5], [0.5, 0.5])


# ----------------------------------------------------------------------------- kl_gaussian


def random_gaussians(shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g, dtype=dtype) for _ in range(4)]


def torch_kl(mu, logvar, mu_p, logvar_p):
    q = D.Independent(D.Normal(mu, (0.5 * logvar).exp()), 1)
    p = D.Independent(D.Normal(mu_p, (0.5 * logvar_p).exp()), 1)
    return D.kl_divergence(q, p)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_gaussian_matches_torch_distributions(shape, dtype):
    mu, logvar, mu_p, logvar_p = random_gaussians(shape, dtype, 10)
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-4)
    got = kl.kl_gaussian(mu, logvar, mu_p, logvar_p)
    assert got.shape == shape[:-1] and got.dtype == dtype
    torch.testing.assert_close(got, torch_kl(mu, logvar, mu_p, logvar_p), **tol)
    zeros = torch.zeros_like(mu)
    torch.testing.assert_close(
        kl.kl_gaussian(mu, logvar), torch_kl(mu, logvar, zeros, zeros), **tol
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_gaussian_default_prior_is_the_vae_formula_exactly(dtype):
    mu, logvar, _, _ = random_gaussians((16, 8), dtype, 11)
    formula = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1)
    assert torch.equal(kl.kl_gaussian(mu, logvar), formula)
    zeros = torch.zeros_like(mu)
    torch.testing.assert_close(kl.kl_gaussian(mu, logvar, zeros, zeros), formula)


def test_kl_gaussian_matches_a_direct_sum_of_univariate_terms():
    mu, logvar, mu_p, logvar_p = random_gaussians((3, 4), torch.float64, 12)
    s2, s2p = logvar.exp(), logvar_p.exp()
    direct = torch.zeros(3, dtype=torch.float64)
    for d in range(4):  # 0.5 * (log(s2p / s2) + (s2 + (mu - mu_p)^2) / s2p - 1), one dim at a time
        direct += 0.5 * (
            torch.log(s2p[:, d] / s2[:, d])
            + (s2[:, d] + (mu[:, d] - mu_p[:, d]) ** 2) / s2p[:, d]
            - 1
        )
    torch.testing.assert_close(kl.kl_gaussian(mu, logvar, mu_p, logvar_p), direct)


def test_kl_gaussian_known_values():
    zero = torch.zeros(1, dtype=torch.float64)
    assert kl.kl_gaussian(zero, zero).item() == 0.0  # KL(N(0,1) || N(0,1))
    assert math.copysign(1.0, kl.kl_gaussian(zero, zero).item()) == 1.0  # +0.0, not -0.0
    assert kl.kl_gaussian(zero + 2, zero).item() == pytest.approx(2.0)  # KL(N(2,1) || N(0,1))
    # N(1, 2^2) || N(0, 1): 0.5 * (4 + 1 - 1 - log 4)
    val = kl.kl_gaussian(zero + 1, zero + math.log(4)).item()
    assert val == pytest.approx(0.5 * (4 - math.log(4)))
    # D independent dimensions add up
    assert kl.kl_gaussian(torch.full((5,), 2.0), torch.zeros(5)).item() == pytest.approx(10.0)
    # a prior of shape (D,) broadcasts over the batch
    mu_p = torch.tensor([2.0, -1.0])
    got = kl.kl_gaussian(torch.zeros(3, 2), torch.zeros(3, 2), mu_p, torch.zeros(2))
    torch.testing.assert_close(got, torch.full((3,), 2.5))


def test_kl_gaussian_gradcheck():
    mu, logvar, mu_p, logvar_p = (
        t.requires_grad_() for t in random_gaussians((3, 4), torch.float64, 13)
    )
    assert torch.autograd.gradcheck(kl.kl_gaussian, (mu, logvar))
    assert torch.autograd.gradcheck(kl.kl_gaussian, (mu, logvar, mu_p, logvar_p))


def test_kl_gaussian_rejects_bad_input():
    x = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"mu has shape \(4, 3\) but logvar has shape \(4, 2\)"):
        kl.kl_gaussian(x, torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"mu_prior has shape \(2,\).*pass \(D,\)"):
        kl.kl_gaussian(x, x, torch.zeros(2))
    with pytest.raises(ValueError, match=r"logvar_prior has shape \(2, 4, 3\), which does not"):
        kl.kl_gaussian(x, x, None, torch.zeros(2, 4, 3))
    with pytest.raises(ValueError, match="mu is a scalar"):
        kl.kl_gaussian(torch.tensor(0.0), torch.tensor(0.0))
    with pytest.raises(ValueError, match=r"logvar must be a floating-point tensor.*\.float\(\)"):
        kl.kl_gaussian(x, torch.zeros(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="mu must be a floating-point tensor"):
        kl.kl_gaussian([0.0], torch.zeros(1))
    with pytest.raises(ValueError, match="mu_prior must be a floating-point tensor"):
        kl.kl_gaussian(x, x, torch.zeros(3, dtype=torch.int32))


# ----------------------------------------------------------------------------- Monte Carlo


def test_kl_monte_carlo_is_within_4_standard_errors_of_the_closed_form():
    q = D.Normal(torch.tensor([0.0, 2.0, 1.0]), torch.tensor([1.0, 1.0, 0.5]))
    p = D.Normal(torch.zeros(3), torch.tensor([1.0, 1.0, 2.0]))
    exact = D.kl_divergence(q, p)
    est, se = kl.kl_monte_carlo(q, p, 20_000, seed=0)
    assert est.shape == se.shape == (3,)
    assert ((est - exact).abs() <= 4 * se + 1e-6).all()
    assert est[0] == 0 and se[0] == 0  # q = p: every log-ratio is exactly 0


def test_kl_monte_carlo_stderr_shrinks_like_one_over_sqrt_n_and_is_reproducible():
    q, p = D.Normal(1.0, 0.8), D.Normal(0.0, 1.5)
    _, se_small = kl.kl_monte_carlo(q, p, 1_000, seed=1)
    _, se_big = kl.kl_monte_carlo(q, p, 100_000, seed=1)
    # sqrt(100_000 / 1_000) = 10, up to the noise in the sample standard deviations
    assert (se_small / se_big).item() == pytest.approx(10.0, rel=0.2)
    state = torch.get_rng_state()
    a, b = kl.kl_monte_carlo(q, p, 500, seed=3), kl.kl_monte_carlo(q, p, 500, seed=3)
    assert torch.equal(a.estimate, b.estimate)
    assert torch.equal(torch.get_rng_state(), state)  # the seeded draw leaves the global RNG alone


def test_kl_monte_carlo_works_for_multivariate_and_discrete_distributions():
    q = D.Independent(D.Normal(torch.ones(2, 3), torch.ones(2, 3)), 1)
    p = D.Independent(D.Normal(torch.zeros(2, 3), torch.ones(2, 3)), 1)
    est, se = kl.kl_monte_carlo(q, p, 10_000, seed=0)
    assert est.shape == (2,)
    assert ((est - 1.5).abs() <= 4 * se).all()
    cq, cp = (
        D.Categorical(probs=torch.tensor([0.5, 0.5])),
        D.Categorical(probs=torch.tensor([0.9, 0.1])),
    )
    est, se = kl.kl_monte_carlo(cq, cp, 10_000, seed=0)
    assert abs(est - kl.kl_discrete([0.5, 0.5], [0.9, 0.1])) <= 4 * se


def test_kl_monte_carlo_rejects_bad_input():
    q = D.Normal(0.0, 1.0)
    with pytest.raises(ValueError, match="n_samples must be an int >= 2"):
        kl.kl_monte_carlo(q, q, 1)
    with pytest.raises(ValueError, match="n_samples must be an int >= 2"):
        kl.kl_monte_carlo(q, q, 100.0)
    with pytest.raises(ValueError, match="p must be a torch.distributions.Distribution"):
        kl.kl_monte_carlo(q, "normal", 10)
    with pytest.raises(ValueError, match="q must be a torch.distributions.Distribution"):
        kl.kl_monte_carlo(None, q, 10)
    mvn = D.Independent(D.Normal(torch.zeros(2), torch.ones(2)), 1)
    with pytest.raises(ValueError, match=r"q has event shape \(\) but p has \(2,\)"):
        kl.kl_monte_carlo(q, mvn, 10)


def test_kl_integral_1d_matches_the_closed_form():
    z = torch.linspace(-15, 15, 30_001, dtype=torch.float64)
    for (mq, sq), (mp, sp) in [
        ((0.0, 1.0), (0.0, 1.0)),
        ((2.0, 1.0), (0.0, 1.0)),
        ((1.0, 0.5), (-1.0, 2.0)),
    ]:
        q = D.Normal(torch.tensor(mq, dtype=torch.float64), sq)
        p = D.Normal(torch.tensor(mp, dtype=torch.float64), sp)
        assert kl.kl_integral_1d(q, p, z).item() == pytest.approx(
            D.kl_divergence(q, p).item(), abs=1e-8
        )
    with pytest.raises(ValueError, match="z must be a 1-D grid"):
        kl.kl_integral_1d(q, p, torch.zeros(3, 2))
    with pytest.raises(ValueError, match="z must be strictly increasing"):
        kl.kl_integral_1d(q, p, torch.tensor([0.0, 1.0, 1.0]))


# ------------------------------------------------------------- forward vs reverse fits


@pytest.fixture(scope="module")
def two_modes():
    x = torch.linspace(-8, 8, 401, dtype=torch.float64)
    return x, kl.gaussian_mixture_on_grid(x, [0.35, 0.65], [-2.5, 2.5], [0.7, 0.7])


def test_gaussian_mixture_on_grid_is_a_distribution_with_the_right_moments(two_modes):
    x, p = two_modes
    assert p.sum().item() == pytest.approx(1.0) and (p > 0).all()
    mean = (x * p).sum().item()
    assert mean == pytest.approx(0.65 * 2.5 - 0.35 * 2.5, abs=1e-6)
    var = ((x - mean) ** 2 * p).sum().item()
    assert var == pytest.approx(0.7**2 + 0.35 * 0.65 * 5.0**2, rel=1e-3)
    with pytest.raises(ValueError, match="one entry per component"):
        kl.gaussian_mixture_on_grid(x, [1.0], [0.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="weights and sigmas must be positive"):
        kl.gaussian_mixture_on_grid(x, [1.0], [0.0], [0.0])


def test_forward_kl_covers_the_modes_and_reverse_kl_seeks_one(two_modes):
    x, p = two_modes
    mean = (x * p).sum().item()
    std = ((x - mean) ** 2 * p).sum().sqrt().item()
    fwd = kl.fit_gaussian_on_grid(x, p, "forward")
    rev = kl.fit_gaussian_on_grid(x, p, "reverse")
    # forward KL to a Gaussian matches the target's mean and standard deviation
    assert fwd.mu == pytest.approx(mean, abs=0.07) and fwd.sigma == pytest.approx(std, rel=0.05)
    # reverse KL sits on the heavier mode with that mode's width
    assert rev.mu == pytest.approx(2.5, abs=0.07) and rev.sigma == pytest.approx(0.7, rel=0.05)
    assert fwd.kl == pytest.approx(kl.kl_discrete(p, fwd.q).item(), rel=1e-6)
    assert rev.kl == pytest.approx(kl.kl_discrete(rev.q, p).item(), rel=1e-6)
    assert fwd.surface.shape == (len(fwd.mus), len(fwd.sigmas))
    assert fwd.kl == fwd.surface.min().item()


def test_fit_gaussian_on_grid_rejects_bad_input(two_modes):
    x, p = two_modes
    with pytest.raises(ValueError, match="direction must be 'forward' or 'reverse'"):
        kl.fit_gaussian_on_grid(x, p, "backward")
    with pytest.raises(ValueError, match=r"x has shape .* but p has shape"):
        kl.fit_gaussian_on_grid(x[:-1], p, "forward")
    with pytest.raises(ValueError, match="x must be a 1-D grid"):
        kl.fit_gaussian_on_grid(x[None], p, "forward")
    with pytest.raises(ValueError, match="p has rows that do not sum to 1"):
        kl.fit_gaussian_on_grid(x, 2 * p, "forward")
