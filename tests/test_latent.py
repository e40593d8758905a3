"""vaelib.latent against closed forms, torch references and hand-made examples."""

from __future__ import annotations

import math

import pytest
import torch
from torch import distributions as D

from vaelib import latent
from vaelib.models import VAE, Autoencoder


# ----------------------------------------------------------------------------- encode_dataset
def test_encode_dataset_matches_one_big_batch_for_uint8_and_float():
    torch.manual_seed(0)
    model = Autoencoder(latent_dim=3)
    images = torch.randint(0, 256, (70, 1, 28, 28), dtype=torch.uint8)
    x = images.float() / 255
    with torch.no_grad():
        expected = model.encode(x)
    z = latent.encode_dataset(model, images, batch_size=16)
    assert z.shape == (70, 3) and z.dtype == torch.float32
    torch.testing.assert_close(z, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(latent.encode_dataset(model, x, batch_size=70), z)
    assert model.training  # the model's mode is restored


def test_encode_dataset_keeps_a_vaes_mean():
    torch.manual_seed(0)
    model = VAE(latent_dim=4).eval()
    x = torch.rand(10, 1, 28, 28)
    with torch.no_grad():
        mu, _ = model.encode(x)
    torch.testing.assert_close(latent.encode_dataset(model, x, batch_size=3), mu)


def test_encode_dataset_errors():
    model = Autoencoder()
    with pytest.raises(ValueError, match="batch_size"):
        latent.encode_dataset(model, torch.rand(2, 1, 28, 28), batch_size=0)
    with pytest.raises(ValueError, match="images must have shape"):
        latent.encode_dataset(model, torch.rand(2, 784))


# ----------------------------------------------------------------------------- moments and KL
def test_code_moments_match_torch_cov():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(500, 3, generator=g, dtype=torch.float64) * 2 + 1
    mean, cov = latent.code_moments(z)
    torch.testing.assert_close(mean, z.mean(0))
    torch.testing.assert_close(cov, torch.cov(z.T))


def test_code_moments_errors():
    with pytest.raises(ValueError, match="at least 2 rows"):
        latent.code_moments(torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        latent.code_moments(torch.zeros(5))
    with pytest.raises(ValueError, match="floating-point"):
        latent.code_moments(torch.zeros(5, 2, dtype=torch.long))


def test_kl_to_standard_normal_known_values():
    eye = torch.eye(2, dtype=torch.float64)
    assert float(latent.kl_to_standard_normal(torch.zeros(2, dtype=torch.float64), eye)) == 0
    # KL(N(2, 1) || N(0, 1)) = 2 per dimension with mean 2: 0.5 * 2^2
    mean = torch.tensor([2.0, 0.0], dtype=torch.float64)
    assert float(latent.kl_to_standard_normal(mean, eye)) == pytest.approx(2.0)
    # variance s^2 in one dimension: 0.5 (s^2 - 1 - log s^2)
    cov = torch.diag(torch.tensor([4.0, 1.0], dtype=torch.float64))
    expected = 0.5 * (4 - 1 - math.log(4))
    assert float(latent.kl_to_standard_normal(torch.zeros(2), cov)) == pytest.approx(expected)


def test_kl_to_standard_normal_matches_torch_distributions():
    g = torch.Generator().manual_seed(2)
    a = torch.randn(3, 3, generator=g, dtype=torch.float64)
    cov = a @ a.T + 0.5 * torch.eye(3, dtype=torch.float64)
    mean = torch.randn(3, generator=g, dtype=torch.float64)
    ref = D.kl_divergence(
        D.MultivariateNormal(mean, cov),
        D.MultivariateNormal(
            torch.zeros(3, dtype=torch.float64), torch.eye(3, dtype=torch.float64)
        ),
    )
    torch.testing.assert_close(latent.kl_to_standard_normal(mean, cov), ref)


def test_kl_to_standard_normal_errors():
    with pytest.raises(ValueError, match="cov must have shape"):
        latent.kl_to_standard_normal(torch.zeros(2), torch.eye(3))
    with pytest.raises(ValueError, match="positive definite"):
        latent.kl_to_standard_normal(torch.zeros(2), torch.ones(2, 2))
    with pytest.raises(ValueError, match=r"mean must have shape \(D,\)"):
        latent.kl_to_standard_normal(torch.zeros(1, 2), torch.eye(2))


# ----------------------------------------------------------------------------- boxes and grids
def test_bounding_box_and_fraction_inside():
    z = torch.tensor([[0.0, -1.0], [2.0, 3.0], [1.0, 1.0]])
    low, high = latent.bounding_box(z)
    torch.testing.assert_close(low, torch.tensor([0.0, -1.0]))
    torch.testing.assert_close(high, torch.tensor([2.0, 3.0]))
    low, high = latent.bounding_box(z, margin=0.25)
    torch.testing.assert_close(low, torch.tensor([-0.5, -2.0]))
    torch.testing.assert_close(high, torch.tensor([2.5, 4.0]))
    points = torch.tensor([[0.0, 0.0], [3.0, 0.0], [1.0, 5.0], [2.5, 4.0]])
    assert latent.fraction_inside_box(points, low, high) == 0.5
    with pytest.raises(ValueError, match="margin"):
        latent.bounding_box(z, margin=-0.1)


def test_fraction_of_standard_normal_inside_unit_box_matches_erf():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(200_000, 2, generator=g)
    expected = math.erf(1 / math.sqrt(2)) ** 2  # P(|z_1| <= 1) P(|z_2| <= 1) = 0.4661
    got = latent.fraction_inside_box(z, -torch.ones(2), torch.ones(2))
    assert got == pytest.approx(expected, abs=0.005)


def test_empty_cell_fraction_known_values():
    low, high = torch.zeros(2), torch.ones(2)
    # 2 x 2 cells: codes in the bottom-left and top-right cells (the corner (1, 1) included)
    z = torch.tensor([[0.1, 0.1], [0.2, 0.3], [1.0, 1.0], [5.0, 5.0]])
    assert latent.empty_cell_fraction(z, low, high, steps=2) == 0.5
    assert latent.empty_cell_fraction(z, low, high, steps=1) == 0.0
    assert latent.empty_cell_fraction(z, low, high, steps=10) == 1 - 3 / 100
    g = torch.Generator().manual_seed(5)
    uniform = torch.rand(20_000, 2, generator=g)
    assert latent.empty_cell_fraction(uniform, low, high, steps=5) == 0.0


def test_empty_cell_fraction_errors():
    z = torch.rand(5, 2)
    with pytest.raises(ValueError, match="steps"):
        latent.empty_cell_fraction(z, torch.zeros(2), torch.ones(2), steps=0)
    with pytest.raises(ValueError, match=r"shape \(D,\)"):
        latent.empty_cell_fraction(z, torch.zeros(3), torch.ones(3), steps=2)
    with pytest.raises(ValueError, match="high must exceed low"):
        latent.empty_cell_fraction(z, torch.ones(2), torch.ones(2), steps=2)


def test_latent_grid_is_in_picture_order():
    grid = latent.latent_grid((0.0, 10.0), (2.0, 20.0), steps=3)
    assert grid.shape == (9, 2)
    torch.testing.assert_close(grid[0], torch.tensor([0.0, 20.0]))  # top left
    torch.testing.assert_close(grid[2], torch.tensor([2.0, 20.0]))  # top right
    torch.testing.assert_close(grid[4], torch.tensor([1.0, 15.0]))  # centre
    torch.testing.assert_close(grid[8], torch.tensor([2.0, 10.0]))  # bottom right


def test_latent_grid_errors():
    with pytest.raises(ValueError, match="steps"):
        latent.latent_grid((0.0, 0.0), (1.0, 1.0), steps=1)
    with pytest.raises(ValueError, match="high must exceed low"):
        latent.latent_grid((0.0, 0.0), (1.0, 0.0), steps=3)
    with pytest.raises(ValueError, match="2-D latent space only"):
        latent.latent_grid(torch.zeros(3), torch.ones(3), steps=3)


# ----------------------------------------------------------------------------- interpolation
def test_interpolate_end_points_and_midpoint():
    z0, z1 = torch.tensor([0.0, 2.0, -4.0]), torch.tensor([4.0, 2.0, 0.0])
    path = latent.interpolate(z0, z1, steps=5)
    assert path.shape == (5, 3)
    torch.testing.assert_close(path[0], z0)
    torch.testing.assert_close(path[-1], z1)
    torch.testing.assert_close(path[2], (z0 + z1) / 2)
    steps = path.diff(dim=0)  # equal steps along the line
    torch.testing.assert_close(steps, steps[:1].expand_as(steps))


def test_interpolate_errors():
    with pytest.raises(ValueError, match="single codes"):
        latent.interpolate(torch.zeros(1, 2), torch.zeros(1, 2), steps=3)
    with pytest.raises(ValueError, match="same shape"):
        latent.interpolate(torch.zeros(2), torch.zeros(3), steps=3)
    with pytest.raises(ValueError, match="steps"):
        latent.interpolate(torch.zeros(2), torch.ones(2), steps=1)


# ----------------------------------------------------------------------------- nearest distance
def brute_force_nearest(x, reference):
    x, reference = x.reshape(len(x), -1).double(), reference.reshape(len(reference), -1).double()
    return torch.stack([(reference - row).norm(dim=1).min() for row in x]).float()


def test_nearest_distance_matches_brute_force_across_blocks():
    g = torch.Generator().manual_seed(4)
    x, reference = torch.rand(37, 1, 4, 4, generator=g), torch.rand(53, 1, 4, 4, generator=g)
    got = latent.nearest_distance(x, reference, batch_size=5, reference_batch_size=7)
    torch.testing.assert_close(got, brute_force_nearest(x, reference), rtol=1e-4, atol=1e-4)


def test_nearest_distance_known_values_and_uint8():
    reference = torch.zeros(3, 1, 28, 28, dtype=torch.uint8)
    reference[1] = 255  # an all-ink image
    x = torch.stack([torch.zeros(1, 28, 28), torch.ones(1, 28, 28), torch.full((1, 28, 28), 0.25)])
    # distances: 0 to the blank image, 0 to the ink image, sqrt(784 * 0.25^2) = 7 to the blank one
    got = latent.nearest_distance(x, reference)
    torch.testing.assert_close(got, torch.tensor([0.0, 0.0, 7.0]), atol=1e-3, rtol=0)
    assert latent.mean_nearest_distance(x, reference) == pytest.approx(7 / 3, abs=1e-3)
    assert latent.mean_nearest_distance(reference, reference) == pytest.approx(0, abs=1e-3)


def test_nearest_distance_errors():
    with pytest.raises(ValueError, match="features per row"):
        latent.nearest_distance(torch.rand(2, 4), torch.rand(3, 5))
    with pytest.raises(ValueError, match="batch of shape"):
        latent.nearest_distance(torch.rand(4), torch.rand(3, 4))
    with pytest.raises(ValueError, match="batch_size"):
        latent.nearest_distance(torch.rand(2, 4), torch.rand(3, 4), batch_size=0)


# ----------------------------------------------------------------------------- encode


def test_encode_dataset_posterior_matches_the_encoder():
    torch.manual_seed(0)
    model = VAE(latent_dim=3, hidden=(16,))
    images = torch.randint(0, 256, (10, 1, 28, 28), dtype=torch.uint8)
    mu, logvar = latent.encode_dataset(model, images, batch_size=4, posterior=True)
    assert mu.shape == logvar.shape == (10, 3)
    with torch.no_grad():
        mu_ref, logvar_ref = model.encode(images.float() / 255)
    torch.testing.assert_close(mu, mu_ref)
    torch.testing.assert_close(logvar, logvar_ref)
    torch.testing.assert_close(latent.encode_dataset(model, images), mu_ref)  # the code is mu
    assert model.training  # the mode is restored
    with pytest.raises(ValueError, match="no posterior q\\(z\\|x\\)"):
        latent.encode_dataset(Autoencoder(latent_dim=2), images, posterior=True)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        latent.encode_dataset(model, images, batch_size=0, posterior=True)
    with pytest.raises(ValueError, match=r"images must have shape \(N, C, H, W\)"):
        latent.encode_dataset(model, images[:, 0], posterior=True)


def test_subsample_is_a_seeded_permutation_prefix():
    z = torch.arange(20.0).reshape(10, 2)
    a = latent.subsample(z, 4, seed=1)
    order = torch.randperm(10, generator=torch.Generator().manual_seed(1))[:4]
    torch.testing.assert_close(a, z[order])
    assert latent.subsample(z, 50).shape == (10, 2)  # n >= N: every row
    with pytest.raises(ValueError, match="n must be a positive int"):
        latent.subsample(z, 0)


def test_traverse_moves_one_dimension_only():
    torch.manual_seed(0)
    model = VAE(latent_dim=3, hidden=(8,))
    z0 = torch.tensor([0.5, -1.0, 2.0])
    x = latent.traverse(model, z0, 1, torch.tensor([-3.0, 3.0]))
    with torch.no_grad():
        ref = model.decode(torch.tensor([[0.5, -3.0, 2.0], [0.5, 3.0, 2.0]]))
    torch.testing.assert_close(x, ref)
    with pytest.raises(ValueError, match="dim=3 is not a dimension"):
        latent.traverse(model, z0, 3, torch.zeros(2))
    with pytest.raises(ValueError, match=r"z0 must be one code \(D,\)"):
        latent.traverse(model, z0[None], 0, torch.zeros(2))
