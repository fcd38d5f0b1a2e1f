"""Comparing two evaluation folders: success rates per task, their change, and flipped episodes.

``A`` is the baseline and ``B`` the candidate; a *delta* is ``B - A`` in success rate (a fraction).
A *flip* is an episode solved on one side and not on the other. Episodes are paired by
``(task, seed)`` where both sides ran that seed (repeated seeds pair in order of appearance);
for a task with no seed in common, the task itself flips when one side solved it at least once
and the other never did (``seed`` is then None).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from screenpilot.agent.evaluation.report import EVAL_CSS, EvalData, TaskStats, episodes_by_task, load_eval, rate_text
from screenpilot.agent.reports.htmlpage import esc, page, relative_href, write_atomic
from screenpilot.agent.reports.run_report import REPORT_NAME, is_run_dir

COMPARISON_NAME = "comparison.html"


@dataclass(frozen=True)
class TaskComparison:
    """One task on both sides; ``a``/``b`` None when the task ran on one side only."""

    task: str
    a: TaskStats | None
    b: TaskStats | None

    @property
    def delta(self) -> float | None:
        """``b.success_rate - a.success_rate`` (fraction), or None when a side lacks the task."""
        if self.a is None or self.b is None:
            return None
        return self.b.success_rate - self.a.success_rate


@dataclass(frozen=True)
class Flip:
    """An episode (``seed`` given) or a whole task (``seed`` None) solved on exactly one side.

    ``a_run_dir``/``b_run_dir`` are absolute run folders when known."""

    task: str
    seed: int | None
    a_success: bool
    b_success: bool
    a_run_dir: Path | None = None
    b_run_dir: Path | None = None

    @property
    def direction(self) -> Literal["gained", "lost"]:
        """``gained``: B solves what A did not; ``lost``: A solved what B does not."""
        return "gained" if self.b_success else "lost"


@dataclass(frozen=True)
class ComparisonResult:
    """Everything :func:`compare_evals` found, tasks sorted by name."""

    a: EvalData
    b: EvalData
    tasks: list[TaskComparison]
    flips: list[Flip]

    @property
    def delta(self) -> float:
        """Overall success rate of B minus that of A (fraction)."""
        return self.b.overall.success_rate - self.a.overall.success_rate

    def label(self, side: Literal["a", "b"]) -> str:
        """``model @ suite (folder)`` for one side."""
        data = self.a if side == "a" else self.b
        model = data.results.get("model") or "unknown model"
        return f"{model} @ {data.results.get('suite') or '?'} ({data.eval_dir.name})"


def _seed(episode: dict[str, Any]) -> int | None:
    seed = episode.get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def _run_path(data: EvalData, episode: dict[str, Any]) -> Path | None:
    value = episode.get("run_dir")
    return (data.eval_dir / value).resolve() if isinstance(value, str) and value else None


def _keyed(episodes: Sequence[dict[str, Any]]) -> dict[tuple[int, int], dict[str, Any]]:
    """Episodes with a seed, keyed by (seed, occurrence of that seed)."""
    seen: dict[int, int] = {}
    keyed: dict[tuple[int, int], dict[str, Any]] = {}
    for episode in episodes:
        seed = _seed(episode)
        if seed is None:
            continue
        keyed[(seed, seen.get(seed, 0))] = episode
        seen[seed] = seen.get(seed, 0) + 1
    return keyed


def _task_flips(task: str, a: EvalData, b: EvalData, a_eps: list[dict[str, Any]],
                b_eps: list[dict[str, Any]]) -> list[Flip]:
    a_keyed, b_keyed = _keyed(a_eps), _keyed(b_eps)
    common = sorted(set(a_keyed) & set(b_keyed))
    if common:
        flips = []
        for key in common:
            ea, eb = a_keyed[key], b_keyed[key]
            if (ea.get("success") is True) != (eb.get("success") is True):
                flips.append(Flip(task, key[0], ea.get("success") is True, eb.get("success") is True,
                                  _run_path(a, ea), _run_path(b, eb)))
        return flips
    a_solved = next((e for e in a_eps if e.get("success") is True), None)
    b_solved = next((e for e in b_eps if e.get("success") is True), None)
    if (a_solved is None) == (b_solved is None):
        return []
    a_example = a_solved or (a_eps[0] if a_eps else None)
    b_example = b_solved or (b_eps[0] if b_eps else None)
    return [Flip(task, None, a_solved is not None, b_solved is not None,
                 None if a_example is None else _run_path(a, a_example),
                 None if b_example is None else _run_path(b, b_example))]


def compare_evals(eval_a: Path, eval_b: Path) -> ComparisonResult:
    """Compare evaluation folders ``eval_a`` (baseline) and ``eval_b`` (candidate).

    Raises FileNotFoundError / ValueError as :func:`screenpilot.agent.evaluation.report.load_eval` does.
    """
    a, b = load_eval(Path(eval_a)), load_eval(Path(eval_b))
    a_groups, b_groups = episodes_by_task(a.episodes), episodes_by_task(b.episodes)
    names = sorted(set(a.per_task) | set(b.per_task))
    tasks = [TaskComparison(t, a.per_task.get(t), b.per_task.get(t)) for t in names]
    flips: list[Flip] = []
    for task in names:
        if task in a_groups and task in b_groups:
            flips.extend(_task_flips(task, a, b, a_groups[task], b_groups[task]))
    return ComparisonResult(a, b, tasks, flips)


def _rate_cell(stats: TaskStats | None) -> str:
    return "—" if stats is None else f"{stats.success_rate:.0%} ({stats.successes}/{stats.episodes})"


def _delta_text(delta: float | None) -> str:
    return "—" if delta is None else f"{delta * 100:+.0f} pp"


def _flip_counts(result: ComparisonResult, task: str) -> str:
    gained = sum(1 for f in result.flips if f.task == task and f.direction == "gained")
    lost = sum(1 for f in result.flips if f.task == task and f.direction == "lost")
    return "" if not (gained or lost) else f"+{gained} / -{lost}"


def print_comparison(result: ComparisonResult, console: Console) -> None:
    """Print a rich table of tasks (A rate, B rate, delta, flips) and the list of flipped episodes."""
    table = Table(title="Comparison", caption=f"A = {escape(result.label('a'))}\nB = {escape(result.label('b'))}")
    for column, justify in (("task", "left"), ("A", "right"), ("B", "right"), ("Δ", "right"),
                            ("flips +/-", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for item in result.tasks:
        delta = item.delta
        style = "green" if delta is not None and delta > 0 else "red" if delta is not None and delta < 0 else ""
        table.add_row(escape(item.task), _rate_cell(item.a), _rate_cell(item.b),
                      f"[{style}]{_delta_text(delta)}[/{style}]" if style else _delta_text(delta),
                      _flip_counts(result, item.task))
    table.add_section()
    table.add_row("[bold]overall[/bold]", _rate_cell(result.a.overall), _rate_cell(result.b.overall),
                  _delta_text(result.delta), f"{len(result.flips)}")
    console.print(table)
    for flip in result.flips:
        colour = "green" if flip.direction == "gained" else "red"
        seed = "all seeds" if flip.seed is None else f"seed {flip.seed}"
        console.print(f"  [{colour}]{flip.direction}[/{colour}] {escape(flip.task)} ({seed})")


def _report_link(run_dir: Path | None, base: Path, text: str) -> str:
    if run_dir is None or not is_run_dir(run_dir):
        return f'<span class="muted">{esc(text)}</span>'
    report = run_dir / REPORT_NAME
    if not report.is_file():
        return f'<span class="muted">{esc(text)}</span>'
    return f'<a href="{esc(relative_href(report, base))}">{esc(text)}</a>'


def _task_rows(result: ComparisonResult) -> str:
    rows = []
    for item in result.tasks:
        delta = item.delta
        css = "delta-pos" if delta is not None and delta > 0 else "delta-neg" if delta is not None and delta < 0 else ""
        rows.append(
            f'<tr class="task-row" data-task="{esc(item.task)}" data-delta="{"" if delta is None else f"{delta:.6f}"}">'
            f'<td><code>{esc(item.task)}</code></td><td class="num">{esc(_rate_cell(item.a))}</td>'
            f'<td class="num">{esc(_rate_cell(item.b))}</td><td class="num {css}">{esc(_delta_text(delta))}</td>'
            f'<td class="num">{esc(_flip_counts(result, item.task))}</td></tr>')
    return "".join(rows)


def _flip_rows(result: ComparisonResult, base: Path) -> str:
    rows = []
    for flip in result.flips:
        css = "delta-pos" if flip.direction == "gained" else "delta-neg"
        rows.append(
            f'<tr class="flip-row" data-task="{esc(flip.task)}" data-seed="{esc(flip.seed)}" '
            f'data-direction="{flip.direction}"><td><code>{esc(flip.task)}</code></td>'
            f'<td class="num">{esc("all" if flip.seed is None else flip.seed)}</td>'
            f'<td class="{css}">{flip.direction}</td>'
            f'<td>{_report_link(flip.a_run_dir, base, "A: " + ("success" if flip.a_success else "failure"))}</td>'
            f'<td>{_report_link(flip.b_run_dir, base, "B: " + ("success" if flip.b_success else "failure"))}</td></tr>')
    return "".join(rows) or '<tr><td colspan="5" class="muted">no flipped episodes</td></tr>'


def render_comparison(result: ComparisonResult, base: Path) -> str:
    """The comparison page as HTML; run report links are relative to folder ``base``."""
    delta_css = "delta-pos" if result.delta > 0 else "delta-neg" if result.delta < 0 else ""
    header = (
        '<header class="page"><div class="card"><h1>Comparison</h1><dl class="facts">'
        f"<dt>A (baseline)</dt><dd>{esc(result.label('a'))}: {esc(rate_text(result.a.overall))}</dd>"
        f"<dt>B (candidate)</dt><dd>{esc(result.label('b'))}: {esc(rate_text(result.b.overall))}</dd>"
        f'<dt>Change</dt><dd class="overall-delta {delta_css}">{esc(_delta_text(result.delta))}</dd>'
        "</dl></div></header>"
    )
    body = (
        header + "<main>"
        '<section class="card"><h2>Tasks</h2><table class="tasks"><tr><th>task</th><th class="num">A</th>'
        f'<th class="num">B</th><th class="num">Δ</th><th class="num">flips +/-</th></tr>{_task_rows(result)}'
        "</table></section>"
        '<section class="card"><h2>Flipped</h2><table class="flips"><tr><th>task</th><th class="num">seed</th>'
        f"<th>change</th><th>A</th><th>B</th></tr>{_flip_rows(result, base)}</table></section></main>"
    )
    return page("screenpilot comparison", body, css=EVAL_CSS)


def write_comparison_report(result: ComparisonResult, out_path: Path | None = None) -> Path:
    """Write the comparison page to ``out_path`` (default ``EVAL_B/comparison.html``); returns its path."""
    out = Path(out_path) if out_path is not None else result.b.eval_dir / COMPARISON_NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(out, render_comparison(result, out.parent.resolve()))


__all__ = [
    "ComparisonResult",
    "Flip",
    "TaskComparison",
    "compare_evals",
    "print_comparison",
    "render_comparison",
    "write_comparison_report",
]
