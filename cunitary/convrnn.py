r"""Convolutional recurrent cells for video and the stack that runs them.

Every cell maps a frame ``x`` :math:`(B, C_{in}, H, W)` and a state to the next state
(:class:`ConvRecurrentCell`): the ConvLSTM and ARMA-LSTM cells the ARMA paper compares,
and the unitary cells of this library, whose transitions are
:class:`~cunitary.UnitaryConv2d` operators. :class:`ConvRNNStack` is the ARMA paper's
backbone, generic over the cell.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from functools import partial
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from ._checks import (
    check_int,
    check_numeric,
    check_odd_int,
    check_precision,
    check_tensor,
    complex_dtype_for,
    real_factory_dtype,
)
from ._module import Module
from .activations import _nonpositive
from .arma import ARMA2d
from .unitary import UnitaryConv2d, cached, cached_value

__all__ = [
    "ConvRecurrentCell",
    "ConvLSTMCell",
    "ARMALSTMCell",
    "RotationConvGRUCell",
    "ComplexConvGatedCell",
    "ConvRNNStack",
]


@runtime_checkable
class ConvRecurrentCell(Protocol):
    """What :class:`ConvRNNStack` needs of a cell: its channel counts, whether its state
    is complex, and ``cell(x, state) -> state`` (``state=None`` starts from zeros). A
    state is a tensor, or a tuple whose first entry is the layer's output (ConvLSTM's
    ``(h, c)``)."""

    in_channels: int
    hidden_channels: int
    state_is_complex: bool

    def __call__(self, x: Tensor, state: object = None) -> object: ...


def _check_image(name: str, x: object, channels: int, size: tuple[int, int], allow_complex: bool):
    x = check_tensor(name, x)
    check_numeric(name, x, allow_complex=allow_complex)
    if x.dim() != 4 or x.shape[1] != channels or tuple(x.shape[-2:]) != size:
        raise ValueError(
            f"{name} must have shape (B, {channels}, {size[0]}, {size[1]}), got {tuple(x.shape)}"
        )
    return x


class _ConvCell(Module):
    """Shared validation of the convolutional cells."""

    state_is_complex: bool

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels)
        self.hidden_channels = check_int("hidden_channels", hidden_channels)
        if not isinstance(kernel_size, int) or kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be an odd int, got {kernel_size!r}")
        self.padding = kernel_size // 2

    def _inputs(self, x: object, h: object) -> tuple[Tensor, Tensor]:
        allow = self.state_is_complex
        x = check_tensor("x", x)
        pad = getattr(self, "grid_padding", 0)
        if pad and x.dim() == 4 and tuple(x.shape[-2:]) == tuple(self.frame_size):
            x = nn.functional.pad(x, (pad,) * 4)  # a frame: onto the state's padded grid
        x = _check_image("x", x, self.in_channels, self.size, allow_complex=allow)
        check_precision("x", x, self.gates.weight)
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_channels, *self.size)
        h = _check_image("h", h, self.hidden_channels, self.size, allow_complex=allow)
        _check_batch("h", h, x)
        return x, h


def _check_batch(name: str, state: Tensor, x: Tensor) -> None:
    """A state must have the input's batch size: broadcasting would change the batch."""
    if state.shape[0] != x.shape[0]:
        raise ValueError(
            f"{name} has batch size {state.shape[0]} but x has {x.shape[0]}; pass states "
            "of the input's batch (or None to start from zeros)"
        )


def _complex_conv_weight(weight: Tensor, real_input_channels: int) -> Tensor:
    r"""The real weight that computes a complex convolution on stacked real parts.

    For :math:`W = A + iB` acting on :math:`u = u_r + iu_i`, :math:`\Re(W*u) = A*u_r - B*u_i`
    and :math:`\Im(W*u) = B*u_r + A*u_i`: one real convolution of
    :math:`[u_r, u_i]` with :math:`\begin{pmatrix}A & -B\\ B & A\end{pmatrix}`. The first
    ``real_input_channels`` inputs have no imaginary part, so their :math:`u_i` columns
    are dropped. Input order ``[u_r, u_i of the complex channels]``; output
    ``[Re, Im]``.
    """
    a, b = weight.real, weight.imag
    skip = real_input_channels
    return torch.cat(
        [torch.cat([a, -b[:, skip:]], 1), torch.cat([b, a[:, skip:]], 1)], 0
    )  # (2 C_out, C_in + C_complex, k, k)


class _ResetGate(torch.autograd.Function):
    r"""Gates from logits and the reset state, planar in, complex out.

    ``logits`` :math:`[l_r, l_z]` and ``h`` :math:`[h_r, h_i]` (each
    :math:`(B, 2C, H, W)`) give :math:`R = \sigma(l_r)`, :math:`Z = \sigma(l_z)` and
    :math:`R\odot h` as a complex tensor (the transition's FFT input). The backward
    writes the gradients of both planar inputs directly, where autograd would allocate a
    zero-filled full-size gradient for every channel slice.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        n = h.shape[1] // 2
        reset, update = torch.sigmoid(logits[:, :n]), torch.sigmoid(logits[:, n:])
        ctx.save_for_backward(reset, update, h)
        reset_state = h.new_empty(reset.shape, dtype=complex_dtype_for(h.dtype))
        planes = torch.view_as_real(reset_state)
        torch.mul(reset, h[:, :n], out=planes[..., 0])
        torch.mul(reset, h[:, n:], out=planes[..., 1])
        return reset_state, update

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_state: Tensor | None, grad_update: Tensor | None):
        reset, update, h = ctx.saved_tensors
        n = reset.shape[1]
        grad_logits = torch.empty_like(h)
        grad_h = torch.empty_like(h) if ctx.needs_input_grad[1] else None
        if grad_state is None:
            grad_logits[:, :n] = 0
            if grad_h is not None:
                grad_h.zero_()
        else:
            g_r, g_i = grad_state.real, grad_state.imag
            slope = reset - reset * reset
            grad_logits[:, :n] = (g_r * h[:, :n]).addcmul_(g_i, h[:, n:]).mul_(slope)
            if grad_h is not None:
                torch.mul(g_r, reset, out=grad_h[:, :n])
                torch.mul(g_i, reset, out=grad_h[:, n:])
        if grad_update is None:
            grad_logits[:, n:] = 0
        else:
            torch.mul(grad_update, update - update * update, out=grad_logits[:, n:])
        return grad_logits, grad_h


class _ModReLUUpdate(torch.autograd.Function):
    r"""The complex gated cell's tail on planar tensors, with a hand-written backward.

    For the transported state :math:`t` (complex), candidate :math:`c = [c_r, c_i]`,
    update gate :math:`Z`, state :math:`h` and modReLU bias :math:`b`:

    .. math::
        p = t + c,\quad r = |p|,\quad s = \frac{\operatorname{ReLU}(r + b)}{r},\quad
        h' = h + Z\odot(s\,p - h)

    (:math:`s = 0` where :math:`r` is below the smallest normal number). With
    upstream :math:`g`, :math:`m = s\,p`, :math:`g_m = Z g` and
    :math:`q = \langle g_m, p\rangle / r` (the gradient along the phase direction):

    .. math::
        \nabla_h = (1 - Z)g,\quad \nabla_Z = \langle g, m - h\rangle,\quad
        \nabla_p = s\,g_m + p\,\frac{q\,(\mathbb 1[r + b > 0] - s)}{r},\quad
        \nabla_b = \textstyle\sum q\,\mathbb 1[r + b > 0]

    (:math:`\langle\cdot,\cdot\rangle` the real inner product of the two planes).
    Tested against autograd through the complex composition.
    """

    @staticmethod
    def forward(ctx, transported: Tensor, candidate: Tensor, update: Tensor, h: Tensor,
                bias: Tensor) -> Tensor:  # fmt: skip
        n = update.shape[1]
        pre = torch.empty_like(candidate).unflatten(1, (2, n))
        planes = torch.view_as_real(transported)
        torch.add(candidate[:, :n], planes[..., 0], out=pre[:, 0])
        torch.add(candidate[:, n:], planes[..., 1], out=pre[:, 1])
        radius = torch.hypot(pre[:, 0], pre[:, 1])
        dead = radius <= torch.finfo(radius.dtype).tiny  # False for NaN: NaN propagates
        safe_radius = radius.masked_fill(dead, 1)
        shifted = radius + bias
        active = shifted > 0
        scale = torch.relu_(shifted).div_(safe_radius).masked_fill_(dead, 0)
        modrelu = pre * scale[:, None]
        ctx.save_for_backward(pre, modrelu, safe_radius, scale, active, update, h)
        return torch.lerp(h.unflatten(1, (2, n)), modrelu, update[:, None]).flatten(1, 2)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        pre, modrelu, safe_radius, scale, active, update, h = ctx.saved_tensors
        n = update.shape[1]
        g = grad.unflatten(1, (2, n))
        h = h.unflatten(1, (2, n))
        grad_m = g * update[:, None]
        grad_h = (g - grad_m).flatten(1, 2)
        grad_update = (g * (modrelu - h)).sum(1)
        along = (grad_m * pre).sum(1).div_(safe_radius)
        grad_pre = grad_m.mul_(scale[:, None])
        coefficient = (active.to(scale.dtype) - scale).mul_(along).div_(safe_radius)
        grad_pre.addcmul_(pre, coefficient[:, None])
        grad_bias = None
        if ctx.needs_input_grad[4]:
            grad_bias = torch.where(active, along, 0).sum((0, 2, 3)).view(-1, 1, 1)
        grad_transported = torch.complex(grad_pre[:, 0], grad_pre[:, 1])
        return grad_transported, grad_pre.flatten(1, 2), grad_update, grad_h, grad_bias


class RotationConvGRUCell(_ConvCell):
    r"""Convolutional rotation-GRU cell (real): 3x3 conv gates, orthogonal 2-D rotation.

    .. math::
        \begin{aligned}
        R_t, Z_t &= \sigma\bigl(W_{r,z} * [X_t, H_{t-1}] + b_{r,z}\bigr),\\
        H'_t &= \tanh\bigl(W_h * [X_t, R_t\odot H_{t-1}] + b_h\bigr),\\
        H_t &= \mathcal W\bigl((1 - Z_t)\odot H'_t + Z_t\odot H_{t-1}\bigr),
        \end{aligned}

    with :math:`\mathcal W` a :class:`~cunitary.UnitaryConv2d` ``(real=True)``:
    an orthogonal doubly block circulant operator (depthwise, plus an orthogonal channel
    mix when ``mix=True``), its angles per frequency or compact (``angles``). That
    candidate is the standard GRU's (``candidate="gru"``); ``candidate="linear_recurrent"``
    is eq. (109) of Wolter & Yao's *Complex gated memory cells*, where the reset gates the
    *output* of the recurrent convolution and the non-linearity touches only the input
    term, with the same weights :math:`W_h = [W_{hx}, W_{hh}]`:

    .. math::
        H'_t = \tanh\bigl(W_{hx} * X_t + b_h\bigr) + R_t\odot\bigl(W_{hh} * H_{t-1}\bigr).

    What bounds the state. The rotation keeps the Euclidean norm, and the blend is a
    convex combination per unit, so :math:`|v| \le \max(|H'|, |H_{t-1}|)` for each
    unit of :math:`v = (1 - Z_t)\odot H'_t + Z_t\odot H_{t-1}`. With the GRU candidate,
    :math:`|H'_t| < 1` per unit, and convexity of the square gives, for every weight and
    input,

    .. math::
        \|H_t\|^2 \le \|H_{t-1}\|^2 + \textstyle\sum (1 - Z_t)\odot H_t'^{\,2}
        \le \|H_{t-1}\|^2 + N, \qquad
        \|H_t\| \le \sqrt{\|H_0\|^2 + tN}

    (:math:`N = C_h H W` units per sample): the state can grow at most like
    :math:`\sqrt t`, never geometrically. No bound uniform in :math:`t` follows from
    the cell's form: the rotation moves energy between units, so the per-unit bound
    :math:`|H'| < 1` does not carry over to :math:`H_t`. With eq. (109) the candidate
    holds :math:`R_t\odot(W_{hh} * H_{t-1})`, linear in the state: nothing in the cell
    bounds it, and when :math:`W_{hh}` amplifies (spectral norm above 1) the state can
    grow geometrically, by up to that factor per step (``tests/test_convrnn.py`` checks
    both: the GRU bound over 10,000 random steps, a doubling eq. (109) state).

    Args:
        in_channels: input channels.
        hidden_channels: state channels.
        size: ``(H, W)`` of the frames (the rotation's eigen-angles live on this grid).
        kernel_size: gate convolution size (odd).
        mix: add an orthogonal channel mix to the rotation.
        angles: the rotation's angle parameterisation, ``"full"``, ``"kernel"`` or
            ``"grid"`` (see :class:`~cunitary.UnitaryConv2d`).
        angle_size: its kernel or grid size.
        candidate: ``"gru"`` or ``"linear_recurrent"`` (see above).
        padding: ``p`` zeros around the frame: the state lives on the
            ``(H + 2p, W + 2p)`` grid where the rotation is orthogonal (Wolter & Yao,
            *Complex gated memory cells* §5.8.1); frames of ``size`` are zero-padded on the
            way in. The rotation is still circular on that grid, so padding reduces the
            part of a state near one edge that reaches the opposite edge, it does not
            remove it (see :class:`~cunitary.UnitaryConv2d`).
            :class:`ConvRNNStack` crops its output back to the frame.
        device: of the parameters.
        dtype: float32 or float64.

    Inputs ``x`` :math:`(B, C_{in}, H, W)` (or on the padded grid), ``h``
    :math:`(B, C_h, H + 2p, W + 2p)` (zeros if omitted); output
    :math:`(B, C_h, H + 2p, W + 2p)`.
    """

    state_is_complex = False

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        size: int | tuple[int, int],
        kernel_size: int = 3,
        mix: bool = False,
        angles: str = "full",
        angle_size: int | None = None,
        candidate: str = "gru",
        padding: int = 0,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_channels, hidden_channels, kernel_size)
        if candidate not in ("gru", "linear_recurrent"):
            raise ValueError(f"candidate must be 'gru' or 'linear_recurrent', got {candidate!r}")
        self.candidate_form = candidate
        factory = {"device": device, "dtype": real_factory_dtype(dtype)}
        both = in_channels + hidden_channels
        pad = self.padding
        self.gates = nn.Conv2d(both, 2 * hidden_channels, kernel_size, padding=pad, **factory)
        self.candidate = nn.Conv2d(both, hidden_channels, kernel_size, padding=pad, **factory)
        self.rotation = UnitaryConv2d(
            size, hidden_channels, real=True, mix=mix, angles=angles, angle_size=angle_size,
            padding=padding, **factory,
        )  # fmt: skip
        self.size = self.rotation.size  # the state's grid (padded)
        self.frame_size = self.rotation.frame_size
        self.grid_padding = self.rotation.padding

    def reset_parameters(self) -> None:
        """Every parameter as the constructor made it (the same random draws in order)."""
        for layer in (self.gates, self.candidate, self.rotation):
            layer.reset_parameters()

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        x, h = self._inputs(x, h)
        # .to(h.dtype): under autocast the convolutions run in bf16; the state does not.
        gates = torch.sigmoid(self.gates(torch.cat([x, h], 1))).to(h.dtype)
        reset, update = gates.chunk(2, dim=1)
        if self.candidate_form == "gru":
            candidate = torch.tanh(self.candidate(torch.cat([x, reset * h], 1))).to(h.dtype)
        else:
            w, n = self.candidate.weight, self.in_channels
            conv = self.candidate._conv_forward  # the layer's own padding and dilation
            term_x = torch.tanh(conv(x, w[:, :n], self.candidate.bias)).to(h.dtype)
            candidate = term_x + reset * conv(h, w[:, n:], None).to(h.dtype)
        return self.rotation(torch.lerp(candidate, h, update))

    def extra_repr(self) -> str:
        extra = ", candidate='linear_recurrent'" if self.candidate_form != "gru" else ""
        return (
            f"{self.in_channels}, {self.hidden_channels}, size={self.size}, "
            f"kernel_size={self.gates.kernel_size[0]}{extra}"
        )


class ComplexConvGatedCell(_ConvCell):
    r"""Convolutional complex gated cell with a unitary 2-D transition.

    .. math::
        \begin{aligned}
        R_t, Z_t &= \sigma_\alpha\bigl(W_{r,z} * [X_t, H_{t-1}] + b_{r,z}\bigr),\\
        C_t &= \operatorname{modReLU}\bigl(W_c * X_t + \mathcal U(R_t\odot H_{t-1}) + b_c\bigr),\\
        H_t &= (1 - Z_t)\odot H_{t-1} + Z_t\odot C_t,
        \end{aligned}

    with complex 3x3 convolutions, per-channel mod-sigmoid gates
    :math:`\sigma_\alpha(z) = \sigma(\alpha\Re z + (1-\alpha)\Im z)` and
    :math:`\mathcal U` a complex :class:`~cunitary.UnitaryConv2d` (depthwise eigen-angles,
    per frequency or compact, optional unitary channel mix): the 2-D counterpart of
    :class:`ComplexGatedCell`. The weights are complex; each complex convolution runs as
    one real convolution over the stacked real and imaginary parts (real input channels
    contribute no imaginary part), and the gates never leave real arithmetic.

    Args:
        in_channels: input channels.
        hidden_channels: state channels.
        size: ``(H, W)`` of the frames.
        kernel_size: gate convolution size (odd).
        mix: add a unitary channel mix to the transition.
        angles: the transition's angle parameterisation (see
            :class:`~cunitary.UnitaryConv2d`).
        angle_size: its kernel or grid size.
        gate_bias: initial gate bias (real and imaginary part).
        nonexpansive: apply modReLU with :math:`\min(b_c, 0)` (straight-through
            gradient), which bounds its derivative by 1, Wolter & Yao's constraint (3);
            off by default, as in their code (see :class:`~cunitary.ModReLU`).
        device: of the parameters.
        dtype: float32 or float64 (the complex weights use the matching complex dtype).

    Inputs ``x`` :math:`(B, C_{in}, H, W)` real or complex, ``h``
    :math:`(B, C_h, H, W)` complex; output complex :math:`(B, C_h, H, W)`.
    """

    state_is_complex = True

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        size: int | tuple[int, int],
        kernel_size: int = 3,
        mix: bool = False,
        angles: str = "full",
        angle_size: int | None = None,
        gate_bias: float = 4.0,
        nonexpansive: bool = False,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_channels, hidden_channels, kernel_size)
        if not isinstance(nonexpansive, bool):
            raise TypeError(f"nonexpansive must be a bool, got {nonexpansive!r}")
        self.nonexpansive = nonexpansive
        dtype = real_factory_dtype(dtype)
        cfactory = {"device": device, "dtype": complex_dtype_for(dtype)}
        pad = self.padding
        ch = hidden_channels
        self.gates = nn.Conv2d(in_channels + ch, 2 * ch, kernel_size, padding=pad, **cfactory)
        self.candidate = nn.Conv2d(in_channels, ch, kernel_size, padding=pad, **cfactory)
        self.gate_bias = float(gate_bias)
        self.gate_alpha = nn.Parameter(torch.empty(2 * ch, 1, 1, dtype=dtype, device=device))
        self.modrelu_bias = nn.Parameter(torch.empty(ch, 1, 1, dtype=dtype, device=device))
        self.transition = UnitaryConv2d(
            size, ch, mix=mix, angles=angles, angle_size=angle_size, device=device, dtype=dtype
        )
        self.size = self.transition.size
        self._reset_gates()

    def _reset_gates(self) -> None:
        with torch.no_grad():
            self.gates.bias.fill_(complex(self.gate_bias, self.gate_bias))
            self.gate_alpha.fill_(0.5)
            self.modrelu_bias.zero_()

    def reset_parameters(self) -> None:
        """Re-initialise every parameter as the constructor does."""
        self.gates.reset_parameters()
        self.candidate.reset_parameters()
        self._reset_gates()
        self.transition.reset_parameters()

    def _real_weights(self, x_complex: bool, dtype: torch.dtype) -> tuple[Tensor, ...]:
        r"""The real convolutions the complex ones compute on planar inputs.

        Inputs are planar: ``x`` as :math:`[x_r, x_i]` (:math:`x_i` only when
        ``x_complex``), the state as :math:`[h_r, h_i]`. With :math:`W = A + iB` the gate
        logit :math:`\alpha\Re z + (1-\alpha)\Im z` of :math:`z = W * u` is
        :math:`(\alpha A + (1-\alpha)B) * u_r + ((1-\alpha)A - \alpha B) * u_i`: a real
        convolution with ``2 C_h`` outputs, the same function and parameters as the
        complex convolution followed by mod-sigmoid's projection at half the
        multiply-adds (the imaginary outputs are never formed). The candidate is a full
        complex convolution (:func:`_complex_conv_weight`).

        Grouped by what they read: ``input_weight`` maps ``x`` to the gates' input part
        and the candidate (``4 C_h`` outputs), ``state_weight`` maps the state to the
        gates' recurrent part. The same multiply-adds as one convolution per output, but
        no ``[x, h]`` concatenation, and output widths that vectorise better on CPU
        (measured: a 3-layer, 12-channel training step ~7% faster). Inside
        :func:`~cunitary.unitary.cached` they are composed once per sequence.
        """

        def compose() -> tuple[Tensor, ...]:
            a, b = self.gates.weight.real, self.gates.weight.imag
            alpha = self.gate_alpha.view(-1, 1, 1, 1)
            on_real = alpha * a + (1 - alpha) * b
            on_imag = (1 - alpha) * a - alpha * b
            n = self.in_channels
            gate_x = [on_real[:, :n], on_imag[:, :n]] if x_complex else [on_real[:, :n]]
            candidate = _complex_conv_weight(self.candidate.weight, 0 if x_complex else n)
            input_weight = torch.cat([torch.cat(gate_x, 1), candidate], 0)
            alpha = self.gate_alpha.view(-1)
            gate_bias = alpha * self.gates.bias.real + (1 - alpha) * self.gates.bias.imag
            bias = self.candidate.bias
            input_bias = torch.cat([gate_bias, bias.real, bias.imag])
            state_weight = torch.cat([on_real[:, n:], on_imag[:, n:]], 1)
            return tuple(t.to(dtype) for t in (input_weight, input_bias, state_weight))

        return cached_value((self, "real weights", x_complex, dtype), compose)

    def planar_step(self, x: Tensor, h: Tensor | None, x_complex: bool) -> Tensor:
        r"""One step on planar real tensors: the cell without complex<->real copies.

        ``x`` :math:`(B, C_{in}, H, W)`, or :math:`(B, 2C_{in}, H, W)` as
        :math:`[\Re, \Im]` when ``x_complex``; ``h`` :math:`(B, 2C_h, H, W)` as
        :math:`[\Re, \Im]` (zeros if ``None``); returns the next state in the same
        layout. :class:`ConvRNNStack` keeps the state this way between steps. Inputs are
        not checked here (:meth:`forward` checks them).
        """
        n = self.hidden_channels
        if h is None:
            h = x.new_zeros(x.shape[0], 2 * n, *x.shape[2:])
        input_weight, input_bias, state_weight = self._real_weights(x_complex, h.dtype)
        pad = self.padding
        gate_input, candidate = nn.functional.conv2d(x, input_weight, input_bias,
                                                     padding=pad).split(2 * n, 1)  # fmt: skip
        logits = nn.functional.conv2d(h, state_weight, padding=pad).add_(gate_input)
        # .to(h.dtype): under autocast the real convolutions run in bf16; the state does not.
        reset_state, update = _ResetGate.apply(logits.to(h.dtype), h)
        transported = self.transition(reset_state)
        return _ModReLUUpdate.apply(
            transported, candidate.to(h.dtype), update, h, self.effective_modrelu_bias()
        )

    def effective_modrelu_bias(self) -> Tensor:
        """The modReLU bias the cell applies (:math:`\\min(b_c, 0)` if ``nonexpansive``)."""
        return _nonpositive(self.modrelu_bias) if self.nonexpansive else self.modrelu_bias

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        x, h = self._inputs(x, h)
        dtype = self.gate_alpha.dtype
        h = h.to(complex_dtype_for(dtype))
        x_complex = x.is_complex()
        if x_complex:
            x = x.to(h.dtype)
            x = torch.cat([x.real, x.imag], 1)
        out = self.planar_step(x.to(dtype), torch.cat([h.real, h.imag], 1), x_complex)
        return torch.complex(*out.chunk(2, 1))

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.hidden_channels}, size={self.size}, "
            f"kernel_size={self.gates.kernel_size[0]}, gate_bias={self.gate_bias}"
            + (", nonexpansive=True" if self.nonexpansive else "")
        )


class ConvLSTMCell(Module):
    r"""Convolutional LSTM cell with a pluggable convolution.

    .. math::
        \begin{aligned}
        I_t, F_t, G_t, O_t &= \operatorname{split}\bigl(W * [X_t, H_{t-1}] + b\bigr),\\
        C_t &= \sigma(F_t)\odot C_{t-1} + \sigma(I_t)\odot\tanh(G_t),\\
        H_t &= \sigma(O_t)\odot\tanh(C_t)
        \end{aligned}

    One convolution over the concatenated input and hidden state computes all four gates
    (the layout whose parameter counts the ARMA paper reports). ``conv`` swaps the
    convolution: :class:`ARMALSTMCell` passes :class:`ARMA2d`; ``dilation`` gives the
    dilated variants.

    Args:
        in_channels: input channels.
        hidden_channels: state channels.
        kernel_size: odd gate convolution size.
        dilation: its dilation.
        conv: ``conv(in_channels, out_channels, kernel_size, padding=..., dilation=...,
            device=..., dtype=...)`` returning a module; default :class:`torch.nn.Conv2d`.
        device: of the parameters.
        dtype: of the parameters.

    Inputs: ``x`` :math:`(B, C_{in}, H, W)` and ``state = (h, c)`` (zeros if omitted).
    Outputs: the new ``(h, c)``, each :math:`(B, C_h, H, W)`.

    Examples:
        >>> cell = ConvLSTMCell(1, 8, kernel_size=3)
        >>> h, c = cell(torch.randn(2, 1, 16, 16))
        >>> h.shape
        torch.Size([2, 8, 16, 16])
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        kernel_size: int = 3,
        dilation: int = 1,
        conv: Callable[..., nn.Module] | None = None,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels)
        self.hidden_channels = check_int("hidden_channels", hidden_channels)
        self.kernel_size = check_odd_int("kernel_size", kernel_size)
        self.dilation = check_int("dilation", dilation)
        conv = conv if conv is not None else nn.Conv2d
        self.gates = conv(
            in_channels + hidden_channels, 4 * hidden_channels, kernel_size,
            padding=dilation * (kernel_size - 1) // 2, dilation=dilation, device=device,
            dtype=dtype,
        )  # fmt: skip

    state_is_complex = False

    def reset_parameters(self) -> None:
        """Re-initialise the gate convolution as its constructor does."""
        self.gates.reset_parameters()

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.hidden_channels}, kernel_size={self.kernel_size}, "
            f"dilation={self.dilation}"
        )

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None):
        x = check_tensor("x", x)
        check_numeric("x", x, allow_complex=False)
        check_precision("x", x, next(self.gates.parameters()))
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"x must have shape (B, C_in={self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_channels, *x.shape[-2:])
            state = (zeros, zeros)
        h, c = state
        if (h.shape != c.shape or h.shape[0] != x.shape[0] or h.shape[1] != self.hidden_channels
                or h.shape[2:] != x.shape[2:]):  # fmt: skip
            raise ValueError(
                f"state (h, c) must both have shape ({x.shape[0]}, {self.hidden_channels}, "
                f"{x.shape[2]}, {x.shape[3]}) to match x, got {tuple(h.shape)} and "
                f"{tuple(c.shape)}"
            )
        i, f, g, o = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)  # torch's LSTM order
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class ARMALSTMCell(ConvLSTMCell):
    r"""ConvLSTM whose gate convolution is an :class:`ARMA2d` layer.

    .. math::
        A * \bigl[I_t, F_t, G_t, O_t\bigr] = W * [X_t, H_{t-1}] + b

    followed by the LSTM update of :class:`ConvLSTMCell`. Each of the :math:`4 C_h` gate
    channels has its own stable separable AR filter (4 parameters per channel at
    ``ar_kernel_size=3``), which widens the gates' receptive field to the whole frame.

    Examples:
        >>> cell = ARMALSTMCell(1, 8)
        >>> sum(p.numel() for p in cell.parameters()) - sum(
        ...     p.numel() for p in ConvLSTMCell(1, 8).parameters())
        128
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        kernel_size: int = 3,
        dilation: int = 1,
        ar_kernel_size: int = 3,
        ar_dilation: int = 1,
        ar_padding: int = 0,
        device=None,
        dtype: torch.dtype | None = None,
    ) -> None:
        conv = partial(
            ARMA2d, ar_kernel_size=ar_kernel_size, ar_dilation=ar_dilation, ar_padding=ar_padding
        )
        super().__init__(
            in_channels, hidden_channels, kernel_size, dilation, conv=conv, device=device,
            dtype=dtype,
        )  # fmt: skip


def _layer_output(state: object) -> Tensor:
    """A cell's state is its output, or a tuple whose first element is (ConvLSTM's (h, c))."""
    return state[0] if isinstance(state, tuple) else state  # type: ignore[index,return-value]


class ConvRNNStack(Module):
    r"""The ARMA paper's video backbone, generic over the recurrent cell.

    .. math::
        H^{(l)}_t = \operatorname{cell}_l\bigl(Z^{(l-1)}_t, H^{(l)}_{t-1}\bigr),\quad
        Z^{(l)}_t = \begin{cases}[H^{(l)}_t, H^{(i)}_t] & (i, l) \in \text{skips}\\
                    H^{(l)}_t & \text{otherwise}\end{cases},\quad
        Y_t = W_o * Z^{(L)}_t + b_o

    ``num_layers`` cells of ``hidden_channels`` each; a skip ``(i, j)`` concatenates layer
    :math:`i`'s output to layer :math:`j`'s, and that concatenation feeds layer
    :math:`j + 1` (the 1x1 output convolution when :math:`j = L`). The defaults (12 layers
    x 32 channels, skips (3, 9) and (6, 12)) are the ARMA paper's; with
    :class:`ConvLSTMCell` 3x3 they give its 0.887M parameters (2.462M at 5x5, 0.893M with
    :class:`ARMALSTMCell`). Complex-state cells (``state_is_complex``) pass complex
    features between layers; the output convolution sees their real and imaginary parts.

    Args:
        cell: ``cell(in_channels, hidden_channels, device=..., dtype=...)`` building one
            :class:`ConvRecurrentCell`, e.g. ``functools.partial(ConvLSTMCell,
            kernel_size=3)``.
        in_channels: frame channels in.
        out_channels: frame channels out.
        hidden_channels: channels of every layer.
        num_layers: recurrent layers.
        skips: pairs ``(i, j)``: layer ``i``'s output is concatenated to layer ``j``'s;
            ``None`` (default): the ARMA paper's ``(3, 9), (6, 12)`` for 12 layers, none
            for any other depth.
        device: of the parameters.
        size: the frame size ``(H, W)``, passed on to cells that need it (the unitary
            cells); otherwise bind it yourself, e.g. ``partial(RotationConvGRUCell,
            size=(64, 64))``.
        dtype: of the parameters.

    Inputs: ``x`` :math:`(B, T, C_{in}, H, W)` and per-layer ``states`` (``None``: zeros).
    Outputs: ``y`` :math:`(B, T, C_{out}, H, W)` and the final ``states`` (a list).

    A :class:`ComplexConvGatedCell` stack keeps its complex features and states as real
    planes, :math:`(B, 2C_h, H, W)` holding :math:`[\Re h, \Im h]`, so that no step
    converts between complex and real layouts; ``torch.complex(*s.chunk(2, 1))`` is the
    complex state, and complex states passed in are accepted.

    Examples:
        >>> net = ConvRNNStack(partial(ConvLSTMCell, kernel_size=3), 1, 1, 8, 4, [(1, 3)])
        >>> y, states = net(torch.randn(2, 5, 1, 16, 16))
        >>> y.shape, len(states)
        (torch.Size([2, 5, 1, 16, 16]), 4)
    """

    def __init__(
        self,
        cell: Callable[[int, int], nn.Module],
        in_channels: int = 1,
        out_channels: int = 1,
        hidden_channels: int = 32,
        num_layers: int = 12,
        skips: Sequence[tuple[int, int]] | None = None,
        device=None,
        dtype: torch.dtype | None = None,
        size: int | tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        if size is not None:  # cells whose transition lives on the frame grid need it
            cell = functools.partial(cell, size=size)
        self.in_channels = check_int("in_channels", in_channels)
        self.out_channels = check_int("out_channels", out_channels)
        self.hidden_channels = check_int("hidden_channels", hidden_channels)
        self.num_layers = check_int("num_layers", num_layers)
        if skips is None:
            skips = ((3, 9), (6, 12)) if num_layers == 12 else ()
        self.skips = [tuple(s) for s in skips]
        for i, j in self.skips:
            if not (isinstance(i, int) and isinstance(j, int) and 1 <= i < j <= num_layers):
                raise ValueError(
                    f"skips must be pairs (i, j) with 1 <= i < j <= num_layers={num_layers}, "
                    f"got {(i, j)}"
                )
        self.cells = nn.ModuleList()
        width = in_channels
        for layer in range(1, num_layers + 1):
            self.cells.append(cell(width, hidden_channels, device=device, dtype=dtype))
            width = hidden_channels * (1 + sum(j == layer for _, j in self.skips))
        if not isinstance(self.cells[0], ConvRecurrentCell):
            raise TypeError(
                f"cell must build a ConvRecurrentCell (in_channels, hidden_channels, "
                f"state_is_complex), got {type(self.cells[0]).__name__}"
            )
        self.complex_state = self.cells[0].state_is_complex
        self.planar = self.complex_state and hasattr(self.cells[0], "planar_step")
        self.output = nn.Conv2d(
            width * (2 if self.complex_state else 1), out_channels, 1, device=device, dtype=dtype
        )

    def reset_parameters(self) -> None:
        """Re-initialise every cell and the output convolution."""
        for cell in self.cells:
            cell.reset_parameters()
        self.output.reset_parameters()

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, out_channels={self.out_channels}, "
            f"hidden_channels={self.hidden_channels}, num_layers={self.num_layers}, "
            f"skips={self.skips}"
        )

    def step(self, x: Tensor, states: list | None = None) -> tuple[Tensor, list]:
        """One frame: ``x`` :math:`(B, C_{in}, H, W)` -> ``(y, states)``."""
        states = [None] * self.num_layers if states is None else list(states)
        if len(states) != self.num_layers:
            raise ValueError(f"states must have {self.num_layers} entries, got {len(states)}")
        if self.planar:
            return self._planar_step(x, states)
        outputs: list[Tensor] = []
        z = x
        for layer, cell in enumerate(self.cells, start=1):
            states[layer - 1] = cell(z, states[layer - 1])
            outputs.append(_layer_output(states[layer - 1]))
            z = torch.cat([outputs[-1]] + [outputs[i - 1] for i, j in self.skips if j == layer], 1)
        if z.is_complex():
            z = torch.cat([z.real, z.imag], dim=1)
        return self._crop(self.output(z)), states

    def _crop(self, y: Tensor) -> Tensor:
        """The frame out of cells whose state lives on a zero-padded grid."""
        pad = getattr(self.cells[0], "grid_padding", 0)
        return y[..., pad:-pad, pad:-pad] if pad else y

    def _planar_step(self, x: Tensor, states: list) -> tuple[Tensor, list]:
        """:meth:`step` for cells with a ``planar_step``: complex features and states as
        real ``[Re, Im]`` planes, so that no step converts between layouts."""
        first = self.cells[0]
        x = _check_image("x", x, self.in_channels, first.size, allow_complex=True)
        check_precision("x", x, first.gate_alpha)
        n = self.hidden_channels
        for layer, state in enumerate(states):
            if state is None:
                continue
            state = check_tensor(f"states[{layer}]", state)
            if state.is_complex():
                state = _check_image(f"states[{layer}]", state, n, first.size, True)
                state = torch.cat([state.real, state.imag], 1)
            states[layer] = _check_image(f"states[{layer}]", state, 2 * n, first.size, False)
            _check_batch(f"states[{layer}]", states[layer], x)
        outputs: list[Tensor] = []
        z_complex = x.is_complex()
        z = torch.cat([x.real, x.imag], 1) if z_complex else x
        z = z.to(first.gate_alpha.dtype)
        for layer, cell in enumerate(self.cells, start=1):
            states[layer - 1] = cell.planar_step(z, states[layer - 1], z_complex)
            outputs.append(states[layer - 1])
            parts = [outputs[-1]] + [outputs[i - 1] for i, j in self.skips if j == layer]
            # [Re of every part, Im of every part], the channel order of a complex
            # concatenation; concatenating (B, 2, n, H, W) views keeps the backward free of
            # the zero-filled gradients that channel slices would cost.
            if len(parts) > 1:
                z = torch.cat([p.unflatten(1, (2, n)) for p in parts], 2).flatten(1, 2)
            else:
                z = parts[0]
            z_complex = True
        return self.output(z), states

    def forward(self, x: Tensor, states: list | None = None) -> tuple[Tensor, list]:
        x = check_tensor("x", x)
        if x.dim() != 5:
            raise ValueError(f"x must have shape (B, T, C, H, W), got {tuple(x.shape)}")
        if x.shape[1] == 0:
            raise ValueError(f"x has no frames (T = 0): shape {tuple(x.shape)}")
        ys = []
        with cached():  # the unitary transitions' phasors: once per sequence
            for frame in x.unbind(1):
                y, states = self.step(frame, states)
                ys.append(y)
        return torch.stack(ys, dim=1), states  # type: ignore[return-value]
