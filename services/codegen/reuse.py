"""Which offered patterns a generation reused, so their outcomes can be recorded.

The two generators say it differently. The offline generator composes from its golden
library and never reads the offered code, so it reused a stored pattern only when it
reproduced it: the pattern's code is one of its files, trailing whitespace aside (a task
generated again from an unchanged spec gives the file an earlier run stored). Its files
are compared as composed and as ApplyStandards returned them (the pipeline does the
latter), because the stored code is the formatted one. The
Anthropic generator is shown the patterns and lists the names it used; those names
are mapped back to the offered patterns' ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from services.codegen.domain import PatternRef, SourceFileOut


def _normalized(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.rstrip().splitlines())


def reproduced(patterns: Sequence[PatternRef], files: Iterable[SourceFileOut]) -> tuple[str, ...]:
    """Ids of offered patterns whose code equals one of `files`, in offer order."""
    contents = {_normalized(f.content) for f in files}
    contents.discard("")
    return tuple(dict.fromkeys(p.id for p in patterns if p.id and _normalized(p.code) in contents))


def named(patterns: Sequence[PatternRef], names: Iterable[str]) -> tuple[str, ...]:
    """Ids of offered patterns whose names the model reported as used, in offer order."""
    used = set(names)
    return tuple(dict.fromkeys(p.id for p in patterns if p.id and p.name in used))
