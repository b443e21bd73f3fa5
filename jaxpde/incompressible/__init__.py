"""Incompressible Navier-Stokes on staggered (MAC) grids: face velocities, walls, lids,
inflow/outflow, periodic sides, immersed obstacles (Brinkman penalisation of a smooth
solid fraction), an exact discrete projection through the elliptic solvers
of [`jaxpde.linalg`][jaxpde.linalg], and the classic validation data."""

from ._benchmarks import DFG as DFG
from ._benchmarks import GHIA_RE100 as GHIA_RE100
from ._benchmarks import dfg_channel as dfg_channel
from ._benchmarks import shedding_frequency as shedding_frequency
from ._boundary import BOUNDARY_CONDITIONS as BOUNDARY_CONDITIONS
from ._boundary import AbstractVelocityBC as AbstractVelocityBC
from ._boundary import FreeSlip as FreeSlip
from ._boundary import Inflow as Inflow
from ._boundary import Outflow as Outflow
from ._boundary import Periodic as Periodic
from ._boundary import Wall as Wall
from ._boundary import normalise_velocity_bc as normalise_velocity_bc
from ._navier_stokes import NavierStokes as NavierStokes
from ._navier_stokes import cfl_dt as cfl_dt
from ._obstacle import AbstractObstacle as AbstractObstacle
from ._obstacle import Circle as Circle
from ._obstacle import StarShape as StarShape
from ._obstacle import face_coordinates as face_coordinates
from ._obstacle import smooth_heaviside as smooth_heaviside
from ._obstacle import solid_fraction as solid_fraction
from ._stepper import CrankNicolson as CrankNicolson
