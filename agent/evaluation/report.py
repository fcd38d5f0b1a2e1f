"""The HTML page of an evaluation folder, with a report per episode.

An evaluation folder holds ``results.json`` (and ``results.csv``) written by the evaluator::

    {"suite": str, "model": str | null, "started_at": iso, "ended_at": iso,
     "episodes": [{"task", "seed", "success", "reward", "status", "reason", "steps", "wall_s",
                   "model_s", "tokens", "failure", "run_dir" (relative to the folder),
                   "timings": {"capture", "model", "execute", "settle"} (seconds)}],
     "summary": {"episodes", "successes", "success_rate", "ci95": [lo, hi],
                 "per_task": {task: {"episodes", "successes", "success_rate", "ci95"}}}}

:func:`write_eval_report` writes ``EVAL_DIR/report.html``: success rate per task and overall with
the 95 % interval, histograms of steps and wall time per episode, time by phase, and a table of
episodes linking to each episode's run report (written beside its run folder as ``report.html``).
Missing summary figures are computed from the episodes (Wilson score interval).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screenpilot.agent.reports.htmlpage import esc, number, page, relative_href, seconds, write_atomic
from screenpilot.agent.reports.run_report import REPORT_NAME, is_run_dir, write_run_report
from screenpilot.agent.reports.svg import RateItem, histogram, rate_bars, stacked_bar

RESULTS_NAME = "results.json"
PHASES: tuple[str, ...] = ("capture", "model", "execute", "settle")

EVAL_CSS = """
.big { font-size: 28px; font-weight: 700; }
.charts { display:flex; flex-wrap:wrap; gap: 18px; }
tr.ok td.result { color: var(--ok); font-weight:600; } tr.bad td.result { color: var(--err); font-weight:600; }
td.failure { max-width: 360px; overflow-wrap:anywhere; }
.delta-pos { color: var(--ok); font-weight:600; } .delta-neg { color: var(--err); font-weight:600; }
"""


@dataclass(frozen=True)
class TaskStats:
    """Success figures of one task (or of all): rate and interval in [0, 1]."""

    episodes: int
    successes: int
    success_rate: float
    ci95: tuple[float, float]


@dataclass(frozen=True)
class EvalData:
    """An evaluation folder as read: the raw results, its episodes and the per-task/overall stats."""

    eval_dir: Path
    results: dict[str, Any]
    episodes: list[dict[str, Any]]
    overall: TaskStats
    per_task: dict[str, TaskStats]


def is_eval_dir(path: Path) -> bool:
    """True when ``path`` is a folder holding ``results.json``."""
    return path.is_dir() and (path / RESULTS_NAME).is_file()


def wilson_interval(successes: int, episodes: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a success rate (95 % by default); (0, 1) for no episodes."""
    if episodes <= 0:
        return (0.0, 1.0)
    p = successes / episodes
    denominator = 1 + z * z / episodes
    centre = (p + z * z / (2 * episodes)) / denominator
    half = z * math.sqrt(p * (1 - p) / episodes + z * z / (4 * episodes * episodes)) / denominator
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= episodes else min(1.0, centre + half)
    return (low, high)


def stats_of(episodes: Sequence[Mapping[str, Any]]) -> TaskStats:
    """Success figures computed from ``episodes`` (Wilson interval)."""
    n = len(episodes)
    wins = sum(1 for e in episodes if e.get("success") is True)
    return TaskStats(n, wins, wins / n if n else 0.0, wilson_interval(wins, n))


def _stats_from(entry: object, fallback: TaskStats) -> TaskStats:
    """Stats from a results.json summary entry, with ``fallback`` for whatever is missing or malformed."""
    if not isinstance(entry, dict):
        return fallback
    ci = entry.get("ci95")
    low, high = (number(ci[0]), number(ci[1])) if isinstance(ci, list | tuple) and len(ci) == 2 else (None, None)
    episodes, successes, rate = number(entry.get("episodes")), number(entry.get("successes")), number(
        entry.get("success_rate"))
    return TaskStats(
        int(episodes) if episodes is not None else fallback.episodes,
        int(successes) if successes is not None else fallback.successes,
        rate if rate is not None else fallback.success_rate,
        (low, high) if low is not None and high is not None else fallback.ci95,
    )


def episodes_by_task(episodes: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Episodes grouped by task name, tasks in order of first appearance."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for episode in episodes:
        groups.setdefault(str(episode.get("task", "?")), []).append(episode)
    return groups


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def load_eval(eval_dir: Path) -> EvalData:
    """Read ``eval_dir/results.json``. Raises FileNotFoundError when absent, ValueError when malformed."""
    eval_dir = Path(eval_dir)
    path = eval_dir / RESULTS_NAME
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{eval_dir} is not an evaluation folder (no {RESULTS_NAME})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(results, dict) or not isinstance(results.get("episodes", []), list):
        raise ValueError(f"{path} must hold an object with an 'episodes' list")
    episodes = [e for e in results.get("episodes", []) if isinstance(e, dict)]
    summary = _mapping(results.get("summary"))
    per_task_raw = _mapping(summary.get("per_task"))
    groups = episodes_by_task(episodes)
    per_task = {task: _stats_from(per_task_raw.get(task), stats_of(group)) for task, group in groups.items()}
    for task, entry in per_task_raw.items():
        per_task.setdefault(str(task), _stats_from(entry, stats_of([])))
    return EvalData(eval_dir, results, episodes, _stats_from(summary, stats_of(episodes)), per_task)


def episode_run_dir(data: EvalData, episode: Mapping[str, Any]) -> Path | None:
    """The episode's run folder if it is a run folder inside the evaluation folder, else None."""
    value = episode.get("run_dir")
    if not isinstance(value, str) or not value:
        return None
    root = data.eval_dir.resolve()
    path = (root / value).resolve()
    if path != root and root not in path.parents:
        return None
    return path if is_run_dir(path) else None


def write_episode_reports(data: EvalData, embed_images: bool = True) -> dict[int, Path]:
    """Write ``report.html`` in every episode's run folder; returns {episode position: report path}.

    Episodes whose run folder is missing, outside the evaluation folder or unreadable get no report.
    """
    reports: dict[int, Path] = {}
    for n, episode in enumerate(data.episodes):
        run_dir = episode_run_dir(data, episode)
        if run_dir is None:
            continue
        try:
            reports[n] = write_run_report(run_dir, run_dir / REPORT_NAME, embed_images=embed_images)
        except (OSError, ValueError):
            continue
    return reports


def rate_text(stats: TaskStats) -> str:
    """``62.5 % (5/8), 95 % CI 30.6–86.3 %``."""
    low, high = stats.ci95
    return (f"{stats.success_rate:.1%} ({stats.successes}/{stats.episodes}), "
            f"95 % CI {low:.1%}–{high:.1%}")


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _values(episodes: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    return [v for e in episodes if (v := number(e.get(key))) is not None]


def phase_totals(episodes: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Seconds spent per phase summed over ``episodes``, plus ``other`` (wall time in no phase)."""
    totals = dict.fromkeys(PHASES, 0.0)
    for episode in episodes:
        timings = _mapping(episode.get("timings"))
        for phase in PHASES:
            totals[phase] += max(0.0, number(timings.get(phase)) or 0.0)
    wall = sum(_values(episodes, "wall_s"))
    totals["other"] = max(0.0, wall - sum(totals.values()))
    return totals


def _failures_text(episodes: Sequence[Mapping[str, Any]]) -> str:
    counts = Counter(str(e.get("failure")) for e in episodes if e.get("failure"))
    return "; ".join(f"{text} ×{count}" if count > 1 else text for text, count in counts.most_common(3))


def _task_row(task: str, stats: TaskStats, episodes: Sequence[Mapping[str, Any]]) -> str:
    steps, wall = _mean(_values(episodes, "steps")), _mean(_values(episodes, "wall_s"))
    low, high = stats.ci95
    return (
        f'<tr class="task-row" data-task="{esc(task)}" data-success-rate="{stats.success_rate:.6f}">'
        f"<td><code>{esc(task)}</code></td><td class=\"num\">{stats.episodes}</td>"
        f'<td class="num">{stats.successes}</td><td class="num">{stats.success_rate:.1%}</td>'
        f'<td class="num">{low:.1%}–{high:.1%}</td>'
        f'<td class="num">{"–" if steps is None else f"{steps:.1f}"}</td>'
        f'<td class="num">{esc(seconds(wall))}</td><td class="failure">{esc(_failures_text(episodes))}</td></tr>'
    )


def _task_table(data: EvalData) -> str:
    groups = episodes_by_task(data.episodes)
    rows = "".join(_task_row(task, stats, groups.get(task, [])) for task, stats in sorted(data.per_task.items()))
    return ('<table class="tasks"><tr><th>task</th><th class="num">episodes</th><th class="num">successes</th>'
            '<th class="num">success rate</th><th class="num">95 % CI</th><th class="num">mean steps</th>'
            f'<th class="num">mean wall time</th><th>failures</th></tr>{rows}</table>')


def _episode_row(base: Path, n: int, episode: Mapping[str, Any], reports: Mapping[int, Path]) -> str:
    ok = episode.get("success") is True
    report = reports.get(n)
    link = (f'<a href="{esc(relative_href(report, base))}">report</a>' if report is not None
            else '<span class="muted">no run folder</span>')
    reward = number(episode.get("reward"))
    tokens = episode.get("tokens")
    return (
        f'<tr class="episode-row {"ok" if ok else "bad"}" data-task="{esc(episode.get("task"))}" '
        f'data-seed="{esc(episode.get("seed"))}"><td><code>{esc(episode.get("task"))}</code></td>'
        f'<td class="num">{esc(episode.get("seed", ""))}</td><td class="result">{"success" if ok else "failure"}</td>'
        f'<td class="num">{"–" if reward is None else f"{reward:.2f}"}</td>'
        f'<td>{esc(episode.get("status"))} <span class="muted">({esc(episode.get("reason"))})</span></td>'
        f'<td class="num">{esc(episode.get("steps"))}</td>'
        f'<td class="num">{esc(seconds(number(episode.get("wall_s"))))}</td>'
        f'<td class="num">{esc(seconds(number(episode.get("model_s"))))}</td>'
        f'<td class="num">{esc("–" if tokens is None else tokens)}</td>'
        f'<td class="failure">{esc(episode.get("failure") or "")}</td><td>{link}</td></tr>'
    )


def _episode_table(data: EvalData, reports: Mapping[int, Path], base: Path) -> str:
    rows = "".join(_episode_row(base, n, e, reports) for n, e in enumerate(data.episodes))
    return ('<table class="episodes"><tr><th>task</th><th class="num">seed</th><th>result</th>'
            '<th class="num">reward</th><th>status</th><th class="num">steps</th><th class="num">wall</th>'
            f'<th class="num">model</th><th class="num">tokens</th><th>failure</th><th>run</th></tr>{rows}</table>')


def _charts(data: EvalData) -> str:
    items = [RateItem(task, s.success_rate, s.ci95[0], s.ci95[1], f"({s.successes}/{s.episodes})")
             for task, s in sorted(data.per_task.items())]
    steps = _values(data.episodes, "steps")
    walls = _values(data.episodes, "wall_s")
    return (
        f'<section class="card"><h2>Success rate per task</h2>{rate_bars(items)}</section>'
        '<section class="card"><h2>Distributions</h2><div class="charts">'
        + histogram(steps, title="Steps per episode", x_label="steps", integer=True)
        + histogram(walls, title="Wall time per episode", x_label="seconds")
        + "</div></section>"
        f'<section class="card"><h2>Time by phase (all episodes)</h2>{stacked_bar(phase_totals(data.episodes))}'
        "</section>"
    )


def _header(data: EvalData) -> str:
    results = data.results
    tokens = _values(data.episodes, "tokens")
    model = results.get("model") or "none: scripted replies or replay scripts"
    facts = [("Suite", results.get("suite")), ("Model", model),
             ("Started", results.get("started_at")), ("Ended", results.get("ended_at")),
             ("Episodes", data.overall.episodes), ("Total wall time", seconds(sum(_values(data.episodes, "wall_s")))),
             ("Tokens", f"{int(sum(tokens)):,}" if tokens else "not reported"), ("Folder", data.eval_dir)]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v if v is not None else '–')}</dd>" for k, v in facts)
    return (f'<header class="page"><div class="card"><h1>Evaluation: {esc(results.get("suite") or data.eval_dir.name)}'
            f'</h1><p class="big overall" data-success-rate="{data.overall.success_rate:.6f}">'
            f"{esc(rate_text(data.overall))}</p><dl class=\"facts\">{dl}</dl></div></header>")


def render_eval_report(data: EvalData, reports: Mapping[int, Path], base: Path) -> str:
    """The evaluation page as an HTML string; ``reports`` maps episode positions to run reports,
    linked relative to folder ``base`` (where the page will be written)."""
    body = (_header(data) + "<main>" + f'<section class="card"><h2>Tasks</h2>{_task_table(data)}</section>'
            + _charts(data) + f'<section class="card"><h2>Episodes</h2>{_episode_table(data, reports, base)}</section>'
            + "</main>")
    return page(f"screenpilot evaluation: {data.results.get('suite') or data.eval_dir.name}", body, css=EVAL_CSS)


def write_eval_report(eval_dir: Path, out_path: Path | None = None, run_reports: bool = True) -> Path:
    """Write the evaluation page (default ``EVAL_DIR/report.html``) and, with ``run_reports``, a
    ``report.html`` in each episode's run folder. Returns the page's path.

    Raises FileNotFoundError when ``eval_dir`` has no results.json, ValueError when it is malformed.
    """
    data = load_eval(Path(eval_dir))
    reports = write_episode_reports(data) if run_reports else _existing_reports(data)
    out = Path(out_path) if out_path is not None else data.eval_dir / REPORT_NAME
    return write_atomic(out, render_eval_report(data, reports, out.parent.resolve()))


def _existing_reports(data: EvalData) -> dict[int, Path]:
    found: dict[int, Path] = {}
    for n, episode in enumerate(data.episodes):
        run_dir = episode_run_dir(data, episode)
        if run_dir is not None and (run_dir / REPORT_NAME).is_file():
            found[n] = run_dir / REPORT_NAME
    return found


__all__ = [
    "EvalData",
    "TaskStats",
    "episodes_by_task",
    "is_eval_dir",
    "load_eval",
    "phase_totals",
    "rate_text",
    "render_eval_report",
    "stats_of",
    "wilson_interval",
    "write_episode_reports",
    "write_eval_report",
]
