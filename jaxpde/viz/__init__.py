"""Plots of trajectories."""

from ._plots import plot_snapshots as plot_snapshots, plot_spacetime as plot_spacetime
