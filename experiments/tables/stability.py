"""Recurrent denoisers: untrained architectures, the trained camera-motion runs, the
summary table and the showcase of repeated application (``docs/results_stability.rst``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ._common import (
    RESULTS,
    STATIC,
    figures,
    list_table,
    load_json,
    optional,
    relative,
)


def stability_table(folder: Path) -> str:
    rows = load_json(folder / "table.json")
    body = []
    for r in rows:
        norms = ", ".join(f"{x:.2f}" for x in r["spectral_norms"]) or "(orthogonal)"
        body.append([f"``{r['model']}``", f"{r['params']:,}",
                     f"{r['test_psnr']:.2f} ({r['noisy_psnr']:.2f})", norms,
                     f"{'far' if r['trf_reaches_far'] else 'short'}, "
                     f"{'diverges' if r['trf_diverges'] else 'bounded'}",
                     f"{r['onsets']} / {r['rollout_frames']:,}"])  # fmt: skip
    header = ["model", "params", "test PSNR (noisy input)", "layer spectral norms",
              "TRF: memory, outputs", "onsets / frames"]  # fmt: skip
    return list_table(header, body, relative(folder / "table.json"))


def showcase_table() -> str:
    summary = load_json(RESULTS / "showcase" / "summary.json")
    rows = [[name, f"{v['final_norm_ratio']:.4g}", f"{v['max_relative_drift']:.2g}"]
            for name, v in summary.items() if not name.startswith("_")]  # fmt: skip
    header = ["operator (32 x 32 image, 10,000 applications)", "final norm ratio",
              "max drift from 1"]  # fmt: skip
    return list_table(
        header,
        rows,
        "docs/results/showcase/summary.json",
        "Each operator applied 10,000 times to one image",
    )


DENOISERS_UNTRAINED = RESULTS / "denoisers-untrained"


#: Trained denoisers (``experiments.stability camera``): one folder per run, each model a JSON.
DENOISING = RESULTS / "denoising"


#: The runs, in the order the page tells them.
DENOISING_RUNS = ("table2", "static", "static-longer", "longer", "he-init", "appg-7",
                  "static-lr2e-3", "cures-he", "cures-he-unitary")  # fmt: skip


def _denoising_models(folder: str) -> list[dict]:
    """A run's measured models, in its ``--models`` order."""
    models = sorted((DENOISING / folder / "models").glob("*.json"))
    order = load_json(DENOISING / folder / "config.json")["config"]["models"]
    rank = {name: k for k, name in enumerate(order)}
    return sorted((load_json(m) for m in models), key=lambda r: rank.get(r["model"], len(rank)))


def denoising_table(folder: str) -> Callable[[], str]:
    def render() -> str:
        from ..stability.camera import table_rows

        rows = _denoising_models(folder)
        header, body = table_rows(rows)
        body = [[f"``{row[0]}``", *row[1:]] for row in body]
        table = list_table(header, body, relative(DENOISING / folder / "models") + "/*.json")
        return table + figures(DENOISING / folder, {
            "long_sequences.png": "PSNR per frame on the three long sequences (every 10th "
            "frame; a drop below 0 dB resets the state) and the training loss.",
        })  # fmt: skip

    return optional(DENOISING / folder / "config.json", render)


def denoising_distinct() -> str:
    """App. H: onsets against the number of distinct frames, for every model measured so."""
    body = []
    for folder in _present_denoising():
        for r in _denoising_models(folder):
            for n, d in r.get("distinct", {}).items():
                deciles = " / ".join(f"{v:.0f}" for v in d["deciles"]) or "-"
                mean = "-" if d.get("mean_psnr") is None else f"{d['mean_psnr']:.2f}"
                body.append([f"``{folder}``", f"``{r['model']}``", n, str(len(d["onsets"])),
                             deciles, mean])  # fmt: skip
    if not body:
        return (".. note::\n   Not measured yet: no committed model under "
                "``docs/results/denoising/`` holds App. H onsets (``--distinct``).\n")  # fmt: skip
    header = ["run", "model", "distinct frames n", "onsets (all sequences)",
              "onset deciles 1st / 9th", "mean PSNR (dB)"]  # fmt: skip
    return list_table(header, body, "docs/results/denoising/*/models/*.json")


def _present_denoising() -> list[str]:
    return [f for f in DENOISING_RUNS if (DENOISING / f / "config.json").exists()]


#: The figures of the trained denoisers: the search for an unstable one, and the cures
#: on the He-initialised model next to it uncured.
DENOISING_FIGURES = {
    "denoising_spectra.png": ("table2", "static", "static-longer", "longer", "he-init",
                              "appg-7", "static-lr2e-3"),
    "denoising_cures_spectra.png": ("he-init", "cures-he", "cures-he-unitary"),
}  # fmt: skip


def denoising_figure() -> None:
    """Per figure of :data:`DENOISING_FIGURES`: the averaged singular-value spectra and the
    TRF influence of every model of its runs."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .. import runner

    for name, runs in DENOISING_FIGURES.items():
        folders = [f for f in _present_denoising() if f in runs]
        if not folders:
            continue
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
        k = 0
        for folder in folders:
            for r in _denoising_models(folder):
                style = {"color": f"C{k % 10}", "ls": "-" if k < 10 else "--",
                         "label": f"{folder}: {r['model']}"}  # fmt: skip
                spectrum = r.get("spectrum", [])
                left.semilogy(np.linspace(0, 1, len(spectrum)), spectrum, **style)
                influence = np.array(r["trf_influence"])
                centre = len(influence) // 2
                past = influence[: centre + 1][::-1] / max(influence.max(), 1e-30)
                right.semilogy(np.arange(len(past)), np.maximum(past, 1e-12), **style)
                k += 1
        left.set_xlabel("relative rank")
        left.set_ylabel("singular value, averaged over the layers")
        left.set_title("singular-value spectra (circular convolution)")
        right.set_xlabel("frames back from t = 0")
        right.set_ylabel("influence on the centre pixel (normalised)")
        right.set_title("temporal receptive field")
        for ax in (left, right):
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6)
        fig.tight_layout()
        runner.save_figure(fig, STATIC / name, dpi=90)


def denoisers_untrained() -> str:
    """Per initialisation, backbone and way of recurring: what became of the output."""
    config = load_json(DENOISERS_UNTRAINED / "config.json")["config"]
    frames = config["frames"]
    runs = load_json(DENOISERS_UNTRAINED / "norms.json")
    body = []
    for key, draws in runs.items():
        scheme, backbone, recurrence = key.split("-")
        cells = []
        for norms in draws:
            if len(norms) < frames:
                cells.append(f"overflow after frame {len(norms)}")
            else:
                cells.append(f"{norms[-1]:.3g} (max {max(norms):.3g})")
        body.append([scheme, backbone, recurrence, "; ".join(cells)])
    header = ["init", "backbone", "recurrence",
              f"output RMS at frame {frames:,} (largest on the way), per draw"]  # fmt: skip
    table = list_table(header, body, relative(DENOISERS_UNTRAINED / "norms.json"))
    return table + figures(DENOISERS_UNTRAINED, {
        "untrained_norms.png": "Output RMS per frame of the untrained models (one line per "
        "initialisation draw); a line ends where the output overflowed.",
    })  # fmt: skip


STABILITY_FIGURES = {
    "trf.png": "Temporal receptive fields: the influence of each input frame on the centre "
    "pixel of the output at t = 0 (normalised).",
    "rollout_psnr.png": "PSNR over the long rollout.",
}


TABLES: dict[str, Callable[[], str]] = {
    "showcase.rst": optional(RESULTS / "showcase" / "summary.json", showcase_table),
    **{f"denoising_{run}.rst": denoising_table(run) for run in DENOISING_RUNS},
    "denoising_distinct.rst": denoising_distinct,
    "denoisers_untrained.rst": optional(DENOISERS_UNTRAINED / "norms.json", denoisers_untrained),
    "stability.rst": optional(
        RESULTS / "stability" / "table.json",
        lambda: (
            stability_table(RESULTS / "stability")
            + figures(RESULTS / "stability", STABILITY_FIGURES)
        ),
    ),
}
FIGURES: tuple[Callable[[], None], ...] = (denoising_figure,)
