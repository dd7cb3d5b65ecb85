"""Convolutional recurrent cells and the video backbone against independent references:
torch's LSTMCell per pixel, the ARMA paper's parameter counts, explicit circular
convolutions in numpy, and the complex cell written with torch's complex convolution."""

import math
from functools import partial

import numpy as np
import pytest
import torch
from torch import nn

import cunitary.functional as F
from cunitary import (
    ARMALSTMCell,
    ComplexConvGatedCell,
    ConvLSTMCell,
    ConvRNNStack,
    RotationConvGRUCell,
)
from cunitary.convrnn import ConvRecurrentCell


def modrelu_np(z, b):
    r = np.abs(z)
    return np.maximum(r + b, 0) * np.where(r > 0, z / np.where(r > 0, r, 1), 0)


# -- ConvLSTM and the backbone -------------------------------------------------------------


def test_convlstm_1x1_equals_lstm_cell_per_pixel():
    torch.manual_seed(0)
    cell = ConvLSTMCell(3, 4, kernel_size=1).double()
    ref = nn.LSTMCell(3, 4).double()
    w = cell.gates.weight.detach()[:, :, 0, 0]  # (16, 3 + 4), torch's gate order i, f, g, o
    b = cell.gates.bias.detach()
    with torch.no_grad():  # the same weights, no permutation
        ref.weight_ih.copy_(w[:, :3])
        ref.weight_hh.copy_(w[:, 3:])
        ref.bias_ih.copy_(b)
        ref.bias_hh.zero_()
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    h0 = torch.randn(2, 4, 5, 6, dtype=torch.float64)
    c0 = torch.randn(2, 4, 5, 6, dtype=torch.float64)
    h, c = cell(x, (h0, c0))

    def pixels(t):
        return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])

    h_ref, c_ref = ref(pixels(x), (pixels(h0), pixels(c0)))
    torch.testing.assert_close(pixels(h), h_ref)
    torch.testing.assert_close(pixels(c), c_ref)


def test_arma_lstm_with_zero_ar_equals_convlstm():
    torch.manual_seed(0)
    arma = ARMALSTMCell(2, 3).double()
    conv = ConvLSTMCell(2, 3).double()
    conv.gates.load_state_dict(arma.gates.conv.state_dict())
    x = torch.randn(2, 2, 8, 8, dtype=torch.float64)
    for a, b in zip(arma(x), conv(x), strict=True):
        torch.testing.assert_close(a, b, atol=1e-13, rtol=1e-13)


def count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    "cell,millions",
    [
        (partial(ConvLSTMCell, kernel_size=3), 0.887),
        (partial(ConvLSTMCell, kernel_size=5), 2.462),
        (partial(ConvLSTMCell, kernel_size=3, dilation=2), 0.887),
        (partial(ARMALSTMCell, kernel_size=3), 0.893),
        (partial(ARMALSTMCell, kernel_size=3, dilation=2, ar_dilation=2), 0.893),
    ],
)
def test_backbone_parameter_counts_match_the_arma_paper(cell, millions):
    net = ConvRNNStack(cell, in_channels=1, out_channels=1)
    assert count(net) // 1000 == round(millions * 1000)  # the table truncates to 1e-3 M
    if cell.func is ARMALSTMCell:  # 4 AR parameters per gate channel: 12 x 128 x 4
        shared = {k: v for k, v in cell.keywords.items() if k in ("kernel_size", "dilation")}
        plain = ConvRNNStack(partial(ConvLSTMCell, **shared), in_channels=1)
        assert count(net) - count(plain) == 6144


def test_backbone_wiring_and_generic_cells():
    torch.manual_seed(0)
    net = ConvRNNStack(partial(ConvLSTMCell, kernel_size=3), 1, 2, 4, num_layers=3, skips=[(1, 3)])
    assert net.cells[1].in_channels == 4 and net.cells[2].in_channels == 4
    assert net.output.in_channels == 8  # layer 3 concatenated with layer 1
    x = torch.randn(2, 5, 1, 8, 8)
    y, states = net(x)
    assert y.shape == (2, 5, 2, 8, 8) and len(states) == 3
    # stepping frame by frame with carried states gives the same outputs
    s = None
    for t in range(5):
        yt, s = net.step(x[:, t], s)
        torch.testing.assert_close(yt, y[:, t])
    for cell in (
        partial(RotationConvGRUCell, size=(8, 8)),
        partial(ComplexConvGatedCell, size=(8, 8)),
    ):
        net = ConvRNNStack(cell, 1, 1, 4, num_layers=3, skips=[(1, 2)])
        y, _ = net(x)
        assert y.shape == (2, 5, 1, 8, 8) and not y.is_complex()
    with pytest.raises(ValueError, match="skips"):
        ConvRNNStack(partial(ConvLSTMCell), 1, 1, 4, num_layers=3, skips=[(3, 2)])
    with pytest.raises(ValueError, match="B, T, C, H, W"):
        net(torch.randn(2, 1, 8, 8))


# -- convolutional cells -------------------------------------------------------------------


@pytest.mark.parametrize("candidate", ["gru", "linear_recurrent"])
def test_rotation_conv_gru_cell_matches_reference(candidate):
    torch.manual_seed(11)
    cell = RotationConvGRUCell(2, 3, (6, 5), candidate=candidate, dtype=torch.float64)
    x = torch.randn(2, 2, 6, 5, dtype=torch.float64)
    h = torch.randn(2, 3, 6, 5, dtype=torch.float64)
    out = cell(x, h)
    g = torch.sigmoid(
        torch.nn.functional.conv2d(
            torch.cat([x, h], 1), cell.gates.weight, cell.gates.bias, padding=1
        )
    )
    r, z = g[:, :3], g[:, 3:]
    w, b = cell.candidate.weight, cell.candidate.bias
    if candidate == "gru":
        cand = torch.tanh(torch.nn.functional.conv2d(torch.cat([x, r * h], 1), w, b, padding=1))
    else:  # the document's eq. (109): tanh on the input term, reset on the recurrent output
        cand = torch.tanh(torch.nn.functional.conv2d(x, w[:, :2], b, padding=1))
        cand = cand + r * torch.nn.functional.conv2d(h, w[:, 2:], None, padding=1)
    blend = ((1 - z) * cand + z * h).detach().numpy()
    # rotation: explicit circular convolution with kernel ifft2(exp(i * odd(angles)))
    angles = cell.rotation.angles.detach().numpy()
    odd = 0.5 * (angles - np.roll(np.flip(angles, (1, 2)), (1, 1), axis=(1, 2)))
    kernel = np.fft.ifft2(np.exp(1j * odd)).real
    ref = np.zeros_like(blend)
    for a in range(6):
        for b in range(5):
            ref += kernel[:, a, b][None, :, None, None] * np.roll(blend, (a, b), axis=(-2, -1))
    np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-10)


@pytest.mark.parametrize("x_dtype", [torch.float64, torch.complex128])
def test_complex_conv_gated_cell_matches_reference(x_dtype):
    """Against torch's own complex convolution (the cell runs stacked real ones)."""
    torch.manual_seed(12)
    cell = ComplexConvGatedCell(2, 3, 6, dtype=torch.float64)
    x = torch.randn(2, 2, 6, 6, dtype=x_dtype)
    h = torch.randn(2, 3, 6, 6, dtype=torch.complex128)
    out = cell(x, h)
    xc = x.to(torch.complex128)
    pre = torch.nn.functional.conv2d(
        torch.cat([xc, h], 1), cell.gates.weight, cell.gates.bias, padding=1
    )
    alpha = cell.gate_alpha.detach()
    g = torch.sigmoid(alpha * pre.real + (1 - alpha) * pre.imag)
    r, z = g[:, :3], g[:, 3:]
    kernel = np.fft.ifft2(np.exp(1j * cell.transition.angles.detach().numpy()))
    rh = (r * h).detach().numpy()
    conv = np.zeros_like(rh)
    for a in range(6):
        for b in range(6):
            conv += kernel[:, a, b][None, :, None, None] * np.roll(rh, (a, b), axis=(-2, -1))
    cx = torch.nn.functional.conv2d(xc, cell.candidate.weight, cell.candidate.bias, padding=1)
    c = modrelu_np(cx.detach().numpy() + conv, cell.modrelu_bias.detach().numpy())
    zn = z.detach().numpy()
    ref = (1 - zn) * h.detach().numpy() + zn * c
    np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-10)


def test_conv_cells_gradcheck():
    torch.manual_seed(13)
    for cell in (
        RotationConvGRUCell(1, 2, 4, dtype=torch.float64, mix=True),
        ComplexConvGatedCell(1, 2, 4, dtype=torch.float64),
    ):
        x = torch.randn(1, 1, 4, 4, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda x, cell=cell: cell(x), (x,))


@pytest.mark.parametrize("x_dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("angles", ["full", "kernel"])
def test_complex_conv_gated_cell_gradients_match_the_complex_reference(x_dtype, angles):
    """Outputs and every parameter's gradient against the cell written with torch's
    complex convolution, mod_sigmoid, circulant2d and modrelu."""
    torch.manual_seed(21)
    cell = ComplexConvGatedCell(2, 3, (6, 5), angles=angles, dtype=torch.float64)
    with torch.no_grad():
        cell.modrelu_bias.uniform_(-0.5, 0.5)
        cell.gate_alpha.uniform_(0.2, 0.8)
        cell.gates.bias.normal_()
    x = torch.randn(2, 2, 6, 5, dtype=x_dtype)
    h = torch.randn(2, 3, 6, 5, dtype=torch.complex128)

    def reference():
        xc = x.to(torch.complex128)
        pre = torch.nn.functional.conv2d(
            torch.cat([xc, h], 1), cell.gates.weight, cell.gates.bias, padding=1
        )
        r, z = F.mod_sigmoid(pre, cell.gate_alpha).chunk(2, 1)
        phasors = cell.transition.eigenvalues()
        transported = torch.fft.ifft2(phasors * torch.fft.fft2(r * h))
        c = torch.nn.functional.conv2d(xc, cell.candidate.weight, cell.candidate.bias, padding=1)
        return (1 - z) * h + z * F.modrelu(c + transported, cell.modrelu_bias)

    probe = torch.randn(2, 3, 6, 5, dtype=torch.complex128)
    x.requires_grad_()
    h.requires_grad_()
    params = [x, h, *cell.parameters()]
    fast, slow = cell(x, h), reference()
    torch.testing.assert_close(fast, slow)
    g_fast = torch.autograd.grad((fast * probe.conj()).real.sum(), params)
    g_slow = torch.autograd.grad((slow * probe.conj()).real.sum(), params)
    for a, b in zip(g_fast, g_slow, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("angles", ["full", "kernel"])
def test_the_complex_stack_on_planes_matches_the_cells_complex_forward(angles):
    """The stack runs complex cells on [Re, Im] planes; the reference is the loop of
    the cells' public complex forward with complex concatenations, over three steps
    (so the planar state is carried), with a skip: outputs, final states and the
    gradients of every parameter and of the initial states."""
    torch.manual_seed(22)
    cell = partial(ComplexConvGatedCell, size=(6, 5), angles=angles)
    net = ConvRNNStack(cell, 1, 2, 3, num_layers=3, skips=[(1, 3)], dtype=torch.float64)
    with torch.no_grad():
        for c in net.cells:
            c.modrelu_bias.uniform_(-0.5, 0.5)
            c.gates.bias.normal_()
    x = torch.randn(2, 3, 1, 6, 5, dtype=torch.float64)
    h0 = [torch.randn(2, 3, 6, 5, dtype=torch.complex128, requires_grad=True) for _ in range(3)]

    def reference():
        states, ys = list(h0), []
        for frame in x.unbind(1):
            z, outs = frame, []
            for layer, c in enumerate(net.cells, start=1):
                states[layer - 1] = c(z, states[layer - 1])
                outs.append(states[layer - 1])
                z = torch.cat([outs[-1]] + [outs[i - 1] for i, j in net.skips if j == layer], 1)
            ys.append(net.output(torch.cat([z.real, z.imag], 1)))
        return torch.stack(ys, 1), states

    y, states = net(x, list(h0))
    y_ref, states_ref = reference()
    torch.testing.assert_close(y, y_ref)
    for planes, complex_state in zip(states, states_ref, strict=True):
        torch.testing.assert_close(torch.complex(*planes.chunk(2, 1)), complex_state)
    wrt = [*h0, *net.parameters()]
    probe = torch.randn_like(y)
    grads = torch.autograd.grad((y * probe).sum() + states[1].sum(), wrt)
    grads_ref = torch.autograd.grad(
        (y_ref * probe).sum() + states_ref[1].real.sum() + states_ref[1].imag.sum(), wrt
    )
    for a, b in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(a, b)


def test_the_stack_refuses_a_cell_without_the_protocol():
    assert isinstance(ConvLSTMCell(1, 2), ConvRecurrentCell)
    assert isinstance(ComplexConvGatedCell(1, 2, 8), ConvRecurrentCell)

    def conv(in_channels, hidden_channels, **factory):
        return nn.Conv2d(in_channels, hidden_channels, 3, padding=1, **factory)

    with pytest.raises(TypeError, match="ConvRecurrentCell"):
        ConvRNNStack(conv, 1, 1, 4, 2, [])


def test_default_skips_follow_the_depth():
    import functools

    from cunitary import ConvLSTMCell, ConvRNNStack

    cell = functools.partial(ConvLSTMCell, kernel_size=3)
    assert ConvRNNStack(cell, num_layers=12, hidden_channels=2).skips == [(3, 9), (6, 12)]
    shallow = ConvRNNStack(cell, num_layers=2, hidden_channels=2)  # failed: "skips must be pairs"
    assert shallow.skips == []
    y, _ = shallow(torch.randn(1, 2, 1, 6, 6))
    assert y.shape == (1, 2, 1, 6, 6)


def test_padded_rotation_state_lives_on_the_larger_grid_and_the_stack_crops():
    torch.manual_seed(31)
    cell = RotationConvGRUCell(1, 2, (6, 5), padding=2, dtype=torch.float64)
    x = torch.randn(3, 1, 6, 5, dtype=torch.float64)
    h = cell(x)
    assert h.shape == (3, 2, 10, 9)
    torch.testing.assert_close(h, cell(torch.nn.functional.pad(x, (2, 2, 2, 2))))
    stack = ConvRNNStack(partial(RotationConvGRUCell, size=(6, 5), padding=2), 1, 1, 2, 2,
                         [(1, 2)], dtype=torch.float64)  # fmt: skip
    y, states = stack(torch.randn(3, 4, 1, 6, 5, dtype=torch.float64))
    assert y.shape == (3, 4, 1, 6, 5) and states[0].shape == (3, 2, 10, 9)


def test_the_stack_passes_the_frame_size_to_cells_that_need_it():
    stack = ConvRNNStack(RotationConvGRUCell, 1, 1, 2, 2, size=(6, 5))
    y, states = stack(torch.randn(2, 3, 1, 6, 5))
    assert y.shape == (2, 3, 1, 6, 5) and states[1].shape == (2, 2, 6, 5)


# -- what bounds the rotation conv-GRU's state ---------------------------------------------


def test_rotation_conv_gru_state_obeys_the_gru_candidates_norm_bound():
    """||H_t||^2 <= ||H_{t-1}||^2 + sum (1 - Z) H'^2 <= ||H_{t-1}||^2 + N at every one of
    10,000 random steps, with the gates and candidate recomputed from the equations and
    weights scaled x4 (the scale that made eq. (109)'s state blow up)."""
    torch.manual_seed(5)
    cell = RotationConvGRUCell(1, 2, (6, 6), mix=True, dtype=torch.float64)
    with torch.no_grad():
        for conv in (cell.gates, cell.candidate):
            conv.weight.mul_(4)
    units = 2 * 6 * 6
    h = torch.zeros(3, 2, 6, 6, dtype=torch.float64)
    squared = torch.zeros(3, dtype=torch.float64)
    worst_slack = math.inf
    with torch.no_grad():
        for t in range(1, 10_001):
            x = 3 * torch.randn(3, 1, 6, 6, dtype=torch.float64)
            g = torch.sigmoid(nn.functional.conv2d(torch.cat([x, h], 1), cell.gates.weight,
                                                   cell.gates.bias, padding=1))  # fmt: skip
            r, z = g[:, :2], g[:, 2:]
            cand = torch.tanh(nn.functional.conv2d(torch.cat([x, r * h], 1),
                                                   cell.candidate.weight, cell.candidate.bias,
                                                   padding=1))  # fmt: skip
            step_bound = h.pow(2).sum((1, 2, 3)) + ((1 - z) * cand**2).sum((1, 2, 3))
            h = cell(x, h)
            new = h.pow(2).sum((1, 2, 3))
            assert torch.all(new <= step_bound * (1 + 1e-12)), t
            squared = new
            worst_slack = min(worst_slack, (t * units - squared).min().item())
    assert worst_slack >= 0  # ||H_t|| <= sqrt(t N) from a zero state
    assert squared.max() > 1  # the state did move: the bound was not met by a dead cell


def test_eq109_state_can_grow_geometrically():
    """eq. (109)'s candidate is linear in the state: with W_hh = 2 I (centre tap) and open
    resets, the state at least doubles, less the candidate's sqrt(N), at every step."""
    torch.manual_seed(6)
    cell = RotationConvGRUCell(1, 2, (6, 6), candidate="linear_recurrent", dtype=torch.float64)
    with torch.no_grad():
        cell.gates.weight.zero_()
        cell.gates.bias.copy_(torch.tensor([30.0, 30.0, -30.0, -30.0]))  # R = 1, Z = 0
        cell.candidate.weight.zero_()
        cell.candidate.weight[:, 1:, 1, 1] = 2 * torch.eye(2, dtype=torch.float64)
    units = 2 * 6 * 6
    h = torch.randn(1, 2, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        for _ in range(40):
            before = h.norm().item()
            h = cell(torch.randn(1, 1, 6, 6, dtype=torch.float64), h)
            assert h.norm().item() >= 2 * before - math.sqrt(units) - 1e-9
    assert h.norm().item() > 1e9
