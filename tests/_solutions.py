"""Shared by the exercise tests: load a lesson's solutions module, read a check's verdict
(``said``: the printed line; ``verdict``: that line and the returned bool, asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

SOLUTIONS_DIR = Path(__file__).resolve().parents[1] / "solutions"


def load_solutions(lesson: str | Path) -> ModuleType:
    """``solutions/<lesson>.py`` (a stem such as "05_reparameterization_trick", or a path) as a
    module; solutions are plain files, not a package."""
    path = Path(lesson) if isinstance(lesson, Path) else SOLUTIONS_DIR / f"{lesson}.py"
    spec = importlib.util.spec_from_file_location(f"solutions_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def said(capsys) -> str:
    """What the check printed since the last read (its verdict line)."""
    return capsys.readouterr().out


def verdict(capsys, ok: bool, start: str, *words: str) -> None:
    """The check printed a line starting with ``start`` ("Right:" / "Not yet:") that holds every
    word in ``words``, and returned True exactly when it said "Right:"."""
    out = said(capsys)
    assert out.startswith(start), out
    for word in words:
        assert word in out, out
    assert ok is (start == "Right:")
