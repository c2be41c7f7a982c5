"""Budget enforcement over prioritized sections, and the assembled context.

Priority 0 sections (the task and its acceptance criteria) are never cut. The others are
admitted by priority (lower number first): whole when they fit, trimmed to what is left
when at least MIN_TRIM_BYTES is, dropped otherwise. Priority 1 sections (dependencies,
required skills, expected output: facts an agent cannot guess) always get at least
ESSENTIAL_FLOOR_BYTES, even past the budget. The text keeps the display order."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from devmatrix.stores.tokens import TOKEN_COUNTER, count_tokens

NEVER_CUT = 0
ESSENTIAL = 1
MIN_TRIM_BYTES = 160
ESSENTIAL_FLOOR_BYTES = 512
TRIM_MARK = "\n[... trimmed to fit the context budget]\n\n"
FENCE = "\n```"


@dataclass
class Section:
    name: str
    content: str
    priority: int
    # Left out because its source service was slow or down (content is then empty).
    degraded: bool = False
    trimmed: bool = False
    bytes: int = 0
    tokens: int = 0


@dataclass
class Assembled:
    task_id: str
    level: str
    text: str
    sections: list[Section]
    total_bytes: int
    token_count: int
    budget_bytes: int
    trimmed_sections: list[str] = field(default_factory=list)
    dropped_sections: list[str] = field(default_factory=list)
    degraded_sections: list[str] = field(default_factory=list)
    token_counter: str = TOKEN_COUNTER
    cache_hit: bool = False

    def to_bytes(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Assembled:
        data = json.loads(raw)
        data["sections"] = [Section(**s) for s in data["sections"]]
        return cls(**data)


def section_text(heading: str, lines: list[str]) -> str:
    """A section's content: a markdown heading, the body, one blank line after it. Every
    section ends in whitespace, so token counts of sections add up to the text's."""
    body = "\n".join(lines).strip()
    return f"## {heading}\n{body}\n\n"


def trim_to(content: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes including the trim mark, cut at a line end when possible."""
    room = limit - len(TRIM_MARK.encode()) - len(FENCE)
    if room <= 0:
        return ""
    cut = content.encode()[:room].decode("utf-8", errors="ignore")
    newline = cut.rfind("\n")
    if newline > len(cut) // 2:
        cut = cut[:newline]
    cut = cut.rstrip()
    if cut.count("```") % 2:  # cut inside a code block: close it
        cut += FENCE
    return cut + TRIM_MARK


def enforce_budget(sections: list[Section], budget: int) -> tuple[list[Section], list[str], list[str]]:
    """Sections that fit `budget` (display order kept), the names trimmed and dropped."""
    kept: dict[str, Section] = {}
    trimmed: list[str] = []
    dropped: list[str] = []
    used = sum(len(s.content.encode()) for s in sections if s.priority == NEVER_CUT)
    for section in sections:
        if section.priority == NEVER_CUT or section.degraded:
            kept[section.name] = section
    for section in sorted(
        (s for s in sections if s.priority != NEVER_CUT and not s.degraded), key=lambda s: s.priority
    ):
        size = len(section.content.encode())
        left = budget - used
        if section.priority == ESSENTIAL:
            left = max(left, ESSENTIAL_FLOOR_BYTES)
        if size <= left:
            kept[section.name] = section
            used += size
        elif left >= MIN_TRIM_BYTES:
            cut = dataclasses.replace(section, content=trim_to(section.content, left), trimmed=True)
            kept[section.name] = cut
            used += len(cut.content.encode())
            trimmed.append(section.name)
        else:
            dropped.append(section.name)
    return [kept[s.name] for s in sections if s.name in kept], trimmed, dropped


def assemble(task_id: str, level: str, sections: list[Section], budget: int) -> Assembled:
    chosen, trimmed, dropped = enforce_budget(sections, budget)
    for section in chosen:
        section.bytes = len(section.content.encode())
        section.tokens = count_tokens(section.content)
    text = "".join(s.content for s in chosen)
    return Assembled(
        task_id=task_id,
        level=level,
        text=text,
        sections=chosen,
        total_bytes=len(text.encode()),
        token_count=count_tokens(text),
        budget_bytes=budget,
        trimmed_sections=trimmed,
        dropped_sections=dropped,
        degraded_sections=[s.name for s in chosen if s.degraded],
    )
