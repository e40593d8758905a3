"""benchmarks/course_time.py on a generated two-cell notebook (the real course is timed by the
lead on an idle machine, not here)."""

from __future__ import annotations

import json

import nbformat
import pytest

from benchmarks import course_time

CHECKS = """import os, time
assert os.environ["VAELIB_FAST"] == "0"  # full mode
assert os.environ.get("MPLBACKEND", "inline").lower() != "agg"  # figures land in the outputs
print(os.environ["VAELIB_CHECKPOINTS"])
time.sleep(0.3)"""


def _notebook(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# tiny")]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def test_times_a_tiny_notebook_in_a_temp_copy(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # as make exports it: the script must remove it
    nb = _notebook(tmp_path / "01_tiny.ipynb", [CHECKS, "x = 1"])
    out = tmp_path / "time.json"
    assert course_time.main([str(nb), "--out", str(out), "--top", "1"]) == 0
    result = json.loads(out.read_text())
    assert result["mode"] == "full" and result["checkpoints"] == "empty"
    assert result["failed"] == [] and result["in_place"] is False
    assert result["machine"]["cores"] >= 1 and result["machine"]["cpu"]
    assert {"torch", "device"} <= set(result["machine"])
    (entry,) = result["notebooks"]
    assert entry["notebook"] == "01_tiny.ipynb" and entry["code_cells"] == 2
    assert entry["seconds"] >= 0.3 and result["total_seconds"] == entry["seconds"]
    (slowest,) = entry["slowest_cells"]  # --top 1
    assert slowest["index"] == 1 and slowest["first_line"] == "import os, time"
    assert 0.3 <= slowest["seconds"] <= entry["seconds"]
    assert nbformat.read(nb, as_version=4).cells[1].outputs == []  # the clone is untouched
    assert entry["rerun_seconds"] >= 0.3  # the second pass, with the saved models
    assert result["rerun_total_seconds"] == entry["rerun_seconds"]


def test_in_place_writes_outputs_and_a_failure_is_reported(tmp_path):
    good = _notebook(tmp_path / "01_good.ipynb", ["print('hello')"])
    bad = _notebook(tmp_path / "02_bad.ipynb", ["raise RuntimeError('broken lesson')", "x = 2"])
    result = course_time.course_time([good, bad], in_place=True)
    assert nbformat.read(good, as_version=4).cells[1].outputs[0]["text"] == "hello\n"
    assert result["failed"] == ["02_bad.ipynb"]
    assert "broken lesson" in result["notebooks"][1]["error"] or result["notebooks"][1]["error"]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="no notebooks"):
        course_time.course_time([])
    with pytest.raises(ValueError, match="not a notebook"):
        course_time.course_time([tmp_path / "missing.ipynb"])


def test_checkpoints_dir_starts_empty_and_is_kept(tmp_path):
    saves = """import os, pathlib
folder = pathlib.Path(os.environ['VAELIB_CHECKPOINTS'])
folder.mkdir(parents=True, exist_ok=True)
(folder / 'm.pt').touch()"""
    nb = _notebook(tmp_path / "01_saves.ipynb", [saves])
    kept = tmp_path / "kept"
    result = course_time.course_time([nb], checkpoints_dir=kept, rerun=False)
    assert result["checkpoints"] == "empty" and result["failed"] == []
    assert (kept / "m.pt").is_file()  # kept after the run, for a failed lesson's re-run
    with pytest.raises(ValueError, match="checkpoints_dir=.* is not empty"):
        course_time.course_time([nb], checkpoints_dir=kept)
    with pytest.raises(ValueError, match="not both"):
        course_time.course_time([nb], checkpoints_dir=tmp_path / "new", keep_checkpoints=True)


def test_the_docs_course_table_is_the_committed_run():
    """docs/benchmarks.md's per-lesson table quotes docs/course_time.json, rounded as printed."""
    import re
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs"
    ct = json.loads((docs / "course_time.json").read_text())
    rows = re.findall(
        r"^\| (\d\d_\w+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) s: ",
        (docs / "benchmarks.md").read_text(),
        re.M,
    )
    assert [r[0] + ".ipynb" for r in rows] == [e["notebook"] for e in ct["notebooks"]]
    for (_, first, rerun, slowest), e in zip(rows, ct["notebooks"], strict=True):
        assert float(first) == round(e["seconds"], 1) and float(rerun) == round(
            e["rerun_seconds"], 1
        )
        assert float(slowest) == round(e["slowest_cells"][0]["seconds"], 1)
    assert ct["checkpoints"] == "empty" and ct["failed"] == [] and ct["in_place"] is True
    text = " ".join((docs / "benchmarks.md").read_text().split())
    assert f"**{ct['total_seconds']:.0f} s for the whole course**" in text
    assert f"**{ct['rerun_total_seconds']:.0f} s for a re-run**" in text
    load = ct["machine"]["load_average_1min_at_start"]
    assert f"load average {load:.2f} at the start" in text
    assert f"the first run takes {ct['total_seconds']:.0f} s" in text
    assert f"the saved models {ct['rerun_total_seconds']:.0f} s" in text
    rerun = [e for e in ct["notebooks"] if "run_again" in e]
    assert all(e["notebook"] in ("01_autoencoder_limitations.ipynb",) for e in rerun)
    lesson01 = json.loads((docs.parent / "results" / "01_autoencoder_limitations.json").read_text())
    assert f"{lesson01['inside_disc']:.1%}".replace("%", " %") + " of them fall inside" in text


def test_a_failed_lesson_lists_only_the_cells_that_ran(tmp_path):
    """The cells after a failure keep no timing from an earlier run in slowest_cells."""
    path = _notebook(tmp_path / "03_fails.ipynb", ["x = 1", "raise RuntimeError('stop')", "y = 2"])
    nb = nbformat.read(path, as_version=4)
    stale = {
        "iopub.execute_input": "2026-01-01T00:00:00Z",
        "shell.execute_reply": "2026-01-01T01:00:00Z",
    }
    nb.cells[3].metadata["execution"] = stale  # "y = 2" took an hour in an earlier run
    nbformat.write(nb, path)
    assert course_time.slowest_cells(nb, top=3)[0]["seconds"] == 3600.0  # what it used to report
    entry = course_time.run_notebook(path, top=3, timeout=60)
    assert "stop" in entry["error"]
    assert sorted(c["index"] for c in entry["slowest_cells"]) == [1, 2]  # not the unrun cell 3
    assert "execution" not in nbformat.read(path, as_version=4).cells[3].metadata
