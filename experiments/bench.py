"""Side-by-side benchmarks: every row of a table is timed in the same process and run.

    python -m experiments.bench unitary [--repeats 20] [--json runs/bench_unitary.json]
    python -m experiments.bench cells [--repeats 3] [--json runs/bench_cells.json]
    python -m experiments.bench arma [--repeats 20] [--json runs/bench_arma.json]
    python -m experiments.bench data [--repeats 5]    # Moving-MNIST generator, one thread
    python -m experiments.bench video [--device cuda] [--sizes cpu gpu paper]
    python -m experiments.bench memory [--repeats 10]  # memory experiment's training step
    python -m experiments.bench compile [--repeats 5]  # torch.compile against eager
    python -m experiments.bench srn [--repeats 10]     # SRN / SRN-C training-step cost
    python -m experiments.bench scan [--repeats 3]     # diagonal unitary scan vs its loop

Times are medians of ``--repeats`` forward+backward passes after warm-up; the tables
report ratios against a baseline measured in the same run, which is what carries over
between machines (absolute milliseconds do not). ``--device cuda`` times on a GPU (the
clock stops after a synchronisation) and reports peak allocated GPU memory; on the CPU
peak memory is the resident set of a fresh process running one step.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from cunitary import (
    ARMA2d,
    ARMALSTMCell,
    ComplexGatedRNN,
    ConvLSTMCell,
    LinearUnitaryRecurrence,
    RotationGRU,
    UnitaryConv1d,
    UnitaryConv2d,
    UnitaryRNN,
)

from . import runner

CPU = torch.device("cpu")


@dataclass(frozen=True)
class Sizes:
    """What every suite measures at; ``TINY`` runs the same code in seconds (``--tiny``:
    the GPU check's CPU rehearsal in ``make test``, not a measurement)."""

    conv2d: tuple[int, int, int, int] = (16, 32, 64, 64)  # (B, C, H, W)
    conv1d: tuple[int, ...] = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
    conv1d_batch: int = 64
    cell_hidden: int = 128
    cell_steps: int = 1000
    scan_lengths: tuple[int, ...] = (1000, 8192)
    arma: tuple[int, int, int, int] = (16, 32, 64, 64)  # (B, C, H, W)
    video: str = "cpu"  # the video preset whose model sizes are timed
    memory_T: int = 250
    peak_memory: bool = True  # on the CPU: one fresh process per row
    # (T, batch) of the diagonal scan against its loop, n = cell_hidden; at 65,536 steps a
    # batch of 64 would need 4 GiB per complex64 array, so 8 there.
    long_scans: tuple[tuple[int, int], ...] = ((1024, 64), (8192, 64), (65_536, 8))
    long_T: int = 1000  # the deep models' training step against nn.LSTM


FULL = Sizes()
TINY = Sizes(conv2d=(2, 2, 8, 8), conv1d=(16, 32), conv1d_batch=4, cell_hidden=6,
             cell_steps=10, scan_lengths=(16,), arma=(2, 4, 8, 8), video="smoke",
             memory_T=8, peak_memory=False, long_scans=((16, 2),), long_T=12)  # fmt: skip


def _fwd_bwd_step(make_output: Callable[[], torch.Tensor], probe: torch.Tensor):
    def step() -> None:
        out = make_output()
        out = torch.view_as_real(out) if out.is_complex() else out
        out.backward(probe.view_as(out))

    return step


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(
    cases: list[tuple[Callable[[], torch.Tensor], torch.Tensor]],
    repeats: int,
    device: torch.device = CPU,
):
    """Median seconds of forward + backward (fixed random cotangent) for each case.

    The cases run round-robin, one repetition each per round, so that machine noise and
    thermal drift hit every case alike and their ratios stay meaningful. On CUDA the
    clock stops after a device synchronisation.
    """
    return time_steps([_fwd_bwd_step(fn, probe) for fn, probe in cases], repeats, device)


def time_steps(steps: list[Callable[[], object]], repeats: int, device: torch.device = CPU):
    """Median seconds of each callable, interleaved round-robin after two warm-up calls."""
    for step in steps:
        for _ in range(2):
            step()
    _synchronize(device)
    samples: list[list[float]] = [[] for _ in steps]
    for _ in range(repeats):
        for k, step in enumerate(steps):
            start = time.perf_counter()
            step()
            _synchronize(device)
            samples[k].append(time.perf_counter() - start)
    return [statistics.median(s) for s in samples]


def _probe(shape: tuple[int, ...], complex_output: bool, device=CPU) -> torch.Tensor:
    shape = (*shape, 2) if complex_output else shape
    return torch.randn(shape, device=device)


def bench_conv2d(repeats: int, device: torch.device = CPU, sizes: Sizes = FULL) -> list[dict]:
    b, c, h, w = sizes.conv2d
    xc = torch.randn(b, c, h, w, dtype=torch.complex64, device=device, requires_grad=True)
    xr = torch.randn(b, c, h, w, device=device, requires_grad=True)
    pc, pr = _probe((b, c, h, w), True, device), _probe((b, c, h, w), False, device)
    unitary = UnitaryConv2d((h, w), channels=c, device=device)
    unitary_kernel = UnitaryConv2d((h, w), channels=c, angles="kernel", device=device)
    unitary_real = UnitaryConv2d((h, w), channels=c, real=True, device=device)
    kernel_real = UnitaryConv2d((h, w), channels=c, real=True, angles="kernel", device=device)
    unitary_mix = UnitaryConv2d((h, w), channels=c, mix=True, device=device)
    dense = nn.Conv2d(c, c, 3, padding=1, device=device)
    depthwise = nn.Conv2d(c, c, 3, padding=1, groups=c, device=device)
    cases = [
        ("fft2 + ifft2 round trip (complex)", lambda: torch.fft.ifft2(torch.fft.fft2(xc)), pc),
        ("UnitaryConv2d (complex)", lambda: unitary(xc), pc),
        ("UnitaryConv2d angles='kernel' (complex)", lambda: unitary_kernel(xc), pc),
        ("UnitaryConv2d mix=True (complex)", lambda: unitary_mix(xc), pc),
        ("rfft2 + irfft2 round trip (real)", lambda: torch.fft.irfft2(torch.fft.rfft2(xr)), pr),
        ("UnitaryConv2d real=True", lambda: unitary_real(xr), pr),
        ("UnitaryConv2d real=True, angles='kernel'", lambda: kernel_real(xr), pr),
        ("nn.Conv2d 3x3 dense (real)", lambda: dense(xr), pr),
        ("nn.Conv2d 3x3 depthwise (real)", lambda: depthwise(xr), pr),
    ]
    seconds = time_interleaved([(fn, p) for _, fn, p in cases], repeats, device)
    rows = [{"case": name, "seconds": t} for (name, _, _), t in zip(cases, seconds, strict=True)]
    by_name = {r["case"]: r["seconds"] for r in rows}
    for r in rows:
        real = "(real)" in r["case"] or "real=True" in r["case"]
        base = "rfft2 + irfft2 round trip (real)" if real else "fft2 + ifft2 round trip (complex)"
        r["vs_fft_round_trip"] = r["seconds"] / by_name[base]
        r["vs_conv2d_dense"] = r["seconds"] / by_name["nn.Conv2d 3x3 dense (real)"]
        r["vs_conv2d_depthwise"] = r["seconds"] / by_name["nn.Conv2d 3x3 depthwise (real)"]
    return rows


def bench_conv1d(repeats: int, device: torch.device = CPU, sizes: Sizes = FULL) -> list[dict]:
    rows = []
    batch = sizes.conv1d_batch
    for n in sizes.conv1d:
        x = torch.randn(batch, 1, n, dtype=torch.complex64, device=device, requires_grad=True)
        probe = _probe((batch, 1, n), True, device)
        fft_layer = UnitaryConv1d(n, method="fft", device=device)
        mm_layer = UnitaryConv1d(n, method="matmul", device=device)
        with torch.no_grad():
            mm_layer.angles.copy_(fft_layer.angles)
        # The dense path is O(n^2) per vector: fewer repeats keep large n affordable.
        dense_repeats = repeats if n <= 512 else max(3, repeats // 5)
        t_fft, t_mm = time_interleaved(
            [
                (lambda layer=fft_layer, x=x: layer(x), probe),
                (lambda layer=mm_layer, x=x: layer(x), probe),
            ],
            dense_repeats,
            device,
        )
        # Recurrent use: the matrix is built once per sequence and applied every step.
        steps = 16
        xs = torch.randn(steps, batch, n, dtype=torch.complex64, device=device)

        def fft_steps(layer=fft_layer, xs=xs):
            h = torch.zeros_like(xs[0])
            for xt in xs.unbind(0):
                h = layer(h.unsqueeze(1)).squeeze(1) + xt
            return h

        def mm_steps(layer=mm_layer, xs=xs):
            mat = layer.matrix()
            h = torch.zeros_like(xs[0])
            for xt in xs.unbind(0):
                h = h @ mat.T + xt
            return h

        probe_steps = _probe((batch, n), True, device)
        t_fft_seq, t_mm_seq = time_interleaved(
            [(fft_steps, probe_steps), (mm_steps, probe_steps)], max(3, dense_repeats // 4), device
        )
        rows.append(
            {
                "n": n,
                "fft_seconds": t_fft,
                "matmul_seconds": t_mm,
                "matmul_vs_fft": t_mm / t_fft,
                "seq16_fft_seconds": t_fft_seq,
                "seq16_matmul_seconds": t_mm_seq,
                "seq16_matmul_vs_fft": t_mm_seq / t_fft_seq,
            }
        )
    return rows


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")


def run_unitary(repeats: int, device: torch.device = CPU, sizes: Sizes = FULL) -> dict:
    torch.manual_seed(0)
    conv2d = bench_conv2d(repeats, device, sizes)
    print_table(
        f"UnitaryConv2d, forward+backward on {sizes.conv2d}",
        ["case", "ms", "/ FFT round trip", "/ Conv2d dense", "/ Conv2d depthwise"],
        [
            [
                r["case"],
                f"{1e3 * r['seconds']:.1f}",
                f"{r['vs_fft_round_trip']:.2f}",
                f"{r['vs_conv2d_dense']:.2f}",
                f"{r['vs_conv2d_depthwise']:.2f}",
            ]
            for r in conv2d
        ],
    )
    conv1d = bench_conv1d(repeats, device, sizes)
    print_table(
        f"UnitaryConv1d, batch {sizes.conv1d_batch}, one channel, complex64: forward+backward",
        ["n", "fft ms", "matmul ms", "matmul / fft", "16 steps: fft ms", "matmul ms", "ratio"],
        [
            [
                str(r["n"]),
                f"{1e3 * r['fft_seconds']:.3f}",
                f"{1e3 * r['matmul_seconds']:.3f}",
                f"{r['matmul_vs_fft']:.2f}",
                f"{1e3 * r['seq16_fft_seconds']:.2f}",
                f"{1e3 * r['seq16_matmul_seconds']:.2f}",
                f"{r['seq16_matmul_vs_fft']:.2f}",
            ]
            for r in conv1d
        ],
    )
    faster = [r["n"] for r in conv1d if r["matmul_vs_fft"] < 1]
    crossover = max(faster) if faster else 0
    faster_seq = [r["n"] for r in conv1d if r["seq16_matmul_vs_fft"] < 1]
    crossover_seq = max(faster_seq) if faster_seq else 0

    def up_to(n: int) -> str:
        return f"up to n = {n}" if n else "at no size measured"

    print(
        f"\nPer call, the dense path (matrix built inside forward) beats FFT {up_to(crossover)}; "
        f"with the matrix built once per 16-step sequence, {up_to(crossover_seq)}."
    )
    return {
        "conv2d": conv2d,
        "conv1d": conv1d,
        "measured_crossover": crossover,
        "measured_crossover_seq16": crossover_seq,
    }


# -- recurrent cells -----------------------------------------------------------------------

CELL_BATCH, CELL_INPUT = 64, 10


def _cell_models(hidden: int) -> dict[str, Callable[[], nn.Module]]:
    return {
        "nn.LSTM": lambda: nn.LSTM(CELL_INPUT, hidden, batch_first=True),
        "nn.GRU": lambda: nn.GRU(CELL_INPUT, hidden, batch_first=True),
        "ComplexGatedRNN circulant": lambda: ComplexGatedRNN(CELL_INPUT, hidden),
        "ComplexGatedRNN full": lambda: ComplexGatedRNN(CELL_INPUT, hidden, transition="full"),
        "UnitaryRNN circulant": lambda: UnitaryRNN(CELL_INPUT, hidden),
        "RotationGRU circulant": lambda: RotationGRU(CELL_INPUT, hidden),
        "LinearUnitaryRecurrence closed": lambda: LinearUnitaryRecurrence(CELL_INPUT, hidden),
        "LinearUnitaryRecurrence loop": lambda: LinearUnitaryRecurrence(
            CELL_INPUT, hidden, method="loop"
        ),
    }


def _cell_probe(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out, _ = model(x[:, :2])
    width = out.shape[-1] * (2 if out.is_complex() else 1)
    return torch.randn(x.shape[0], x.shape[1], width)


def _peak_rss_mib(code: str) -> float:
    """Peak resident memory added by the step that ``code`` runs, in a fresh process.

    ``code`` defines ``step()``, which runs once: its first call, allocations included.
    """
    program = f"{code}\nfrom {__package__}.bench import _measured_rss\nprint(_measured_rss(step))"
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip().splitlines()[-1])


def _proc_status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _measured_rss(step: Callable[[], object]) -> float:
    # ru_maxrss is no use here: Linux carries it across exec, so a child of a large
    # benchmark process starts at its parent's peak. VmHWM belongs to this process's
    # address space, and writing 5 to clear_refs resets it to the current RSS. No warm-up
    # call: freed pages stay resident, so a second step would find its memory in place.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _proc_status_kib("VmRSS")
    step()
    return (_proc_status_kib("VmHWM") - before) / 1024


def _peak_cuda_mib(step: Callable[[], object], device: torch.device) -> float:
    step()
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    step()
    torch.cuda.synchronize(device)
    return (torch.cuda.max_memory_allocated(device) - base) / 2**20


def _cell_step_code(case: str, hidden: int, steps: int) -> str:
    return (
        "import torch\n"
        f"from {__package__}.bench import _cell_models, _fwd_bwd_pair, CELL_BATCH, CELL_INPUT\n"
        f"torch.manual_seed(0)\nmodel = _cell_models({hidden})[{case!r}]()\n"
        f"x = torch.randn(CELL_BATCH, {steps}, CELL_INPUT)\n"
        "output, probe = _fwd_bwd_pair(model, x)\n"
        "def step():\n    output().backward(probe)\n"
    )


def run_cells(repeats: int, device: torch.device = CPU, sizes: Sizes = FULL) -> dict:
    hidden, steps = sizes.cell_hidden, sizes.cell_steps
    torch.manual_seed(0)
    x = torch.randn(CELL_BATCH, steps, CELL_INPUT, device=device)
    models = {name: make().to(device) for name, make in _cell_models(hidden).items()}
    cases = [_fwd_bwd_pair(model, x) for model in models.values()]
    seconds = time_interleaved(cases, repeats, device)
    rows = []
    by_name = dict(zip(models, seconds, strict=True))
    for (name, model), case in zip(models.items(), cases, strict=True):
        t = by_name[name]
        if device.type == "cuda":
            output, probe = case
            peak = _peak_cuda_mib(lambda o=output, p=probe: o().backward(p), device)
        elif sizes.peak_memory:
            peak = _peak_rss_mib(_cell_step_code(name, hidden, steps))
        else:
            peak = math.nan
        rows.append(
            {
                "model": name,
                "real_params": runner.count_parameters(model),
                "seconds": t,
                "vs_lstm": t / by_name["nn.LSTM"],
                "vs_gru": t / by_name["nn.GRU"],
                "peak_mib": peak,
            }
        )
    print_table(
        f"One training step (forward+backward), batch {CELL_BATCH}, T = {steps}, "
        f"hidden {hidden}, input {CELL_INPUT}, {device}",
        ["model", "real params", "s", "/ nn.LSTM", "/ nn.GRU", "peak MiB"],
        [
            [
                r["model"],
                str(r["real_params"]),
                f"{r['seconds']:.3f}",
                f"{r['vs_lstm']:.2f}",
                f"{r['vs_gru']:.2f}",
                f"{r['peak_mib']:.0f}",
            ]
            for r in rows
        ],
    )
    scan_rows = []
    for length in sizes.scan_lengths:
        u = torch.randn(
            CELL_BATCH, length, hidden, dtype=torch.complex64, device=device, requires_grad=True
        )
        closed = LinearUnitaryRecurrence(None, hidden).to(device)
        loop = LinearUnitaryRecurrence(None, hidden, method="loop").to(device)
        loop.load_state_dict(closed.state_dict())
        t_closed, t_loop = time_interleaved(
            [_fwd_bwd_pair(closed, u), _fwd_bwd_pair(loop, u)], max(1, repeats), device
        )
        scan_rows.append(
            {
                "T": length,
                "closed_seconds": t_closed,
                "loop_seconds": t_loop,
                "loop_vs_closed": t_loop / t_closed,
            }
        )
    print_table(
        f"LinearUnitaryRecurrence, closed form vs its sequential loop (batch {CELL_BATCH}, "
        f"n = {hidden}, forward+backward)",
        ["T", "closed s", "loop s", "loop / closed"],
        [
            [
                str(r["T"]),
                f"{r['closed_seconds']:.3f}",
                f"{r['loop_seconds']:.3f}",
                f"{r['loop_vs_closed']:.1f}",
            ]
            for r in scan_rows
        ],
    )
    return {"models": rows, "scan": scan_rows, "hidden": hidden, "steps": steps}


# -- Moving-MNIST training steps ------------------------------------------------------------

#: Rows of the video table: (label, model, angles, hidden or None for the budget rule).
VIDEO_ROWS = (
    ("convlstm3", "convlstm3", "full", None),
    ("armalstm", "armalstm", "full", None),
    ("rotation_convgru (full angles, budget)", "rotation_convgru", "full", None),
    ("rotation_convgru (kernel angles, budget)", "rotation_convgru", "kernel", None),
    ("complex_gated (full angles, budget)", "complex_gated", "full", None),
    ("complex_gated (kernel angles, budget)", "complex_gated", "kernel", None),
    ("rotation_convgru (kernel angles, = ConvLSTM channels)", "rotation_convgru", "kernel", 0),
    ("complex_gated (kernel angles, = ConvLSTM channels)", "complex_gated", "kernel", 0),
)


def _video_step_code(size: str, label: str, device: str) -> str:
    return (
        f"import torch\nfrom {__package__}.bench import _video_case\n"
        f"step = _video_case({size!r}, {label!r}, torch.device({device!r}))[0]\n"
    )


def _video_case(size: str, label: str, device: torch.device):
    """One training step of a Moving-MNIST model at a preset's size (teacher forcing on,
    loss on all 19 predicted frames, Adam): ``(step, hidden, params)``."""
    from . import video

    _, name, angles, hidden = next(r for r in VIDEO_ROWS if r[0] == label)
    cfg = video.Config(**{**video.PRESETS[size], "angles": angles})
    hidden = video.hidden_for(name, cfg) if hidden is None else cfg.hidden
    torch.manual_seed(0)
    model = video.VideoPredictor(name, hidden, cfg).to(device)
    optimizer = torch.optim.Adam(model.parameters())
    frames = torch.rand(cfg.batch, 20, 1, cfg.size, cfg.size, device=device)
    mask = torch.ones(cfg.batch, 9, dtype=torch.bool, device=device)

    def step() -> None:
        prediction = model(frames[:, :10], 10, (frames[:, 10:19], mask), reading=True)
        loss = video.loss_fn(name, prediction, frames[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step, hidden, runner.count_parameters(model)


def run_video(
    repeats: int,
    device: torch.device = CPU,
    presets: Sequence[str] | None = None,
    sizes: Sizes = FULL,
) -> dict:
    """s/step and peak memory of one training step per model, as ratios to ConvLSTM, at
    each preset's model size (``sizes.video`` when ``presets`` is None)."""
    tables = {}
    for size in presets or (sizes.video,):
        cases = [_video_case(size, label, device) for label, *_ in VIDEO_ROWS]
        seconds = time_steps([step for step, _, _ in cases], repeats, device)
        rows = []
        for (label, *_), (step, hidden, params), t in zip(VIDEO_ROWS, cases, seconds, strict=True):
            if device.type == "cuda":
                peak = _peak_cuda_mib(step, device)
            elif sizes.peak_memory:
                peak = _peak_rss_mib(_video_step_code(size, label, str(device)))
            else:
                peak = math.nan
            rows.append({"model": label, "hidden": hidden, "params": params, "seconds": t,
                         "vs_convlstm": t / seconds[0], "peak_mib": peak})  # fmt: skip
        for r in rows:
            r["peak_vs_convlstm"] = r["peak_mib"] / rows[0]["peak_mib"]
        print_table(
            f"Moving-MNIST training step, '{size}' preset size, {device}",
            ["model", "channels", "params", "s/step", "/ ConvLSTM", "peak MiB", "/ ConvLSTM"],
            [[r["model"], str(r["hidden"]), f"{r['params']:,}", f"{r['seconds']:.3f}",
              f"{r['vs_convlstm']:.2f}", f"{r['peak_mib']:.0f}", f"{r['peak_vs_convlstm']:.2f}"]
             for r in rows],
        )  # fmt: skip
        tables[size] = rows
    return tables


# -- ARMA layers ---------------------------------------------------------------------------


def _arma_with_random_ar(device: torch.device = CPU, channels: int = 32, **kwargs) -> ARMA2d:
    layer = ARMA2d(channels, channels, 3, **kwargs).to(device)
    with torch.no_grad():  # non-zero AR taps: the solve is not skipped or trivial
        layer.ar_alpha.normal_()
        layer.ar_beta.normal_()
    return layer


def run_arma(repeats: int, device: torch.device = CPU, sizes: Sizes = FULL) -> dict:
    torch.manual_seed(0)
    shape = sizes.arma
    b, c, h, w = shape
    x = torch.randn(shape, device=device, requires_grad=True)
    probe = torch.randn(shape, device=device)
    conv = nn.Conv2d(c, c, 3, padding=1, device=device)
    arma = _arma_with_random_ar(device, channels=c)
    arma5 = _arma_with_random_ar(device, channels=c, ar_kernel_size=5)
    arma_pad = _arma_with_random_ar(device, channels=c, ar_padding=8)
    cases = [
        ("nn.Conv2d 3x3", lambda: conv(x)),
        ("ARMA2d 3x3, AR 3x3", lambda: arma(x)),
        ("ARMA2d 3x3, AR 5x5", lambda: arma5(x)),
        ("ARMA2d 3x3, AR 3x3, ar_padding=8", lambda: arma_pad(x)),
    ]
    seconds = time_interleaved([(fn, probe) for _, fn in cases], repeats, device)
    rows = [
        {"case": name, "seconds": t, "vs_conv2d": t / seconds[0]}
        for (name, _), t in zip(cases, seconds, strict=True)
    ]
    # The recurrent cells of the video backbone, one step at the same size.
    frame = torch.randn(b, 1, h, w, device=device, requires_grad=True)
    cell_probe = torch.randn(b, c, h, w, device=device)
    lstm, arma_lstm = ConvLSTMCell(1, c).to(device), ARMALSTMCell(1, c).to(device)
    steps = [
        ("ConvLSTMCell 3x3 (5 steps)", lstm),
        ("ARMALSTMCell 3x3 (5 steps)", arma_lstm),
    ]

    def unroll(cell: nn.Module):
        def run() -> torch.Tensor:
            state = None
            for _ in range(5):
                state = cell(frame, state)
            return state[0]

        return run

    cell_seconds = time_interleaved([(unroll(c), cell_probe) for _, c in steps], repeats, device)
    cell_rows = [
        {"case": name, "seconds": t, "vs_convlstm": t / cell_seconds[0]}
        for (name, _), t in zip(steps, cell_seconds, strict=True)
    ]
    print_table(
        f"ARMA2d, forward+backward on {shape} ({c} -> {c} channels)",
        ["case", "ms", "/ nn.Conv2d"],
        [[r["case"], f"{1e3 * r['seconds']:.1f}", f"{r['vs_conv2d']:.2f}"] for r in rows],
    )
    print_table(
        f"ConvLSTM vs ARMA-LSTM cell, 5 steps forward+backward, ({b}, 1 -> {c}, {h}, {w})",
        ["case", "ms", "/ ConvLSTMCell"],
        [[r["case"], f"{1e3 * r['seconds']:.1f}", f"{r['vs_convlstm']:.2f}"] for r in cell_rows],
    )
    return {"arma2d": rows, "cells": cell_rows}


# -- Moving-MNIST generator ----------------------------------------------------------------


def run_data(repeats: int, n: int = 5000) -> dict:
    from cunitary.moving_mnist import downsample, generate_moving_mnist, load_digits

    torch.set_num_threads(1)  # the goal is per core
    digits, _ = load_digits()
    rows = []
    for speed in (1, 2, 3):
        times = []
        for k in range(repeats):
            start = time.perf_counter()
            generate_moving_mnist(digits, n, 20, 64, speed=speed, seed=k)
            times.append(time.perf_counter() - start)
        rows.append({"case": f"64x64, 20 frames, speed {speed}", "seq_per_s": n / min(times)})
    times = []
    for k in range(repeats):
        start = time.perf_counter()
        downsample(generate_moving_mnist(digits, n, 20, 64, seed=k))
        times.append(time.perf_counter() - start)
    rows.append({"case": "32x32 (generate 64x64, downsample)", "seq_per_s": n / min(times)})
    print_table(
        f"Moving-MNIST generator, {n} sequences, 1 thread (best of {repeats})",
        ["case", "sequences / s"],
        [[r["case"], f"{r['seq_per_s']:.0f}"] for r in rows],
    )
    return {"generator": rows}


# -- the memory experiment's training step --------------------------------------------------


def memory_rows() -> list[tuple[str, str, dict]]:
    """Rows of the memory table: (label, preset, overrides). The Wolter & Yao preset with
    its dense U (Cayley steps) against the same model with a circulant U is the comparison
    the Stiefel step's cost is judged by; then every model of the paper preset."""
    from . import memory

    return [
        ("wolter-yao, dense U (Cayley)", "wolter-yao", {}),
        ("wolter-yao, circulant U", "wolter-yao", {"transition": "circulant"}),
        *((f"paper preset {name}", "paper", {"models": [name]}) for name in memory.CELL_MODELS),
    ]


def run_memory(
    repeats: int, device: torch.device = CPU, sizes: Sizes = FULL, task: str = "copy"
) -> dict:
    """One whole training step of the memory experiment (batch, forward, loss, backward,
    clipping, every optimiser) per row, interleaved; and the Cayley step alone."""
    from dataclasses import replace

    from . import memory

    T = sizes.memory_T
    steps, cayleys, labels, rows = [], [], [], []
    for label, preset, overrides in memory_rows():
        cfg = replace(memory.Config(), **{**memory.PRESETS[preset], **overrides})
        if sizes.memory_T < 250 and cfg.hidden == 0:  # tiny: small models too
            cfg = replace(cfg, params=2_000)
        name = cfg.models[0]
        hidden = cfg.hidden or memory.hidden_for_budget(name, task, cfg.params, cfg)
        torch.manual_seed(0)
        model = memory.SequenceModel(name, task, hidden, cfg).to(device)
        optimizer = memory.make_optimizer(cfg, model)
        x, y = memory.batch_for(task, T, cfg.batch, 0, 0, 0)
        x, y = x.to(device), y.to(device)

        def step(model=model, optimizer=optimizer, x=x, y=y, cfg=cfg) -> None:
            loss, _ = memory.loss_and_score(task, model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip_mode == "value":
                runner.clip_grad_value_(model.parameters(), cfg.clip)
            else:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            optimizer.step()

        steps.append(step)
        labels.append(label)
        rows.append({"model": label, "real_params": runner.count_parameters(model),
                     "hidden": hidden, "batch": cfg.batch})  # fmt: skip
        cayleys += [o for o in optimizer.optimizers if type(o).__name__ == "StiefelCayley"]
    seconds = time_steps(steps, repeats, device)
    for row, t in zip(rows, seconds, strict=True):
        row["seconds"] = t
        row["vs_circulant"] = t / seconds[1]
    (cayley_seconds,) = time_steps([cayleys[0].step], repeats, device)
    print_table(
        f"Memory experiment, one training step ({task}, T = {T}, {device})",
        ["model", "real params", "hidden", "batch", "s", "/ wolter-yao circulant"],
        [[r["model"], str(r["real_params"]), str(r["hidden"]), str(r["batch"]),
          f"{r['seconds']:.3f}", f"{r['vs_circulant']:.2f}"] for r in rows],
    )  # fmt: skip
    share = cayley_seconds / seconds[0]
    print(f"Cayley step alone: {cayley_seconds * 1e3:.2f} ms, {share:.1%} of the dense step")
    return {"task": task, "T": T, "rows": rows, "cayley_seconds": cayley_seconds,
            "cayley_share": share}  # fmt: skip


# -- spectral constraints --------------------------------------------------------------------


def run_srn(repeats: int, device: torch.device = CPU, sizes: Sizes = FULL) -> dict:
    """A training step (forward, backward, Adam) of a 5-layer conv denoiser, unconstrained
    and with every conv under SRN or SRN-C (one power iteration per step each), side by
    side; the stability study reports SRN about 1.8x and SRN-C about 2.2x."""
    from cunitary.parametrizations import srn, srn_c

    channels, size, batch = (4, 8, 2) if sizes is TINY else (16, 64, 8)

    def model(constraint: str) -> nn.Module:
        torch.manual_seed(0)
        layers = [nn.Conv2d(1 if k == 0 else channels, 1 if k == 4 else channels, 3, padding=1)
                  for k in range(5)]  # fmt: skip
        for conv in layers:
            if constraint == "srn":
                srn(conv, alpha=1.0, beta=0.5)
            elif constraint == "srn_c":
                srn_c(conv, alpha=1.0, beta=0.5, input_size=size)
        body = [m for conv in layers for m in (conv, nn.ReLU())][:-1]
        return nn.Sequential(*body).to(device)

    x = torch.randn(batch, 1, size, size, device=device)
    steps, names = [], ("unconstrained", "srn", "srn_c")
    for name in names:
        net = model(name)
        optimizer = torch.optim.Adam(net.parameters(), 1e-3)

        def step(net=net, optimizer=optimizer) -> None:
            loss = (net(x) - x).pow(2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        steps.append(step)
    seconds = time_steps(steps, repeats, device)
    rows = [{"model": n, "seconds": t, "vs_unconstrained": t / seconds[0]}
            for n, t in zip(names, seconds, strict=True)]  # fmt: skip
    print_table(
        f"5-conv denoiser training step, {channels} channels, batch {batch}, {size}x{size}",
        ["constraint", "ms", "/ unconstrained"],
        [[r["model"], f"{r['seconds'] * 1e3:.1f}", f"{r['vs_unconstrained']:.2f}"] for r in rows],
    )
    return {"channels": channels, "size": size, "batch": batch, "rows": rows}


# -- torch.compile ---------------------------------------------------------------------------


def run_compile(repeats: int, device: torch.device = CPU, sizes: Sizes = FULL) -> dict:
    """A cgRNN training step eager and under ``torch.compile``: the first compiled call
    (compilation included), the compiled step after it, and dynamo's graph breaks."""
    steps = 4 if sizes is TINY else 20
    torch.manual_seed(0)
    model = ComplexGatedRNN(CELL_INPUT, 16 if sizes is TINY else 32).to(device)
    x = torch.randn(16, steps, CELL_INPUT, device=device)
    eager_output, probe = _fwd_bwd_pair(model, x)
    compiled = torch.compile(model)

    def compiled_output() -> torch.Tensor:
        out, _ = compiled(x)
        return torch.view_as_real(out).flatten(-2)

    start = time.perf_counter()
    compiled_output().backward(probe)
    _synchronize(device)
    first = time.perf_counter() - start
    eager, steady = time_steps(
        [lambda: eager_output().backward(probe), lambda: compiled_output().backward(probe)],
        repeats, device,
    )  # fmt: skip
    explained = torch._dynamo.explain(model)(x)
    result = {"T": steps, "hidden": model.hidden_size, "batch": 16,
              "eager_seconds": eager, "first_compiled_call_seconds": first,
              "compiled_seconds": steady, "compiled_vs_eager": steady / eager,
              "graph_breaks": explained.graph_break_count,
              "graphs": explained.graph_count}  # fmt: skip
    print(
        f"ComplexGatedRNN fwd+bwd (batch 16, T = {steps}, hidden {model.hidden_size}, {device}):"
        f" eager {eager * 1e3:.1f} ms; torch.compile first call {first:.1f} s, then "
        f"{steady * 1e3:.1f} ms ({steady / eager:.2f}x eager); {explained.graph_break_count} "
        f"graph breaks"
    )
    return result


# -- the diagonal unitary scan and the deep models ----------------------------------------


def _scan_step_code(method: str, length: int, batch: int, n: int) -> str:
    return (
        "import torch\nfrom cunitary.functional import diagonal_unitary_scan\n"
        f"torch.manual_seed(0)\nu = torch.randn({batch}, {length}, {n}, dtype=torch.complex64,"
        " requires_grad=True)\n"
        f"w = torch.rand({n}, requires_grad=True)\nprobe = torch.randn_like(u)\n"
        f"def step():\n    diagonal_unitary_scan(u, w, method={method!r}).backward(probe)\n"
    )


def _deep_step(name: str, length: int, device: torch.device):
    """One training step of the long-memory preset's model ``name`` on copy at ``length``
    (batch, forward, loss, backward, Adam), and its real-parameter count."""
    from . import memory

    no_eigen = [] if name in ("deep_unitary", "deep_lru") else ["--eigen-lr", "0"]
    cfg, _ = memory.parse(
        ["--preset", "long-memory", "--out", "unused", "--models", name, *no_eigen]
    )
    hidden = memory.hidden_for_budget(name, "copy", cfg.params, cfg)
    torch.manual_seed(0)
    model = memory.SequenceModel(name, "copy", hidden, cfg).to(device)
    optimizer = memory.make_optimizer(cfg, model)
    x, y = memory.batch_for("copy", length, cfg.batch, 0, 0, 0)
    x, y = x.to(device), y.to(device)

    def step() -> None:
        optimizer.zero_grad()
        loss, _ = memory.loss_and_score("copy", model(x), y)
        loss.backward()
        optimizer.step()

    return step, runner.count_parameters(model)


DEEP_ROWS = ("lstm", "deep_unitary", "deep_lru", "deep_arma")


def run_scan(repeats: int, device: torch.device = CPU, sizes: Sizes = FULL) -> dict:
    """The diagonal unitary scan against autograd through its step loop (forward and
    backward, complex64, ``n = cell_hidden``), time and peak memory; then one training
    step of each deep model against ``nn.LSTM`` at the same parameter budget."""
    from cunitary.functional import diagonal_unitary_scan

    n = sizes.cell_hidden
    scan_rows = []
    for length, batch in sizes.long_scans:
        torch.manual_seed(0)
        u = torch.randn(batch, length, n, dtype=torch.complex64, device=device,
                        requires_grad=True)  # fmt: skip
        w = torch.rand(n, device=device, requires_grad=True)
        probe = torch.randn(batch, length, n, 2, device=device)
        cases = [(lambda m=m, u=u, w=w: diagonal_unitary_scan(u, w, method=m), probe)
                 for m in ("scan", "loop")]  # fmt: skip
        t_scan, t_loop = time_interleaved(cases, repeats, device)
        if device.type == "cuda":
            peaks = [_peak_cuda_mib(_fwd_bwd_step(fn, pr), device) for fn, pr in cases]
        elif sizes.peak_memory:
            peaks = [_peak_rss_mib(_scan_step_code(m, length, batch, n)) for m in ("scan", "loop")]
        else:
            peaks = [math.nan, math.nan]
        del u, probe
        scan_rows.append({"T": length, "batch": batch, "n": n, "scan_seconds": t_scan,
                          "loop_seconds": t_loop, "scan_vs_loop": t_scan / t_loop,
                          "scan_peak_mib": peaks[0], "loop_peak_mib": peaks[1],
                          "memory_vs_loop": peaks[0] / peaks[1]})  # fmt: skip
    print_table(
        f"diagonal unitary scan vs autograd through its loop (n = {n}, forward+backward)",
        ["T", "batch", "scan s", "loop s", "scan / loop", "memory scan / loop"],
        [[str(r["T"]), str(r["batch"]), f"{r['scan_seconds']:.3f}", f"{r['loop_seconds']:.3f}",
          f"{r['scan_vs_loop']:.2f}", f"{r['memory_vs_loop']:.2f}"] for r in scan_rows],
    )  # fmt: skip
    steps, params = zip(*(_deep_step(name, sizes.long_T, device) for name in DEEP_ROWS),
                        strict=True)  # fmt: skip
    seconds = time_steps(list(steps), max(1, repeats), device)
    model_rows = [{"model": name, "params": p, "seconds": t, "vs_lstm": t / seconds[0]}
                  for name, p, t in zip(DEEP_ROWS, params, seconds, strict=True)]  # fmt: skip
    print_table(
        f"one training step on copy at T = {sizes.long_T} (long-memory preset)",
        ["model", "params", "s/step", "/ nn.LSTM"],
        [[r["model"], str(r["params"]), f"{r['seconds']:.3f}", f"{r['vs_lstm']:.2f}"]
         for r in model_rows],
    )  # fmt: skip
    return {"scan": scan_rows, "models": model_rows, "T": sizes.long_T}


def _fwd_bwd_pair(model: nn.Module, x: torch.Tensor):
    probe = _cell_probe(model, x)

    def output() -> torch.Tensor:
        out, _ = model(x)
        return torch.view_as_real(out).flatten(-2) if out.is_complex() else out

    return output, probe


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "suite",
        choices=["unitary", "cells", "arma", "data", "video", "memory", "compile", "srn", "scan"],
        help="which table to run",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed repetitions (unitary 20, cells 3)"
    )
    parser.add_argument("--device", default="cpu", help="'cpu', 'cuda' or 'cuda:k'")
    parser.add_argument(
        "--sizes", nargs="+", choices=["cpu", "gpu", "paper"], default=None,
        help="video: the presets' model sizes (default: cpu; on CUDA all three)",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument(
        "--tiny", action="store_true",
        help="tiny sizes: runs every code path in seconds, measures nothing (CI rehearsal)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = {
            "cells": 3,
            "data": 5,
            "video": 5,
            "memory": 10,
            "compile": 5,
            "srn": 10,
            "scan": 3,
        }.get(args.suite, 20)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    try:
        device = runner.resolve_device(args.device)
    except runner.RunError as error:
        parser.error(str(error))
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    env = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
    }
    print(f"torch {env['torch']}, {env['threads']} threads, {env['machine']}, {env['device']}")
    if args.suite == "data":
        results = {"env": env, "data": run_data(args.repeats)}
    sizes = TINY if args.tiny else FULL
    env["tiny"] = bool(args.tiny)
    if args.suite == "data":
        results = {"env": env, "data": run_data(args.repeats, n=50 if args.tiny else 5000)}
    elif args.suite == "video":
        presets = args.sizes or (None if args.tiny or device.type != "cuda"
                                 else ("cpu", "gpu", "paper"))  # fmt: skip
        results = {"env": env, "video": run_video(args.repeats, device, presets, sizes)}
    else:
        suites = {"unitary": run_unitary, "arma": run_arma, "cells": run_cells,
                  "memory": run_memory, "compile": run_compile, "srn": run_srn,
                  "scan": run_scan}  # fmt: skip
        suite = suites[args.suite]
        results = {"env": env, args.suite: suite(args.repeats, device, sizes)}
    if args.json is not None:
        runner.write_json(args.json, results)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
