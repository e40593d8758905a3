"""Shared fixtures: every test runs in fast mode with figures and checkpoints in tmp folders."""

from __future__ import annotations

import matplotlib
import pytest

# Headless in pytest's own process only: an environment variable (MPLBACKEND=Agg) would be
# inherited by the kernels that nbval and JupyterLab start, and they would show no figure.
matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _isolated_outputs(tmp_path, monkeypatch):
    """No test writes to the course's pics/ or checkpoints/."""
    monkeypatch.setenv("VAELIB_PICS", str(tmp_path / "pics"))
    monkeypatch.setenv("VAELIB_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("VAELIB_FAST", "1")
    monkeypatch.setenv("VAELIB_NO_DOWNLOAD", "1")
    monkeypatch.delenv("VAELIB_DEVICE", raising=False)


# JupyterLab and browser fixtures (a copy of the clone, `make lab`, chromium): see tests/_lab.py.
from _lab import browser, course_clone, lab_server  # noqa: E402, F401
