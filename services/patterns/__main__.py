"""python -m services.patterns"""

import sys

from devmatrix.runtime.errors import DomainError
from devmatrix.runtime.server import run_service
from services.patterns.app import build

try:
    run_service("patterns", build)
except DomainError as error:  # a malformed golden library, an unloadable model: one line, no traceback
    print(f"patterns: cannot start: {error}", file=sys.stderr)
    raise SystemExit(2) from None
