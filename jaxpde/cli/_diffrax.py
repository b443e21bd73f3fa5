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
