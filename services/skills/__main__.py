"""python -m services.skills"""

from devmatrix.runtime.server import run_service
from services.skills.app import build

run_service("skills", build)
