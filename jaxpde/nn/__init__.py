"""Neural networks for differential equations: neural operators on periodic fields (FNO
and its tensor-factorised form, U-Net, dilated ResNet, DeepONet), neural fields (SIREN,
Fourier features), parameter conditioning, learned and solver-in-the-loop steppers, vector
fields, neural ODEs and the stable neural SDE classes of Oh et al. (ICLR 2024)."""

from ._fno import (
    FNO as FNO,
)
from ._fno import (
    ChannelAttention as ChannelAttention,
)
from ._fno import (
    CorrectedStepper as CorrectedStepper,
)
from ._fno import (
    OperatorStepper as OperatorStepper,
)
from ._fno import (
    SpectralConv as SpectralConv,
)
from ._neural_de import (
    GeometricSDE as GeometricSDE,
)
from ._neural_de import (
    LangevinSDE as LangevinSDE,
)
from ._neural_de import (
    LinearNoiseSDE as LinearNoiseSDE,
)
from ._neural_de import (
    NeuralODE as NeuralODE,
)
from ._normalise import Normalisation as Normalisation
from ._operators import (
    OPERATORS as OPERATORS,
)
from ._operators import (
    SIREN as SIREN,
)
from ._operators import (
    DeepONet as DeepONet,
)
from ._operators import (
    DilatedResNet as DilatedResNet,
)
from ._operators import (
    FourierFeatureMLP as FourierFeatureMLP,
)
from ._operators import (
    UNet as UNet,
)
from ._probconserv import ProbConserv as ProbConserv
from ._refiner import PDERefiner as PDERefiner
from ._refiner import SpectralPreconditioner as SpectralPreconditioner
from ._semilinear_operator import SemilinearOperator as SemilinearOperator
from ._vector_fields import FourierField as FourierField
from ._vector_fields import MLPField as MLPField
from ._vector_fields import SpectralConv1d as SpectralConv1d
