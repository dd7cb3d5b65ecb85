"""Stability diagnostics against closed forms."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from cunitary import ARMA2d, CausalARMA1d, UnitaryConv2d, effective_receptive_field
from cunitary.arma import ar_parameters
from cunitary.stability import arma_erf_radius


def linear_arma_net(layers: int, kernel: int, a: float, dilation: int = 1) -> nn.Sequential:
    """Theorem 3's network: y_i - a y_{i-1} = (1 - a)/K sum_p x_{i - d p}."""
    stack = []
    for _ in range(layers):
        layer = CausalARMA1d(
            1, 1, kernel_size=kernel, ar_order=1, dilation=dilation, bias=False,
            dtype=torch.float64,
        )  # fmt: skip
        with torch.no_grad():
            layer.ma.weight.fill_((1 - a) / kernel)
            layer.ar_reflection.fill_(math.atanh(-a / (1 - layer.margin)))
        stack.append(layer)
    return nn.Sequential(*stack)


@pytest.mark.parametrize("layers", [1, 3, 5])
@pytest.mark.parametrize("a", [0.0, 0.6, 0.8, 0.9])
@pytest.mark.parametrize("kernel,dilation", [(3, 1), (5, 2)])
def test_erf_radius_matches_theorem_3(layers, a, kernel, dilation):
    length = 1024
    net = linear_arma_net(layers, kernel, a, dilation)
    erf = effective_receptive_field(
        net, (length, 1), spatial_dims=(0,), position=(length - 1,), samples=1,
        dtype=torch.float64,
    )  # fmt: skip
    expected = arma_erf_radius([kernel] * layers, [a] * layers, [dilation] * layers)
    assert erf.radius == pytest.approx(expected, rel=0.05)
    assert float(erf.map.sum()) == pytest.approx(1.0)


def test_erf_of_a_2d_uniform_convolution_matches_numpy():
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    nn.init.constant_(conv.weight, 1 / 9)
    erf = effective_receptive_field(conv, (1, 15, 15))
    ref = np.zeros((15, 15))
    ref[6:9, 6:9] = 1 / 9
    np.testing.assert_allclose(erf.map.numpy(), ref, atol=1e-7)
    d = np.hypot(*np.meshgrid(np.arange(15) - 7, np.arange(15) - 7, indexing="ij"))
    radius = math.sqrt((d**2 * ref).sum() - (d * ref).sum() ** 2)
    assert erf.radius == pytest.approx(radius, rel=1e-6)


def test_erf_of_arma2d_networks_grows_with_the_ar_coefficient():
    radii = []
    for a in (0.0, 0.6, 0.9):
        layers = []
        for _ in range(2):
            layer = ARMA2d(1, 1, ar_padding=8, bias=False, dtype=torch.float64)
            alpha, beta = ar_parameters(torch.tensor(-a / 2), torch.tensor(-a / 2))
            with torch.no_grad():
                layer.conv.weight.fill_(1 / 9)
                layer.ar_alpha.fill_(float(alpha))
                layer.ar_beta.fill_(float(beta))
            layers.append(layer)
        erf = effective_receptive_field(nn.Sequential(*layers), (1, 33, 33), dtype=torch.float64)
        radii.append(erf.radius)
    assert radii[0] < radii[1] < radii[2]
    # a unitary convolution with random angles spreads over the whole frame
    unitary = UnitaryConv2d((33, 33), 1, real=True, dtype=torch.float64)
    assert effective_receptive_field(unitary, (1, 33, 33), dtype=torch.float64).radius > radii[2]


def test_erf_errors():
    conv = nn.Conv1d(1, 1, 3, padding=1)
    with pytest.raises(ValueError, match="spatial_dims"):
        effective_receptive_field(conv, (1, 9), spatial_dims=(3,))
    with pytest.raises(ValueError, match="position"):
        effective_receptive_field(conv, (1, 9), position=(9,))
    with pytest.raises(ValueError, match="ar coefficients"):
        arma_erf_radius([3], [1.0])
