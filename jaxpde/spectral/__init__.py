"""Pseudo-spectral discretisations: semilinear PDEs, ETDRK and Störmer-Verlet steppers."""

from ._equations import (
    Advection as Advection,
    AdvectionDiffusion as AdvectionDiffusion,
    AllenCahn as AllenCahn,
    Burgers as Burgers,
    CahnHilliard as CahnHilliard,
    Diffusion as Diffusion,
    Dispersion as Dispersion,
    FisherKPP as FisherKPP,
    GrayScott as GrayScott,
    HyperDiffusion as HyperDiffusion,
    KortewegDeVries as KortewegDeVries,
    KuramotoSivashinsky as KuramotoSivashinsky,
    NavierStokes2D as NavierStokes2D,
    SwiftHohenberg as SwiftHohenberg,
    kolmogorov_flow as kolmogorov_flow,
)
from ._etdrk import AbstractFourierStepper as AbstractFourierStepper, ETDRK as ETDRK, ExactLinear as ExactLinear
from ._hamiltonian import (
    AbstractHamiltonianPDE as AbstractHamiltonianPDE,
    KleinGordon as KleinGordon,
    StormerVerlet as StormerVerlet,
)
from ._registry import EQUATIONS as EQUATIONS
from ._phi import phi_functions as phi_functions
from ._semilinear import AbstractLinearPDE as AbstractLinearPDE, AbstractSemilinearPDE as AbstractSemilinearPDE
