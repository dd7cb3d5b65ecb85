"""What every study's renderer shares: where results live, the table and figure directives,
and the placeholder for a result not yet committed."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "results"
GENERATED = ROOT / "docs" / "_generated"
STATIC = ROOT / "docs" / "_static"


def load_json(path: Path):
    return json.loads(path.read_text())


def list_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    source: str,
    title: str = "",
    options: Sequence[str] = (),
) -> str:
    """An rst ``list-table``: its caption says in words what it is (``title``), a small
    line under it names the files it was rendered from (``source``); ``options`` are
    further directive options (``":widths: 20 50 30"``)."""
    lines = [f".. list-table:: {title}".rstrip(), "   :header-rows: 1",
             *(f"   {option}" for option in options), ""]  # fmt: skip
    for row in [header, *rows]:
        # a lone "-" would open a bullet list inside the cell: write an en dash
        row = ["\u2013" if cell == "-" else cell for cell in row]
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    lines += ["", ".. rst-class:: table-source", "", f"From ``{source}``."]
    return "\n".join(lines) + "\n"


def column_groups(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    source: str,
    groups: Sequence[Sequence[int]],
    titles: Sequence[str] = (),
) -> str:
    """One table per group of column indices (each repeating the columns that name a row),
    so that a result with many columns fits the page: the first group holds what the
    table is read for, the others what a reader checks it by."""
    titles = [*titles, *[""] * (len(groups) - len(titles))]
    return "\n".join(
        list_table([header[k] for k in group], [[row[k] for k in group] for row in rows],
                   source, title)
        for group, title in zip(groups, titles, strict=True)
    )  # fmt: skip


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def curve_figure(path: Path, title: str, ylabel: str, draw: Callable, legend_size: int) -> None:
    """One axes of training curves: ``draw(ax)`` plots them; labels, legend, grid, saving."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .. import runner

    fig, ax = plt.subplots(figsize=(7, 4))
    draw(ax)
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=legend_size)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    runner.save_figure(fig, path, dpi=100)


def folders_caption(sources: Sequence[str]) -> str:
    return f"docs/results/{{{','.join(sources)}}}/table.json"


def static_figure(name: str, caption: str) -> str:
    """A ``figure`` directive for ``docs/_static/name``, once the figure is drawn."""
    if not (STATIC / name).exists():
        return ""
    return f"\n.. figure:: /_static/{name}\n   :width: 90%\n\n   {caption}\n"


def optional(path: Path, render: Callable[[], str]) -> Callable[[], str]:
    """Render once the run's JSON is committed; until then say so on the page."""

    def make() -> str:
        if path.exists():
            return render()
        return (f".. note::\n   Not measured yet: ``{relative(path)}`` is not committed. The "
                "command above writes it.\n")  # fmt: skip

    return make


def figures(folder: Path, captions: dict[str, str]) -> str:
    """``figure`` directives for the run's committed images (paths as seen from docs/)."""
    lines = []
    for name, caption in captions.items():
        if (folder / name).exists():
            target = (folder / name).relative_to(ROOT / "docs")
            lines += ["", f".. figure:: {target}", "   :width: 90%", "", f"   {caption}"]
    return "\n".join(lines) + "\n" if lines else ""
