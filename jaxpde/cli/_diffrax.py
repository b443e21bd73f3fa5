"""``jaxpde simulate`` with diffrax integrators (``integrator: adaptive | imex | sde``).

Spectral configs may replace the fixed-step ``stepper``/``dt``/``num_steps``/
``save_every`` keys with

.. code-block:: yaml

    integrator: imex            # adaptive | imex | sde
    solve: {solver: kencarp4, rtol: 1.0e-6, atol: 1.0e-6, dt0: 0.01, adaptive: true, max_steps: 100000}
    noise: {amplitude: 0.1, correlation_length: 0.5, dealias: 0.6667, multiplicative: false}  # sde only
    t_final: 100.0
    save_interval: 1.0

Defaults: ``solver`` is ``tsit5`` (adaptive), ``kencarp4`` (imex), ``shark`` (sde with
additive noise) or ``euler`` (sde with multiplicative noise); SDEs take fixed steps of
``dt0`` unless ``adaptive: true``.
"""


from dataclasses import dataclass
from pathlib import Path

from ._config import ConfigError, _number, _unknown

KINDS = ("adaptive", "imex", "sde")
SOLVE_KEYS = ("solver", "rtol", "atol", "dt0", "adaptive", "max_steps")
NOISE_KEYS = ("amplitude", "correlation_length", "dealias", "multiplicative")
FIXED_STEP_KEYS = ("stepper", "dt", "num_steps", "save_every")


@dataclass
class IntegratorConfig:
    kind: str
    solver: str
    rtol: float
    atol: float
    dt0: float | None
    adaptive: bool
    max_steps: int
    noise: dict | None
    t_final: float
    save_interval: float

    @property
    def num_frames(self) -> int:
        return int(round(self.t_final / self.save_interval))


def parse_integrator(raw: dict, file: str, equation: str) -> IntegratorConfig:
    """Validate the diffrax keys of a spectral config (``integrator`` present)."""
    from ..integrate import ODE_SOLVERS, SDE_SOLVERS

    kind = raw["integrator"]
    if kind not in KINDS:
        raise ConfigError(f"{file}: key 'integrator' must be one of {', '.join(KINDS)}, got {kind!r}")
    for k in FIXED_STEP_KEYS:
        if k in raw:
            raise ConfigError(
                f"{file}: key '{k}' belongs to the fixed-step integrator; with 'integrator: {kind}' "
                "use 't_final', 'save_interval' and the 'solve' section"
            )
    for k in ("t_final", "save_interval"):
        if k not in raw:
            raise ConfigError(f"{file}: missing required key '{k}' (needed with 'integrator: {kind}')")
    t_final = float(_number(raw["t_final"], "t_final", file, positive=True))
    save_interval = float(_number(raw["save_interval"], "save_interval", file, positive=True))
    frames = t_final / save_interval
    if abs(frames - round(frames)) > 1e-9 * max(1.0, frames):
        raise ConfigError(f"{file}: key 'save_interval' ({save_interval:g}) must divide t_final ({t_final:g})")
    if equation == "klein_gordon":
        raise ConfigError(f"{file}: key 'integrator': klein_gordon is second order in time; use its stormer_verlet stepper")

    solve = raw.get("solve") or {}
    if not isinstance(solve, dict):
        raise ConfigError(f"{file}: key 'solve' must be a mapping")
    for k in solve:
        if k not in SOLVE_KEYS:
            raise _unknown(f"solve.{k}", k, SOLVE_KEYS, file)
    noise = raw.get("noise")
    if kind == "sde":
        if not isinstance(noise, dict):
            raise ConfigError(f"{file}: 'integrator: sde' needs a 'noise' mapping (amplitude, correlation_length, ...)")
        for k in noise:
            if k not in NOISE_KEYS:
                raise _unknown(f"noise.{k}", k, NOISE_KEYS, file)
        if "amplitude" not in noise:
            raise ConfigError(f"{file}: missing required key 'noise.amplitude'")
        _number(noise["amplitude"], "noise.amplitude", file, nonnegative=True)
        if noise.get("correlation_length") is not None:
            _number(noise["correlation_length"], "noise.correlation_length", file, positive=True)
        if noise.get("dealias") is not None:
            d = _number(noise["dealias"], "noise.dealias", file, positive=True)
            if d > 1:
                raise ConfigError(f"{file}: key 'noise.dealias' must be in (0, 1], got {d}")
        if not isinstance(noise.get("multiplicative", False), bool):
            raise ConfigError(f"{file}: key 'noise.multiplicative' must be true or false")
    elif noise is not None:
        raise ConfigError(f"{file}: key 'noise' only applies with 'integrator: sde'")

    multiplicative = bool(noise and noise.get("multiplicative", False))
    default = {"adaptive": "tsit5", "imex": "kencarp4", "sde": "euler" if multiplicative else "shark"}[kind]
    solver = solve.get("solver", default)
    table = SDE_SOLVERS if kind == "sde" else ODE_SOLVERS
    if solver not in table:
        raise ConfigError(f"{file}: key 'solve.solver' must be one of {', '.join(sorted(table))}, got {solver!r}")
    if kind == "imex" and not solver.startswith("kencarp"):
        raise ConfigError(f"{file}: key 'solve.solver': 'integrator: imex' needs kencarp3, kencarp4 or kencarp5")
    rtol = float(_number(solve.get("rtol", 1e-6), "solve.rtol", file, positive=True))
    atol = float(_number(solve.get("atol", 1e-6), "solve.atol", file, positive=True))
    dt0 = solve.get("dt0")
    if dt0 is not None:
        dt0 = float(_number(dt0, "solve.dt0", file, positive=True))
    adaptive = solve.get("adaptive", kind != "sde")
    if not isinstance(adaptive, bool):
        raise ConfigError(f"{file}: key 'solve.adaptive' must be true or false")
    if dt0 is None and (kind == "sde" or not adaptive):
        raise ConfigError(f"{file}: missing required key 'solve.dt0' (the {'SDE ' if kind == 'sde' else ''}step size)")
    if kind == "sde" and adaptive and solver == "euler":
        raise ConfigError(f"{file}: key 'solve.solver': euler (Euler-Maruyama) cannot take adaptive steps; use spark or heun")
    max_steps = int(_number(solve.get("max_steps", 100_000), "solve.max_steps", file, integer=True, positive=True))
    return IntegratorConfig(
        kind=kind, solver=solver, rtol=rtol, atol=atol, dt0=dt0, adaptive=adaptive, max_steps=max_steps,
        noise=dict(noise) if noise else None, t_final=t_final, save_interval=save_interval,
    )
