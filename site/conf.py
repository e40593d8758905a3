"""Sphinx configuration of the course website (make site; site/build.py stages its sources).

Sphinx with myst-nb (Jupyter Book 1's stack) and sphinx-book-theme: every theme asset ships in
the PyPI wheels and MathJax is copied from npm's mathjax-full (package-lock.json), so neither the
build nor the pages fetch anything. The notebooks are rendered as committed: never executed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SOURCE = Path(__file__).resolve().parent  # the staged sources (build/site-src)


LINKS = json.loads((SOURCE / "settings.json").read_text())  # written by site/build.py
REPOSITORY = LINKS["repository"]

project = "vae-course"
author = "vae-course contributors"
copyright = "vae-course contributors; code MIT, text and figures CC BY 4.0"
extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "_extra", "solutions/*.py"]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_extra_path = ["_extra"]  # the rendered deck (slides/vae.html) and the pics/ it shows
html_css_files = ["site.css"]
html_js_files = [("search-excerpts.js", {"defer": "defer", "priority": 900})]  # after searchtools
html_title = "vae-course: Variational Autoencoders, executable"
html_last_updated_fmt = None
html_copy_source = False  # the launch buttons open the repository's notebook, not a copy

# The notebooks as committed: executed in full mode by `make figures`, never re-run here.
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # no require.js/widget manager from a CDN: widgets show their text
nb_mime_priority_overrides = [("*", "application/vnd.jupyter.widget-view+json", None)]
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# MathJax 3 from npm (mathjax-full's es5 bundle, copied to _static/mathjax by site/build.py).
mathjax_path = "mathjax/tex-chtml.js"

html_theme = "sphinx_book_theme"
html_theme_options = {
    "repository_url": REPOSITORY,
    "repository_branch": "main",
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": False,
    "launch_buttons": {
        "binderhub_url": "https://mybinder.org",
        "colab_url": "https://colab.research.google.com",
        "notebook_interface": "jupyterlab",
    },
    "show_navbar_depth": 1,
    "navigation_with_keys": False,
}
html_sidebars = {
    "**": ["navbar-logo.html", "search-button-field.html", "deck-link.html", "sbt-sidebar-nav.html"]
}
# default_mode: the theme reads it in JavaScript; unset, it logs a console error on every page.
html_context = {"launch": LINKS, "default_mode": "auto"}
html_favicon = "_static/favicon.svg"  # else the browser asks for /favicon.ico (a 404)

# A build for the published site may set SITE_URL (the Pages workflow does): canonical links.
if os.environ.get("SITE_URL"):
    html_baseurl = os.environ["SITE_URL"]
