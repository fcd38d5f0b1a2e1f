"""Serve a bundled site (a folder of static files) over HTTP on 127.0.0.1 for one run.

:class:`SiteServer` wraps the standard library's ``ThreadingHTTPServer``: it binds a free port
on the loopback interface, serves one folder read-only from a daemon thread, sends
``Cache-Control: no-store`` so every run sees the files as they are on disk, logs nothing, and
stops on :meth:`close` (idempotent) or at the end of a ``with`` block.
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import urljoin

from screenpilot.agent.errors import ConfigError

HOST = "127.0.0.1"


class _QuietHandler(SimpleHTTPRequestHandler):
    """Static files without request logging and without browser caching."""

    def log_message(self, format: str, *args: object) -> None:
        """Drop access logs (runs print their own progress)."""

    def end_headers(self) -> None:
        """Add ``Cache-Control: no-store`` to every response."""
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class SiteServer:
    """Serves ``root`` at ``http://127.0.0.1:PORT/`` where PORT is free and chosen by the OS.

    ``start()`` (or entering the ``with`` block) binds and starts serving; :attr:`base_url`
    then ends with ``/``. Raises :class:`ConfigError` when ``root`` is not a folder.
    """

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise ConfigError(f"site folder not found: {root}")
        self.root = root.resolve()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> SiteServer:
        """Bind a free port and serve from a daemon thread; returns self (idempotent)."""
        if self._server is not None:
            return self
        handler = functools.partial(_QuietHandler, directory=str(self.root))
        server = ThreadingHTTPServer((HOST, 0), handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, name=f"site:{self.root.name}", daemon=True)
        thread.start()
        self._server, self._thread = server, thread
        return self

    @property
    def port(self) -> int:
        """The TCP port served on; RuntimeError before :meth:`start`."""
        if self._server is None:
            raise RuntimeError("the site server is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/``."""
        return f"http://{HOST}:{self.port}/"

    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` (e.g. ``/index.html?shift=1``) on this server."""
        return urljoin(self.base_url, path.lstrip("/"))

    def close(self) -> None:
        """Stop serving and release the port (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
