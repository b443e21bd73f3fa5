"""Pseudo-spectral discretisations: semilinear PDEs, ETDRK and Störmer-Verlet steppers."""

from ._equations import (
    Advection as Advection,
)
from ._equations import (
    AdvectionDiffusion as AdvectionDiffusion,
)
from ._equations import (
    AllenCahn as AllenCahn,
)
from ._equations import (
    Burgers as Burgers,
)
from ._equations import (
    CahnHilliard as CahnHilliard,
)
from ._equations import (
    Diffusion as Diffusion,
)
from ._equations import (
    Dispersion as Dispersion,
)
from ._equations import (
    FisherKPP as FisherKPP,
)
from ._equations import (
    GrayScott as GrayScott,
)
from ._equations import (
    HyperDiffusion as HyperDiffusion,
)
from ._equations import (
    KortewegDeVries as KortewegDeVries,
)
from ._equations import (
    KuramotoSivashinsky as KuramotoSivashinsky,
)
from ._equations import (
    NavierStokes2D as NavierStokes2D,
)
from ._equations import (
    SwiftHohenberg as SwiftHohenberg,
)
from ._equations import (
    kolmogorov_flow as kolmogorov_flow,
)
from ._etdrk import ETDRK as ETDRK
from ._etdrk import AbstractFourierStepper as AbstractFourierStepper
from ._etdrk import ExactLinear as ExactLinear
from ._hamiltonian import (
    AbstractHamiltonianPDE as AbstractHamiltonianPDE,
)
from ._hamiltonian import (
    KleinGordon as KleinGordon,
)
from ._hamiltonian import (
    StormerVerlet as StormerVerlet,
)
from ._phi import phi_functions as phi_functions
from ._registry import EQUATIONS as EQUATIONS
from ._semilinear import AbstractLinearPDE as AbstractLinearPDE
from ._semilinear import AbstractSemilinearPDE as AbstractSemilinearPDE
