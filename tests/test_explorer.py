"""vaelib.explorer without a browser: set the sliders in Python, check what the widget shows."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from matplotlib import pyplot as plt
from PIL import Image

from vaelib.explorer import LatentExplorer
from vaelib.models import VAE


def _model(latent_dim: int) -> VAE:
    torch.manual_seed(0)
    return VAE(latent_dim=latent_dim, hidden=(16,), image_shape=(1, 6, 6)).eval()


def _train_images() -> torch.Tensor:
    return torch.randint(0, 256, (50, 1, 6, 6), generator=torch.Generator().manual_seed(0)).to(
        torch.uint8
    )


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def test_map_mode_decodes_the_point_under_the_sliders():
    model, train = _model(2), _train_images()
    codes, labels = torch.randn(30, 2), torch.randint(0, 10, (30,))
    ex = LatentExplorer(model, train, codes=codes, labels=labels)
    assert ex.mode == "map"
    before = (ex.decoded_image.value, ex.map_image.value)
    ex.sliders[0].value, ex.sliders[1].value = 1.5, -2.0
    assert ex.decoded_image.value != before[0] and ex.map_image.value != before[1]
    z = torch.tensor([[1.5, -2.0]])
    with torch.no_grad():
        x_hat = model.decode(z)
    torch.testing.assert_close(ex.z, z)
    torch.testing.assert_close(ex.x_hat, x_hat)
    # the image shown is that decode, dark ink on white, 5x larger
    shown = _pixels(ex.decoded_image.value)[::5, ::5] / 255
    np.testing.assert_allclose(shown, 1 - x_hat[0, 0].numpy(), atol=1 / 255 + 1e-6)
    # the nearest training image, by brute force
    dist = ((train.float() / 255 - x_hat).flatten(1) ** 2).sum(1)
    assert ex.nearest_index == int(dist.argmin())
    assert "1.50, -2.00" in ex.caption.value
    assert ex.widget.children  # a box of sliders, map, caption, images


def test_traversal_mode_moves_one_dimension_of_z0():
    model, train = _model(5), _train_images()
    z0 = torch.arange(5.0) / 10
    ex = LatentExplorer(model, train, z0=z0)
    assert ex.mode == "traversal"
    strip, shown = ex.map_image.value, ex.decoded_image.value
    ex.sliders[1].value = 2.5  # the value of dimension 0
    assert ex.decoded_image.value != shown and ex.map_image.value == strip  # same dimension
    ex.sliders[0].value = 3  # dimension 3 now carries the value 2.5
    assert ex.map_image.value != strip
    expected = z0.clone()
    expected[3] = 2.5
    torch.testing.assert_close(ex.z, expected[None])
    with torch.no_grad():
        torch.testing.assert_close(ex.x_hat, model.decode(expected[None]))


def test_static_figures_have_the_same_content():
    ex = LatentExplorer(_model(2), _train_images(), codes=torch.randn(30, 2))
    fig = ex.static_figure(torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    assert len(fig.axes) == 1 + 2 * 2  # the map, then decode and nearest image per point
    fig = LatentExplorer(_model(5), _train_images()).static_figure(dims=[0, 4])
    assert len(fig.axes) == 2
    assert fig.axes[1].get_title().startswith("dimension 4")
    plt.close("all")


def test_explorer_errors():
    with pytest.raises(ValueError, match=r"needs codes \(N, 2\)"):
        LatentExplorer(_model(2), _train_images())
    with pytest.raises(ValueError, match="train_images must be"):
        LatentExplorer(_model(5), torch.zeros(6, 6))
    with pytest.raises(ValueError, match=r"z0 must have shape \(5,\)"):
        LatentExplorer(_model(5), _train_images(), z0=torch.zeros(3))
    with pytest.raises(ValueError, match="labels must be"):
        LatentExplorer(_model(2), _train_images(), codes=torch.zeros(4, 2), labels=torch.zeros(3))


def test_decoding_puts_the_model_back_in_its_mode():
    model = _model(2).train()
    ex = LatentExplorer(model, _train_images(), codes=torch.randn(30, 2))
    ex.sliders[0].value = 1.0
    assert model.training  # decoded in eval mode, then restored
    model.eval()
    ex.sliders[0].value = 0.5
    assert not model.training


def test_images_show_at_their_own_pixel_size_and_the_decode_sits_beside_the_sliders():
    ex = LatentExplorer(_model(2), _train_images(), codes=torch.randn(30, 2))
    for image in (ex.map_image, ex.decoded_image, ex.nearest_image):
        width, height = Image.open(io.BytesIO(image.value)).size
        assert (image.layout.width, image.layout.height) == (f"{width}px", f"{height}px")
    box = ex.widget
    map_column, controls = box.children  # the map left, the controls right
    assert map_column is ex.map_image
    assert ex.sliders[0] in controls.children
    assert any(ex.decoded_image in getattr(c, "children", ()) for c in controls.children)


def test_show_puts_the_static_figure_in_the_same_output_as_the_widget(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    LatentExplorer(_model(2), _train_images(), codes=torch.randn(30, 2)).show()
    (bundle,) = shown
    assert "application/vnd.jupyter.widget-view+json" in bundle  # the live widget, in Jupyter
    assert _pixels(__import__("base64").b64decode(bundle["image/png"])).ndim == 3  # elsewhere
