"""cunitary: complex-valued, unitary recurrent building blocks for PyTorch."""

from . import analysis, functional, init
from .activations import (
    Cardioid,
    CayleyActivation,
    CReLU,
    Hirose,
    ModReLU,
    ModSigmoid,
    PhaseAmplitude,
    PhaseReLU,
    ZReLU,
)
from .cells import (
    ComplexConvGatedCell,
    ComplexGatedCell,
    ComplexGatedRNN,
    ComplexReadout,
    LinearUnitaryRecurrence,
    RotationConvGRUCell,
    RotationGRU,
    RotationGRUCell,
    UnitaryRNN,
    UnitaryRNNCell,
    UnitaryTransition,
)
from .unitary import FourierRotation, UnitaryConv1d, UnitaryConv2d

__version__ = "0.1.0"

__all__ = [
    "UnitaryConv1d",
    "UnitaryConv2d",
    "FourierRotation",
    "PhaseReLU",
    "ZReLU",
    "ModReLU",
    "CReLU",
    "Cardioid",
    "PhaseAmplitude",
    "Hirose",
    "ModSigmoid",
    "CayleyActivation",
    "ComplexGatedCell",
    "ComplexGatedRNN",
    "UnitaryRNNCell",
    "UnitaryRNN",
    "RotationGRUCell",
    "RotationGRU",
    "LinearUnitaryRecurrence",
    "RotationConvGRUCell",
    "ComplexConvGatedCell",
    "UnitaryTransition",
    "ComplexReadout",
    "functional",
    "analysis",
    "init",
]
