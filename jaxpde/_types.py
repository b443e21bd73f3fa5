"""Shape-annotated array aliases shared across jaxpde."""

from typing import Any, TypeAlias

from jaxtyping import Array, Complex, Float, Inexact

Field: TypeAlias = Float[Array, "c *n"]
"""A physical-space state: channel axis first, then one axis per spatial dimension."""

SpectralField: TypeAlias = Complex[Array, "c *k"]
"""A state in rfft space (last axis has ``N // 2 + 1`` modes)."""

Trajectory: TypeAlias = Float[Array, "t c *n"]
"""A stack of saved states along a leading time axis."""

Scalar: TypeAlias = Inexact[Array, ""] | float
Args: TypeAlias = Any
