"""global-error-handling for Python: bare and catch-all handlers, swallowed exceptions,
exceptions re-raised without their cause, files opened outside a context manager."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from services.skills.checks.base import Finding, Severity, SourceFile, check
from services.skills.checks.python.source import call_name, caught_names, nodes, walk_scope

SKILL = "global-error-handling"
PY = ["python"]

BROAD = {"Exception", "BaseException"}
LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "fatal", "log", "msg"}
# Calls that report an error as well as a logger does.
REPORTING_CALLS = {"warnings.warn", "traceback.print_exc", "traceback.print_exception", "sys.exit"}


def _is_empty(body: list[ast.stmt]) -> bool:
    """A handler body that does nothing with the error: pass, `...`, continue, break."""
    for statement in body:
        if isinstance(statement, ast.Pass | ast.Continue | ast.Break):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # `...` or a string
        return False
    return True


def _handles(handler: ast.ExceptHandler) -> bool:
    """Does the handler re-raise, log or report the error, or use the exception object
    (wrap it, store it, set it on a future)? Any of these means it is not swallowed."""
    for node in walk_scope(handler):
        if isinstance(node, ast.Raise):
            return True
        if isinstance(node, ast.Name) and handler.name and node.id == handler.name:
            return True
        if isinstance(node, ast.Call):
            name = call_name(node)
            method = name.rsplit(".", 1)[-1]
            receiver = name.rsplit(".", 1)[0].lower() if "." in name else ""
            if method in LOG_METHODS and ("log" in receiver or receiver == "structlog"):
                return True
            if name in REPORTING_CALLS:
                return True
    return False


@check(SKILL, "bare-except", PY)
def bare_except(source: SourceFile) -> Iterator[Finding]:
    """`except:` with no exception class; it even catches KeyboardInterrupt."""
    for handler in nodes(source, ast.ExceptHandler):
        if handler.type is None:
            yield source.finding(
                SKILL,
                "bare-except",
                handler.lineno,
                "bare `except:` catches everything, KeyboardInterrupt included; catch the specific exceptions",
            )


@check(SKILL, "swallowed-exception", PY)
def swallowed_exception(source: SourceFile) -> Iterator[Finding]:
    """Handlers whose body is only pass/.../continue: the error vanishes."""
    for handler in nodes(source, ast.ExceptHandler):
        if not _is_empty(handler.body):
            continue
        caught = caught_names(handler)
        broad = not caught or BROAD & set(caught)
        what = ", ".join(caught) or "every exception"
        yield source.finding(
            SKILL,
            "swallowed-exception",
            handler.lineno,
            f"the handler of {what} silently discards the error; "
            + ("handle, log or re-raise it" if broad else "use contextlib.suppress to make that explicit"),
            # Swallowing one named exception is often deliberate (a fallback): a hint.
            Severity.ERROR if broad else Severity.INFO,
        )


@check(SKILL, "broad-except", PY)
def broad_except(source: SourceFile) -> Iterator[Finding]:
    """`except Exception` that neither re-raises, logs nor uses the error."""
    for handler in nodes(source, ast.ExceptHandler):
        caught = set(caught_names(handler))
        # An empty body is reported once, by swallowed-exception.
        if caught & BROAD and not _is_empty(handler.body) and not _handles(handler):
            yield source.finding(
                SKILL,
                "broad-except",
                handler.lineno,
                f"`except {'/'.join(sorted(caught & BROAD))}` hides the error: it is neither re-raised, "
                "logged nor used; catch the specific exceptions or log and re-raise",
            )


@check(SKILL, "raise-without-from", PY)
def raise_without_from(source: SourceFile) -> Iterator[Finding]:
    """A new exception raised in an except block without `from`: the cause is lost."""
    reported: set[int] = set()  # a raise in a nested handler is inside both handlers
    for handler in nodes(source, ast.ExceptHandler):
        for node in walk_scope(handler):
            # Only a newly built exception loses its cause; `raise error` re-raises an
            # existing object, whose context Python keeps.
            if (
                not isinstance(node, ast.Raise)
                or not isinstance(node.exc, ast.Call)
                or node.cause is not None
            ):
                continue
            if id(node) in reported:
                continue
            reported.add(id(node))
            yield source.finding(
                SKILL,
                "raise-without-from",
                node.lineno,
                f"raise {call_name(node.exc) or 'of a new exception'} inside an except block without `from`; "
                "chain it (`from error`) or say `from None` on purpose",
                Severity.WARNING,
            )


@check(SKILL, "unmanaged-resource", PY)
def unmanaged_resource(source: SourceFile) -> Iterator[Finding]:
    """open() outside a `with` block: a failure leaks the file handle."""
    managed: set[int] = set()
    for block in nodes(source, ast.With, ast.AsyncWith):
        managed.update(id(item.context_expr) for item in block.items)
    for handed_back in nodes(source, ast.Return, ast.Yield):
        if handed_back.value is not None:
            managed.add(id(handed_back.value))  # the caller owns what is handed back
    calls = nodes(source, ast.Call)
    for call in calls:
        if call_name(call).endswith("enter_context"):
            managed.update(id(arg) for arg in call.args)
    for call in calls:
        if call_name(call) == "open" and id(call) not in managed:
            yield source.finding(
                SKILL,
                "unmanaged-resource",
                call.lineno,
                "open() outside a `with` block leaks the file if anything fails; use `with open(...)`",
                Severity.WARNING,
            )
