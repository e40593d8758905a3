"""The course website (``make site``) as a reader sees it, in Debian's chromium (Playwright).

The site is built once per run (``make site`` into a temporary folder, from the committed
notebooks: ``SITE_NOTEBOOKS=/path`` builds from other copies) and served on the loopback:

- every lesson page loads with no console error, shows its figures (every ``<img>`` decoded,
  at least one figure in the outputs), has its math typeset (no raw ``$$``), launch badges and
  previous/next links;
- every internal link (and #anchor) of every page resolves;
- the deck opens from the home page;
- the search box finds a lesson by a word of its title.

A lesson committed without outputs fails here, naming the lesson (``make figures``).
Without chromium or npm this file is skipped, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import os
import shutil
import subprocess
import threading
import urllib.parse
from pathlib import Path

import pytest
from _lab import ROOT, in_ci, student_env

LESSONS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TIMEOUT_MS = 60_000  # generous: two shared cores


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """``make site`` as a maintainer runs it, into a temporary folder; served on the loopback."""
    if shutil.which("npm") is None:
        if in_ci():
            pytest.fail("CI=true but npm is missing: .ci/run installs nodejs and npm")
        pytest.skip(
            "make site needs Node.js and npm for the deck and MathJax (apt-get install npm)"
        )
    out = tmp_path_factory.mktemp("site") / "site"
    args = ["make", "site", f"SITE_OUT={out}"]
    if os.environ.get("SITE_NOTEBOOKS"):
        args.append(f"SITE_NOTEBOOKS={os.environ['SITE_NOTEBOOKS']}")
    proc = subprocess.run(
        args, cwd=ROOT, env=student_env(), capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    handler = functools.partial(QuietHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield out, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


def open_page(browser, url: str):
    """A page that records console errors and uncaught exceptions, then loads ``url``."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))

    def loopback_only(route):  # the site must need nothing from the network
        if urllib.parse.urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            errors.append(f"fetched from the network: {route.request.url}")
            route.abort()

    page.route("**/*", loopback_only)
    page.goto(url, wait_until="load")
    return page, errors


def wait_math(page) -> None:
    """Wait until MathJax has typeset the page (its startup promise resolved)."""
    page.wait_for_function(
        "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=TIMEOUT_MS
    )
    page.evaluate("() => MathJax.startup.promise")


def wait_images(page) -> list[str]:
    """Wait until every <img> has finished loading; return those that failed to decode."""
    page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=TIMEOUT_MS)
    return page.evaluate(
        "() => [...document.images].filter(i => !(i.naturalWidth > 0)).map(i => i.src)"
    )


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_page_shows_figures_math_and_navigation(browser, site, lesson, tmp_path):
    out, url = site
    page, errors = open_page(browser, f"{url}/notebooks/{lesson}.html")
    try:
        wait_math(page)
        broken = wait_images(page)
        figures = page.locator("article .cell_output img").count()
        raw = page.evaluate(
            """() => [...document.querySelectorAll('article p, article li, article div.math')]
                .filter(e => !e.closest('pre, code, .cell_output') && e.textContent.includes('$$'))
                .map(e => e.textContent.slice(0, 80))"""
        )
        typeset = page.locator("article mjx-container").count()
        nav = page.locator(".prev-next-area a").evaluate_all("as => as.map(a => a.href)")
        launch = page.locator('a[href*="colab.research.google.com"], a[href*="mybinder.org"]')
        page.screenshot(path=str(tmp_path / f"{lesson}.png"))
        assert errors == [], f"{lesson}: console errors {errors}"
        assert figures > 0, (
            f"{lesson}: the page shows no figure: notebooks/{lesson}.ipynb is committed without "
            "outputs (make figures executes every lesson in full mode, in place)"
        )
        assert broken == [], f"{lesson}: images that did not load: {broken}"
        assert raw == [], f"{lesson}: raw $$ left (MathJax did not typeset): {raw}"
        assert typeset > 0, f"{lesson}: no typeset math"
        assert nav, f"{lesson}: no previous/next links"
        assert launch.count() >= 2, f"{lesson}: no Binder/Colab launch links"
        deck = page.locator("a.vae-course-deck").first.get_attribute("href")
        assert (out / "notebooks" / deck).resolve() == (out / "slides" / "vae.html").resolve()
    finally:
        page.close()


class Links(html.parser.HTMLParser):
    """The href/src values and the ids of one HTML page."""

    def __init__(self):
        super().__init__()
        self.targets: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for key in ("href", "src"):
            if attrs.get(key) and tag in {"a", "img", "link", "script"}:
                self.targets.append(attrs[key])


def parse(path: Path) -> Links:
    parser = Links()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def test_every_internal_link_resolves(site):
    out, _ = site
    pages = {p: parse(p) for p in out.rglob("*.html") if "_static" not in p.parts}
    assert len(pages) >= 2 * len(LESSONS) + 1  # home, lessons, solutions (and search, index)
    missing = []
    for page, links in pages.items():
        if page.name == "vae.html":  # the deck's own links are its slides (#1, #2, ...)
            continue
        for target in links.targets:
            parts = urllib.parse.urlsplit(target)
            if parts.scheme or parts.netloc or target.startswith(("mailto:", "javascript:")):
                continue
            dest = (
                (page.parent / urllib.parse.unquote(parts.path)).resolve() if parts.path else page
            )
            if dest.is_dir():
                dest = dest / "index.html"
            if not dest.is_file():
                missing.append(f"{page.relative_to(out)} -> {target}")
            elif parts.fragment and dest.suffix == ".html" and dest.name != "vae.html":
                ids = pages[dest].ids if dest in pages else parse(dest).ids
                if urllib.parse.unquote(parts.fragment) not in ids:
                    missing.append(f"{page.relative_to(out)} -> {target} (no such anchor)")
    assert missing == [], "\n".join(missing[:40])


def test_deck_opens_from_the_home_page(browser, site):
    _, url = site
    page, errors = open_page(browser, f"{url}/index.html")
    try:
        page.locator("article a.vae-course-deck").first.click()
        page.wait_for_url("**/slides/vae.html", timeout=TIMEOUT_MS)
        page.wait_for_load_state("load")
        assert page.locator("section[id]").count() > 10
        assert wait_images(page) == []
        assert errors == [], errors
    finally:
        page.close()


def test_home_page_lists_every_lesson_and_its_solutions(browser, site):
    _, url = site
    page, errors = open_page(browser, f"{url}/index.html")
    try:
        assert wait_images(page) == []
        hrefs = page.locator("article a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
        for lesson in LESSONS:
            assert f"notebooks/{lesson}.html" in hrefs, f"the home page's table lacks {lesson}"
            assert f"solutions/{lesson}.html" in hrefs, f"the home page lacks {lesson}'s solutions"
        assert errors == [], errors
    finally:
        page.close()


def test_search_finds_a_lesson_by_a_word_of_its_title(browser, site):
    _, url = site
    page, errors = open_page(browser, f"{url}/index.html")
    try:
        page.locator(".bd-sidebar-primary .search-button-field").first.click()
        box = page.locator("input[name='q']:visible").first  # the search dialog's box
        box.fill("reparameterization")
        box.press("Enter")
        page.wait_for_url("**/search.html?q=reparameterization*", timeout=TIMEOUT_MS)
        hit = page.locator('#search-results a[href*="05_reparameterization_trick"]').first
        hit.wait_for(timeout=TIMEOUT_MS)
        assert errors == [], errors
    finally:
        page.close()
