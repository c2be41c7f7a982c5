"""Small helpers that write Python source the way `ruff format` would.

Generated files must pass the generated project's own `ruff format --check`
(line length 110), so calls are laid out like the formatter does: on one line
when they fit, else all arguments on one indented line, else one argument per
line with a trailing comma, recursing into arguments that are calls themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

LINE_LENGTH = 110
INDENT = "    "


def q(text: str) -> str:
    """A Python string literal with the quotes ruff prefers."""
    if '"' in text and "'" not in text:
        return "'" + text.replace("\\", "\\\\") + "'"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(value: object) -> str:
    """Source for a plain value: str, bool, int, float or None."""
    if isinstance(value, str):
        return q(value)
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return f"{value:_}"
    return repr(value)


@dataclass(frozen=True)
class Call:
    """`head(args...)`; an argument is source text or another Call."""

    head: str
    args: tuple[str | Call, ...] = ()

    def flat(self) -> str:
        return f"{self.head}({', '.join(a if isinstance(a, str) else a.flat() for a in self.args)})"


def render(call: Call | str, indent: int = 0, prefix: str = "", suffix: str = "") -> str:
    """Lines (joined, no final newline) for `prefix + call + suffix` at `indent` levels."""
    pad = INDENT * indent
    text = call if isinstance(call, str) else call.flat()
    if isinstance(call, str) or len(pad + prefix + text + suffix) <= LINE_LENGTH or not call.args:
        return pad + prefix + text + suffix
    inner = INDENT * (indent + 1)
    hugged = ", ".join(a if isinstance(a, str) else a.flat() for a in call.args)
    if len(inner + hugged) <= LINE_LENGTH:
        return f"{pad}{prefix}{call.head}(\n{inner}{hugged}\n{pad}){suffix}"
    lines = [render(a, indent + 1, suffix=",") for a in call.args]
    return f"{pad}{prefix}{call.head}(\n" + "\n".join(lines) + f"\n{pad}){suffix}"


def kwarg(name: str, value: str | Call) -> str | Call:
    """`name=value`, keeping a Call value splittable."""
    if isinstance(value, str):
        return f"{name}={value}"
    return Call(f"{name}={value.head}", value.args)


def imports(groups: list[dict[str, set[str]]], plain: list[set[str]] | None = None) -> str:
    """Import block sorted like ruff's isort: stdlib, third party, first party.

    Each group maps a module to the names imported from it; `plain` holds the
    `import x` modules of the same groups.
    """
    blocks = []
    for index, group in enumerate(groups):
        lines = sorted(f"import {m}" for m in (plain[index] if plain else set()))
        froms = []
        for module in sorted(m for m in group if group[m]):
            names = sorted(group[module], key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
            line = f"from {module} import {', '.join(names)}"
            if len(line) > LINE_LENGTH:
                line = f"from {module} import (\n" + "".join(f"{INDENT}{n},\n" for n in names) + ")"
            froms.append(line)
        block = "\n".join(lines + froms)
        if block:
            blocks.append(block)
    return "\n\n".join(blocks) + "\n"
