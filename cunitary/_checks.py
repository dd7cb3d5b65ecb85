"""Input validation shared by the public functions and modules (private)."""

from __future__ import annotations

import torch

_FLOATING = (torch.float32, torch.float64)
_COMPLEX = (torch.complex64, torch.complex128)


def check_tensor(name: str, x: object) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    return x


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """An ``int`` (not ``bool``) of at least ``minimum``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_odd_int(name: str, value: object) -> int:
    """A positive odd ``int``."""
    value = check_int(name, value)
    if value % 2 != 1:
        raise ValueError(f"{name} must be odd, got {value}")
    return value


def _autocasting(x: torch.Tensor) -> bool:
    return torch.is_autocast_enabled(x.device.type)


def check_numeric(name: str, x: torch.Tensor, allow_complex: bool = True) -> None:
    """Accept float32/float64 (and complex64/complex128 when ``allow_complex``); under
    ``torch.autocast`` also the half-precision dtypes autocast produces."""
    if x.dtype in (torch.float16, torch.bfloat16) and _autocasting(x):
        return
    allowed = _FLOATING + _COMPLEX if allow_complex else _FLOATING
    if x.dtype not in allowed:
        names = ", ".join(str(d).removeprefix("torch.") for d in allowed)
        raise TypeError(f"{name} must have dtype in ({names}), got {x.dtype}")


def check_trailing(name: str, x: torch.Tensor, expected: tuple[int, ...], what: str) -> None:
    """Require ``x.shape[-len(expected):] == expected``; ``what`` names the axes."""
    k = len(expected)
    if x.dim() < k or tuple(x.shape[-k:]) != tuple(expected):
        raise ValueError(
            f"{name} must have trailing shape {what} = {tuple(expected)}, "
            f"got shape {tuple(x.shape)}"
        )


def complex_dtype_of(x: torch.Tensor) -> torch.dtype:
    """The complex dtype matching ``x``'s precision."""
    if x.dtype in (torch.float64, torch.complex128):
        return torch.complex128
    return torch.complex64


def real_dtype_of(x: torch.Tensor) -> torch.dtype:
    if x.dtype in (torch.float64, torch.complex128):
        return torch.float64
    return torch.float32


def check_angles(name: str, angles: object, ndim: int) -> torch.Tensor:
    angles = check_tensor(name, angles)
    check_numeric(name, angles, allow_complex=False)
    if angles.dim() < ndim:
        raise ValueError(f"{name} must have at least {ndim} dimension(s), got {angles.dim()}")
    return angles


def check_precision(name: str, x: torch.Tensor, parameter: torch.Tensor) -> None:
    """Require ``x`` in the parameters' precision (float32 vs float64), as a TypeError
    (under ``torch.autocast`` the casts are autocast's business)."""
    if _autocasting(x):
        return
    if real_dtype_of(x) != real_dtype_of(parameter):
        raise TypeError(
            f"{name} has dtype {x.dtype} but the parameters are {parameter.dtype}; convert "
            "one of them (module.double() or x.float())"
        )


def complex_dtype_for(dtype: torch.dtype) -> torch.dtype:
    """The complex dtype of a real (or complex) ``dtype``'s precision."""
    return torch.complex128 if dtype in (torch.float64, torch.complex128) else torch.complex64


def real_factory_dtype(dtype: torch.dtype | None) -> torch.dtype:
    """A module's real parameter dtype: the default dtype, float32 or float64."""
    dtype = torch.get_default_dtype() if dtype is None else dtype
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    return dtype
