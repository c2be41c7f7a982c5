"""Static checks of the 17 skills. Importing this package registers every check."""

from services.skills.checks import base

__all__ = ["base"]
