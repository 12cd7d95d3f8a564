"""Serve the web app with uvicorn in a background thread: start, port, stop.

The live service calls `WebServer(app, hub, config).start()` after building the pipeline and
`stop()` before shutting the service down. Open event streams are ended first, so stopping
never waits on a tablet that keeps its connection open.
"""

import logging
import threading
import time

import uvicorn
from starlette.types import ASGIApp

from edge.config.web import WebConfig
from edge.web.hub import EventHub
from edge.web.store_link import StoreLink

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
_POLL_S = 0.01


class WebServerError(RuntimeError):
    """The server did not start (port taken, bad TLS files)."""


class WebServer:
    """uvicorn on `config.host:config.port` (or `port` given here), in a daemon thread; with
    the store view's broker link started after it and stopped before it."""

    def __init__(
        self,
        app: ASGIApp,
        hub: EventHub,
        config: WebConfig,
        port: int | None = None,
        store: StoreLink | None = None,
    ) -> None:
        self._hub, self._store = hub, store
        self._config = uvicorn.Config(
            app,
            host=config.host,
            port=config.port if port is None else port,
            ssl_certfile=str(config.tls_cert_file) if config.tls_cert_file else None,
            ssl_keyfile=str(config.tls_key_file) if config.tls_key_file else None,
            log_config=None,  # our logging setup stays in charge
            access_log=False,  # request lines would carry client addresses
            proxy_headers=False,  # no proxy in front: X-Forwarded-For must not move a client
            server_header=False,
            timeout_graceful_shutdown=1,
            lifespan="on",
        )
        self._server = uvicorn.Server(self._config)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start serving; returns once the socket listens (raises `WebServerError` if not)."""
        self._thread = threading.Thread(target=self._run, name="web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise WebServerError(
                    f"web server did not start on {self._config.host}:{self._config.port}"
                )
            time.sleep(_POLL_S)
        logger.info("Web pages served on %s:%d", self._config.host, self.port)
        if self._store is not None:
            self._store.start()

    def _run(self) -> None:
        try:
            self._server.run()
        except SystemExit as exc:  # uvicorn exits when it cannot bind; it logged why
            logger.error("Web server stopped at start (exit status %s)", exc.code)

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        for server in self._server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self._config.port

    def stop(self) -> None:
        """End the streams, stop serving, and wait for the thread."""
        if self._store is not None:
            self._store.stop()
        self._hub.end_streams()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
            if self._thread.is_alive():
                logger.warning("Web server thread still running after %.0f s", STOP_TIMEOUT_S)
        logger.info("Web pages stopped")
