"""Grade a folder of students' lesson notebooks with the lessons' own self-checks (`make grade`).

    python tools/grade.py SUBMISSIONS [--out grades.csv] [--timeout 900] [--full]

For every ``*.ipynb`` under SUBMISSIONS (any depth; the lesson is read from the file name's
``NN_`` prefix, e.g. ``alice/09_build_a_vae.ipynb``), the notebook runs top to bottom in its
own process and its own kernel, in a temporary folder, with a time limit, in fast mode (the
checks do not depend on it; ``--full`` for full mode), continuing past cells that raise. For
every exercise of that lesson (every ``ex.check_<name>(...)`` call of the course's own
notebook) the grader reads what the check printed in the student's notebook: ``Right:`` passes;
``Not yet: <hint>`` and ``No answer yet`` fail with that hint; a missing cell, an exception, a
kernel that died or a notebook that ran out of time fails that notebook's rows with a hint
that says so. One bad notebook never stops the run.

Writes a CSV (student_file, lesson, exercise, passed, hint) and prints a short summary (also
written next to the CSV as ``<name>_summary.txt``). The verdicts are the ones the student sees;
a notebook that rewrites the checks themselves can fake them, so a lecturer reads any notebook
whose verdicts look too good to be true.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LESSONS = REPO / "notebooks"
CHECK_CALL = re.compile(r"\bex\.(check_\w+)\(")
VERDICT = re.compile(r"^(Right:|Not yet:|No answer yet)(.*)$", re.MULTILINE)
FIELDS = ("student_file", "lesson", "exercise", "passed", "hint")


@dataclass(frozen=True)
class Row:
    student_file: str
    lesson: str
    exercise: str
    passed: bool
    hint: str


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


def _outputs(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(_source({"source": out.get("text", "")}))
        elif out.get("output_type") == "error":
            parts.append(f"\x00error {out.get('ename', '')}: {out.get('evalue', '')}")
    return "\n".join(parts)


def lesson_exercises(lessons: Path = LESSONS) -> dict[str, tuple[str, list[str]]]:
    """``{"09": ("09_build_a_vae", [check names in order])}`` from the course's notebooks."""
    found = {}
    for nb in sorted(lessons.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        names = [
            n for c in cells if c["cell_type"] == "code" for n in CHECK_CALL.findall(_source(c))
        ]
        found[nb.name[:2]] = (nb.stem, list(dict.fromkeys(names)))
    return found


def verdicts(cells: list[dict]) -> dict[str, tuple[bool, str]]:
    """What each check printed in an executed notebook: ``{check: (passed, hint)}``. A cell's
    verdict lines go to its check calls in order; a cell that raised gives its error."""
    out: dict[str, tuple[bool, str]] = {}
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        names = CHECK_CALL.findall(_source(cell))
        if not names:
            continue
        text = _outputs(cell)
        lines = VERDICT.findall(text)
        error = re.search(r"\x00error (.*)", text)
        for i, name in enumerate(names):
            if i < len(lines):
                start, rest = lines[i]
                passed = start == "Right:"
                out[name] = (passed, "" if passed else f"{start}{rest}".strip())
            elif error:
                out[name] = (False, f"the exercise cell raised {error.group(1)[:300]}")
            elif cell.get("execution_count") is None:
                out.setdefault(name, (False, "the exercise cell never ran"))
            else:
                out.setdefault(name, (False, "the exercise cell printed no verdict"))
    return out


# ----------------------------------------------------------------------------- one notebook


def run_one(notebook: Path, result: Path, cell_timeout: int) -> None:
    """Execute ``notebook`` in a fresh kernel (cwd: its temporary folder), continuing past cells
    that raise; after every cell, write the verdicts so far to ``result`` (JSON), so that a
    notebook killed for time still reports the exercises it reached."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:  # what the student saved is not graded: only what runs now
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None

    def dump(status: str) -> None:
        tmp = result.with_suffix(".tmp")
        tmp.write_text(json.dumps({"status": status, "verdicts": verdicts(nb.cells)}))
        os.replace(tmp, result)

    dump("started")
    client = NotebookClient(
        nb, timeout=cell_timeout, allow_errors=True, kernel_name="python3",
        resources={"metadata": {"path": str(notebook.parent)}},
        on_cell_executed=lambda cell, **_: dump("running"),
    )  # fmt: skip
    try:
        client.execute()
    except CellTimeoutError:
        dump(f"a cell ran past {cell_timeout} s")
        return
    except DeadKernelError:
        dump("the kernel died")
        return
    dump("done")


# ----------------------------------------------------------------------------- the run


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def grade_notebook(
    path: Path, rel: str, lessons: dict[str, tuple[str, list[str]]], timeout: int, fast: bool
) -> list[Row]:
    """The rows of one student notebook, whatever it does."""
    lesson = lessons.get(path.name[:2]) if re.match(r"\d\d_", path.name) else None
    if lesson is None:
        known = ", ".join(stem for stem, _ in lessons.values())
        hint = f"not a course lesson: name the file after its lesson ({known})"
        return [Row(rel, "?", "-", False, hint)]
    stem, names = lesson
    if not names:
        return []
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return [Row(rel, stem, n, False, f"not a readable notebook: {err}"[:300]) for n in names]
    with tempfile.TemporaryDirectory(prefix="vae-grade-") as tmp:
        work = Path(tmp) / "notebooks"
        work.mkdir()
        shutil.copy(path, work / path.name)
        result = Path(tmp) / "result.json"
        env = {
            **os.environ, "VAELIB_FAST": "1" if fast else "0", "VAELIB_PICS": str(Path(tmp) / "pics"),
            "VAELIB_CHECKPOINTS": str(Path(tmp) / "checkpoints"), "MPLBACKEND": "Agg",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }  # fmt: skip
        cmd = [sys.executable, str(Path(__file__).resolve()), "--run-one", str(work / path.name),
               "--result", str(result), "--cell-timeout", str(timeout)]  # fmt: skip
        proc = subprocess.Popen(
            cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        try:
            proc.wait(timeout=timeout)
            status = None
        except subprocess.TimeoutExpired:
            _kill(proc)
            status = f"the notebook ran past the time limit ({timeout} s)"
        found = {}
        if result.exists():
            data = json.loads(result.read_text())
            found = data["verdicts"]
            if status is None and data["status"] != "done":
                status = data["status"]
        elif status is None:
            status = f"the grader's kernel failed to start (exit code {proc.returncode})"
    rows = []
    for name in names:
        if name in found:
            passed, hint = found[name]
            if not passed and status and hint.startswith("the exercise cell never ran"):
                hint = f"{status}: the exercise cell never ran"
            rows.append(Row(rel, stem, name, bool(passed), hint))
        elif status:
            rows.append(Row(rel, stem, name, False, f"{status}, before this exercise"))
        else:
            rows.append(
                Row(
                    rel,
                    stem,
                    name,
                    False,
                    f"no cell calls ex.{name}(...): keep the lesson's exercise cell",
                )
            )
    return rows


def summary(rows: list[Row]) -> str:
    by_file: dict[str, list[Row]] = defaultdict(list)
    by_exercise: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for row in rows:
        by_file[row.student_file].append(row)
        by_exercise[(row.lesson, row.exercise)].append(row.passed)
    lines = [
        f"{len(by_file)} notebooks, {sum(r.passed for r in rows)} of {len(rows)} exercises passed",
        "",
    ]
    lines.append("per notebook:")
    for name, rs in sorted(by_file.items()):
        lines.append(f"  {name}: {sum(r.passed for r in rs)}/{len(rs)}")
    lines += ["", "per exercise:"]
    for (lesson, exercise), ok in sorted(by_exercise.items()):
        lines.append(f"  {lesson} {exercise}: {sum(ok)}/{len(ok)} passed")
    return "\n".join(lines)


def grade(submissions: Path, out: Path, timeout: int = 900, fast: bool = True,
          lessons_dir: Path = LESSONS) -> list[Row]:  # fmt: skip
    """Grade every notebook under ``submissions``; write the CSV ``out`` and its summary."""
    if not submissions.is_dir():
        raise SystemExit(
            f"SUBMISSIONS={submissions} is not a folder: point it at the students' notebooks."
        )
    lessons = lesson_exercises(lessons_dir)
    paths = sorted(p for p in submissions.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    rows: list[Row] = []
    for i, path in enumerate(paths, 1):
        rel = str(path.relative_to(submissions))
        start = time.monotonic()
        print(f"[{i}/{len(paths)}] {rel}", end="", flush=True)
        try:
            got = grade_notebook(path, rel, lessons, timeout, fast)
        except Exception as err:  # noqa: BLE001 - the grader's own failure fails this notebook only
            got = [
                Row(rel, "?", "-", False, f"the grader failed on it: {type(err).__name__}: {err}")
            ]
        rows += got
        print(
            f": {sum(r.passed for r in got)}/{len(got)} ({time.monotonic() - start:.0f} s)",
            flush=True,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS)
        for r in rows:
            writer.writerow(
                [r.student_file, r.lesson, r.exercise, "yes" if r.passed else "no", r.hint]
            )
    text = summary(rows)
    out.with_name(f"{out.stem}_summary.txt").write_text(text + "\n", encoding="utf-8")
    print(f"\n{text}\n\nwrote {out} and {out.with_name(out.stem + '_summary.txt')}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", nargs="?", type=Path, help="folder of students' notebooks")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="the CSV to write")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per notebook")
    parser.add_argument("--full", action="store_true", help="run the lessons in full mode")
    parser.add_argument("--lessons", type=Path, default=LESSONS, help=argparse.SUPPRESS)
    parser.add_argument("--run-one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cell-timeout", type=int, default=900, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_one is not None:
        run_one(args.run_one, args.result, args.cell_timeout)
        return 0
    if args.submissions is None:
        parser.error("say where the notebooks are: make grade SUBMISSIONS=path/to/folder")
    if args.timeout < 1:
        parser.error("--timeout must be a positive number of seconds")
    grade(args.submissions, args.out, args.timeout, not args.full, args.lessons)
    return 0


if __name__ == "__main__":
    sys.exit(main())
