"""The n_jobs trade-off of ``bic.bic_curve``: serial against worker processes, as JSON lines.

    python benchmarks/bic_jobs.py

One line per (problem, n_jobs): ``{"n", "d", "ks", "n_init", "n_jobs", "seconds"}``. The first
parallel call in a process pays the workers' start-up (each imports torch); later calls reuse
them. ``bic_curve`` runs problems below ``bic.SERIAL_BELOW`` code-fits serially whatever
``n_jobs`` says, so here the small problem is timed through ``_fit_mixture`` calls in joblib.
"""

from __future__ import annotations

import json
import time

import numpy as np
from joblib import Parallel, delayed

from vaelib import bic

PROBLEMS = [(100, 2, 3), (2000, 2, 12), (2000, 20, 12)]  # (n, d, len(ks)); lesson 07: 2000 codes


def _seconds(z: np.ndarray, ks: list[int], n_jobs: int) -> float:
    start = time.perf_counter()
    if len(z) * len(ks) * 5 < bic.SERIAL_BELOW and n_jobs > 1:  # bic_curve would run serially
        Parallel(n_jobs=n_jobs)(
            delayed(bic._fit_mixture)(z, k, "full", 5, 0, 200, 1e-6) for k in ks
        )
    else:
        bic.bic_curve(z, ks, n_init=5, n_jobs=n_jobs)
    return time.perf_counter() - start


def main() -> None:
    rng = np.random.default_rng(0)
    for n, d, n_ks in PROBLEMS:
        z = rng.standard_normal((n, d))
        for n_jobs in (1, 2):
            line = {"n": n, "d": d, "ks": n_ks, "n_init": 5, "n_jobs": n_jobs}
            seconds = _seconds(z, list(range(1, n_ks + 1)), n_jobs)
            print(json.dumps({**line, "seconds": round(seconds, 3)}), flush=True)


if __name__ == "__main__":
    main()
