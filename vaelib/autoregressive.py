"""A decoder strong enough to ignore z: the autoregressive VAE of lesson 11.

``p(x|z) = prod_s p(x_s | x_<s, z)`` over steps s of ``block`` pixels in raster order
(``block = 1``: every pixel, the default; ``block = 28``: every row). Each pixel is Bernoulli
given the pixels of earlier steps and z. The decoder is a MADE-style masked MLP (Germain et al.
2015), its hidden units spread evenly over the steps:

    h = ReLU(W_in x + V z + a),        unit of step s reads pixels of steps < s only
    logits = W_out h + U x + c,        a pixel of step s reads units of steps <= s, and
                                       (U: a fully visible sigmoid belief net) pixels of steps < s

The masks (``input_mask``, ``output_mask``, ``skip_mask``) zero every weight that would let a
logit see its own pixel or a later one (tested by the Jacobian). Training is one pass with the
true image as input (teacher forcing); ``sample`` takes one pass per step. Without z this is an
autoregressive model of x on its own, which is why the VAE built on it can set
``q(z|x) = p(z)`` and lose little in the ELBO: posterior collapse at beta = 1 (Bowman et al.
2016; Chen et al. 2017), here an outcome of training (a high learning rate) more than of the
objective.

``ARVAE`` has the VAE's encoder (784-400, heads mu and logvar) and ``decode_logits(z, x)``;
``models.decode_logits(model, z, x)`` passes x to it, so the course's losses (``losses``) and
likelihood estimates (``evaluate``) work unchanged.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from vaelib import validate as check
from vaelib.reparam import reparameterize

ROWS, COLS = 28, 28


def _block_of_units(units: int, n_blocks: int) -> torch.Tensor:
    """The autoregressive step each of ``units`` hidden units belongs to, spread evenly over
    ``n_blocks`` steps: (units,), values 0..n_blocks-1, non-decreasing."""
    return torch.arange(units) * n_blocks // units


def _block_of_pixels(block: int, pixels: int = ROWS * COLS) -> torch.Tensor:
    """The step each pixel belongs to: ``block`` consecutive pixels (raster order) per step,
    28 for rows, 1 for single pixels: (pixels,)."""
    return torch.arange(pixels) // block


def input_mask(hidden: int, block: int = 1, pixels: int = ROWS * COLS) -> torch.Tensor:
    """(hidden, pixels): 1 where a hidden unit of step s reads a pixel of an earlier step (< s)."""
    n_blocks = math.ceil(pixels / block)
    unit, pixel = _block_of_units(hidden, n_blocks), _block_of_pixels(block, pixels)
    return (pixel[None, :] < unit[:, None]).float()


def output_mask(hidden: int, block: int = 1, pixels: int = ROWS * COLS) -> torch.Tensor:
    """(pixels, hidden): 1 where the logit of a pixel of step s reads a hidden unit of step s
    or earlier (those read pixels of steps < s only)."""
    n_blocks = math.ceil(pixels / block)
    unit, pixel = _block_of_units(hidden, n_blocks), _block_of_pixels(block, pixels)
    return (unit[None, :] <= pixel[:, None]).float()


def skip_mask(block: int = 1, pixels: int = ROWS * COLS) -> torch.Tensor:
    """(pixels, pixels): 1 where the logit of a pixel of step s reads a pixel of an earlier
    step: the direct linear path (a fully visible sigmoid belief net, by steps)."""
    step = _block_of_pixels(block, pixels)
    return (step[None, :] < step[:, None]).float()


class MaskedLinear(nn.Linear):
    """``y = x (W * mask)^T + b``: a linear layer whose masked weights are always zero."""

    def __init__(self, n_in: int, n_out: int, mask: torch.Tensor, bias: bool = True) -> None:
        super().__init__(n_in, n_out, bias=bias)
        if mask.shape != (n_out, n_in):
            raise ValueError(f"mask must have shape ({n_out}, {n_in}), got {tuple(mask.shape)}.")
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class AutoregressiveDecoder(nn.Module):
    """``p(x|z)``, step by step: x (N, 1, 28, 28) binary, z (N, D) -> logits (N, 1, 28, 28).

    The logits of step s (``block`` pixels: 1 a pixel, 28 a row) depend on z and on the pixels
    of steps before s only (see the module docstring); ``hidden`` masked hidden units.
    """

    def __init__(self, latent_dim: int, hidden: int = 500, block: int = 1) -> None:
        super().__init__()
        check.integer(latent_dim, "latent_dim", 1, "the dimension of z")
        check.integer(hidden, "hidden", 1, "hidden units")
        check.integer(block, "block", 1, "pixels per autoregressive step (28: a row, 1: a pixel)")
        p = ROWS * COLS
        self.block = block
        self.x_to_hidden = MaskedLinear(p, hidden, input_mask(hidden, block))
        self.z_to_hidden = nn.Linear(latent_dim, hidden, bias=False)
        self.hidden_to_logits = MaskedLinear(hidden, p, output_mask(hidden, block))
        self.x_to_logits = MaskedLinear(p, p, skip_mask(block), bias=False)

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """z (N, D), x (N, 1, 28, 28) -> logits (N, 1, 28, 28), teacher-forced by x."""
        flat = x.flatten(1)
        h = F.relu(self.x_to_hidden(flat) + self.z_to_hidden(z))
        logits = self.hidden_to_logits(h) + self.x_to_logits(flat)
        return logits.view(-1, 1, ROWS, COLS)


class ARVAE(nn.Module):
    """A VAE with the MLP encoder of ``models.VAE`` (784-400, heads mu and logvar) and the
    masked autoregressive decoder ``AutoregressiveDecoder`` (``ar_hidden`` units, ``block``
    pixels per step); prior N(0, I).

    ``autoregressive = True`` tells ``models.decode_logits`` to pass x to ``decode_logits``.
    """

    autoregressive = True

    def __init__(
        self, latent_dim: int = 20, hidden: int = 400, ar_hidden: int = 500, block: int = 1
    ) -> None:
        super().__init__()
        check.integer(latent_dim, "latent_dim", 1, "the dimension of z")
        self.latent_dim, self.image_shape = latent_dim, (1, ROWS, COLS)
        self.encoder = nn.Sequential(nn.Linear(ROWS * COLS, hidden), nn.ReLU())
        self.mu_head = nn.Linear(hidden, latent_dim)
        self.logvar_head = nn.Linear(hidden, latent_dim)
        self.decoder = AutoregressiveDecoder(latent_dim, ar_hidden, block)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (N, 1, 28, 28) -> (mu, logvar), each (N, latent_dim)."""
        h = self.encoder(x.flatten(1))
        return self.mu_head(h), self.logvar_head(h)

    def decode_logits(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """z (N, D), x (N, 1, 28, 28) -> the logits of ``p(x_r | x_<r, z)`` for every row."""
        if x is None or x.shape[0] != z.shape[0]:
            raise ValueError(
                "an autoregressive decoder reads the image too: pass x (N, 1, 28, 28) with z's "
                f"N = {z.shape[0]} rows, decode_logits(z, x) (or models.decode_logits(model, z, x))."
            )
        return self.decoder(z, x)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x -> (logits, mu, logvar): encode, draw z, decode with teacher forcing."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, generator=generator)
        return self.decode_logits(z, x), mu, logvar

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator | None = None, z: torch.Tensor | None = None
    ) -> torch.Tensor:
        """n binary images: z ~ N(0, I) (or the given z, (n, D)), then the pixels of step s ~
        Bernoulli of their logits given the pixels drawn so far: one decoder pass per step (784
        for ``block = 1``). Returns (n, 1, 28, 28) in {0, 1}."""
        n = check.integer(n, "n", 1, "the number of images")
        device = next(self.parameters()).device
        if z is None:
            z = torch.randn(n, self.latent_dim, generator=generator, device=device)
        x = torch.zeros(n, ROWS * COLS, device=device)
        block = self.decoder.block
        for start in range(0, ROWS * COLS, block):
            step = slice(start, start + block)
            p = torch.sigmoid(self.decoder(z, x.view(n, 1, ROWS, COLS)).flatten(1)[:, step])
            x[:, step] = torch.bernoulli(p, generator=generator)
        return x.view(n, 1, ROWS, COLS)


def parameter_count(model: nn.Module) -> int:
    """The number of free weights: masked-out weights (always zero) are not counted."""
    total = 0
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            mask = getattr(module, "mask", None)
            total += int(mask.sum()) if name == "weight" and mask is not None else p.numel()
    return total
