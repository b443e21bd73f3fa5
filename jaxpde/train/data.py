"""``jaxpde.train.data``: solver-generated datasets (HDF5 on disk, read lazily; online
inside the jitted step) and the batch sources of :func:`jaxpde.train.fit`."""

from ._data import (
    TrajectoryDataset as TrajectoryDataset,
    generate_dataset as generate_dataset,
    make_sampler as make_sampler,
    online_batches as online_batches,
)
from ._fit import DatasetBatches as DatasetBatches, OnlineBatches as OnlineBatches
