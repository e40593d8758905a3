"""One helper saves every figure: ``save(fig, "AE/name")`` writes ``<pics>/AE/name.png``.

The folder is ``VAELIB_PICS`` when set: ``make figures`` sets it to the course's tracked
``pics/`` (the only thing that writes there), ``make lab`` to the student's ``work/pics``.
Unset, full mode writes ``work/pics`` (git-ignored) and fast mode (tests, CI) a fresh
temporary folder per user and per run, so no other run can change the published figures.
"""

from __future__ import annotations

import functools
import getpass
import os
import re
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from vaelib.runtime import fast_mode

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
    "ex-post MoG": "#17becf",  # a mixture fitted to the codes after training (lessons 07, 08)
    "PPCA": "#bcbd22",  # the linear-Gaussian toy model of the ELBO lesson (lesson 04)
    "PPCA-enc-full": "#6a3d9a",  # its linear encoder with a full covariance (lesson 04)
    "PPCA-enc-diag": "#1b9e77",  # its linear encoder with a diagonal covariance (lesson 04)
    "prior": "#404040",  # N(0, I) and samples from it: dark grey, visible on a projector
    "data": "#2ca02c",  # the data / test codes
    "score function": "#a6761d",  # the score-function (REINFORCE) estimator (lesson 05)
    "pathwise": "#1b9e77",  # the pathwise (reparameterized) estimator (lesson 05)
    "prior hole": "#ff00ff",  # prior samples / grid points far from every code (lesson 06)
}
_NAME = re.compile(r"[A-Z][A-Z0-9_]*/[a-z0-9][a-z0-9_\-]*")
REPO_ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def _fast_pics_dir() -> Path:
    """One private temporary folder per user and per run (process), made on first use."""
    try:
        user = re.sub(r"[^A-Za-z0-9_.-]", "_", getpass.getuser())
    except (KeyError, OSError):  # no user name (a container without /etc/passwd entry)
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return Path(tempfile.mkdtemp(prefix=f"vaelib-pics-{user}-"))


def pics_dir() -> Path:
    """Where figures go: ``VAELIB_PICS``; unset, a per-run temp folder in fast mode, else
    ``<repo>/work/pics`` (the student's workspace, git-ignored; the tracked ``pics/`` is
    written only by ``make figures``, which sets ``VAELIB_PICS``)."""
    if os.environ.get("VAELIB_PICS"):
        return Path(os.environ["VAELIB_PICS"])
    if fast_mode():
        return _fast_pics_dir()
    return REPO_ROOT / "work" / "pics"


def save(fig: Figure, name: str, dpi: int = DPI) -> Path:
    """Save ``fig`` as ``<pics>/<TOPIC>/<name>.png`` and return the path.

    ``name`` is ``"TOPIC/name"``: an upper-case topic (AE, KL, REPARAM, VAE) and a lower-case
    file name without extension, e.g. ``save(fig, "AE/bic_curves")``. The file is written to a
    temporary file of its own in the same folder and renamed into place, so concurrent saves
    of one figure never collide and a reader never sees half a PNG.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"name={name!r} must look like 'TOPIC/file_name' (topic in capitals, file name in "
            "lower case, no extension, no spaces or control characters), e.g. 'AE/bic_curves'."
        )
    if dpi < DPI:
        raise ValueError(f"dpi={dpi} is below the course's minimum of {DPI}: pass dpi>={DPI}.")
    path = pics_dir() / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp.png", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format="png", dpi=dpi, bbox_inches="tight")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a figure is for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def image_grid(images, nrow: int, ax=None, title: str | None = None):
    """Show images ``(N, 1, H, W)`` in [0, 1] as one grid of ``nrow`` rows on ``ax``."""
    import torch

    images = torch.as_tensor(images).detach().float().cpu()
    if images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"images must have shape (N, 1, H, W), got {tuple(images.shape)}.")
    n, _, h, w = images.shape
    ncol = -(-n // nrow)
    canvas = torch.ones(nrow * (h + 2), ncol * (w + 2))
    for i in range(n):
        r, c = divmod(i, ncol)
        canvas[r * (h + 2) + 1 : r * (h + 2) + 1 + h, c * (w + 2) + 1 : c * (w + 2) + 1 + w] = (
            images[i, 0]
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(ncol * 0.6, nrow * 0.6))
    ax.imshow(canvas.numpy(), cmap="gray_r", vmin=0, vmax=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
