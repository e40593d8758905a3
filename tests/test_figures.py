import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
import torch
from PIL import Image

from vaelib import figures, runtime


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


def test_only_vaelib_pics_points_at_the_course_pics(fig, monkeypatch):
    monkeypatch.delenv("VAELIB_PICS")
    fast = runtime.pics_dir()
    assert fast != runtime.REPO_ROOT / "pics"
    monkeypatch.setenv("VAELIB_FAST", "0")
    assert runtime.pics_dir() == runtime.REPO_ROOT / "work" / "pics"  # git-ignored workspace
    monkeypatch.setenv("VAELIB_PICS", str(runtime.REPO_ROOT / "pics"))  # what make figures sets
    assert runtime.pics_dir() == runtime.REPO_ROOT / "pics"


def test_fast_mode_folder_is_private_to_this_user_and_run(monkeypatch):
    monkeypatch.delenv("VAELIB_PICS")
    here = runtime.pics_dir()
    assert here == runtime.pics_dir()  # one folder for the whole run
    assert here.is_dir() and (here.stat().st_mode & 0o077) == 0  # mkdtemp: 0700
    assert here.parent == Path(tempfile.gettempdir())
    code = "from vaelib import runtime; print(runtime.pics_dir())"
    env = {**os.environ, "PYTHONPATH": str(runtime.REPO_ROOT)}
    other = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert other != str(here)  # another run gets another folder
    Path(other).rmdir()


@pytest.mark.parametrize(
    "name",
    [
        "bic_curves",
        "ae/bic",
        "AE/Bic",
        "AE/bic.png",
        "AE/x/y",
        "",
        "AE/bic\n",
        "AE/bic\x00",
        "AE/bic\t",
        "AE/bic curves",
        "AE\n/bic",
        "\nAE/bic",
        "AE/bic\r",
        "AE/bic/",
        "AE/../bic",
    ],
)
def test_save_rejects_malformed_names(fig, name):
    with pytest.raises(ValueError, match="must look like 'TOPIC/file_name'"):
        figures.save(fig, name)


def test_save_rejects_a_name_that_is_not_a_string(fig):
    with pytest.raises(ValueError, match="name=.*must look like 'TOPIC/file_name'"):
        figures.save(fig, figures.Path("AE/bic"))


def test_concurrent_saves_of_one_figure_never_collide(tmp_path, monkeypatch):
    monkeypatch.setenv("VAELIB_PICS", str(tmp_path))
    figs = [plt.subplots(figsize=(2, 2))[0] for _ in range(8)]
    errors = []

    def work(f):
        try:
            for _ in range(3):
                figures.save(f, "AE/same_name")
        except Exception as err:  # collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(f,)) for f in figs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for f in figs:
        plt.close(f)
    assert errors == []
    assert [p.name for p in (tmp_path / "AE").iterdir()] == ["same_name.png"]  # no temp left
    with Image.open(tmp_path / "AE" / "same_name.png") as im:
        assert im.format == "PNG"


def test_failed_save_leaves_no_temp_file(fig, tmp_path, monkeypatch):
    monkeypatch.setenv("VAELIB_PICS", str(tmp_path))

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        figures.save(fig, "AE/broken")
    assert list((tmp_path / "AE").iterdir()) == []


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


def test_importing_figures_applies_the_slide_style():
    import matplotlib as mpl

    for key, value in figures.SLIDE_RC.items():
        assert mpl.rcParams[key] == value, key
    fonts = [v for k, v in figures.SLIDE_RC.items() if k.endswith("size") and "marker" not in k]
    assert min(fonts) >= 13


def test_save_records_the_smallest_font_and_the_dpi(tmp_path, monkeypatch):
    monkeypatch.setenv("VAELIB_PICS", str(tmp_path))
    f, axes = plt.subplots(1, 2, figsize=(4, 2))
    axes[0].plot([0, 1], [0, 1], label="line")
    axes[0].legend(fontsize=9)
    axes[0].set_title("title", fontsize=20)
    axes[1].imshow([[0, 1]])
    axes[1].set_axis_off()  # its tick labels are not drawn: they don't count
    axes[1].tick_params(labelsize=5)
    path = figures.save(f, "AE/fonts", dpi=200)
    plt.close(f)
    with Image.open(path) as im:
        assert im.text[figures.MIN_FONT_KEY] == "9"
        assert im.text[figures.DPI_KEY] == "200"
    assert figures.min_font_size(plt.figure()) is None


def test_image_grid_stretches_faint_images_to_full_contrast():
    faint = torch.linspace(0.1, 0.3, 16).reshape(1, 1, 4, 4)
    ax = figures.image_grid(faint, nrow=1, stretch=True)
    tile = ax.get_images()[0].get_array()[1:5, 1:5]
    assert tile.min() == 0.0 and abs(tile.max() - 1.0) < 1e-6
    plt.close(ax.figure)


def test_class_scatter_colours_each_class_and_names_it_in_a_legend():
    f, ax = plt.subplots()
    z, labels = torch.randn(30, 2), torch.arange(30) % 3
    figures.class_scatter(ax, z, labels, ["a", "b", "c"])
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["a", "b", "c"]
    assert len(set(figures.CLASS_COLORS)) == 10
    assert not set(figures.CLASS_COLORS) & {figures.COLORS["prior"], "#7f7f7f"}
    with pytest.raises(ValueError, match="z must be"):
        figures.class_scatter(ax, torch.randn(5, 3), torch.zeros(5), ["a"])
    plt.close(f)
