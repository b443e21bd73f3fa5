"""Reduced-order models (in progress, issue 7): conditional neural-field decoders and the
Φ-ROM latent velocity, the solver's right-hand side projected onto the decoder's latent
tangent space."""

from ._decoder import (
    ModulatedDecoder as ModulatedDecoder,
    SineDecoder as SineDecoder,
    decode as decode,
    decode_grid as decode_grid,
    domain_bounds as domain_bounds,
    grid_points as grid_points,
)
from ._physics import field_velocity as field_velocity, latent_velocity as latent_velocity
