"""The evaluation page and the comparison of two evaluations, from folders of real recorded runs."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest
from rich.console import Console

from screenpilot.agent.evaluation.compare import compare_evals, print_comparison, write_comparison_report
from screenpilot.agent.evaluation.report import load_eval, phase_totals, wilson_interval, write_eval_report
from screenpilot.agent.reports.svg import bin_counts, bin_edges, histogram, stacked_bar
from tests.agent.view_fixtures import make_eval_dir, parse_page

# A: click-button 2/3, type-name 2/2, drag-box (no seed) 0/1, only-a 1/1
OUTCOMES_A: dict[tuple[str, int | None], bool] = {
    ("click-button", 1): True, ("click-button", 2): False, ("click-button", 3): True,
    ("type-name", 1): True, ("type-name", 2): True,
    ("drag-box", None): False,
    ("only-a", 7): True,
}
# B: click-button seed 2 gained, seed 3 lost; type-name seed 2 lost; drag-box solved (task-level flip)
OUTCOMES_B: dict[tuple[str, int | None], bool] = {
    ("click-button", 1): True, ("click-button", 2): True, ("click-button", 3): False,
    ("type-name", 1): True, ("type-name", 2): False,
    ("drag-box", None): True,
    ("only-b", 1): False,
}


@pytest.fixture(scope="module")
def evals(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("evals")
    a = make_eval_dir(root / "eval-a", OUTCOMES_A, model="model-a")
    b = make_eval_dir(root / "eval-b", OUTCOMES_B, model="model-b")
    return a, b


def test_eval_page_has_one_row_per_task_with_rates(evals: tuple[Path, Path], tmp_path: Path) -> None:
    eval_dir = tmp_path / "eval"
    shutil.copytree(evals[0], eval_dir)
    out = write_eval_report(eval_dir)
    assert out == eval_dir / "report.html"
    page = parse_page(out)
    rows = page.find("tr", class_="task-row")
    assert sorted(r["data-task"] for r in rows) == ["click-button", "drag-box", "only-a", "type-name"]
    rates = {r["data-task"]: float(r["data-success-rate"]) for r in rows}
    assert math.isclose(rates["click-button"], 2 / 3, abs_tol=1e-5)
    assert rates["type-name"] == 1.0 and rates["drag-box"] == 0.0
    overall = page.find("p", class_="overall")[0]
    assert math.isclose(float(overall["data-success-rate"]), 5 / 7, abs_tol=1e-5)
    assert "71.4% (5/7)" in page.text and "95 % CI" in page.text
    assert "script" not in page.tags()
    assert "model-a" in page.text


def test_an_evaluation_without_a_model_says_so(evals: tuple[Path, Path], tmp_path: Path) -> None:
    eval_dir = tmp_path / "eval"
    shutil.copytree(evals[0], eval_dir)
    results = json.loads((eval_dir / "results.json").read_text(encoding="utf-8"))
    (eval_dir / "results.json").write_text(json.dumps({**results, "model": None}), encoding="utf-8")
    html = write_eval_report(eval_dir).read_text(encoding="utf-8")
    assert "<dt>Model</dt><dd>none: scripted replies or replay scripts</dd>" in html


def test_eval_page_links_to_a_report_per_episode(evals: tuple[Path, Path], tmp_path: Path) -> None:
    eval_dir = tmp_path / "eval"
    shutil.copytree(evals[0], eval_dir)
    out = write_eval_report(eval_dir)
    page = parse_page(out)
    episodes = page.find("tr", class_="episode-row")
    assert len(episodes) == len(OUTCOMES_A)
    links = [a["href"] for a in page.find("a") if a.get("href", "").endswith("report.html")]
    assert len(links) == len(OUTCOMES_A)
    for href in links:
        report = (out.parent / unquote(href)).resolve()
        assert report.is_file() and report.parent.parent == (eval_dir / "runs").resolve()
        run_page = parse_page(report)
        assert len(run_page.find("section", class_="step")) == 2
        assert len(run_page.find("img")) == 2


def test_eval_page_charts_count_every_episode(evals: tuple[Path, Path], tmp_path: Path) -> None:
    eval_dir = tmp_path / "eval"
    shutil.copytree(evals[0], eval_dir)
    page = parse_page(write_eval_report(eval_dir, run_reports=False))
    svgs = page.find("svg")
    classes = {s["class"] for s in svgs}
    assert {"chart rate-bars", "chart histogram", "chart stacked"} <= classes
    bins = page.find("rect", class_="bin")
    counts = [int(b["data-count"]) for b in bins]
    assert sum(counts) == 2 * len(OUTCOMES_A), "two histograms (steps, wall time), every episode in each"
    assert {p["data-part"] for p in page.find("rect", class_="part")} <= {"capture", "model", "execute", "settle",
                                                                           "other"}


def test_missing_summary_is_computed_from_episodes(evals: tuple[Path, Path], tmp_path: Path) -> None:
    eval_dir = tmp_path / "eval"
    shutil.copytree(evals[0], eval_dir)
    results = json.loads((eval_dir / "results.json").read_text())
    del results["summary"]
    (eval_dir / "results.json").write_text(json.dumps(results))
    data = load_eval(eval_dir)
    assert (data.overall.episodes, data.overall.successes) == (7, 5)
    assert data.per_task["click-button"].ci95 == wilson_interval(2, 3)
    page = parse_page(write_eval_report(eval_dir, run_reports=False))
    assert len(page.find("tr", class_="task-row")) == 4


def test_malformed_results_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not an evaluation folder"):
        load_eval(tmp_path)
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_eval(tmp_path)
    (tmp_path / "results.json").write_text('{"episodes": 3}')
    with pytest.raises(ValueError, match="episodes"):
        load_eval(tmp_path)


def test_run_dirs_outside_the_evaluation_get_no_report(evals: tuple[Path, Path], tmp_path: Path) -> None:
    eval_dir = tmp_path / "eval"
    shutil.copytree(evals[0], eval_dir)
    results = json.loads((eval_dir / "results.json").read_text())
    results["episodes"][0]["run_dir"] = "../../etc"
    results["episodes"][1]["run_dir"] = "runs/does-not-exist"
    (eval_dir / "results.json").write_text(json.dumps(results))
    page = parse_page(write_eval_report(eval_dir))
    links = [a for a in page.find("a") if a.get("href", "").endswith("report.html")]
    assert len(links) == len(OUTCOMES_A) - 2


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(5, 10)
    assert math.isclose(low, 0.2366, abs_tol=1e-4) and math.isclose(high, 0.7634, abs_tol=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(0, 10)[0] == 0.0


def test_histogram_bins_and_stacked_bar() -> None:
    assert bin_edges([1, 2, 2, 5], 10, integer=True) == [1, 2, 3, 4, 5, 6]
    assert bin_counts([1, 2, 2, 5], [1, 2, 3, 4, 5, 6]) == [1, 2, 0, 0, 1]
    assert sum(bin_counts([0.0, 0.5, 1.0], bin_edges([0.0, 0.5, 1.0], 4))) == 3
    svg = histogram([3, 3, 3], title="<t>", x_label="steps", integer=True)
    assert "&lt;t&gt;" in svg and "<t>" not in svg
    assert "no data" in histogram([], title="empty", x_label="x")
    assert 'data-part="model"' in stacked_bar({"model": 2.0, "settle": 0.0})
    assert phase_totals([{"wall_s": 3.0, "timings": {"model": 1.0, "capture": 0.5}}])["other"] == 1.5


def test_compare_flags_flipped_episodes_and_tasks(evals: tuple[Path, Path]) -> None:
    result = compare_evals(*evals)
    flips = {(f.task, f.seed): f.direction for f in result.flips}
    assert flips == {
        ("click-button", 2): "gained",
        ("click-button", 3): "lost",
        ("type-name", 2): "lost",
        ("drag-box", None): "gained",
    }
    by_task = {t.task: t for t in result.tasks}
    assert set(by_task) == {"click-button", "type-name", "drag-box", "only-a", "only-b"}
    assert by_task["only-a"].b is None and by_task["only-a"].delta is None
    assert by_task["type-name"].delta == -0.5
    assert math.isclose(result.delta, 4 / 7 - 5 / 7)
    assert all(f.a_run_dir is not None and f.a_run_dir.is_dir() for f in result.flips)


def test_comparison_page_and_table(evals: tuple[Path, Path], tmp_path: Path) -> None:
    result = compare_evals(*evals)
    out = write_comparison_report(result, tmp_path / "cmp" / "comparison.html")
    page = parse_page(out)
    assert {r["data-task"] for r in page.find("tr", class_="task-row")} == {
        "click-button", "type-name", "drag-box", "only-a", "only-b"}
    flip_rows = page.find("tr", class_="flip-row")
    assert {(r["data-task"], r["data-seed"], r["data-direction"]) for r in flip_rows} == {
        ("click-button", "2", "gained"), ("click-button", "3", "lost"), ("type-name", "2", "lost"),
        ("drag-box", "", "gained")}
    console = Console(record=True, width=120)
    print_comparison(result, console)
    text = console.export_text()
    assert re.search(r"type-name\s+│\s+100% \(2/2\)\s+│\s+50% \(1/2\)\s+│\s+-50 pp", text), text
    assert "gained click-button (seed 2)" in text and "gained drag-box (all seeds)" in text
