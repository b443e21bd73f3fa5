"""Neural networks for differential equations: vector fields (an MLP for vectors, a
Fourier neural operator layer stack for fields), neural ODEs and the stable neural SDE
classes of Oh et al. (ICLR 2024), all solved through :func:`jaxpde.solve`."""

from ._neural_de import (
    GeometricSDE as GeometricSDE,
    LangevinSDE as LangevinSDE,
    LinearNoiseSDE as LinearNoiseSDE,
    NeuralODE as NeuralODE,
)
from ._vector_fields import FourierField as FourierField, MLPField as MLPField, SpectralConv1d as SpectralConv1d
from ._fno import FNO as FNO, OperatorStepper as OperatorStepper, SpectralConv as SpectralConv
