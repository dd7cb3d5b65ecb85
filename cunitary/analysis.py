r"""Numerical checks of complex functions: Wirtinger derivatives, holomorphy, and
derivative bounds.

For :math:`f(x + iy) = u + iv` the Wirtinger derivatives are

.. math::
    \frac{\partial f}{\partial z} = \tfrac12\bigl(f_x - i f_y\bigr), \qquad
    \frac{\partial f}{\partial \bar z} = \tfrac12\bigl(f_x + i f_y\bigr).

:math:`f` is holomorphic at a point iff :math:`\partial f/\partial\bar z = 0` (the
Cauchy-Riemann equations), and the largest singular value of its real Jacobian
:math:`\bigl(\begin{smallmatrix}u_x & u_y\\ v_x & v_y\end{smallmatrix}\bigr)` is
:math:`|\partial f/\partial z| + |\partial f/\partial\bar z|`, so :math:`f` is locally
non-expansive iff that sum is at most 1: Wolter & Yao's stability criterion
:math:`\lVert f'\rVert\le 1` made precise for non-holomorphic :math:`f`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ._checks import check_tensor

__all__ = [
    "wirtinger_derivatives",
    "cauchy_riemann_residual",
    "expansion_bound",
    "complex_grid",
    "activation_profile",
]


def wirtinger_derivatives(f: Callable[[Tensor], Tensor], z: Tensor) -> tuple[Tensor, Tensor]:
    r"""Wirtinger derivatives :math:`\partial f/\partial z` and
    :math:`\partial f/\partial\bar z` of an **elementwise** function, by autograd.

    The real partials :math:`u_x, u_y, v_x, v_y` come from two backward passes through
    ``f`` evaluated on :math:`x + iy` with real leaves ``x`` and ``y``; elementwise
    ``f`` makes the summed backward pass return every point's own partials.

    Args:
        f: elementwise map from a complex tensor to a complex or real tensor of the
            same shape (a real output is read as :math:`v = 0`).
        z: complex points.

    Returns:
        ``(df_dz, df_dzbar)``, complex tensors shaped like ``z``.

    Example:
        >>> z = torch.tensor([1 + 2j], dtype=torch.complex128)
        >>> dz, dzbar = wirtinger_derivatives(lambda w: w * w, z)
        >>> dz, dzbar.abs()
        (tensor([2.+4.j], dtype=torch.complex128), tensor([0.], dtype=torch.float64))
    """
    z = check_tensor("z", z)
    if not z.is_complex():
        raise TypeError(f"z must be complex, got {z.dtype}")
    x = z.real.detach().clone().requires_grad_(True)
    y = z.imag.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        w = f(torch.complex(x, y))
        if not isinstance(w, Tensor) or w.shape != z.shape:
            got = tuple(w.shape) if isinstance(w, Tensor) else type(w).__name__
            raise ValueError(f"f must be elementwise: expected shape {tuple(z.shape)}, got {got}")
        parts = (w.real, w.imag) if w.is_complex() else (w, None)
        partials = []
        for part in parts:
            if part is None or not part.requires_grad:
                partials.append((torch.zeros_like(x), torch.zeros_like(y)))
                continue
            gx, gy = torch.autograd.grad(part.sum(), (x, y), retain_graph=True, allow_unused=True)
            partials.append(
                (
                    torch.zeros_like(x) if gx is None else gx,
                    torch.zeros_like(y) if gy is None else gy,
                )
            )
    (ux, uy), (vx, vy) = partials
    fx = torch.complex(ux, vx)
    fy = torch.complex(uy, vy)
    return 0.5 * (fx - 1j * fy), 0.5 * (fx + 1j * fy)


def cauchy_riemann_residual(f: Callable[[Tensor], Tensor], z: Tensor) -> Tensor:
    r""":math:`|\partial f/\partial\bar z|`: zero exactly where ``f`` is holomorphic."""
    return wirtinger_derivatives(f, z)[1].abs()


def expansion_bound(f: Callable[[Tensor], Tensor], z: Tensor) -> Tensor:
    r""":math:`|\partial f/\partial z| + |\partial f/\partial\bar z|`, the local Lipschitz
    constant (spectral norm of the real Jacobian); ``<= 1`` means non-expansive."""
    dz, dzbar = wirtinger_derivatives(f, z)
    return dz.abs() + dzbar.abs()


def complex_grid(
    extent: float = 3.0, points: int = 201, dtype: torch.dtype = torch.complex128
) -> Tensor:
    r"""A square grid :math:`[-e, e]^2` of ``points x points`` complex numbers, rows
    indexing the imaginary part (top row :math:`+e`), as used by the activation tables."""
    if points < 2:
        raise ValueError(f"points must be >= 2, got {points}")
    real_dtype = torch.float64 if dtype == torch.complex128 else torch.float32
    axis = torch.linspace(-extent, extent, points, dtype=real_dtype)
    return torch.complex(axis[None, :].expand(points, -1), axis.flip(0)[:, None].expand(-1, points))


def activation_profile(
    f: Callable[[Tensor], Tensor], z: Tensor, tol: float = 1e-6
) -> dict[str, float]:
    r"""Summarise holomorphy and derivative bounds of ``f`` over the points ``z``.

    Returns:
        A dict with ``holomorphic`` (fraction of points with Cauchy-Riemann residual
        ``<= tol``), ``non_expansive`` (fraction with bound ``<= 1 + tol``),
        ``max_bound`` and ``median_bound`` of :math:`|f_z| + |f_{\bar z}|`, ``finite``
        (1.0 when every value and derivative is finite).
    """
    dz, dzbar = wirtinger_derivatives(f, z)
    value = f(z.detach())
    bound = dz.abs() + dzbar.abs()
    finite = bool(torch.isfinite(bound).all() and torch.isfinite(torch.as_tensor(value)).all())
    return {
        "holomorphic": float((dzbar.abs() <= tol).double().mean()),
        "non_expansive": float((bound <= 1 + tol).double().mean()),
        "max_bound": float(bound.max()),
        "median_bound": float(bound.median()),
        "finite": float(finite),
    }
