"""Reduced-order models: neural-field ROMs trained with the solver in the loop (Φ-ROM),
their data-driven (DINo-style) and PINN-ROM baselines, and POD-Galerkin."""

from ._data import SnapshotBatches as SnapshotBatches
from ._data import sensor_indices as sensor_indices
from ._decoder import (
    ModulatedDecoder as ModulatedDecoder,
)
from ._decoder import (
    SineDecoder as SineDecoder,
)
from ._decoder import (
    decode as decode,
)
from ._decoder import (
    decode_grid as decode_grid,
)
from ._decoder import (
    domain_bounds as domain_bounds,
)
from ._decoder import (
    grid_points as grid_points,
)
from ._losses import (
    METHODS as METHODS,
)
from ._losses import (
    fit_dynamics as fit_dynamics,
)
from ._losses import (
    gradient_ratio as gradient_ratio,
)
from ._losses import (
    latent_step as latent_step,
)
from ._losses import (
    physics_loss as physics_loss,
)
from ._losses import (
    reconstruction_loss as reconstruction_loss,
)
from ._losses import (
    rom_loss as rom_loss,
)
from ._losses import (
    trajectory_loss as trajectory_loss,
)
from ._losses import (
    velocity_pairs as velocity_pairs,
)
from ._model import (
    LatentDynamics as LatentDynamics,
)
from ._model import (
    ReducedOrderModel as ReducedOrderModel,
)
from ._model import (
    encode as encode,
)
from ._model import (
    forecast as forecast,
)
from ._physics import (
    autodiff_velocity as autodiff_velocity,
)
from ._physics import (
    field_velocity as field_velocity,
)
from ._physics import (
    latent_velocity as latent_velocity,
)
from ._physics import (
    pointwise_rhs as pointwise_rhs,
)
from ._pipeline import (
    DECODERS as DECODERS,
)
from ._pipeline import (
    forecast_errors as forecast_errors,
)
from ._pipeline import (
    initial_model as initial_model,
)
from ._pipeline import (
    part_labels as part_labels,
)
from ._pipeline import (
    partitioned_optimiser as partitioned_optimiser,
)
from ._pipeline import (
    plot_errors as plot_errors,
)
from ._pipeline import (
    pod_errors as pod_errors,
)
from ._pipeline import (
    projection_errors as projection_errors,
)
from ._pipeline import (
    window_summary as window_summary,
)
from ._pod import PODGalerkin as PODGalerkin
from ._pod import pod as pod
