"""Sphinx configuration for jaxdecay's documentation.

Build: ``pip install -e ".[docs]"``, then
``sphinx-build -W --keep-going -b html docs docs/_build/html``.
The build needs no network: the gallery is drawn locally, and MathJax is only loaded by the
browser that opens the pages.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # the jaxdecay in this checkout, not another installed one
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("KERAS_BACKEND", "jax")

import jaxdecay  # noqa: E402

project = "jaxdecay"
author = "jaxdecay developers"
copyright = "jaxdecay developers"
release = jaxdecay.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
    "jaxdecay_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

autosummary_generate = True
autodoc_default_options = {"members": True, "undoc-members": False}
autodoc_member_order = "bysource"
# Signatures without annotations: jax.typing.ArrayLike would be expanded into its dozen-member
# union on every argument; the Args sections say what each argument takes.
autodoc_typehints = "none"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True

myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"jaxdecay {release}"
html_static_path = ["_static"]
pygments_style = "sphinx"
