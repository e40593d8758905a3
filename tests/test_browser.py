"""A real browser (Debian's chromium through Playwright) shows what a student and a room see.

- A lesson opened in the JupyterLab that ``make lab`` serves, run with Run > Run All Cells,
  shows one image per ``figures.save`` and no error.
- The deck that ``make slides`` renders loads every image and has its math typeset.
Each test leaves a screenshot in its temporary folder (the path is printed with -s).
"""

from __future__ import annotations

import shutil
import subprocess

import nbformat
import pytest
from _lab import LESSON, PAGE_S, ROOT, figure_saves, in_ci, lab_page, run_all_cells

ERROR_OUTPUTS = (
    ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output"
    '[data-mime-type="application/vnd.jupyter.stderr"]'
)
IMAGES = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output img"


def test_lesson_in_the_lab_shows_every_figure_in_a_browser(browser, lab_server, tmp_path):
    saves = figure_saves(nbformat.read(lab_server.clone / "work" / LESSON, as_version=4))
    page = lab_page(browser, lab_server, LESSON)
    try:
        run_all_cells(page)
        page.wait_for_function(
            f"""() => {{
                const imgs = [...document.querySelectorAll({IMAGES!r})];
                return imgs.length >= {saves} && imgs.every(i => i.complete && i.naturalWidth > 0);
            }}""",
            timeout=PAGE_S * 1000,
        )
        stderr = page.locator(ERROR_OUTPUTS).all_inner_texts()
        tracebacks = [t for t in stderr if "Traceback" in t or "Error" in t.split("\n")[0]]
        page.locator(IMAGES).first.evaluate("i => i.scrollIntoView({block: 'center'})")
        shot = tmp_path / "lab-lesson.png"
        page.screenshot(path=str(shot))
        print(f"screenshot: {shot}")
        assert tracebacks == [], tracebacks
        assert page.locator(IMAGES).count() >= saves > 0
    finally:
        page.close()
        lab_server.close_sessions()


@pytest.fixture(scope="session")
def rendered_deck(tmp_path_factory):
    """``make slides`` as a lecturer runs it: the rendered, git-ignored slides/vae.html."""
    if shutil.which("npm") is None:
        if in_ci():
            pytest.fail("CI=true but npm is missing: .ci/run installs nodejs and npm")
        pytest.skip("make slides needs Node.js and npm (apt-get install nodejs npm)")
    proc = subprocess.run(
        ["make", "slides"], cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return ROOT / "slides" / "vae.html"


def test_deck_loads_every_image_and_typesets_its_math(browser, rendered_deck, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    try:
        page.goto(rendered_deck.as_uri(), wait_until="load")
        sections = page.locator("section[id]")
        assert sections.count() > 10
        broken = page.evaluate(
            """() => [...document.querySelectorAll('img')]
                .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"""
        )
        assert broken == [], broken
        assert page.locator("img").count() > 10
        raw = page.evaluate(
            """() => [...document.querySelectorAll('section[id]')]
                .filter(s => s.textContent.includes('$$')).map(s => s.id)"""
        )
        assert raw == [], f"slides with raw $$ (MathJax did not typeset them): {raw}"
        assert page.locator("mjx-container").count() > 0
        shown = page.evaluate(
            """() => [...document.querySelectorAll('section[id]')]
                .find(s => s.querySelector('img') && s.querySelector('mjx-container')).id"""
        )
        page.goto(f"{rendered_deck.as_uri()}#{shown}", wait_until="load")
        shot = tmp_path / "deck.png"
        page.screenshot(path=str(shot))
        print(f"screenshot: {shot}")
    finally:
        page.close()
