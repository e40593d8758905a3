"""``python benchmarks/contention.py``: one VAE training step beside busy processes, under
several OpenMP wait settings, to choose the one the course sets (``vaelib.runtime.OPENMP_ENV``).

torch's CPU kernels run on OpenMP threads. Between two parallel regions an idle thread of GNU
libgomp spins (``GOMP_SPINCOUNT``, by default ~300,000 iterations) before it sleeps. On a
machine whose cores are all busy, the spinning thread holds a core that its partner thread, or
the other busy process, needs: every region then waits for the scheduler. This script times
the 784-400-20 MLP VAE's step (batch 128, forward, backward, Adam; float32) in a fresh process
per setting (the variables act when torch starts), alone and beside ``n`` busy processes, and
prints one JSON object: milliseconds per step for each setting and load.

    python benchmarks/contention.py               # loads 0, 1 and 2 busy processes per core
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from suite_under_load import Hog  # noqa: E402  (the same bounded busy processes)

SETTINGS = {
    "libgomp default": {},
    "GOMP_SPINCOUNT=10000 (the course's)": {"GOMP_SPINCOUNT": "10000"},
    "GOMP_SPINCOUNT=1000": {"GOMP_SPINCOUNT": "1000"},
    "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "OMP_NUM_THREADS=1": {"OMP_NUM_THREADS": "1"},
}
STEP = """
import json, time, torch
from vaelib.losses import vae_loss
from vaelib.models import VAE
torch.manual_seed(0)
model = VAE(latent_dim=20)
opt = torch.optim.Adam(model.parameters(), 1e-3)
x = torch.rand(128, 1, 28, 28)
def step():
    opt.zero_grad(); vae_loss(model, x)["loss"].backward(); opt.step()
for _ in range(5):
    step()
t = time.perf_counter()
for _ in range({steps}):
    step()
print(json.dumps({{"ms": 1e3 * (time.perf_counter() - t) / {steps}, "threads": torch.get_num_threads()}}))
"""


def time_step(extra_env: dict[str, str], steps: int) -> dict:
    """Milliseconds per step in a fresh process with ``extra_env`` added to a clean OpenMP env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOMP_", "OMP_"))}
    env.update({**extra_env, "PYTHONPATH": str(ROOT)})
    out = subprocess.run([sys.executable, "-c", STEP.format(steps=steps)], env=env, check=True,
                         capture_output=True, text=True)  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {"ms_per_step": round(result["ms"], 2), "threads": result["threads"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy-per-core", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    report: dict = {"cores": cores, "load_avg_before": os.getloadavg()[0], "ms_per_step": {}}
    for per_core in args.busy_per_core:
        busy = per_core * cores
        key = f"{busy} busy processes"
        with Hog(busy, seconds=600):
            report["ms_per_step"][key] = {
                name: time_step(env, args.steps) for name, env in SETTINGS.items()
            }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
