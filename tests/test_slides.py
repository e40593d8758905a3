"""The lecture deck and pics/ stay in sync with the notebooks.

- every image slides/vae.md shows is a ``../pics/TOPIC/name.png`` that exists and that some
  notebook writes with ``figures.save(fig, "TOPIC/name")`` (a literal name, read from the
  notebooks' JSON);
- every figure a notebook writes is committed under pics/, and is on a slide or listed in
  pics/README.md with the lesson that makes it; pics/ holds nothing else;
- the deck is a Marp deck with the course's theme and MathJax, covering lessons 01..09 in order.

These tests read the committed files (the repository's pics/, not VAELIB_PICS) and run no
notebook, so they take well under a second.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from vaelib import figures

REPO = Path(__file__).resolve().parents[1]
DECK = REPO / "slides" / "vae.md"
THEME = REPO / "slides" / "beam.css"
PICS = REPO / "pics"
PICS_README = PICS / "README.md"
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LESSONS = {
    "01": "autoencoder limitations",
    "02": "KL divergence, discrete",
    "03": "KL divergence, Gaussian",
    "04": "evidence lower bound",
    "05": "reparameterization trick",
    "06": "VAE training",
    "07": "BIC curves",
    "08": "beta, posterior collapse and learned priors",
    "09": "build it yourself",
    "10": "control and discrete codes",
    "11": "deeper VAEs",
}

_SAVE_CALL = re.compile(r"\bfigures\.save\(")
_SAVE_LITERAL = re.compile(
    r"""\bfigures\.save\(\s*[^,()]+(?:\(\))?\s*,\s*(["'])([^"'\\]+)\1\s*[,)]"""
)
# ![alt](path), ![alt](<path>), ![alt](path "title"), and <img src="path"> (the deck allows HTML).
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)")
_HTML_IMAGE = re.compile(r"""<img\b[^>]*\bsrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_README_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*`?([^|`]+?)`?\s*\|\s*(yes|no)\s*\|", re.MULTILINE)


def _code_cells(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    sources = [c["source"] for c in cells if c["cell_type"] == "code"]
    return [s if isinstance(s, str) else "".join(s) for s in sources]


def notebook_figures() -> dict[str, str]:
    """``{"TOPIC/name": notebook stem}`` for every ``figures.save`` call in the notebooks."""
    made: dict[str, str] = {}
    for nb in NOTEBOOKS:
        for source in _code_cells(nb):
            for match in _SAVE_LITERAL.finditer(source):
                made.setdefault(match.group(2), nb.stem)
    return made


def deck_images() -> list[str]:
    """Every image path the deck references, in order (HTML comments skipped)."""
    text = re.sub(r"<!--.*?-->", "", DECK.read_text(encoding="utf-8"), flags=re.DOTALL)
    return _MD_IMAGE.findall(text) + _HTML_IMAGE.findall(text)


def deck_figures() -> set[str]:
    """The ``TOPIC/name`` of every ``../pics/TOPIC/name.png`` the deck shows."""
    names = set()
    for path in deck_images():
        m = re.fullmatch(r"\.\./pics/([^/]+/[^/]+)\.png", path)
        if m:
            names.add(m.group(1))
    return names


def readme_rows() -> dict[str, tuple[str, str]]:
    """``{"TOPIC/name": (notebook stem, "yes"|"no")}`` from pics/README.md's table."""
    text = PICS_README.read_text(encoding="utf-8")
    return {m.group(1): (m.group(2).strip(), m.group(3)) for m in _README_ROW.finditer(text)}


def test_every_figures_save_call_has_a_literal_well_formed_name():
    bad = []
    for nb in NOTEBOOKS:
        for source in _code_cells(nb):
            calls = len(_SAVE_CALL.findall(source))
            literal = [m.group(2) for m in _SAVE_LITERAL.finditer(source)]
            if calls != len(literal):
                bad.append(f"{nb.name}: a figures.save call without a literal name in:\n{source}")
            bad += [
                f"{nb.name}: figures.save name {name!r} is not 'TOPIC/file_name'"
                for name in literal
                if not figures._NAME.match(name)
            ]
    assert not bad, "\n".join(bad) + (
        '\nWrite figures.save(fig, "TOPIC/name") with a literal string: this test and the '
        "deck find figures by reading those names."
    )


def test_deck_images_are_committed_figures_that_a_notebook_makes():
    made = notebook_figures()
    images = deck_images()
    assert images, "slides/vae.md shows no image; it should show at least one figure per lesson."
    for path in images:
        m = re.fullmatch(r"\.\./pics/([^/]+/[^/]+)\.png", path)
        assert m, f"slides/vae.md shows {path!r}: the deck shows only ../pics/TOPIC/name.png."
        name = m.group(1)
        assert (DECK.parent / path).resolve().is_file(), (
            f"slides/vae.md shows {path}, which is not in pics/: run the notebook that makes "
            "it in full mode (make figures) or fix the path."
        )
        assert name in made, (
            f"slides/vae.md shows {path}, but no notebook calls figures.save(fig, {name!r}): "
            "the deck may show only figures the notebooks make."
        )


def test_deck_shows_the_bic_curves():
    assert "../pics/AE/bic_curves.png" in deck_images()


def test_deck_shows_a_figure_from_every_lesson():
    made = notebook_figures()
    shown = {made[name][:2] for name in deck_figures() if name in made}
    missing = [nb.name for nb in NOTEBOOKS if nb.stem[:2] not in shown]
    assert not missing, f"slides/vae.md shows no figure made by {missing}."


def test_every_notebook_figure_is_committed_under_pics():
    missing = [
        f"pics/{name}.png (from {nb})"
        for name, nb in notebook_figures().items()
        if not (PICS / f"{name}.png").is_file()
    ]
    assert not missing, (
        f"not in pics/: {missing}. Run those notebooks in full mode (make figures) and commit "
        "pics/ with them."
    )


def test_pics_holds_only_figures_that_notebooks_make():
    made = notebook_figures()
    stray = [
        str(p.relative_to(REPO))
        for p in sorted(PICS.rglob("*.png"))
        if str(p.relative_to(PICS).with_suffix("")) not in made
    ]
    assert not stray, (
        f"{stray} in pics/ are written by no notebook (figures.save with a literal name): "
        "delete them, or add the figures.save call to the lesson that makes them."
    )


def test_every_notebook_figure_is_on_a_slide_or_in_the_pics_readme():
    shown, rows = deck_figures(), readme_rows()
    missing = [
        f"| `{name}` | `{nb}` | no |"
        for name, nb in sorted(notebook_figures().items())
        if name not in shown and rows.get(name, ("", ""))[0] != nb
    ]
    assert not missing, (
        "figures neither on a slide (slides/vae.md) nor listed in pics/README.md with the "
        "lesson that makes them; add these rows to pics/README.md's table:\n" + "\n".join(missing)
    )


def test_pics_readme_rows_match_the_notebooks_and_the_deck():
    made, shown = notebook_figures(), deck_figures()
    rows = readme_rows()
    assert rows, "pics/README.md has no table rows | `TOPIC/name` | `NN_lesson` | yes/no |."
    wrong = []
    for name, (nb, on_slides) in rows.items():
        if made.get(name) != nb:
            wrong.append(f"`{name}`: made by {made.get(name)}, README says {nb}")
        elif (on_slides == "yes") != (name in shown):
            wrong.append(f"`{name}`: on the slides {name in shown}, README says {on_slides!r}")
    assert not wrong, "pics/README.md is out of date:\n" + "\n".join(wrong)


def test_deck_is_a_marp_deck_with_the_beam_theme_and_mathjax():
    text = DECK.read_text(encoding="utf-8")
    front = re.match(r"---\n(.*?)\n---\n", text, flags=re.DOTALL)
    assert front, "slides/vae.md must open with Marp front matter between --- lines."
    for line in ("marp: true", "theme: beam", "math: mathjax"):
        assert re.search(rf"^{line}$", front.group(1), flags=re.MULTILINE), f"front matter: {line}"
    assert re.search(r"/\*\s*@theme\s+beam\s*\*/", THEME.read_text(encoding="utf-8"))


def test_deck_covers_every_lesson_in_order():
    text = DECK.read_text(encoding="utf-8")
    headings = re.findall(r"^# Lesson (\d\d) · (.+)$", text, flags=re.MULTILINE)
    assert [n for n, _ in headings] == list(LESSONS), headings
    for (number, title), nb in zip(headings, LESSONS.values(), strict=True):
        assert nb.lower() in title.lower(), f"lesson {number}: {title!r} should name {nb!r}"
    for nb in NOTEBOOKS:
        assert f"notebooks/{nb.name}" in text, f"slides/vae.md should name notebooks/{nb.name}"


# ------------------------------------------------------------ readable from the back row
SLIDE_W, SLIDE_H = 1280, 720  # Marp's slide size, in CSS pixels
MIN_TEXT_PX = 18  # the smallest text a figure may show on a 1280x720 slide
_SIZED_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*<?(\.\./pics/[^)\s>]+\.png)")


def deck_image_sizes() -> list[tuple[str, str, int | None, int | None]]:
    """``(path, alt, w, h)`` for every ``![w:NNN h:NNN](../pics/...)`` of the deck (comments
    skipped): the size at which Marp draws the image, in slide pixels (None: not given)."""
    text = re.sub(r"<!--.*?-->", "", DECK.read_text(encoding="utf-8"), flags=re.DOTALL)
    found = []
    for alt, path in _SIZED_IMAGE.findall(text):
        w = re.search(r"\bw(?:idth)?:(\d+)(?:px)?\b", alt)
        h = re.search(r"\bh(?:eight)?:(\d+)(?:px)?\b", alt)
        found.append((path, alt, int(w.group(1)) if w else None, int(h.group(1)) if h else None))
    return found


def drawn_text_px(png: Path, w: int | None, h: int | None) -> tuple[float, float, float, str]:
    """How the deck draws ``png``: ``(scale, smallest text in slide px, drawn width, problem)``.

    A PNG saved by ``figures.save`` records the smallest font (pt) and its dpi; that text is
    ``pt * dpi / 72`` pixels tall in the PNG, times the deck's scale (``h / png height`` or
    ``w / png width``; the smaller when both are given). ``problem`` is "" when readable."""
    from PIL import Image

    with Image.open(png) as im:
        width, height = im.size
        info = dict(getattr(im, "text", {}))
    if w is None and h is None:
        return 1.0, math.nan, width, "no w:/h: size in the deck: give the size it is drawn at"
    scales = [s for s in (w and w / width, h and h / height) if s]
    scale = min(scales)
    if figures.MIN_FONT_KEY not in info or figures.DPI_KEY not in info:
        return scale, math.nan, width * scale, "no font metadata: re-run its notebook (full mode)"
    px = float(info[figures.MIN_FONT_KEY]) * float(info[figures.DPI_KEY]) / 72 * scale
    problems = []
    if px < MIN_TEXT_PX:
        problems.append(f"smallest text {px:.1f} px < {MIN_TEXT_PX} px")
    if scale > 1 + 1e-9:
        problems.append(f"upscaled x{scale:.2f} ({width}x{height} px drawn larger)")
    if width * scale > SLIDE_W or height * scale > SLIDE_H:
        problems.append(f"drawn {width * scale:.0f}x{height * scale:.0f} px, over the slide")
    return scale, px, width * scale, "; ".join(problems)


def unreadable_deck_figures() -> list[str]:
    bad = []
    for path, alt, w, h in deck_image_sizes():
        png = (DECK.parent / path).resolve()
        if png.is_file():
            _, px, _, problem = drawn_text_px(png, w, h)
            if problem:
                bad.append(f"{path} ![{alt}]: {problem}")
    return bad


def test_every_deck_figure_has_a_drawn_size():
    sized = {p for p, _, w, h in deck_image_sizes() if w or h}
    assert sized == set(deck_images()), (
        f"give these images a w:NNN or h:NNN size: {sorted(set(deck_images()) - sized)}"
    )


def test_deck_figures_are_readable_at_the_size_the_deck_draws_them():
    bad = unreadable_deck_figures()
    assert not bad, (
        f"on a {SLIDE_W}x{SLIDE_H} slide these figures show text smaller than {MIN_TEXT_PX} px, "
        "are upscaled, or overflow. Make the figure smaller in inches (figsize) or draw it "
        "larger in the deck, keep figures.SLIDE_RC's fonts, and re-run the notebook in full "
        "mode:\n" + "\n".join(bad)
    )


def test_drawn_text_px_reads_the_metadata(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setenv("VAELIB_PICS", str(tmp_path))
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_title("t", fontsize=12)
    ax.tick_params(labelsize=12)
    png = figures.save(fig, "AE/probe", dpi=150)
    plt.close(fig)
    from PIL import Image

    with Image.open(png) as im:
        width, height = im.size
    scale, px, _, problem = drawn_text_px(png, None, height // 2)
    assert math.isclose(px, 12 * 150 / 72 * (height // 2) / height) and "< 18 px" in problem
    scale, px, _, problem = drawn_text_px(png, width, None)
    assert scale == 1 and px == 25 and problem == ""
    assert "upscaled" in drawn_text_px(png, 2 * width, None)[3]


_MARP_DIRECTIVES = (
    "marp", "theme", "style", "headingDivider", "lang", "math", "size", "title", "description",
    "author", "image", "keywords", "url", "paginate", "header", "footer", "class",
    "backgroundColor", "backgroundImage", "backgroundPosition", "backgroundRepeat",
    "backgroundSize", "color", "transition",
)  # fmt: skip


def test_every_slide_has_a_speaker_note():
    text = DECK.read_text(encoding="utf-8")
    body = re.sub(r"^---\n.*?\n---\n", "", text, count=1, flags=re.DOTALL)
    slides = re.split(r"^---\s*$", body, flags=re.MULTILINE)
    # Marp takes a comment as a directive only when its keys are Marp's directives
    # (<!-- _class: title -->); any other comment, "Say: ..." included, is a presenter note.
    keys = "|".join(_MARP_DIRECTIVES)
    directive = re.compile(rf"(\s*_?(?:{keys})\s*:[^\n]*\n?)+\s*")
    missing = []
    for n, slide in enumerate(slides, start=1):
        notes = [
            c for c in re.findall(r"<!--(.*?)-->", slide, flags=re.DOTALL)
            if not directive.fullmatch(c) and len(c.split()) >= 8
        ]  # fmt: skip
        if not notes:
            title = re.search(r"^#+ (.+)$", slide, flags=re.MULTILINE)
            missing.append(f"slide {n}: {title.group(1) if title else slide.strip()[:40]!r}")
    assert not missing, (
        "every slide needs a speaker note, a Marp comment <!-- ... --> of at least a sentence "
        "(what to say, the numbers the notebook measured, a question for the room):\n"
        + "\n".join(missing)
    )
