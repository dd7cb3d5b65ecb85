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
    "arjovsky_unitary_",
    "tf_glorot_uniform_",
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
    2/(\text{fan_in} + \text{fan_out})`."""
    fan_in, fan_out = complex_fans(tensor)
    return _complex_normal_(tensor, gain**2 * 2.0 / (fan_in + fan_out), generator)


def complex_kaiming_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    r"""Complex He: :math:`\operatorname{Var}(w) = \text{gain}^2/\text{fan_in}`."""
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


def arjovsky_unitary_(tensor: Tensor, generator=None) -> Tensor:
    r"""Fill a square complex matrix with Arjovsky et al.'s structured unitary product.

    .. math::
        U = D_3 R_2 F^{-1} D_2 \Pi R_1 F D_1

    with :math:`D_k = \operatorname{diag}(e^{i\omega_k})`, :math:`\omega_k\sim
    U(-\pi,\pi)^n`, Householder reflections :math:`R_k = I - 2v_kv_k^H/\|v_k\|^2`,
    :math:`\Re v_k, \Im v_k\sim U(-1, 1)^n`, and a random permutation :math:`\Pi`
    (Arjovsky, Shah & Bengio 2016). Wolter & Yao's code builds it to initialise a dense
    transition; there the two Fourier matrices sit where they cancel, and this
    function builds what that code builds: :math:`U = D_3 R_2 D_2 \Pi R_1 D_1`, a
    phased permutation up to two reflections.
    """
    if not tensor.is_complex() or tensor.dim() != 2 or tensor.shape[0] != tensor.shape[1]:
        raise ValueError(
            f"tensor must be a square complex matrix, got {tensor.dtype} {tuple(tensor.shape)}"
        )
    n = tensor.shape[0]
    real = {"dtype": torch.float64, "generator": generator}

    def phases() -> Tensor:
        return torch.diag(torch.polar(torch.ones(n, dtype=torch.float64),
                                      torch.rand(n, **real) * 2 * math.pi - math.pi))  # fmt: skip

    def reflection() -> Tensor:
        v = torch.complex(torch.rand(n, 1, **real) * 2 - 1, torch.rand(n, 1, **real) * 2 - 1)
        return torch.eye(n, dtype=v.dtype) - 2 * (v @ v.mH) / (v.mH @ v)

    with torch.no_grad():
        d1, d2, d3 = phases(), phases(), phases()
        r1, r2 = reflection(), reflection()
        perm = torch.eye(n, dtype=torch.complex128)[torch.randperm(n, generator=generator)]
        return tensor.copy_((d3 @ r2 @ d2 @ perm @ r1 @ d1).to(tensor.dtype))


def tf_glorot_uniform_(tensor: Tensor, fan_in: int, fan_out: int, generator=None) -> Tensor:
    r"""TensorFlow's Glorot-uniform with given fans, on the real and imaginary parts apart.

    Each part is drawn from :math:`U(-l, l)`, :math:`l = \sqrt{6/(\text{fan_in} +
    \text{fan_out})}`. Wolter & Yao store a complex ``in x out`` weight as a real
    ``[in, out, 2]`` variable, for which TensorFlow counts :math:`\text{fan_in} =
    \text{in}\cdot\text{out}` and :math:`\text{fan_out} = 2\,\text{in}`, so
    :math:`l = \sqrt{6/(\text{in}(\text{out} + 2))}`: :math:`E|w|^2 = 2l^2/3`, about
    :math:`(\text{out}+2)/6` times smaller than :func:`complex_glorot_` for a square
    weight.
    """
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        target = torch.view_as_real(tensor) if tensor.is_complex() else tensor
        sample = torch.rand(target.shape, dtype=torch.float64, generator=generator)
        target.copy_((sample * 2 - 1) * limit)
    return tensor


def uniform_angles_(tensor: Tensor, scale: float = math.pi, generator=None) -> Tensor:
    r"""Eigen-angles :math:`\omega\sim U(-\text{scale}, \text{scale})`."""
    if tensor.is_complex():
        raise TypeError(f"angles must be real, got {tensor.dtype}")
    with torch.no_grad():
        return tensor.uniform_(-scale, scale, generator=generator)
