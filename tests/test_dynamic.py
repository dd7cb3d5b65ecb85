"""Dynamic filter layers against explicit per-sample and per-pixel loops."""

import numpy as np
import pytest
import torch
from torch import nn

from cunitary import DynamicConv2d, DynamicLocalFilter2d, UnitaryDynamicFilter2d
from cunitary.dynamic import (
    dynamic_conv2d,
    filter_flow,
    filter_smoothness,
    local_filter2d,
    separable_dynamic_conv2d,
)


def test_dynamic_conv2d_equals_per_sample_convolution():
    torch.manual_seed(0)
    x = torch.randn(3, 2, 7, 8, dtype=torch.float64)
    weight = torch.randn(3, 4, 2, 3, 3, dtype=torch.float64)
    bias = torch.randn(3, 4, dtype=torch.float64)
    for dilation in (1, 2):
        y = dynamic_conv2d(x, weight, bias, dilation=dilation)
        for b in range(3):
            ref = nn.functional.conv2d(
                x[b : b + 1], weight[b], bias[b], padding=dilation, dilation=dilation
            )
            torch.testing.assert_close(y[b : b + 1], ref)
    assert torch.autograd.gradcheck(
        dynamic_conv2d,
        (x[:2, :, :4, :4].clone().requires_grad_(), weight[:2].clone().requires_grad_()),
    )


def local_filter_loop(x: np.ndarray, filters: np.ndarray, dilation: int) -> np.ndarray:
    b, c, h, w = x.shape
    k = int(round(filters.shape[-3] ** 0.5))
    y = np.zeros_like(x)
    for n in range(b):
        for ch in range(c):
            f = filters[n] if filters.ndim == 4 else filters[n, ch]
            for p in range(h):
                for q in range(w):
                    total = 0.0
                    for i in range(k):
                        for j in range(k):
                            pp, qq = p + dilation * (i - k // 2), q + dilation * (j - k // 2)
                            if 0 <= pp < h and 0 <= qq < w:
                                total += f[i * k + j, p, q] * x[n, ch, pp, qq]
                    y[n, ch, p, q] = total
    return y


@pytest.mark.parametrize("k,dilation,per_channel", [(3, 1, False), (5, 1, True), (3, 2, False)])
def test_local_filter2d_equals_per_pixel_loop(k, dilation, per_channel):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 7))
    shape = (2, 3, k * k, 6, 7) if per_channel else (2, k * k, 6, 7)
    filters = rng.standard_normal(shape)
    y = local_filter2d(torch.tensor(x), torch.tensor(filters), dilation=dilation)
    np.testing.assert_allclose(y.numpy(), local_filter_loop(x, filters, dilation), atol=1e-12)


def test_local_filter2d_gradcheck_and_errors():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    f = torch.randn(1, 9, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(local_filter2d, (x, f))
    with pytest.raises(ValueError, match="filters must have shape"):
        local_filter2d(x, torch.randn(1, 8, 4, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="filters must have shape"):
        local_filter2d(x, torch.randn(1, 9, 4, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="weight must have shape"):
        dynamic_conv2d(x, torch.randn(2, 1, 2, 3, 3, dtype=torch.float64))


def test_dynamic_local_filter_is_a_convex_blend():
    torch.manual_seed(0)
    layer = DynamicLocalFilter2d(kernel_size=5, context_channels=1, hidden_channels=8)
    x = torch.rand(2, 1, 12, 12)
    filters = layer.filters(x)
    assert (filters >= 0).all()
    torch.testing.assert_close(filters.sum(1), torch.ones(2, 12, 12))
    y = layer(x)
    assert y.shape == x.shape and y.max() <= x.max() + 1e-6 and y.min() >= 0
    # with a separate context: the filter comes from it, the pixels from x
    context = torch.rand(2, 1, 12, 12)
    ref = local_filter2d(x, layer.filters(context))
    torch.testing.assert_close(layer(x, context), ref)


def test_dynamic_conv2d_module_uses_the_context():
    torch.manual_seed(0)
    layer = DynamicConv2d(2, 3, kernel_size=3, context_channels=4, hidden_channels=8)
    x, context = torch.randn(2, 2, 9, 9), torch.randn(2, 4, 5, 5)
    weight, bias = layer.filters(context)
    torch.testing.assert_close(layer(x, context), dynamic_conv2d(x, weight, bias))
    assert not torch.allclose(weight[0], weight[1])  # one filter per sample
    with pytest.raises(ValueError, match="C=4"):
        layer(x)  # without a context the input must be a valid context


@pytest.mark.parametrize("real", [True, False])
def test_unitary_dynamic_filter_preserves_norm_per_sample(real):
    torch.manual_seed(0)
    layer = UnitaryDynamicFilter2d((6, 7), channels=2, hidden_channels=8, real=real).double()
    x = torch.randn(3, 2, 6, 7, dtype=torch.float64)
    y = layer(x)
    assert y.is_complex() != real
    torch.testing.assert_close(y.abs().pow(2).sum((1, 2, 3)), x.pow(2).sum((1, 2, 3)))
    angles = layer.angles(x).detach().numpy()
    if real:  # the odd-symmetric part of the angles acts
        mirrored = np.roll(angles[..., ::-1, ::-1], (1, 1), axis=(-2, -1))
        angles = 0.5 * (angles - mirrored)
    ref = np.fft.ifft2(np.exp(1j * angles) * np.fft.fft2(x.numpy()))
    np.testing.assert_allclose(y.detach().numpy(), ref.real if real else ref, atol=1e-12)
    with pytest.raises(ValueError, match="x must have shape"):
        layer(torch.randn(3, 2, 6, 6, dtype=torch.float64))


def correlate_same(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    from scipy.signal import correlate2d

    return correlate2d(image, kernel, mode="same", boundary="fill")


def test_separable_dynamic_conv2d_equals_outer_product_filters():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 9))
    vertical, horizontal = rng.standard_normal((2, 2, 2, 3, 5))
    bias = rng.standard_normal((2, 2))
    y = separable_dynamic_conv2d(*map(torch.tensor, (x, vertical, horizontal, bias)))
    for b in range(2):
        for o in range(2):
            ref = bias[b, o] + sum(
                correlate_same(x[b, i], np.outer(vertical[b, o, i], horizontal[b, o, i]))
                for i in range(3)
            )
            np.testing.assert_allclose(y[b, o].numpy(), ref, atol=1e-12)
    args = [torch.tensor(a[:1, ..., :3, :3] if a is x else a[:1]).requires_grad_()
            for a in (x, vertical, horizontal)]  # fmt: skip
    assert torch.autograd.gradcheck(separable_dynamic_conv2d, tuple(args))
    with pytest.raises(ValueError, match="horizontal must have"):
        separable_dynamic_conv2d(
            torch.tensor(x), torch.tensor(vertical), torch.tensor(vertical[..., :3])
        )
    with pytest.raises(ValueError, match="vertical must have shape"):
        separable_dynamic_conv2d(torch.tensor(x), *(torch.tensor(vertical[:, :, :2]),) * 2)


@pytest.mark.parametrize("separable", [False, True])
def test_dynamic_conv2d_softmax_and_separable_options(separable):
    torch.manual_seed(0)
    layer = DynamicConv2d(2, 3, kernel_size=5, hidden_channels=8, softmax=True,
                          separable=separable).double()  # fmt: skip
    x = torch.randn(2, 2, 8, 8, dtype=torch.float64)
    generated = layer.filters(x)
    bias = generated[-1].detach().numpy()
    taps = [g.detach().numpy() for g in generated[:-1]]
    for t in taps:  # each generated filter (each 1-D one if separable) is a convex blend
        assert (t >= 0).all()
        np.testing.assert_allclose(t.reshape(*t.shape[:3], -1).sum(-1), 1.0, atol=1e-12)
    if separable:
        weight = np.einsum("boip,boiq->boipq", *taps)
        assert (
            sum(p.numel() for p in layer.head.parameters())
            == (8 + 1) * (3 * 2 * 2 * 5 + 3)  # 2k taps per channel pair, not k*k
        )
    else:
        (weight,) = taps
    y = layer(x).detach().numpy()
    for b in range(2):
        for o in range(3):
            ref = bias[b, o] + sum(
                correlate_same(x[b, i].numpy(), weight[b, o, i]) for i in range(2)
            )
            np.testing.assert_allclose(y[b, o], ref, atol=1e-12)


@pytest.mark.parametrize("where", ["before", "after"])
def test_dynamic_local_filter_pixel_bias(where):
    torch.manual_seed(0)
    layer = DynamicLocalFilter2d(3, context_channels=1, hidden_channels=8, pixel_bias=where)
    layer = layer.double()
    x = torch.rand(2, 2, 6, 7, dtype=torch.float64)
    context = torch.rand(2, 1, 6, 7, dtype=torch.float64)
    filters, bias = (t.detach().numpy() for t in layer.generate(context))
    assert bias.shape == (2, 1, 6, 7) and np.abs(bias).max() > 0
    xn = x.numpy()
    ref = (local_filter_loop(xn + bias, filters, 1) if where == "before"
           else local_filter_loop(xn, filters, 1) + bias)  # fmt: skip
    np.testing.assert_allclose(layer(x, context).detach().numpy(), ref, atol=1e-12)
    with pytest.raises(ValueError, match="pixel_bias must be"):
        DynamicLocalFilter2d(3, pixel_bias="during")


def test_filter_flow_is_the_mean_source_offset():
    # a one-hot filter at tap (i, j) takes its pixel from (j - 2, i - 2) columns/rows away
    k = 5
    filters = torch.zeros(1, k * k, 3, 4, dtype=torch.float64)
    for p in range(3):
        for q in range(4):
            filters[0, (p * 4 + q) % (k * k), p, q] = 1
    flow = filter_flow(filters, dilation=2).numpy()
    for p in range(3):
        for q in range(4):
            i, j = divmod((p * 4 + q) % (k * k), k)
            np.testing.assert_allclose(flow[0, :, p, q], [2 * (j - 2), 2 * (i - 2)])
    rng = np.random.default_rng(0)
    soft = rng.dirichlet(np.ones(9), size=(2, 4, 5)).transpose(0, 3, 1, 2)
    flow = filter_flow(torch.tensor(soft)).numpy()
    offsets = [(j - 1, i - 1) for i in range(3) for j in range(3)]
    ref_u = sum(soft[:, t] * dx for t, (dx, _) in enumerate(offsets))
    ref_v = sum(soft[:, t] * dy for t, (_, dy) in enumerate(offsets))
    np.testing.assert_allclose(flow[:, 0], ref_u, atol=1e-12)
    np.testing.assert_allclose(flow[:, 1], ref_v, atol=1e-12)
    with pytest.raises(ValueError, match="filters must have shape"):
        filter_flow(torch.zeros(1, 8, 3, 3))


def test_filter_smoothness_against_a_loop():
    rng = np.random.default_rng(2)
    f = rng.standard_normal((2, 9, 4, 5))
    total = 0.0
    for b in range(2):
        across = [np.sum((f[b, :, p, q + 1] - f[b, :, p, q]) ** 2)
                  for p in range(4) for q in range(4)]  # fmt: skip
        down = [np.sum((f[b, :, p + 1, q] - f[b, :, p, q]) ** 2)
                for p in range(3) for q in range(5)]  # fmt: skip
        total += np.mean(across) + np.mean(down)
    np.testing.assert_allclose(filter_smoothness(torch.tensor(f)).item(), total / 2)
    flat = torch.ones(1, 9, 4, 4)
    assert filter_smoothness(flat).item() == 0
