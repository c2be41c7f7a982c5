"""What every `devmatrix` command shares: the consoles, settings loading, and running a
command so that any failure is one line on stderr with a non-zero exit."""

from __future__ import annotations

import asyncio
import os
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import grpc
import typer
from rich.console import Console
from rich.markup import escape

from devmatrix.runtime.channels import describe_rpc_error
from devmatrix.runtime.config import ConfigError, Settings
from devmatrix.runtime.errors import DomainError
from devmatrix.runtime.logging import configure_logging

out = Console()
# soft_wrap: an error stays one line (a non-terminal stderr would be hard-wrapped at 80 columns).
err = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Embedded data directory (default: $DEVMATRIX_DATA_DIR or ./.devmatrix)"),
]


def load_settings(data_dir: Path | None) -> Settings:
    if data_dir is not None:
        os.environ["DEVMATRIX_DATA_DIR"] = str(data_dir)
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        err.print(f"[red]error:[/] configuration: {escape(str(error))}", highlight=False)
        raise typer.Exit(2) from None
    # The in-process mesh logs only problems; `devmatrix up` keeps the services' JSON logs.
    configure_logging("WARNING")
    warnings.filterwarnings("ignore", category=Warning, module="platformdirs")
    return settings


def run(main: Callable[[], Awaitable[int]]) -> None:
    """Run a command; any failure is one line on stderr and a non-zero exit."""
    try:
        code = asyncio.run(main())
    except grpc.aio.AioRpcError as error:
        err.print(f"[red]error:[/] {escape(describe_rpc_error(error))}", highlight=False)
        raise typer.Exit(1) from None
    except DomainError as error:
        err.print(f"[red]error:[/] {error.code.name}: {escape(error.message)}", highlight=False)
        raise typer.Exit(1) from None
    except OSError as error:
        err.print(f"[red]error:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    raise typer.Exit(code)
