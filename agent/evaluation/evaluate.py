"""Evaluate a model (or scripted replies) on a suite of episodes, in parallel worker processes.

A suite is a folder of scenario files, a list file (one scenario path per line, ``#``
comments, paths relative to the list file), one scenario file, or ``miniwob:TASK[,TASK...]`` /
``miniwob:all``. Every episode runs in its own spawned process with its own browser; at most
``workers`` run at once, and one that outlives ``episode_timeout_s`` is killed and recorded with
status ``timeout``. With ``ray`` settings the episodes are Ray tasks instead (:mod:`.ray_jobs`).
An exception inside a worker is recorded as status ``error`` with its
message; an episode is never lost.

Output in ``OUT`` (the report pages read it; keep the format)::

    results.json   {"suite", "model", "started_at", "ended_at", "episodes": [...], "summary": {...}}
                   (and "planner", the planner's model, for an evaluation run with --planner)
    results.csv    one row per episode
    episodes/      one run folder per episode (run.json, steps.jsonl, screenshots, checks.json)

Each episode entry: task, seed, success, reward, status, reason, steps, wall_s, model_s,
tokens, failure, run_dir (relative to OUT), timings {capture, model, execute, settle}, and for a Ray episode
lost to a dead worker and run again, attempts and lost_attempts (status ``lost`` when not run again). The
summary holds episodes, successes, success_rate and the 95 % Wilson interval ``ci95``, overall
and per task.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import multiprocessing
import re
import signal
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Literal

from screenpilot.agent.errors import ConfigError, ScreenpilotError
from screenpilot.agent.evaluation.miniwob import SUITE_PREFIX, MiniWobOptions, parse_suite
from screenpilot.agent.evaluation.ray_jobs import RaySettings
from screenpilot.agent.run.trajectory import make_folder, read_steps
from screenpilot.agent.scenario.file_format import load_scenario, scenario_files
from screenpilot.agent.scenario.runner import PHASES, EpisodeOptions, EpisodeResult, check_reachable
from screenpilot.agent.scenario.spec import ScenarioSpec

RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"
EPISODES_DIR = "episodes"
DEFAULT_EPISODE_TIMEOUT_S = 900.0
POLL_S = 0.2
CSV_FIELDS: tuple[str, ...] = ("task", "seed", "success", "reward", "status", "reason", "steps", "wall_s", "model_s",
                               "tokens", "failure", "run_dir", *(f"{p}_s" for p in PHASES))


@dataclass(frozen=True)
class EpisodeJob:
    """One episode to run: a scenario (``spec``) or a MiniWoB++ ``task``, with its seed and
    the exact folder its run goes to (``options.run_dir``)."""

    index: int
    task: str
    kind: Literal["scenario", "miniwob"]
    options: EpisodeOptions
    spec: ScenarioSpec | None = None
    miniwob: MiniWobOptions = field(default_factory=MiniWobOptions)

    @property
    def seed(self) -> int | None:
        """The episode's seed."""
        return self.options.seed


@dataclass(frozen=True)
class EvalSettings:
    """Everything ``screenpilot eval`` needs. ``base``: episode options shared by all episodes
    (model, prompt, browser); ``seeds`` None: one unseeded run per scenario and seed 0 for
    MiniWoB++; ``max_steps`` overrides every scenario's step budget when given."""

    suite: str
    out_dir: Path
    base: EpisodeOptions = field(default_factory=EpisodeOptions)
    workers: int = 1
    seeds: tuple[int, ...] | None = None
    episode_timeout_s: float = DEFAULT_EPISODE_TIMEOUT_S
    max_steps: int | None = None
    miniwob: MiniWobOptions = field(default_factory=MiniWobOptions)
    ray: RaySettings | None = None
    """Run the episodes as Ray tasks (``--ray``; ``workers`` is then not used) instead of local processes."""


# --- suites ----------------------------------------------------------------------------------------


def parse_seeds(text: str) -> tuple[int, ...]:
    """``0,1,2`` or ranges ``0-4`` (inclusive), mixed: ``0-2,7``. ConfigError when malformed."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if match is None:
            raise ConfigError(f"--seeds expects numbers and ranges such as 0,1,2 or 0-9, got {text!r}")
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        if high < low:
            raise ConfigError(f"--seeds range {part!r} goes backwards")
        seeds.extend(range(low, high + 1))
    return tuple(seeds)


def scenario_paths(suite: str) -> list[Path]:
    """The scenario files of a folder, list file or single scenario file, as absolute paths (episodes may run in
    other working folders: Ray workers); ConfigError otherwise."""
    path = Path(suite).resolve()
    if path.is_dir():
        files = scenario_files(path)
        if not files:
            raise ConfigError(f"the folder {path} holds no scenario files (*.yaml)")
        return files
    if not path.is_file():
        raise ConfigError(f"suite {suite!r} is neither a folder, a file, nor miniwob:TASK[,TASK...]")
    if path.suffix in (".yaml", ".yml"):
        return [path]
    files = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        file = Path(entry) if Path(entry).is_absolute() else path.parent / entry
        if not file.is_file():
            raise ConfigError(f"{path}:{number}: scenario file not found: {file}")
        files.append(file)
    if not files:
        raise ConfigError(f"the list file {path} names no scenario")
    return files


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:60] or "episode"


def _run_dir(episodes_dir: Path, index: int, task: str, seed: int | None) -> Path:
    suffix = "" if seed is None else f"-s{seed}"
    return episodes_dir / f"{index:03d}-{_slug(task)}{suffix}"


def _scenario_jobs(settings: EvalSettings, episodes_dir: Path) -> list[EpisodeJob]:
    specs = [load_scenario(p) for p in scenario_paths(settings.suite)]
    if settings.base.model is None:
        missing = [str(s.source) for s in specs if s.replies is None and s.steps is None]
        if missing:
            raise ConfigError("without --model every scenario needs scripted replies or a replay script (steps:); "
                              f"none in: {', '.join(missing)}")
    for spec in specs:
        url = getattr(spec.environment, "url", None)
        if url:
            check_reachable(url, spec.source, "environment.browser.url")
    if settings.max_steps is not None:
        specs = [replace(s, budget=replace(s.budget, max_steps=settings.max_steps)) for s in specs]
    seeds: Sequence[int | None] = settings.seeds if settings.seeds is not None else (None,)
    jobs: list[EpisodeJob] = []
    for spec in specs:
        for seed in seeds:
            index = len(jobs) + 1
            options = replace(settings.base, seed=seed, run_dir=_run_dir(episodes_dir, index, spec.id, seed))
            jobs.append(EpisodeJob(index, spec.id, "scenario", options, spec=spec))
    return jobs


def _miniwob_jobs(settings: EvalSettings, episodes_dir: Path) -> list[EpisodeJob]:
    if settings.base.model is None:
        raise ConfigError("MiniWoB++ suites need --model (e.g. --model scripted:REPLIES.json)")
    tasks = parse_suite(settings.suite)
    seeds = settings.seeds if settings.seeds is not None else (0,)
    mw = settings.miniwob if settings.max_steps is None else replace(settings.miniwob, max_steps=settings.max_steps)
    jobs: list[EpisodeJob] = []
    for task in tasks:
        for seed in seeds:
            index = len(jobs) + 1
            options = replace(settings.base, seed=seed, run_dir=_run_dir(episodes_dir, index, task, seed))
            jobs.append(EpisodeJob(index, task, "miniwob", options, miniwob=mw))
    return jobs


def build_jobs(settings: EvalSettings) -> list[EpisodeJob]:
    """Every episode of the suite, validated up front (ConfigError names the bad file or task)."""
    episodes_dir = settings.out_dir / EPISODES_DIR
    if settings.suite.startswith(SUITE_PREFIX):
        return _miniwob_jobs(settings, episodes_dir)
    return _scenario_jobs(settings, episodes_dir)


# --- workers -------------------------------------------------------------------------------------


def run_job(job: EpisodeJob) -> EpisodeResult:
    """Run one episode in this process."""
    if job.kind == "miniwob":
        from screenpilot.agent.evaluation.miniwob import run_miniwob_episode

        return run_miniwob_episode(job.task, job.options, job.miniwob)
    from screenpilot.agent.scenario.runner import run_scenario

    if job.spec is None:
        raise ConfigError(f"episode {job.index} has no scenario")
    return run_scenario(job.spec, job.options)


def episode_entry(job: EpisodeJob) -> dict[str, Any]:
    """Run ``job`` in this process and return its episode entry; an exception becomes an ``error`` entry (status,
    reason ``config`` or ``crash``, failure, wall_s, traceback) without ``task``, for the caller to complete.
    Local workers and Ray tasks both run episodes through here."""
    started = time.monotonic()
    try:
        return run_job(job).to_json()
    except BaseException as exc:  # the caller must always learn what happened
        message = exc.message if isinstance(exc, ScreenpilotError) else str(exc)
        reason = "config" if isinstance(exc, ConfigError) else "crash"
        return {"status": "error", "reason": reason, "failure": f"{type(exc).__name__}: {message}",
                "wall_s": round(time.monotonic() - started, 3), "traceback": traceback.format_exc(limit=20)}


def _worker(job: EpisodeJob, result_path: str) -> None:
    """Process entry point: run ``job`` and write its episode entry (or the error) as JSON.

    SIGTERM (sent when the episode runs out of time) becomes SystemExit, so the browser,
    display and site server are closed on the way out.
    """
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    entry = episode_entry(job)
    Path(result_path).write_text(json.dumps(entry, default=str), encoding="utf-8")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@dataclass
class _Running:
    job: EpisodeJob
    process: BaseProcess
    started: float
    result_path: Path


def episode_from_files(job: EpisodeJob, entry: dict[str, Any] | None, status: str, reason: str,
                        failure: str, wall_s: float) -> dict[str, Any]:
    """An episode entry for a job whose worker gave no normal result (``entry``: what it did report, if anything),
    with the steps its run folder holds."""
    run_dir = job.options.run_dir
    steps = len(read_steps(run_dir)) if run_dir is not None and run_dir.is_dir() else 0
    base = {"task": job.task, "seed": job.seed, "success": False, "reward": None, "status": status, "reason": reason,
            "steps": steps, "wall_s": round(wall_s, 3), "model_s": 0.0, "tokens": None, "failure": failure,
            "run_dir": str(run_dir) if run_dir is not None else None, "timings": dict.fromkeys(PHASES, 0.0)}
    if entry:
        base.update({k: v for k, v in entry.items() if k in base})
    return base


def _collect(running: _Running, timed_out: bool, timeout_s: float) -> dict[str, Any]:
    wall_s = time.monotonic() - running.started
    if timed_out:
        return episode_from_files(running.job, None, "timeout", "episode_timeout",
                                   f"the episode did not finish within {timeout_s:g} s and was killed", wall_s)
    try:
        entry = json.loads(running.result_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        code = running.process.exitcode
        return episode_from_files(running.job, None, "error", "crash",
                                   f"the worker process exited with code {code} without a result", wall_s)
    return finished_entry(running.job, entry, wall_s)


def finished_entry(job: EpisodeJob, entry: dict[str, Any], wall_s: float) -> dict[str, Any]:
    """The episode entry :func:`episode_entry` returned for ``job``, completed when it is an error entry."""
    if entry.get("status") == "error" and "task" not in entry:
        return episode_from_files(job, entry, "error", str(entry.get("reason", "crash")), str(entry.get("failure")),
                                  wall_s)
    return dict(entry)


def _stop(process: BaseProcess) -> None:
    process.terminate()
    process.join(5)
    if process.is_alive():
        process.kill()
        process.join(5)


def run_jobs(jobs: Sequence[EpisodeJob], workers: int, timeout_s: float,
             on_done: Callable[[EpisodeJob, dict[str, Any]], None] = lambda job, entry: None) -> list[dict[str, Any]]:
    """Run ``jobs`` in spawned processes, at most ``workers`` at once; entries in job order."""
    context = multiprocessing.get_context("spawn")
    pending = deque(jobs)
    running: list[_Running] = []
    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="screenpilot-eval-") as tmp:
        try:
            while pending or running:
                while pending and len(running) < workers:
                    job = pending.popleft()
                    path = Path(tmp) / f"{job.index}.json"
                    process = context.Process(target=_worker, args=(job, str(path)), name=f"episode-{job.index}")
                    process.start()
                    running.append(_Running(job, process, time.monotonic(), path))
                wait([r.process.sentinel for r in running], timeout=POLL_S)
                for item in list(running):
                    overdue = time.monotonic() - item.started > timeout_s
                    if item.process.is_alive() and not overdue:
                        continue
                    if item.process.is_alive():
                        _stop(item.process)
                    item.process.join()
                    running.remove(item)
                    results[item.job.index] = entry = _collect(item, overdue, timeout_s)
                    on_done(item.job, entry)
        finally:
            for item in running:
                _stop(item.process)
    return [results[job.index] for job in jobs]


# --- results -------------------------------------------------------------------------------------


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95 % Wilson score interval of ``successes`` out of ``n`` ((0, 1) when n is 0)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


def _stats(episodes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    wins = sum(1 for e in episodes if e.get("success") is True)
    n = len(episodes)
    return {"episodes": n, "successes": wins, "success_rate": round(wins / n, 4) if n else 0.0,
            "ci95": list(wilson_interval(wins, n))}


def summarize(episodes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The summary block: overall stats and ``per_task`` stats."""
    tasks: dict[str, list[dict[str, Any]]] = {}
    for episode in episodes:
        tasks.setdefault(str(episode["task"]), []).append(episode)
    return {**_stats(episodes), "per_task": {task: _stats(group) for task, group in tasks.items()}}


def _relative(entry: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    run_dir = entry.get("run_dir")
    if run_dir:
        path = Path(run_dir)
        with contextlib.suppress(ValueError):
            entry = {**entry, "run_dir": path.resolve().relative_to(out_dir.resolve()).as_posix()}
    return entry


def write_results(out_dir: Path, results: dict[str, Any]) -> None:
    """Write results.json (atomically) and results.csv into ``out_dir``."""
    tmp = out_dir / (RESULTS_JSON + ".tmp")
    tmp.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(out_dir / RESULTS_JSON)
    with (out_dir / RESULTS_CSV).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(CSV_FIELDS))
        writer.writeheader()
        for e in results["episodes"]:
            row = {k: e.get(k) for k in CSV_FIELDS if k in e}
            row.update({f"{p}_s": (e.get("timings") or {}).get(p) for p in PHASES})
            writer.writerow(row)


def _iso_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _clean(entry: dict[str, Any]) -> dict[str, Any]:
    keys = ("task", "seed", "success", "reward", "status", "reason", "steps", "wall_s", "model_s", "tokens",
            "failure", "run_dir", "timings")
    retried: dict[str, Any] = {k: entry[k] for k in ("attempts", "lost_attempts") if k in entry}  # Ray: run again
    return {**{k: entry.get(k) for k in keys}, **retried}


def prepare(settings: EvalSettings) -> list[EpisodeJob]:
    """Validate the suite and options and list its episodes; nothing runs yet.

    Raises ConfigError for a bad suite, scenario, task or option, or an ``out_dir`` that
    already holds episode folders.
    """
    if settings.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {settings.workers}")
    jobs = build_jobs(settings)
    taken = [j.options.run_dir for j in jobs if j.options.run_dir is not None and j.options.run_dir.exists()]
    if taken:
        raise ConfigError(f"{settings.out_dir} already holds episode folders (e.g. {taken[0]}); choose a new --out")
    return jobs


def evaluate(settings: EvalSettings, jobs: Sequence[EpisodeJob] | None = None,
             on_done: Callable[[EpisodeJob, dict[str, Any]], None] = lambda job, entry: None) -> dict[str, Any]:
    """Run the suite's episodes (``jobs`` from :func:`prepare`, or prepared here) and write
    the result files; returns the results.json content."""
    jobs = prepare(settings) if jobs is None else jobs
    make_folder(make_folder(settings.out_dir) / EPISODES_DIR)
    started_at = _iso_now()
    if settings.ray is not None:
        from screenpilot.agent.evaluation.ray_jobs import run_jobs_on_ray

        entries = run_jobs_on_ray(jobs, settings.ray, settings.episode_timeout_s, on_done)
    else:
        entries = run_jobs(jobs, settings.workers, settings.episode_timeout_s, on_done)
    episodes = [_clean(_relative(e, settings.out_dir)) for e in entries]
    model = settings.base.model.spec if settings.base.model is not None else None
    results: dict[str, Any] = {"suite": settings.suite, "model": model, "started_at": started_at,
                               "ended_at": _iso_now(), "episodes": episodes, "summary": summarize(episodes)}
    if settings.base.planner is not None:
        results["planner"] = settings.base.planner.model.spec
    write_results(settings.out_dir, results)
    return results
