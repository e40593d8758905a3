"""One helper saves every figure: ``save(fig, "AE/name")`` writes ``<pics>/AE/name.png``.

The folder is ``VAELIB_PICS`` when set: ``make figures`` sets it to the course's tracked
``pics/`` (the only thing that writes there), ``make lab`` to the student's ``work/pics``.
Unset, full mode writes ``work/pics`` (git-ignored) and fast mode (tests, CI) a fresh
temporary folder per user and per run, so no other run can change the published figures.

Slide style: importing this module applies ``SLIDE_RC`` (font sizes a projector needs), and
``save`` records in the PNG's metadata the smallest font size of any visible text (``MIN_FONT_KEY``,
in points) and the dpi (``DPI_KEY``), so a test can tell how large that text is where the deck
draws the figure: ``pt * dpi / 72`` pixels in the PNG, times the deck's scale.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.text import Text

from vaelib import runtime

DPI = 150
# One colour per model across the whole course (lines, markers, table rows, slides); "prior"
# and "data" are the reference distributions. A new model gets a new entry here, never a reuse.
COLORS = {
    "AE": "#1f77b4",  # plain autoencoder (lessons 01, 07)
    "VAE": "#d62728",  # the MLP VAE, N(0, I) prior (lessons 06-08)
    "ConvVAE": "#9467bd",  # the convolutional VAE (lesson 06)
    "VAE-2D": "#393b79",  # the MLP VAE with a 2-D latent space, drawn in the plane (lesson 06)
    "VAE-binarized": "#ff7f0e",  # the MLP VAE trained on binarised pixels (lesson 06)
    "VAE-MoG": "#8c564b",  # the MLP VAE with a learned mixture-of-Gaussians prior (lesson 08)
    "VAE-Vamp": "#e377c2",  # the MLP VAE with a VampPrior (lesson 08)
    "IWAE": "#006d2c",  # the MLP VAE trained on the importance-weighted bound L_k (lesson 09)
    "ex-post MoG": "#17becf",  # a mixture fitted to the codes after training (lessons 07, 08)
    "CVAE": "#e6550d",  # the conditional VAE (lesson 10)
    "VQ-VAE": "#b8860b",  # the VQ-VAE with its autoregressive code prior (lesson 10)
    "PPCA": "#bcbd22",  # the linear-Gaussian toy model of the ELBO lesson (lesson 04)
    "PPCA-enc-full": "#6a3d9a",  # its linear encoder with a full covariance (lesson 04)
    "PPCA-enc-diag": "#1b9e77",  # its linear encoder with a diagonal covariance (lesson 04)
    "prior": "#404040",  # N(0, I) and samples from it: dark grey, visible on a projector
    "data": "#2ca02c",  # the data / test codes
    "score function": "#a6761d",  # the score-function (REINFORCE) estimator (lesson 05)
    "pathwise": "#1b9e77",  # the pathwise (reparameterized) estimator (lesson 05)
    "prior hole": "#ff00ff",  # prior samples / grid points far from every code (lesson 06)
    "AR-VAE": "#5ab4ac",  # the VAE with an autoregressive (MADE) decoder (lesson 11)
    "AR-VAE warm-up": "#01665e",  # the same, beta annealed from 0 to 1 (lesson 11)
    "AR-VAE free bits": "#c51b7d",  # the same, with minibatch free bits (lesson 11)
    "HVAE": "#4d9221",  # the two-level VAE, z1 under z2 (lesson 11)
}
# Ten colours for the ten classes of Fashion-MNIST / MNIST (class-coloured scatters, with a
# legend): tab10 with its grey replaced by mustard, so no class looks like the prior's dark grey.
CLASS_COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#d4a017", "#bcbd22", "#17becf",
)  # fmt: skip

# Font sizes (points) that stay readable where the deck draws a figure of a few inches: at the
# deck's usual scale a 13 pt tick label is ~18 px or more on a 1280x720 slide.
SLIDE_RC = {
    "font.size": 14,
    "axes.titlesize": 15,
    "axes.labelsize": 14,
    "xtick.labelsize": 13,
    "ytick.labelsize": 13,
    "legend.fontsize": 13,
    "legend.title_fontsize": 13,
    "figure.titlesize": 16,
    "lines.linewidth": 2.0,
    "lines.markersize": 7,
    "axes.titleweight": "normal",
}
MIN_FONT_KEY = "vaelib:min_font_pt"  # PNG text chunk: the smallest visible font size (pt)
DPI_KEY = "vaelib:dpi"  # PNG text chunk: the dpi the figure was saved at


def use_slide_style() -> None:
    """Apply ``SLIDE_RC`` to matplotlib's rcParams (done on import of ``vaelib.figures``)."""
    mpl.rcParams.update(SLIDE_RC)


use_slide_style()


def min_font_size(fig: Figure) -> float | None:
    """The smallest font size (points) of any text ``fig`` draws: titles, axis labels, tick
    labels, legends, colour bars, annotations (hidden axes and empty strings left out).
    None if the figure draws no text."""
    hidden: set[Text] = set()
    for ax in fig.axes:
        if not ax.get_visible():
            hidden.update(ax.findobj(Text))
            continue
        for axis in (ax.xaxis, ax.yaxis):
            if not ax.axison or not axis.get_visible():
                hidden.update(axis.findobj(Text))
    sizes = [
        float(t.get_fontsize())
        for t in fig.findobj(Text)
        if t not in hidden and t.get_visible() and t.get_text().strip()
    ]
    return min(sizes) if sizes else None


_NAME = re.compile(r"[A-Z][A-Z0-9_]*/[a-z0-9][a-z0-9_\-]*")  # used with fullmatch


def save(fig: Figure, name: str, dpi: int = DPI, *, pics: str | Path | None = None) -> Path:
    """Save ``fig`` as ``<pics>/<TOPIC>/<name>.png`` and return the path.

    ``name`` is ``"TOPIC/name"``: an upper-case topic (AE, KL, REPARAM, VAE) and a lower-case
    file name without extension, e.g. ``save(fig, "AE/bic_curves")``. The file is written to a
    temporary file of its own in the same folder and renamed into place, so concurrent saves
    of one figure never collide and a reader never sees half a PNG. ``pics``: the folder
    (``lesson.pics``); None is ``runtime.pics_dir()`` (``VAELIB_PICS``, else by mode).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"name={name!r} must look like 'TOPIC/file_name' (topic in capitals, file name in "
            "lower case, no extension, no spaces or control characters), e.g. 'AE/bic_curves'."
        )
    if dpi < DPI:
        raise ValueError(f"dpi={dpi} is below the course's minimum of {DPI}: pass dpi>={DPI}.")
    path = Path(pics if pics is not None else runtime.pics_dir()) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    smallest = min_font_size(fig)
    metadata = {DPI_KEY: str(dpi)} | ({} if smallest is None else {MIN_FONT_KEY: f"{smallest:g}"})
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp.png", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format="png", dpi=dpi, bbox_inches="tight", metadata=metadata)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a figure is for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def image_grid(images, nrow: int, ax=None, title: str | None = None, stretch: bool = False):
    """Show images ``(N, 1, H, W)`` in [0, 1] as one grid of ``nrow`` rows on ``ax``, ink (1)
    black on white (0), the full grey range.

    ``stretch=True`` maps each image's own range ``[min, max]`` to ``[0, 1]`` before drawing:
    ``x' = (x - min) / (max - min)``, so faint decoded images (a pale blur) show their shape at
    full contrast on a projector; say so in the figure's title.
    """
    import torch

    images = torch.as_tensor(images).detach().float().cpu()
    if images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"images must have shape (N, 1, H, W), got {tuple(images.shape)}.")
    if stretch:
        low = images.amin(dim=(1, 2, 3), keepdim=True)
        high = images.amax(dim=(1, 2, 3), keepdim=True)
        images = (images - low) / (high - low).clamp_min(1e-8)
    n, _, h, w = images.shape
    ncol = -(-n // nrow)
    canvas = torch.full((nrow * (h + 2), ncol * (w + 2)), 0.3)  # light grey lines between tiles
    for i in range(n):
        r, c = divmod(i, ncol)
        canvas[r * (h + 2) + 1 : r * (h + 2) + 1 + h, c * (w + 2) + 1 : c * (w + 2) + 1 + w] = (
            images[i, 0]
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(ncol * 0.6, nrow * 0.6))
    ax.imshow(canvas.numpy(), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def class_scatter(
    ax, z, labels, names, s: float = 3, legend: str | None = "right", ncol: int | None = None
):
    """Scatter codes ``z`` (N, 2) on ``ax``, one colour per class (``CLASS_COLORS``), with a
    legend naming the classes: ``names[c]`` for label ``c``. ``legend``: "right" (outside the
    axes, ``ncol`` columns, default 1), "below" (under them, default 5 columns) or None."""
    import torch

    z, labels = torch.as_tensor(z).detach().cpu(), torch.as_tensor(labels).cpu()
    if z.dim() != 2 or z.shape[1] != 2 or len(labels) != len(z):
        raise ValueError(
            f"z must be (N, 2) codes with one label each, got z {tuple(z.shape)} and "
            f"{len(labels)} labels."
        )
    if len(names) > len(CLASS_COLORS):
        raise ValueError(f"names has {len(names)} classes; CLASS_COLORS has {len(CLASS_COLORS)}.")
    for c, name in enumerate(names):
        zc = z[labels == c]
        ax.scatter(zc[:, 0], zc[:, 1], s=s, color=CLASS_COLORS[c], label=name, rasterized=True)
    if legend == "right":
        ax.legend(
            markerscale=12 / max(s, 1) ** 0.5, loc="center left", bbox_to_anchor=(1.01, 0.5),
            ncol=ncol or 1, columnspacing=0.8, handletextpad=0.2,
        )  # fmt: skip
    elif legend == "below":
        ax.legend(
            markerscale=12 / max(s, 1) ** 0.5, loc="upper center", bbox_to_anchor=(0.5, -0.15),
            ncol=ncol or 5, columnspacing=0.8, handletextpad=0.2,
        )  # fmt: skip
    elif legend is not None:
        raise ValueError(f"legend must be 'right', 'below' or None, got {legend!r}.")
    return ax
