"""Device, seeds and fast mode: what the first cell of every lesson sets up."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch

_TRUE = {"1", "true", "yes", "on"}


def fast_mode() -> bool:
    """True when the environment variable VAELIB_FAST is 1 (CI and ``make test`` set it).

    Fast mode trains on a fixed data subset for a few epochs so every notebook runs in
    about a minute on two CPU cores; students get full mode, which the committed
    notebooks and figures come from.
    """
    return os.environ.get("VAELIB_FAST", "0").strip().lower() in _TRUE


def pick_device(prefer: str | None = None) -> torch.device:
    """The training device: ``prefer`` if given, else CUDA, then Apple's MPS, then the CPU.

    ``VAELIB_DEVICE`` (e.g. ``cpu``) overrides the automatic choice.
    """
    prefer = prefer or os.environ.get("VAELIB_DEVICE") or None
    if prefer is not None:
        device = torch.device(prefer)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"prefer={prefer!r}, but CUDA is not available: use 'cpu'.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); returns a CPU generator seeded with ``seed``.

    Helpers that draw random numbers also take their own generator or seed, so a
    result never depends on how many random numbers an earlier cell consumed.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}.")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeds the global RNG that older code uses
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@dataclass(frozen=True)
class Lesson:
    """What a lesson's setup cell decided: device, seed, fast mode."""

    device: torch.device
    seed: int
    fast: bool

    def __str__(self) -> str:
        mode = "fast (data subset, few epochs)" if self.fast else "full"
        name = self.device.type
        if self.device.type == "cuda":
            name += f" ({torch.cuda.get_device_name(self.device)})"
        return f"device: {name} | mode: {mode} | seed: {self.seed} | torch {torch.__version__}"


def setup_lesson(seed: int = 0, device: str | None = None) -> Lesson:
    """One call for a notebook's setup cell: seeds everything, picks the device, reads fast mode."""
    seed_everything(seed)
    return Lesson(device=pick_device(device), seed=seed, fast=fast_mode())
