"""python -m services.orchestrator"""

from devmatrix.runtime.server import run_service
from services.orchestrator.app import build

run_service("orchestrator", build)
