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


def test_every_lesson_says_its_measured_time_under_its_title():
    """The line README's row agrees with (both from the file), in the first cell, not in an
    output: a committed run's output would quote the measurement before that run."""
    import nbformat

    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        title = cells[0].source.splitlines()
        assert timing.time_line(path.name[:2]) in title, f"{path.name}: run make numbers"
        assert sum(s.startswith(timing.TIME_LINE_PREFIX) for s in title) == 1, path.name
        first, rerun = timing.readme_seconds().get(path.name[:2], (None, None))
        if first is not None:
            line = timing.time_line(path.name[:2])
            assert f"took {first} s the first time" in line, path.name
            assert rerun is None or f"saved models took {rerun} s" in line, path.name
        assert "lesson_time(" not in cells[1].source, f"{path.name}: the setup cell prints none"


def test_the_time_line_is_filled_in_place_and_touches_no_output(tmp_path):
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    from fill_numbers import fill_notebook_time

    data = {"machine": {"cpu": "Intel(R) Xeon(R) Processor", "cores": 2, "device": "cpu"},
            "total_seconds": 9, "notebooks": [{"notebook": "06_x.ipynb", "seconds": 80.4,
                                              "rerun_seconds": 9.6}]}  # fmt: skip
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data))
    out = {"output_type": "stream", "name": "stdout", "text": ["Time: 78 s\n"]}
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# L06\n", "\n", "[Open in Colab](x)\n", "\n", "Text."]},
                    {"cell_type": "code", "metadata": {}, "source": [], "outputs": [out], "execution_count": 1}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}  # fmt: skip
    once = fill_notebook_time(json.dumps(nb), "06", path)
    twice = fill_notebook_time(once, "06", path)
    assert once == twice  # replaced in place, never added twice
    filled = json.loads(once)
    title = "".join(filled["cells"][0]["source"])
    assert "> Time: this lesson took 80 s the first time" in title
    assert "2 CPU cores (Intel Xeon Processor)" in title and "took 10 s" in title
    assert title.index("Open in Colab") < title.index("> Time:") < title.index("Text.")
    assert filled["cells"][1]["outputs"] == [out]


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
