"""The latent explorer in a real browser: JupyterLab (``make lab``) in Chromium at 1280x800,
driven by Playwright, as a student uses it (issue #27):

- the map shows at its own pixel size (not stretched), the whole widget fits the notebook's
  width, and the static stand-in is not shown under the live widget;
- with a slider in view, the decoded and the nearest image are in view too (no scrolling);
- moving the slider changes the decoded image.

Uses the Lab and browser fixtures of ``tests/_lab.py`` (``lab_server``, ``browser``); where
they are missing (a branch without them) the module is skipped.
"""

from __future__ import annotations

import pytest

_lab = pytest.importorskip("_lab", reason="needs tests/_lab.py, the JupyterLab fixtures")

NOTEBOOK = "explorer_browser_test.ipynb"
SOURCE = """\
import torch
from vaelib.explorer import LatentExplorer
from vaelib.models import VAE

torch.manual_seed(0)
model = VAE(latent_dim=2).eval()
with torch.no_grad():
    model.decoder[0].weight.mul_(20)  # untrained, made sensitive to z: every step shows
train_images = torch.randint(0, 256, (100, 1, 28, 28), dtype=torch.uint8)
labels = torch.randint(0, 10, (200,))
explorer = LatentExplorer(model, train_images, codes=torch.randn(200, 2), labels=labels)
explorer.show()"""

IN_VIEW = """el => { const r = el.getBoundingClientRect();
    return r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight
           && r.right <= innerWidth; }"""


def _notebook() -> dict:
    cell = {"cell_type": "code", "metadata": {}, "source": SOURCE, "outputs": [],
            "execution_count": None}  # fmt: skip
    return {"cells": [cell], "metadata": {"kernelspec": {"name": "python3", "language": "python",
            "display_name": "Python 3"}}, "nbformat": 4, "nbformat_minor": 5}  # fmt: skip


def test_the_explorer_fits_the_screen_and_follows_the_slider(lab_server, browser, tmp_path):
    lab_server.api("PUT", f"contents/{NOTEBOOK}", {"type": "notebook", "content": _notebook()})
    page = _lab.lab_page(browser, lab_server, NOTEBOOK, viewport=(1280, 800))
    try:
        _lab.run_all_cells(page)
        output = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output")
        images = output.locator(".widget-image")
        images.nth(2).wait_for()  # the map, the decode, the nearest image
        map_image, decoded, nearest = images.nth(0), images.nth(1), images.nth(2)
        page.wait_for_function("el => el.complete && el.naturalWidth > 0",
                               arg=map_image.element_handle())  # fmt: skip
        shown, natural = map_image.evaluate(
            "el => [el.getBoundingClientRect().width, el.naturalWidth]"
        )
        assert abs(shown - natural) <= 1, f"map drawn {shown} px wide from {natural} px"
        assert output.locator(".jp-RenderedImage").count() == 0  # no stand-in under the widget
        box = output.first  # the one output, the explorer: it fits the notebook's width
        assert box.evaluate("el => el.scrollWidth <= el.clientWidth + 1"), "the explorer is clipped"
        handle = output.locator(".widget-slider .noUi-handle").first  # the slider of z1
        handle.scroll_into_view_if_needed()
        for image, what in ((decoded, "decoded"), (nearest, "nearest")):
            assert image.evaluate(IN_VIEW), f"the {what} image is out of view beside the slider"
        before = decoded.get_attribute("src")
        handle.focus()
        for _ in range(10):  # ten steps of 0.05: z1 goes from 0 to 0.5
            handle.press("ArrowRight")
        page.wait_for_function(
            "([el, before]) => el.getAttribute('src') !== before",
            arg=[decoded.element_handle(), before],
        )
        assert float(output.locator(".widget-readout").first.inner_text()) > 0  # z1 moved right
        assert decoded.evaluate(IN_VIEW)
        # the kernel catches up with every step: the caption reaches the slider's last value
        output.locator(".widget-html", has_text="z = (0.50, 0.00)").wait_for()
        _lab.wait_kernel_idle(page)
        _lab.screenshot(page, "explorer.png", tmp_path)
    finally:
        page.close()
        lab_server.close_sessions()
