r"""Synthetic memory tasks: copy and adding (Hochreiter & Schmidhuber 1997; Arjovsky et
al. 2016; Wolter & Yao 2018), vectorised and seeded.

Copy (delay ``T``): the input is 10 symbols from :math:`\{1,\dots,8\}`, then
:math:`T-1` blanks (0), the marker 9, then 10 blanks, length :math:`T + 20`. The target is
:math:`T + 10` blanks followed by the 10 symbols. A model that outputs blanks and then
guesses uniformly has cross-entropy

.. math::
    \mathcal L_{\text{memoryless}} = \frac{10\ln 8}{T + 20}

per step (0.0770 at :math:`T = 250`).

Adding (length ``T``): two channels, values :math:`U[0, 1]` and markers, exactly one
marker in each half. The target is the sum of the two marked values; predicting the mean
1 gives the MSE :math:`\operatorname{Var}(u_1 + u_2) = 1/6 \approx 0.167`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "COPY_SYMBOLS",
    "COPY_LENGTH",
    "COPY_BLANK",
    "COPY_MARKER",
    "copy_task",
    "copy_one_hot",
    "copy_baseline",
    "adding_task",
    "ADDING_BASELINE",
]

COPY_SYMBOLS = 8  # data symbols 1..8
COPY_LENGTH = 10  # symbols to remember
COPY_BLANK = 0
COPY_MARKER = 9
ADDING_BASELINE = 1.0 / 6.0


def _check(batch: int, length: int, name: str, minimum: int) -> None:
    for label, value, low in (("batch", batch, 1), (name, length, minimum)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{label} must be an int >= {low}, got {value!r}")


def copy_task(
    batch: int, T: int, generator: torch.Generator | None = None, device=None
) -> tuple[Tensor, Tensor]:
    """A batch of the copy task.

    Args:
        batch: number of sequences.
        T: delay between the last symbol and the marker's recall (sequence length T + 20).
        generator: for reproducible batches.

    Returns:
        ``(inputs, targets)``, both ``int64`` of shape ``(batch, T + 20)`` with values in
        ``0..9`` (inputs) and ``0..8`` (targets).
    """
    _check(batch, T, "T", 1)
    symbols = torch.randint(
        1, COPY_SYMBOLS + 1, (batch, COPY_LENGTH), generator=generator, device=device
    )
    length = T + 2 * COPY_LENGTH
    inputs = torch.zeros(batch, length, dtype=torch.long, device=device)
    inputs[:, :COPY_LENGTH] = symbols
    inputs[:, T + COPY_LENGTH - 1] = COPY_MARKER
    targets = torch.zeros(batch, length, dtype=torch.long, device=device)
    targets[:, -COPY_LENGTH:] = symbols
    return inputs, targets


def copy_one_hot(inputs: Tensor, width: int = 10) -> Tensor:
    """Copy-task tokens as one-hot float rows ``(*, width)``.

    ``width=10``: one column per token 0..9. ``width=9`` is Wolter & Yao's encoding:
    columns for the blank and the eight symbols (0..8) and an all-zero row for the
    marker 9.
    """
    if width not in (9, 10):
        raise ValueError(f"width must be 9 or 10, got {width!r}")
    if not isinstance(inputs, Tensor) or inputs.dtype != torch.long:
        got = inputs.dtype if isinstance(inputs, Tensor) else type(inputs).__name__
        raise TypeError(f"inputs must be an int64 tensor of tokens, got {got}")
    if inputs.numel() and (inputs.min() < 0 or inputs.max() > COPY_MARKER):
        raise ValueError(f"inputs must hold tokens 0..{COPY_MARKER}")
    rows = torch.nn.functional.one_hot(inputs, COPY_MARKER + 1).float()
    return rows if width == 10 else rows[..., :width]


def copy_baseline(T: int) -> float:
    """Cross-entropy per step of the best memoryless strategy: ``10 ln 8 / (T + 20)``."""
    _check(1, T, "T", 1)
    return COPY_LENGTH * math.log(COPY_SYMBOLS) / (T + 2 * COPY_LENGTH)


def adding_task(
    batch: int, T: int, generator: torch.Generator | None = None, device=None
) -> tuple[Tensor, Tensor]:
    """A batch of the adding task.

    Returns:
        ``(inputs, targets)``: inputs ``(batch, T, 2)`` float32 (values, markers), targets
        ``(batch,)`` the sum of the two marked values.
    """
    _check(batch, T, "T", 2)
    values = torch.rand(batch, T, generator=generator, device=device)
    half = T // 2
    first = torch.randint(0, half, (batch,), generator=generator, device=device)
    second = torch.randint(half, T, (batch,), generator=generator, device=device)
    markers = torch.zeros(batch, T, device=device)
    rows = torch.arange(batch, device=device)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    return torch.stack([values, markers], dim=-1), targets
