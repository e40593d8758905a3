"""``python benchmarks/suite_under_load.py`` (``make test-under-load``): the notebook tests beside
a bounded CPU hog, to show that no notebook test fails because the machine is busy (issue #21).

Each run starts ``--busy-per-core`` busy processes per CPU core (each spins until it is told
to stop or until ``--hog-seconds`` have passed: it stops by itself even if this script dies),
runs the notebook tests as ``make test`` runs them (fast mode, ``--nbval-lax``, figures and
checkpoints in a fresh temporary folder, so every run trains from scratch), then stops the hog.
One JSON object is printed: per run the outcome counts, the failed tests, the wall time and the
load average sampled during the run; the load applied; and the total of failures.

    python benchmarks/suite_under_load.py --runs 3 --busy-per-core 2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from vaelib.runtime import OPENMP_ENV  # noqa: E402  (as make test's kernels get it)


def _spin(deadline: float, stop) -> None:
    """Busy-loop until ``stop`` is set or the wall clock passes ``deadline``."""
    x = 0
    while not stop.is_set() and time.time() < deadline:
        for _ in range(100_000):
            x += 1


class Hog:
    """``n`` busy processes that stop on ``stop()`` or by themselves after ``seconds``."""

    def __init__(self, n: int, seconds: float):
        self.n, self.seconds = n, seconds
        ctx = mp.get_context("spawn")
        self._stop = ctx.Event()
        deadline = time.time() + seconds
        self.procs = [ctx.Process(target=_spin, args=(deadline, self._stop), daemon=True)
                      for _ in range(n)]  # fmt: skip

    def __enter__(self) -> Hog:
        for p in self.procs:
            p.start()
        return self

    def stop(self, wait: float = 10.0) -> None:
        self._stop.set()
        for p in self.procs:
            p.join(wait)
            if p.is_alive():  # should not happen: the loop checks the event every ~ms
                p.terminate()
                p.join(wait)

    def __exit__(self, *exc) -> None:
        self.stop()


class LoadSampler(threading.Thread):
    """The 1-minute load average every ``period`` seconds, while it runs."""

    def __init__(self, period: float = 10.0):
        super().__init__(daemon=True)
        self.period, self.samples, self._done = period, [], threading.Event()

    def run(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._done.wait(self.period):
                return

    def summary(self) -> dict:
        self._done.set()
        self.join()
        s = self.samples
        return {"min": min(s), "mean": round(sum(s) / len(s), 2), "max": max(s), "samples": len(s)}


def outcomes(junit: Path) -> dict:
    """Counts and failed test ids from pytest's JUnit XML."""
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    failed = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        if "failure" in kinds or "error" in kinds:
            counts["failed" if "failure" in kinds else "errors"] += 1
            failed.append(name)
        elif "skipped" in kinds:
            counts["skipped"] += 1  # nbval marks the cells after a failure as xfail/skipped
        else:
            counts["passed"] += 1
    return {**counts, "failed_tests": failed}


def run_once(notebooks: list[str], busy: int, hog_seconds: float, cell_timeout: int) -> dict:
    """One run of the notebook tests beside ``busy`` busy processes."""
    with tempfile.TemporaryDirectory(prefix="under-load-") as tmp:
        tmp = Path(tmp)
        env = {**OPENMP_ENV, **os.environ, "VAELIB_FAST": "1", "VAELIB_PICS": str(tmp / "pics"),
               "VAELIB_CHECKPOINTS": str(tmp / "checkpoints"), "PYTHONPATH": str(ROOT)}  # fmt: skip
        env.pop("MPLBACKEND", None)
        cmd = [sys.executable, "-m", "pytest", *notebooks, "--nbval-lax",
               f"--nbval-cell-timeout={cell_timeout}", "-p", "no:cacheprovider", "-q",
               f"--junitxml={tmp / 'junit.xml'}"]  # fmt: skip
        sampler = LoadSampler()
        sampler.start()
        t0 = time.perf_counter()
        with Hog(busy, hog_seconds):
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        load = sampler.summary()
        junit = tmp / "junit.xml"
        result = outcomes(junit) if junit.exists() else {"failed": None, "failed_tests": []}
    tail = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
    return {"returncode": proc.returncode, **result, "wall_seconds": round(wall, 1),
            "load_average_1min": load, "summary": tail[0] if tail else proc.stderr[-500:]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--busy-per-core", type=int, default=2, help="busy processes per core")
    parser.add_argument("--hog-seconds", type=float, default=3600,
                        help="each busy process stops by itself after this many seconds")  # fmt: skip
    parser.add_argument("--cell-timeout", type=int, default=900, help="as make test")
    parser.add_argument("notebooks", nargs="*", help="default: every notebooks/NN_*.ipynb")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.busy_per_core < 0 or args.hog_seconds <= 0:
        parser.error("--runs >= 1, --busy-per-core >= 0 and --hog-seconds > 0, please")
    notebooks = args.notebooks or sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
    )
    cores = os.cpu_count() or 1
    busy = args.busy_per_core * cores
    runs = [run_once(notebooks, busy, args.hog_seconds, args.cell_timeout)
            for _ in range(args.runs)]  # fmt: skip
    failures = sum((r["failed"] or 0) + r.get("errors", 0) for r in runs)
    bad_runs = sum(r["returncode"] != 0 for r in runs)
    report = {
        "notebooks": notebooks,
        "cores": cores,
        "busy_per_core": args.busy_per_core,
        "busy_processes": busy,
        "runs": len(runs),
        "failing_runs": bad_runs,
        "failures": failures,
        "wall_seconds": [r["wall_seconds"] for r in runs],
        "per_run": runs,
    }
    print(json.dumps(report, indent=1))
    return 0 if bad_runs == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
