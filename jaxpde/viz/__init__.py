"""Plots of trajectories (matplotlib, no global style changes)."""

from ._plots import plot_fv_profiles as plot_fv_profiles, plot_snapshots as plot_snapshots, plot_spacetime as plot_spacetime
