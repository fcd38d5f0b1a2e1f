"""A private X server (Xvfb) for running the desktop executor without a real screen.

:class:`VirtualDisplay` starts ``Xvfb`` on a display number the server picks itself
(``-displayfd``), protects it with a fresh MIT-MAGIC-COOKIE written to its own XAUTHORITY
file, waits until it accepts connections, launches applications on it, and on close stops
exactly the processes it started (each in its own process group), then removes its files.

Nothing here touches ``os.environ``: :attr:`VirtualDisplay.env` is the environment a client
of the display needs (``DISPLAY`` and ``XAUTHORITY`` added to a copy of the caller's).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import select
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from screenpilot.agent.errors import ConfigError, ExecutorError

INSTALL_HINT = "install it with: sudo apt-get install xvfb xauth (Debian/Ubuntu) or dnf install xorg-x11-server-Xvfb"

_FAMILY_LOCAL = 256
_FAMILY_WILD = 65535
_COOKIE_NAME = b"MIT-MAGIC-COOKIE-1"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec (Linux): receive SIGTERM when the parent thread dies, so that a
    killed Python (SIGKILL, a timeout) leaves no orphaned server or application behind."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def xauth_entry(family: int, address: bytes, number: bytes, cookie: bytes) -> bytes:
    """One record of an Xauthority file (the binary format libXau and python-xlib read).

    Each field is a big-endian 16-bit length followed by the bytes; ``family`` is a bare
    16-bit value.
    """
    out = struct.pack(">H", family)
    for field in (address, number, _COOKIE_NAME, cookie):
        out += struct.pack(">H", len(field)) + field
    return out


class VirtualDisplay:
    """An Xvfb server of ``width`` x ``height`` pixels at ``depth`` bits, used as a context manager.

    ``start()`` (or entering the ``with`` block) starts the server and returns self; after it,
    :attr:`display` is e.g. ``":7"``, :attr:`xauthority` the cookie file, :attr:`env` the
    environment for clients and :attr:`pid` the server's process id. :meth:`launch` starts an
    application on the display. :meth:`close` (idempotent) stops every process this object
    started, server last, and deletes the temporary folder. On Linux the server and the
    applications also get SIGTERM when the thread that started them dies (so start them from
    a thread that lives as long as the display, normally the main thread).

    Raises :class:`ConfigError` when the ``Xvfb`` binary is missing and :class:`ExecutorError`
    when the server does not come up within ``start_timeout_s`` seconds.
    """

    def __init__(
        self,
        width: int,
        height: int,
        depth: int = 24,
        *,
        start_timeout_s: float = 10.0,
        base_env: Mapping[str, str] | None = None,
    ) -> None:
        if width < 1 or height < 1:
            raise ConfigError(f"virtual display size must be positive, got {width}x{height}")
        if depth not in (8, 16, 24, 32):
            raise ConfigError(f"virtual display depth must be 8, 16, 24 or 32, got {depth}")
        self.width = width
        self.height = height
        self.depth = depth
        self.start_timeout_s = start_timeout_s
        self._base_env = dict(os.environ if base_env is None else base_env)
        self._server: subprocess.Popen[bytes] | None = None
        self._children: list[subprocess.Popen[bytes]] = []
        self._tmpdir: Path | None = None
        self._display: str | None = None
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> VirtualDisplay:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> VirtualDisplay:
        """Start the server and wait until it accepts connections; returns self."""
        if self._server is not None:
            return self
        if self._closed:
            raise ExecutorError("this VirtualDisplay was closed; create a new one")
        binary = shutil.which("Xvfb", path=self._base_env.get("PATH"))
        if binary is None:
            raise ConfigError(f"Xvfb was not found on PATH; {INSTALL_HINT}")
        self._tmpdir = Path(tempfile.mkdtemp(prefix="screenpilot-xvfb-"))
        cookie = secrets.token_bytes(16)
        auth_path = self._tmpdir / "Xauthority"
        auth_path.write_bytes(xauth_entry(_FAMILY_WILD, b"", b"", cookie))
        auth_path.chmod(0o600)
        read_fd, write_fd = os.pipe()
        try:
            self._server = subprocess.Popen(
                [
                    binary, "-displayfd", str(write_fd), "-screen", "0",
                    f"{self.width}x{self.height}x{self.depth}", "-auth", str(auth_path),
                    "-nolisten", "tcp", "-noreset",
                ],
                pass_fds=(write_fd,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=open(self._tmpdir / "Xvfb.log", "wb"),  # noqa: SIM115 - closed below
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        except BaseException:
            os.close(read_fd)
            os.close(write_fd)
            self.close()
            raise
        os.close(write_fd)
        try:
            number = self._read_display_number(read_fd)
            self._display = f":{number}"
            self._write_client_cookie(auth_path, number, cookie)
            self._wait_for_socket(number)
        except BaseException:
            self.close()
            raise
        finally:
            os.close(read_fd)
        return self

    def _read_display_number(self, read_fd: int) -> int:
        assert self._server is not None
        deadline = time.monotonic() + self.start_timeout_s
        data = b""
        while not data.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ExecutorError(f"Xvfb did not start within {self.start_timeout_s:g} s{self._log_tail()}")
            ready, _, _ = select.select([read_fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(read_fd, 64)
            if not chunk:
                code = self._server.wait(timeout=self.start_timeout_s)
                raise ExecutorError(f"Xvfb exited with status {code} before it was ready{self._log_tail()}")
            data += chunk
        return int(data.strip())

    def _write_client_cookie(self, auth_path: Path, number: int, cookie: bytes) -> None:
        """Add an entry for this host and display number: python-xlib matches only exact entries."""
        host = socket.gethostname().encode()
        local = xauth_entry(_FAMILY_LOCAL, host, str(number).encode(), cookie)
        wild = xauth_entry(_FAMILY_WILD, b"", str(number).encode(), cookie)
        auth_path.write_bytes(local + wild)

    def _wait_for_socket(self, number: int) -> None:
        path = f"/tmp/.X11-unix/X{number}"
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                try:
                    sock.connect(path)
                    return
                except OSError:
                    if time.monotonic() > deadline:
                        raise ExecutorError(
                            f"Xvfb {self._display} does not accept connections on {path}{self._log_tail()}"
                        ) from None
            time.sleep(0.02)

    def _log_tail(self) -> str:
        if self._tmpdir is None:
            return ""
        try:
            text = (self._tmpdir / "Xvfb.log").read_text(errors="replace").strip()
        except OSError:
            return ""
        return f"; Xvfb said: {text[-500:]}" if text else ""

    def close(self) -> None:
        """Stop launched applications, then the server, and delete the temporary files.

        Sends SIGTERM to each process group this object started, waits up to 2 s, then
        SIGKILL. Idempotent.
        """
        self._closed = True
        for proc in reversed(self._children):
            stop_process_group(proc)
        self._children.clear()
        if self._server is not None:
            stop_process_group(self._server)
            if self._server.stderr is not None:
                self._server.stderr.close()
            self._server = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    # -- use -------------------------------------------------------------------------------

    @property
    def display(self) -> str:
        """The display name, e.g. ``":7"``."""
        if self._display is None:
            raise ExecutorError("the virtual display is not running")
        return self._display

    @property
    def xauthority(self) -> str:
        """Path of the XAUTHORITY file holding this display's cookie."""
        if self._tmpdir is None:
            raise ExecutorError("the virtual display is not running")
        return str(self._tmpdir / "Xauthority")

    @property
    def env(self) -> dict[str, str]:
        """A copy of the base environment with ``DISPLAY`` and ``XAUTHORITY`` set for this display."""
        return {**self._base_env, "DISPLAY": self.display, "XAUTHORITY": self.xauthority}

    @property
    def pid(self) -> int:
        """Process id of the Xvfb server."""
        if self._server is None:
            raise ExecutorError("the virtual display is not running")
        return self._server.pid

    @property
    def pids(self) -> list[int]:
        """Process ids of everything this object started and has not stopped (server first)."""
        servers = [] if self._server is None else [self._server.pid]
        return servers + [p.pid for p in self._children]

    @property
    def alive(self) -> bool:
        """Whether the server process is still running."""
        return self._server is not None and self._server.poll() is None

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        """Stop one application started by :meth:`launch` (its whole process group)."""
        stop_process_group(proc)
        if proc in self._children:
            self._children.remove(proc)

    def launch(
        self, cmd: str | list[str], *, cwd: str | Path | None = None, log_name: str | None = None
    ) -> subprocess.Popen[bytes]:
        """Start ``cmd`` on this display in a new process group and return its Popen.

        A string is split like a shell would (:func:`shlex.split`) but no shell runs it. The
        output goes to ``<log_name or program name>.log`` in the display's temporary folder.
        :meth:`close` stops the whole process group.
        """
        argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
        if not argv:
            raise ConfigError("cannot launch an empty command")
        if self._tmpdir is None or self._server is None:
            raise ExecutorError("start the virtual display before launching applications")
        log_path = self._tmpdir / f"{log_name or Path(argv[0]).name}.{len(self._children)}.log"
        with open(log_path, "wb") as log:
            try:
                proc = subprocess.Popen(
                    argv,
                    env=self.env,
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
                )
            except FileNotFoundError:
                raise ConfigError(f"cannot launch {argv[0]!r}: no such program") from None
        self._children.append(proc)
        return proc


def stop_process_group(proc: subprocess.Popen[bytes], grace_s: float = 2.0) -> None:
    """SIGTERM the process group led by ``proc`` (started with ``start_new_session``), wait up to
    ``grace_s`` seconds, then SIGKILL. Safe to call on a process that has already exited."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace_s)
            return
        except subprocess.TimeoutExpired:
            continue
    proc.wait(timeout=grace_s)
