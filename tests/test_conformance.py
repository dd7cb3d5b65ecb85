"""Every public module behaves like a torch.nn module: factory arguments, the meta device,
reset_parameters, extra_repr, state_dict round trips and pickling."""

import functools
import inspect
import pickle

import pytest
import torch
from torch import nn

import cunitary

# Constructor arguments (besides device/dtype) and an input for every public module.
CASES = {
    "UnitaryConv1d": ((8, 2), lambda: torch.randn(3, 2, 8)),
    "UnitaryConv2d": (((6, 5), 2), lambda: torch.randn(3, 2, 6, 5)),
    "FourierRotation": ((0.3,), lambda: torch.randn(2, 8, 8)),
    "PhaseReLU": ((4,), lambda: torch.randn(3, 4, dtype=torch.complex64)),
    "ZReLU": ((), lambda: torch.randn(3, 4, dtype=torch.complex64)),
    "ModReLU": ((4,), lambda: torch.randn(3, 4, dtype=torch.complex64)),
    "CReLU": ((), lambda: torch.randn(3, 4, dtype=torch.complex64)),
    "Cardioid": ((), lambda: torch.randn(3, 4, dtype=torch.complex64)),
    "PhaseAmplitude": ((), lambda: torch.randn(3, 4, dtype=torch.complex64)),
    "Hirose": ((4,), lambda: torch.randn(3, 4, dtype=torch.complex64)),
    "ModSigmoid": ((4,), lambda: torch.randn(3, 4, dtype=torch.complex64)),
    "CayleyActivation": ((), lambda: torch.randn(3, 4, dtype=torch.complex64)),
    "ComplexGatedCell": ((3, 5), lambda: torch.randn(2, 3)),
    "ComplexGatedRNN": ((3, 5), lambda: torch.randn(2, 4, 3)),
    "UnitaryRNNCell": ((3, 5), lambda: torch.randn(2, 3)),
    "UnitaryRNN": ((3, 5), lambda: torch.randn(2, 4, 3)),
    "RotationGRUCell": ((3, 6), lambda: torch.randn(2, 3)),
    "RotationGRU": ((3, 6), lambda: torch.randn(2, 4, 3)),
    "LinearUnitaryRecurrence": ((3, 5), lambda: torch.randn(2, 4, 3)),
    "RotationConvGRUCell": ((1, 2, 6), lambda: torch.randn(2, 1, 6, 6)),
    "ComplexConvGatedCell": ((1, 2, 6), lambda: torch.randn(2, 1, 6, 6)),
    "UnitaryTransition": ((5,), lambda: torch.randn(2, 5, dtype=torch.complex64)),
    "ComplexReadout": ((5, 2), lambda: torch.randn(2, 5, dtype=torch.complex64)),
    "ComplexToReal": ((1,), lambda: torch.randn(2, 3, 4, 4, dtype=torch.complex64)),
    "RealToComplex": ((1,), lambda: torch.randn(2, 6, 4, 4)),
    "ARMA2d": ((2, 3), lambda: torch.randn(2, 2, 8, 8)),
    "CausalARMA1d": ((2, 3), lambda: torch.randn(2, 7, 2)),
    "ARMASequenceModel": ((2, 3), lambda: torch.randn(2, 7, 2)),
    "ConvLSTMCell": ((1, 2), lambda: torch.randn(2, 1, 6, 6)),
    "ARMALSTMCell": ((1, 2), lambda: torch.randn(2, 1, 6, 6)),
    "ConvRNNStack": (
        (functools.partial(cunitary.ConvLSTMCell, kernel_size=3), 1, 1, 2, 2, [(1, 2)]),
        lambda: torch.randn(2, 3, 1, 6, 6),
    ),
    "EigenAngleRecurrence": ((3, 4), lambda: torch.randn(2, 7, 3)),
    "LRURecurrence": ((3, 4), lambda: torch.randn(2, 7, 3)),
    "ARMARecurrence": ((3,), lambda: torch.randn(2, 7, 3)),
    "RecurrentBlock": (("unitary", 3), lambda: torch.randn(2, 7, 3)),
    "DeepLinearRecurrence": ((3, 8, 2), lambda: torch.randn(2, 7, 3)),
    "DynamicConv2d": ((2, 2), lambda: torch.randn(2, 2, 8, 8)),
    "DynamicLocalFilter2d": ((3, 2), lambda: torch.randn(2, 2, 8, 8)),
    "UnitaryDynamicFilter2d": ((8, 2), lambda: torch.randn(2, 2, 8, 8)),
}
MODULES = sorted(
    name for name in cunitary.__all__
    if inspect.isclass(getattr(cunitary, name)) and issubclass(getattr(cunitary, name), nn.Module)
)  # fmt: skip


def build(name, **factory):
    args, _ = CASES[name]
    return getattr(cunitary, name)(*args, **factory)


def run(module, x):
    out = module(x)
    return out[0] if isinstance(out, tuple) else out


def test_every_public_module_has_a_case():
    assert sorted(CASES) == MODULES


@pytest.mark.parametrize("name", MODULES)
def test_factory_arguments_and_the_meta_device(name):
    module = build(name)
    if not list(module.parameters()):
        return
    signature = inspect.signature(getattr(cunitary, name))
    assert {"device", "dtype"} <= set(signature.parameters), name
    meta = build(name, device="meta")
    assert all(t.device.type == "meta" for t in [*meta.parameters(), *meta.buffers()])
    double = build(name, dtype=torch.float64)
    assert all(p.dtype in (torch.float64, torch.complex128) for p in double.parameters())


@pytest.mark.parametrize("name", MODULES)
def test_reset_parameters_repeats_the_constructor(name):
    torch.manual_seed(3)
    module = build(name)
    if not list(module.parameters()):
        return
    assert hasattr(module, "reset_parameters"), name
    before = {k: v.clone() for k, v in module.state_dict().items()}
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.5)
    torch.manual_seed(3)
    module.reset_parameters()
    for key, value in module.state_dict().items():
        torch.testing.assert_close(value, before[key], msg=f"{name}.{key}")


@pytest.mark.parametrize("name", MODULES)
def test_extra_repr_shows_the_constructor(name):
    module = build(name)
    args, _ = CASES[name]
    if args and list(module.parameters()):
        assert module.extra_repr(), name


@pytest.mark.parametrize("name", MODULES)
def test_state_dict_round_trip_and_pickle(name):
    _, make_input = CASES[name]
    torch.manual_seed(0)
    module = build(name)
    torch.manual_seed(1)
    twin = build(name)
    twin.load_state_dict(module.state_dict())
    x = make_input()
    torch.testing.assert_close(run(twin, x), run(module, x))
    copy = pickle.loads(pickle.dumps(module))
    torch.testing.assert_close(run(copy, x), run(module, x))
