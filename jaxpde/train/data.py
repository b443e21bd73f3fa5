"""``jaxpde.train.data``: solver-generated datasets (HDF5 on disk, read lazily; online
inside the jitted step) and the batch sources of [`jaxpde.train.fit`][jaxpde.train.fit]."""

from ._data import (
    TrajectoryDataset as TrajectoryDataset,
)
from ._data import (
    generate_dataset as generate_dataset,
)
from ._data import (
    make_sampler as make_sampler,
)
from ._data import (
    online_batches as online_batches,
)
from ._fit import DatasetBatches as DatasetBatches
from ._fit import OnlineBatches as OnlineBatches
