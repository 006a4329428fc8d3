"""Hypothesis settings for sesflow's property tests.

Two profiles: ``sesflow`` (the default: about 100 examples per property, no deadline, so the suite stays fast
and does not flake on a slow machine) and ``sesflow-thorough`` (many more examples, for a long local run:
``SESFLOW_HYPOTHESIS_PROFILE=sesflow-thorough pytest tests/test_events_properties.py``).

Test modules decorate their properties with :data:`PROFILE` (or a variant built from it) rather than loading
a profile globally, so importing this module changes nothing for other tests.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "sesflow",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "sesflow-thorough",
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

PROFILE = settings.get_profile(os.environ.get("SESFLOW_HYPOTHESIS_PROFILE", "sesflow"))
"""The settings every property in the suite runs with."""


def fewer(examples: int) -> settings:
    """:data:`PROFILE` scaled down to ``examples`` per 100 (for properties run once per event type)."""
    return settings(PROFILE, max_examples=max(5, PROFILE.max_examples * examples // 100))
