"""Launching the course elsewhere: the lessons' Colab install lines, the badges, binder/.

Nothing here reaches Colab or Binder (they are not reachable from a test machine); what runs:
- every lesson starts with the badges and the install lines tools/launch.py writes;
- those lines, executed with a mocked ``find_spec`` and ``subprocess.run``: where ``vaelib`` is
  missing (Colab) they clone CITATION.cff's repository and pip-install it (editable), and where
  it imports (a clone, ``make lab``, nbval, Binder) they run nothing;
- in such a clone, the data comes through torchvision's download (mocked);
- binder/: its requirements resolve from the package index in a fresh venv (``pip install
  --dry-run``), its apt.txt installs with apt (``apt-get install --dry-run``), its postBuild
  installs this clone's vaelib and finds the data;
- README's badges and site link use the repository that CITATION.cff names.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from _lab import ROOT, in_ci

sys.path.insert(0, str(ROOT / "tools"))
import launch  # noqa: E402

REPOSITORY = launch.repository_url()


def run_setup_lines(monkeypatch, tmp_path, vaelib_found: bool) -> list:
    """Execute the setup cell's first lines in ``tmp_path`` (a notebook's folder) with
    find_spec and subprocess.run mocked; return the commands they ran."""
    calls = []
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name == "vaelib":
            return real_find_spec(name) if vaelib_found else None
        return real_find_spec(name, *args, **kwargs)

    def run(args, **kwargs):
        calls.append((args, kwargs))
        return subprocess.CompletedProcess(args, 0)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the lines insert the clone: undone after
    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(subprocess, "run", run)
    exec(compile(launch.setup_lines(REPOSITORY), "<setup cell>", "exec"), {})
    return calls


def test_every_lesson_has_its_badges_and_the_install_lines():
    problems = [p for path in launch.lessons() for p in launch.problems(path, REPOSITORY)]
    assert problems == [], "\n".join(problems) + "\nrun: python tools/launch.py"
    assert len(launch.lessons()) >= 8


def test_setup_lines_install_the_course_where_vaelib_is_missing(monkeypatch, tmp_path):
    """Colab: no vaelib. The lines clone the repository beside the notebook, install it
    (editable) and put the clone first on the kernel's path, so ``import vaelib`` works at once."""
    calls = run_setup_lines(monkeypatch, tmp_path, vaelib_found=False)
    assert calls == [
        (["git", "clone", "-q", "--depth", "1", REPOSITORY, "vae-course"], {"check": True}),
        ([sys.executable, "-m", "pip", "install", "-q", "-e", "vae-course"], {"check": True}),
    ]
    assert sys.path[0] == str(tmp_path / "vae-course")


def test_setup_lines_after_a_kernel_restart_reuse_the_clone(monkeypatch, tmp_path):
    (tmp_path / "vae-course").mkdir()  # cloned by an earlier run of the cell
    calls = run_setup_lines(monkeypatch, tmp_path, vaelib_found=False)
    assert [args[:2] for args, _ in calls] == [[sys.executable, "-m"]]  # pip only, no clone


def test_setup_lines_do_nothing_where_vaelib_imports(monkeypatch, tmp_path):
    assert importlib.util.find_spec("vaelib") is not None  # this clone, as in make lab and nbval
    before = list(sys.path)
    assert run_setup_lines(monkeypatch, tmp_path, vaelib_found=True) == []
    assert sys.path == before


def test_a_fresh_install_downloads_the_data_through_torchvision(monkeypatch, tmp_path):
    """Colab: vaelib from the fresh clone, no data anywhere: load_dataset asks torchvision to
    download into the clone's data/."""
    from torchvision import datasets

    from vaelib import data, datafiles, runtime

    calls = []

    def fake_fashion_mnist(root, train, download):  # torchvision.datasets.FashionMNIST
        calls.append((Path(root), train, download))

    monkeypatch.setattr(runtime, "REPO_ROOT", tmp_path / "vae-course")
    monkeypatch.setitem(datafiles.SYSTEM_DIRS, "fashion-mnist", str(tmp_path / "no-system-data"))
    monkeypatch.delenv("VAELIB_DATA", raising=False)
    monkeypatch.setenv("VAELIB_NO_DOWNLOAD", "0")
    monkeypatch.setattr(datafiles, "_network_allows", lambda *a, **k: True)
    monkeypatch.setattr(datasets, "FashionMNIST", fake_fashion_mnist)
    with pytest.raises(FileNotFoundError):  # the fake downloads nothing
        data.load_dataset("fashion-mnist", "test")
    target = tmp_path / "vae-course" / "data"
    assert calls == [(target, True, True), (target, False, True)]


def test_the_badges_and_the_install_lines_name_one_repository(tmp_path):
    nb = tmp_path / "01_x.ipynb"
    cells = [
        nbformat.v4.new_markdown_cell("# Lesson 01: x\n\nText."),
        nbformat.v4.new_code_cell("import torch\n\nimport vaelib"),
    ]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), nb)
    assert launch.apply(nb, REPOSITORY) and not launch.apply(nb, REPOSITORY)  # idempotent
    assert launch.problems(nb, REPOSITORY) == []
    moved = "https://github.com/someone/elsewhere"
    assert launch.apply(nb, moved) and launch.problems(nb, moved) == []
    got = nbformat.read(nb, as_version=4)
    assert got.cells[0].source.count("[![Open in Colab]") == 1 and REPOSITORY not in str(got)
    assert got.cells[1].source.endswith("\nimport torch\n\nimport vaelib")
    assert got.cells[0].source.startswith("# Lesson 01: x\n\n[![Open in Colab]")
    bad = tmp_path / "CITATION.cff"
    bad.write_text("title: x\n")
    with pytest.raises(ValueError, match="repository-code"):
        launch.repository_url(bad)


def test_readme_links_the_site_and_the_launch_badges():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    owner, repo = launch.slug(REPOSITORY).split("/")
    assert f"https://{owner}.github.io/{repo}/" in readme
    assert launch.binder_url(REPOSITORY) in readme and launch.BINDER_BADGE in readme
    assert f"https://colab.research.google.com/github/{owner}/{repo}" in readme
    citation = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert f'url: "https://{owner}.github.io/{repo}/"' in citation


def requirement_lines(path: Path) -> list[str]:
    return [
        line.split("#")[0].strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.split("#")[0].strip()
    ]


def test_binder_requirements_resolve_in_a_fresh_venv(tmp_path):
    """``pip install --dry-run`` of binder/requirements.txt into a new, empty venv. The line
    naming PyTorch's CPU wheel index is left out (only PyPI is reachable from here)."""
    lines = requirement_lines(ROOT / "binder" / "requirements.txt")
    names = [line for line in lines if not line.startswith("-")]
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # (no tomllib on 3.10)
    deps = re.search(r"^dependencies = \[(.*)\]$", pyproject, re.M).group(1)
    needed = set(re.findall(r'"([^"]+)"', deps)) | {"jupyterlab>=4.2", "ipywidgets>=8.1"}
    assert needed <= set(names), f"binder/requirements.txt lacks {sorted(needed - set(names))}"
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("\n".join(names) + "\n")
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(tmp_path / "venv" / "bin" / "python"),
         "install", "--dry-run", "--quiet", "--report", str(tmp_path / "report.json"),
         "-r", str(reqs)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    installed = {
        item["metadata"]["name"].lower()
        for item in json.loads((tmp_path / "report.json").read_text())["install"]
    }
    assert {"torch", "torchvision", "jupyterlab", "matplotlib", "scikit-learn"} <= installed


def test_binder_apt_packages_install_with_apt():
    packages = requirement_lines(ROOT / "binder" / "apt.txt")
    assert "dataset-fashion-mnist" in packages
    if shutil.which("apt-get") is None:
        if in_ci():
            pytest.fail("CI=true but apt-get is missing: CI runs on Debian")
        pytest.skip("apt-get is missing (not Debian or Ubuntu)")
    proc = subprocess.run(
        ["apt-get", "install", "--dry-run", "--no-install-recommends", *packages],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, (
        proc.stdout[-2000:] + proc.stderr[-2000:] + "\n(apt-get update first if no list is there)"
    )


def test_binder_post_build_installs_vaelib_and_finds_the_data():
    post = ROOT / "binder" / "postBuild"
    assert post.stat().st_mode & 0o111, "binder/postBuild must be executable"
    assert subprocess.run(["bash", "-n", str(post)]).returncode == 0
    text = post.read_text(encoding="utf-8")
    assert "pip install --no-deps -e ." in text and "load_dataset" in text
