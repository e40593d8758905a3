"""benchmarks/suite_under_load.py: the hog stops by itself, the JSON counts what pytest saw."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat

from benchmarks import suite_under_load as U

ROOT = Path(__file__).resolve().parents[1]


def test_the_hog_stops_by_itself_without_being_told():
    hog = U.Hog(1, seconds=0.5)
    hog.__enter__()
    t0 = time.monotonic()
    for p in hog.procs:
        p.join(60)
    assert not any(p.is_alive() for p in hog.procs)
    assert time.monotonic() - t0 < 60


def test_outcomes_reads_failures_and_skips_from_junit(tmp_path):
    (tmp_path / "j.xml").write_text(
        '<testsuites><testsuite><testcase classname="nb" name="Cell 0"/>'
        '<testcase classname="nb" name="Cell 1"><failure message="Timeout"/></testcase>'
        '<testcase classname="nb" name="Cell 2"><skipped/></testcase></testsuite></testsuites>'
    )
    got = U.outcomes(tmp_path / "j.xml")
    assert (got["passed"], got["failed"], got["skipped"]) == (1, 1, 1)
    assert got["failed_tests"] == ["nb::Cell 1"]


def test_one_run_prints_the_json_with_the_load(tmp_path, capsys):
    folder = ROOT / "build" / f"under-load-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("x = 2"), nbformat.v4.new_code_cell("assert x == 2")]
    )
    path = folder / "tiny.ipynb"
    nbformat.write(nb, path)
    try:
        code = U.main(["--runs", "1", "--busy-per-core", "0", str(path)])
    finally:
        path.unlink()
        folder.rmdir()
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (report["runs"], report["failures"], report["busy_processes"]) == (1, 0, 0)
    run = report["per_run"][0]
    assert run["passed"] == 2 and run["wall_seconds"] > 0
    assert run["load_average_1min"]["samples"] >= 1


def test_the_recorded_runs_in_the_docs_are_the_json_they_came_from():
    """docs/benchmarks.md's table of the three loaded runs quotes docs/suite_under_load.json."""
    import json
    import re
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs"
    report = json.loads((docs / "suite_under_load.json").read_text())
    assert report["runs"] >= 3 and report["busy_per_core"] >= 2 and report["failures"] == 0
    rows = re.findall(r"^\| (\d) \| (\d+) \| (\d+) \| ([\d.]+) \| ([\d.]+) / ([\d.]+) / ([\d.]+)",
                      (docs / "benchmarks.md").read_text(), re.M)  # fmt: skip
    assert len(rows) == report["runs"]
    for (i, passed, failed, wall, lo, mean, hi), run in zip(rows, report["per_run"], strict=True):
        load = run["load_average_1min"]
        assert (int(passed), int(failed)) == (run["passed"], run["failed"]), i
        assert float(wall) == round(run["wall_seconds"], 1), i
        assert [float(lo), float(mean), float(hi)] == [
            round(load[k], 1) for k in ("min", "mean", "max")
        ]
