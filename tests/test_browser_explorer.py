"""The latent explorer in a real browser: JupyterLab (``make lab``) in Chromium, driven by
Playwright. A student moves a slider; the decoded image must change.

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
explorer = LatentExplorer(model, train_images, codes=torch.randn(200, 2))
explorer.widget"""


def _notebook() -> dict:
    cell = {"cell_type": "code", "metadata": {}, "source": SOURCE, "outputs": [],
            "execution_count": None}  # fmt: skip
    return {"cells": [cell], "metadata": {"kernelspec": {"name": "python3", "language": "python",
            "display_name": "Python 3"}}, "nbformat": 4, "nbformat_minor": 5}  # fmt: skip


def test_moving_a_slider_changes_the_decoded_image(lab_server, browser):
    lab_server.api("PUT", f"contents/{NOTEBOOK}", {"type": "notebook", "content": _notebook()})
    page = _lab.lab_page(browser, lab_server, NOTEBOOK)
    try:
        _lab.run_all_cells(page)
        output = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output")
        images = output.locator(".widget-image")
        images.nth(2).wait_for(timeout=60_000)  # the map, the decode, the nearest image
        decoded = images.nth(1)
        before = decoded.get_attribute("src")
        handle = output.locator(".widget-slider .noUi-handle").first  # the slider of z1
        handle.focus()
        for _ in range(10):  # ten steps of 0.05: z1 goes from 0 to 0.5
            handle.press("ArrowRight")
        page.wait_for_function(
            "([el, before]) => el.getAttribute('src') !== before",
            arg=[decoded.element_handle(), before],
            timeout=30_000,
        )
        assert float(output.locator(".widget-readout").first.inner_text()) > 0  # z1 moved right
        assert decoded.get_attribute("src") != before
    finally:
        page.close()
