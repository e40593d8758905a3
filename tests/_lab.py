"""What the student sees: a copy of this clone, ``make lab`` serving it, a browser.

Fixtures (registered in conftest.py), for any test of the Lab or the browser:

- ``course_clone``: a copy of this working tree (tracked and new files, as a fresh clone would
  have them) in a temporary folder, committed to a git repository of its own so that a test can
  ask ``git status`` what a run changed. It shares the course's venv, as every clone does.
- ``lab_server``: JupyterLab started in that copy exactly as a student starts it, ``make lab``
  (LAB_ARGS: no browser, a free port, a token), in fast mode; stopped by its process group.
- ``browser``: Playwright driving Debian's chromium (/usr/bin/chromium), nothing downloaded.
  Outside CI a machine without it skips; under CI=true a missing chromium fails.

Helpers: ``figure_saves(nb)`` counts ``figures.save(`` calls, ``lab_page(browser, lab_server,
path)`` opens a notebook in the Lab, ``run_all_cells(page)`` runs it as a student does.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LESSON = "02_kl_divergence_discrete.ipynb"  # the lesson the Lab and browser tests run (fast)
# Every wait below is for a condition, with a limit generous enough for a machine shared by
# other work (issue #21), and says what it waited for when it gives up.
STARTUP_S = 300  # make lab answering; a page connected to its kernel
API_S = 120  # one REST call to the Lab server
PAGE_S = 180  # Playwright's default wait for an element
IDLE_S = 300  # the kernel back to idle
RUN_ALL_S = 600  # every cell of a lesson run (fast mode)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def figure_saves(nb: dict) -> int:
    """How many ``figures.save(`` calls the notebook's code cells make."""
    return sum(
        len(re.findall(r"figures\.save\(", "".join(cell["source"])))
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
    )


def copy_working_tree(target: Path) -> Path:
    """Copy the files a clone of this working tree would hold; make it a git repository."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = ROOT / os.fsdecode(name)
        if src.is_file() and not src.is_symlink():
            dst = target / os.fsdecode(name)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "the clone as copied"]):
        subprocess.run([*git, *args], cwd=target, check=True, capture_output=True)
    return target


def student_env(**extra: str) -> dict[str, str]:
    """A student's shell: no make or test variables inherited from the test run (VENV: the
    environment this run uses, which is the Makefile's default unless a maintainer chose one)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PYTHONPATH", "JUPYTER_PATH"}
        and not k.startswith("PYTEST_")
    }
    if (ROOT / ".venv").exists():  # the venv this test runs in, shared by the copies
        env["VENV"] = str((ROOT / ".venv").resolve())
    env.update(extra)
    return env


def git_status(clone: Path) -> str:
    """``git status --porcelain`` of the tracked files (what a run changed in the clone)."""
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    """A running ``make lab``: where it answers, its token, the clone it serves, its process."""

    url: str
    token: str
    clone: Path
    proc: subprocess.Popen
    log: Path
    made: dict[str, str] = field(default_factory=dict)  # work/*.ipynb as make lab made them

    def api(self, method: str, path: str, body: dict | None = None):
        """Call the server's REST API (JSON in, JSON out)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}/api/{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=API_S) as resp:
                text = resp.read().decode()
        except TimeoutError as err:
            raise TimeoutError(
                f"the Lab server did not answer {method} /api/{path} in {API_S} s"
            ) from err
        return json.loads(text) if text else None

    def close_sessions(self) -> None:
        """Shut down every session's kernel (a closed browser tab leaves its kernel running)."""
        for session in self.api("GET", "sessions"):
            self.api("DELETE", f"sessions/{session['id']}")

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="session")
def course_clone(tmp_path_factory) -> Path:
    return copy_working_tree(tmp_path_factory.mktemp("clone") / "vae-course")


@pytest.fixture(scope="session")
def lab_server(course_clone, tmp_path_factory):
    port, token = free_port(), secrets.token_hex(16)
    lab_args = (
        f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 "
        f"--IdentityProvider.token={token}"
    )
    state = tmp_path_factory.mktemp("lab")
    log = state / "make-lab.log"
    # MPLBACKEND=Agg as a student's shell might have it: make lab must not pass it to kernels.
    # The Lab's layout and settings go to the temporary folder, not the user's ~/.jupyter/lab.
    env = student_env(
        VAELIB_FAST="1",
        MPLBACKEND="Agg",
        JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
        JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["make", "lab", f"LAB_ARGS={lab_args}"],
            cwd=course_clone,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: make, jupyter lab, their children
        )
    server = LabServer(f"http://127.0.0.1:{port}", token, course_clone, proc, log)
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"make lab exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                server.api("GET", "status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"make lab did not answer in {STARTUP_S} s:\n{server.log_tail()}")
                time.sleep(0.5)
        server.made = {p.name: p.read_text() for p in (course_clone / "work").glob("*.ipynb")}
        yield server
    finally:
        stop(server)


def stop(server: LabServer) -> None:
    """Shut the kernels down through the API, then stop make and jupyter by process group."""
    if server.proc.poll() is None:
        try:
            for kernel in server.api("GET", "kernels"):
                server.api("DELETE", f"kernels/{kernel['id']}")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(server.proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.proc.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        if in_ci():
            pytest.fail(f"CI=true but {CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); CI runs this test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def lab_page(browser, server: LabServer, path: str, viewport=(1280, 900)):
    """A new page with ``path`` (relative to work/) open in the server's JupyterLab."""
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    page.set_default_timeout(PAGE_S * 1000)
    page.goto(f"{server.url}/lab/tree/{path}?token={server.token}")
    # the notebook asked for, in front (the Lab may also restore tabs an earlier test opened)
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").first.wait_for()
    deadline = time.monotonic() + STARTUP_S  # the page's websocket is connected to its kernel
    while not any(
        s["path"] == path and s["kernel"]["connections"] > 0 for s in server.api("GET", "sessions")
    ):
        assert time.monotonic() < deadline, f"the Lab page never connected to a kernel for {path}"
        time.sleep(0.5)
    wait_kernel_idle(page)
    return page


def wait_kernel_idle(page, timeout_ms: int = IDLE_S * 1000) -> None:
    """Wait until the status bar says the kernel is idle (the toolbar's indicator alone says
    idle before the page has connected to its kernel)."""
    page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) [data-status="idle"]').first.wait_for(
        timeout=timeout_ms
    )
    page.locator(".jp-StatusBar-Widget", has_text="| Idle").first.wait_for(timeout=timeout_ms)


def run_all_cells(page, timeout_ms: int = RUN_ALL_S * 1000) -> None:
    """Run > Run All Cells, as a student does, then wait until every code cell has run."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll(
                '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=timeout_ms,
    )
    wait_kernel_idle(page, timeout_ms)


SCREENSHOTS_ENV = "COURSE_SCREENSHOTS"  # a folder: the README's screenshots are written there


def screenshot(page, name: str, tmp_path: Path) -> Path:
    """Save a screenshot in the test's temporary folder, and also as ``<folder>/<name>`` when
    ``COURSE_SCREENSHOTS=<folder>`` asks for it (README's pictures: docs/screenshots). A
    default test run never writes into the clone."""
    shot = tmp_path / name
    page.screenshot(path=str(shot))
    print(f"screenshot: {shot}")
    folder = os.environ.get(SCREENSHOTS_ENV)
    if folder:
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target / name)
    return shot
