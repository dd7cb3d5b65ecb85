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
    "sphinx.ext.intersphinx",
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
html_css_files = ["cunitary.css"]

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

# -- links to torch and Python without a network ------------------------------------------
# intersphinx reads an inventory from a local file: the names below, the only torch and
# Python objects the docs refer to, are written into one at build time (format v2), so
# that every ``torch.nn.Module`` of a signature or a "Bases:" line is a link and the build
# stays offline.
TORCH_DOCS = "https://pytorch.org/docs/stable/"
TORCH_OBJECTS = {
    # name: (role, page)
    "torch.nn.Module": ("class", "generated/torch.nn.Module.html"),
    "torch.nn.modules.module.Module": ("class", "generated/torch.nn.Module.html#torch.nn.Module"),
    "torch.nn.Conv2d": ("class", "generated/torch.nn.Conv2d.html"),
    "torch.nn.GELU": ("class", "generated/torch.nn.GELU.html"),
    "torch.nn.LSTM": ("class", "generated/torch.nn.LSTM.html"),
    "torch.nn.GRU": ("class", "generated/torch.nn.GRU.html"),
    "torch.nn.Parameter": ("class", "generated/torch.nn.parameter.Parameter.html"),
    "torch.Tensor": ("class", "tensors.html"),
    "torch.dtype": ("class", "tensor_attributes.html"),
    "torch.device": ("class", "tensor_attributes.html"),
    "torch.Generator": ("class", "generated/torch.Generator.html"),
    "torch.optim.Optimizer": ("class", "optim.html"),
    "torch.optim.optimizer.Optimizer": ("class", "optim.html#torch.optim.Optimizer"),
    "torch.optim.RMSprop": ("class", "generated/torch.optim.RMSprop.html"),
    "torch.optim.Adam": ("class", "generated/torch.optim.Adam.html"),
    "torch.utils.data.Dataset": ("class", "data.html"),
    "torch.utils.data.dataset.Dataset": ("class", "data.html#torch.utils.data.Dataset"),
    "torch.nn.utils.parametrizations.orthogonal": (
        "function", "generated/torch.nn.utils.parametrizations.orthogonal.html"),
    "torch.nn.utils.parametrize.cached": (
        "function", "generated/torch.nn.utils.parametrize.cached.html"),
    "torch.nn.utils.clip_grad_value_": (
        "function", "generated/torch.nn.utils.clip_grad_value_.html"),
    "torch.rot90": ("function", "generated/torch.rot90.html"),
    # the names the docstrings and signatures use for the same objects
    "nn.Module": ("class", "generated/torch.nn.Module.html#torch.nn.Module"),
    "Tensor": ("class", "tensors.html#torch.Tensor"),
    "torch.nn.modules.conv.Conv2d": ("class", "generated/torch.nn.Conv2d.html#torch.nn.Conv2d"),
    "torch.nn.parameter.Parameter": (
        "class", "generated/torch.nn.parameter.Parameter.html#torch.nn.parameter.Parameter"),
    "torch._C.Generator": ("class", "generated/torch.Generator.html#torch.Generator"),
}  # fmt: skip
PYTHON_DOCS = "https://docs.python.org/3/"
PYTHON_OBJECTS = {
    "object": ("class", "library/functions.html"),
    "os.PathLike": ("class", "library/os.html"),
    **{f"collections.abc.{name}": ("class", "library/collections.abc.html")
       for name in ("Callable", "Sequence", "Iterable", "Iterator")},
}  # fmt: skip
NUMPY_DOCS = "https://numpy.org/doc/stable/"
NUMPY_OBJECTS = {
    "numpy.ndarray": ("class", "reference/generated/numpy.ndarray.html"),
    "np.ndarray": ("class", "reference/generated/numpy.ndarray.html#numpy.ndarray"),
    "numpy.random._generator.Generator": (
        "class", "reference/random/generator.html#numpy.random.Generator"),
}  # fmt: skip


def _inventory(path: Path, project: str, objects: dict[str, tuple[str, str]]) -> str:
    import zlib

    lines = []
    for name, (role, page) in objects.items():
        uri = page if "#" in page else f"{page}#$"
        lines.append(f"{name} py:{role} 1 {uri} -")
    header = (f"# Sphinx inventory version 2\n# Project: {project}\n# Version: \n"
              "# The remainder of this file is compressed using zlib.\n")  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header.encode() + zlib.compress(("\n".join(lines) + "\n").encode()))
    return str(path)


_inventories = Path(__file__).parent / "_build" / "inventories"
intersphinx_mapping = {
    "torch": (TORCH_DOCS, _inventory(_inventories / "torch.inv", "PyTorch", TORCH_OBJECTS)),
    "python": (PYTHON_DOCS, _inventory(_inventories / "python.inv", "Python", PYTHON_OBJECTS)),
    "numpy": (NUMPY_DOCS, _inventory(_inventories / "numpy.inv", "NumPy", NUMPY_OBJECTS)),
}


def _private(cls: type) -> bool:
    """A helper the reader cannot import by a public name (``_Cell``, ``cunitary._module``)."""
    path = [*cls.__module__.split("."), cls.__name__]
    return cls.__module__.startswith("cunitary") and any(p.startswith("_") for p in path)


def _public_bases(app, name, obj, options, bases: list) -> None:
    """Show a class's nearest public ancestors, not the private helpers it derives from."""
    public = []
    for base in bases:
        while _private(base) and base.__bases__:
            base = base.__bases__[0]
        if base not in public:
            public.append(base)
    bases[:] = public


def setup(app) -> None:
    app.connect("autodoc-process-bases", _public_bases)


nitpicky = False
