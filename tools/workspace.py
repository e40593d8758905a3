"""The student's workspace: ``work/``, a copy of each lesson that is the student's own.

``make lab`` runs ``prepare``: every lesson in ``notebooks/`` that ``work/`` lacks is copied
there with its outputs, widget state and solution cells removed and the workspace kernel's
metadata, so an untouched lesson opens unmodified; a copy that exists is never touched again, so
a student's answers survive ``git pull`` and ``make lab``. ``prepare`` is all-or-nothing: a
lesson that cannot be read stops it before anything is written, naming the file.
``work/solutions/`` is a read-only copy of the course's ``solutions/``, refreshed by ``prepare``
(a copy, so nothing the student does in the Lab changes a tracked file).

``make reset LESSON=NN`` runs ``reset``: the old copy is first copied to a new, never reused
name in ``work/backups/`` (written and synced before anything else changes), then the fresh
copy replaces it in one atomic rename. Killed at any point, the student's work is in the lesson
or in the backup, or both.

``pre_save_hook`` (``make lab`` passes it to the server) saves widget outputs as a one-line
"run this cell to bring the widget back": widgets live in the running kernel, and a saved
widget view reopens as "Error displaying widget: model not found".

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
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ROOT / "notebooks"
_SOLUTION_LINE = re.compile(r"\s*#\s*solution\b", re.IGNORECASE)
KERNEL_NAME = "python3"  # the notebooks' kernel name; the workspace's spec takes it over
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_PLACEHOLDER = (
    "[a live widget was here (a progress bar, a slider): run this cell again to bring it back;"
    " widgets live in the running kernel and are not saved with the notebook]"
)


def is_solution(cell: dict) -> bool:
    """A cell tagged ``solution``, or a code cell whose first line is ``# Solution``."""
    if "solution" in cell.get("metadata", {}).get("tags", []):
        return True
    return cell["cell_type"] == "code" and bool(_SOLUTION_LINE.match(cell["source"]))


def kernel_display_name(root: Path = ROOT) -> str:
    """The name JupyterLab shows for the workspace kernel (and writes into a notebook)."""
    return f"Python 3 (vae-course: {root.name})"


def student_copy(nb: nbformat.NotebookNode, root: Path = ROOT) -> nbformat.NotebookNode:
    """The lesson as a student starts it: no solution cells, outputs, widget state or run
    metadata; the workspace kernel's ``kernelspec`` (so the Lab has nothing to rewrite).

    Links to ``../solutions/`` become ``solutions/``: JupyterLab serves ``work/`` only, and
    ``work/solutions`` is a copy of the course's ``solutions/``.
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
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {
        "display_name": kernel_display_name(root),
        "language": "python",
        "name": KERNEL_NAME,
    }
    nb.metadata["language_info"] = {  # what the kernel (this Python) reports on connecting
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": platform.python_version(),
    }
    return nb


def lessons(root: Path = ROOT) -> list[Path]:
    """The committed lessons, ``notebooks/NN_topic.ipynb``, in order."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def read_lesson(lesson: Path, root: Path = ROOT) -> nbformat.NotebookNode:
    """The student's copy of ``lesson``; ValueError naming the file if it is not a notebook."""
    try:
        nb = nbformat.read(lesson, as_version=4)
        nbformat.validate(nb)
        return student_copy(nb, root)
    except Exception as err:  # JSON, schema, encoding, a missing key: all say the same
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        raise ValueError(
            f"{lesson} is not a readable notebook ({type(err).__name__}: {reason}); nothing was "
            f"changed in the workspace. Restore the lesson with: git checkout -- "
            f"{os.path.relpath(lesson, root)}"
        ) from None


def check_folder(path: Path, what: str) -> None:
    """ValueError (one line) when ``path`` is a file, or a folder this user cannot write to."""
    hint = "or choose another workspace: make lab WORKSPACE=other-folder"
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} {path} is a file, not a folder: move the file away, {hint}.")
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {path} is read-only: make it writable (chmod u+w), {hint}.")


def _temp_path(target: Path) -> Path:
    """A fresh, hidden file name beside ``target`` (same folder: the rename is atomic)."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)  # mkstemp makes it private; a lesson copy is a normal file
    return Path(name)


def _write_synced(path: Path, data: bytes, exclusive: bool = False) -> None:
    with open(path, "xb" if exclusive else "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _notebook_bytes(nb: nbformat.NotebookNode) -> bytes:
    return (nbformat.writes(nb) + "\n").encode()


def write_copy(lesson: Path, target: Path, root: Path = ROOT) -> None:
    """Write the student's copy of ``lesson`` to ``target`` (atomically)."""
    data = _notebook_bytes(read_lesson(lesson, root))
    tmp = _temp_path(target)
    try:
        _write_synced(tmp, data)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def kernel_spec(root: Path, work: Path) -> dict:
    """The workspace kernel: the course's Python with this clone's vaelib and outputs in work/."""
    sys.path.insert(0, str(ROOT))
    from vaelib.runtime import OPENMP_ENV  # the one home of the value (imports torch: once)

    return {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": kernel_display_name(root),
        "language": "python",
        "metadata": {"debugger": True},
        "env": {
            "PYTHONPATH": str(root),
            "VAELIB_PICS": str(work / "pics"),
            "VAELIB_CHECKPOINTS": str(work / "checkpoints"),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            **OPENMP_ENV,  # torch's threads sleep soon when idle: no collapse beside busy work
        },
    }


def copy_solutions(work: Path, root: Path = ROOT) -> None:
    """``work/solutions/``: a read-only copy of the course's solution files, refreshed (an old
    ``work/solutions`` symlink to the tracked folder is replaced; its target is not touched)."""
    source = root / "solutions"
    if not source.is_dir():
        return
    dest = work / "solutions"
    if dest.is_symlink():
        dest.unlink()  # the link only, never the tracked files it pointed to
    check_folder(dest, "the solutions folder")
    dest.mkdir(exist_ok=True)
    for path in sorted(p for p in source.iterdir() if p.is_file() and p.suffix in {".py", ".md"}):
        data, target = path.read_bytes(), dest / path.name
        if target.is_file() and target.read_bytes() == data:
            target.chmod(0o444)
            continue
        tmp = _temp_path(target)
        try:
            _write_synced(tmp, data)
            tmp.chmod(0o444)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)


def prepare(work: Path, root: Path = ROOT) -> list[Path]:
    """Make ``work/`` (lessons it lacks, the kernel spec, the solutions); return the lessons it
    copied. All-or-nothing: every missing lesson is read and checked before a file is written,
    and the copies appear together (each written to a temporary file first)."""
    work = Path(work).absolute()
    check_folder(work, "the workspace")
    missing = [lesson for lesson in lessons(root) if not (work / lesson.name).exists()]
    copies = {work / lesson.name: _notebook_bytes(read_lesson(lesson, root)) for lesson in missing}
    work.mkdir(parents=True, exist_ok=True)
    check_folder(work, "the workspace")
    temps: dict[Path, Path] = {}
    try:
        for target, data in copies.items():
            temps[target] = _temp_path(target)
            _write_synced(temps[target], data)
        spec_dir = work / ".jupyter" / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True, exist_ok=True)
        spec = json.dumps(kernel_spec(root, work), indent=1) + "\n"
        (spec_dir / "kernel.json").write_text(spec)
        copy_solutions(work, root)
        for target, tmp in temps.items():
            os.replace(tmp, target)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
    return list(copies)


def backup_name(backups: Path, stem: str) -> Path:
    """``backups/<stem>-<date>-<time>[-n].ipynb``: the first such name not taken yet."""
    base = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    n = 1
    while (backups / f"{base}{'' if n == 1 else f'-{n}'}.ipynb").exists():
        n += 1
    return backups / f"{base}{'' if n == 1 else f'-{n}'}.ipynb"


def reset(work: Path, number: str, root: Path = ROOT) -> Path:
    """Replace the student's copy of lesson ``number`` by a fresh one; the old one is backed up.

    Every check comes first (the lesson number, the lesson readable, the workspace and
    ``backups/`` folders writable); then the backup is written under a name never used before
    (exclusive create, synced); only then does the fresh copy replace the old one (atomic
    rename). Killed at any point, nothing of the student's is lost.
    """
    if not re.fullmatch(r"\d{1,2}", str(number)):
        raise ValueError(
            f"LESSON={number!r} must be a lesson number such as 02 (make reset LESSON=02)."
        )
    matches = [p for p in lessons(root) if p.name.startswith(f"{int(number):02d}_")]
    if not matches:
        names = ", ".join(p.name[:2] for p in lessons(root))
        raise ValueError(f"LESSON={number!r} is not a lesson: use one of {names}.")
    lesson = matches[0]
    fresh = _notebook_bytes(read_lesson(lesson, root))
    work = Path(work).absolute()
    check_folder(work, "the workspace")
    target = work / lesson.name
    backups = work / "backups"
    if target.exists():
        check_folder(backups, "the backups folder")
        if target.is_dir():
            raise ValueError(f"{target} is a folder, not your copy of the lesson: move it away.")
    work.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(target)
    try:
        _write_synced(tmp, fresh)
        if target.exists():
            backups.mkdir(exist_ok=True)
            check_folder(backups, "the backups folder")
            old = target.read_bytes()
            while True:
                backup = backup_name(backups, lesson.stem)
                try:
                    _write_synced(backup, old, exclusive=True)  # never replaces a backup
                    break
                except FileExistsError:  # taken since backup_name looked: try the next
                    continue
            print(f"your old copy is kept as {backup}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def pre_save_hook(model: dict, **kwargs) -> None:
    """Jupyter server ``ContentsManager.pre_save_hook``: a notebook is saved without widget
    state, each widget output as a one-line placeholder (see WIDGET_PLACEHOLDER)."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    nb = model["content"]
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = output.get("data")
            if isinstance(data, dict) and WIDGET_VIEW in data:
                output["data"] = {"text/plain": WIDGET_PLACEHOLDER}


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
            for path in prepare(args.work, ROOT):
                print(f"new in your workspace: {path.name}")
        else:
            print(f"fresh copy: {reset(args.work, args.lesson, ROOT)}")
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # read-only, disk full, a file in the way: one line, no traceback
        where = f" ({err.filename})" if err.filename else ""
        print(f"error: {err.strerror or err}{where}: nothing of yours was lost.", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
