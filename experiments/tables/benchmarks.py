"""Side-by-side timings on CPU and the GPU check (``docs/results_benchmarks.rst``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ._common import (
    RESULTS,
    list_table,
    load_json,
    optional,
    relative,
)


def bench_video() -> str:
    data = load_json(RESULTS / "bench" / "bench_video_cpu.json")
    rows = []
    for size, table in data["video"].items():
        for r in table:
            rows.append([size, r["model"], str(r["hidden"]), f"{r['params']:,}",
                         f"{r['seconds']:.3f}", f"{r['vs_convlstm']:.2f}",
                         f"{r['peak_mib']:.0f}", f"{r['peak_vs_convlstm']:.2f}"])  # fmt: skip
    header = ["size", "model", "channels", "params", "s/step", "/ ConvLSTM", "peak MiB",
              "/ ConvLSTM"]  # fmt: skip
    return list_table(header, rows, "docs/results/bench/bench_video_cpu.json")


def bench_unitary() -> str:
    data = load_json(RESULTS / "bench" / "bench_unitary.json")["unitary"]
    rows = [[r["case"], f"{1e3 * r['seconds']:.2f}", f"{r['vs_fft_round_trip']:.2f}",
             f"{r['vs_conv2d_dense']:.2f}"] for r in data["conv2d"]]  # fmt: skip
    header = ["(16, 32, 64, 64), forward + backward", "ms", "/ FFT round trip",
              "/ nn.Conv2d 3x3"]  # fmt: skip
    return list_table(header, rows, "docs/results/bench/bench_unitary.json")


def bench_cells(name: str = "bench_cells.json") -> str:
    run = load_json(RESULTS / "bench" / name)
    data, threads = run["cells"], run["env"]["threads"]
    rows = [[r["model"], f"{r['real_params']:,}", f"{r['seconds']:.3f}", f"{r['vs_lstm']:.2f}",
             f"{r['peak_mib']:.0f}"] for r in data["models"]]  # fmt: skip
    size = f"batch 64, T = {data['steps']}, H = {data['hidden']}"
    threads_label = f"{threads} thread" + ("s" if threads > 1 else "")
    header = [f"{size}, {threads_label}", "real params", "s", "/ nn.LSTM", "peak MiB"]
    return list_table(header, rows, f"docs/results/bench/{name}")


GPU = RESULTS / "gpu"


def _gpu_runs() -> list[Path]:
    """Every committed GPU check (its tiny CPU rehearsals are never committed)."""
    if not GPU.is_dir():
        return []
    return sorted(
        p.parent for p in GPU.glob("*/summary.json") if not p.parent.name.endswith("-tiny")
    )


def gpu_summary() -> str:
    """One table per GPU: each stage's outcome, and the ratios it measured."""
    parts = []
    for folder in _gpu_runs():
        summary = load_json(folder / "summary.json")
        rows = []
        for stage in summary["stages"]:
            detail = stage["status"]
            counts = stage.get("counts") or {}
            if counts:
                detail += (f": {counts['passed']} passed, {counts['failures'] + counts['errors']}"
                           f" failed, {counts['skipped']} skipped")  # fmt: skip
            seconds = f"{stage['seconds']:.0f}" if "seconds" in stage else "-"
            rows.append([stage["name"], detail, seconds])
        head = summary.get("headlines", {})
        for model, ratio in head.get("cells_vs_lstm", {}).items():
            rows.append([f"cells: {model}", f"{ratio:.2f}x nn.LSTM", "-"])
        for case, ratio in head.get("unitary_conv2d_vs_fft_round_trip", {}).items():
            rows.append([f"unitary: {case}", f"{ratio:.2f}x its FFT round trip", "-"])
        for size, models in head.get("video_vs_convlstm", {}).items():
            for model, ratio in models.items():
                rows.append([f"video step, {size} size: {model}", f"{ratio:.2f}x ConvLSTM", "-"])
        for model, seconds in head.get("memory_step_seconds", {}).items():
            rows.append([f"memory step (T = 250): {model}", f"{1e3 * seconds:.1f} ms", "-"])
        for model, run in head.get("video_run", {}).items():
            per_step = f"{run['seconds_per_step']:.3f} s/step over {run['steps']} steps"
            rows.append([f"gpu-preset run: {model}", per_step, "-"])
        header = [f"{summary['device_name']} (torch {summary['torch']})", "outcome", "s"]
        parts.append(list_table(header, rows, relative(folder / "summary.json")))
    if not parts:
        return (".. note::\n   Not measured yet: no ``docs/results/gpu/*/summary.json`` is "
                "committed. ``make gpu-check`` on a GPU machine writes one.\n")  # fmt: skip
    return "\n".join(parts)


def bench_memory() -> str:
    run = load_json(RESULTS / "bench" / "bench_memory.json")
    data, threads = run["memory"], run["env"]["threads"]
    rows = [[r["model"], f"{r['real_params']:,}", str(r["hidden"]), f"{r['seconds']:.3f}",
             f"{r['vs_circulant']:.2f}"] for r in data["rows"]]  # fmt: skip
    share = f"{data['cayley_share']:.1%} of its step"
    rows.append(["Cayley step alone (in the dense row)", "-", "-",
                 f"{data['cayley_seconds']:.4f}", share])  # fmt: skip
    header = [f"{data['task']}, T = {data['T']}, batch 50, {threads} thread"
              + ("s" if threads > 1 else ""), "real params", "hidden", "s/step",
              "/ wolter-yao circulant"]  # fmt: skip
    return list_table(header, rows, "docs/results/bench/bench_memory.json")


def bench_compile() -> str:
    run = load_json(RESULTS / "bench" / "bench_compile.json")
    r, threads = run["compile"], run["env"]["threads"]
    rows = [
        ["eager step", f"{r['eager_seconds'] * 1e3:.1f} ms"],
        ["first torch.compile call (compilation included)",
         f"{r['first_compiled_call_seconds']:.0f} s"],
        ["compiled step after it", f"{r['compiled_seconds'] * 1e3:.1f} ms "
         f"({r['compiled_vs_eager']:.2f}x eager)"],
        ["graph breaks", str(r["graph_breaks"])],
    ]  # fmt: skip
    case = (f"ComplexGatedRNN fwd+bwd, batch {r['batch']}, T = {r['T']}, hidden "
            f"{r['hidden']}, {threads} thread" + ("s" if threads > 1 else ""))  # fmt: skip
    header = [case, "measured"]
    return list_table(header, rows, "docs/results/bench/bench_compile.json")


def bench_srn() -> str:
    run = load_json(RESULTS / "bench" / "bench_srn.json")
    data, threads = run["srn"], run["env"]["threads"]
    rows = [[r["model"], f"{r['seconds'] * 1e3:.1f}", f"{r['vs_unconstrained']:.2f}"]
            for r in data["rows"]]  # fmt: skip
    plural = "s" if threads > 1 else ""
    case = (f"5-conv denoiser, {data['channels']} channels, batch {data['batch']}, "
            f"{data['size']}x{data['size']}, {threads} thread{plural}")  # fmt: skip
    return list_table([case, "ms per step", "/ unconstrained"], rows,
                      "docs/results/bench/bench_srn.json")  # fmt: skip


def bench_arma() -> str:
    data = load_json(RESULTS / "bench" / "bench_arma.json")["arma"]
    rows = [[r["case"], f"{1e3 * r['seconds']:.1f}", f"{r['vs_conv2d']:.2f}"]
            for r in data["arma2d"]]  # fmt: skip
    rows += [[r["case"], f"{1e3 * r['seconds']:.1f}", f"{r['vs_convlstm']:.2f}"]
             for r in data["cells"]]  # fmt: skip
    return list_table(["case", "ms", "/ first row of its group"], rows,
                      "docs/results/bench/bench_arma.json")  # fmt: skip


def bench_conv1d() -> str:
    data = load_json(RESULTS / "bench" / "bench_unitary.json")["unitary"]
    rows = [[str(r["n"]), f"{1e3 * r['fft_seconds']:.3f}", f"{1e3 * r['matmul_seconds']:.3f}",
             f"{r['matmul_vs_fft']:.2f}", f"{r['seq16_matmul_vs_fft']:.2f}"]
            for r in data["conv1d"]]  # fmt: skip
    header = ["n", "FFT ms", "matmul ms (matrix per call)", "matmul / FFT",
              "16 steps, matrix once: matmul / FFT"]  # fmt: skip
    return list_table(header, rows, "docs/results/bench/bench_unitary.json")


def bench_scan() -> str:
    data = load_json(RESULTS / "bench" / "bench_cells.json")["cells"]
    rows = [[str(r["T"]), f"{r['closed_seconds']:.3f}", f"{r['loop_seconds']:.3f}",
             f"{r['loop_vs_closed']:.1f}"] for r in data["scan"]]  # fmt: skip
    return list_table(["T", "closed form s", "loop s", "loop / closed"], rows,
                      "docs/results/bench/bench_cells.json")  # fmt: skip


TABLES: dict[str, Callable[[], str]] = {
    "bench_video.rst": optional(RESULTS / "bench" / "bench_video_cpu.json", bench_video),
    "bench_unitary.rst": optional(RESULTS / "bench" / "bench_unitary.json", bench_unitary),
    "bench_cells.rst": optional(RESULTS / "bench" / "bench_cells.json", bench_cells),
    "bench_cells_2threads.rst": optional(
        RESULTS / "bench" / "bench_cells_2threads.json",
        lambda: bench_cells("bench_cells_2threads.json"),
    ),
    "bench_scan.rst": optional(RESULTS / "bench" / "bench_cells.json", bench_scan),
    "bench_conv1d.rst": optional(RESULTS / "bench" / "bench_unitary.json", bench_conv1d),
    "bench_arma.rst": optional(RESULTS / "bench" / "bench_arma.json", bench_arma),
    "bench_memory.rst": optional(RESULTS / "bench" / "bench_memory.json", bench_memory),
    "bench_compile.rst": optional(RESULTS / "bench" / "bench_compile.json", bench_compile),
    "bench_srn.rst": optional(RESULTS / "bench" / "bench_srn.json", bench_srn),
    "gpu_summary.rst": gpu_summary,
}
FIGURES: tuple[Callable[[], None], ...] = ()
