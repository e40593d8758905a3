"""What a student gets from ``make lab``: their own workspace, this clone's vaelib, every figure.

The server is started exactly as a student starts it (``make lab`` in a copy of this clone,
see ``_lab.py``); lesson 02 runs through the kernel's websocket as the Lab front end drives it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import nbformat
import pytest
from _lab import LESSON, ROOT, copy_working_tree, figure_saves, git_status, student_env

sys.path.insert(0, str(ROOT / "tools"))
import workspace  # noqa: E402 - tools/ is not a package

WS_PROTOCOL = "v1.kernel.websocket.jupyter.org"  # what JupyterLab 4 asks the server for
CELL_TIMEOUT_S = 600  # the longest wait for one kernel message (a busy machine: issue #21)


def ws_message(msg_type: str, content: dict, session: str) -> tuple[str, dict]:
    msg_id = uuid.uuid4().hex
    header = {
        "msg_id": msg_id,
        "msg_type": msg_type,
        "session": session,
        "username": "student",
        "version": "5.3",
        "date": "",
    }
    return msg_id, {"header": header, "parent_header": {}, "metadata": {}, "content": content}


def run_cells(server, kernel_id: str, sources: list[str]) -> list[list[dict]]:
    """Execute each source in turn over the kernel's websocket; return each one's outputs."""
    import websocket
    from jupyter_server.services.kernels.connection.base import (
        deserialize_msg_from_ws_v1,
        serialize_msg_to_ws_v1,
    )

    url = server.url.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels"
    ws = websocket.create_connection(
        f"{url}?session_id={uuid.uuid4().hex}",
        subprotocols=[WS_PROTOCOL],
        header={"Authorization": f"token {server.token}"},
        timeout=CELL_TIMEOUT_S,
    )
    session = uuid.uuid4().hex
    results = []
    try:
        for source in sources:
            msg_id, msg = ws_message(
                "execute_request",
                {"code": source, "silent": False, "store_history": True, "allow_stdin": False},
                session,
            )
            keys = ("header", "parent_header", "metadata", "content")
            parts = [json.dumps(msg[k]).encode() for k in keys]
            ws.send_binary(serialize_msg_to_ws_v1(parts, "shell"))
            outputs, idle, replied = [], False, False
            while not (idle and replied):
                try:
                    channel, frames = deserialize_msg_from_ws_v1(ws.recv())
                except websocket.WebSocketTimeoutException:
                    pytest.fail(
                        f"no message from the kernel in {CELL_TIMEOUT_S} s while running the "
                        f"cell starting {source.strip().splitlines()[0]!r:.80}"
                    )
                header, parent, _, content = (json.loads(f) for f in frames[:4])
                if parent.get("msg_id") != msg_id:
                    continue
                kind = header["msg_type"]
                if channel == "iopub" and kind == "status":
                    idle = content["execution_state"] == "idle"
                elif channel == "iopub" and kind in {
                    "stream",
                    "display_data",
                    "execute_result",
                    "error",
                }:
                    outputs.append({"output_type": kind, **content})
                elif channel == "shell" and kind == "execute_reply":
                    replied = True
                    if content["status"] != "ok":
                        outputs.append({"output_type": "error", **content})
            results.append(outputs)
    finally:
        ws.close()
    return results


def test_make_lab_workspace_is_the_students_own(lab_server):
    work = lab_server.clone / "work"
    lesson = nbformat.reads(lab_server.made[LESSON], as_version=4)  # before any test ran it
    committed = nbformat.read(lab_server.clone / "notebooks" / LESSON, as_version=4)
    assert all(c.get("outputs", []) == [] for c in lesson.cells if c.cell_type == "code")
    assert not any(workspace.is_solution(c) for c in lesson.cells)
    assert figure_saves(lesson) == figure_saves(committed) > 0
    listing = lab_server.api("GET", "contents")  # the Lab serves work/, nothing else
    names = {item["name"] for item in listing["content"]}
    assert LESSON in names and "notebooks" not in names and "vaelib" not in names
    if (lab_server.clone / "solutions").is_dir():  # copied to work/solutions, served by the Lab
        served = {item["name"] for item in lab_server.api("GET", "contents/solutions")["content"]}
        assert served == {p.name for p in (lab_server.clone / "solutions").iterdir()}
    spec = lab_server.api("GET", "kernelspecs")["kernelspecs"]["python3"]["spec"]
    assert spec["env"]["PYTHONPATH"] == str(lab_server.clone)
    assert spec["env"]["VAELIB_PICS"] == str(work / "pics")


def test_make_lab_runs_a_lesson_showing_every_figure(lab_server):
    """Lesson 02 through the Lab's kernel: no error, one image per figures.save, clean clone."""
    nb = lab_server.api("GET", f"contents/{LESSON}?content=1")["content"]
    sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    session = lab_server.api(
        "POST",
        "sessions",
        {"path": LESSON, "type": "notebook", "name": LESSON, "kernel": {"name": "python3"}},
    )
    try:
        results = run_cells(lab_server, session["kernel"]["id"], sources)
    finally:
        lab_server.api("DELETE", f"sessions/{session['id']}")
    outputs = [o for cell in results for o in cell]
    errors = [o for o in outputs if o["output_type"] == "error"]
    assert errors == [], "\n".join(f"{e.get('ename')}: {e.get('evalue')}" for e in errors)
    setup = "".join(o.get("text", "") for o in results[0] if o["output_type"] == "stream")
    assert "mode: fast" in setup and "vaelib: ../vaelib" in setup, setup  # this clone's vaelib
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    saves = figure_saves(nb)
    assert len(images) >= saves > 0, f"{saves} figures.save calls, {len(images)} images shown"
    saved = sorted((lab_server.clone / "work" / "pics").rglob("*.png"))
    assert len(saved) == saves, saved  # the student's figures live in work/pics
    assert git_status(lab_server.clone) == ""  # nothing tracked changed: pics/ untouched


KERNEL_PROBE = """
import vaelib
print(vaelib.__file__)
print(vaelib.setup_lesson(seed=0))
"""


def kernel_answer(clone, code: str) -> str:
    """Start the workspace's ``python3`` kernel of ``clone`` (found as make lab finds it)."""
    script = f"""
import sys
from jupyter_client.manager import start_new_kernel
km, kc = start_new_kernel(kernel_name="python3", cwd={str(clone / "work")!r})
out = []
try:
    reply = kc.execute_interactive({code!r}, timeout=600,
        output_hook=lambda m: out.append(m["content"].get("text", "")))
    assert reply["content"]["status"] == "ok", reply["content"]
finally:
    kc.stop_channels(); km.shutdown_kernel(now=True)
sys.stdout.write("".join(out))
"""
    env = student_env(JUPYTER_PATH=str(clone / "work" / ".jupyter"), VAELIB_FAST="1")
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout


def test_two_clones_sharing_one_venv_each_import_their_own_vaelib(tmp_path):
    clones = [copy_working_tree(tmp_path / name / "vae-course") for name in ("alice", "bob")]
    for clone in clones:
        subprocess.run(
            ["make", "-s", "workspace"],
            cwd=clone,
            env=student_env(),
            check=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )
        assert (clone / ".venv").resolve() == (ROOT / ".venv").resolve()  # one shared venv
        answer = kernel_answer(clone, KERNEL_PROBE)
        assert answer.splitlines()[0] == str(clone / "vaelib" / "__init__.py"), answer
        assert "vaelib: ../vaelib" in answer, answer


def test_workspace_copies_once_strips_solutions_and_resets_with_a_backup(tmp_path):
    root = tmp_path / "course"
    (root / "notebooks").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("See [solutions/01_x.py](../solutions/01_x.py)."),
        nbformat.v4.new_code_cell("print(1)", execution_count=3),
        nbformat.v4.new_code_cell("# Solution\nanswer = 1"),
        nbformat.v4.new_code_cell("answer = 2", metadata={"tags": ["solution"]}),
    ]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nbformat.write(nb, root / "notebooks" / "01_x.ipynb")
    (root / "solutions").mkdir()
    work = tmp_path / "work"

    assert [p.name for p in workspace.prepare(work, root)] == ["01_x.ipynb"]
    copy = nbformat.read(work / "01_x.ipynb", as_version=4)
    assert [c.source for c in copy.cells] == [
        "See [solutions/01_x.py](solutions/01_x.py).",
        "print(1)",
    ]
    assert copy.cells[1].outputs == [] and copy.cells[1].execution_count is None
    assert not (work / "solutions").is_symlink()  # a read-only copy: tests/test_workspace.py
    spec = json.loads((work / ".jupyter/kernels/python3/kernel.json").read_text())
    assert spec["env"]["PYTHONPATH"] == str(root) and spec["argv"][0] == sys.executable

    copy.cells[1].source = "print('my answer')"  # the student's edit survives prepare
    nbformat.write(copy, work / "01_x.ipynb")
    assert workspace.prepare(work, root) == []
    assert "my answer" in (work / "01_x.ipynb").read_text()

    workspace.reset(work, "1", root)
    assert "my answer" not in (work / "01_x.ipynb").read_text()
    (backup,) = (work / "backups").iterdir()
    assert "my answer" in backup.read_text() and backup.name.startswith("01_x-")


@pytest.mark.parametrize(
    ("lesson", "message"),
    [("1x", "must be a lesson number"), ("9", "is not a lesson: use one of 01")],
)
def test_workspace_reset_names_a_bad_lesson(tmp_path, lesson, message):
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "notebooks" / "01_x.ipynb")
    with pytest.raises(ValueError, match=f"LESSON='{lesson}' {message}"):
        workspace.reset(tmp_path / "work", lesson, tmp_path)
