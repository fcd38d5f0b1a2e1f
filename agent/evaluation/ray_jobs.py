"""Episodes as Ray tasks (``screenpilot eval SUITE --ray [ADDRESS]``): the same episodes on many machines.

Each episode is one Ray task running the very function local workers run
(:func:`screenpilot.agent.evaluation.evaluate.episode_entry`), so its entry is the same. The task writes the run
folder in a temporary folder of the node it runs on and returns it packed (a gzipped tar) with the entry; the
machine that runs ``eval`` unpacks it into the episode's folder under ``--out``. Nodes therefore need no shared
filesystem, only the project, Chromium (and Xvfb for desktop suites) installed.

Scheduling: each task asks for ``cpus_per_episode`` CPUs; at most as many episodes are in flight as the cluster's
CPUs allow, so the per-episode timeout counts from an episode's start. One that runs past it is cancelled (its
worker killed) and recorded as ``timeout``. An episode whose worker or node dies is *lost*: with ``retries`` it is
run again (its entry then says ``attempts`` and ``lost_attempts``), else it is recorded with status ``lost``; Ray's
own silent task retries are off, so an episode is never counted twice.

Ray is optional (``pip install 'screenpilot[ray]'``) and imported only here, only when asked for.
"""

from __future__ import annotations

import io
import socket
import tarfile
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from screenpilot.agent.errors import ConfigError

RAY_INSTALL_HINT = "pip install 'screenpilot[ray]'  (or: pip install 'ray[default]')"
POLL_S = 0.2


@dataclass(frozen=True)
class RaySettings:
    """Where episodes run: ``address`` None starts a local Ray for the evaluation (``num_cpus`` CPUs, None: all);
    ``auto`` or ``HOST:PORT`` joins a running cluster. ``cpus_per_episode``: CPUs each episode asks for;
    ``retries``: times an episode lost to a dead worker or node is run again."""

    address: str | None = None
    cpus_per_episode: float = 1.0
    retries: int = 0
    num_cpus: int | None = None


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(f"--ray needs Ray ({exc}); {RAY_INSTALL_HINT}") from None
    return ray


def pack_folder(folder: Path) -> bytes:
    """``folder``'s files as a gzipped tar (paths relative to it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buffer.getvalue()


def unpack_folder(data: bytes, folder: Path) -> None:
    """Unpack :func:`pack_folder`'s ``data`` into ``folder`` (created); members escaping it are refused."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")


def run_packed_episode(job: Any) -> tuple[dict[str, Any], bytes]:
    """The Ray task: run ``job`` (an :class:`~screenpilot.agent.evaluation.evaluate.EpisodeJob`) in a temporary
    folder of this node; its entry and its run folder, packed."""
    from screenpilot.agent.evaluation.evaluate import episode_entry

    with tempfile.TemporaryDirectory(prefix="screenpilot-episode-") as tmp:
        local_dir = Path(tmp) / "run"
        entry = episode_entry(replace(job, options=replace(job.options, run_dir=local_dir)))
        return entry, pack_folder(local_dir) if local_dir.is_dir() else b""


def _check_reachable(address: str | None, timeout_s: float = 5.0) -> None:
    """ConfigError at once when ``HOST:PORT`` does not accept connections (Ray itself keeps trying for minutes)."""
    if address is None or address == "auto" or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--ray {address}: expected auto or HOST:PORT such as 127.0.0.1:6379 (alone, --ray starts a "
                          "local Ray: put it after the suite or before another option)")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ConfigError(f"cannot start or join Ray at {address}: nothing answers there ({exc.strerror or exc}); "
                          "start the head node with `ray start --head --port PORT` or leave the address out") from None


@dataclass
class _InFlight:
    job: Any
    attempt: int
    started: float


def _capacity(ray: Any, settings: RaySettings) -> int:
    cpus = float(ray.cluster_resources().get("CPU", 1))
    return max(1, int(cpus // max(settings.cpus_per_episode, 0.01)))


def run_jobs_on_ray(jobs: Sequence[Any], settings: RaySettings, timeout_s: float,
                    on_done: Callable[[Any, dict[str, Any]], None] = lambda job, entry: None) -> list[dict[str, Any]]:
    """Run ``jobs`` as Ray tasks (see the module doc); entries in job order, each run folder unpacked into the
    job's ``options.run_dir``. Joins the Ray already initialised in this process, if any (and leaves it running);
    else starts or joins one per ``settings`` and disconnects at the end. ConfigError when Ray is missing or the
    cluster cannot be reached."""
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        _check_reachable(settings.address)
        try:
            ray.init(address=settings.address, num_cpus=settings.num_cpus if settings.address is None else None,
                     include_dashboard=False, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"cannot start or join Ray at {settings.address or 'a new local cluster'}: {exc}; "
                              "start a cluster with `ray start --head` or leave the address out") from None
    try:
        return _run(ray, jobs, settings, timeout_s, on_done)
    finally:
        if started_here:
            ray.shutdown()


def _run(ray: Any, jobs: Sequence[Any], settings: RaySettings, timeout_s: float,
         on_done: Callable[[Any, dict[str, Any]], None]) -> list[dict[str, Any]]:
    from screenpilot.agent.evaluation.evaluate import episode_from_files, finished_entry

    task = ray.remote(num_cpus=settings.cpus_per_episode, max_retries=0)(run_packed_episode)
    pending = deque((job, 1) for job in jobs)
    inflight: dict[Any, _InFlight] = {}
    results: dict[int, dict[str, Any]] = {}
    lost: dict[int, int] = {}
    capacity = _capacity(ray, settings)

    def finish(job: Any, entry: dict[str, Any]) -> None:
        if lost.get(job.index):
            entry = {**entry, "attempts": lost[job.index] + 1, "lost_attempts": lost[job.index]}
        results[job.index] = entry
        on_done(job, entry)

    try:
        while pending or inflight:
            while pending and len(inflight) < capacity:
                job, attempt = pending.popleft()
                inflight[task.remote(job)] = _InFlight(job, attempt, time.monotonic())
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=POLL_S)
            for ref in ready:
                item = inflight.pop(ref)
                try:
                    entry, packed = ray.get(ref)
                except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                        ray.exceptions.LocalRayletDiedError, ray.exceptions.OutOfMemoryError,
                        ray.exceptions.TaskUnschedulableError) as exc:
                    lost[item.job.index] = lost.get(item.job.index, 0) + 1
                    if item.attempt <= settings.retries:
                        pending.appendleft((item.job, item.attempt + 1))
                        continue
                    finish(item.job, episode_from_files(item.job, None, "lost", "worker_lost",
                                                        f"the episode's Ray worker or node died ({type(exc).__name__})",
                                                        time.monotonic() - item.started))
                    continue
                run_dir = item.job.options.run_dir
                if packed and run_dir is not None:
                    unpack_folder(packed, run_dir)
                entry = finished_entry(item.job, entry, time.monotonic() - item.started)
                finish(item.job, {**entry, "run_dir": None if run_dir is None else str(run_dir)})
            for ref, item in list(inflight.items()):
                if time.monotonic() - item.started > timeout_s:
                    ray.cancel(ref, force=True)
                    del inflight[ref]
                    finish(item.job, episode_from_files(
                        item.job, None, "timeout", "episode_timeout",
                        f"the episode did not finish within {timeout_s:g} s and was cancelled", timeout_s))
    finally:
        for ref in inflight:
            ray.cancel(ref, force=True)
    return [results[job.index] for job in jobs]
