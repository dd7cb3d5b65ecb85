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


# -- singular values, spectral norms, SRN-C ------------------------------------------------

from cunitary.stability import (  # noqa: E402
    conv_singular_values,
    conv_spectral_norm,
    instability_onset,
    srn_c,
    stable_rank,
    temporal_receptive_field,
)


def dense_conv_matrix(kernel: np.ndarray, h: int, w: int, circular: bool) -> np.ndarray:
    """Matrix of a size-preserving cross-correlation (what nn.Conv2d computes)."""
    c_out, c_in, kh, kw = kernel.shape
    m = np.zeros((c_out * h * w, c_in * h * w))
    for o in range(c_out):
        for i in range(c_in):
            for p in range(h):
                for q in range(w):
                    for a in range(kh):
                        for b in range(kw):
                            pp, qq = p + a - kh // 2, q + b - kw // 2
                            if circular:
                                pp, qq = pp % h, qq % w
                            elif not (0 <= pp < h and 0 <= qq < w):
                                continue
                            m[(o * h + p) * w + q, (i * h + pp) * w + qq] += kernel[o, i, a, b]
    return m


@pytest.mark.parametrize("shape,size", [((3, 2, 3, 3), (5, 6)), ((2, 2, 5, 3), (7, 5))])
def test_conv_singular_values_equal_dense_svd(shape, size):
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal(shape)
    dense = np.linalg.svd(dense_conv_matrix(kernel, *size, circular=True), compute_uv=False)
    ours = conv_singular_values(torch.tensor(kernel), size).numpy()
    np.testing.assert_allclose(ours, dense[: len(ours)], atol=1e-10)
    assert np.allclose(dense[len(ours) :], 0, atol=1e-10)  # the rest of the rank is zero


@pytest.mark.parametrize("padding", ["zeros", "circular"])
def test_power_iteration_matches_dense_spectral_norm(padding):
    rng = np.random.default_rng(1)
    kernel = rng.standard_normal((3, 2, 3, 3))
    dense = dense_conv_matrix(kernel, 6, 7, circular=padding == "circular")
    expected = np.linalg.norm(dense, 2)
    # the top two singular values are 0.1% apart here: convergence takes thousands of steps
    ours = conv_spectral_norm(torch.tensor(kernel), (6, 7), padding=padding, iterations=10_000)
    assert ours == pytest.approx(expected, rel=1e-6)


def layer_singular_values(conv: nn.Conv2d, size, circular: bool) -> np.ndarray:
    kernel = conv.weight.detach().double().numpy()
    return np.linalg.svd(dense_conv_matrix(kernel, *size, circular=circular), compute_uv=False)


@pytest.mark.parametrize("padding_mode", ["zeros", "circular"])
@pytest.mark.parametrize(
    "alpha,beta,reachable",
    [(1.0, 1.0, None), (2.0, 1.0, None), (2.0, 0.2, True), (1.0, 0.05, False)],
)
def test_srn_c_sets_the_layer_norm_and_bounds_the_stable_rank(padding_mode, alpha, beta, reachable):
    torch.manual_seed(0)
    size = (6, 6)
    conv = nn.Conv2d(3, 3, 3, padding=1, padding_mode=padding_mode, dtype=torch.float64)
    before = layer_singular_values(conv, size, padding_mode == "circular")
    srn_c(conv, alpha=alpha, beta=beta, input_size=size)
    for _ in range(20):  # training-mode forwards refine the power iteration
        conv(torch.randn(1, 3, *size, dtype=torch.float64))
    s = layer_singular_values(conv, size, padding_mode == "circular")
    assert s[0] == pytest.approx(alpha, rel=1e-2)
    target = max(1.0, beta * 36 * 3)
    bound = conv.parametrizations.weight[0].rank_bound
    assert stable_rank(torch.tensor(s)) <= bound * 1.01
    if beta < 1:
        assert stable_rank(torch.tensor(before)) > target  # the constraint was active
        assert bound >= target
        if reachable:  # the target stable rank is reachable: the bound is the target
            assert bound == pytest.approx(target)
    # gradients reach the unconstrained kernel
    conv(torch.randn(1, 3, *size, dtype=torch.float64)).sum().backward()
    assert torch.isfinite(conv.parametrizations.weight.original.grad).all()


def test_srn_c_errors():
    with pytest.raises(TypeError, match="nn.Conv2d"):
        srn_c(nn.Linear(2, 2), input_size=8)
    with pytest.raises(ValueError, match="stride"):
        srn_c(nn.Conv2d(2, 2, 3, stride=2), input_size=8)
    with pytest.raises(ValueError, match="beta"):
        srn_c(nn.Conv2d(2, 2, 3, padding=1), beta=1.5, input_size=8)
    with pytest.raises(TypeError, match="input_size"):
        srn_c(nn.Conv2d(2, 2, 3, padding=1))  # no silent 64 x 64


def test_srn_c_is_a_conventional_parametrization():
    conv = srn_c(nn.Conv2d(2, 2, 3, padding=1, dtype=torch.float64), beta=0.3, input_size=6)
    srnc = conv.parametrizations.weight[0]
    assert "rank_bound" in dict(srnc.named_buffers())  # state, not a plain attribute
    new = torch.randn(2, 2, 3, 3, dtype=torch.float64)
    conv.weight = new  # right_inverse: assigning stores the unconstrained kernel
    torch.testing.assert_close(conv.parametrizations.weight.original, new)
    twin = srn_c(nn.Conv2d(2, 2, 3, padding=1, dtype=torch.float64), beta=0.3, input_size=6)
    twin.load_state_dict(conv.state_dict())
    conv.eval()
    twin.eval()
    torch.testing.assert_close(twin.weight, conv.weight)
    zero = srn_c(nn.Conv2d(2, 2, 3, padding=1), input_size=6)
    with torch.no_grad():
        zero.parametrizations.weight.original.zero_()
    assert torch.isfinite(zero.weight).all()  # normalisation with an eps: no 0/0
    with pytest.raises(ValueError, match="larger than input_size"):
        conv_singular_values(torch.randn(1, 1, 5, 5), (4, 4))


# -- temporal receptive field and long rollouts --------------------------------------------


class LinearRecurrence(nn.Module):
    """h_t = gain * h_{t-1} + x_t, output h_t (the textbook stable / unstable system)."""

    def __init__(self, gain: float) -> None:
        super().__init__()
        self.gain = gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, out = torch.zeros_like(x[:, 0]), []
        for frame in x.unbind(1):
            h = self.gain * h + frame
            out.append(h)
        return torch.stack(out, 1)


@pytest.mark.parametrize("gain,bounded", [(1.1, False), (1.02, False), (0.5, True), (0.7, True)])
def test_trf_verdict_follows_the_gain(gain, bounded):
    trf = temporal_receptive_field(LinearRecurrence(gain), frames=41, size=8, steps=60, lr=0.2)
    assert trf.bounded is bounded
    assert not trf.diverges  # 20 frames after t = 0: at most 1.1^20 = 6.7 < 10 growth
    assert trf.inputs.shape == (41, 1, 8, 8) and trf.influence.shape == (41,)
    assert (trf.inputs >= 0).all() and (trf.inputs <= 1).all()
    assert trf.influence[trf.centre + 1 :].abs().max() == 0  # causal: the future has no say
    # the optimiser pushes the frames that feed the centre pixel towards 1
    assert trf.inputs[: trf.centre + 1, 0, 4, 4].min() > 0.9
    assert trf.history[-1] >= trf.history[0]


def test_trf_of_a_norm_preserving_recurrence_reaches_far_without_diverging():
    trf = temporal_receptive_field(LinearRecurrence(1.0), frames=41, size=8, steps=20, lr=0.2)
    assert trf.reaches_far and not trf.diverges and not trf.bounded
    trf = temporal_receptive_field(LinearRecurrence(1.1), frames=81, size=8, steps=20, lr=0.2)
    assert trf.reaches_far and trf.diverges  # 1.1^40 = 45 after t = 0


def test_instability_onset_finds_a_planted_divergence():
    def step(x, state):
        count = 1 if state is None else state + 1
        y = x * 1e9 if count == 137 else x
        return y, count

    frames = [torch.ones(1, 1, 4, 4) * 0.5 for _ in range(1000)]
    report = instability_onset(step, frames)
    assert report.onsets == [137] * 7 and report.frames == 1000
    assert report.deciles == [137.0] * 9

    # with targets: the PSNR criterion
    def noisy_step(x, state):
        count = 1 if state is None else state + 1
        return (x + (3.0 if count >= 50 else 0.0)), count

    pairs = [(torch.rand(1, 1, 4, 4), None) for _ in range(120)]
    pairs = [(x, x.clone()) for x, _ in pairs]
    report = instability_onset(noisy_step, pairs)
    assert report.onsets == [50, 50]
    assert report.metric[0] == float("inf") and report.metric[49] < 0


@pytest.mark.parametrize("beta", [1.0, 0.3])
def test_srn_normalises_the_reshaped_kernel_not_the_layer(beta):
    from cunitary.parametrizations import srn
    from cunitary.stability import conv_singular_values

    torch.manual_seed(5)
    conv = srn(nn.Conv2d(4, 4, 3, padding=1, padding_mode="circular").double(), alpha=1.0,
               beta=beta, warmup_iterations=200)  # fmt: skip
    kernel = conv.weight.detach()
    matrix = kernel.reshape(4, -1).numpy()
    singular = np.linalg.svd(matrix, compute_uv=False)
    assert singular[0] == pytest.approx(1.0, rel=1e-6)  # the reshaped kernel's norm is alpha
    if beta < 1:  # stable rank beta * m, m = min(4, 36) = 4
        assert (singular**2).sum() / singular[0] ** 2 == pytest.approx(beta * 4, rel=1e-6)
    layer = conv_singular_values(kernel, (8, 8)).max().item()  # circular: exact
    assert layer > 1.2  # ... and the layer's spectral norm is not bounded by it


def test_srn_with_a_stable_rank_below_one_keeps_the_top_component():
    from cunitary.parametrizations import srn

    torch.manual_seed(6)
    conv = srn(nn.Conv2d(3, 3, 3, padding=1).double(), beta=0.2, warmup_iterations=200)
    singular = np.linalg.svd(conv.weight.detach().reshape(3, -1).numpy(), compute_uv=False)
    assert singular[0] == pytest.approx(1.0, rel=1e-6) and singular[1] < 1e-9  # rank one


@pytest.mark.parametrize(
    ("form", "paper_beta", "expected_rank"),
    [("eq8", 0.4, 0.4 * 6 * 4), ("algorithm2", 0.9, 1 + (0.9 * 4 - 1) / 36)],
)
def test_srn_c_with_the_papers_beta_keeps_the_papers_stable_rank(form, paper_beta, expected_rank):
    """The paper's stable-rank targets (eq. 8: beta n m; Algorithm 2: 1 + (beta m - 1) / n^2),
    written out here from its formulas, set by srn_c with the converted beta: the layer's
    stable rank from its exact singular values (dense matrix) stays at or below the
    paper's target (or the least the top singular pair allows), at spectral norm alpha."""
    from cunitary.parametrizations import srn_c_beta_from_paper

    size, channels = (6, 6), 4
    beta = srn_c_beta_from_paper(paper_beta, size, channels, form)
    assert beta * 36 * channels == pytest.approx(max(1.0, expected_rank))
    torch.manual_seed(1)
    conv = nn.Conv2d(channels, channels, 3, padding=1, padding_mode="circular",
                     dtype=torch.float64)  # fmt: skip
    assert stable_rank(torch.tensor(layer_singular_values(conv, size, True))) > expected_rank
    srn_c(conv, alpha=2.0, beta=beta, input_size=size)
    for _ in range(20):
        conv(torch.randn(1, channels, *size, dtype=torch.float64))
    s = layer_singular_values(conv, size, True)
    assert s[0] == pytest.approx(2.0, rel=1e-2)
    bound = conv.parametrizations.weight[0].rank_bound.item()
    assert stable_rank(torch.tensor(s)) <= bound * 1.01
    if form == "eq8":  # reachable: the layer sits at the paper's target
        assert bound == pytest.approx(expected_rank)
    else:  # about rank 1: below what the top singular pair's part allows (see SRNC)
        assert bound >= expected_rank
    with pytest.raises(ValueError, match="form must be"):
        srn_c_beta_from_paper(0.1, size, channels, "eq9")
