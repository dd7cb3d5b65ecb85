"""Dynamic filter layers: a small network generates the filter from the input itself.

:class:`DynamicConv2d` generates one convolution per sample, :class:`DynamicLocalFilter2d`
one ``k x k`` filter per pixel (dynamic filter networks, De Brabandere et al. 2016), and
:class:`UnitaryDynamicFilter2d` one unitary operator per sample by generating eigen-angles
instead of taps, so that a recurrence built from it cannot blow up.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._checks import check_int, check_numeric, check_odd_int, check_precision, check_tensor
from ._module import Module
from .functional import circulant2d

__all__ = [
    "dynamic_conv2d",
    "local_filter2d",
    "DynamicConv2d",
    "DynamicLocalFilter2d",
    "UnitaryDynamicFilter2d",
]


def _image(name: str, x: object, channels: int | None = None) -> Tensor:
    x = check_tensor(name, x)
    check_numeric(name, x, allow_complex=False)
    if x.dim() != 4 or (channels is not None and x.shape[1] != channels):
        expected = "(B, C, H, W)" if channels is None else f"(B, C={channels}, H, W)"
        raise ValueError(f"{name} must have shape {expected}, got {tuple(x.shape)}")
    return x


def dynamic_conv2d(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, dilation: int = 1
) -> Tensor:
    r"""Convolve each sample with its own filter (size-preserving zero padding).

    .. math::
        Y_b = W_b \star X_b + \beta_b

    Computed as one grouped convolution: the batch is folded into the channels.

    Args:
        x: ``(B, C_in, H, W)``.
        weight: ``(B, C_out, C_in, k, k)`` with odd ``k``.
        bias: ``(B, C_out)`` or ``None``.
        dilation: filter dilation.

    Returns:
        ``(B, C_out, H, W)``.
    """
    x = _image("x", x)
    weight = check_tensor("weight", weight)
    b, cin, h, w = x.shape
    if weight.dim() != 5 or weight.shape[0] != b or weight.shape[2] != cin:
        raise ValueError(
            f"weight must have shape (B={b}, C_out, C_in={cin}, k, k), got {tuple(weight.shape)}"
        )
    k = weight.shape[-1]
    if weight.shape[-2] != k or k % 2 != 1:
        raise ValueError(f"weight's filters must be square with odd size, got {weight.shape[-2:]}")
    cout = weight.shape[1]
    flat_bias = None
    if bias is not None:
        if tuple(bias.shape) != (b, cout):
            raise ValueError(f"bias must have shape (B={b}, C_out={cout}), got {tuple(bias.shape)}")
        flat_bias = bias.reshape(b * cout)
    y = nn.functional.conv2d(
        x.reshape(1, b * cin, h, w), weight.reshape(b * cout, cin, k, k), flat_bias,
        padding=dilation * (k - 1) // 2, dilation=dilation, groups=b,
    )  # fmt: skip
    return y.reshape(b, cout, h, w)


def local_filter2d(x: Tensor, filters: Tensor, dilation: int = 1) -> Tensor:
    r"""Filter every pixel with its own ``k x k`` filter (zero padding).

    .. math::
        Y_{b,c,p,q} = \sum_{i,j} F_{b,(i,j),p,q}\;
            X_{b,c,\,p + d(i - \lfloor k/2\rfloor),\,q + d(j - \lfloor k/2\rfloor)}

    Args:
        x: ``(B, C, H, W)``.
        filters: ``(B, k*k, H, W)`` shared by the channels, or ``(B, C, k*k, H, W)``; taps in
            row-major order.
        dilation: tap spacing.

    Returns:
        ``(B, C, H, W)``.
    """
    x = _image("x", x)
    filters = check_tensor("filters", filters)
    b, c, h, w = x.shape
    taps = filters.shape[-3] if filters.dim() >= 3 else 0
    k = int(round(taps**0.5))
    shared = filters.dim() == 4 and tuple(filters.shape) == (b, taps, h, w)
    per_channel = filters.dim() == 5 and tuple(filters.shape) == (b, c, taps, h, w)
    if not (shared or per_channel) or k * k != taps or k % 2 != 1:
        raise ValueError(
            f"filters must have shape (B={b}, k*k, H={h}, W={w}) or (B, C={c}, k*k, H, W) "
            f"with odd k, got {tuple(filters.shape)}"
        )
    patches = nn.functional.unfold(x, k, dilation=dilation, padding=dilation * (k // 2))
    patches = patches.view(b, c, taps, h, w)
    if shared:
        return torch.einsum("bckhw,bkhw->bchw", patches, filters)
    return torch.einsum("bckhw,bckhw->bchw", patches, filters)


def _generator(
    context_channels: int, hidden_channels: int, out_channels: int, **factory
) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(context_channels, hidden_channels, 3, padding=1, **factory),
        nn.ReLU(),
        nn.Conv2d(hidden_channels, hidden_channels, 3, padding=1, **factory),
        nn.ReLU(),
        nn.Conv2d(hidden_channels, out_channels, 3, padding=1, **factory),
    )


def _reset_children(module: nn.Module) -> None:
    """Re-initialise every layer that has a ``reset_parameters``, in construction order."""
    for child in module.modules():
        if child is not module and hasattr(child, "reset_parameters"):
            child.reset_parameters()


class DynamicConv2d(Module):
    r"""Dynamic convolution: one generated filter (and bias) per sample.

    .. math::
        (W_b, \beta_b) = g_\theta(Z_b),\qquad Y_b = W_b \star X_b + \beta_b

    The filter-generating network :math:`g_\theta` (two 3x3 conv + ReLU layers, global
    average pooling, a linear map to the taps) reads a context :math:`Z` (the input itself
    if none is given).

    Args:
        in_channels: channels of ``x``.
        out_channels: channels of ``y``.
        kernel_size: odd size of the generated filters.
        context_channels: channels of the context (default ``in_channels``).
        hidden_channels: width of the generator.
        device: of the parameters.
        dtype: of the parameters.

    Shape:
        ``x``: ``(B, C_in, H, W)``, ``context``: ``(B, C_z, H', W')``; output ``(B, C_out, H, W)``.

    Examples:
        >>> layer = DynamicConv2d(2, 3, kernel_size=3)
        >>> layer(torch.randn(4, 2, 16, 16)).shape
        torch.Size([4, 3, 16, 16])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        context_channels: int | None = None,
        hidden_channels: int = 32,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.in_channels = check_int("in_channels", in_channels)
        self.out_channels = check_int("out_channels", out_channels)
        self.kernel_size = check_odd_int("kernel_size", kernel_size)
        self.context_channels = check_int(
            "context_channels", in_channels if context_channels is None else context_channels
        )
        self.hidden_channels = hidden = check_int("hidden_channels", hidden_channels)
        taps = out_channels * in_channels * kernel_size**2
        self.features = nn.Sequential(
            nn.Conv2d(self.context_channels, hidden, 3, padding=1, **factory),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, 3, padding=1, **factory),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(hidden, taps + out_channels, **factory)
        self._init_head()

    def _init_head(self) -> None:
        # Start near a fan-in-scaled random filter so the first outputs have unit scale.
        scale = 0.1 / (self.in_channels * self.kernel_size**2) ** 0.5
        nn.init.normal_(self.head.weight, std=scale)

    def reset_parameters(self) -> None:
        """Re-initialise the generator as the constructor does."""
        _reset_children(self)
        self._init_head()

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"context_channels={self.context_channels}, hidden_channels={self.hidden_channels}"
        )

    def filters(self, context: Tensor) -> tuple[Tensor, Tensor]:
        """Generated ``(weight (B, C_out, C_in, k, k), bias (B, C_out))``."""
        context = _image("context", context, self.context_channels)
        check_precision("context", context, next(self.parameters()))
        raw = self.head(self.features(context))
        k = self.kernel_size
        weight = raw[:, : -self.out_channels].reshape(-1, self.out_channels, self.in_channels, k, k)
        return weight, raw[:, -self.out_channels :]

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        x = _image("x", x, self.in_channels)
        weight, bias = self.filters(x if context is None else context)
        if weight.shape[0] != x.shape[0]:
            raise ValueError(f"context has batch {weight.shape[0]}, x has {x.shape[0]}")
        return dynamic_conv2d(x, weight, bias)


class DynamicLocalFilter2d(Module):
    r"""Dynamic local filtering: one generated ``k x k`` filter per pixel.

    .. math::
        F = \operatorname{softmax}_{\text{taps}}\bigl(g_\theta(Z)\bigr),\qquad
        Y_{c,p} = \sum_{t} F_{t,p}\, X_{c,\,p + \delta_t}

    The softmax makes every filter a convex combination of the neighbours (the form used
    for video prediction in the dynamic filter networks paper), so the layer can only move
    and blend intensities: it never amplifies the input's maximum.

    Args:
        kernel_size: odd filter size ``k``.
        context_channels: channels of the context fed to the generator.
        hidden_channels: width of the generator (three 3x3 conv layers).
        dilation: tap spacing.
        device: of the parameters.
        dtype: of the parameters.

    Shape:
        ``x``: ``(B, C, H, W)``, ``context``: ``(B, C_z, H, W)`` (default ``x``, then
        ``C_z = C`` is required); output ``(B, C, H, W)``.

    Examples:
        >>> layer = DynamicLocalFilter2d(5, context_channels=1)
        >>> layer(torch.rand(2, 1, 16, 16)).shape
        torch.Size([2, 1, 16, 16])
    """

    def __init__(
        self,
        kernel_size: int = 9,
        context_channels: int = 1,
        hidden_channels: int = 32,
        dilation: int = 1,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = check_odd_int("kernel_size", kernel_size)
        self.context_channels = check_int("context_channels", context_channels)
        self.dilation = check_int("dilation", dilation)
        self.hidden_channels = hidden = check_int("hidden_channels", hidden_channels)
        self.generator = _generator(
            context_channels, hidden, kernel_size**2, device=device, dtype=dtype
        )

    def reset_parameters(self) -> None:
        """Re-initialise the generator as the constructor does."""
        _reset_children(self)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, context_channels={self.context_channels}, "
            f"hidden_channels={self.hidden_channels}, dilation={self.dilation}"
        )

    def filters(self, context: Tensor) -> Tensor:
        """Per-pixel filters ``(B, k*k, H, W)``, non-negative, summing to 1 over taps."""
        context = _image("context", context, self.context_channels)
        check_precision("context", context, next(self.parameters()))
        return torch.softmax(self.generator(context), dim=1)

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        x = _image("x", x)
        filters = self.filters(x if context is None else context)
        return local_filter2d(x, filters, self.dilation)


class UnitaryDynamicFilter2d(Module):
    r"""Dynamic filter whose generated operator is unitary (orthogonal for real frames).

    .. math::
        \Omega_b = g_\theta(Z_b),\qquad
        Y_b = \operatorname{ifft2}\bigl(e^{i\Omega_b}\odot\operatorname{fft2}(X_b)\bigr)

    The generator emits eigen-angles, one per channel and frequency, instead of taps.
    Whatever it emits, :math:`\lVert Y_b\rVert = \lVert X_b\rVert`, so a recurrence that
    applies generated filters to its own state stays bounded (Wolter & Yao 2018). With
    ``real=True`` the angles are made odd-symmetric and the operator is a real orthogonal
    circular convolution.

    Args:
        size: ``(H, W)`` of the frames.
        channels: channels of ``x``.
        context_channels: channels of the context (default ``channels``).
        hidden_channels: width of the generator.
        real: real orthogonal operator (else complex unitary).
        device: of the parameters.
        dtype: of the parameters.

    Shape:
        ``x``: ``(B, C, H, W)``; output ``(B, C, H, W)`` (complex unless ``real``).

    Examples:
        >>> layer = UnitaryDynamicFilter2d((16, 16), channels=2)
        >>> x = torch.randn(3, 2, 16, 16)
        >>> torch.allclose(layer(x).norm(), x.norm(), rtol=1e-5)
        True
    """

    def __init__(
        self,
        size: int | tuple[int, int],
        channels: int,
        context_channels: int | None = None,
        hidden_channels: int = 32,
        real: bool = True,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        size = (size, size) if isinstance(size, int) else tuple(size)
        if len(size) != 2:
            raise ValueError(f"size must be an int or (H, W), got {size!r}")
        self.size = (check_int("size[0]", size[0]), check_int("size[1]", size[1]))
        self.channels = check_int("channels", channels)
        self.context_channels = check_int(
            "context_channels", channels if context_channels is None else context_channels
        )
        self.real = bool(real)
        self.hidden_channels = hidden = check_int("hidden_channels", hidden_channels)
        self.generator = _generator(
            self.context_channels, hidden, channels, device=device, dtype=dtype
        )

    def reset_parameters(self) -> None:
        """Re-initialise the generator as the constructor does."""
        _reset_children(self)

    def extra_repr(self) -> str:
        return (
            f"size={self.size}, channels={self.channels}, real={self.real}, "
            f"context_channels={self.context_channels}, hidden_channels={self.hidden_channels}"
        )

    def angles(self, context: Tensor) -> Tensor:
        """Generated eigen-angles ``(B, C, H, W)``."""
        context = _image("context", context, self.context_channels)
        check_precision("context", context, next(self.parameters()))
        if tuple(context.shape[-2:]) != self.size:
            raise ValueError(f"context must be {self.size} frames, got {tuple(context.shape)}")
        return self.generator(context)

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        x = check_tensor("x", x)
        if x.dim() != 4 or x.shape[1] != self.channels or tuple(x.shape[-2:]) != self.size:
            raise ValueError(
                f"x must have shape (B, {self.channels}, {self.size[0]}, {self.size[1]}), "
                f"got {tuple(x.shape)}"
            )
        if context is None:
            if x.is_complex():
                raise TypeError("a complex x needs a real context to generate the angles from")
            context = x
        elif isinstance(context, Tensor) and context.dim() == 4 and context.shape[0] != x.shape[0]:
            raise ValueError(
                f"context must have x's batch {x.shape[0]}, got shape {tuple(context.shape)}"
            )
        return circulant2d(x, self.angles(context), real=self.real)
