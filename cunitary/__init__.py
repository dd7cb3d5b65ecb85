"""cunitary: complex-valued, unitary recurrent building blocks for PyTorch."""

from . import analysis, functional
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
    "functional",
    "analysis",
]
