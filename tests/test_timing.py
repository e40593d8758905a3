"""vaelib.timing: the lessons and README give the same measured times, from docs/course_time.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vaelib import timing

ROOT = Path(__file__).resolve().parents[1]


def test_readme_table_gives_the_measured_times():
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(
        r"^\| (\d\d) \| \[`\d\d_[^|]*\|[^\n]*?\| (\d+) s \| (\d+ s|n/m) \|$", readme, re.M
    )
    measured = timing.readme_seconds()
    assert {n for n, _, _ in rows} == set(measured), rows
    for number, first, rerun in rows:
        want_first, want_rerun = measured[number]
        assert int(first) == want_first, number
        assert rerun == ("n/m" if want_rerun is None else f"{want_rerun} s"), number
    total = round(timing.read()["total_seconds"])
    assert f"**{total} s for the whole\ncourse**" in readme or f"{total} s for the whole" in readme


def test_every_lesson_prints_its_measured_time_in_its_setup_cell():
    import nbformat

    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        setup = nbformat.read(path, as_version=4).cells[1].source
        assert f'lesson_time("{path.name[:2]}", fast=lesson.fast)' in setup, path.name


def test_lesson_time_says_both_runs_and_the_machine(tmp_path):
    data = {"machine": {"cpu": "Test CPU", "cores": 2, "device": "cpu"}, "total_seconds": 90,
            "notebooks": [{"notebook": "06_x.ipynb", "seconds": 80.4, "rerun_seconds": 9.6,
                           "slowest_cells": [{"first_line": 'announce("06", "trains 3 models")',
                                              "seconds": 61.2}]}]}  # fmt: skip
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data))
    text = str(timing.lesson_time("06", path=path))
    assert "80 s the first time" in text and "re-run with its saved models took 10 s" in text
    assert "2 CPU cores (Test CPU)" in text and "slower or busy machine" in text
    assert "fast mode" in str(timing.lesson_time(6, fast=True, path=path))
    said = timing.announce("06", "trains 3 models", path=path)
    assert said.startswith("Next: trains 3 models: about 61 s")
    assert "not timed yet" in timing.announce("06", "something else", path=path)
    untimed = str(timing.lesson_time("09", path=path))  # newer than the file: said, no error
    assert untimed.startswith("Time: lesson 09 is not timed yet (make course-time")
    assert "not timed yet" in timing.announce("09", "trains 3 models", path=path)
    with pytest.raises(ValueError, match="must be a lesson number"):
        timing.lesson_time("six", path=path)
