"""cunitary: complex-valued, unitary recurrent building blocks for PyTorch."""

from . import (
    analysis,
    arma,
    convrnn,
    dynamic,
    functional,
    init,
    optim,
    parametrizations,
    sequence,
    stability,
)
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
from .arma import ARMA2d, ARMASequenceModel, CausalARMA1d
from .cells import (
    ComplexGatedCell,
    ComplexGatedRNN,
    ComplexReadout,
    LinearUnitaryRecurrence,
    RotationGRU,
    RotationGRUCell,
    UnitaryRNN,
    UnitaryRNNCell,
    UnitaryTransition,
)
from .convrnn import (
    ARMALSTMCell,
    ComplexConvGatedCell,
    ConvLSTMCell,
    ConvRNNStack,
    RotationConvGRUCell,
)
from .dynamic import DynamicConv2d, DynamicLocalFilter2d, UnitaryDynamicFilter2d
from .planes import ComplexToReal, RealToComplex
from .sequence import (
    ARMARecurrence,
    DeepLinearRecurrence,
    EigenAngleRecurrence,
    LRURecurrence,
    RecurrentBlock,
)
from .stability import effective_receptive_field
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
    "ComplexToReal",
    "RealToComplex",
    "ARMA2d",
    "CausalARMA1d",
    "ARMASequenceModel",
    "ConvLSTMCell",
    "ARMALSTMCell",
    "ConvRNNStack",
    "EigenAngleRecurrence",
    "LRURecurrence",
    "ARMARecurrence",
    "RecurrentBlock",
    "DeepLinearRecurrence",
    "DynamicConv2d",
    "DynamicLocalFilter2d",
    "UnitaryDynamicFilter2d",
    "effective_receptive_field",
    "functional",
    "analysis",
    "init",
    "arma",
    "convrnn",
    "dynamic",
    "optim",
    "parametrizations",
    "sequence",
    "stability",
]
