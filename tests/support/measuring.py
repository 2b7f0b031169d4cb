"""Which processes of a test run report coverage.

``make test`` measures subprocesses through coverage's ``patch = subprocess``: every
Python process that inherits the ``COVERAGE_*`` variables traces itself. A process that
runs only code this test process runs already is started without them, since tracing
would only slow it down (2-5 times, libraries included, on Python 3.11).
"""

from __future__ import annotations

import os
from typing import Dict, Mapping, Optional


def is_coverage_variable(name: str) -> bool:
    return name.startswith("COVERAGE_")


def unmeasured_environment(env: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """``env`` (``os.environ`` by default) without coverage's variables."""
    source = os.environ if env is None else env
    return {k: v for k, v in source.items() if not is_coverage_variable(k)}
