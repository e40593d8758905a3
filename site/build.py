"""Build the course website from the committed, executed notebooks (make site), offline.

    python site/build.py [--notebooks notebooks] [--out build/site]

Stages the sources in ``<out>-src`` (never writes into notebooks/ or solutions/), then runs
Sphinx (myst-nb, sphinx-book-theme; see site/conf.py) on them:

- ``index.md``: README's title, first paragraph and course table (lesson links to their pages),
  the deck and the launch badges, and the table of contents;
- ``notebooks/NN_topic.ipynb``: each lesson as committed (outputs shown, nothing executed);
  the staged copy drops saved widget state (it would need a widget manager from a CDN), points
  the exercise links at the solutions pages, and shows the launch badges from the site itself;
- ``solutions/NN_topic.md``: each lesson's solutions module as a page;
- the deck rendered by ``make slides`` (``slides/vae.html``) and the ``pics/`` it shows;
- MathJax 3 from npm's ``mathjax-full`` (``npm ci``), so no page loads anything from the network.

A lesson committed without outputs (``make figures`` executes them all) is built all the same,
with a warning naming it; tests/test_site.py fails on any lesson page without a figure.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from launch import binder_url, colab_url, repository_url  # noqa: E402 (tools/ is not a package)

SITE = ROOT / "site"
MATHJAX = ROOT / "node_modules" / "mathjax-full" / "es5"
# What tex-chtml.js loads at run time: TeX extensions (autoload), the CHTML fonts, the menu's
# accessibility parts. The SVG output and the large speech rule engine are left out.
MATHJAX_PARTS = ["tex-chtml.js", "input", "output/chtml", "ui", "a11y", "adaptors", "sre"]
BADGES = {  # the badges' public images -> the copies the site serves itself
    "https://mybinder.org/badge_logo.svg": "badge-binder.svg",
    "https://colab.research.google.com/assets/colab-badge.svg": "badge-colab.svg",
}
LINK = re.compile(r"\]\((?:\.\./)?notebooks/(\d\d_[A-Za-z0-9_]+)\.ipynb\)")


def lessons(notebooks: Path) -> list[Path]:
    found = sorted(notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no lesson notebooks (NN_topic.ipynb) in {notebooks}")
    return found


def readme_parts(readme: str) -> tuple[str, str, str]:
    """README's title, first paragraph and course table (the first Markdown table)."""
    lines = readme.splitlines()
    title = next(line[2:].strip() for line in lines if line.startswith("# "))
    start = next(i for i, line in enumerate(lines) if line.startswith("# ")) + 1
    paragraph: list[str] = []
    for line in lines[start:]:
        if line.strip() == "" and paragraph:
            break
        if line.strip() and not line.startswith(("[![", "<")):
            paragraph.append(line)
    first = next(i for i, line in enumerate(lines) if line.startswith("| #"))
    table = []
    for line in lines[first:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return title, "\n".join(paragraph), "\n".join(table)


def lesson_title(nb) -> str:
    first = next(c for c in nb.cells if c.cell_type == "markdown")
    return next(line[2:].strip() for line in first.source.splitlines() if line.startswith("# "))


def home_page(readme: str, lesson_paths: list[Path], solved: list[str], links: dict) -> str:
    title, paragraph, table = readme_parts(readme)
    table = LINK.sub(r"](notebooks/\1.ipynb)", table)
    lesson_toc = "\n".join(f"notebooks/{p.stem}" for p in lesson_paths)
    solution_toc = "\n".join(f"solutions/{stem}" for stem in solved)
    return f"""# {title}

[![Launch on Binder](_static/badge-binder.svg)]({links["binder"]})
[![Open in Colab](_static/badge-colab.svg)]({links["colab"]})

{paragraph}

<a class="vae-course-deck" href="slides/vae.html"><strong>The lecture slides</strong></a> (the deck every lesson's figures come from; press
F for full screen). The code, the data set's instructions and the tests are in the
[repository]({links["repository"]}).

## The lessons

{table}

Each lesson page shows the notebook as committed, executed in full mode, with every output and
figure; the launch buttons at the top of a page run it on Binder or Colab. The worked solutions
of the exercises are under *Solutions*.

```{{toctree}}
:caption: Lessons
:maxdepth: 1

{lesson_toc}
```

```{{toctree}}
:caption: Solutions
:maxdepth: 1

{solution_toc}
```
"""


def solution_page(path: Path, title: str) -> str:
    return f"""# Solutions: {title}

Try each exercise in [the lesson](../notebooks/{path.stem}.ipynb) first: its self-check says
whether you are right and, if not, where to look. This is `solutions/{path.name}` as committed.

```{{literalinclude}} {path.name}
:language: python
```
"""


def pad_display_math(text: str) -> str:
    """Blank lines around each ``$$`` display block of a Markdown cell (outside code fences).

    Jupyter's Markdown renders a ``$$`` block that starts right under a paragraph line; MyST's
    parser reads it as part of that paragraph, where a math line starting with ``- `` or ``+ ``
    then begins a list and the math is left raw. A blank line before and after changes nothing
    in Jupyter and makes every such block display math for MyST."""
    out: list[str] = []
    lines = text.split("\n")
    fence = math = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")) and not math:
            fence = not fence
        opens = not fence and not math and stripped.startswith("$$")
        one_line = opens and len(stripped) > 4 and stripped.endswith("$$")
        if opens and out and out[-1].strip():
            out.append("")
        out.append(line)
        if opens and not one_line:
            math = True
            continue
        closes = math and stripped.endswith("$$")
        if closes:
            math = False
        if (closes or one_line) and i + 1 < len(lines) and lines[i + 1].strip():
            out.append("")
    return "\n".join(out)


def stage_lesson(src: Path, dst: Path) -> tuple[str, int, set[str]]:
    """Copy one lesson for the site; return its title, how many image outputs it has and the
    repository files its text links to (``../docs/x.md``: ``docs/x.md``)."""
    nb = nbformat.read(src, as_version=4)
    nb.metadata.pop("widgets", None)
    images, linked = 0, set()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            linked |= set(re.findall(r"\]\(\.\./((?!solutions/|notebooks/)[^)#\s]+)", cell.source))
            text = re.sub(
                r"\.\./solutions/(\d\d_[A-Za-z0-9_]+)\.py\)", r"../solutions/\1.md)", cell.source
            )
            for public, local in BADGES.items():
                text = text.replace(public, f"../_static/{local}")
            cell.source = pad_display_math(text)
        elif cell.cell_type == "code":
            images += sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
    nbformat.write(nb, dst)
    return lesson_title(nb), images, linked


def favicon(path: Path) -> None:
    """A 32x32 favicon.ico (the deck has no icon link, and a browser then asks for /favicon.ico)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (32, 32), (31, 95, 139, 255))
    ImageDraw.Draw(image).text((5, 10), "VAE", fill=(255, 255, 255, 255))
    image.save(path, format="ICO", sizes=[(32, 32)])


def stage(notebooks: Path, staging: Path, deck: Path, mathjax: Path) -> list[str]:
    """Write the site's sources into ``staging``; return warnings (lessons without figures)."""
    if not deck.is_file():
        raise FileNotFoundError(f"{deck} is missing: `make slides` renders the deck first")
    if not (mathjax / "tex-chtml.js").is_file():
        raise FileNotFoundError(f"{mathjax} is missing: `npm ci` installs mathjax-full")
    if staging.exists():
        shutil.rmtree(staging)
    for sub in ("notebooks", "solutions", "_static", "_templates", "_extra/slides"):
        (staging / sub).mkdir(parents=True)
    shutil.copy2(SITE / "conf.py", staging / "conf.py")
    for folder in ("_static", "_templates"):
        shutil.copytree(SITE / folder, staging / folder, dirs_exist_ok=True)
    for part in MATHJAX_PARTS:
        src = mathjax / part
        dst = staging / "_static" / "mathjax" / part
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        elif src.is_file():
            shutil.copy2(src, dst)
    shutil.copy2(deck, staging / "_extra" / "slides" / "vae.html")
    favicon(staging / "_extra" / "favicon.ico")
    shutil.copytree(ROOT / "pics", staging / "_extra" / "pics")

    warnings, solved, linked = [], [], set()
    paths = lessons(notebooks)
    for path in paths:
        title, images, links = stage_lesson(path, staging / "notebooks" / path.name)
        linked |= links
        if images == 0:
            warnings.append(
                f"{path.name} has no figure in its outputs: commit it executed (make figures)"
            )
        solution = ROOT / "solutions" / f"{path.stem}.py"
        if solution.is_file():
            shutil.copy2(solution, staging / "solutions" / solution.name)
            (staging / "solutions" / f"{path.stem}.md").write_text(
                solution_page(solution, title), encoding="utf-8"
            )
            solved.append(path.stem)
        else:
            warnings.append(f"{path.name} has no solutions/{path.stem}.py")
    for name in sorted(linked):  # a page for a linked .md, a download for any other file
        src, dst = ROOT / name, staging / name
        if not src.is_file():
            continue  # Sphinx (-W) fails on the broken link, naming the lesson
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix == ".md":
            text = src.read_text(encoding="utf-8")
            dst.write_text("---\norphan: true\n---\n" + text, encoding="utf-8")
        else:
            shutil.copy2(src, dst)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    repository = repository_url(ROOT / "CITATION.cff")
    links = {  # the launch links of the home page and of every page's sidebar (site/conf.py)
        "repository": repository,
        "binder": binder_url(repository),
        "colab": colab_url(repository, paths[0].name),
    }
    (staging / "settings.json").write_text(json.dumps(links), encoding="utf-8")
    (staging / "index.md").write_text(home_page(readme, paths, solved, links), encoding="utf-8")
    return warnings


def build(notebooks: Path, out: Path, deck: Path, mathjax: Path, strict: bool = True) -> int:
    from sphinx.cmd.build import build_main

    staging = out.parent / f"{out.name}-src"
    for warning in stage(notebooks, staging, deck, mathjax):
        print(f"WARNING: {warning}", file=sys.stderr)
    args = ["-b", "html", "-q", "-E", "-d", str(out.parent / f"{out.name}-doctrees")]
    if strict:
        args += ["-W", "--keep-going"]
    rc = build_main([*args, str(staging), str(out)])
    if rc == 0:
        print(f"==> the site: {out / 'index.html'}")
    return rc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("--deck", type=Path, default=ROOT / "slides" / "vae.html")
    parser.add_argument("--mathjax", type=Path, default=MATHJAX)
    parser.add_argument("--no-strict", action="store_true", help="Sphinx warnings do not fail")
    args = parser.parse_args(argv)
    return build(args.notebooks, args.out.resolve(), args.deck, args.mathjax, not args.no_strict)


if __name__ == "__main__":
    sys.exit(main())
