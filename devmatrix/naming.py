"""Names derived from entity names, shared by the planner (which names each task's
expected output) and the code generator (which writes those files): both must agree."""

from __future__ import annotations

import re


def snake(name: str) -> str:
    """`OrderLine` -> `order_line`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def slug(name: str) -> str:
    """`OrderLine` -> `order-line` (the entity part of a plan key)."""
    return snake(name).replace("_", "-")


def plural(word: str) -> str:
    """English plural of a snake-case word, as table names are formed."""
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    return word + "s"
