"""Initial conditions: random ones take an explicit ``key``; named classics are exact."""

from ._classic import (
    breather as breather,
)
from ._classic import (
    gaussian_blob as gaussian_blob,
)
from ._classic import (
    kdv_soliton as kdv_soliton,
)
from ._classic import (
    kink as kink,
)
from ._classic import (
    sine as sine,
)
from ._classic import (
    taylor_green_vorticity as taylor_green_vorticity,
)
from ._random import (
    gaussian_random_field as gaussian_random_field,
)
from ._random import (
    gray_scott_seeds as gray_scott_seeds,
)
from ._random import (
    random_fourier as random_fourier,
)
from ._registry import INITIAL_CONDITIONS as INITIAL_CONDITIONS
