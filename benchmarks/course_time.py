"""``python benchmarks/course_time.py``: how long the whole course takes, lesson by lesson.

Runs every notebook (``notebooks/NN_*.ipynb``, in lesson order) top to bottom in full mode
(``VAELIB_FAST=0``), each in a fresh kernel, as a student or ``make figures`` would: without a
headless matplotlib backend (``MPLBACKEND`` is removed from the kernel's environment), from
empty checkpoints (a fresh temporary ``VAELIB_CHECKPOINTS``; ``--keep-checkpoints`` uses the
existing ones). By default the notebooks run in a temporary copy with figures written to a
temporary ``VAELIB_PICS`` (the clone is left as it is); ``--in-place`` writes the executed
notebooks and ``pics/`` back, as ``make figures`` does.

Then every notebook runs a second time, in a temporary copy, with the models the first pass
saved (``rerun_seconds``: what a student's re-run costs; ``--no-rerun`` skips it).

Writes one JSON object (``--out``, default stdout): seconds per notebook (first run and re-run)
and its slowest cells (index, first line, seconds), the totals, and the machine (CPU model,
cores, torch version, device). ``vaelib.timing`` reads it for the lessons and README. The exit status is 1 when a notebook fails (its error is in the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from vaelib.runtime import cpu_name

REPO_ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict:
    """CPU model, cores, torch version and the device the lessons pick (``pick_device``)."""
    import torch

    from vaelib.runtime import pick_device

    device = pick_device()
    info = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "device": device.type,
    }
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
    try:
        info["load_average_1min_at_start"] = os.getloadavg()[0]
    except OSError:
        pass
    return info


def _cell_seconds(cell: nbformat.NotebookNode) -> float | None:
    """A code cell's run time from the timestamps nbclient records (``record_timing``)."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not start or not end:
        return None
    parse = datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def slowest_cells(nb: nbformat.NotebookNode, top: int) -> list[dict]:
    """The ``top`` slowest code cells: index in the notebook, first line, seconds."""
    cells = []
    for index, cell in enumerate(nb.cells):
        seconds = _cell_seconds(cell) if cell.cell_type == "code" else None
        if seconds is not None:
            lines = cell.source.strip().splitlines()
            cells.append(
                {"index": index, "first_line": lines[0] if lines else "", "seconds": seconds}
            )
    return sorted(cells, key=lambda c: c["seconds"], reverse=True)[:top]


@contextmanager
def kernel_environment(checkpoints: Path, pics: Path | None) -> Iterator[None]:
    """Full mode, the given checkpoint and figure folders, no headless backend, vaelib of
    this clone on the path: set for the kernels started inside, restored afterwards."""
    saved = dict(os.environ)
    os.environ["VAELIB_FAST"] = "0"
    os.environ["VAELIB_CHECKPOINTS"] = str(checkpoints)
    if pics is not None:
        os.environ["VAELIB_PICS"] = str(pics)
    else:
        os.environ.pop("VAELIB_PICS", None)
    os.environ.pop("MPLBACKEND", None)  # the figures must be in the outputs
    path = os.environ.get("PYTHONPATH", "")
    if str(REPO_ROOT) not in path.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), path) if p)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_notebook(path: Path, top: int, timeout: int | None) -> dict:
    """Execute ``path`` in a fresh kernel (cwd: its folder), write it back, time it."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # an earlier run's timings: a cell this run does not reach has none
        cell.get("metadata", {}).pop("execution", None)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", record_timing=True,
        resources={"metadata": {"path": str(path.parent)}},
    )  # fmt: skip
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except Exception as err:  # a failing lesson is reported, and the others still run
        error = (
            f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
        )
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    result = {
        "notebook": path.name,
        "seconds": seconds,
        "code_cells": sum(c.cell_type == "code" for c in nb.cells),
        "slowest_cells": slowest_cells(nb, top),
    }
    if error is not None:
        result["error"] = error
    return result


def course_time(
    notebooks: list[Path],
    *,
    in_place: bool = False,
    keep_checkpoints: bool = False,
    top: int = 5,
    timeout: int | None = None,
    rerun: bool = True,
    checkpoints_dir: Path | None = None,
) -> dict:
    """Run ``notebooks`` in full mode, one fresh kernel each, and return the JSON-ready timings.

    ``checkpoints_dir``: start from empty checkpoints there (a folder that is absent or empty)
    and keep them after the run, so that a lesson that failed can be re-run with the models
    this run trained; by default they live in a temporary folder removed at the end."""
    if not notebooks:
        raise ValueError("no notebooks to run: pass paths of .ipynb files.")
    for nb in notebooks:
        if nb.suffix != ".ipynb" or not nb.is_file():
            raise ValueError(f"{nb} is not a notebook file (.ipynb).")
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}.")
    if checkpoints_dir is not None and keep_checkpoints:
        raise ValueError("pass keep_checkpoints or checkpoints_dir, not both.")
    if checkpoints_dir is not None and checkpoints_dir.exists() and any(checkpoints_dir.iterdir()):
        raise ValueError(
            f"checkpoints_dir={checkpoints_dir} is not empty: the run starts from empty "
            "checkpoints; pass an absent or empty folder."
        )
    work = Path(tempfile.mkdtemp(prefix="vaelib-course-time-"))
    try:
        if keep_checkpoints:
            default = REPO_ROOT / "checkpoints"
            checkpoints = Path(os.environ.get("VAELIB_CHECKPOINTS") or default)
        else:
            checkpoints = checkpoints_dir or work / "checkpoints"
        # in place: the course's pics/, as `make figures` writes it (unset would mean work/pics)
        pics = REPO_ROOT / "pics" if in_place else work / "pics"
        if not in_place:  # a copy of each notebook's folder tree, so relative paths still work
            copies = []
            for nb in notebooks:
                target = work / "notebooks" / nb.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(nb, target)
                copies.append(target)
            notebooks = copies
        originals = list(notebooks)
        results = []
        with kernel_environment(checkpoints, pics):
            info = machine()
            for nb in notebooks:
                print(f"==> {nb.name} (full mode)", file=sys.stderr, flush=True)
                results.append(run_notebook(nb, top, timeout))
                print(f"    {results[-1]['seconds']:.1f} s", file=sys.stderr, flush=True)
        if rerun:  # the same lessons again with the saved models, in a copy (never in place)
            with kernel_environment(checkpoints, work / "pics-rerun"):
                for nb, result in zip(originals, results, strict=True):
                    target = work / "rerun" / nb.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(nb, target)
                    print(f"==> {nb.name} (re-run, saved models)", file=sys.stderr, flush=True)
                    again = run_notebook(target, top, timeout)
                    result["rerun_seconds"] = again["seconds"]
                    if "error" in again:
                        result["rerun_error"] = again["error"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "machine": info,
        "mode": "full",
        "checkpoints": "kept" if keep_checkpoints else "empty",
        "in_place": in_place,
        "notebooks": results,
        "total_seconds": sum(r["seconds"] for r in results),
        **({"rerun_total_seconds": sum(r["rerun_seconds"] for r in results)} if rerun else {}),
        "failed": [r["notebook"] for r in results if "error" in r],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/course_time.py", description=__doc__.split("\n\n")[0].strip("`")
    )
    parser.add_argument(
        "notebooks", nargs="*", type=Path,
        help="notebooks to run (default: every notebooks/NN_*.ipynb, in order)",
    )  # fmt: skip
    parser.add_argument("--in-place", action="store_true", help="write notebooks and pics/ back")
    parser.add_argument(
        "--keep-checkpoints", action="store_true",
        help="use the existing checkpoints (default: start from empty ones)",
    )  # fmt: skip
    parser.add_argument(
        "--checkpoints-dir", type=Path, default=None,
        help="start from empty checkpoints in this absent or empty folder and keep them",
    )  # fmt: skip
    parser.add_argument("--top", type=int, default=5, help="slowest cells listed per notebook")
    parser.add_argument(
        "--no-rerun", action="store_true", help="skip the second pass with the saved models"
    )
    parser.add_argument(
        "--timeout", type=int, default=None, help="seconds per cell (default: none)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="write the JSON here (default: stdout)"
    )
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    result = course_time(
        [Path(nb).resolve() for nb in notebooks], in_place=args.in_place,
        keep_checkpoints=args.keep_checkpoints, top=args.top, timeout=args.timeout,
        rerun=not args.no_rerun, checkpoints_dir=args.checkpoints_dir,
    )  # fmt: skip
    text = json.dumps(result, indent=2)
    if args.out is not None:
        args.out.write_text(text + "\n")
        print(f"total {result['total_seconds']:.1f} s -> {args.out}")
    else:
        print(text)
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
