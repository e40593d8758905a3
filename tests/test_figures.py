import matplotlib.pyplot as plt
import pytest
import torch
from PIL import Image

from vaelib import figures


@pytest.fixture
def fig():
    f, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    yield f
    plt.close(f)


def test_save_writes_png_under_topic_folder(fig, tmp_path, monkeypatch):
    monkeypatch.setenv("VAELIB_PICS", str(tmp_path))
    path = figures.save(fig, "AE/test_figure")
    assert path == tmp_path / "AE" / "test_figure.png"
    with Image.open(path) as im:
        assert im.format == "PNG"
        dpi = im.info["dpi"][0]
    assert dpi == pytest.approx(150, abs=1)
    assert not list(tmp_path.rglob("*.tmp.png"))


def test_fast_mode_without_vaelib_pics_never_writes_the_course_pics(fig, monkeypatch):
    monkeypatch.delenv("VAELIB_PICS")
    assert figures.pics_dir() != figures.REPO_ROOT / "pics"
    monkeypatch.setenv("VAELIB_FAST", "0")
    assert figures.pics_dir() == figures.REPO_ROOT / "pics"


@pytest.mark.parametrize("name", ["bic_curves", "ae/bic", "AE/Bic", "AE/bic.png", "AE/x/y", ""])
def test_save_rejects_malformed_names(fig, name):
    with pytest.raises(ValueError, match="must look like 'TOPIC/file_name'"):
        figures.save(fig, name)


def test_save_rejects_low_dpi(fig):
    with pytest.raises(ValueError, match="dpi=72.*dpi>=150"):
        figures.save(fig, "AE/low", dpi=72)


def test_image_grid_lays_out_images_row_major():
    images = torch.zeros(6, 1, 4, 4)
    images[5] = 1.0
    ax = figures.image_grid(images, nrow=2)
    canvas = ax.get_images()[0].get_array()
    assert canvas.shape == (2 * 6, 3 * 6)
    assert canvas[6 + 1 : 6 + 5, 12 + 1 : 12 + 5].min() == 1.0  # image 5: row 1, column 2
    assert canvas[1:5, 1:5].max() == 0.0
    plt.close(ax.figure)


def test_image_grid_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"images must have shape \(N, 1, H, W\)"):
        figures.image_grid(torch.zeros(3, 28, 28), nrow=1)
