r"""Video denoisers of the stability study, small: backbones x ways of recurring.

    python -m experiments.stability untrained --out runs/denoisers-untrained   # Fig. 2: untrained

Backbones (widths reduced for 2 cores; ``--channels``): ``vdncnn``, ``depth`` conv layers
with ReLU between them (the study's VDnCNN has 10 conv + ReLU), and ``vresnet``, an input
conv, ``blocks`` residual blocks (conv-ReLU-conv plus the identity) and an output conv.
Every model predicts the clean frame as the noisy frame minus the backbone's output (a
residual denoiser). Ways of recurring, for the frame :math:`x_t`:

* ``single``: no recurrence, :math:`x_t` alone; ``multi``: no recurrence,
  :math:`[x_{t-2}, x_{t-1}, x_t]`;
* ``frame``: the previous *output* is fed back, :math:`[x_t, y_{t-1}]`;
* ``feature``: the backbone's last hidden features :math:`f_{t-1}` are fed back into its
  first layer, :math:`[x_t, f_{t-1}]`;
* ``rlsp``: both, with the previous frame: :math:`[x_{t-1}, x_t, y_{t-1}, f_{t-1}]`
  (recurrent latent space propagation);
* ``unitary``: ``feature`` with the fed-back features first transported by an orthogonal
  2-D convolution (:class:`~cunitary.UnitaryConv2d` ``real=True``): the recurrence's
  linear part preserves the features' norm;
* ``rotation_gru``: the fed-back state is a :class:`~cunitary.RotationConvGRUCell`'s,
  updated from the backbone's features, :math:`s_t = \mathcal W((1 - z)\odot\tanh(\cdot)
  + z\odot s_{t-1})`: each entry a convex combination of a candidate in :math:`(-1, 1)`
  and the old entry, then an orthogonal map, so :math:`\lVert s_t\rVert_2 \le
  \lVert s_{t-1}\rVert_2 + \sqrt N` (:math:`N` entries): the state can grow at most
  linearly, never exponentially, whatever the backbone's gain (the library's answer).

``dampening`` :math:`\lambda` multiplies whatever is fed back (the study's App. F).

The study's Fig. 2: untrained recurrent models diverge on random inputs while feed-forward
ones stay bounded; this experiment measures the output norm over ``--frames`` frames of
i.i.d. uniform noise for every backbone and way, for several random initialisations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

from cunitary import RotationConvGRUCell, UnitaryConv2d

from .. import runner
from ..runner import option

BACKBONES = ("vdncnn", "vresnet")
RECURRENCES = ("single", "multi", "frame", "feature", "rlsp", "unitary", "rotation_gru")
#: ``torch``: PyTorch's default conv initialisation (uniform, variance 1 / (3 fan_in));
#: ``he``: He-normal (variance 2 / fan_in), which keeps a ReLU network's gain near 1.
INITS = ("torch", "he")


class Backbone(nn.Module):
    """``vdncnn`` or ``vresnet``: ``(B, C_in, H, W)`` -> residual ``(B, 1, H, W)`` and the
    last hidden features ``(B, channels, H, W)``."""

    def __init__(self, kind: str, in_channels: int, channels: int, depth: int = 10,
                 blocks: int = 5) -> None:  # fmt: skip
        super().__init__()
        if kind not in BACKBONES:
            raise ValueError(f"backbone must be one of {BACKBONES}, got {kind!r}")
        self.kind = kind
        self.head = nn.Conv2d(in_channels, channels, 3, padding=1)
        if kind == "vdncnn":
            self.body = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1)
                                      for _ in range(depth - 2))  # fmt: skip
        else:
            self.body = nn.ModuleList(
                nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
                              nn.Conv2d(channels, channels, 3, padding=1))
                for _ in range(blocks)
            )  # fmt: skip
        self.tail = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = torch.relu(self.head(x))
        for layer in self.body:
            f = torch.relu(layer(f)) if self.kind == "vdncnn" else f + layer(f)
        return self.tail(f), f


class Denoiser(nn.Module):
    """A backbone run frame by frame with one of :data:`RECURRENCES`."""

    def __init__(self, backbone: str, recurrence: str, channels: int = 16, size: int = 64,
                 depth: int = 10, blocks: int = 5, init: str = "torch",
                 dampening: float = 1.0) -> None:  # fmt: skip
        super().__init__()
        self.dampening = float(dampening)
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        if recurrence not in RECURRENCES:
            raise ValueError(f"recurrence must be one of {RECURRENCES}, got {recurrence!r}")
        self.recurrence = recurrence
        self.channels = channels
        inputs = {"single": 1, "multi": 3, "frame": 2, "feature": 1 + channels,
                  "rlsp": 3 + channels, "unitary": 1 + channels,
                  "rotation_gru": 1 + channels}[recurrence]  # fmt: skip
        self.backbone = Backbone(backbone, inputs, channels, depth, blocks)
        self.transport = (UnitaryConv2d(size, channels, real=True, angles="kernel")
                          if recurrence == "unitary" else None)  # fmt: skip
        self.cell = (RotationConvGRUCell(channels, channels, size, angles="kernel")
                     if recurrence == "rotation_gru" else None)  # fmt: skip
        if init == "he":  # He et al.: variance 2 / fan_in, the usual start of ReLU denoisers
            for conv in self.backbone.modules():
                if isinstance(conv, nn.Conv2d):
                    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
                    nn.init.zeros_(conv.bias)

    def _input(self, x, before, previous, features) -> torch.Tensor:
        """What the backbone reads at one frame (see the module text)."""
        kind = self.recurrence
        if kind == "single":
            return x
        if kind == "multi":
            return torch.cat([*before, x], 1)
        if kind == "frame":
            return torch.cat([x, previous], 1)
        if kind == "feature":
            return torch.cat([x, features], 1)
        if kind == "rlsp":
            return torch.cat([before[1], x, previous, features], 1)
        if kind == "unitary":
            return torch.cat([x, self.transport(features)], 1)
        return torch.cat([x, features], 1)  # rotation_gru: the cell's state

    def step(self, x: torch.Tensor, state: tuple | None) -> tuple[torch.Tensor, tuple]:
        """One frame ``(B, 1, H, W)``: the clean estimate and the next state (``None``: a
        fresh state, every fed-back quantity zero and the frames before ``x`` equal to it)."""
        if state is None:
            b, _, h, w = x.shape
            zeros = x.new_zeros(b, self.channels, h, w)
            state = (x, x, torch.zeros_like(x), zeros)
        before2, before1, previous, features = state
        residual, hidden = self.backbone(self._input(x, (before2, before1), previous, features))
        if self.cell is not None:
            hidden = self.cell(hidden, features)
        output = x - residual
        return output, (before1, x, self.dampening * output, self.dampening * hidden)

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        """Denoise ``(B, T, 1, H, W)`` frame by frame: ``(B, T, 1, H, W)``."""
        state, outputs = None, []
        with parametrize.cached():  # constrained weights: computed once per sequence
            for x in noisy.unbind(1):
                y, state = self.step(x, state)
                outputs.append(y)
        return torch.stack(outputs, 1)


@dataclass
class Config:
    backbones: list[str] = option(list(BACKBONES), "backbones", choices=BACKBONES)
    recurrences: list[str] = option(list(RECURRENCES), "ways of recurring", choices=RECURRENCES)
    channels: int = option(16, "channels of every conv layer", minimum=1)
    size: int = option(64, "frame size", minimum=8)
    frames: int = option(1000, "frames of random input", minimum=1)
    inits: int = option(3, "random initialisations per model", minimum=1)
    init: list[str] = option(list(INITS), "weight initialisations", choices=INITS)
    seed: int = option(0, "seed of the weights and the inputs", minimum=0)


PRESETS = {"default": {}, "smoke": {"channels": 4, "size": 16, "frames": 12, "inits": 1}}


def untrained_norms(
    cfg: Config, backbone: str, recurrence: str, scheme: str, draw: int
) -> list[float]:
    """The output's RMS per frame of an untrained model on i.i.d. uniform frames, for the
    ``draw``-th initialisation by ``scheme``; it ends at the last finite value if the
    output overflows."""
    torch.manual_seed(cfg.seed * 1000 + draw)
    model = Denoiser(backbone, recurrence, cfg.channels, cfg.size, init=scheme)
    generator = runner.keyed_generator(cfg.seed, "untrained-input", draw)
    noisy = torch.rand(1, cfg.frames, 1, cfg.size, cfg.size, generator=generator)
    with torch.no_grad():
        out = model(noisy)
    norms = []
    for frame in out[0]:
        value = frame.double().pow(2).mean().sqrt().item()
        if not math.isfinite(value):
            break
        norms.append(float(f"{value:.4g}"))  # four digits: the file stays small
    return norms


def main(argv: list[str] | None = None) -> dict:
    cfg, args = runner.parse_config(Config, PRESETS, argv, __doc__.splitlines()[0], "default")
    with runner.start(cfg, args, may_change=()) as run:
        results = {}
        for scheme in cfg.init:
            for backbone in cfg.backbones:
                for recurrence in cfg.recurrences:
                    runs = [untrained_norms(cfg, backbone, recurrence, scheme, k)
                            for k in range(cfg.inits)]  # fmt: skip
                    results[f"{scheme}-{backbone}-{recurrence}"] = runs
                    finals = ", ".join(f"{r[-1]:.3g} (frame {len(r)})" for r in runs)
                    print(f"{scheme:5s} {backbone:8s} {recurrence:8s} last finite RMS: {finals}")
        if run.main:
            runner.write_json(run.out / "norms.json", results)
            plot(run.out, cfg, results)
        return results


def plot(out, cfg: Config, results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(cfg.init), len(cfg.backbones),
                             figsize=(6 * len(cfg.backbones), 4 * len(cfg.init)),
                             squeeze=False)  # fmt: skip
    for row, scheme in zip(axes, cfg.init, strict=True):
        for ax, backbone in zip(row, cfg.backbones, strict=True):
            draw_panel(ax, cfg, results, scheme, backbone)
    fig.tight_layout()
    runner.save_figure(fig, out / "untrained_norms.png", dpi=80)


def draw_panel(ax, cfg: Config, results: dict, scheme: str, backbone: str) -> None:
    for k, recurrence in enumerate(cfg.recurrences):
        for i, norms in enumerate(results[f"{scheme}-{backbone}-{recurrence}"]):
            ax.semilogy(range(1, len(norms) + 1), norms, color=f"C{k}", lw=1,
                        label=recurrence if i == 0 else None)  # fmt: skip
        ax.set_title(f"untrained {backbone} ({scheme} init), i.i.d. uniform frames")
    ax.set_xlabel("frame")
    ax.set_ylabel("output RMS")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)


if __name__ == "__main__":
    runner.cli(main)
