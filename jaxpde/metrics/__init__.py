"""Metrics: errors, spectra, correlation over time."""

from ._metrics import (
    correlation as correlation,
    correlation_time as correlation_time,
    energy_spectrum as energy_spectrum,
    nrmse as nrmse,
)
