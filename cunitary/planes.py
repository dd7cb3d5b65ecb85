r"""Complex <-> real layouts: ``[Re, Im]`` planes along any dimension.

A real network reads a complex feature map as twice the channels,
:math:`[\Re z, \Im z]` concatenated along one axis (the channels of an image, the
features of a sequence), and a complex layer reads real features back as two halves.
These two modules are each other's inverse, so a complex stage can sit between real
layers (``nn.Conv2d``, ``nn.Linear``) in an ``nn.Sequential``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._checks import check_tensor
from ._module import Module

__all__ = ["ComplexToReal", "RealToComplex"]


def _check_dim(dim: object) -> int:
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"dim must be an int, got {dim!r}")
    return dim


class ComplexToReal(Module):
    r""":math:`z \mapsto [\Re z, \Im z]` concatenated along ``dim``.

    Args:
        dim: the axis that doubles (``1`` for the channels of ``(B, C, H, W)``; ``-1`` for
            features).

    Shape:
        Input :math:`(\dots, C, \dots)` complex; output :math:`(\dots, 2C, \dots)` real.

    Examples:
        >>> to_real = ComplexToReal(dim=1)
        >>> to_real(torch.randn(4, 3, 8, 8, dtype=torch.complex64)).shape
        torch.Size([4, 6, 8, 8])
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = _check_dim(dim)

    def forward(self, z: Tensor) -> Tensor:
        z = check_tensor("z", z)
        if not z.is_complex():
            raise TypeError(f"z must be complex, got {z.dtype} (already real: drop this module)")
        return torch.cat([z.real, z.imag], dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class RealToComplex(Module):
    r""":math:`[a, b] \mapsto a + ib`: the two halves of ``dim`` as real and imaginary part.

    Args:
        dim: the axis that halves; its size must be even.

    Shape:
        Input :math:`(\dots, 2C, \dots)` real; output :math:`(\dots, C, \dots)` complex.

    Examples:
        >>> to_complex = RealToComplex(dim=1)
        >>> to_complex(torch.randn(4, 6, 8, 8)).shape
        torch.Size([4, 3, 8, 8])
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = _check_dim(dim)

    def forward(self, x: Tensor) -> Tensor:
        x = check_tensor("x", x)
        if not x.is_floating_point():
            raise TypeError(f"x must be real floating point, got {x.dtype}")
        if x.dim() == 0 or x.shape[self.dim] % 2:
            raise ValueError(
                f"x must have an even size along dim={self.dim} ([Re, Im] halves), got shape "
                f"{tuple(x.shape)}"
            )
        real, imag = x.chunk(2, dim=self.dim)
        return torch.complex(real, imag)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
