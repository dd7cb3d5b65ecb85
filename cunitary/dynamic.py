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
    "separable_dynamic_conv2d",
    "local_filter2d",
    "filter_flow",
    "filter_smoothness",
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


def _sample_bias(bias: object, b: int, cout: int) -> Tensor:
    bias = check_tensor("bias", bias)
    if tuple(bias.shape) != (b, cout):
        raise ValueError(f"bias must have shape (B={b}, C_out={cout}), got {tuple(bias.shape)}")
    return bias


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
    flat_bias = None if bias is None else _sample_bias(bias, b, cout).reshape(b * cout)
    y = nn.functional.conv2d(
        x.reshape(1, b * cin, h, w), weight.reshape(b * cout, cin, k, k), flat_bias,
        padding=dilation * (k - 1) // 2, dilation=dilation, groups=b,
    )  # fmt: skip
    return y.reshape(b, cout, h, w)


def separable_dynamic_conv2d(
    x: Tensor, vertical: Tensor, horizontal: Tensor, bias: Tensor | None = None
) -> Tensor:
    r"""Convolve each sample with its own separable filter: a vertical pass, then a horizontal.

    .. math::
        Y_{b,o} = \sum_i h_{b,o,i} \star \bigl(v_{b,o,i} \star X_{b,i}\bigr) + \beta_{b,o}
        = \sum_i \bigl(v_{b,o,i}\, h_{b,o,i}^{\top}\bigr) \star X_{b,i} + \beta_{b,o}

    The ``k x k`` filter of each (output, input) pair is the outer product of two
    generated ``k``-tap filters (De Brabandere et al. 2016, after Jaderberg et al. 2014):
    ``2k`` numbers to generate instead of ``k**2``, and ``2k`` multiplications per pixel.

    Args:
        x: ``(B, C_in, H, W)``.
        vertical: ``(B, C_out, C_in, k)``, odd ``k``, applied along the rows' axis first.
        horizontal: ``(B, C_out, C_in, k)``, applied along the columns' axis second.
        bias: ``(B, C_out)`` or ``None``.

    Returns:
        ``(B, C_out, H, W)`` (size-preserving zero padding).
    """
    x = _image("x", x)
    vertical = check_tensor("vertical", vertical)
    horizontal = check_tensor("horizontal", horizontal)
    b, cin, h, w = x.shape
    if vertical.dim() != 4 or vertical.shape[0] != b or vertical.shape[2] != cin:
        raise ValueError(
            f"vertical must have shape (B={b}, C_out, C_in={cin}, k), got {tuple(vertical.shape)}"
        )
    cout, k = vertical.shape[1], vertical.shape[3]
    if k % 2 != 1:
        raise ValueError(f"the separable filters must have an odd size, got {k}")
    if tuple(horizontal.shape) != tuple(vertical.shape):
        raise ValueError(
            f"horizontal must have vertical's shape {tuple(vertical.shape)}, "
            f"got {tuple(horizontal.shape)}"
        )
    # Vertical pass: every input channel of every sample feeds its C_out filters (groups
    # = B*C_in, channels ordered (b, i, o)); the horizontal pass then acts channel-wise.
    v = vertical.transpose(1, 2).reshape(b * cin * cout, 1, k, 1)
    hz = horizontal.transpose(1, 2).reshape(b * cin * cout, 1, 1, k)
    y = nn.functional.conv2d(x.reshape(1, b * cin, h, w), v, padding=(k // 2, 0), groups=b * cin)
    y = nn.functional.conv2d(y, hz, padding=(0, k // 2), groups=b * cin * cout)
    y = y.reshape(b, cin, cout, h, w).sum(1)
    return y if bias is None else y + _sample_bias(bias, b, cout)[..., None, None]


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


def _local_filters(name: str, filters: object) -> tuple[Tensor, int]:
    filters = check_tensor(name, filters)
    taps = filters.shape[1] if filters.dim() == 4 else 0
    k = int(round(taps**0.5))
    if filters.dim() != 4 or k * k != taps or k % 2 != 1:
        raise ValueError(
            f"{name} must have shape (B, k*k, H, W) with odd k, got {tuple(filters.shape)}"
        )
    return filters, k


def filter_flow(filters: Tensor, dilation: int = 1) -> Tensor:
    r"""The mean source offset of per-pixel filters, to draw them like optical flow.

    .. math::
        u_p = \sum_t F_{t,p}\,\delta^x_t,\qquad v_p = \sum_t F_{t,p}\,\delta^y_t

    where :math:`\delta_t` is tap :math:`t`'s offset from the centre (De Brabandere et al.
    2016, Fig. 7). For a convex filter (softmax) this is where, on average, pixel
    :math:`p` takes its value from; the content itself moves by :math:`-(u, v)`.

    Args:
        filters: ``(B, k*k, H, W)`` as :func:`local_filter2d` takes them.
        dilation: tap spacing.

    Returns:
        ``(B, 2, H, W)``: ``(u, v)``, columns then rows, in pixels.
    """
    filters, k = _local_filters("filters", filters)
    offsets = dilation * (torch.arange(k, device=filters.device, dtype=filters.real.dtype) - k // 2)
    dy, dx = torch.meshgrid(offsets, offsets, indexing="ij")
    u = torch.einsum("bthw,t->bhw", filters, dx.reshape(-1).to(filters.dtype))
    v = torch.einsum("bthw,t->bhw", filters, dy.reshape(-1).to(filters.dtype))
    return torch.stack((u, v), 1)


def filter_smoothness(filters: Tensor) -> Tensor:
    r"""Smoothness penalty on per-pixel filters: squared differences between neighbours.

    .. math::
        S = \frac{1}{B}\sum_b \Bigl(\operatorname{mean}_{p}\lVert F_{b,:,p+e_x} - F_{b,:,p}
        \rVert^2 + \operatorname{mean}_{p}\lVert F_{b,:,p+e_y} - F_{b,:,p}\rVert^2\Bigr)

    The dynamic filter networks paper suggests such a penalty ("neighboring filters are
    encouraged to apply the same transformation") without writing its form; this is the
    plainest one: each mean runs over the pixel pairs that exist (no wrap-around).

    Args:
        filters: ``(B, k*k, H, W)``.

    Returns:
        A scalar, to be added to the loss with a weight of the user's choosing.
    """
    filters, _ = _local_filters("filters", filters)
    across = (filters[..., :, 1:] - filters[..., :, :-1]).pow(2).sum(1)
    down = (filters[..., 1:, :] - filters[..., :-1, :]).pow(2).sum(1)
    return across.mean() + down.mean()


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
    if none is given). Two constraints of the dynamic filter networks paper are options:
    ``softmax=True`` passes each generated filter through a softmax over its taps (every
    filter a convex blend, encouraged to be spiked: a shift), and ``separable=True``
    generates a vertical and a horizontal ``k``-tap filter per channel pair, applied one
    after the other (:func:`separable_dynamic_conv2d`); with both, each 1-D filter gets its
    own softmax, so their outer product is convex too.

    Args:
        in_channels: channels of ``x``.
        out_channels: channels of ``y``.
        kernel_size: odd size of the generated filters.
        context_channels: channels of the context (default ``in_channels``).
        hidden_channels: width of the generator.
        softmax: normalise each generated filter by a softmax over its taps.
        separable: generate separable filters (two ``k``-tap filters per channel pair).
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
        softmax: bool = False,
        separable: bool = False,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.softmax, self.separable = bool(softmax), bool(separable)
        self.in_channels = check_int("in_channels", in_channels)
        self.out_channels = check_int("out_channels", out_channels)
        self.kernel_size = check_odd_int("kernel_size", kernel_size)
        self.context_channels = check_int(
            "context_channels", in_channels if context_channels is None else context_channels
        )
        self.hidden_channels = hidden = check_int("hidden_channels", hidden_channels)
        taps = out_channels * in_channels * (2 * kernel_size if separable else kernel_size**2)
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
        per_filter = self.kernel_size if self.separable else self.kernel_size**2
        scale = 0.1 / (self.in_channels * per_filter) ** 0.5
        nn.init.normal_(self.head.weight, std=scale)

    def reset_parameters(self) -> None:
        """Re-initialise the generator as the constructor does."""
        _reset_children(self)
        self._init_head()

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"context_channels={self.context_channels}, hidden_channels={self.hidden_channels}"
            + (", softmax=True" if self.softmax else "")
            + (", separable=True" if self.separable else "")
        )

    def filters(self, context: Tensor) -> tuple[Tensor, ...]:
        """Generated ``(weight (B, C_out, C_in, k, k), bias (B, C_out))``.

        With ``separable=True``: ``(vertical, horizontal, bias)``, each filter
        ``(B, C_out, C_in, k)``.
        """
        context = _image("context", context, self.context_channels)
        check_precision("context", context, next(self.parameters()))
        raw = self.head(self.features(context))
        k, shape = self.kernel_size, (-1, self.out_channels, self.in_channels)
        taps, bias = raw[:, : -self.out_channels], raw[:, -self.out_channels :]
        if self.separable:
            pair = taps.reshape(*shape, 2, k)
            pair = torch.softmax(pair, -1) if self.softmax else pair
            return pair[..., 0, :], pair[..., 1, :], bias
        weight = taps.reshape(*shape, k * k)
        weight = torch.softmax(weight, -1) if self.softmax else weight
        return weight.reshape(*shape, k, k), bias

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        x = _image("x", x, self.in_channels)
        generated = self.filters(x if context is None else context)
        if generated[0].shape[0] != x.shape[0]:
            raise ValueError(f"context has batch {generated[0].shape[0]}, x has {x.shape[0]}")
        if self.separable:
            return separable_dynamic_conv2d(x, *generated)
        return dynamic_conv2d(x, *generated)


class DynamicLocalFilter2d(Module):
    r"""Dynamic local filtering: one generated ``k x k`` filter per pixel.

    .. math::
        F = \operatorname{softmax}_{\text{taps}}\bigl(g_\theta(Z)\bigr),\qquad
        Y_{c,p} = \sum_{t} F_{t,p}\, X_{c,\,p + \delta_t}

    The softmax makes every filter a convex combination of the neighbours (the form used
    for video prediction in the dynamic filter networks paper), so the layer can only move
    and blend intensities: it never amplifies the input's maximum. With ``pixel_bias`` the
    generator emits one more map, a dynamic per-pixel bias :math:`\beta` (shared by the
    channels) added before filtering, :math:`Y = F \star (X + \beta)` (the paper's
    highway-driving model, for changes of illumination), or after, :math:`Y = F \star X +
    \beta`; then the output is no longer bounded by the input.

    Args:
        kernel_size: odd filter size ``k``.
        context_channels: channels of the context fed to the generator.
        hidden_channels: width of the generator (three 3x3 conv layers).
        dilation: tap spacing.
        pixel_bias: ``None``, ``"before"`` or ``"after"`` filtering.
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
        pixel_bias: str | None = None,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = check_odd_int("kernel_size", kernel_size)
        self.context_channels = check_int("context_channels", context_channels)
        self.dilation = check_int("dilation", dilation)
        self.hidden_channels = hidden = check_int("hidden_channels", hidden_channels)
        if pixel_bias not in (None, "before", "after"):
            raise ValueError(f"pixel_bias must be None, 'before' or 'after', got {pixel_bias!r}")
        self.pixel_bias = pixel_bias
        self.generator = _generator(
            context_channels, hidden, kernel_size**2 + (pixel_bias is not None),
            device=device, dtype=dtype,
        )  # fmt: skip

    def reset_parameters(self) -> None:
        """Re-initialise the generator as the constructor does."""
        _reset_children(self)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, context_channels={self.context_channels}, "
            f"hidden_channels={self.hidden_channels}, dilation={self.dilation}"
            + (f", pixel_bias={self.pixel_bias!r}" if self.pixel_bias else "")
        )

    def generate(self, context: Tensor) -> tuple[Tensor, Tensor | None]:
        """Per-pixel filters ``(B, k*k, H, W)`` and the pixel bias ``(B, 1, H, W)`` (or None)."""
        context = _image("context", context, self.context_channels)
        check_precision("context", context, next(self.parameters()))
        raw = self.generator(context)
        taps = self.kernel_size**2
        bias = raw[:, taps:] if self.pixel_bias else None
        return torch.softmax(raw[:, :taps], dim=1), bias

    def filters(self, context: Tensor) -> Tensor:
        """Per-pixel filters ``(B, k*k, H, W)``, non-negative, summing to 1 over taps."""
        return self.generate(context)[0]

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        x = _image("x", x)
        filters, bias = self.generate(x if context is None else context)
        if self.pixel_bias == "before":
            return local_filter2d(x + bias, filters, self.dilation)
        y = local_filter2d(x, filters, self.dilation)
        return y + bias if self.pixel_bias == "after" else y


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
