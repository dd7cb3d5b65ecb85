"""Render the documentation's results tables (and curve figures) from committed JSON.

    python -m experiments.docs_tables            # writes docs/_generated/*.rst and figures
    python -m experiments.docs_tables --check    # exit 1 if a table differs from its JSON

Every number on the results pages comes from a file under ``docs/results/`` written by
the command that measured it (each folder's README or ``config.json`` names it). The
pages ``.. include::`` the tables rendered here, so a table cannot drift from its file;
``tests/test_docs_tables.py`` runs the check. The renderers live in
:mod:`experiments.tables`, one module per study page.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from . import tables as studies
from .tables._common import GENERATED, relative

#: Every page's table, by the name its page includes (``docs/_generated/<name>``).
TABLES: dict[str, Callable[[], str]] = studies.tables()


def render_all() -> dict[str, str]:
    return {name: make() for name, make in TABLES.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    if not args.check:  # first: a table that shows a figure renders once the figure exists
        for draw in studies.figures():
            draw()
    tables = render_all()
    if args.check:
        stale = [n for n, t in tables.items() if not (GENERATED / n).exists()
                 or (GENERATED / n).read_text() != t]  # fmt: skip
        for name in stale:
            print(f"docs/_generated/{name} differs from its JSON", file=sys.stderr)
        return 1 if stale else 0
    from . import runner

    for name, text in tables.items():
        runner.write_text(GENERATED / name, text)
    print(f"wrote {len(tables)} tables to {relative(GENERATED)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
