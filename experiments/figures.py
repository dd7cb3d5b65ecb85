"""Figures and tables for the docs' theory pages.

    python -m experiments.figures --out docs/_static --tables docs/_generated

Writes ``activations.png`` (phase portraits), ``activation_bounds.png`` (local Lipschitz
constant :math:`|f_z| + |f_{\\bar z}|` over the plane), ``spectra.png`` (eigen-angles and
kernels of the unitary convolutions), ``erf.png`` and ``erf_theorem3.png`` (effective
receptive fields of linear ARMA and unitary stacks) and, under ``--tables``,
``activation_table.rst`` (the numbers quoted on the "Complex activations" page).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib
import torch

import cunitary.functional as F
from cunitary import ARMA2d, CausalARMA1d, UnitaryConv1d, UnitaryConv2d
from cunitary.analysis import activation_profile, complex_grid, wirtinger_derivatives
from cunitary.arma import ar_parameters
from cunitary.stability import arma_erf_radius, effective_receptive_field

from . import runner

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import LogNorm, hsv_to_rgb  # noqa: E402

ACTIVATIONS = {
    "phase-ReLU (a=1.5, b=0.5)": lambda z: F.phase_relu(z, 1.5, 0.5),
    "zReLU": F.zrelu,
    "modReLU (b=-0.5)": lambda z: F.modrelu(z, -0.5),
    "modReLU (b=+0.5)": lambda z: F.modrelu(z, 0.5),
    "cReLU": F.crelu,
    "cardioid": F.cardioid,
    "phase-amplitude (m=1)": F.phase_amplitude,
    "Hirose (m=1)": F.hirose,
    "Cayley": F.cayley,
}

# What Wolter & Yao's *Complex gated memory cells* (§5.1-5.3) says about each function.
PAPER_CLAIMS = {
    "phase-ReLU (a=1.5, b=0.5)": "holomorphic off sector edges; derivative 0 or 1",
    "zReLU": "holomorphic off the axes; derivative 0 or 1",
    "modReLU (b=-0.5)": "holomorphic only when ~linear; unbounded derivative",
    "modReLU (b=+0.5)": "holomorphic only when ~linear; unbounded derivative",
    "cReLU": "holomorphic in quadrants I and III; derivative 1 there",
    "cardioid": "holomorphic only at 0; unstable where cos(theta) > 0",
    "phase-amplitude (m=1)": "holomorphic only near 0",
    "Hirose (m=1)": "(not analysed; same family as phase-amplitude)",
    "Cayley": "holomorphic; ``|f'| <= 1`` on its half plane",
}


def domain_colouring(w: torch.Tensor) -> torch.Tensor:
    """Hue = phase, brightness = modulus (saturating), black where f = 0."""
    hue = (torch.angle(w) / (2 * math.pi)) % 1.0
    value = 1 - 1 / (1 + w.abs() ** 0.7)
    hsv = torch.stack([hue, torch.full_like(hue, 0.85), value], dim=-1)
    return torch.from_numpy(hsv_to_rgb(hsv.numpy()))


def plot_activations(out: Path, extent: float = 2.5, points: int = 301) -> None:
    grid = complex_grid(extent, points)
    fig, axes = plt.subplots(3, 3, figsize=(9, 9.4))
    for ax, (name, f) in zip(axes.flat, ACTIVATIONS.items(), strict=True):
        ax.imshow(domain_colouring(f(grid)), extent=(-extent, extent, -extent, extent))
        ax.set_title(name, fontsize=9)
        ax.set_xticks([-2, 0, 2])
        ax.set_yticks([-2, 0, 2])
    fig.suptitle("Phase portraits f(z): hue = arg f, brightness = |f| (black: f = 0)")
    fig.tight_layout()
    fig.savefig(out / "activations.png", dpi=90)
    plt.close(fig)

    fig, axes = plt.subplots(3, 3, figsize=(9, 9.4))
    for ax, (name, f) in zip(axes.flat, ACTIVATIONS.items(), strict=True):
        dz, dzbar = wirtinger_derivatives(f, grid)
        bound = (dz.abs() + dzbar.abs()).clamp(max=2.0)
        im = ax.imshow(
            bound, extent=(-extent, extent, -extent, extent), vmin=0, vmax=2, cmap="RdBu_r"
        )
        ax.set_title(name, fontsize=9)
        ax.set_xticks([-2, 0, 2])
        ax.set_yticks([-2, 0, 2])
    fig.colorbar(im, ax=axes, shrink=0.6, label="|df/dz| + |df/dz̄| (clipped at 2); > 1 = expansive")
    fig.suptitle("Local Lipschitz constant: red regions are expansive (above 1)")
    fig.savefig(out / "activation_bounds.png", dpi=90)
    plt.close(fig)


def write_table(out: Path) -> None:
    grid = complex_grid(3.0, 201)
    lines = [
        ".. list-table:: Activations on a 201 x 201 grid of [-3, 3]^2 (tolerance 1e-6)",
        "   :header-rows: 1",
        "   :widths: 22 12 12 12 12 30",
        "",
        "   * - activation",
        "     - holomorphic",
        "     - non-expansive",
        "     - max bound",
        "     - median bound",
        "     - what the papers say",
    ]
    for name, f in ACTIVATIONS.items():
        p = activation_profile(f, grid)
        lines += [
            f"   * - {name}",
            f"     - {100 * p['holomorphic']:.1f} %",
            f"     - {100 * p['non_expansive']:.1f} %",
            f"     - {p['max_bound']:.3g}",
            f"     - {p['median_bound']:.3g}",
            f"     - {PAPER_CLAIMS[name]}",
        ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "activation_table.rst").write_text("\n".join(lines) + "\n")


def plot_spectra(out: Path, n: int = 64) -> None:
    torch.manual_seed(0)
    complex_layer = UnitaryConv1d(n)
    real_layer = UnitaryConv1d(n, real=True)
    fig, axes = plt.subplots(2, 2, figsize=(9, 6))
    k = torch.arange(n)
    with torch.no_grad():
        axes[0, 0].stem(k, complex_layer.effective_angles()[0], markerfmt=".", basefmt=" ")
        axes[0, 0].set_title("complex layer: free eigen-angles ω_k")
        axes[0, 1].stem(k, real_layer.effective_angles()[0], markerfmt=".", basefmt=" ")
        axes[0, 1].set_title("real=True: odd-symmetric Ω_k = -Ω_{n-k}")
        for ax in axes[0]:
            ax.set_xlabel("frequency k")
            ax.set_ylim(-math.pi, math.pi)
        kernel = complex_layer.matrix()[:, 0].abs()
        axes[1, 0].bar(k, kernel)
        axes[1, 0].set_title("|kernel| = |ifft(e^{iω})|: global support")
        axes[1, 0].set_xlabel("tap")
        layer2d = UnitaryConv2d(32, init="zero")
        with torch.no_grad():
            ky, kx = torch.meshgrid(torch.fft.fftfreq(32), torch.fft.fftfreq(32), indexing="ij")
            layer2d.angles.copy_(-2 * math.pi * (3 * ky + 5 * kx)[None])  # a pure shift
            layer2d.angles.add_(0.6 * torch.randn(1, 32, 32))
        kernel2d = torch.fft.ifft2(layer2d.eigenvalues()[0]).abs()
        im = axes[1, 1].imshow(torch.fft.fftshift(kernel2d), cmap="magma")
        axes[1, 1].set_title("2-D kernel |ifft2(e^{iΩ})| (shift + noise)")
        fig.colorbar(im, ax=axes[1, 1])
    fig.tight_layout()
    fig.savefig(out / "spectra.png", dpi=90)
    plt.close(fig)


def linear_arma2d(layers: int, a: float, size: int) -> torch.nn.Sequential:
    """Uniform 3x3 MA and the symmetric AR factor [-a/2, 1, -a/2] on both axes."""
    alpha, beta = ar_parameters(torch.tensor(-a / 2), torch.tensor(-a / 2))
    stack = []
    for _ in range(layers):
        layer = ARMA2d(1, 1, bias=False, ar_padding=size // 2, dtype=torch.float64)
        with torch.no_grad():
            layer.conv.weight.fill_(1 / 9)
            layer.ar_alpha.fill_(float(alpha))
            layer.ar_beta.fill_(float(beta))
        stack.append(layer)
    return torch.nn.Sequential(*stack)


def linear_arma1d(layers: int, kernel: int, a: float) -> torch.nn.Sequential:
    """Theorem 3's network: y_i - a y_{i-1} = (1 - a)/K sum_p x_{i-p}."""
    stack = []
    for _ in range(layers):
        layer = CausalARMA1d(1, 1, kernel, ar_order=1, bias=False, dtype=torch.float64)
        with torch.no_grad():
            layer.ma.weight.fill_((1 - a) / kernel)
            layer.ar_reflection.fill_(math.atanh(-a / (1 - layer.margin)))
        stack.append(layer)
    return torch.nn.Sequential(*stack)


def plot_erf(out: Path, size: int = 65) -> None:
    torch.manual_seed(0)
    depths, coefficients = (1, 3, 5), (0.0, 0.6, 0.8, 0.9)
    fig, axes = plt.subplots(4, 4, figsize=(10, 10.5))
    shape = (1, size, size)
    for row, layers in enumerate(depths):
        for col, a in enumerate(coefficients):
            erf = effective_receptive_field(linear_arma2d(layers, a, size), shape, samples=1,
                                            dtype=torch.float64)  # fmt: skip
            axes[row, col].imshow(erf.map, cmap="magma")
            axes[row, col].set_title(f"ARMA L={layers}, a={a}: r={erf.radius:.1f}", fontsize=9)
    for col, layers in enumerate((1, 3, 5)):
        stack = torch.nn.Sequential(
            *[UnitaryConv2d(size, real=True, init="small", dtype=torch.float64)
              for _ in range(layers)]
        )  # fmt: skip
        erf = effective_receptive_field(stack, shape, samples=1, dtype=torch.float64)
        axes[3, col].imshow(erf.map.clamp_min(1e-7), cmap="magma", norm=LogNorm())
        axes[3, col].set_title(f"UnitaryConv2d 'small' L={layers}: r={erf.radius:.1f}", fontsize=9)
    stack = UnitaryConv2d(size, real=True, init="uniform", dtype=torch.float64)
    erf = effective_receptive_field(stack, shape, samples=1, dtype=torch.float64)
    axes[3, 3].imshow(erf.map.clamp_min(1e-7), cmap="magma", norm=LogNorm())
    axes[3, 3].set_title(f"UnitaryConv2d 'uniform' L=1: r={erf.radius:.1f}", fontsize=9)
    runner.hide_ticks(axes)
    fig.suptitle(
        f"Effective receptive fields on {size}x{size} (centre output pixel; "
        "bottom row on a log scale)"
    )
    fig.tight_layout()
    fig.savefig(out / "erf.png", dpi=80)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    grid = [i / 100 for i in range(0, 96)]
    length = 1024
    for layers, colour in zip(depths, ("C0", "C1", "C2"), strict=True):
        ax.plot(grid, [arma_erf_radius([3] * layers, [a] * layers) for a in grid], colour,
                label=f"Theorem 3, L={layers}")  # fmt: skip
        measured = [
            effective_receptive_field(
                linear_arma1d(layers, 3, a), (length, 1), spatial_dims=(0,),
                position=(length - 1,), samples=1, dtype=torch.float64,
            ).radius
            for a in (0.0, 0.3, 0.6, 0.8, 0.9, 0.95)
        ]  # fmt: skip
        ax.plot(
            (0.0, 0.3, 0.6, 0.8, 0.9, 0.95), measured, colour + "o", label=f"measured, L={layers}"
        )
    ax.set_yscale("log")
    ax.set_xlabel("AR coefficient a")
    ax.set_ylabel("ERF radius")
    ax.set_title("1-D linear ARMA networks, K = 3")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "erf_theorem3.png", dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/_static"), help="figures")
    parser.add_argument("--tables", type=Path, default=Path("docs/_generated"), help="rst tables")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    plot_activations(args.out)
    write_table(args.tables)
    plot_spectra(args.out)
    plot_erf(args.out)
    print(f"wrote figures to {args.out} and activation_table.rst to {args.tables}")


if __name__ == "__main__":
    main()
