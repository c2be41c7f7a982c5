"""What each context level holds and its byte budget (1 KB = 1024 bytes)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Level(enum.Enum):
    MINIMAL = "minimal"
    STANDARD = "standard"
    EXTENDED = "extended"


@dataclass(frozen=True)
class LevelSpec:
    level: Level
    budget_bytes: int
    patterns: int  # top-K patterns shown
    pattern_code_lines: int
    pattern_line_chars: int
    # Standard and extended sections.
    expected_output: bool
    parent_goal: bool
    spec: bool
    requirements: int  # most relevant spec requirements shown
    overview_chars: int
    wave_tasks: int
    skill_guidelines: int  # guidelines per skill (0: no guidelines section)
    dependency_detail: bool  # descriptions and criteria of dependencies
    dependents: bool


LEVELS: dict[Level, LevelSpec] = {
    Level.MINIMAL: LevelSpec(
        Level.MINIMAL,
        budget_bytes=3 * 1024,
        patterns=3,
        pattern_code_lines=6,
        pattern_line_chars=100,
        expected_output=False,
        parent_goal=False,
        spec=False,
        requirements=0,
        overview_chars=0,
        wave_tasks=0,
        skill_guidelines=0,
        dependency_detail=False,
        dependents=False,
    ),
    Level.STANDARD: LevelSpec(
        Level.STANDARD,
        budget_bytes=8 * 1024,
        patterns=5,
        pattern_code_lines=25,
        pattern_line_chars=120,
        expected_output=True,
        parent_goal=True,
        spec=True,
        requirements=12,
        overview_chars=600,
        wave_tasks=10,
        skill_guidelines=4,
        dependency_detail=False,
        dependents=False,
    ),
    Level.EXTENDED: LevelSpec(
        Level.EXTENDED,
        budget_bytes=15 * 1024,
        patterns=5,
        pattern_code_lines=80,
        pattern_line_chars=160,
        expected_output=True,
        parent_goal=True,
        spec=True,
        requirements=40,
        overview_chars=4000,
        wave_tasks=20,
        skill_guidelines=12,
        dependency_detail=True,
        dependents=True,
    ),
}

# Patterns searched once per task and shared by every level.
PATTERN_SEARCH_TOP_K = max(spec.patterns for spec in LEVELS.values())
