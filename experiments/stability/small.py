"""Stability of recurrent video denoisers: unconstrained, SRN-C, unitary transition.

    python -m experiments.stability small --out runs/stability            # ~10 min on 2 cores
    python -m experiments.stability small --out runs/stability-smoke --preset smoke

A small feature-recurrent denoiser (5 conv layers, ReLU; the recurrence feeds the last
layer's features back into the first) is trained on noisy Moving-MNIST-S frames without
constraint, with SRN-C (alpha = 1; alpha = 2 with a small beta), and compared with a
rotation conv-GRU whose transition is orthogonal. For each model: test PSNR, the spectral
norm of every conv layer, the temporal receptive field and the instability onsets of a
10,000-frame rollout. Writes ``config.json``, ``table.md``/``table.json``,
``onsets.csv``, ``trf.png``, ``rollout_psnr.png`` and per-model checkpoints that
``--resume`` continues from (or reuses, when a model is trained to ``--steps``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from cunitary import RotationConvGRUCell
from cunitary.moving_mnist import build_dataset
from cunitary.stability import (
    conv_spectral_norm,
    instability_onset,
    srn_c,
    temporal_receptive_field,
)

from .. import runner
from ..runner import count_parameters, option

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MODELS = ("unconstrained", "srnc_1.0_1.0", "srnc_2.0_0.1", "unitary_gru")


@dataclass
class Config:
    models: list[str] = option(list(MODELS), "denoisers to train", choices=MODELS)
    size: int = option(32, "frame size", choices=(32, 64))
    channels: int = option(16, "channels per conv layer", minimum=1)
    noise: float = option(0.2, "Gaussian noise sigma", minimum=0)
    train_sequences: int = option(2000, "training clips", minimum=1)
    test_sequences: int = option(100, "test clips (also the rollout stream)", minimum=1)
    steps: int = option(600, "training steps per model", minimum=1)
    batch: int = option(8, "batch size", minimum=1)
    frames: int = option(10, "frames per training clip", minimum=1)
    lr: float = option(1e-3, "Adam learning rate", minimum=0)
    rollout_frames: int = option(10_000, "frames of the long rollout", minimum=1)
    trf_frames: int = option(81, "frames of the temporal receptive field (odd)", minimum=3)
    trf_steps: int = option(150, "optimisation steps of the TRF", minimum=1)
    checkpoint_every: int = option(100, "steps between checkpoints", minimum=1)
    seed: int = option(0, "seed of the weights, the data and the noise", minimum=0)


#: What --resume may change: more steps, other models, the evaluation's lengths.
RESUMABLE = ("steps", "models", "rollout_frames", "trf_steps", "checkpoint_every")

PRESETS = {
    "default": {},
    "smoke": {
        "train_sequences": 40,
        "test_sequences": 4,
        "steps": 3,
        "batch": 2,
        "frames": 3,
        "channels": 4,
        "rollout_frames": 60,
        "trf_frames": 9,
        "trf_steps": 2,
    },
}


def validate(cfg: Config) -> None:
    if cfg.frames > 20:
        raise runner.RunError(f"--frames must be <= 20 (the clip length), got {cfg.frames}")
    if cfg.trf_frames % 2 == 0:
        raise runner.RunError(f"--trf-frames must be odd, got {cfg.trf_frames}")


class FeatureRecurrentDenoiser(nn.Module):
    r"""Five 3x3 conv layers with ReLU on :math:`[x_t, h_{t-1}]`; the output features are
    the next state, and a 1x1 conv adds a residual to the noisy frame.

    .. math::
        h_t = \phi(x_t, h_{t-1}),\qquad y_t = x_t + W_o h_t
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        widths = [1 + channels] + [channels] * 5
        self.convs = nn.ModuleList(
            nn.Conv2d(i, o, 3, padding=1) for i, o in zip(widths[:-1], widths[1:], strict=True)
        )
        self.out = nn.Conv2d(channels, 1, 1)
        self.channels = channels

    def step(self, x: torch.Tensor, state: torch.Tensor | None):
        if state is None:
            state = x.new_zeros(x.shape[0], self.channels, *x.shape[-2:])
        z = torch.cat([x, state], 1)
        for conv in self.convs:
            z = torch.relu(conv(z))
        return x + self.out(z), z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state, ys = None, []
        with parametrize.cached():  # SRN-C weights: computed once per sequence
            for frame in x.unbind(1):
                y, state = self.step(frame, state)
                ys.append(y)
        return torch.stack(ys, 1)


class UnitaryGRUDenoiser(nn.Module):
    r"""A rotation conv-GRU (orthogonal 2-D transition) and the same residual readout.

    .. math::
        h_t = \mathcal W\bigl((1 - z_t)\odot \tilde h_t + z_t\odot h_{t-1}\bigr),\qquad
        y_t = x_t + W_o h_t
    """

    def __init__(self, channels: int, size: int) -> None:
        super().__init__()
        self.cell = RotationConvGRUCell(1, channels, (size, size))
        self.out = nn.Conv2d(channels, 1, 1)

    def step(self, x: torch.Tensor, state: torch.Tensor | None):
        state = self.cell(x, state)
        return x + self.out(state), state

    forward = FeatureRecurrentDenoiser.forward


def build(name: str, cfg: Config) -> nn.Module:
    torch.manual_seed(cfg.seed)
    if name == "unitary_gru":
        return UnitaryGRUDenoiser(cfg.channels, cfg.size)
    model = FeatureRecurrentDenoiser(cfg.channels)
    if name.startswith("srnc_"):
        _, alpha, beta = name.split("_")
        for conv in model.convs:
            srn_c(conv, float(alpha), float(beta), input_size=cfg.size)
    elif name != "unconstrained":
        raise ValueError(f"model must be one of {MODELS}, got {name!r}")
    return model


def noisy(clean: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    return clean + sigma * torch.randn(clean.shape, generator=generator)


def frames_of(sequences: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(sequences).float().div_(255).unsqueeze(2)  # (N, T, 1, H, W)


def train(model: nn.Module, data: torch.Tensor, cfg: Config, name: str, run: runner.Run):
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def batch_loss(net: nn.Module, step: int):
        generator = runner.keyed_generator(cfg.seed, "train", step)
        rows = torch.randint(0, len(data), (cfg.batch,), generator=generator)
        start = int(torch.randint(0, data.shape[1] - cfg.frames + 1, (1,), generator=generator))
        clean = data[rows, start : start + cfg.frames]
        dirty = noisy(clean, cfg.noise, generator).to(run.device)
        return (nn.functional.mse_loss(net(dirty), clean.to(run.device)),)

    model.train()
    progress = runner.train(
        model, optimiser, batch_loss, run, steps=cfg.steps,
        checkpoint=run.out / "checkpoints" / f"{name}.pt",
        checkpoint_every=cfg.checkpoint_every, desc=f"train {name}",
    )  # fmt: skip
    return [h[1] for h in progress.history], progress.seconds


def spectral_norms(model: nn.Module, size: int) -> list[float]:
    if not isinstance(model, FeatureRecurrentDenoiser):
        return []
    with torch.no_grad():
        return [conv_spectral_norm(c.weight, size, iterations=300) for c in model.convs]


def psnr(prediction: torch.Tensor, target: torch.Tensor) -> float:
    mse = float((prediction.clamp(0, 1) - target).pow(2).mean())
    return 10 * math.log10(1 / mse)


def run_experiment(cfg: Config, run: runner.Run) -> list[dict]:
    data_dir = run.out / "data"
    train_data, test_data = (
        frames_of(build_dataset(data_dir / f"{split}_n{n}_size{cfg.size}_seed{cfg.seed}.npz",
                                n, split, size=cfg.size, seed=cfg.seed))
        for split, n in (("train", cfg.train_sequences), ("test", cfg.test_sequences))
    )  # fmt: skip
    generator = torch.Generator().manual_seed(cfg.seed + 1)
    test_noisy = noisy(test_data, cfg.noise, generator)
    stream_clean = test_data.reshape(-1, 1, 1, cfg.size, cfg.size)
    repeats = math.ceil(cfg.rollout_frames / len(stream_clean))
    stream_clean = stream_clean.repeat(repeats, 1, 1, 1, 1)[: cfg.rollout_frames]
    stream_noisy = noisy(stream_clean, cfg.noise, generator)
    test_noisy, test_data = test_noisy.to(run.device), test_data.to(run.device)
    stream_noisy, stream_clean = stream_noisy.to(run.device), stream_clean.to(run.device)
    rows, trfs, rollouts = [], {}, {}
    for name in cfg.models:
        model = build(name, cfg).to(run.device)
        losses, train_seconds = train(model, train_data, cfg, name, run)
        model.eval()
        with torch.no_grad():
            test_psnr = psnr(model(test_noisy), test_data)
        trf = temporal_receptive_field(
            model, cfg.trf_frames, cfg.size, steps=cfg.trf_steps, lr=0.1, device=run.device
        )
        report = instability_onset(
            model.step, zip(stream_noisy, stream_clean, strict=True), psnr_floor=0.0
        )
        trfs[name], rollouts[name] = trf, report
        rows.append(
            {
                "model": name,
                "params": count_parameters(model),
                "test_psnr": test_psnr,
                "noisy_psnr": psnr(test_noisy, test_data),
                "final_train_loss": float(np.mean(losses[-20:])),
                "spectral_norms": spectral_norms(model, cfg.size),
                "trf_bounded": trf.bounded,
                "trf_reaches_far": trf.reaches_far,
                "trf_diverges": trf.diverges,
                "onsets": len(report.onsets),
                "onset_deciles": report.deciles,
                "rollout_frames": report.frames,
                "rollout_mean_psnr": float(np.mean([m for m in report.metric if math.isfinite(m)])),
                "train_seconds": train_seconds,
            }
        )
        print(json.dumps(rows[-1]))
    write_outputs(run.out, rows, trfs, rollouts)
    return rows


def table_rows(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    """The markdown table of ``table.json`` rows (also rendered into the docs)."""
    header = ["model", "params", "test PSNR (noisy)", "conv spectral norms",
              "TRF: memory, outputs", "onsets / frames", "onset deciles 10/50/90"]  # fmt: skip
    body = []
    for r in rows:
        norms = ", ".join(f"{s:.2f}" for s in r["spectral_norms"]) or "(orthogonal transition)"
        deciles = r["onset_deciles"]
        dec = f"{deciles[0]:.0f} / {deciles[4]:.0f} / {deciles[8]:.0f}" if deciles else "-"
        body.append([r["model"], f"{r['params']:,}",
                     f"{r['test_psnr']:.2f} ({r['noisy_psnr']:.2f})", norms,
                     f"{'far' if r['trf_reaches_far'] else 'short'}, "
                     f"{'diverge' if r['trf_diverges'] else 'bounded'}",
                     f"{r['onsets']} / {r['rollout_frames']}", dec])  # fmt: skip
    return header, body


def write_outputs(out: Path, rows: list[dict], trfs: dict, rollouts: dict) -> None:
    runner.write_json(out / "table.json", rows)
    table = runner.markdown_table(*table_rows(rows))
    runner.write_text(out / "table.md", table)
    print(table)
    runner.write_csv(
        out / "onsets.csv",
        ["model", "onset"],
        [[name, o] for name, report in rollouts.items() for o in report.onsets],
    )
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, trf in trfs.items():
        offsets = np.arange(len(trf.influence)) - trf.centre
        influence = trf.influence.numpy()
        axes[0].semilogy(offsets, np.maximum(influence / max(influence.max(), 1e-30), 1e-12),
                         label=name)  # fmt: skip
        axes[1].semilogy(offsets, np.maximum(trf.output_norms.numpy(), 1e-12), label=name)
    axes[0].set_title("TRF: influence of input frame t on the centre pixel of y_0")
    axes[0].set_xlabel("frame offset t")
    axes[1].set_title("output norm on the optimised sequence")
    axes[1].set_xlabel("frame offset t")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    runner.save_figure(fig, out / "trf.png", dpi=90)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for name, report in rollouts.items():
        metric = np.array(report.metric)
        ax.plot(np.clip(metric, -10, 40), label=name, lw=0.6)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("frame")
    ax.set_ylabel("PSNR (dB, clipped)")
    ax.set_title("long rollout, state reset at PSNR < 0")
    ax.legend(fontsize=8)
    fig.tight_layout()
    runner.save_figure(fig, out / "rollout_psnr.png", dpi=90)


def main(argv: list[str] | None = None) -> list[dict]:
    cfg, args = runner.parse_config(
        Config, PRESETS, argv, __doc__.splitlines()[0], "default", validate
    )
    with runner.start(cfg, args, may_change=RESUMABLE) as run:
        if run.world > 1:
            raise runner.RunError("the stability experiment runs in one process (no torchrun)")
        return run_experiment(cfg, run)


if __name__ == "__main__":
    runner.cli(main)
