"""Where a step's cost goes with a planner: planner tokens and time against grounder tokens and time.

Usage::

    python bench/planner_cost.py RUN_DIR [RUN_DIR...]   # runs made with --planner (real servers give real numbers)
    python bench/planner_cost.py --demo                  # the bundled flight booking, scripted, side by side

For each run folder: one row per step with the planner's latency and tokens (prompt, completion) and the
grounder's (latency, prompt, image, completion tokens), then the run's totals and the planner/grounder ratios.
Token counts are what the backends report (a scripted model reports none: ``-``).

``--demo`` runs the bundled flight booking twice, headless and scripted, side by side: the baseline with the
grounder alone (the scenario's replies) and again with a scripted planner deciding every step. Scripted models
answer at once, so the difference is the planner stage's own cost in the harness (building its request, scaling
the screenshot, reading its answer), in milliseconds per step: medians of the steps' totals minus their model and
planner time. Run it on an otherwise idle machine; numbers on a shared machine vary by run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from screenpilot.agent.run.records import StepLine  # noqa: E402
from screenpilot.agent.run.trajectory import read_steps  # noqa: E402

FLIGHTS = ROOT / "scenarios" / "flights_booking.yaml"
FLIGHTS_PLANNER = ROOT / "tests" / "data" / "flights_planner_replies.json"


def _n(value: int | None) -> str:
    return "-" if value is None else str(value)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def cost_table(run_dir: Path) -> str:
    """The per-step planner vs grounder table of ``run_dir``, with totals and ratios."""
    lines = [f"{run_dir}",
             f"{'step':>4} {'planner ms':>10} {'p.prompt':>8} {'p.compl':>7} {'grounder ms':>11} {'g.prompt':>8} "
             f"{'g.image':>7} {'g.compl':>7}  instruction"]
    totals = {"planner": 0.0, "grounder": 0.0, "p_tokens": 0, "g_tokens": 0}
    for step in read_steps(run_dir):
        plan, usage = step.planner, step.usage
        p_usage = None if plan is None else plan.usage
        lines.append(f"{step.index:>4} {_ms(None if plan is None else plan.latency_s):>10} "
                     f"{_n(p_usage.prompt_tokens if p_usage else None):>8} "
                     f"{_n(p_usage.completion_tokens if p_usage else None):>7} {_ms(step.timings.model):>11} "
                     f"{_n(usage.prompt_tokens if usage else None):>8} {_n(step.image_tokens):>7} "
                     f"{_n(usage.completion_tokens if usage else None):>7}  "
                     f"{(plan.instruction or plan.kind or '') if plan else ''}")
        totals["planner"] += (plan.latency_s or 0.0) if plan else 0.0
        totals["grounder"] += step.timings.model or 0.0
        totals["p_tokens"] += sum(t or 0 for t in (p_usage.prompt_tokens, p_usage.completion_tokens)) if p_usage else 0
        totals["g_tokens"] += sum(t or 0 for t in (usage.prompt_tokens, usage.completion_tokens)) if usage else 0
    time_ratio = totals["planner"] / totals["grounder"] if totals["grounder"] else None
    token_ratio = totals["p_tokens"] / totals["g_tokens"] if totals["g_tokens"] else None
    lines.append(f"total: planner {totals['planner']:.2f} s, {totals['p_tokens']} tokens; grounder "
                 f"{totals['grounder']:.2f} s, {totals['g_tokens']} tokens; planner/grounder time "
                 f"{'-' if time_ratio is None else f'{time_ratio:.2f}'}, tokens "
                 f"{'-' if token_ratio is None else f'{token_ratio:.2f}'}")
    return "\n".join(lines)


def harness_ms(steps: list[StepLine]) -> float:
    """Median milliseconds per step outside the models (total minus model and planner time)."""
    return statistics.median(((s.timings.total or 0) - (s.timings.model or 0) - (s.timings.planner or 0)) * 1000
                             for s in steps)


def demo() -> None:
    """The flight booking with and without a scripted planner, side by side."""
    from screenpilot.agent.run.settings import ModelSettings, PlannerSettings
    from screenpilot.agent.scenario.file_format import load_scenario
    from screenpilot.agent.scenario.runner import EpisodeOptions, run_scenario

    spec = load_scenario(FLIGHTS)
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for name, planner in (("grounder alone", None),
                              ("planner + grounder", PlannerSettings(ModelSettings(f"scripted:{FLIGHTS_PLANNER}")))):
            episode = run_scenario(spec, EpisodeOptions(out_dir=Path(tmp) / name.replace(" ", "-"), planner=planner))
            results[name] = (episode, read_steps(episode.run_dir))
            print(cost_table(episode.run_dir), end="\n\n")
        base, planned = (harness_ms(results[k][1]) for k in ("grounder alone", "planner + grounder"))
        for name, (episode, steps) in results.items():
            print(f"{name:>20}: {episode.status}, {len(steps)} steps, harness {harness_ms(steps):.0f} ms/step median")
        print(f"planner stage: +{planned - base:.0f} ms/step, ratio {planned / base:.2f}x of the grounder-alone step")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", type=Path, help="run folders made with --planner")
    parser.add_argument("--demo", action="store_true", help="the bundled flight booking, with and without planner")
    args = parser.parse_args()
    if args.demo:
        demo()
    for run_dir in args.runs:
        print(cost_table(run_dir), end="\n\n")
    if not args.demo and not args.runs:
        parser.error("give run folders or --demo")


if __name__ == "__main__":
    main()
