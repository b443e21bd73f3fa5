"""Metrics: errors, spectra, correlation over time."""

from ._metrics import (
    correlation as correlation,
)
from ._metrics import (
    correlation_time as correlation_time,
)
from ._metrics import (
    energy_spectrum as energy_spectrum,
)
from ._metrics import (
    high_correlation_time as high_correlation_time,
)
from ._metrics import (
    nrmse as nrmse,
)
from ._metrics import (
    spectrum_log_error as spectrum_log_error,
)
