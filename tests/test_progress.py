"""Progress bars keep the kernel's output channel light (issue #21): one bar per model,
redrawn at most a few times a second, with a smoothed rate."""

from __future__ import annotations

import io
import time

import torch
from tqdm.std import tqdm as plain_tqdm

from vaelib import train as T
from vaelib.models import Autoencoder


def test_train_draws_one_rate_limited_bar_per_model(monkeypatch):
    bars, redraws = [], []

    class Recorder(plain_tqdm):
        def __init__(self, *args, **kwargs):
            bars.append(kwargs)
            super().__init__(*args, file=io.StringIO(), **kwargs)

        def refresh(self, *args, **kwargs):
            redraws.append(time.monotonic())
            return super().refresh(*args, **kwargs)

    monkeypatch.setattr(T, "tqdm", Recorder)
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    T.train(Autoencoder(latent_dim=2), [x] * 3, T.ae_loss, epochs=6, lr=1e-3)
    assert len(bars) == 1  # one bar for 6 epochs, not one per epoch
    assert bars[0]["total"] == 18
    assert bars[0]["mininterval"] >= 0.25 and bars[0]["smoothing"] <= 0.1
    # No two redraws closer than the bar's interval (the per-epoch postfix waits for the next
    # tick), however fast or slow the machine; the last one may be the close.
    gaps = [b - a for a, b in zip(redraws[:-1], redraws[1:-1], strict=False)]
    assert min(gaps, default=1.0) >= 0.9 * bars[0]["mininterval"], gaps
