"""Initial conditions: random ones take an explicit ``key``; named classics are exact."""

from ._classic import (
    breather as breather,
    gaussian_blob as gaussian_blob,
    kdv_soliton as kdv_soliton,
    kink as kink,
    sine as sine,
    taylor_green_vorticity as taylor_green_vorticity,
)
from ._registry import INITIAL_CONDITIONS as INITIAL_CONDITIONS
from ._random import (
    gaussian_random_field as gaussian_random_field,
    gray_scott_seeds as gray_scott_seeds,
    random_fourier as random_fourier,
)
