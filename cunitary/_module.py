"""The base of every public module: dtype conversions that keep complex parameters complex.

``torch.nn.Module.to(torch.float64)`` casts a complex parameter to float64, dropping its
imaginary part (a model that still runs, silently wrong), and ``.double()`` /
``.float()`` leave complex parameters at their old precision (a model of mixed
precision). Here every conversion that changes the floating-point dtype changes the
complex parameters and buffers to the matching complex dtype instead: float32 <->
complex64, float64 <-> complex128 (``.to(torch.complex128)`` means double precision for
both kinds). Half precision has no complex counterpart that the FFTs and activations
support, so ``.half()`` / ``.bfloat16()`` on a module that holds complex tensors raise
a ``TypeError`` before anything is converted; use autocast for mixed precision.

A conversion to a higher precision also re-projects every stored dense unitary factor
(torch's orthogonal parametrization keeps its matrix as ``base @ exp(A)``, and ``base``
keeps the rounding of the dtype it was made in) onto the unitary group of the new
precision, so that a float32 layer converted with ``.double()`` is unitary to float64's
precision, not float32's.

The conversion is read off the function ``nn.Module._apply`` receives (applied to two
real probes), so it covers ``.to``, ``.double``, ``.float``, ``.half``, ``.type`` and
containers such as ``nn.Sequential`` that hold these modules.

Why this and not real (planar) storage of complex parameters: storing ``[Re, Im]`` as
real tensors would also hide complex numbers from DDP, optimisers and ``torch.compile``,
but it changes every module's parameters, ``state_dict`` layout and checkpoints, and
puts a ``view_as_complex`` in every forward; the conversions were the one place where
complex parameters silently went wrong (DDP, the optimisers and AMP handle them as they
are, and ``torch.compile`` has no complex code generation either way), so the fix is
made there, at no cost to a forward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain

import torch
from torch import Tensor, nn

from ._unitarity import dense_unitary_factors, project_unitary_

_REAL_OF = {
    torch.complex32: torch.float16,
    torch.complex64: torch.float32,
    torch.complex128: torch.float64,
}
_COMPLEX_OF = {torch.float32: torch.complex64, torch.float64: torch.complex128}


def _cast_target(fn: Callable[[Tensor], Tensor]) -> torch.dtype | None:
    """The real dtype ``fn`` casts floating-point tensors to, or None if it keeps theirs."""
    for dtype in (torch.float32, torch.float64):
        try:
            out = fn(torch.zeros((), dtype=dtype))
        except Exception:  # noqa: BLE001 - not a conversion this module can read
            return None
        if not isinstance(out, Tensor):
            return None
        if out.dtype != dtype:
            return _REAL_OF.get(out.dtype, out.dtype)
    return None


class Module(nn.Module):
    """``nn.Module`` whose dtype conversions keep complex tensors complex (see module text)."""

    def _apply(self, fn, recurse=True):
        if getattr(fn, "_keeps_complex", False):
            return super()._apply(fn, recurse)
        target = _cast_target(fn)
        if target is None:
            return super()._apply(fn, recurse)
        tensors = chain(self.parameters(recurse=recurse), self.buffers(recurse=recurse))
        if target not in _COMPLEX_OF:
            if any(t.is_complex() for t in tensors):
                raise TypeError(
                    f"{type(self).__name__} holds complex parameters, and {target} has no "
                    "complex counterpart here (FFTs and complex activations need complex64 or "
                    "complex128); keep the module in float32 and use torch.autocast for mixed "
                    "precision, or convert with .double() / .to(torch.float64)"
                )
            return super()._apply(fn, recurse)
        complex_target = _COMPLEX_OF[target]

        def real(t: Tensor) -> Tensor:
            out = fn(t)
            return out.real if out.is_complex() else out  # .to(complex dtype) made it complex

        def convert(t: Tensor) -> Tensor:
            if t.is_complex():
                return torch.complex(real(t.real), real(t.imag)).to(complex_target)
            return real(t) if t.is_floating_point() else fn(t)

        convert._keeps_complex = True  # type: ignore[attr-defined]
        if not recurse:
            return super()._apply(convert, recurse)
        before = [f.dtype for f in dense_unitary_factors(self)]
        out = super()._apply(convert, recurse)
        # A unitary matrix converted to a higher precision keeps the old rounding: make it
        # unitary to the new one (the nearest unitary matrix, a change of the old rounding's
        # size).
        for old, factor in zip(before, dense_unitary_factors(self), strict=True):
            if _eps(factor.dtype) < _eps(old):
                project_unitary_(factor)
        return out


def _eps(dtype: torch.dtype) -> float:
    return torch.finfo(_REAL_OF.get(dtype, dtype)).eps
