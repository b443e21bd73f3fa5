"""Input/output: HDF5 trajectory files with metadata."""

from ._hdf5 import (
    TrajectoryWriter as TrajectoryWriter,
    load_trajectory as load_trajectory,
    save_trajectory as save_trajectory,
)
