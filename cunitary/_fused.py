r"""Fused sequence loop of the complex gated cell (private).

The generic loop builds an autograd graph of about 25 small operations per time step;
at T = 1000 autograd's per-node overhead, not arithmetic, dominates. This loop runs
forward without autograd and backward by hand, in real arithmetic on ``[Re, Im]`` rows
(PyTorch's complex gradient :math:`\partial L/\partial\Re z + i\,\partial L/\partial\Im z`
is exactly the real gradient of that row), and forms the weight gradients with one matmul
over all steps. It covers the default cell (modReLU activation, transition applied as a
dense matrix); other configurations use the generic loop, which is also the reference
this path is tested against.
"""

from __future__ import annotations

import torch
from torch import Tensor


class GatedScan(torch.autograd.Function):
    r"""All states of a :class:`~cunitary.ComplexGatedCell` layer, in real arithmetic.

    A complex vector is used through its *planar* real form, the row
    :math:`x = (\Re h_1, \dots, \Re h_H, \Im h_1, \dots, \Im h_H)`, and every complex
    product becomes one real matmul. Planar rather than interleaved ``[Re, Im]`` pairs
    because every per-unit factor (gates, modReLU scale) then broadcasts along a
    contiguous axis of length :math:`H` instead of an innermost axis of length 2, which
    is several times faster for the small elementwise operations that dominate a step.

    * the gates only ever see :math:`\alpha\Re g + \gamma\Im g` of their complex
      pre-activation :math:`g = Vh` (:math:`\gamma = 1 - \alpha` for the mod-sigmoid
      gates, :math:`\sigma(b)` for the "beta" gate), a real linear map of :math:`x`:
      :math:`s_t = \alpha\Re p^{(g)}_t + \gamma\Im p^{(g)}_t + x_{t-1}M` with
      :math:`M = \begin{pmatrix}\alpha A + \gamma B\\ \gamma A - \alpha B\end{pmatrix}`
      for :math:`V^\top = A + iB`: half the multiply-adds of forming :math:`g`;
    * the transition :math:`U^\top = U_r + iU_i` acts through its real form
      :math:`W_U = \begin{pmatrix}U_r & U_i\\ -U_i & U_r\end{pmatrix}`.

    With :math:`r, z = \sigma(s)`, :math:`a = p^{(c)}_t + (r\odot h)W_U` and modReLU on
    each unit, :math:`h_t = h_{t-1} + z\odot(\operatorname{modReLU}(a) - h_{t-1})`. The
    forward keeps :math:`a` for the backward (one ``(T, B, 2H)`` buffer instead of one
    more matmul per step); the backward loop is derived by hand (below); the weight
    gradients are one matmul over all steps, and autograd maps those of ``m``, ``w_u``
    and ``alpha`` back to the module's parameters (they are formed by ordinary torch code
    in :func:`gated_scan`).

    Inputs: ``inputs`` ``(T, B, 4H)`` real, time-major: the gates' input
    :math:`\alpha\Re p^{(g)}_t + \gamma\Im p^{(g)}_t` (``2H``), then
    :math:`\Re p^{(c)}_t` and :math:`\Im p^{(c)}_t`; ``h0`` ``(B, H)`` complex; ``m`` and
    ``w_u`` ``(2H, 2H)``; ``beta`` ``(H,)``. Output ``(B, T, H)`` complex. The gradient of
    ``inputs`` is written in one ``(T, B, 4H)`` buffer, so the input projection's backward
    (autograd's, outside) reads it without a copy.
    """

    @staticmethod
    def forward(ctx, inputs, h0, m, w_u, beta):
        steps, batch, _ = inputs.shape
        n = h0.shape[-1]
        # 0-dim tensors, not Python numbers: a comparison with a number converts it anew
        # on every call, which is a measurable share of a step this small.
        tiny = m.new_full((), torch.finfo(m.dtype).tiny)
        gate_in, cand_in = inputs[..., : 2 * n], inputs[..., 2 * n :]
        x0 = torch.cat([h0.real, h0.imag], -1)
        states = m.new_empty(steps, batch, 2, n)
        gates = m.new_empty(steps, batch, 2 * n)
        cands = m.new_empty(steps, batch, 2 * n)  # a_t, kept for the backward
        scales = m.new_empty(steps, batch, 1, n)
        radii = m.new_empty(steps, batch, 1, n)
        zero = m.new_zeros(())
        x = x0.view(batch, 2, n)
        for t in range(steps):
            gate = torch.sigmoid(torch.addmm(gate_in[t], x.view(batch, 2 * n), m), out=gates[t])
            reset, update = gate[:, None, :n], gate[:, None, n:]
            a = torch.addmm(cand_in[t], (x * reset).view(batch, 2 * n), w_u, out=cands[t])
            a = a.view(batch, 2, n)
            radius = torch.hypot(a[:, 0:1], a[:, 1:2], out=radii[t])
            # modReLU: 0 where |a| is below the smallest normal or |a| + beta <= 0; NaN
            # propagates (a NaN radius is not <= tiny, and clamp keeps it).
            shifted = (radius + beta).clamp_(min=0)
            scale = torch.where(~(radius <= tiny), shifted.div_(radius), zero, out=scales[t])
            x = torch.lerp(x, a * scale, update, out=states[t])
        ctx.save_for_backward(x0, m, w_u, beta, states, gates, cands, scales, radii)
        return torch.complex(states[:, :, 0], states[:, :, 1]).transpose(0, 1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        # A backward called inside an autocast region runs under it; this one must not.
        with torch.autocast(grad_out.device.type, enabled=False):
            return GatedScan._backward(ctx, grad_out)

    @staticmethod
    def _backward(ctx, grad_out):
        saved = ctx.saved_tensors
        x0, m, w_u, beta, states, gates, cands, scales, radii = saved
        steps, batch, _, n = states.shape
        width = 2 * n
        m_t, w_u_t = m.mT, w_u.mT
        neg_beta = -beta
        zero = m.new_zeros(())  # see the forward
        g_out = torch.view_as_real(grad_out).transpose(2, 3)  # (B, T, 2, n), a view
        grad_inputs = m.new_empty(steps, batch, 2 * width)
        grad_gates = grad_inputs[..., :width]  # d L / d s, (T, B, 2n)
        grad_cands = grad_inputs[..., width:]  # d L / d a, (T, B, 2n)
        along_all = torch.empty_like(scales)
        x_first = x0.view(batch, 2, n)
        carry = torch.zeros_like(x_first)
        for t in range(steps - 1, -1, -1):
            g = carry.add_(g_out[:, t])  # in place: keeps the contiguous layout
            x_prev = states[t - 1] if t > 0 else x_first
            gate = gates[t]
            reset, update = gate[:, None, :n], gate[:, None, n:]
            scale = scales[t]
            a = cands[t].view(batch, 2, n)
            g_s = grad_gates[t]
            diff = (a * scale - x_prev) * g
            torch.add(diff[:, 0], diff[:, 1], out=g_s[:, n:])  # d L / d update
            g_cand = g * update
            ga = g_cand * a
            dot = ga[:, 0:1] + ga[:, 1:2]
            inv_radius = torch.where(scale != zero, radii[t].reciprocal(), zero)
            along = torch.mul(dot, inv_radius, out=along_all[t])  # <g_c, a> / |a|
            # d c / d a = s I + a (ds/d|a|) a^T / |a|, ds/d|a| = -beta / |a|^2 (active)
            coef = along * inv_radius * inv_radius * neg_beta
            g_a = torch.addcmul(g_cand * scale, a, coef, out=grad_cands[t].view(batch, 2, n))
            g_q = torch.mm(g_a.view(batch, width), w_u_t).view(batch, 2, n)
            g_qx = g_q * x_prev
            torch.add(g_qx[:, 0], g_qx[:, 1], out=g_s[:, :n])  # d L / d reset
            g_s.mul_(torch.addcmul(gate, gate, gate, value=-1))  # sigmoid' = s - s^2
            direct = torch.addcmul(g - g_cand, g_q, reset).view(batch, width)
            carry = torch.addmm(direct, g_s, m_t).view(batch, 2, n)
        # Weight gradients over all steps: x_{t-1} is x0 at t = 0, states[t - 1] after.
        # (split at t = 0 rather than concatenated: no (T, B, 2H) temporary).
        later = (steps - 1) * batch
        x_later = states[:-1].reshape(later, 2, n)
        grad_m = x0.mT @ grad_gates[0] + x_later.view(later, width).mT @ grad_gates[1:].reshape(
            later, width
        )
        q_first = (x_first * gates[0, :, None, :n]).view(batch, width)
        q_later = (x_later * gates[1:, :, None, :n].reshape(later, 1, n)).view(later, width)
        grad_w_u = q_first.mT @ grad_cands[0] + q_later.mT @ grad_cands[1:].reshape(later, width)
        return (
            grad_inputs,
            torch.complex(carry[:, 0], carry[:, 1]),
            grad_m,
            grad_w_u,
            along_all.sum((0, 1, 2)),
        )


def gated_scan(
    x: Tensor,
    h0: Tensor,
    w_in: Tensor,
    b_in: Tensor,
    v_t: Tensor,
    u_t: Tensor,
    alpha: Tensor,
    gamma: Tensor,
    beta: Tensor,
) -> Tensor:
    r"""The complex gated layer's states ``(B, T, H)`` through :class:`GatedScan`.

    ``x`` ``(B, T, F)`` real or complex, ``h0`` ``(B, H)``, ``w_in`` = :math:`W`
    ``(3H, F)`` and ``b_in`` ``(3H,)`` complex, ``v_t`` = :math:`V^\top` ``(H, 2H)``,
    ``u_t`` = :math:`U^\top` ``(H, H)``, ``alpha`` and ``gamma`` ``(2H,)`` (the gates
    read :math:`\alpha\Re g + \gamma\Im g`), ``beta`` ``(H,)``. The real
    operands are formed here, with autograd. The input projection is one real matmul
    straight to the planar, time-major rows the loop reads: for :math:`p = Wx + b`
    with :math:`x = x_r + i x_i`, :math:`\Re p = W_r x_r - W_i x_i + \Re b` and
    :math:`\Im p = W_i x_r + W_r x_i + \Im b`, and the gates need only
    :math:`\alpha\Re p + \gamma\Im p`; a real :math:`x` skips the :math:`x_i` half.
    Everything runs in the state's precision, autocast or not: these real matmuls stand
    for complex products, which mixed precision leaves alone.
    """
    with torch.autocast(x.device.type, enabled=False):
        return _gated_scan(x, h0, w_in, b_in, v_t, u_t, alpha, gamma, beta)


def _gated_scan(x, h0, w_in, b_in, v_t, u_t, alpha, gamma, beta):
    n = h0.shape[-1]
    batch, steps = x.shape[:2]
    al, ga = alpha[:, None], gamma[:, None]
    wr, wi = w_in.real, w_in.imag
    on_real = torch.cat([al * wr[: 2 * n] + ga * wi[: 2 * n], wr[2 * n :], wi[2 * n :]])
    bias = torch.cat(
        [alpha * b_in.real[: 2 * n] + gamma * b_in.imag[: 2 * n], b_in.real[2 * n :],
         b_in.imag[2 * n :]]
    )  # fmt: skip
    if x.is_complex():
        on_imag = torch.cat([ga * wr[: 2 * n] - al * wi[: 2 * n], -wi[2 * n :], wr[2 * n :]])
        weight = torch.cat([on_real, on_imag], 1)
        x = x.to(h0.dtype)
        x = torch.cat([x.real, x.imag], -1)
    else:
        weight = on_real
        x = x.to(wr.dtype)
    time_major = x.transpose(0, 1).reshape(steps * batch, x.shape[-1])
    inputs = torch.addmm(bias, time_major, weight.mT).view(steps, batch, 4 * n)
    a, b = v_t.real, v_t.imag
    m = torch.cat([alpha * a + gamma * b, gamma * a - alpha * b])
    ur, ui = u_t.real, u_t.imag
    w_u = torch.cat([torch.cat([ur, ui], 1), torch.cat([-ui, ur], 1)])
    return GatedScan.apply(inputs, h0, m, w_u, beta)
