"""Showcase: a unitary vs unconstrained 2-D convolution applied 10,000 times to an image.

    python -m experiments.showcase --out runs/showcase [--steps 10000] [--size 32] [--seed 0]

Writes ``config.json``, ``metrics.csv`` (norm ratio every step for each operator),
``summary.json`` and ``norms.png`` under ``--out`` and prints a table.

Operators, each applied as a linear recurrence ``x_{t+1} = A x_t``:

* ``UnitaryConv2d`` (complex, float32 and float64) and ``UnitaryConv2d(real=True)``:
  eigenvalues on the unit circle, so the norm stays put up to rounding;
* a random 3x3 circular convolution rescaled so that its largest singular value is
  1.01 (resp. 0.99): one percent away from the unit circle, the norm grows (decays)
  like 1.01^t, about 1e43 (1e-44) after 10,000 steps;
* ``nn.Conv2d`` 3x3 with PyTorch's default initialisation: the usual starting point
  of a recurrent conv net, which contracts by orders of magnitude per step;
* the bare float32 ``fft2``/``ifft2`` and ``rfft2``/``irfft2`` round trips (the identity,
  computed the way the unitary layers compute): the rounding floor of the FFT path.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from cunitary import UnitaryConv2d

from . import runner


def test_image(size: int) -> torch.Tensor:
    """A ring plus a bar: a deterministic image with structure at several scales."""
    idx = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    i, j = torch.meshgrid(idx, idx, indexing="ij")
    radius = torch.sqrt(i**2 + j**2)
    ring = torch.exp(-((radius - size / 4) ** 2) / 4)
    bar = ((i.abs() < size / 16) & (j > 0)).double()
    return (ring + bar)[None]  # (1, H, W)


def circular_conv3x3(gain: float, size: int, seed: int) -> nn.Conv2d:
    """Random 3x3 circular convolution with largest singular value ``gain``.

    A single-channel circular convolution is diagonalised by the DFT, so its singular
    values are the moduli of the kernel's 2-D DFT on the image grid.
    """
    gen = torch.Generator().manual_seed(seed)
    conv = nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular", bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(torch.randn(1, 1, 3, 3, generator=gen, dtype=torch.float64))
        spectrum = torch.fft.fft2(conv.weight[0, 0], s=(size, size)).abs()
        conv.weight.mul_(gain / spectrum.max())
    return conv


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/showcase"))
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.size < 4:
        parser.error(f"need --steps >= 1 and --size >= 4, got {args.steps}, {args.size}")
    torch.manual_seed(args.seed)
    runner.write_json(
        args.out / "config.json",
        {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    )

    image = test_image(args.size)
    unitary64 = UnitaryConv2d(args.size, dtype=torch.float64)
    unitary32 = UnitaryConv2d(args.size)
    with torch.no_grad():
        unitary32.angles.copy_(unitary64.angles)
    orthogonal = UnitaryConv2d(args.size, real=True)
    default_conv = nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular", bias=False).double()
    # The bare float32 FFT round trips: the rounding floor a unitary layer cannot go below.
    operators = {
        "fft2 + ifft2, complex64": (
            lambda x: torch.fft.ifft2(torch.fft.fft2(x)),
            image.to(torch.complex64),
        ),
        "rfft2 + irfft2, float32": (
            lambda x: torch.fft.irfft2(torch.fft.rfft2(x), s=x.shape[-2:]),
            image.float(),
        ),
        "UnitaryConv2d complex64": (unitary32, image.to(torch.complex64)),
        "UnitaryConv2d complex128": (unitary64, image.to(torch.complex128)),
        "UnitaryConv2d real=True float32": (orthogonal, image.float()),
        "3x3 conv, gain 1.01": (circular_conv3x3(1.01, args.size, args.seed), image),
        "3x3 conv, gain 0.99": (circular_conv3x3(0.99, args.size, args.seed), image),
        "nn.Conv2d 3x3 default init": (default_conv, image),
    }
    norms = {name: [] for name in operators}
    start = time.perf_counter()
    with torch.no_grad():
        states = {name: x[None] for name, (_, x) in operators.items()}  # (1, 1, H, W)
        initial = {name: x.norm().item() for name, x in states.items()}
        for _ in tqdm(range(args.steps), desc="applying operators", unit="step"):
            for name, (op, _) in operators.items():
                states[name] = op(states[name])
                norms[name].append(states[name].norm().item() / initial[name])
    elapsed = time.perf_counter() - start

    runner.write_csv(
        args.out / "metrics.csv",
        ["step", *operators],
        [[t + 1, *(f"{norms[name][t]:.9e}" for name in operators)] for t in range(args.steps)],
    )

    summary = {}
    for name, series in norms.items():
        series_t = torch.tensor(series, dtype=torch.float64)
        summary[name] = {
            "final_norm_ratio": series[-1],
            "max_abs_log10_ratio": float(series_t.clamp_min(1e-300).log10().abs().max()),
            "max_relative_drift": float((series_t - 1).abs().max()),
        }
    summary["_seconds"] = elapsed
    runner.write_json(args.out / "summary.json", summary)

    print(f"\n||A^t x|| / ||x|| after {args.steps} steps on a {args.size}x{args.size} image")
    print(f"| {'operator':34} | {'final ratio':>12} | {'max |ratio - 1|':>15} |")
    print(f"|{'-' * 36}|{'-' * 14}|{'-' * 17}|")
    for name in operators:
        s = summary[name]
        print(f"| {name:34} | {s['final_norm_ratio']:12.4e} | {s['max_relative_drift']:15.3e} |")
    print(f"({elapsed:.1f} s)")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_drift) = plt.subplots(1, 2, figsize=(11, 4.2))
    steps = range(1, args.steps + 1)
    for name, series in norms.items():
        safe = [v if math.isfinite(v) else float("nan") for v in series]
        ax.semilogy(steps, safe, label=name, lw=1.6)
        if name.startswith(("UnitaryConv2d", "fft2", "rfft2")):
            drift = [max(abs(v - 1), 1e-17) for v in series]
            ax_drift.semilogy(steps, drift, label=name, lw=1.2)
    ax.set_ylim(1e-60, 1e60)  # the default-init conv underflows to 0 below this
    ax.set_xlabel("applications t")
    ax.set_ylabel(r"$\|A^t x\| / \|x\|$")
    ax.set_title("norm after t applications")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax_drift.set_xlabel("applications t")
    ax_drift.set_ylabel(r"$|\,\|A^t x\| / \|x\| - 1|$")
    ax_drift.set_title("unitary layers: rounding drift")
    ax_drift.grid(True, which="major", alpha=0.3)
    ax_drift.legend(fontsize=8, loc="center right")
    fig.suptitle("Unitary vs unconstrained 2-D convolution, applied repeatedly")
    fig.tight_layout()
    runner.save_figure(fig, args.out / "norms.png", dpi=120)
    print(f"wrote {args.out}/config.json, metrics.csv, summary.json, norms.png")


if __name__ == "__main__":
    main()
