"""The Ghost Mailgun proxy example's tests (``examples/ghost_mailgun_proxy/tests``) in the project's suite.

They live with the example so that it can be copied out whole; this module imports them so that
``python -m pytest`` (``testpaths = ["tests"]``) runs them too. ``moto_server`` comes from
``tests/conftest.py``.
"""

from __future__ import annotations

from examples.ghost_mailgun_proxy.tests.fixtures import aws
from examples.ghost_mailgun_proxy.tests.test_proxy_crash import *  # noqa: F403
from examples.ghost_mailgun_proxy.tests.test_proxy_ghost import *  # noqa: F403
from examples.ghost_mailgun_proxy.tests.test_proxy_pure import *  # noqa: F403
from examples.ghost_mailgun_proxy.tests.test_proxy_reconcile import *  # noqa: F403
from examples.ghost_mailgun_proxy.tests.test_proxy_server import *  # noqa: F403
from examples.ghost_mailgun_proxy.tests.test_proxy_store import *  # noqa: F403

__all__ = ["aws"]
