"""Solutions live apart from the lessons (solutions/NN_topic.py), and they are right.

- Every ``solutions/*.py`` is a lesson's solutions module (same stem as a notebook) ending with
  ``CHECKS = [("vaelib.exercises.<topic>", "check_<name>", <solution>), ...]``; for every entry
  the check returns True and prints ``Right:`` (so a check that rejects a right answer, or a
  solution that calls the library function its check refuses, fails here).
- No committed notebook holds a solution: no cell tagged "solution", no hidden (collapsed)
  cell that calls a check, no ``Right:`` in any output; each exercise cell a solutions module
  answers shows its unanswered state, and the lesson links to its solutions file.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from _solutions import load_solutions

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((REPO / "solutions").glob("[0-9][0-9]_*.py"))
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
_CHECK_CALL = re.compile(r"\bex\.(check_\w+)\(")


def checks_of(path: Path) -> list[tuple[str, str, object]]:
    checks = getattr(load_solutions(path), "CHECKS", None)
    assert isinstance(checks, list) and checks, (
        f"{path.relative_to(REPO)} must end with CHECKS = [(module, check name, solution), ...], "
        "one entry per self-checked exercise."
    )
    for entry in checks:
        assert isinstance(entry, tuple) and len(entry) == 3, (
            f'{path.name}: each CHECKS entry is ("vaelib.exercises.<topic>", "check_<name>", '
            f"solution), got {entry!r:.100}"
        )
    return checks


def cells(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text(encoding="utf-8"))["cells"]


def text(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def outputs_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append(text(out["text"]))
        parts += [text(v) for k, v in out.get("data", {}).items() if k.startswith("text/")]
    return "\n".join(parts)


def test_there_are_solutions_modules():
    assert SOLUTIONS, "solutions/ holds no NN_topic.py module."


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_a_solutions_module_belongs_to_a_lesson(path):
    stems = {nb.stem for nb in NOTEBOOKS}
    assert path.stem in stems, f"{path.name}: no notebooks/{path.stem}.ipynb (same stem)."
    checks_of(path)


def _entries() -> list[tuple[Path, int]]:
    found = []
    for path in SOLUTIONS:
        try:
            n = len(getattr(load_solutions(path), "CHECKS", []))
        except Exception:  # noqa: BLE001 - reported by the test below, not at collection
            n = 1
        found += [(path, i) for i in range(max(n, 1))]
    return found


@pytest.mark.parametrize(
    ("path", "index"), _entries(), ids=[f"{p.stem[:2]}-{i}" for p, i in _entries()]
)
def test_every_solution_passes_its_check_and_hears_right(path, index):
    module_name, check_name, solution = checks_of(path)[index]
    check = getattr(importlib.import_module(module_name), check_name)
    said = io.StringIO()
    with redirect_stdout(said):
        ok = check(solution)
    assert ok is True, f"{path.name}: {check_name} rejects the solution: {said.getvalue()}"
    assert said.getvalue().startswith("Right:"), f"{check_name} said {said.getvalue()!r}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_no_committed_notebook_holds_a_solution(notebook):
    for i, cell in enumerate(cells(notebook)):
        meta = cell.get("metadata", {})
        where = f"{notebook.name}, cell {i}"
        assert "solution" not in [str(t).lower() for t in meta.get("tags", [])], (
            f"{where} is tagged 'solution': move it to solutions/{notebook.stem}.py."
        )
        hidden = meta.get("jupyter", {}).get("source_hidden", False)
        assert not (hidden and _CHECK_CALL.search(text(cell["source"]))), (
            f"{where} is a collapsed cell that calls a check (a hidden solution): move it to "
            f"solutions/{notebook.stem}.py."
        )
        for voice in ("Right:", "Right!", "right!"):
            assert voice not in outputs_text(cell), (
                f"{where} prints {voice!r}: a passing check in the published notebook shows the "
                "answer. Exercise cells keep their unanswered state (answer = None)."
            )


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_the_lesson_links_its_solutions_and_shows_its_exercises_unanswered(path):
    notebook = REPO / "notebooks" / f"{path.stem}.ipynb"
    nb_cells = cells(notebook)
    link = f"(../solutions/{path.name})"
    markdown = "\n".join(text(c["source"]) for c in nb_cells if c["cell_type"] == "markdown")
    assert link in markdown, f"{notebook.name} should link its solutions: [..]{link}"
    calls = {}
    for cell in nb_cells:
        if cell["cell_type"] == "code":
            for name in _CHECK_CALL.findall(text(cell["source"])):
                calls[name] = cell
    for _, check_name, _ in checks_of(path):
        assert check_name in calls, f"{notebook.name} has no exercise cell calling {check_name}."
        shown = outputs_text(calls[check_name])
        assert "No answer yet" in shown or "Not yet" in shown, (
            f"{notebook.name}: the cell calling {check_name} should show its unanswered state "
            f"(executed with answer = None or a stub), shows {shown!r:.120}"
        )
        assert not any(
            o.get("output_type") == "execute_result" for o in calls[check_name].get("outputs", [])
        ), f"{notebook.name}: end the cell calling {check_name} with ';' (no stray False)."
