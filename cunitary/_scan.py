r"""The diagonal unitary recurrence :math:`h_t = \lambda\odot h_{t-1} + u_t`, fast (private).

:func:`diagonal_scan` runs the recurrence without recording an autograd graph and gives
it a hand-written backward, which is the same recurrence run backwards in time with the
conjugate eigenvalues. With the adjoint :math:`a_t = \partial L/\partial u_t` (PyTorch's
convention for complex gradients, :math:`\partial L/\partial\Re + i\,\partial L/\partial\Im`)
and :math:`g_t` the gradient arriving at :math:`h_t`:

.. math::
    a_t = g_t + \bar\lambda\odot a_{t+1},\quad a_{T+1} = 0;\qquad
    \frac{\partial L}{\partial h_0} = \bar\lambda\odot a_1;\qquad
    \frac{\partial L}{\partial\omega} = \Re\bigl(\overline{G}\odot i\lambda\bigr),\quad
    G = \sum_{b,t}\overline{h_{t-1}}\odot a_t.

Only the states are kept for the backward (autograd through a step loop keeps them and
a graph node per step). Two ways to run one pass, picked by device:

* CPU: a step loop writing each state in place (one fused multiply-add per step). Per
  step it touches ``B x n`` numbers that stay in cache, where the closed form's passes
  over the whole ``(B, T, n)`` array are memory-bound.
* CUDA: the closed form in blocks, :math:`h_{s+j} = \lambda^j(h_s + \sum_{k\le j}
  \lambda^{-k}u_{s+k})`, a cumulative sum per block: parallel in time, a few kernels
  per block instead of one per step.

Both work in blocks of ``BLOCK`` steps. The state between blocks is kept in double
precision in the rotating frame, :math:`R_s = \lambda^{-s}h_s`, and each block starts
from :math:`\lambda^s R_s` with :math:`\lambda^s` formed from the absolute step count
(:func:`_phases`). Rounding therefore does not compound over blocks: a float32 scan at
:math:`T = 10^5` is about as accurate as one of ``BLOCK`` steps, where a plain float32
loop multiplies by a :math:`\lambda` whose modulus is 1 only to rounding and drifts by
about :math:`T\epsilon`.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: Steps per block: local rounding grows with it, the per-block overhead shrinks with it.
BLOCK = 64

_WIDE = {torch.complex64: torch.complex128, torch.complex128: torch.complex128}


def _split(angles: Tensor) -> tuple[Tensor, Tensor]:
    """``angles = high + low`` with ``high`` of at most 26 significant bits (Veltkamp), so
    that ``t * high`` is exact in float64 for every integer ``t < 2**26``."""
    wide = angles.to(torch.float64)
    scaled = wide * 134_217_729.0  # 2**27 + 1
    high = scaled - (scaled - wide)
    return high, wide - high


def _phases(angles: Tensor, steps: Tensor, dtype: torch.dtype) -> Tensor:
    r""":math:`\lambda^t = e^{it\omega}` for the integers ``steps`` ``(k,)``: ``(k, n)``.

    :math:`t\omega` formed as one float64 product would carry an absolute error of
    :math:`t|\omega|\epsilon`, a phase drift of ~1e-11 at :math:`t = 65{,}536`; with
    :math:`\omega` split in two, :math:`t\omega_{hi}` is exact and
    :math:`e^{it\omega} = e^{it\omega_{hi}}e^{it\omega_{lo}}` is accurate to a few
    ulps for any :math:`t < 2^{26}`."""
    high, low = _split(angles)
    t = steps.to(torch.float64)[:, None]
    exact, small = t * high, t * low
    ones = torch.ones_like(exact)
    return (torch.polar(ones, exact) * torch.polar(ones, small)).to(dtype)


def _block(
    chunk_in: Tensor,
    chunk_out: Tensor,
    start: Tensor | None,
    phases: Tensor,
    reverse: bool,
    adjoint_of: tuple[Tensor, Tensor] | None,
    closed_form: bool | None = None,
) -> Tensor | None:
    """The block's states from ``start`` (None: zeros), written into ``chunk_out``.

    ``adjoint_of = (before, first)``: this is an adjoint pass; ``before`` holds the forward
    states one step before the block's (without :math:`h_0` for the first block) and
    ``first`` is :math:`h_0` or None; returns
    :math:`\\sum_t \\overline{h_{t-1}}\\odot a_t` over the block, ``(B, n)``.
    """
    size = chunk_in.shape[1]
    if chunk_in.is_cuda if closed_form is None else closed_form:
        local = phases[:size]
        ordered = chunk_in.flip(1) if reverse else chunk_in
        acc = torch.cumsum(ordered * local.conj(), dim=1)
        if start is not None:
            acc += start[:, None, :]
        acc.mul_(local)
        chunk_out.copy_(acc.flip(1) if reverse else acc)
    else:
        lam = phases[0]
        previous = start
        inputs, outputs = chunk_in.unbind(1), chunk_out.unbind(1)  # views, made at once
        if reverse:
            inputs, outputs = inputs[::-1], outputs[::-1]
        for u_t, h_t in zip(inputs, outputs, strict=True):
            if previous is None:
                h_t.copy_(u_t)
            else:
                torch.addcmul(u_t, lam, previous, out=h_t)
            previous = h_t
    if adjoint_of is None:
        return None
    before, first = adjoint_of  # the states one step before the block's, and h_0 or None
    if before.shape[1] == size:
        return torch.linalg.vecdot(before, chunk_out, dim=1)
    g = torch.linalg.vecdot(before, chunk_out[:, 1:], dim=1)  # the block starts at t = 1
    return g if first is None else g + first.conj() * chunk_out[:, 0]


def _pass(
    u: Tensor,
    angles: Tensor,
    h0: Tensor | None,
    reverse: bool,
    states: Tensor | None = None,
    states_h0: Tensor | None = None,
):
    """All states of ``h_t = lambda h_{t-1} + u_t`` for ``u`` ``(B, T, n)``, in time order
    (``reverse``: the recurrence runs from ``t = T`` down to 1, starting from ``h0``).
    No autograd. With ``states`` (the forward pass's, and ``states_h0`` its start), this is
    the adjoint pass, and the sum over batch and time of
    :math:`\\overline{h_{t-1}}\\odot a_t` is returned too, block by block while the block
    is in cache."""
    length = u.shape[1]
    out = torch.empty_like(u)
    if length == 0:
        return (out, None) if states is not None else out
    block = min(BLOCK, length)
    device = angles.device
    phases = _phases(angles, torch.arange(1, block + 1, device=device), u.dtype)
    wide = _WIDE[u.dtype]
    lam_rounded = phases[0].to(wide)  # lambda as the step loop applies it

    def phase(t: int) -> Tensor:  # exact lambda^t, in double
        return _phases(angles, torch.tensor([t], device=device), wide)[0]

    # The state in the rotating frame, R_s = lambda^{-s} h_s, in double precision: each
    # block starts from lambda^s R_s with lambda^s formed from the absolute step count,
    # so no rounding compounds from block to block.
    frame = None if h0 is None else h0.to(wide)
    done, total = 0, None
    starts = range(0, length, block)
    for start in reversed(starts) if reverse else starts:
        stop = min(start + block, length)
        size = stop - start
        chunk_out = out[:, start:stop]
        begin = None if frame is None else (phase(done) * frame).to(u.dtype)
        adjoint_of = None
        if states is not None:
            adjoint_of = (states[:, max(start - 1, 0) : stop - 1], states_h0)
        g = _block(u[:, start:stop], chunk_out, begin, phases, reverse, adjoint_of)
        if g is not None:
            total = g if total is None else total + g
        local = (chunk_out[:, 0] if reverse else chunk_out[:, -1]).to(wide, copy=True)
        if begin is not None:  # what the block added, without the moved start
            local -= lam_rounded**size * begin.to(wide)
        done += size
        moved = phase(-done) * local
        frame = moved if frame is None else frame + moved
    return (out, total) if states is not None else out


class _Scan(torch.autograd.Function):
    """The recurrence without a graph, and its adjoint for the backward. ``on_circle``:
    the eigenvalues are given as angles (:func:`_pass`); otherwise as complex values
    inside the unit disc (:func:`_decaying_pass`)."""

    @staticmethod
    def forward(ctx, u: Tensor, eigen: Tensor, h0: Tensor | None, on_circle: bool) -> Tensor:
        run = _pass if on_circle else _decaying_pass
        with torch.no_grad():
            states = run(u, eigen, h0, reverse=False)
        ctx.save_for_backward(states, eigen, h0)
        ctx.has_h0, ctx.on_circle = h0 is not None, on_circle
        return states

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        states, eigen, h0 = ctx.saved_tensors
        grad = grad.to(states.dtype).contiguous()
        # The adjoint recurrence: conjugate eigenvalues, backwards in time.
        if ctx.on_circle:
            adjoint, g = _pass(grad, -eigen, None, reverse=True, states=states, states_h0=h0)
            real = states.real.dtype
            lam = torch.polar(torch.ones_like(eigen, dtype=real), eigen.to(real))
            grad_eigen = (g.sum(0).conj() * 1j * lam).real.to(eigen.dtype)  # d/d angles
        else:
            adjoint, g = _decaying_pass(grad, eigen.conj(), None, reverse=True, states=states,
                                        states_h0=h0)  # fmt: skip
            lam = eigen.to(states.dtype)
            grad_eigen = g.sum(0).to(eigen.dtype)  # PyTorch's complex gradient
        grad_h0 = lam.conj() * adjoint[:, 0] if ctx.has_h0 else None
        return adjoint, grad_eigen, grad_h0, None


def diagonal_scan(u: Tensor, angles: Tensor, h0: Tensor | None = None) -> Tensor:
    """``u`` ``(B, T, n)`` complex, ``angles`` ``(n,)`` real, ``h0`` ``(B, n)`` of ``u``'s
    dtype or None, all checked by the caller: the states ``(B, T, n)``."""
    return _Scan.apply(u.contiguous(), angles, h0, True)


def _decaying_pass(
    u: Tensor,
    lam: Tensor,
    h0: Tensor | None,
    reverse: bool,
    states: Tensor | None = None,
    states_h0: Tensor | None = None,
):
    """:func:`_pass` for any complex ``lam`` with ``|lam| <= 1``: a step loop throughout
    (the closed form would divide by powers of ``lam``), the state carried as it is
    (a decaying recurrence forgets its rounding). No autograd."""  # fmt: skip
    length = u.shape[1]
    out = torch.empty_like(u)
    total = None
    if length:
        lam = lam.to(u.dtype)[None]  # the step loop reads lambda as phases[0]
        before = None
        if states is not None:
            before = (states[:, : length - 1], states_h0)
        begin = None if h0 is None else h0.to(u.dtype)
        total = _block(u, out, begin, lam, reverse, before, closed_form=False)
    return (out, total) if states is not None else out


def decaying_scan(u: Tensor, lam: Tensor, h0: Tensor | None = None) -> Tensor:
    """``h_t = lam * h_{t-1} + u_t`` for complex ``lam`` ``(n,)`` inside the unit disc, with
    the adjoint backward (``lam``'s gradient is PyTorch's complex one,
    :math:`G = \\sum_{b,t}\\overline{h_{t-1}}\\odot a_t`). ``u`` ``(B, T, n)``."""
    return _Scan.apply(u.contiguous(), lam, h0, False)
