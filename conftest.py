"""pytest hooks for every run from this clone (``tests/`` and ``notebooks/`` alike).

nbval waits a hard-coded 5 s for each output message after a cell's reply
(``IPyNbCell.output_timeout``; ``--nbval-cell-timeout`` does not change it: nbval issues
https://github.com/computationalmodelling/nbval/issues/136 and
https://github.com/computationalmodelling/nbval/issues/231). On a busy machine a cell that
trains with progress bars lags more than 5 s behind on the kernel's output channel and fails
although the lesson is right, so every nbval cell gets ``NBVAL_OUTPUT_WAIT_S`` instead.
tests/test_nbval_wait.py checks that the hook still reaches nbval's attribute.
"""

from __future__ import annotations

NBVAL_OUTPUT_WAIT_S = 600  # seconds nbval waits for the next output message of a cell


def pytest_collection_modifyitems(items):
    """Raise nbval's output wait on each nbval cell to ``NBVAL_OUTPUT_WAIT_S``."""
    for item in items:
        if type(item).__module__.startswith("nbval") and hasattr(item, "output_timeout"):
            item.output_timeout = max(item.output_timeout, NBVAL_OUTPUT_WAIT_S)
