r"""Parametrizations (``torch.nn.utils.parametrize``) that constrain convolution weights.

:class:`SRNC` is stable rank normalisation of a convolutional *layer* (Tanay et al.,
*Diagnosing and preventing instabilities in recurrent video processing*), attached with
:func:`srn_c`. :class:`SRN` is the method it corrects (Sanyal et al.; the study's
Algorithm 1), which normalises the *reshaped kernel*, attached with :func:`srn`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

__all__ = ["SRN", "srn", "SRNC", "srn_c", "srn_c_beta_from_paper"]


def _size2(name: str, size: object) -> tuple[int, int]:
    size = (size, size) if isinstance(size, int) else tuple(size)  # type: ignore[arg-type]
    if len(size) != 2 or not all(isinstance(s, int) and s >= 1 for s in size):
        raise ValueError(f"{name} must be a positive int or (H, W), got {size!r}")
    return size  # type: ignore[return-value]


def _conv_operator(weight: Tensor, padding: str, dilation: int = 1):
    """``(A, A^T)`` of a stride-1, size-preserving convolution with this padding."""
    kh, kw = weight.shape[-2:]
    ph, pw = dilation * (kh // 2), dilation * (kw // 2)
    if padding == "zeros":

        def forward(x: Tensor) -> Tensor:
            return nn.functional.conv2d(x, weight, padding=(ph, pw), dilation=dilation)

        def adjoint(y: Tensor) -> Tensor:
            return nn.functional.conv_transpose2d(y, weight, padding=(ph, pw), dilation=dilation)

        return forward, adjoint
    if padding == "circular":

        def forward(x: Tensor) -> Tensor:
            x = nn.functional.pad(x, (pw, pw, ph, ph), mode="circular")
            return nn.functional.conv2d(x, weight, dilation=dilation)

        def adjoint(y: Tensor) -> Tensor:
            # A^T y = grad_x <y, A x>, and A is linear, so any x gives it.
            with torch.enable_grad():
                x = torch.zeros_like(y[:, :1]).expand(-1, weight.shape[1], -1, -1)
                x = x.detach().requires_grad_(True)
                (grad,) = torch.autograd.grad(forward(x), x, y, create_graph=y.requires_grad)
            return grad

        return forward, adjoint
    raise ValueError(f"padding must be 'zeros' or 'circular', got {padding!r}")


class SRNC(nn.Module):
    r"""Stable rank normalisation of a convolutional layer (SRN-C) as a parametrization.

    On every forward pass, with :math:`u, v` the top singular pair of the *layer*
    :math:`W_K` (power iteration with convolutions, persistent buffers):

    .. math::
        \begin{aligned}
        \hat K &= K / \sigma(K),\qquad \sigma(K) = u^\top W_K v,\\
        D &= \nabla_K\, u^\top W_K v,\qquad
        S_1 = \frac{\langle \hat K, D\rangle}{\lVert D\rVert^2}\,D,\qquad S_2 = \hat K - S_1,\\
        K' &= S_1 + \gamma S_2,\qquad
        \gamma = \min\Bigl(1, \sqrt{\frac{r^\ast/n^2 - \lVert S_1\rVert^2}{\lVert S_2\rVert^2}}
                 \Bigr),\qquad r^\ast = \max\bigl(1, \beta\,n^2\min(C_{in}, C_{out})\bigr),\\
        K_{\text{used}} &= \alpha\,K' / \sigma(K').
        \end{aligned}

    :math:`D` is the kernel-space image of the rank-one operator :math:`uv^\top` (the
    Algorithm 2, step 9, of Tanay et al.). Because :math:`S_2 \perp D`, :math:`u^\top W_{K'}v = 1`,
    so :math:`\sigma(K') \ge 1` while :math:`\lVert W_{K'}\rVert_F^2 \le n^2(\lVert
    S_1\rVert^2 + \gamma^2\lVert S_2\rVert^2) = r^\ast` (:math:`n^2 = HW`; equality for
    circular padding). Hence :math:`\operatorname{srank}(W_{K_{\text{used}}}) \le r^\ast`
    whenever :math:`r^\ast \ge n^2\lVert S_1\rVert^2` (below that, :math:`\gamma = 0` and
    :math:`n^2\lVert S_1\rVert^2` is the bound reached), and the last step sets the spectral
    norm to :math:`\alpha` (a second power iteration, on :math:`K'`). Tanay et al. scales the
    residual after normalising, which moves the spectral norm off :math:`\alpha` again;
    normalising last keeps both constraints. :math:`\beta = 1` is spectral normalisation
    of the layer (not of the reshaped kernel).

    Use :func:`srn_c` to attach it.
    """

    def __init__(
        self,
        weight: Tensor,
        input_size: tuple[int, int],
        alpha: float,
        beta: float,
        padding: str,
        dilation: int,
        n_power_iterations: int,
        eps: float = 1e-12,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.alpha, self.beta = float(alpha), float(beta)
        self.padding, self.dilation = padding, dilation
        self.n_power_iterations = n_power_iterations
        self.eps = eps
        c_out, c_in = weight.shape[:2]
        h, w = input_size
        generator = torch.Generator().manual_seed(0)
        for name, channels in (("u", c_out), ("v", c_in), ("u2", c_out), ("v2", c_in)):
            vec = torch.randn(1, channels, h, w, generator=generator, dtype=weight.dtype)
            self.register_buffer(name, (vec / vec.norm()).to(weight.device))
        self.target_rank = max(1.0, self.beta * h * w * min(c_in, c_out))
        # The stable-rank bound the last forward pass guaranteed (see the class docstring);
        # a buffer, updated in place, so that it travels with the state dict.
        full = float(h * w * min(c_in, c_out))
        self.register_buffer("rank_bound", torch.tensor(full, dtype=torch.float64))

    def _normalize(self, x: Tensor) -> Tensor:
        return x / x.norm().clamp_min(self.eps)

    def _iterate(self, kernel: Tensor, u_name: str, v_name: str, iterations: int) -> None:
        """``iterations`` power-iteration steps on the layer, stored in the buffers."""
        forward, adjoint = _conv_operator(kernel.detach(), self.padding, self.dilation)
        u, v = getattr(self, u_name), getattr(self, v_name)
        with torch.no_grad():
            for _ in range(iterations):
                v = self._normalize(adjoint(u))
                u = self._normalize(forward(v))
            getattr(self, u_name).copy_(u)
            getattr(self, v_name).copy_(v)

    @torch.no_grad()
    def warm_up(self, kernel: Tensor, iterations: int) -> None:
        """Run ``iterations`` power iterations for both normalisations now, so that the
        first forward pass starts from accurate singular vectors."""
        self._iterate(kernel, "u", "v", iterations)
        if self.beta < 1:
            shaped = self._shape_rank(kernel / self._sigma(kernel, "u", "v"))
            self._iterate(shaped, "u2", "v2", iterations)

    def right_inverse(self, value: Tensor) -> Tensor:
        """Assigning a kernel stores it as the unconstrained one (as torch's spectral
        norm does): the constraint applies on the next read."""
        return value

    def _sigma(self, kernel: Tensor, u_name: str, v_name: str) -> Tensor:
        # Clones: the graph must not hold the buffers that later calls update in place.
        u, v = getattr(self, u_name).clone(), getattr(self, v_name).clone()
        # sigma = u^T W_K v, differentiable in K with u, v held fixed (as torch's
        # spectral_norm does); W_K v is linear in K.
        sigma = (u * _conv_operator(kernel, self.padding, self.dilation)[0](v)).sum()
        return sigma.clamp_min(self.eps)  # a zero kernel stays zero instead of 0/0

    def forward(self, kernel: Tensor) -> Tensor:
        if self.training:
            self._iterate(kernel, "u", "v", self.n_power_iterations)
        normalised = kernel / self._sigma(kernel, "u", "v")
        if self.beta < 1:
            normalised = self._shape_rank(normalised)
            if self.training:
                self._iterate(normalised, "u2", "v2", self.n_power_iterations)
            normalised = normalised / self._sigma(normalised, "u2", "v2")
        return self.alpha * normalised

    def _shape_rank(self, normalised: Tensor) -> Tensor:
        """:math:`S_1 + \\gamma S_2` of the class docstring, for a kernel of norm 1."""
        h, w = self.input_size
        ph = self.dilation * (normalised.shape[-2] // 2)
        pw = self.dilation * (normalised.shape[-1] // 2)
        v = self.v
        if self.padding == "circular":
            v, pad = nn.functional.pad(v, (pw, pw, ph, ph), mode="circular"), 0
        else:
            pad = (ph, pw)
        direction = torch.nn.grad.conv2d_weight(
            v, normalised.shape, self.u, padding=pad, dilation=self.dilation
        )
        s1 = (normalised * direction).sum() / direction.pow(2).sum().clamp_min(self.eps)
        s1 = s1 * direction
        s2 = normalised - s1
        room = self.target_rank / (h * w) - s1.pow(2).sum()
        # clamp (not max(0, .)) inside the root: sqrt'(0) would turn the gradient NaN
        gamma = torch.sqrt(room.clamp_min(1e-30) / s2.pow(2).sum().clamp_min(1e-30))
        with torch.no_grad():
            floor = s1.pow(2).sum() * h * w
            self.rank_bound.copy_(floor.clamp_min(self.target_rank))
        return s1 + gamma.clamp(max=1.0) * s2


def srn_c(
    module: nn.Conv2d,
    alpha: float = 1.0,
    beta: float = 1.0,
    *,
    input_size: int | tuple[int, int],
    padding: str | None = None,
    n_power_iterations: int = 1,
    warmup_iterations: int = 50,
) -> nn.Conv2d:
    """Attach :class:`SRNC` to ``module.weight`` (``torch.nn.utils.parametrize``).

    Args:
        module: a stride-1, size-preserving :class:`torch.nn.Conv2d`.
        alpha: the spectral norm of the layer.
        beta: stable-rank fraction in ``(0, 1]``; the layer's stable rank is kept at or
            below ``beta * H * W * min(C_in, C_out)`` (1: plain spectral normalisation).
        input_size: the ``(H, W)`` the layer sees (required: the layer's singular values
            depend on it, and a wrong size gives a wrong norm).
        padding: ``"zeros"`` or ``"circular"`` (default: the module's ``padding_mode``).
        n_power_iterations: power iterations per training forward pass.
        warmup_iterations: iterations run once now, so the first forward is accurate.

    Returns:
        The module, parametrized in place.
    """
    if not isinstance(module, nn.Conv2d):
        raise TypeError(f"module must be an nn.Conv2d, got {type(module).__name__}")
    if module.stride != (1, 1) or module.groups != 1:
        raise ValueError(
            f"srn_c supports stride 1 and groups 1, got stride={module.stride}, "
            f"groups={module.groups}"
        )
    if module.dilation[0] != module.dilation[1]:
        raise ValueError(f"srn_c needs equal dilations, got {module.dilation}")
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    if not 0 < beta <= 1:
        raise ValueError(f"beta must lie in (0, 1], got {beta}")
    padding = padding or ("circular" if module.padding_mode == "circular" else "zeros")
    size = _size2("input_size", input_size)
    parametrization = SRNC(
        module.weight.detach(), size, alpha, beta, padding, module.dilation[0], n_power_iterations
    )
    parametrization.warm_up(module.weight, warmup_iterations)
    parametrize.register_parametrization(module, "weight", parametrization, unsafe=False)
    return module


def srn_c_beta_from_paper(
    beta: float, input_size: int | tuple[int, int], channels: int, form: str = "eq8"
) -> float:
    r"""The :func:`srn_c` ``beta`` that sets the stable-rank target Tanay et al. write.

    Here :math:`\beta` is a fraction of the layer's full rank: the target stable rank is
    :math:`r^\ast = \beta\,HW\min(C_{in}, C_{out})` (Sanyal et al.'s SRN definition
    carried to the layer's matrix, whose Frobenius norm is :math:`n\lVert K\rVert_F` for
    an :math:`n\times n` input). The stability paper's SRN-C (Algorithm 2, eq. 8) writes
    its :math:`\gamma` in two ways that disagree with each other and with this one, so its
    grid values (:math:`\beta = 0.1, 0.2, \dots`) are not the same settings here:

    * ``form="eq8"``: :math:`\gamma = \sqrt{\beta nm - 1} / (n\lVert S_2\rVert_F)`, the
      first form of eq. (8): target :math:`r^\ast = \beta nm`;
    * ``form="algorithm2"``: :math:`\gamma = \sqrt{\beta m - 1} / n^2 / \lVert S_2\rVert_F`,
      Algorithm 2's step 11 (and eq. 8's second form): target
      :math:`r^\ast = 1 + (\beta m - 1)/n^2`.

    With :math:`m` the channels and :math:`n^2 = HW`. Returns :math:`r^\ast/(HWm)`.

    Args:
        beta: the paper's :math:`\beta`.
        input_size: ``(H, W)`` (``n x n`` in the paper).
        channels: :math:`m` (``min(C_in, C_out)``).
        form: ``"eq8"`` or ``"algorithm2"``.
    """
    h, w = _size2("input_size", input_size)
    if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
        raise ValueError(f"channels must be a positive int, got {channels!r}")
    if not 0 < beta <= 1:
        raise ValueError(f"beta must lie in (0, 1], got {beta}")
    n = math.sqrt(h * w)
    if form == "eq8":
        target = beta * n * channels
    elif form == "algorithm2":
        target = 1 + (beta * channels - 1) / (h * w)
    else:
        raise ValueError(f"form must be 'eq8' or 'algorithm2', got {form!r}")
    return min(1.0, max(target, 1.0) / (h * w * channels))


class SRN(nn.Module):
    r"""Stable rank normalisation of the reshaped kernel (SRN; Tanay et al.'s Algorithm 1,
    after Sanyal et al.), as a parametrization.

    With :math:`\tilde K` the ``(C_out, C_in k_h k_w)`` reshaping of the kernel and
    :math:`u, v` its top singular pair (one power-iteration step per training forward,
    persistent buffers):

    .. math::
        \begin{aligned}
        \hat K &= \tilde K / (u^\top\tilde K v + \epsilon),\qquad
        S_1 = uv^\top,\qquad S_2 = \hat K - S_1,\\
        \gamma &= \sqrt{\beta m - 1}\,/\,\lVert S_2\rVert_F,\qquad
        K' = S_1 + \min(\gamma, 1)\,S_2,\qquad K_{\text{used}} = \alpha K'
        \end{aligned}

    with :math:`m = \min(C_{out}, C_{in}k_hk_w)`, the rank of :math:`\tilde K` (the
    algorithm's "number of channels"). :math:`\tilde K`'s spectral norm is then
    :math:`\alpha` and its stable rank at most :math:`\beta m`; for :math:`\beta m < 1`
    the root is undefined and :math:`\gamma = 0` is taken (:math:`K'` of rank one). None
    of this bounds the *layer*: its spectral norm can be several times :math:`\alpha`
    (the study's reason for SRN-C).

    Use :func:`srn` to attach it.
    """

    def __init__(self, weight: Tensor, alpha: float, beta: float, n_power_iterations: int,
                 eps: float = 1e-12) -> None:  # fmt: skip
        super().__init__()
        self.alpha, self.beta = float(alpha), float(beta)
        self.n_power_iterations = n_power_iterations
        self.eps = eps
        rows, cols = weight.shape[0], weight[0].numel()
        self.rank = min(rows, cols)
        generator = torch.Generator().manual_seed(0)
        u = torch.randn(rows, generator=generator, dtype=weight.dtype)
        v = torch.randn(cols, generator=generator, dtype=weight.dtype)
        self.register_buffer("u", (u / u.norm()).to(weight.device))
        self.register_buffer("v", (v / v.norm()).to(weight.device))

    @torch.no_grad()
    def iterate(self, kernel: Tensor, iterations: int) -> None:
        """Power-iteration steps on the reshaped kernel, stored in the buffers."""
        matrix = kernel.detach().reshape(kernel.shape[0], -1)
        u, v = self.u, self.v
        for _ in range(iterations):
            v = matrix.mT @ u
            v = v / v.norm().clamp_min(self.eps)
            u = matrix @ v
            u = u / u.norm().clamp_min(self.eps)
        self.u.copy_(u)
        self.v.copy_(v)

    def right_inverse(self, value: Tensor) -> Tensor:
        return value

    def forward(self, kernel: Tensor) -> Tensor:
        if self.training:
            self.iterate(kernel, self.n_power_iterations)
        matrix = kernel.reshape(kernel.shape[0], -1)
        u, v = self.u.clone(), self.v.clone()
        normalised = matrix / (u @ matrix @ v + self.eps)
        if self.beta < 1:
            s1 = torch.outer(u, v)
            s2 = normalised - s1
            room = self.beta * self.rank - 1
            gamma = (
                torch.sqrt(torch.as_tensor(room, dtype=s2.dtype)) / s2.norm().clamp_min(self.eps)
                if room > 0
                else s2.new_zeros(())
            )
            normalised = s1 + gamma.clamp(max=1.0) * s2
        return self.alpha * normalised.reshape(kernel.shape)


def srn(
    module: nn.Conv2d,
    alpha: float = 1.0,
    beta: float = 1.0,
    *,
    n_power_iterations: int = 1,
    warmup_iterations: int = 50,
) -> nn.Conv2d:
    """Attach :class:`SRN` to ``module.weight`` (``torch.nn.utils.parametrize``).

    Args:
        module: a :class:`torch.nn.Conv2d` (any stride, padding or groups: the constraint
            is on the kernel alone).
        alpha: the spectral norm of the reshaped kernel.
        beta: stable-rank fraction in ``(0, 1]``.
        n_power_iterations: power iterations per training forward pass.
        warmup_iterations: iterations run once now, so the first forward is accurate.
    """
    if not isinstance(module, nn.Conv2d):
        raise TypeError(f"module must be an nn.Conv2d, got {type(module).__name__}")
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    if not 0 < beta <= 1:
        raise ValueError(f"beta must lie in (0, 1], got {beta}")
    parametrization = SRN(module.weight.detach(), alpha, beta, n_power_iterations)
    parametrization.iterate(module.weight, warmup_iterations)
    parametrize.register_parametrization(module, "weight", parametrization, unsafe=False)
    return module
