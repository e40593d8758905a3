"""`make grade` (tools/grade.py) on a folder of generated submissions.

A tiny lesson with two exercises (lesson 06's log-mean-exp and lesson 09's Gaussian NLL: cheap
checks) stands in for the course's lessons. The submissions: right, partly wrong, empty (the
stubs), raising, looping forever, killing its kernel, not JSON, and a file that is no lesson.
Every notebook gets its rows, each with the verdict the checks print, and the run finishes.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("grade", REPO / "tools" / "grade.py")
grade = importlib.util.module_from_spec(spec)
sys.modules["grade"] = grade  # dataclasses look their module up there
spec.loader.exec_module(grade)

LME_RIGHT = "import math, torch\ndef log_mean_exp(log_w):\n    return torch.logsumexp(log_w, 1) - math.log(log_w.shape[1])"
LME_STUB = "def log_mean_exp(log_w):\n    return None  # your answer"
NLL_RIGHT = (
    "import math\ndef gaussian_nll(x, mean, logvar):\n    lv = logvar.expand_as(x)\n"
    "    return 0.5 * ((x - mean) ** 2 / lv.exp() + lv + math.log(2 * math.pi)).flatten(1).sum(1)"
)
NLL_WRONG = (  # forgets the 0.5 log 2 pi
    "def gaussian_nll(x, mean, logvar):\n    lv = logvar.expand_as(x)\n"
    "    return 0.5 * ((x - mean) ** 2 / lv.exp() + lv).flatten(1).sum(1)"
)
NLL_STUB = "def gaussian_nll(x, mean, logvar):\n    return None  # your answer"
CHECK_LME = "from vaelib.exercises import vae as ex\n\nex.check_log_mean_exp(log_mean_exp);"
CHECK_NLL = "from vaelib.exercises import build as ex\n\nex.check_gaussian_nll(gaussian_nll);"


def lesson(*answers: str, between: str = "") -> nbformat.NotebookNode:
    lme, nll = answers
    cells = [new_markdown_cell("# Lesson 90: tiny"), new_code_cell(lme), new_code_cell(CHECK_LME)]
    if between:
        cells.append(new_code_cell(between))
    cells += [new_code_cell(nll), new_code_cell(CHECK_NLL)]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


SUBMISSIONS = {
    "right": lesson(LME_RIGHT, NLL_RIGHT),
    "partly_wrong": lesson(LME_RIGHT, NLL_WRONG),
    "empty": lesson(LME_STUB, NLL_STUB),
    "raising": lesson('raise RuntimeError("boom")\n' + LME_RIGHT, NLL_RIGHT),
    "looping": lesson(LME_RIGHT, NLL_RIGHT, between="import time\nwhile True:\n    time.sleep(1)"),
    "dying": lesson(LME_RIGHT, NLL_RIGHT, between="import os\nos._exit(1)"),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grade")
    lessons, subs = root / "lessons", root / "submissions"
    lessons.mkdir()
    nbformat.write(lesson(LME_STUB, NLL_STUB), lessons / "90_tiny.ipynb")
    for student, nb in SUBMISSIONS.items():
        (subs / student).mkdir(parents=True)
        nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="Right: saved")]
        nbformat.write(nb, subs / student / "90_tiny.ipynb")
    (subs / "not_json").mkdir()
    (subs / "not_json" / "90_tiny.ipynb").write_text("{ this is not json")
    (subs / "right" / "notes.ipynb").write_text(json.dumps(new_notebook()))
    out = root / "out" / "grades.csv"
    grade.grade(subs, out, timeout=20, fast=True, lessons_dir=lessons)  # "looping" waits it out
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {(r["student_file"].split("/")[0], r["exercise"]): r for r in rows}, out


def row(graded, student, exercise):
    return graded[0][(student, exercise)]


def test_the_csv_has_the_columns_and_a_row_per_notebook_and_exercise(graded):
    rows, out = graded
    with out.open(newline="", encoding="utf-8") as f:
        assert next(csv.reader(f)) == list(grade.FIELDS)
    for student in [*SUBMISSIONS, "not_json"]:
        for exercise in ("check_log_mean_exp", "check_gaussian_nll"):
            assert (student, exercise) in rows, (student, exercise)
    summary = out.with_name("grades_summary.txt").read_text()
    assert "per exercise:" in summary and "90_tiny check_gaussian_nll" in summary


def test_right_passes_and_saved_outputs_are_not_graded(graded):
    for exercise in ("check_log_mean_exp", "check_gaussian_nll"):
        r = row(graded, "right", exercise)
        assert (r["passed"], r["hint"], r["lesson"]) == ("yes", "", "90_tiny")
    assert row(graded, "empty", "check_log_mean_exp")["passed"] == "no"  # saved "Right:" ignored


def test_partly_wrong_passes_one_and_gets_the_checks_hint_for_the_other(graded):
    assert row(graded, "partly_wrong", "check_log_mean_exp")["passed"] == "yes"
    r = row(graded, "partly_wrong", "check_gaussian_nll")
    assert r["passed"] == "no" and r["hint"].startswith("Not yet:") and "log(2 pi)" in r["hint"]


def test_empty_says_no_answer_yet(graded):
    for exercise in ("check_log_mean_exp", "check_gaussian_nll"):
        r = row(graded, "empty", exercise)
        assert r["passed"] == "no" and (
            "none" in r["hint"].lower() or "no answer" in r["hint"].lower()
        ), r


def test_raising_fails_its_exercise_and_the_rest_still_runs(graded):
    r = row(graded, "raising", "check_log_mean_exp")
    assert r["passed"] == "no" and "raised NameError" in r["hint"], r
    assert row(graded, "raising", "check_gaussian_nll")["passed"] == "yes"


def test_looping_forever_is_stopped_and_keeps_what_it_reached(graded):
    assert row(graded, "looping", "check_log_mean_exp")["passed"] == "yes"
    r = row(graded, "looping", "check_gaussian_nll")
    assert r["passed"] == "no" and "20 s" in r["hint"], r


def test_a_dying_kernel_fails_only_its_own_rows(graded):
    assert row(graded, "dying", "check_log_mean_exp")["passed"] == "yes"
    r = row(graded, "dying", "check_gaussian_nll")
    assert r["passed"] == "no" and "kernel died" in r["hint"], r


def test_broken_files_and_strangers_get_a_row_that_says_why(graded):
    assert "not a readable notebook" in row(graded, "not_json", "check_log_mean_exp")["hint"]
    r = row(graded, "right", "-")  # right/notes.ipynb: no lesson of that name
    assert r["passed"] == "no" and "not a course lesson" in r["hint"]


def test_grade_refuses_a_missing_folder(tmp_path):
    with pytest.raises(SystemExit, match="not a folder"):
        grade.grade(tmp_path / "nowhere", tmp_path / "g.csv")


def test_the_course_lessons_list_their_exercises():
    found = grade.lesson_exercises()
    assert found["09"] == (
        "09_build_a_vae",
        ["check_vae_module", "check_training_loop", "check_iwae_bound",
         "check_trains_like_vaelib", "check_gaussian_nll"],
    )  # fmt: skip
    assert all(names for stem, names in found.values()), found
