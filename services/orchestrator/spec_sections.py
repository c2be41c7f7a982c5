"""Markdown structure for the spec parser: sections, lists, tables and code blocks.

Specs arrive as loosely written markdown, so everything here is lenient: it never
fails, it only finds what it can. Fenced code is opaque to every scanner (a `#` in a
code block is a comment, not a heading; a `|` is an operator, not a table).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+#.-]*)")
_LIST_ITEM = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])\s+(.*)$")
_CHECKBOX = re.compile(r"^\[[ xX]\]\s*")
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


@dataclass
class RawSection:
    heading: str
    level: int
    body: str


@dataclass
class Document:
    title: str | None
    preamble: str
    sections: list[RawSection] = field(default_factory=list)


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Block:
    """One piece of a section body in reading order: a table, a code block or a line."""

    kind: str  # "table" | "code" | "line"
    text: str = ""
    lang: str = ""
    table: Table | None = None


def strip_md(text: str) -> str:
    """Inline markdown to plain text: links, emphasis and code spans lose their markup."""
    text = _LINK.sub(r"\1", text)
    text = text.replace("**", "").replace("__", "").replace("`", "")
    text = re.sub(r"(?<!\w)[*_](\S(?:.*?\S)?)[*_](?!\w)", r"\1", text)
    return text.strip()


def _fenced_lines(text: str) -> Iterator[tuple[str, bool]]:
    """Yield (line, inside_fence); fence delimiter lines count as inside."""
    fence: str | None = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)[:3]
            yield line, True
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            yield line, True
        else:
            yield line, False


def split_document(text: str) -> Document:
    """Title = first level-1 heading; levels 1-2 after it open top-level sections.

    Deeper headings stay inside their section's body so that section parsers can
    read them as sub-structure (e.g. one `### Entity` per entity).
    """
    title: str | None = None
    preamble: list[str] = []
    opened: list[tuple[str, int, list[str]]] = []
    for line, fenced in _fenced_lines(text):
        match = None if fenced else _HEADING.match(line)
        if match and len(match.group(1)) <= 2:
            heading, level = strip_md(match.group(2)), len(match.group(1))
            if title is None and level == 1:
                title = heading
            else:
                opened.append((heading, level, []))
            continue
        (opened[-1][2] if opened else preamble).append(line)
    sections = [RawSection(h, level, "\n".join(lines).strip("\n")) for h, level, lines in opened]
    return Document(title=title, preamble="\n".join(preamble).strip(), sections=sections)


def subsections(body: str) -> tuple[str, list[tuple[str, str]]]:
    """Split a section body at its own headings: (lead text, [(heading, body)])."""
    lead: list[str] = []
    subs: list[tuple[str, list[str]]] = []
    for line, fenced in _fenced_lines(body):
        match = None if fenced else _HEADING.match(line)
        if match:
            subs.append((strip_md(match.group(2)), []))
            continue
        (subs[-1][1] if subs else lead).append(line)
    return "\n".join(lead).strip(), [(h, "\n".join(lines).strip()) for h, lines in subs]


def _split_row(line: str) -> list[str]:
    row = line.strip()
    row = row.removeprefix("|")
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    cells = re.split(r"(?<!\\)\|", row)
    return [strip_md(cell.replace("\\|", "|")) for cell in cells]


def _make_table(lines: list[str]) -> Table:
    rows = [_split_row(line) for line in lines if not _TABLE_SEPARATOR.match(line.strip())]
    header = [cell.lower() for cell in rows[0]] if rows else []
    return Table(header=header, rows=[r for r in rows[1:] if any(r)])


def blocks(body: str) -> Iterator[Block]:
    """Tables, code blocks and remaining lines of a body, in reading order."""
    table_lines: list[str] = []
    code_lines: list[str] = []
    lang = ""
    in_code = False
    for line, fenced in _fenced_lines(body):
        if not fenced and line.strip().startswith("|"):
            table_lines.append(line)
            continue
        if table_lines:
            yield Block("table", table=_make_table(table_lines))
            table_lines = []
        if fenced:
            match = _FENCE.match(line)
            if not in_code and match:
                in_code, lang, code_lines = True, match.group(2).lower(), []
            elif in_code and match and not match.group(2):
                in_code = False
                yield Block("code", text="\n".join(code_lines), lang=lang)
            else:
                code_lines.append(line)
            continue
        yield Block("line", text=line)
    if table_lines:
        yield Block("table", table=_make_table(table_lines))
    if in_code:  # an unterminated fence still carries its code
        yield Block("code", text="\n".join(code_lines), lang=lang)


def tables(body: str) -> list[Table]:
    return [b.table for b in blocks(body) if b.kind == "table" and b.table is not None]


def code_blocks(body: str) -> list[tuple[str, str]]:
    return [(b.lang, b.text) for b in blocks(body) if b.kind == "code"]


def list_items(body: str, merge_nested: bool = True) -> list[str]:
    """List items (bullets, numbers, checkboxes) as plain text.

    Nested items are folded into their parent ("parent (child; child)") when
    merge_nested is set, because a requirement's sub-bullets qualify it rather than
    stand alone; wrapped continuation lines join the item they continue.
    """
    items: list[tuple[int, str, list[str]]] = []
    for block in blocks(body):
        if block.kind != "line":
            continue
        line = block.text
        match = _LIST_ITEM.match(line)
        if match and not _HEADING.match(line.strip()):
            indent = len(match.group(1).expandtabs(4))
            text = strip_md(_CHECKBOX.sub("", match.group(2).strip()))
            if merge_nested and items and indent > items[-1][0]:
                items[-1][2].append(text)
            else:
                items.append((indent, text, []))
        elif items and line.strip() and line[:1] in " \t":
            continuation = strip_md(line)
            if items[-1][2]:
                items[-1][2][-1] += " " + continuation
            else:
                items[-1] = (items[-1][0], items[-1][1] + " " + continuation, items[-1][2])
        elif not line.strip():
            continue
        elif not _HEADING.match(line):
            # Prose between lists ends the current item so it cannot swallow later children.
            items.append((10_000, "", []))
    result = []
    for _, text, children in items:
        if not text:
            continue
        result.append(f"{text} ({'; '.join(children)})" if children else text)
    return result


def paragraphs(body: str) -> list[str]:
    """Prose paragraphs of a body (no lists, tables, code or headings)."""
    result: list[str] = []
    current: list[str] = []
    for block in blocks(body):
        line = block.text.strip() if block.kind == "line" else ""
        if not line or _LIST_ITEM.match(block.text) or _HEADING.match(line):
            if current:
                result.append(" ".join(current))
                current = []
            continue
        current.append(strip_md(line))
    if current:
        result.append(" ".join(current))
    return result


def split_top(text: str, separators: str = ",") -> list[str]:
    """Split at separators that are not inside (), [], <> or {} (types like Decimal(10, 2))."""
    parts: list[str] = []
    depth = 0
    start = 0
    for i, char in enumerate(text):
        if char in "([{<":
            depth += 1
        elif char in ")]}>":
            depth = max(0, depth - 1)
        elif char in separators and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def normalize_heading(heading: str) -> str:
    """Lower-case words only: "2. Functional Requirements:" -> "functional requirements"."""
    text = strip_md(heading).lower().replace("&", " and ")
    text = re.sub(r"^\s*(?:\d+(?:\.\d+)*[.)]?|[ivx]+[.)])\s+", "", text)
    text = re.sub(r"non[\s_-]+functional", "nonfunctional", text)
    return " ".join(re.findall(r"[a-z0-9]+", text))
