"""The student's workspace: ``work/``, a copy of each lesson that is the student's own.

``make lab`` runs ``prepare``: every lesson in ``notebooks/`` that ``work/`` lacks is copied
there with its outputs cleared and any solution cell removed; a copy that exists is never
touched again, so a student's answers survive ``git pull`` and ``make lab``. ``make reset
LESSON=NN`` runs ``reset``: the old copy moves to ``work/backups/`` and a fresh one replaces it.

``prepare`` also writes the workspace's kernel spec, ``work/.jupyter/kernels/python3``, which
``make lab`` puts first on ``JUPYTER_PATH``. Its name is the notebooks' kernel name
(``python3``), so every lesson opened in that JupyterLab runs on it: this clone's vaelib
(``PYTHONPATH``, whichever clone installed the shared venv), figures and checkpoints under
``work/`` (never the tracked ``pics/``), and matplotlib's inline backend (figures show).

Run with the course's Python: ``python tools/workspace.py prepare|reset NN [--work DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ROOT / "notebooks"
_SOLUTION_LINE = re.compile(r"\s*#\s*solution\b", re.IGNORECASE)


def is_solution(cell: dict) -> bool:
    """A cell tagged ``solution``, or a code cell whose first line is ``# Solution``."""
    if "solution" in cell.get("metadata", {}).get("tags", []):
        return True
    return cell["cell_type"] == "code" and bool(_SOLUTION_LINE.match(cell["source"]))


def student_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The lesson as a student starts it: no solution cells, no outputs, no run metadata.

    Links to ``../solutions/`` become ``solutions/``: JupyterLab serves ``work/`` only, and
    ``work/solutions`` links to the course's ``solutions/``.
    """
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))  # a deep copy, still a NotebookNode
    nb.cells = [cell for cell in nb.cells if not is_solution(cell)]
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace("](../solutions/", "](solutions/")
        cell.metadata.pop("execution", None)
        cell.metadata.get("jupyter", {}).pop("outputs_hidden", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def lessons(root: Path = ROOT) -> list[Path]:
    """The committed lessons, ``notebooks/NN_topic.ipynb``, in order."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def write_copy(lesson: Path, target: Path) -> None:
    """Write the student's copy of ``lesson`` to ``target`` (atomically)."""
    nb = student_copy(nbformat.read(lesson, as_version=4))
    tmp = target.with_name(f".{target.name}.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(target)


def kernel_spec(root: Path, work: Path) -> dict:
    """The workspace kernel: the course's Python with this clone's vaelib and outputs in work/."""
    return {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python 3 (vae-course: {root.name})",
        "language": "python",
        "metadata": {"debugger": True},
        "env": {
            "PYTHONPATH": str(root),
            "VAELIB_PICS": str(work / "pics"),
            "VAELIB_CHECKPOINTS": str(work / "checkpoints"),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        },
    }


def prepare(work: Path, root: Path = ROOT) -> list[Path]:
    """Make ``work/`` (lessons it lacks, the kernel spec); return the lessons it copied."""
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    copied = []
    for lesson in lessons(root):
        target = work / lesson.name
        if not target.exists():
            write_copy(lesson, target)
            copied.append(target)
    solutions = work / "solutions"
    if (root / "solutions").is_dir() and not solutions.exists() and not solutions.is_symlink():
        solutions.symlink_to(os.path.relpath(root / "solutions", work), target_is_directory=True)
    spec_dir = work / ".jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(json.dumps(kernel_spec(root, work), indent=1) + "\n")
    return copied


def reset(work: Path, number: str, root: Path = ROOT) -> Path:
    """Replace the student's copy of lesson ``number`` by a fresh one; the old one is backed up."""
    if not re.fullmatch(r"\d{1,2}", str(number)):
        raise ValueError(
            f"LESSON={number!r} must be a lesson number such as 02 (make reset LESSON=02)."
        )
    matches = [p for p in lessons(root) if p.name.startswith(f"{int(number):02d}_")]
    if not matches:
        names = ", ".join(p.name[:2] for p in lessons(root))
        raise ValueError(f"LESSON={number!r} is not a lesson: use one of {names}.")
    lesson = matches[0]
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    target = work / lesson.name
    if target.exists():
        backups = work / "backups"
        backups.mkdir(exist_ok=True)
        backup = backups / f"{lesson.stem}-{time.strftime('%Y%m%d-%H%M%S')}.ipynb"
        shutil.move(target, backup)
        print(f"your old copy is kept as {backup.relative_to(work.parent)}")
    write_copy(lesson, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "work", help="the workspace folder")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare", help="copy the lessons work/ lacks; write the kernel spec")
    reset_parser = sub.add_parser("reset", help="a fresh copy of one lesson (old one backed up)")
    reset_parser.add_argument("lesson", help="the lesson's number, e.g. 02")
    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            for path in prepare(args.work):
                print(f"new in your workspace: {path.name}")
        else:
            print(f"fresh copy: {reset(args.work, args.lesson)}")
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
