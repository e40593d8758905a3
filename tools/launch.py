"""The lessons' launch buttons (Colab, Binder) and the setup cell's install step, in one place.

    python tools/launch.py          # write them into every lesson (idempotent)
    python tools/launch.py --check  # exit 1 naming each lesson that lacks them (tests run this)

The repository's address is CITATION.cff's ``repository-code`` (the only place it is written):
after the course moves, change it there and run this once; README's badges are checked against
it by tests/test_launch.py.

Each lesson gets, and only these:
- in its first Markdown cell, one line under the title: the "Open in Colab" and "launch binder"
  badges, linking to that lesson;
- at the top of its setup cell (the first code cell), ``setup_lines``: where ``vaelib`` cannot
  be imported (Colab, or any Python without the course) they clone the repository into
  ``vae-course/`` beside the notebook, install it with pip (editable) and put it on the
  kernel's path; anywhere else they do nothing. The data then comes as it does for everyone:
  ``vaelib.data.load_dataset`` reads Fashion-MNIST where it is installed and, where it is not
  (Colab), downloads it through torchvision into the clone's ``data/``.
The setup cell keeps its own lines below them.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"
MARKER = "# Colab, or a Python without the course:"  # the first of SETUP_LINES


def repository_url(citation: Path = ROOT / "CITATION.cff") -> str:
    """The repository's https address, CITATION.cff's ``repository-code`` (no trailing /)."""
    text = Path(citation).read_text(encoding="utf-8")
    found = re.search(r"^repository-code:\s*\"?([^\"\s]+)\"?\s*$", text, re.M)
    if found is None or not found.group(1).startswith("https://github.com/"):
        raise ValueError(
            f'{citation} needs repository-code: "https://github.com/OWNER/REPO" (the address '
            "the badges, Colab's install and the website link to)"
        )
    return found.group(1).rstrip("/")


def slug(repository: str) -> str:
    """``OWNER/REPO`` of a GitHub address."""
    return "/".join(repository.rstrip("/").split("/")[-2:])


def colab_url(repository: str, notebook: str) -> str:
    return f"https://colab.research.google.com/github/{slug(repository)}/blob/main/notebooks/{notebook}"


def binder_url(repository: str, notebook: str | None = None) -> str:
    path = f"lab/tree/notebooks/{notebook}" if notebook else "lab"
    return f"https://mybinder.org/v2/gh/{slug(repository)}/main?urlpath={path}"


def badge_line(repository: str, notebook: str) -> str:
    """The Markdown line of a lesson's two launch badges."""
    return (
        f"[![Open in Colab]({COLAB_BADGE})]({colab_url(repository, notebook)}) "
        f"[![Launch on Binder]({BINDER_BADGE})]({binder_url(repository, notebook)})"
    )


def setup_lines(repository: str) -> str:
    """The first lines of every setup cell: where vaelib is missing, clone the course and
    install it (editable, so the clone's data/, docs/ and solutions/ are the course's own),
    then put the clone on this kernel's path; elsewhere nothing runs."""
    return f"""{MARKER} fetch it first (a no-op where vaelib imports)
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("vaelib") is None:
    COURSE = "{repository}"
    if not os.path.isdir("vae-course"):
        subprocess.run(["git", "clone", "-q", "--depth", "1", COURSE, "vae-course"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "vae-course"], check=True)
    sys.path.insert(0, os.path.abspath("vae-course"))
"""


def lessons(folder: Path = ROOT / "notebooks") -> list[Path]:
    return sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))


def _cells(nb) -> tuple:
    markdown = next(c for c in nb.cells if c.cell_type == "markdown")
    setup = next(c for c in nb.cells if c.cell_type == "code")
    return markdown, setup


def with_badges(source: str, line: str) -> str:
    """``source`` with ``line`` under its title, replacing an older badge line."""
    lines = source.split("\n")
    kept = [x for x in lines if not (x.startswith("[![Open in Colab]") and BINDER_BADGE in x)]
    title = next(i for i, x in enumerate(kept) if x.startswith("# "))
    rest = kept[title + 1 :]
    while rest and not rest[0].strip():
        rest = rest[1:]
    return "\n".join([*kept[: title + 1], "", line, "", *rest])


def with_setup(source: str, lines: str) -> str:
    """``source`` with ``lines`` at its top, replacing an older copy of them."""
    if source.startswith(MARKER):
        old = source.split("\n\n", 2)  # marker+imports, the if block, the cell's own lines
        source = old[2] if len(old) == 3 else ""
    return f"{lines}\n{source}"


def apply(path: Path, repository: str) -> bool:
    """Write the badges and the setup lines into one lesson; True when it changed."""
    nb = nbformat.read(path, as_version=4)
    markdown, setup = _cells(nb)
    new_md = with_badges(markdown.source, badge_line(repository, path.name))
    new_setup = with_setup(setup.source, setup_lines(repository))
    if (new_md, new_setup) == (markdown.source, setup.source):
        return False
    markdown.source, setup.source = new_md, new_setup
    nbformat.write(nb, path)
    return True


def problems(path: Path, repository: str) -> list[str]:
    """What a lesson lacks: its badge line, its setup lines (empty when it has both)."""
    nb = nbformat.read(path, as_version=4)
    markdown, setup = _cells(nb)
    found = []
    if badge_line(repository, path.name) not in markdown.source.split("\n"):
        found.append(f"{path.name}: its first Markdown cell lacks the launch badges")
    if not setup.source.startswith(setup_lines(repository)):
        found.append(f"{path.name}: its setup cell does not start with the install lines")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if any lacks")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    args = parser.parse_args(argv)
    repository = repository_url()
    if args.check:
        found = [p for path in lessons(args.notebooks) for p in problems(path, repository)]
        for problem in found:
            print(problem, file=sys.stderr)
        if found:
            print("run: python tools/launch.py", file=sys.stderr)
        return 1 if found else 0
    for path in lessons(args.notebooks):
        print(f"{path.name}: {'updated' if apply(path, repository) else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
