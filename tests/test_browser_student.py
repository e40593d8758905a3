"""A student's first hour in a real browser (JupyterLab from ``make lab``, Chromium):

- an untouched lesson opens unmodified (nothing for the Lab to rewrite: no "save changes?");
- a lesson run with widgets (progress bars), saved, and reopened after its kernel is gone (what
  a Lab restart does to widgets) shows a "run this cell" line, never "Error displaying widget".

Screenshots go to the test's temporary folder, and to ``COURSE_SCREENSHOTS`` when set
(README's first-hour pictures: ``COURSE_SCREENSHOTS=docs/screenshots``).
"""

from __future__ import annotations

import json
import time

import pytest

_lab = pytest.importorskip("_lab", reason="needs tests/_lab.py, the JupyterLab fixtures")

UNTOUCHED = "03_kl_divergence_gaussian.ipynb"  # no other test opens or runs it
WIDGETS = "widgets_after_restart_test.ipynb"
BARS = """from tqdm.auto import tqdm
total = sum(i for i in tqdm(range(50), desc="a progress bar"))
print("done", total)"""
DIRTY = ".lm-TabBar-tab.jp-mod-current.jp-mod-dirty"


def test_an_untouched_lesson_opens_unmodified(lab_server, browser, tmp_path):
    page = _lab.lab_page(browser, lab_server, UNTOUCHED, viewport=(1280, 800))
    try:
        # connected and idle: the Lab has compared the kernel's name and language with the file
        assert page.locator(DIRTY).count() == 0, "a freshly opened lesson is marked modified"
        assert page.locator(".lm-TabBar-tab.jp-mod-current").count() == 1
        _lab.screenshot(page, "lesson-opened.png", tmp_path)
    finally:
        page.close()
        lab_server.close_sessions()
    on_disk = json.loads((lab_server.clone / "work" / UNTOUCHED).read_text())
    assert on_disk == json.loads(lab_server.made[UNTOUCHED]), "the Lab rewrote an untouched copy"


def _wait_saved_without_widgets(path, limit_s: float = 120) -> dict:
    deadline = time.monotonic() + limit_s
    while True:
        nb = json.loads(path.read_text()) if path.exists() else {"cells": []}
        outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
        if any(
            "run this cell" in "".join(o.get("data", {}).get("text/plain", "")) for o in outputs
        ):
            return nb
        assert time.monotonic() < deadline, (
            f"{path.name} was not saved with a placeholder in {limit_s} s"
        )
        time.sleep(0.5)


def test_widgets_after_a_restart_say_run_this_cell_not_model_not_found(
    lab_server, browser, tmp_path
):
    cell = {"cell_type": "code", "metadata": {}, "source": BARS, "outputs": [],
            "execution_count": None}  # fmt: skip
    nb = {"cells": [cell], "metadata": {"kernelspec": {"name": "python3", "language": "python",
          "display_name": "Python 3"}}, "nbformat": 4, "nbformat_minor": 5}  # fmt: skip
    lab_server.api("PUT", f"contents/{WIDGETS}", {"type": "notebook", "content": nb})
    page = _lab.lab_page(browser, lab_server, WIDGETS, viewport=(1280, 800))
    try:
        _lab.run_all_cells(page)
        page.locator(".jp-OutputArea-output .widget-hprogress, .jp-OutputArea-output "
                     ".progress").first.wait_for()  # fmt: skip
        page.keyboard.press("Control+s")
        saved = _wait_saved_without_widgets(lab_server.clone / "work" / WIDGETS)
        assert "widgets" not in saved["metadata"]
    finally:
        page.close()
        lab_server.close_sessions()  # the kernel and its widget models are gone, as after a restart
    page = _lab.lab_page(browser, lab_server, WIDGETS, viewport=(1280, 800))
    try:
        outputs = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output")
        outputs.filter(has_text="run this cell").first.wait_for()
        text = " ".join(outputs.all_inner_texts())
        assert "Error displaying widget" not in text and "model not found" not in text, text
        _lab.screenshot(page, "reopened-after-restart.png", tmp_path)
    finally:
        page.close()
        lab_server.close_sessions()


def test_readme_shows_the_screenshots_these_tests_make():
    readme = (_lab.ROOT / "README.md").read_text()
    for name in ("lesson-opened.png", "explorer.png"):
        assert f"](docs/screenshots/{name})" in readme
        assert (_lab.ROOT / "docs" / "screenshots" / name).stat().st_size > 10_000, name
