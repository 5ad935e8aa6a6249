"""Moved to tests/support/builders.py (the tests' shared library); kept so imports work."""

from tests.support.builders import *  # noqa: F403
from tests.support.builders import __all__ as __all__
