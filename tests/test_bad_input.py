"""Bad input gets a clear error or a correct result, never a silently wrong number.

Each case here once returned a wrong value, broadcast silently or crashed with a message
from deep inside torch.
"""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import cunitary
import cunitary.functional as F
from cunitary import (
    ARMA2d,
    CausalARMA1d,
    ComplexConvGatedCell,
    ComplexGatedCell,
    ComplexGatedRNN,
    ComplexReadout,
    ConvLSTMCell,
    DynamicConv2d,
    Hirose,
    LinearUnitaryRecurrence,
    ModReLU,
    RotationConvGRUCell,
    RotationGRU,
    UnitaryConv1d,
    UnitaryConv2d,
    UnitaryDynamicFilter2d,
    UnitaryRNN,
)

NAN = complex("nan")


@pytest.mark.parametrize(
    "fn",
    [
        lambda z: F.modrelu(z, 0.1),
        lambda z: F.hirose(z, 1.0),
        lambda z: F.phase_amplitude(z, 1.0),
        F.cardioid,
        F.crelu,
        lambda z: F.phase_relu(z, 1.0, 0.0, temperature=0.1),
    ],
)
def test_nan_propagates_through_activations(fn):
    out = fn(torch.tensor([NAN, 1 + 1j, 0j]))
    assert out[0].isnan()
    assert not out[1:].isnan().any()


@pytest.mark.parametrize("model", [UnitaryRNN(2, 4), ComplexGatedRNN(2, 4), RotationGRU(2, 4)])
def test_nan_in_a_sequence_propagates_instead_of_wiping_the_state(model):
    x = torch.randn(1, 4, 2)
    x[0, 1, 0] = float("nan")
    out, _ = model(x)
    assert not out[0, 0].isnan().any()
    assert out[0, 1:].isnan().all(dim=-1).any()


def test_nan_propagates_through_the_complex_conv_cell():
    x = torch.randn(1, 1, 6, 6)
    x[0, 0, 2, 2] = float("nan")
    assert ComplexConvGatedCell(1, 2, 6)(x).isnan().any()


def test_cell_state_shapes_are_checked_not_broadcast():
    for cell in (ComplexGatedCell(3, 8), cunitary.UnitaryRNNCell(3, 8)):
        with pytest.raises(ValueError, match=r"h must have shape \(2, 8\)"):
            cell(torch.randn(2, 3), torch.zeros(1, 2, 8, dtype=torch.complex64))
    with pytest.raises(ValueError, match="h0 must have shape"):
        F.unitary_scan(torch.randn(2, 5, 4), torch.zeros(4), torch.zeros(2, 1, 4))
    layer = UnitaryDynamicFilter2d(8, channels=1)
    with pytest.raises(ValueError, match="batch"):
        layer(torch.randn(3, 1, 8, 8), context=torch.randn(1, 1, 8, 8))


def test_precision_is_never_changed_silently():
    rnn = ComplexGatedRNN(3, 8)
    with pytest.raises(TypeError, match="h0 has dtype torch.complex128"):
        rnn(torch.randn(2, 5, 3), torch.zeros(1, 2, 8, dtype=torch.complex128))
    with pytest.raises(TypeError, match="parameters are"):
        rnn(torch.randn(2, 5, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="h0 has dtype"):
        F.unitary_scan(torch.randn(2, 5, 4), torch.zeros(4), torch.zeros(2, 4).double())


@pytest.mark.parametrize(
    "make",
    [
        lambda: ComplexReadout(0, 3),
        lambda: DynamicConv2d(2, 2, context_channels=0),
        lambda: UnitaryDynamicFilter2d(8, channels=1, context_channels=0),
        lambda: ARMA2d(2, 2, padding=-1),
        lambda: F.hirose(torch.ones(2, dtype=torch.complex64), 0.0),
        lambda: F.phase_amplitude(torch.ones(2, dtype=torch.complex64), -1.0),
        lambda: F.phase_amplitude(torch.ones(2, dtype=torch.complex64), math.inf),
        lambda: Hirose(m=math.nan),
    ],
)
def test_nonsense_arguments_are_refused(make):
    with pytest.raises(ValueError):
        make()


def test_per_feature_activation_names_its_axis():
    with pytest.raises(ValueError, match=r"ModReLU\(num_features=16\) applies along dim=-1"):
        ModReLU(num_features=16)(torch.randn(4, 8, dtype=torch.complex64))
    channels = ModReLU(num_features=3, bias=-10.0, dim=1)
    z = torch.ones(2, 3, 5, 7, dtype=torch.complex64)
    assert channels(z).abs().max() == 0  # bias -10 on every channel
    with torch.no_grad():
        channels.bias.copy_(torch.tensor([-10.0, 0.0, -10.0]))
    out = channels(z)
    assert out[:, 1].eq(1).all() and out[:, 0].eq(0).all() and out[:, 2].eq(0).all()


@pytest.mark.parametrize(
    "module,x",
    [
        (ARMA2d(2, 2), torch.randn(1, 2, 8, 8).half()),
        (CausalARMA1d(2, 2), torch.randn(1, 5, 2).half()),
        (ConvLSTMCell(2, 2), torch.randn(1, 2, 8, 8).half()),
        (DynamicConv2d(2, 2), torch.randn(1, 2, 8, 8).half()),
    ],
)
def test_half_inputs_get_a_clear_type_error(module, x):
    with pytest.raises(TypeError, match="x must have dtype in"):
        module(x)


def test_empty_time_and_batch():
    for model in (ComplexGatedRNN(3, 8), UnitaryRNN(3, 8), RotationGRU(3, 8),
                  LinearUnitaryRecurrence(3, 8)):  # fmt: skip
        out, h_n = model(torch.randn(2, 0, 3))
        assert out.shape == (2, 0, 8) and h_n.shape == (1, 2, 8) and not h_n.any()
        out, h_n = model(torch.randn(0, 4, 3))
        assert out.shape == (0, 4, 8) and h_n.shape == (1, 0, 8)
    for layer in (UnitaryConv2d(8, 2), UnitaryConv2d(8, 2, real=True), UnitaryConv1d(8, 2)):
        x = torch.randn(0, 2, *layer.size)
        assert layer(x).shape == x.shape
    assert RotationConvGRUCell(1, 2, 6)(torch.randn(0, 1, 6, 6)).shape == (0, 2, 6, 6)


# -- a sweep: every public module, random shapes and dtypes ----------------------------------


def _modules(channels: int, size: int):
    return {
        "UnitaryConv1d": (UnitaryConv1d(size, channels), (channels, size)),
        "UnitaryConv2d": (UnitaryConv2d(size, channels, angles="kernel"), (channels, size, size)),
        "ARMA2d": (ARMA2d(channels, channels), (channels, size, size)),
        "ConvLSTMCell": (ConvLSTMCell(channels, 2), (channels, size, size)),
        "RotationConvGRUCell": (RotationConvGRUCell(channels, 2, size), (channels, size, size)),
        "ComplexConvGatedCell": (ComplexConvGatedCell(channels, 2, size), (channels, size, size)),
        "ModReLU": (ModReLU(channels, dim=1), (channels, size)),
    }


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(list(_modules(1, 8))),
    channels=st.integers(1, 3),
    size=st.integers(3, 9),
    batch=st.integers(0, 3),
    dtype=st.sampled_from(
        [torch.float32, torch.float64, torch.complex64, torch.float16, torch.int64]
    ),  # fmt: skip
    wrong_channels=st.booleans(),
)
def test_every_module_gives_a_clear_error_or_a_finite_well_shaped_result(
    name, channels, size, batch, dtype, wrong_channels
):
    module, shape = _modules(channels, size)[name]
    shape = (channels + 1, *shape[1:]) if wrong_channels else shape
    x = torch.randn(batch, *shape).to(dtype) if not dtype.is_complex else torch.randn(
        batch, *shape, dtype=dtype
    )  # fmt: skip
    try:
        out = module(x)
    except (TypeError, ValueError) as error:
        assert str(error)  # a message, raised by our checks or torch's argument checks
        return
    out = out[0] if isinstance(out, tuple) else out
    assert out.shape[0] == batch and torch.isfinite(torch.view_as_real(out) if out.is_complex()
                                                    else out).all()  # fmt: skip


def test_no_silent_fallbacks_for_counts_and_flags():
    from cunitary import UnitaryRNN
    from cunitary.stability import conv_spectral_norm

    weight = torch.randn(2, 2, 3, 3)
    for bad in (0, -5):
        with pytest.raises(ValueError, match="iterations must be >= 1"):
            conv_spectral_norm(weight, 8, iterations=bad)
    with pytest.raises(TypeError, match="bias is the initial modReLU bias"):
        UnitaryRNN(3, 4, bias=True)


@pytest.mark.parametrize("cell", ["ComplexConvGatedCell", "RotationConvGRUCell", "ConvLSTMCell"])
def test_states_of_another_batch_size_are_refused_not_broadcast(cell):
    import functools

    import cunitary

    make = getattr(cunitary, cell)
    if cell == "ConvLSTMCell":
        factory = functools.partial(make, kernel_size=3)
    else:
        factory = functools.partial(make, size=6)
    stack = cunitary.ConvRNNStack(factory, 1, 1, 2, 2, [(1, 2)])
    _, states = stack(torch.randn(2, 3, 1, 6, 6))
    with pytest.raises(ValueError, match=r"batch size 2 but x has 1|\(1, 2, 6, 6\) to match x"):
        stack(torch.randn(1, 3, 1, 6, 6), states)


def test_empty_and_degenerate_inputs_get_clear_answers(tmp_path):
    import functools

    import cunitary
    from cunitary.arma import sos_filter1d
    from cunitary.metrics import frame_metrics, ssim
    from cunitary.moving_mnist import load_mnist_idx
    from cunitary.stability import effective_receptive_field

    for model in (cunitary.CausalARMA1d(2, 3), cunitary.ARMASequenceModel(2, 3)):
        out = model(torch.randn(0, 7, 2))
        assert out.shape[0] == 0 and out.shape[1] == 7
    assert sos_filter1d(torch.randn(0, 5), torch.tensor([[0.5, 0.1, 0.0]])).shape == (0, 5)
    stack = cunitary.ConvRNNStack(functools.partial(cunitary.ConvLSTMCell, kernel_size=3),
                                  1, 1, 2, 2, [(1, 2)])  # fmt: skip
    with pytest.raises(ValueError, match="no frames"):
        stack(torch.randn(2, 0, 1, 6, 6))
    frames = torch.randint(0, 255, (2, 8, 8), dtype=torch.uint8)
    with pytest.raises(TypeError, match="floating-point frames"):
        frame_metrics(frames, frames)
    with pytest.raises(ValueError, match="win_size must be >= 2"):
        ssim(torch.rand(8, 8), torch.rand(8, 8), win_size=1)
    with pytest.raises(ValueError, match="samples must be >= 1"):
        effective_receptive_field(torch.nn.Conv1d(1, 1, 3, padding=1), (1, 9), samples=0)
    empty = tmp_path / "train-images-idx3-ubyte"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="train-images-idx3-ubyte: empty or truncated"):
        load_mnist_idx(empty)
