"""What the routes get from the app: its gRPC clients and its settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from devmatrix.runtime.config import Settings
from gateway.clients import Clients


def _clients(request: Request) -> Clients:
    return request.app.state.clients  # type: ignore[no-any-return]


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


ClientsDep = Annotated[Clients, Depends(_clients)]
SettingsDep = Annotated[Settings, Depends(_settings)]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        max_length=128,
        description="Makes a retried request return the first one's result instead of acting twice.",
    ),
]
