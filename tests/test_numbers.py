"""Every measured number on the deck, in its speaker notes and in the docs is in a notebook's output.

The deck (``slides/vae.md``) quotes what the lessons measure. Each slide belongs to the lesson
whose section it follows; every measured number on it (slide text, tables and speaker notes,
outside formulas and code) must be printed, to the precision the slide gives, by that lesson's
**committed** notebook. ``docs/lesson08_results.md`` is checked against lesson 08, and the
README's lesson times against ``docs/course_time.json`` (``make course-time``).

A measured number is one with a decimal point or a percent sign, or in scientific notation:
integers (epochs, dimensions, lesson numbers, counts) are left alone, and so are the constants
listed in ``CONSTANTS`` (settings a lesson chooses, not measures). A slide number matches an
output number when the output, rounded to the slide's digits, gives it.

While notebooks are committed with their outputs cleared (the merge window before the full-mode
re-run), this test fails and says so: re-run every lesson in full mode (``make figures``), then
``make numbers`` fills the deck from ``results/*.json``, and this test checks the result.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
DECK = ROOT / "slides" / "vae.md"
NOTEBOOKS = ROOT / "notebooks"

# A number as text: optional sign, digits with an optional decimal part, an optional exponent
# (1e-3, or "7 · 10^{-14}" as the deck writes it in math), an optional percent sign.
NUMBER = re.compile(
    r"(?<![\w.])[-−]?(\d+(?:,\d{3})*(?:\.\d+)?)(?:\s*(?:e|·\s*10\^\{?)\s*([-−]?\d+)\}?)?(\s*%)?(?![\w])"
)
# Settings the lessons choose and the deck restates (not measurements), as the deck writes them.
CONSTANTS = {
    "0.5", "0.6", "0.7", "0.9", "0.1", "0.35", "0.65", "0.01", "0.05", "0.02", "2.5", "1.5",
    "1e-3", "2e-3", "1e-6", "1e-9", "1e-12", "10^{-3}", "10^{-6}", "1.0", "-1.0",
    "-0.5", "0.25", "99%", "95%", "5%", "1%", "10%", "2%", "5 %", "95 %",
}  # fmt: skip


def strip_math_and_code(text: str) -> str:
    """The text without $$...$$ and $...$ formulas, code blocks, inline code and image links."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$]*\$", " ", text)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", text)
    return re.sub(r"\b\d{2}_[a-z_0-9]+|pics/\S+|\bnotebooks/\S+", " ", text)


def measured_numbers(text: str) -> list[str]:
    """The measured numbers of ``text`` as written (decimals, percentages, exponents)."""
    found = []
    for m in NUMBER.finditer(strip_math_and_code(text)):
        digits, exponent, percent = m.group(1), m.group(2), m.group(3)
        if "." not in digits and not percent and not exponent:
            continue  # an integer: a count, a size or a setting
        if m.group(0).strip().replace("−", "-") in CONSTANTS or digits in CONSTANTS:
            continue
        found.append(m.group(0).strip())
    return found


def as_value(written: str) -> tuple[float, float, bool]:
    """(value, half a unit of its last digit, percent?) of a number as written."""
    m = NUMBER.fullmatch(written.strip())
    assert m, written
    digits, exponent, percent = m.group(1).replace(",", ""), m.group(2), bool(m.group(3))
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    scale = 10.0 ** int(exponent.replace("−", "-")) if exponent else 1.0
    value = float(digits) * scale
    return value, 0.5 * 10.0**-decimals * scale * (1 - 1e-9), percent


def output_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        for mime in ("text/plain", "text/markdown", "text/html"):
            parts.append(str(out.get("data", {}).get(mime, "")))
    return "\n".join(parts)


@cache
def notebook_numbers(lesson: str) -> tuple[float, ...]:
    """Every number the committed notebook ``NN_*.ipynb`` printed (absolute values)."""
    (path,) = NOTEBOOKS.glob(f"{lesson}_*.ipynb")
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(output_text(c) for c in nb.cells if c.cell_type == "code")
    if not text.strip():
        pytest.fail(
            f"{path.name} is committed without outputs (the merge window): re-run every lesson in "
            "full mode (make figures), then make numbers, before this test can pass"
        )
    values = []
    for m in re.finditer(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", text.replace(",", "")):
        try:
            values.append(float(m.group(0)))
        except ValueError:
            continue
    return tuple(values)


def holds(lesson: str, written: str) -> bool:
    """Does lesson ``lesson``'s output hold the number ``written``, to its precision?"""
    value, half_unit, percent = as_value(written)
    value = abs(value)
    candidates = notebook_numbers(lesson)
    if any(abs(v - value) <= half_unit for v in candidates):
        return True
    return percent and any(abs(100 * v - value) <= half_unit for v in candidates)


def deck_slides() -> list[tuple[str | None, int, str]]:
    """(lesson, line, text) per slide; lesson None before the first section and at the end."""
    lines = DECK.read_text().splitlines(keepends=True)
    slides, start, lesson = [], 0, None
    for i, line in enumerate([*lines, "---\n"]):
        if line.strip() == "---" and i > 0:
            text = "".join(lines[start:i])
            section = re.search(r"^# Lesson (\d\d) ·", text, flags=re.M)
            if section:
                lesson = section.group(1)
            if re.search(r"^# \*\*(Summary|References)\*\*", text, flags=re.M):
                lesson = None  # the closing slides cover every lesson
            slides.append((lesson, start + 1, text))
            start = i + 1
    return slides[1:]  # the front matter


def deck_cases() -> list[tuple[str, int, str]]:
    cases = []
    for lesson, line, text in deck_slides():
        if lesson is None:
            continue
        cases.extend((lesson, line, written) for written in measured_numbers(text))
    return cases


def test_the_deck_quotes_numbers_and_the_parser_finds_them():
    numbers = deck_cases()
    assert len(numbers) > 50, "the deck's measured numbers are not found: is the parser broken?"
    assert measured_numbers("ends at 243.0 nats, 21.6% of them; k = 100, $0.318$") == [
        "243.0",
        "21.6%",
    ]


def test_every_deck_number_is_in_its_lessons_committed_output():
    missing = [f"slides/vae.md:{line} lesson {lesson}: {written}"
               for lesson, line, written in deck_cases() if not holds(lesson, written)]  # fmt: skip
    assert not missing, (
        "numbers on the deck that the lesson's committed notebook does not print "
        "(make figures, then make numbers; or reword):\n" + "\n".join(missing)
    )


def test_lesson08_results_doc_is_in_the_lessons_committed_output():
    text = (ROOT / "docs" / "lesson08_results.md").read_text()
    text = re.sub(r"^## Runtime.*", "", text, flags=re.S | re.M)  # times: course_time.json
    missing = [written for written in measured_numbers(text) if not holds("08", written)]
    assert not missing, f"docs/lesson08_results.md numbers no lesson 08 output holds: {missing}"


def _fill_numbers():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "fill_numbers", ROOT / "tools" / "fill_numbers.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_fill_template_occurs_once_in_its_file():
    fill = _fill_numbers()
    for name, template in fill.TEMPLATES:
        fill.find((ROOT / name).read_text(), template)  # ValueError names the template


def test_fill_replaces_the_numbers_and_nothing_else():
    fill = _fill_numbers()
    text = "Say: it ends at\n243.0 nats (0.5%), 12 units.\nAnd 7 more."
    results = {"06": {"loss": 240.5678, "share": {"in hole": 0.123}, "units": [3, 14]}}
    template = 'ends at {06.loss:.1f} nats ({06.share."in hole":.1%}), {06.units[1]} units.'
    assert (
        fill.fill(text, template, results)
        == "Say: it ends at\n240.6 nats (12.3%), 14 units.\nAnd 7 more."
    )
    with pytest.raises(ValueError, match="0 occurrences"):
        fill.fill(text, "ends at {06.loss:.1f} parsecs", results)
    with pytest.raises(KeyError, match="make figures"):
        fill.fill(text, "ends at {07.loss:.1f} nats", results)


def test_the_deck_is_in_step_with_the_committed_results():
    fill = _fill_numbers()
    lessons = {re.match(r"\{(\d\d)", p).group(1) for _, t in fill.TEMPLATES
               for p in re.findall(r"\{\d\d[^}]*\}", t)}  # fmt: skip
    have = set(fill.load_results())
    if not lessons <= have:
        pytest.skip(f"results/ lacks lessons {sorted(lessons - have)}: make figures writes them")
    assert fill.main(["--check"]) == 0, "run make numbers: the deck is out of step with results/"


def test_fill_rewrites_the_docs_blocks_from_lesson08_results():
    fill = _fill_numbers()
    r08 = {
        "sweep": {"1": {"R": 17.184, "D": 229.74, "-ELBO": 246.92}},
        "active_units": {"1": 20},
        "fixes": {"plain": {"R": 4.15, "D": 264.11, "-ELBO": 268.27}},
        "fixes_active_units": {"plain": 5},
        "table": "| model |\n|---|",
    }
    text = "a\n<!-- numbers: sweep -->\nold\n<!-- /numbers -->\nb <!-- numbers: priors -->\n<!-- /numbers -->"
    out = fill.fill_blocks(text, {"08": r08})
    assert "| 1 | 17.2 | 229.7 | 246.9 | 20 |" in out and "old" not in out
    assert "<!-- numbers: priors -->\n| model |\n|---|\n<!-- /numbers -->" in out
    names = [m[1] for m in fill.BLOCK.findall((ROOT / "docs" / "lesson08_results.md").read_text())]
    assert names == ["sweep", "fixes", "priors"]


def test_make_numbers_fills_readme_times_from_course_time(tmp_path):
    """README's lesson rows and its total come from docs/course_time.json (tools/fill_numbers)."""
    data = {"machine": {"cpu": "Test CPU", "cores": 2, "device": "cpu"}, "total_seconds": 90.4,
            "notebooks": [{"notebook": "01_a.ipynb", "seconds": 80.2, "rerun_seconds": 9.6},
                          {"notebook": "02_b.ipynb", "seconds": 10.2}]}  # fmt: skip
    path = tmp_path / "course_time.json"
    path.write_text(json.dumps(data))
    text = ("| 01 | [`01_a`](notebooks/01_a.ipynb) | one | 3 s | n/m |\n"
            "| 02 | [`02_b`](notebooks/02_b.ipynb) | two | n/m | n/m |\n"
            "| 03 | [`03_c`](notebooks/03_c.ipynb) | three | n/m | n/m |\n"
            "so **12 s for the whole\ncourse** here")  # fmt: skip
    filled = _fill_numbers().fill_readme_times(text, path)
    assert "| one | 80 s | 10 s |" in filled and "| two | 10 s | n/m |" in filled
    assert "| three | n/m | n/m |" in filled  # not measured: left as it is
    assert "**90 s for the whole\ncourse**" in filled
