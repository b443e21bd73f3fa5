"""Plots and animations of trajectories (matplotlib, no global style changes)."""

from ._plots import (
    animate as animate,
)
from ._plots import plot_correlation_curves as plot_correlation_curves
from ._plots import (
    plot_error_curves as plot_error_curves,
)
from ._plots import (
    plot_flow as plot_flow,
)
from ._plots import (
    plot_fv_profiles as plot_fv_profiles,
)
from ._plots import (
    plot_snapshots as plot_snapshots,
)
from ._plots import (
    plot_spacetime as plot_spacetime,
)
from ._plots import (
    plot_spectra as plot_spectra,
)
