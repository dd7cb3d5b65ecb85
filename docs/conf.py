"""Sphinx configuration for the cunitary documentation."""

import importlib.util
import shutil
from pathlib import Path

project = "cunitary"
author = "cunitary developers"
copyright = "2026, cunitary developers"
release = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
# A module's undocumented forward/extra_repr would show torch's generic docstrings (35
# copies on the API page); without inheritance they are left out.
autodoc_inherit_docstrings = False
napoleon_google_docstring = True
napoleon_numpy_docstring = True
exclude_patterns = ["_build", "_generated"]
html_theme = "furo"
html_static_path = ["_static", "_build/mathjax-static"]

# MathJax from a package (jupyter-server-mathjax ships MathJax 2.7 as a wheel) instead of
# a CDN, so that the formulas render without a network. Copied under _static/mathjax/.
_mathjax = importlib.util.find_spec("jupyter_server_mathjax")
if _mathjax is None:
    raise RuntimeError("pip install jupyter-server-mathjax (cunitary[dev]) to build the docs")
_target = Path(__file__).parent / "_build" / "mathjax-static" / "mathjax"
if not (_target / "MathJax.js").exists():
    shutil.copytree(Path(_mathjax.submodule_search_locations[0]) / "static", _target,
                    dirs_exist_ok=True)  # fmt: skip
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
# The package ships MathJax's STIX-Web fonts only: left to its default (TeX fonts) MathJax
# fails on some glyphs (every prime was "[Math Processing Error]"), so name STIX-Web.
mathjax2_config = {
    "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web",
                 "imageFont": None},
    "SVG": {"font": "STIX-Web"},
}  # fmt: skip
html_title = "cunitary"
nitpicky = False
