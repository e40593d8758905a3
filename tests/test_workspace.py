"""tools/workspace.py and make workspace/reset: the student's work is never lost (issue #26,
item 7), copies open clean (issue #27), solutions are a read-only copy, widgets save as a
placeholder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from _lab import ROOT, student_env

sys.path.insert(0, str(ROOT / "tools"))
import workspace  # noqa: E402 - tools/ is not a package


def course(tmp_path: Path, n: int = 2) -> Path:
    """A course folder with ``n`` one-cell lessons and a solutions folder."""
    root = tmp_path / "course"
    (root / "notebooks").mkdir(parents=True)
    for i in range(1, n + 1):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"lesson = {i}")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
        nbformat.write(nb, root / "notebooks" / f"0{i}_x.ipynb")
    (root / "solutions").mkdir()
    (root / "solutions" / "01_x.py").write_text("ANSWER = 1\n")
    return root


def answer(work: Path, text: str = "my answer") -> None:
    nb = nbformat.read(work / "01_x.ipynb", as_version=4)
    nb.cells[0].source = f"print({text!r})"
    nbformat.write(nb, work / "01_x.ipynb")


def kept(work: Path, text: str = "my answer") -> list[str]:
    """Where the student's text survives: the lesson and/or backups."""
    files = [work / "01_x.ipynb", *sorted((work / "backups").glob("*"))]
    return [p.name for p in files if p.is_file() and text in p.read_text()]


def test_a_fresh_copy_opens_clean_with_the_course_kernel(tmp_path):
    root, work = course(tmp_path), tmp_path / "work"
    workspace.prepare(work, root)
    nb = json.loads((work / "01_x.ipynb").read_text())
    assert "widgets" not in nb["metadata"]
    umask = os.umask(0)
    os.umask(umask)
    assert (work / "01_x.ipynb").stat().st_mode & 0o777 == 0o666 & ~umask  # not private
    spec = json.loads((work / ".jupyter/kernels/python3/kernel.json").read_text())
    assert nb["metadata"]["kernelspec"] == {
        "display_name": spec["display_name"],
        "language": "python",
        "name": "python3",
    }


def test_solutions_are_a_read_only_copy_replacing_an_old_symlink(tmp_path):
    root, work = course(tmp_path), tmp_path / "work"
    work.mkdir()
    (work / "solutions").symlink_to(root / "solutions")  # the old layout
    workspace.prepare(work, root)
    copy = work / "solutions" / "01_x.py"
    assert not (work / "solutions").is_symlink() and copy.read_text() == "ANSWER = 1\n"
    assert copy.stat().st_mode & 0o222 == 0  # read-only for everyone
    assert (root / "solutions" / "01_x.py").stat().st_mode & 0o200  # the tracked file untouched
    (root / "solutions" / "01_x.py").write_text("ANSWER = 2\n")  # git pull changed it
    workspace.prepare(work, root)
    assert copy.read_text() == "ANSWER = 2\n"


def test_two_resets_in_one_second_keep_two_backups(tmp_path):
    root, work = course(tmp_path), tmp_path / "work"
    workspace.prepare(work, root)
    answer(work, "first try")
    workspace.reset(work, "01", root)
    answer(work, "second try")
    workspace.reset(work, "01", root)
    backups = sorted((work / "backups").iterdir())
    assert len(backups) == 2
    assert kept(work, "first try") and kept(work, "second try")
    assert not list(work.glob(".*.tmp"))


def test_reset_checks_the_backups_folder_before_moving_anything(tmp_path):
    root, work = course(tmp_path), tmp_path / "work"
    workspace.prepare(work, root)
    answer(work)
    (work / "backups").write_text("a file in the way")
    with pytest.raises(ValueError, match="backups folder .* is a file, not a folder"):
        workspace.reset(work, "01", root)
    assert kept(work) == ["01_x.ipynb"] and not list(work.glob(".*.tmp"))


def test_prepare_is_all_or_nothing_and_names_a_corrupt_lesson(tmp_path):
    root, work = course(tmp_path, n=3), tmp_path / "work"
    (root / "notebooks" / "02_x.ipynb").write_text('{"cells": [')  # cut short
    with pytest.raises(ValueError, match=r"02_x.ipynb is not a readable notebook .*git checkout"):
        workspace.prepare(work, root)
    assert not work.exists() or list(work.iterdir()) == []  # no lesson, no kernel spec


@pytest.mark.parametrize("case", ["work is a file", "backups is a file", "read-only"])
def test_each_bad_folder_gives_one_clear_line(tmp_path, monkeypatch, capsys, case):
    root, work = course(tmp_path), tmp_path / "work"
    monkeypatch.setattr(workspace, "ROOT", root)
    if case == "work is a file":
        work.write_text("not a folder")
        argv, expected = ["--work", str(work), "prepare"], "is a file, not a folder"
    else:
        workspace.prepare(work, root)
        argv = ["--work", str(work), "reset", "01"]
        if case == "backups is a file":
            (work / "backups").write_text("x")
            expected = "backups folder"
        else:  # os.access is what a non-root user's chmod -w shows (root ignores modes)
            real_access = os.access
            monkeypatch.setattr(
                workspace.os, "access", lambda p, m: Path(p) != work and real_access(p, m)
            )
            expected = "is read-only: make it writable"
    assert workspace.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err and "Traceback" not in err


KILLER = """
import os, signal, sys
sys.path.insert(0, {tools!r})
import workspace
real, calls = getattr(os, {step!r}), []
def kill_at_call(*args, **kwargs):
    calls.append(1)
    if len(calls) == {nth}:  # killed part-way, as a closed laptop or a kill -9 would
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)
setattr(os, {step!r}, kill_at_call)
workspace.reset(workspace.Path({work!r}), "01", workspace.Path({root!r}))
"""


@pytest.mark.parametrize(
    ("step", "nth"),
    [("fsync", 1), ("fsync", 2), ("replace", 1)],
    ids=["writing the fresh copy", "writing the backup", "replacing the lesson"],
)
def test_reset_killed_part_way_loses_nothing(tmp_path, step, nth):
    """reset writes the fresh copy (fsync 1), the backup (fsync 2), then renames the fresh copy
    over the lesson (replace 1): killed at each, the answer is still there, and a second reset
    completes with the answer in a backup."""
    root, work = course(tmp_path), tmp_path / "work"
    workspace.prepare(work, root)
    answer(work)
    script = KILLER.format(
        tools=str(ROOT / "tools"), step=step, nth=nth, work=str(work), root=str(root)
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert kept(work), "the student's answer was lost"
    workspace.reset(work, "01", root)
    assert kept(work) and "my answer" not in (work / "01_x.ipynb").read_text()


def test_make_workspace_and_reset_take_a_path_with_spaces():
    base = ROOT / "build" / f"ws test {os.getpid()}"
    relative = f"build/{base.name}/my work"
    try:
        for args in (["workspace"], ["reset", "LESSON=02"]):
            run = subprocess.run(
                ["make", "-s", "-C", str(ROOT), *args, f"WORKSPACE={relative}"],
                env=student_env(),
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
            )
            assert run.returncode == 0, run.stdout + run.stderr
        work = base / "my work"
        assert (work / "02_kl_divergence_discrete.ipynb").is_file()
        assert len(list((work / "backups").glob("02_*.ipynb"))) == 1
        assert not (ROOT / "my").exists() and not (ROOT / "work" / "my").exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_saved_widgets_become_a_run_this_cell_placeholder():
    view = {"model_id": "abc", "version_major": 2, "version_minor": 0}
    nb = {
        "metadata": {"widgets": {"state": {}}},
        "cells": [
            {
                "cell_type": "code",
                "outputs": [
                    {"output_type": "display_data", "data": {workspace.WIDGET_VIEW: view}},
                    {"output_type": "stream", "text": "kept\n"},
                ],
            }
        ],
    }
    workspace.pre_save_hook({"type": "notebook", "content": nb}, path="01_x.ipynb")
    assert "widgets" not in nb["metadata"]
    widget, stream = nb["cells"][0]["outputs"]
    assert widget["data"] == {"text/plain": workspace.WIDGET_PLACEHOLDER}
    assert "run this cell" in workspace.WIDGET_PLACEHOLDER and stream["text"] == "kept\n"
