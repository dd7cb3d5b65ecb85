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

    A complex vector is used through its real view, the interleaved row
    :math:`x = (\Re h_1, \Im h_1, \dots, \Re h_H, \Im h_H)` (no copy), and every complex
    product becomes one real matmul:

    * the gates only ever see :math:`\alpha\Re g + (1-\alpha)\Im g` of their complex
      pre-activation :math:`g = Vh`, a real linear map of :math:`x`: :math:`s_t =
      \alpha\Re p^{(g)}_t + (1-\alpha)\Im p^{(g)}_t + x_{t-1}M`, where row
      :math:`(k, \Re)` of :math:`M` is :math:`\alpha A_k + (1-\alpha)B_k` and row
      :math:`(k, \Im)` is :math:`(1-\alpha)A_k - \alpha B_k` for :math:`V^\top = A + iB`:
      half the multiply-adds of forming :math:`g`;
    * the transition :math:`U^\top = U_r + iU_i` acts through its real form :math:`W_U`
      (2x2 blocks :math:`\begin{pmatrix}U_r & U_i\\ -U_i & U_r\end{pmatrix}`).

    With :math:`r, z = \sigma(s)`, :math:`a = p^{(c)}_t + (r\odot h)W_U` and modReLU on
    each pair, :math:`h_t = h_{t-1} + z\odot(\operatorname{modReLU}(a) - h_{t-1})`. The
    backward loop is derived by hand (below); the weight gradients are one matmul over all
    steps, and autograd maps those of ``m``, ``w_u`` and ``alpha`` back to the module's
    parameters (they are formed by ordinary torch code in :func:`gated_scan`).

    Inputs: ``projected`` ``(B, T, 3H)`` complex, ``h0`` ``(B, H)`` complex, ``m`` and
    ``w_u`` ``(2H, 2H)``, ``alpha`` ``(2H,)``, ``beta`` ``(H,)``. Output ``(B, T, H)``.
    """

    @staticmethod
    def forward(ctx, projected, h0, m, w_u, alpha, beta):
        batch, steps, _ = projected.shape
        n = h0.shape[-1]
        tiny = torch.finfo(m.dtype).tiny
        out = h0.new_empty(steps, batch, n)  # time-major: contiguous per-step slices
        gates = m.new_empty(steps, batch, 2 * n)
        scales = m.new_empty(steps, batch, n)
        one_minus_alpha = 1 - alpha
        h = h0
        for t in range(steps):
            p = projected[:, t]
            x = torch.view_as_real(h).view(batch, 2 * n)
            gate_in = alpha * p[:, : 2 * n].real + one_minus_alpha * p[:, : 2 * n].imag
            gate = torch.sigmoid(torch.addmm(gate_in, x, m), out=gates[t])
            reset, update = gate[:, :n], gate[:, n:]
            c_in = torch.view_as_real(p[:, 2 * n :]).reshape(batch, 2 * n)
            q = torch.view_as_real(h) * reset.unsqueeze(-1)
            a = torch.addmm(c_in, q.view(batch, 2 * n), w_u).view(batch, n, 2)
            a_re, a_im = a.unbind(-1)
            radius = torch.hypot(a_re, a_im)
            # modReLU: 0 where |a| is below the smallest normal or |a| + beta <= 0; NaN
            # propagates.
            active = ~(radius <= tiny) & ~(radius + beta <= 0)
            scale = torch.where(active, (radius + beta) / torch.where(active, radius, 1), 0)
            scales[t] = scale
            out_t = torch.view_as_real(out[t])
            torch.lerp(torch.view_as_real(h), a * scale.unsqueeze(-1), update.unsqueeze(-1),
                       out=out_t)  # fmt: skip
            h = out[t]
        ctx.save_for_backward(projected, h0, m, w_u, alpha, beta, out, gates, scales)
        return out.transpose(0, 1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        projected, h0, m, w_u, alpha, beta, out, gates, scales = ctx.saved_tensors
        steps, batch, n = out.shape
        width = 2 * n
        m_t, w_u_t = m.mT, w_u.mT
        g_out = torch.view_as_real(grad_out.transpose(0, 1).contiguous())  # (T, B, n, 2)
        grad_gates = torch.empty_like(gates)  # d L / d s, (T, B, 2n)
        grad_projected = projected.new_empty(steps, batch, 3 * n)
        grad_cand = torch.view_as_real(grad_projected[..., 2 * n :])  # written in place
        along_all = torch.empty_like(scales)
        carry = torch.zeros(batch, n, 2, dtype=m.dtype, device=m.device)
        for t in range(steps - 1, -1, -1):
            g = g_out[t] + carry
            x_prev = torch.view_as_real(out[t - 1] if t > 0 else h0)  # (B, n, 2)
            gate = gates[t]
            reset, update = gate[:, :n].unsqueeze(-1), gate[:, n:].unsqueeze(-1)
            scale = scales[t].unsqueeze(-1)
            # a is recomputed rather than stored: one matmul against a (T, B, 2n) buffer.
            c_in = torch.view_as_real(projected[:, t, 2 * n :]).reshape(batch, width)
            q = x_prev * reset
            a = torch.addmm(c_in, q.view(batch, width), w_u).view(batch, n, 2)
            diff = (a * scale - x_prev) * g
            g_update = diff[..., 0] + diff[..., 1]
            g_cand = g * update
            dot = (g_cand[..., 0] * a[..., 0] + g_cand[..., 1] * a[..., 1]).unsqueeze(-1)
            active = scale != 0
            radius_sq = torch.where(active, a[..., :1] ** 2 + a[..., 1:] ** 2, 1)
            along = torch.where(active, dot * radius_sq.rsqrt(), 0)  # <g_c, a> / |a|
            along_all[t] = along.squeeze(-1)
            # d c / d a = s I + a (ds/d|a|) a^T / |a|, ds/d|a| = -beta / |a|^2 (active)
            coef = along * (-beta.unsqueeze(-1)) / radius_sq
            g_a = torch.addcmul(g_cand * scale, a, coef)
            grad_cand[t] = g_a
            g_q = (g_a.view(batch, width) @ w_u_t).view(batch, n, 2)
            g_qx = g_q * x_prev
            g_s = grad_gates[t]
            torch.add(g_qx[..., 0], g_qx[..., 1], out=g_s[:, :n])
            g_s[:, n:] = g_update
            g_s.mul_(gate * (1 - gate))
            carry = g - g_cand + g_q * reset + (g_s @ m_t).view(batch, n, 2)
        # Weight gradients over all steps: x_{t-1} is h0 at t = 0, out[t - 1] after.
        flat = (steps - 1) * batch
        first = torch.view_as_real(h0).reshape(batch, width)
        later = torch.view_as_real(out[:-1]).reshape(flat, width)
        grad_m = first.mT @ grad_gates[0] + later.mT @ grad_gates[1:].reshape(flat, width)
        g_cand = grad_cand.reshape(steps, batch, width)
        q_first = (torch.view_as_real(h0) * gates[0, :, :n, None]).reshape(batch, width)
        q_later = (torch.view_as_real(out[:-1]) * gates[1:, :, :n, None]).reshape(flat, width)
        grad_w_u = q_first.mT @ g_cand[0] + q_later.mT @ g_cand[1:].reshape(flat, width)
        # s = alpha Re p + (1 - alpha) Im p: the complex gradient of p is (alpha + i(1-alpha)) g_s
        torch.mul(torch.complex(alpha, 1 - alpha), grad_gates, out=grad_projected[..., : 2 * n])
        grad_projected = grad_projected.transpose(0, 1)
        pre_real = torch.view_as_real(projected[..., : 2 * n]).transpose(0, 1)  # (T,B,2n,2)
        grad_alpha = (grad_gates * (pre_real[..., 0] - pre_real[..., 1])).sum((0, 1))
        grad_beta = along_all.sum((0, 1))
        return (
            grad_projected,
            torch.view_as_complex(carry),
            grad_m,
            grad_w_u,
            grad_alpha,
            grad_beta,
        )


def gated_scan(
    projected: Tensor, h0: Tensor, v_t: Tensor, u_t: Tensor, alpha: Tensor, beta: Tensor
) -> Tensor:
    """The complex gated layer's states ``(B, T, H)`` through :class:`GatedScan`.

    ``projected`` ``(B, T, 3H)`` (= :math:`Wx_t + b`, complex), ``h0`` ``(B, H)``,
    ``v_t`` = :math:`V^\top` ``(H, 2H)``, ``u_t`` = :math:`U^\top` ``(H, H)``, ``alpha``
    ``(2H,)``, ``beta`` ``(H,)``. The real operands are formed here, with autograd.
    """
    n = h0.shape[-1]
    a, b = v_t.real, v_t.imag
    m = torch.stack([alpha * a + (1 - alpha) * b, (1 - alpha) * a - alpha * b], 1)
    ur, ui = u_t.real, u_t.imag
    w_u = torch.stack([torch.stack([ur, ui], -1), torch.stack([-ui, ur], -1)], 1)
    return GatedScan.apply(
        projected, h0, m.reshape(2 * n, 2 * n), w_u.reshape(2 * n, 2 * n), alpha, beta
    )
