"""Dynamic filter layers against explicit per-sample and per-pixel loops."""

import numpy as np
import pytest
import torch
from torch import nn

from cunitary import DynamicConv2d, DynamicLocalFilter2d, UnitaryDynamicFilter2d
from cunitary.dynamic import dynamic_conv2d, local_filter2d


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
