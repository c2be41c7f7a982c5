"""python -m services.patterns"""

from devmatrix.runtime.server import run_service
from services.patterns.app import build

run_service("patterns", build)
