"""python -m services.codegen"""

from devmatrix.runtime.server import run_service
from services.codegen.app import build

run_service("codegen", build)
