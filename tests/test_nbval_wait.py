"""The root conftest.py raises nbval's 5 s output wait on every nbval cell (issue #21)."""

from __future__ import annotations

import importlib.util
import inspect
import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbval.plugin import IPyNbCell

ROOT = Path(__file__).resolve().parents[1]

RECORDER = """
def pytest_collection_finish(session):
    for item in session.items:
        print("WAIT", type(item).__name__, getattr(item, "output_timeout", None))
"""


def test_nbval_still_has_the_attribute_the_hook_sets():
    """If nbval renames its output wait, the hook would silently do nothing: fail here."""
    assert "self.output_timeout = 5" in inspect.getsource(IPyNbCell.__init__)
    assert "timeout=self.output_timeout" in inspect.getsource(IPyNbCell.runtest)


def test_every_nbval_cell_gets_the_generous_output_wait(tmp_path):
    """Collect a notebook under the clone (as make test does) and read each cell's wait."""
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    root_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root_conftest)
    (tmp_path / "wait_recorder.py").write_text(RECORDER)
    folder = ROOT / "build" / f"nbval-wait-{os.getpid()}"  # under the clone: its conftest applies
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("print(x)")]
    )
    path = folder / "two_cells.ipynb"
    nbformat.write(nb, path)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    try:
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "--nbval-lax",
             "-p", "no:cacheprovider", "-p", "wait_recorder", str(path)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        path.unlink()
        folder.rmdir()
    waits = [line.split() for line in run.stdout.splitlines() if line.startswith("WAIT ")]
    assert len(waits) == 2, run.stdout + run.stderr
    assert all(
        kind == "IPyNbCell" and float(w) == root_conftest.NBVAL_OUTPUT_WAIT_S
        for _, kind, w in waits
    )
