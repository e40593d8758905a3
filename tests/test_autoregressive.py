"""The autoregressive VAE of lesson 11 (vaelib.autoregressive): its masks, by the Jacobian."""

from __future__ import annotations

import pytest
import torch

from vaelib import evaluate, losses, train
from vaelib.autoregressive import (
    ARVAE,
    AutoregressiveDecoder,
    MaskedLinear,
    input_mask,
    output_mask,
    parameter_count,
    skip_mask,
)


def _jacobian(decoder: AutoregressiveDecoder, z: torch.Tensor, x: torch.Tensor):
    """d logits / d x for one image: (784, 784), row = logit, column = input pixel."""
    return torch.autograd.functional.jacobian(
        lambda flat: decoder(z, flat.view(1, 1, 28, 28)).flatten(), x.flatten()
    )


@pytest.mark.parametrize("block", [28, 1])
def test_no_logit_sees_its_own_pixel_or_a_later_one(block):
    torch.manual_seed(0)
    decoder = AutoregressiveDecoder(latent_dim=3, hidden=96, block=block)
    with torch.no_grad():
        for p in decoder.parameters():
            p.normal_()  # every weight non-zero, so a leak would show
    x = torch.bernoulli(torch.full((1, 1, 28, 28), 0.5))
    jac = _jacobian(decoder, torch.randn(1, 3), x)
    step = torch.arange(784) // block
    later_or_same = (
        step[None, :] >= step[:, None]
    )  # (logit, input): input at the same step or later
    assert jac[later_or_same].abs().max() == 0
    earlier = ~later_or_same
    assert (jac[earlier] != 0).float().mean() > 0.5  # and it does read the rows above


def test_rows_depend_on_every_earlier_row_and_on_z():
    torch.manual_seed(1)
    decoder = AutoregressiveDecoder(latent_dim=2, hidden=56, block=28)
    x = torch.bernoulli(torch.full((1, 1, 28, 28), 0.5))
    jac = _jacobian(decoder, torch.randn(1, 2), x).view(
        28, 28, 28, 28
    )  # logit (r, c), input (r', c')
    reads = jac.abs().sum((1, 3))  # (logit row, input row)
    assert (reads.tril(-1)[1:] > 0).sum() == 28 * 27 // 2  # every row r > 0 reads each row < r
    assert reads.triu().abs().max() == 0
    z = torch.randn(2, 2)
    assert not torch.allclose(decoder(z[:1], x), decoder(z[1:], x))  # z reaches every row


def test_masks_shapes_and_perturbation():
    assert input_mask(56).shape == (56, 784) and output_mask(56).shape == (784, 56)
    assert skip_mask().shape == (784, 784) and skip_mask().diagonal().sum() == 0
    torch.manual_seed(2)
    model = ARVAE(latent_dim=4, hidden=32, ar_hidden=56)
    x = torch.bernoulli(torch.full((1, 1, 28, 28), 0.5))
    z = torch.randn(1, 4)
    flipped = x.clone()
    flipped[0, 0, 10, 5] = 1 - flipped[0, 0, 10, 5]
    diff = (model.decode_logits(z, x) - model.decode_logits(z, flipped)).abs().flatten()
    flat = 10 * 28 + 5  # raster order: that pixel and every earlier one unchanged, later ones move
    assert diff[: flat + 1].max() == 0 and diff[flat + 1 :].max() > 0


def test_masked_weights_are_not_counted_and_the_mask_shape_is_checked():
    layer = MaskedLinear(3, 2, torch.tensor([[1.0, 0, 0], [1, 1, 0]]))
    assert parameter_count(layer) == 3 + 2
    with pytest.raises(ValueError, match="mask must have shape"):
        MaskedLinear(3, 2, torch.ones(3, 2))


def test_the_course_losses_and_likelihoods_pass_x_to_the_decoder():
    torch.manual_seed(3)
    model = ARVAE(latent_dim=4, hidden=32, ar_hidden=56)
    x = torch.bernoulli(torch.full((5, 1, 28, 28), 0.3))
    out = losses.vae_loss(model, x)
    assert set(out) == {"loss", "recon", "kl"} and torch.isfinite(out["loss"])
    out = losses.ELBOLoss(1.0, free_bits=0.1)(model, x)
    assert torch.isfinite(out["loss"])
    ll = evaluate.iwae_log_likelihood(model, x, 7, max_rows=8)
    assert ll.shape == (5,) and torch.isfinite(ll).all()
    with pytest.raises(ValueError, match="pass x"):
        model.decode_logits(torch.randn(5, 4), None)


def test_sampling_fills_every_row_with_binary_pixels():
    torch.manual_seed(4)
    model = ARVAE(latent_dim=4, hidden=32, ar_hidden=56)
    x = model.sample(3, generator=torch.Generator().manual_seed(0))
    assert x.shape == (3, 1, 28, 28) and set(x.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="n"):
        model.sample(0)


def test_recipes_build_the_model_and_its_losses():
    for name in ("arvae", "arvae_warmup", "arvae_freebits"):
        recipe = train.RECIPES[name]
        model, loss_fn = train.build_model(recipe, warmup_steps=10)
        assert isinstance(model, ARVAE) and recipe.binarize and recipe.beta == 1.0
    assert train.RECIPES["arvae"].plain and not train.RECIPES["arvae_freebits"].plain
