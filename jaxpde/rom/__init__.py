"""Reduced-order models: neural-field ROMs trained with the solver in the loop (Φ-ROM),
their data-driven (DINo-style) and PINN-ROM baselines, and POD-Galerkin."""

from ._data import SnapshotBatches as SnapshotBatches, sensor_indices as sensor_indices
from ._decoder import (
    ModulatedDecoder as ModulatedDecoder,
    SineDecoder as SineDecoder,
    decode as decode,
    decode_grid as decode_grid,
    domain_bounds as domain_bounds,
    grid_points as grid_points,
)
from ._losses import (
    METHODS as METHODS,
    latent_step as latent_step,
    physics_loss as physics_loss,
    reconstruction_loss as reconstruction_loss,
    rom_loss as rom_loss,
    trajectory_loss as trajectory_loss,
    velocity_pairs as velocity_pairs,
)
from ._model import (
    LatentDynamics as LatentDynamics,
    ReducedOrderModel as ReducedOrderModel,
    encode as encode,
    forecast as forecast,
)
from ._physics import (
    autodiff_velocity as autodiff_velocity,
    field_velocity as field_velocity,
    latent_velocity as latent_velocity,
    pointwise_rhs as pointwise_rhs,
)
from ._pipeline import (
    DECODERS as DECODERS,
    forecast_errors as forecast_errors,
    initial_model as initial_model,
    plot_errors as plot_errors,
    pod_errors as pod_errors,
    window_summary as window_summary,
)
from ._pod import PODGalerkin as PODGalerkin, pod as pod
