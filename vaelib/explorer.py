"""An interactive latent explorer (lesson 08): move a point through a trained VAE's latent space
and watch what the decoder makes of it, beside the nearest training image.

Two modes, chosen by the model's ``latent_dim``:

- **map** (D = 2): the latent map with the test codes, coloured by class, and a cross at
  ``z = (z_1, z_2)``, the two sliders' values;
- **traversal** (D > 2): ``z = z0`` with one dimension ``d`` (a slider) set to a value (another),
  and a strip of decodes along that dimension.

Both show ``x_hat = model.decode(z)`` and the training image nearest to it in pixel space.
``LatentExplorer.widget`` is an ipywidgets box (live in Jupyter): the map (or strip) at its own
pixel size on the left; the sliders, the decode and the nearest image side by side on the right,
so the decode stays in view while a slider moves (within a 1280x800 window). ``static_figure``
draws the same content with matplotlib; ``show()`` displays the widget with that figure as the
fallback of the same output, so the figure appears only where widgets can't render (a notebook
on a code host, the site).
"""

from __future__ import annotations

import base64
import io
import math

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image
from torch import nn

from vaelib import latent
from vaelib import validate as check
from vaelib.data import to_float
from vaelib.figures import CLASS_COLORS

_CROSS = {"marker": "X", "s": 260, "color": "#d62728", "edgecolors": "k", "linewidths": 1.5}


def _png(image: torch.Tensor, scale: int = 5) -> bytes:
    """An image (1, H, W) in [0, 1] as PNG bytes, dark ink on white, ``scale`` x larger."""
    pixels = (255 * (1 - image[0].clamp(0, 1))).round().to(torch.uint8).numpy()
    h, w = pixels.shape
    buf = io.BytesIO()
    Image.fromarray(pixels).resize((w * scale, h * scale), Image.NEAREST).save(buf, format="PNG")
    return buf.getvalue()


_MAP_DPI = 80  # the map's PNG is shown at exactly its pixel size (no browser rescaling)


def _figure_png(fig: Figure, dpi: int = _MAP_DPI) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _native(image: widgets.Image, png: bytes) -> None:
    """Show ``png`` in ``image`` at its own pixel size: never stretched, never blurred."""
    width, height = Image.open(io.BytesIO(png)).size
    image.value = png
    image.layout.width, image.layout.height = f"{width}px", f"{height}px"
    image.layout.min_width, image.layout.flex = f"{width}px", "0 0 auto"


class LatentExplorer:
    """Decode the point under the sliders live, with the nearest training image beside it.

    model: a trained VAE (``decode``: z (N, D) -> x_hat (N, 1, H, W), ``latent_dim``).
    train_images: (M, 1, H, W), uint8 (as ``load_dataset`` returns) or floats in [0, 1],
    searched for the nearest image; 0..255 floats and NaN pixels are refused (ValueError).
    codes (N, 2) and labels (N,): the test codes drawn on the map (D = 2 only), finite, with
    ``class_names[label]`` in the legend (e.g. ``data.CLASSES["fashion-mnist"]``).
    z0 (D,): the point a traversal starts from (D > 2; zeros, the prior's mean, by default).
    limit: the sliders run over ``[-limit, limit]``, a finite number > 0.

    The model's train/eval mode is restored after every decode.
    """

    def __init__(
        self,
        model: nn.Module,
        train_images: torch.Tensor,
        *,
        codes: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        z0: torch.Tensor | None = None,
        limit: float = 3.0,
        class_names: tuple[str, ...] | None = None,
    ) -> None:
        limit = check.number(limit, "limit", minimum=0, strict=True)  # refuses 0, nan, inf
        self.model, self.latent_dim, self.limit = model, int(model.latent_dim), limit
        self.mode = "map" if self.latent_dim == 2 else "traversal"
        self.train_images = self._check_images(train_images)
        self.codes, self.labels = self._check_codes(codes, labels)
        self.class_names = class_names
        self.z0 = torch.zeros(self.latent_dim) if z0 is None else z0.detach().float().cpu()
        if self.z0.shape != (self.latent_dim,):
            raise ValueError(
                f"z0 must have shape ({self.latent_dim},), got {tuple(self.z0.shape)}."
            )
        check.finite(self.z0, "z0")
        slider = dict(min=-limit, max=limit, step=0.05, continuous_update=True)
        if self.mode == "map":
            self.sliders = [widgets.FloatSlider(value=0.0, description=f"z{i + 1}", **slider)
                            for i in range(2)]  # fmt: skip
        else:
            self.sliders = [
                widgets.IntSlider(value=0, min=0, max=self.latent_dim - 1, description="dim d"),
                widgets.FloatSlider(value=float(self.z0[0]), description="z_d", **slider),
            ]
        for s in self.sliders:
            s.layout.width = "300px"
        self.map_image = widgets.Image(format="png")
        self.decoded_image = widgets.Image(format="png")
        self.nearest_image = widgets.Image(format="png")
        self.caption = widgets.HTML(layout=widgets.Layout(width="300px"))
        for s in self.sliders:
            s.observe(self._update, names="value")
        self._update()

    # -- checks ---------------------------------------------------------------------------
    @staticmethod
    def _check_images(images: torch.Tensor) -> torch.Tensor:
        if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[0] < 1:
            raise ValueError("train_images must be a tensor (M, 1, H, W), e.g. load_dataset's.")
        if images.dtype == torch.uint8:
            return to_float(images).cpu()
        images = check.floating(images, "train_images").detach().float().cpu()
        check.unit_interval(images, "train_images")  # 0..255 floats: divide by 255 (to_float)
        return images

    def _check_codes(self, codes, labels) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if self.mode == "traversal":
            return None, None
        if codes is None or codes.dim() != 2 or codes.shape[1] != 2:
            got = None if codes is None else tuple(codes.shape)
            raise ValueError(f"a 2-D model's explorer needs codes (N, 2) to draw, got {got}.")
        check.finite(codes, "codes", "encode finite images, or drop the rows with nan codes.")
        if labels is not None and labels.shape != codes.shape[:1]:
            raise ValueError(
                f"labels must be (N,) = ({codes.shape[0]},), got {tuple(labels.shape)}."
            )
        return codes.detach().float().cpu(), labels

    # -- the state: z, x_hat, the nearest image -------------------------------------------
    @property
    def z(self) -> torch.Tensor:
        """The point under the sliders, (1, D)."""
        if self.mode == "map":
            return torch.tensor([[self.sliders[0].value, self.sliders[1].value]])
        z = self.z0.clone()
        z[self.sliders[0].value] = self.sliders[1].value
        return z[None]

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``model.decode(z)`` on the model's device, back on the CPU: (N, D) -> (N, 1, H, W).
        Decodes in eval mode and puts the model back in the mode it was in."""
        device = next(self.model.parameters()).device
        was_training = self.model.training
        self.model.eval()
        try:
            return self.model.decode(z.to(device)).float().cpu()
        finally:
            self.model.train(was_training)

    def nearest(self, x_hat: torch.Tensor) -> torch.Tensor:
        """Index of the training image nearest each of x_hat (N, 1, H, W) in pixels: (N,)."""
        d = torch.cdist(x_hat.flatten(1), self.train_images.flatten(1))
        return d.argmin(1)

    def _update(self, change=None) -> None:
        z = self.z
        self.x_hat = self.decode(z)  # (1, 1, H, W)
        self.nearest_index = int(self.nearest(self.x_hat)[0])
        self.distance = float(latent.nearest_distance(self.x_hat, self.train_images)[0])
        _native(self.decoded_image, _png(self.x_hat[0]))
        _native(self.nearest_image, _png(self.train_images[self.nearest_index]))
        if self.mode == "map" or change is None or change["owner"] is self.sliders[0]:
            _native(self.map_image, _figure_png(self._draw_context(z[0])))
        point = ", ".join(f"{v:.2f}" for v in z[0].tolist()[:4])
        more = ", ..." if self.latent_dim > 4 else ""
        rms = self.distance / math.sqrt(self.x_hat[0].numel())
        self.caption.value = (
            f"<b>z = ({point}{more})</b><br>left: decoded; right: the nearest training image "
            f"(#{self.nearest_index}, RMS pixel difference {rms:.2f})"
        )

    def _draw_context(self, z: torch.Tensor) -> Figure:
        # the map, the sliders and both images side by side fit a notebook 1280 px wide
        fig = Figure(figsize=(5.8, 4.2) if self.mode == "map" else (8, 1.6), layout="constrained")
        ax = fig.add_subplot()
        if self.mode == "map":
            self._draw_map(ax, z[None])
        else:
            self._draw_strip(ax, int(self.sliders[0].value))
        return fig

    def _draw_map(self, ax, points: torch.Tensor) -> None:
        codes = self.codes.numpy()
        if self.labels is None:
            ax.scatter(*codes.T, s=3, alpha=0.5, rasterized=True, color=CLASS_COLORS[2])
        else:
            labels = self.labels.cpu().numpy()
            for k in np.unique(labels):  # one colour per class, as figures.class_scatter
                name = str(k) if self.class_names is None else self.class_names[int(k)]
                ax.scatter(*codes[labels == k].T, s=3, alpha=0.5, rasterized=True,
                           color=CLASS_COLORS[int(k) % len(CLASS_COLORS)], label=name)  # fmt: skip
        ax.scatter(*points.T.numpy(), zorder=3, **_CROSS)
        if self.labels is not None:
            ax.legend(title="class", loc="center left", bbox_to_anchor=(1, 0.5), markerscale=4)
        ax.set(xlim=(-self.limit, self.limit), ylim=(-self.limit, self.limit), aspect="equal",
               xlabel="$z_1$", ylabel="$z_2$", title="test codes (colour: class)")  # fmt: skip

    def _strip(self, dim: int, n: int = 9) -> tuple[np.ndarray, torch.Tensor]:
        values = np.linspace(-self.limit, self.limit, n)
        z = self.z0.repeat(n, 1)
        z[:, dim] = torch.from_numpy(values).float()
        return values, self.decode(z)

    def _draw_strip(self, ax, dim: int) -> None:
        values, x = self._strip(dim)
        strip = torch.cat([torch.nn.functional.pad(xi[0], (1, 1), value=0) for xi in x], dim=1)
        ax.imshow(strip.numpy(), cmap="gray_r", vmin=0, vmax=1)
        ax.set_axis_off()
        ax.set_title(f"dimension {dim} from {values[0]:.1f} to {values[-1]:.1f}")

    @property
    def widget(self) -> widgets.Widget:
        """The live explorer: the map (or strip) at its own pixel size, and beside it the
        sliders, the decode and the nearest image (in view together while a slider moves)."""
        self.decoded_image.layout.margin = self.map_image.layout.margin = "0 12px 0 0"
        images = widgets.HBox([self.decoded_image, self.nearest_image])
        controls = widgets.VBox([*self.sliders, images, self.caption],
                                layout=widgets.Layout(flex="0 0 auto"))  # fmt: skip
        if self.mode == "map":
            return widgets.HBox([self.map_image, controls])
        return widgets.VBox([self.map_image, controls])  # the strip is wide: above

    def show(self) -> None:
        """Display the live widget; where widgets can't render (a code host, the site), the
        same output shows ``static_figure()`` instead, never both."""
        from IPython.display import display
        from matplotlib import pyplot as plt

        fig = self.static_figure()
        png = _figure_png(fig, dpi=100)
        plt.close(fig)
        bundle = self.widget._repr_mimebundle_()
        bundle["image/png"] = base64.b64encode(png).decode("ascii")
        bundle["text/plain"] = "the latent explorer (a live widget: run the cell to use it)"
        display(bundle, raw=True)

    # -- the static stand-in -------------------------------------------------------------
    def static_figure(self, points: torch.Tensor | None = None, dims: list[int] | None = None):
        """The same content as a matplotlib figure: for the map, the codes with numbered points
        (P, 2) (default: 5 points on the diagonal) and each point's decode over its nearest
        training image; for a traversal, one row of decodes per dimension in ``dims``."""
        from matplotlib import pyplot as plt

        if self.mode == "map":
            if points is None:
                points = torch.linspace(-0.8, 0.8, 5)[:, None].repeat(1, 2) * self.limit
            x_hat = self.decode(points)
            near = self.train_images[self.nearest(x_hat)]
            fig = plt.figure(figsize=(10.5, 3.9), layout="constrained")  # slide-sized text
            left, right = fig.subfigures(1, 2, width_ratios=[1.3, 1.5])
            ax = left.subplots()
            self._draw_map(ax, points)
            for i, p in enumerate(points.tolist()):
                ax.annotate(str(i + 1), p, xytext=(9, 9), textcoords="offset points", fontsize=18)
            axes = right.subplots(2, len(points))
            for i in range(len(points)):
                for row, img in enumerate((x_hat[i], near[i])):
                    axes[row, i].imshow(img[0].numpy(), cmap="gray_r", vmin=0, vmax=1)
                    axes[row, i].set_xticks([]), axes[row, i].set_yticks([])
                axes[0, i].set_title(str(i + 1), fontsize=16)  # the point's number on the map
            axes[0, 0].set_ylabel("decoded", fontsize=15)
            axes[1, 0].set_ylabel("nearest", fontsize=15)
            return fig
        dims = list(range(min(4, self.latent_dim))) if dims is None else dims
        fig, axes = plt.subplots(len(dims), 1, figsize=(12, 1.6 * len(dims)), layout="constrained")
        for ax, dim in zip(np.atleast_1d(axes), dims, strict=True):
            self._draw_strip(ax, dim)
        return fig
