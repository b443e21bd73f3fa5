"""Input/output: HDF5 trajectory files with metadata, and recording a run into one
([`record_trajectory`][jaxpde.io.record_trajectory])."""

from ._hdf5 import (
    TrajectoryWriter as TrajectoryWriter,
)
from ._hdf5 import (
    load_trajectory as load_trajectory,
)
from ._hdf5 import (
    save_trajectory as save_trajectory,
)
from ._record import RecordedTrajectory as RecordedTrajectory
from ._record import record_trajectory as record_trajectory
