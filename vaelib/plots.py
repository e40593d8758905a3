"""Drawings that two or more lessons (or modules) need; concept modules compute, this draws.

- ``plot_computation_graph``: the VAE's sampling step before and after the reparameterization
  trick (lesson 05 and the deck), with ``CAPTION``.
- ``seed_band``: BIC curves of several seeds as a band (range) around their mean (lesson 07).
- ``draw_mixture``: class-coloured 2-D codes with a fitted mixture's ellipses and N(0, I)'s
  two-sigma circle (lesson 07).
- ``samples_figure``: grids of decoded samples, one per panel, each image at full range.

Every drawing uses ``figures``' slide style (``SLIDE_RC``) and colours, and sets no font size
of its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from vaelib import figures
from vaelib.bic import BICCurve, ellipse

CAPTION = "black: forward pass    red dashed: backward pass (gradients)"


def plot_computation_graph(
    ax, reparameterized: bool, fontsize: float | None = None, caption: bool = True
) -> None:
    """Draw the VAE's sampling step as a computation graph on the matplotlib axes ``ax``.

    Boxes are the nodes (blue: the encoder's outputs, pink dashed: a random draw). Forward
    arrows are black; the backward pass (gradients of the loss) is red and dashed, crossed
    out where sampling blocks it. ``fontsize`` (points; None: the slide style's ``font.size``)
    sets every label's size; ``caption``
    adds the line saying so under the graph (a figure with two graphs may write it once).
    """
    from matplotlib import rcParams

    fontsize = float(rcParams["font.size"]) if fontsize is None else fontsize
    ax.set(xlim=(0, 1), ylim=(0, 1))
    ax.set_axis_off()
    style = {
        "param": dict(boxstyle="round,pad=0.5", fc="#deebf7", ec="black"),
        "op": dict(boxstyle="round,pad=0.5", fc="#f0f0f0", ec="black"),
        "random": dict(boxstyle="round,pad=0.5", fc="#fde0dd", ec="#c51b7d", ls="--"),
    }

    def node(x, y, text, kind):
        return ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, bbox=style[kind])

    def arrow(a, b, backward=False, blocked=False):
        (xa, ya), (xb, yb) = a.get_position(), b.get_position()
        length = math.hypot(xb - xa, yb - ya)
        # forward and backward arrows run side by side, 0.025 either side of the centre line
        dx, dy = 0.025 * (yb - ya) / length, -0.025 * (xb - xa) / length
        sign = -1 if backward else 1
        start, end = (xa + sign * dx, ya + sign * dy), (xb + sign * dx, yb + sign * dy)
        if backward:
            start, end = end, start
        props = dict(arrowstyle="-|>", mutation_scale=15, lw=1.5, shrinkA=2, shrinkB=2)
        props.update(color="#d62728", ls="--") if backward else props.update(color="black")
        patches = (b, a) if backward else (a, b)
        props.update(patchA=patches[0].get_bbox_patch(), patchB=patches[1].get_bbox_patch())
        ax.annotate("", xy=end, xytext=start, arrowprops=props)
        if blocked:
            mid = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
            ax.text(
                *mid,
                "X",
                color="#d62728",
                fontsize=1.6 * fontsize,
                weight="bold",
                ha="center",
                va="center",
            )

    mu = node(0.1, 0.8, "$\\mu$\n(encoder)", "param")
    sigma = node(0.1, 0.3, "$\\sigma$\n(encoder)", "param")
    loss = node(0.9, 0.55, r"loss $f(z)$", "op")
    if reparameterized:
        z = node(0.47, 0.55, r"$z = \mu + \sigma \odot \epsilon$", "op")
        eps = node(0.47, 0.1, r"$\epsilon \sim \mathcal{N}(0, I)$", "random")
        arrow(eps, z)
        title = "After: the randomness is an input,\ngradients reach $\\mu$ and $\\sigma$"
    else:
        z = node(0.47, 0.55, "sample\n" r"$z \sim \mathcal{N}(\mu, \sigma^2)$", "random")
        title = "Before: z is sampled,\nno gradient reaches $\\mu$ or $\\sigma$"
    for parent in (mu, sigma):
        arrow(parent, z)
        arrow(parent, z, backward=True, blocked=not reparameterized)
    arrow(z, loss)
    arrow(z, loss, backward=True)
    ax.set_title(title, fontsize=fontsize)
    if caption:
        ax.text(0.0, -0.06, CAPTION, fontsize=fontsize)


def seed_band(
    ax, curves: Sequence[BICCurve], color: str, label: str, marker: str = "o", per: int = 1
) -> float:
    """Draw BIC curves of several seeds (same ks) on ``ax``: their mean as a line, their range
    as a band, each seed's chosen k as a triangle at 0. Values are ``BIC(k) / per - low`` (e.g.
    ``per = n`` for nats per code), ``low`` the lowest of all; returns ``low``."""
    if not curves:
        raise ValueError("curves must hold at least one BICCurve (one per seed).")
    per = int(per)
    bics = np.stack([c.bic for c in curves]) / per  # (seeds, K)
    low, ks = float(bics.min()), curves[0].ks
    ax.fill_between(ks, bics.min(0) - low, bics.max(0) - low, color=color, alpha=0.25)
    ax.plot(ks, bics.mean(0) - low, marker + "-", color=color, lw=2.5, ms=7, label=label)
    best = [c.best_k for c in curves]
    ax.plot(best, [0] * len(best), "v", ms=15, color=color, mec="k")
    return low


def draw_mixture(ax, z, labels, gmm, title: str, class_names: Sequence[str]) -> None:
    """Draw 2-D codes ``z`` (N, 2), coloured by class (``figures.CLASS_COLORS``, a legend of
    ``class_names``), a fitted full-covariance ``GaussianMixture``'s components as 2-sigma
    ellipses (line width grows with the weight) and N(0, I)'s 2-sigma circle (dashed)."""
    z, labels = np.asarray(z), np.asarray(labels)
    if z.ndim != 2 or z.shape[1] != 2 or len(labels) != len(z):
        raise ValueError(f"z must be (N, 2) with one label each, got {z.shape} and {len(labels)}.")
    for c, name in enumerate(class_names):
        ax.scatter(*z[labels == c].T, s=2, color=figures.CLASS_COLORS[c], label=name)
    for w, mean, cov in zip(gmm.weights_, gmm.means_, gmm.covariances_, strict=True):
        ax.plot(*ellipse(mean, cov).T, color="k", lw=0.5 + 12 * w)
    ax.plot(*ellipse(np.zeros(2), np.eye(2)).T, "--", lw=3, color=figures.COLORS["prior"])
    ax.set(title=title, xlabel="$z_1$", ylabel="$z_2$", aspect="equal", adjustable="datalim")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=6)


def samples_figure(
    panels: Mapping[tuple[int, int], tuple[torch.Tensor, str]],
    suptitle: str,
    figsize: tuple[float, float] = (12, 4.6),
    nrow: int = 2,
):
    """One figure of sample grids: ``panels[(row, col)] = (images (N, 1, H, W), title)``, each
    image scaled to its own maximum (``x / max x``: faint decodes shown dark on light), drawn
    with ``figures.image_grid`` in ``nrow`` rows. Returns the figure."""
    from matplotlib import pyplot as plt

    rows = 1 + max(r for r, _ in panels)
    cols = 1 + max(c for _, c in panels)
    fig, axes = plt.subplots(rows, cols, figsize=figsize, layout="constrained", squeeze=False)
    for (r, c), (images, title) in panels.items():
        x = torch.as_tensor(images).detach().float().cpu()
        x = x / x.amax(dim=(1, 2, 3), keepdim=True)
        figures.image_grid(x, nrow=nrow, ax=axes[r, c], title=title)
    fig.suptitle(suptitle)
    return fig
