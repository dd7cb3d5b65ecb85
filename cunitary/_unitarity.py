r"""Keeping dense unitary factors on the unitary group (private).

A dense unitary (orthogonal) matrix held in floating point is unitary only up to rounding,
and three things move it further off: an optimiser that does not step on the group, a
Cayley step whose linear solve is ill-conditioned (:math:`\lambda\|G\|\gg 1`), and a
conversion to a higher precision, which keeps the old rounding (a float32 matrix read as
float64 is unitary to 1e-7, not 1e-16). The library measures the departure as
:math:`\|W^H W - I\|_F` and, where it passes :func:`tolerance`, replaces :math:`W` by the
unitary factor of its polar decomposition :math:`W = QP` (the nearest unitary matrix in
every unitarily invariant norm), computed in float64.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: ``tolerance(w) = TOLERANCE_ULPS * n * eps``: the rounding of a freshly made unitary
#: ``n x n`` matrix is a few ``sqrt(n) * eps``; ten times ``n * eps`` is far above it and
#: far below any departure that changes what the layer computes.
TOLERANCE_ULPS = 10


def unitarity_error(w: Tensor) -> float:
    r""":math:`\|W^H W - I\|_F`, computed in float64 (complex128)."""
    wide = w.detach().to(torch.complex128 if w.is_complex() else torch.float64)
    eye = torch.eye(w.shape[-1], dtype=wide.dtype, device=w.device)
    return torch.linalg.matrix_norm(wide.mH @ wide - eye).item()


def tolerance(w: Tensor) -> float:
    """The largest :func:`unitarity_error` taken for rounding in ``w``'s precision."""
    eps = torch.finfo(w.real.dtype if w.is_complex() else w.dtype).eps
    return TOLERANCE_ULPS * w.shape[-1] * eps


@torch.no_grad()
def project_unitary_(w: Tensor) -> Tensor:
    """Replace ``w`` in place by the unitary factor of its polar decomposition."""
    wide = w.to(torch.complex128 if w.is_complex() else torch.float64)
    u, _, vh = torch.linalg.svd(wide)
    w.copy_(u @ vh)
    return w


def _orthogonal_class():
    # torch's orthogonal() parametrization; with its default trivialization it holds the
    # matrix as `base @ exp(A)`, and `base` keeps the rounding of the dtype it was made in.
    from torch.nn.utils import parametrizations

    return getattr(parametrizations, "_Orthogonal", None)


def dense_unitary_factors(module: torch.nn.Module) -> list[Tensor]:
    """Every stored unitary matrix under ``module``: the ``base`` of torch's orthogonal
    parametrization, and the weights of modules that declare theirs
    (``_stored_unitary_factors``)."""
    orthogonal = _orthogonal_class()
    found = []
    for m in module.modules():
        if orthogonal is not None and isinstance(m, orthogonal):
            base = getattr(m, "base", None)
            if base is not None and base.shape[-1] == base.shape[-2]:
                found.append(base)
        declared = getattr(m, "_stored_unitary_factors", None)
        if declared is not None:
            found.extend(declared())
    return found
