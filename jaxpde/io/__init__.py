"""Input/output: HDF5 trajectory files with metadata, and recording a run into one
(:func:`record_trajectory`)."""

from ._hdf5 import (
    TrajectoryWriter as TrajectoryWriter,
    load_trajectory as load_trajectory,
    save_trajectory as save_trajectory,
)
from ._record import RecordedTrajectory as RecordedTrajectory, record_trajectory as record_trajectory
