"""Time integration: rollouts of any stepper."""

from ._rollout import rollout as rollout, rollout_final as rollout_final
