"""python -m services.context"""

from devmatrix.runtime.server import run_service
from services.context.app import build

run_service("context", build)
