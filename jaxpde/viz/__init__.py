"""Plots and animations of trajectories (matplotlib, no global style changes)."""

from ._plots import (
    animate as animate,
    plot_error_curves as plot_error_curves,
    plot_fv_profiles as plot_fv_profiles,
    plot_snapshots as plot_snapshots,
    plot_spacetime as plot_spacetime,
)
