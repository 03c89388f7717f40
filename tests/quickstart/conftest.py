"""The private Redis of the multi-node tests, for the README's two-process example."""

from tests.multinode.conftest import redis  # noqa: F401  (a session fixture)
