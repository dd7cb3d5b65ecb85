"""The dynamic filter network as its paper writes it: steerable filters and Moving-MNIST
at 64 x 64 (``docs/results_dynamic_filters.rst``)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

from ._common import (
    RESULTS,
    STATIC,
    curve_figure,
    figures,
    folders_caption,
    list_table,
    load_json,
    optional,
    relative,
    static_figure,
)

DFN_STEERABLE = RESULTS / "dfn-steerable"


DFN_MNIST = RESULTS / "dfn-mnist"


def dfn_steerable() -> str:
    from ..dfn import steerable_table

    table = list_table(*steerable_table(load_json(DFN_STEERABLE / "table.json")),
                       relative(DFN_STEERABLE / "table.json"))  # fmt: skip
    return table + figures(DFN_STEERABLE, {
        "steerable_filters.png": "Top: the target filter (the flipped steerable kernel, since "
        "the dynamic convolution correlates) at every second test angle; bottom: the filter "
        "the network generates for that angle. Right: a test image, its target and the output.",
    })  # fmt: skip


#: The dynamic filter network and the ConvLSTM under the paper's protocol, one run each.
DFN_MNIST_RUNS = (DFN_MNIST, RESULTS / "dfn-mnist-convlstm")


#: What must agree between them: the same frames, clips and training protocol.
DFN_MNIST_PROTOCOL = ("size", "batch", "lr", "halve_every", "seed", "val_sequences",
                      "test_sequences")  # fmt: skip


def _dfn_mnist_runs() -> tuple[list[dict], list[Path], int]:
    """Reference rows once, then each committed run's trained rows; the folders and the
    frame size. Runs under another protocol or on other test clips raise."""
    references: dict[str, dict] = {}
    trained, folders, protocols = [], [], {}
    for folder in DFN_MNIST_RUNS:
        if not (folder / "table.json").exists():
            continue
        cfg = load_json(folder / "config.json")["config"]
        protocols[folder.name] = {key: cfg[key] for key in DFN_MNIST_PROTOCOL}
        folders.append(folder)
        for row in load_json(folder / "table.json"):
            if "steps" in row:
                trained.append(row)
                continue
            known = references.setdefault(row["model"], row)
            if not math.isclose(known["test_bce"], row["test_bce"], rel_tol=1e-9):
                raise ValueError(f"{folder.name}: {row['model']} BCE {row['test_bce']} against "
                                 f"{known['test_bce']} elsewhere: other test clips")  # fmt: skip
    if len({json.dumps(p, sort_keys=True) for p in protocols.values()}) > 1:
        raise ValueError(f"the dynamic filter runs differ in their protocol: {protocols}")
    size = next(iter(protocols.values()))["size"] if protocols else 0
    return [*references.values(), *trained], folders, size


def dfn_mnist_figure() -> None:
    """The validation curves of every committed run on one axes, in the paper's units."""
    rows, folders, size = _dfn_mnist_runs()
    if not folders:
        return

    def draw(ax) -> None:
        for folder in folders:
            for name, curve in load_json(folder / "curves.json").items():
                ax.plot([c[0] for c in curve], [c[1] * size**2 for c in curve], marker=".",
                        label=name)  # fmt: skip
        constant = next(r for r in rows if r["model"] == "mean_intensity")
        ax.axhline(constant["test_bce_per_frame_sum"], color="grey", lw=0.8, ls="--",
                   label="mean_intensity (test)")  # fmt: skip

    title = f"Moving-MNIST {size} x {size}, the dynamic filter paper's protocol"
    ylabel = f"validation BCE / frame (nats, {size * size} px)"
    curve_figure(STATIC / "dfn_mnist_curves.png", title, ylabel, draw, legend_size=8)


def dfn_mnist() -> str:
    from ..dfn import video_table

    rows, folders, size = _dfn_mnist_runs()
    names = [f.name for f in folders]
    source = folders_caption(names) if len(names) > 1 else f"docs/results/{names[0]}/table.json"
    table = list_table(*video_table(rows, size), source)
    text = table + static_figure(
        "dfn_mnist_curves.png",
        "Validation BCE over training (``curves.json`` of each run); dashed: the best constant "
        "frame's test BCE (the repeated last frame is far above).",
    )
    text += figures(DFN_MNIST, {
        "strip.png": "One test clip: input frames, true future frames, the dynamic filter "
        "network's prediction.",
        "filter_flow.png": "The dynamic filter network's first five predicted frames as in the "
        "paper's Figures 7 and 9: the frame the filters are applied to, the filters drawn as "
        "flow (hue: the direction the pixel takes its value from, brightness: how far, "
        "scaled to the largest), the prediction and the true next frame.",
    })  # fmt: skip
    return text + figures(DFN_MNIST_RUNS[1], {
        "strip.png": "The same test clip, the ConvLSTM's prediction.",
    })  # fmt: skip


TABLES: dict[str, Callable[[], str]] = {
    "dfn_steerable.rst": optional(DFN_STEERABLE / "table.json", dfn_steerable),
    "dfn_mnist.rst": optional(DFN_MNIST / "table.json", dfn_mnist),
}
FIGURES: tuple[Callable[[], None], ...] = (dfn_mnist_figure,)
