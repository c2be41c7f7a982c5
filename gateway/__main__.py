"""python -m gateway: the HTTP gateway on BIND_HOST:GATEWAY_PORT, served by uvicorn until
SIGTERM (open event streams get SHUTDOWN_GRACE_SECONDS to end)."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator

import uvicorn

from devmatrix.runtime.config import ConfigError, Settings
from devmatrix.runtime.logging import configure_logging, get_logger
from gateway.app import create_app


class _Server(uvicorn.Server):
    """uvicorn, except that SIGTERM / SIGINT end it with exit 0 like the services (uvicorn
    re-raises the signal once it has shut down, which would end the process by the signal)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def main() -> None:
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"gateway: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    if not settings.gateway_port:
        print("gateway: GATEWAY_PORT is 0: nothing to serve", file=sys.stderr)
        raise SystemExit(2)
    configure_logging(settings.log_level, service="gateway")
    log = get_logger("devmatrix.gateway")
    server = _Server(
        uvicorn.Config(
            create_app(settings),
            host=settings.bind_host,
            port=settings.gateway_port,
            log_config=None,  # uvicorn's own lines go through the root logger; requests are logged as JSON
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_seconds)),
        )
    )
    log.info("gateway_starting", host=settings.bind_host, port=settings.gateway_port)
    server.run()
    log.info("gateway_stopped")
    if not server.started:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
