r"""Initialisers for complex weights and unitary operators.

Complex weights are drawn as :math:`w = \sigma\,(a + ib)/\sqrt2` with
:math:`a, b\sim\mathcal N(0, 1)`: the modulus is Rayleigh distributed, the phase
uniform, and :math:`\operatorname{Var}(w) = E|w|^2 = \sigma^2` (Trabelsi et al. 2018,
"Deep complex networks", §3.6). Glorot and He choices of :math:`\sigma^2` keep the
variance of activations constant through complex linear layers.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "complex_fans",
    "complex_glorot_",
    "complex_kaiming_",
    "haar_unitary_",
    "uniform_angles_",
]


def complex_fans(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a ``(out, in, *kernel)`` weight."""
    if tensor.dim() < 2:
        raise ValueError(f"tensor must have at least 2 dimensions, got shape {tuple(tensor.shape)}")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _complex_normal_(tensor: Tensor, variance: float, generator=None) -> Tensor:
    if not tensor.is_complex():
        raise TypeError(f"tensor must be complex, got {tensor.dtype}")
    with torch.no_grad():
        sample = torch.randn(tensor.shape, dtype=tensor.dtype, generator=generator)
        return tensor.copy_(sample * math.sqrt(variance))  # randn: E|z|^2 = 1


def complex_glorot_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    r"""Complex Glorot: :math:`\operatorname{Var}(w) = \text{gain}^2\cdot
    2/(\text{fan\_in} + \text{fan\_out})`."""
    fan_in, fan_out = complex_fans(tensor)
    return _complex_normal_(tensor, gain**2 * 2.0 / (fan_in + fan_out), generator)


def complex_kaiming_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    r"""Complex He: :math:`\operatorname{Var}(w) = \text{gain}^2/\text{fan\_in}`."""
    fan_in, _ = complex_fans(tensor)
    return _complex_normal_(tensor, gain**2 / fan_in, generator)


def haar_unitary_(tensor: Tensor, generator=None) -> Tensor:
    r"""Fill a square complex matrix with a Haar-distributed unitary matrix.

    QR of a complex Gaussian matrix, with the phases of :math:`\operatorname{diag}(R)`
    moved into :math:`Q` so that the distribution is exactly Haar (Mezzadri 2007).
    """
    if not tensor.is_complex() or tensor.dim() != 2 or tensor.shape[0] != tensor.shape[1]:
        raise ValueError(
            f"tensor must be a square complex matrix, got {tensor.dtype} {tuple(tensor.shape)}"
        )
    with torch.no_grad():
        z = torch.randn(tensor.shape, dtype=torch.complex128, generator=generator)
        q, r = torch.linalg.qr(z)
        d = torch.diagonal(r)
        q = q * (d / d.abs())[None, :]
        return tensor.copy_(q.to(tensor.dtype))


def uniform_angles_(tensor: Tensor, scale: float = math.pi, generator=None) -> Tensor:
    r"""Eigen-angles :math:`\omega\sim U(-\text{scale}, \text{scale})`."""
    if tensor.is_complex():
        raise TypeError(f"angles must be real, got {tensor.dtype}")
    with torch.no_grad():
        return tensor.uniform_(-scale, scale, generator=generator)
