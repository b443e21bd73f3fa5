"""Incompressible Navier-Stokes on staggered (MAC) grids: face velocities, walls, lids,
inflow/outflow, periodic sides, an exact discrete projection through the elliptic solvers
of [`jaxpde.linalg`][jaxpde.linalg], and the classic validation data."""

from ._benchmarks import GHIA_RE100 as GHIA_RE100
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
