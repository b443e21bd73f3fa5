"""Neural networks for differential equations: neural operators on periodic fields (FNO
and its tensor-factorised form, U-Net, dilated ResNet, DeepONet), neural fields (SIREN,
Fourier features), parameter conditioning, learned and solver-in-the-loop steppers, vector
fields, neural ODEs and the stable neural SDE classes of Oh et al. (ICLR 2024)."""

from ._neural_de import (
    GeometricSDE as GeometricSDE,
    LangevinSDE as LangevinSDE,
    LinearNoiseSDE as LinearNoiseSDE,
    NeuralODE as NeuralODE,
)
from ._vector_fields import FourierField as FourierField, MLPField as MLPField, SpectralConv1d as SpectralConv1d
from ._fno import (
    FNO as FNO,
    ChannelAttention as ChannelAttention,
    CorrectedStepper as CorrectedStepper,
    OperatorStepper as OperatorStepper,
    SpectralConv as SpectralConv,
)
from ._operators import (
    OPERATORS as OPERATORS,
    DeepONet as DeepONet,
    DilatedResNet as DilatedResNet,
    FourierFeatureMLP as FourierFeatureMLP,
    SIREN as SIREN,
    UNet as UNet,
)
