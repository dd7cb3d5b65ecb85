"""The results pages' tables and figures, one renderer module per study.

Each study module holds what is its own and exposes two things:

* ``TABLES``: ``{"name.rst": render}``; ``render()`` returns the rst that the study's page
  includes as ``docs/_generated/name.rst``, computed from committed JSON under
  ``docs/results/``;
* ``FIGURES``: functions that draw the study's curve figures into ``docs/_static/``.

Adding a result set means adding an entry (and, if it needs one, a renderer) to its study's
module; :mod:`experiments.docs_tables` writes and checks them all.
"""

from __future__ import annotations

from collections.abc import Callable

from . import (
    benchmarks,
    dynamic_filters,
    long_memory,
    memory_tasks,
    moving_mnist,
    moving_mnist_verdict,
    stability,
    verdicts,
)

#: The studies, in the order of the results pages.
STUDIES = (verdicts, moving_mnist_verdict, moving_mnist, long_memory, memory_tasks, stability,
           dynamic_filters, benchmarks)  # fmt: skip


def tables() -> dict[str, Callable[[], str]]:
    """Every study's ``TABLES``; a name claimed by two studies is an error."""
    found: dict[str, Callable[[], str]] = {}
    for study in STUDIES:
        for name, render in study.TABLES.items():
            if name in found:
                raise ValueError(f"{study.__name__} renders {name}, which another study renders")
            found[name] = render
    return found


def figures() -> list[Callable[[], None]]:
    return [draw for study in STUDIES for draw in study.FIGURES]
