"""Tiny inline-SVG charts for the HTML reports (no plotting library).

Each function returns an ``<svg>`` element as a string, sized in CSS pixels, with every label
escaped. Charts: :func:`rate_bars` (success rates with 95 % intervals), :func:`histogram`
(counts of values in equal-width bins) and :func:`stacked_bar` (one total split into parts).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from screenpilot.agent.reports.htmlpage import esc, seconds

AXIS = "#98a2b3"
TEXT = "#344054"
BAR = "#175cd3"
BAR_FAIL = "#f04438"
WHISKER = "#101828"
PHASE_COLOURS = {"capture": "#7f56d9", "model": "#175cd3", "execute": "#12b76a", "settle": "#f79009",
                 "other": "#98a2b3"}


@dataclass(frozen=True)
class RateItem:
    """One bar: ``rate`` in [0, 1] with its interval ``low``..``high`` (also in [0, 1])."""

    label: str
    rate: float
    low: float
    high: float
    detail: str = ""


def _clip01(value: float) -> float:
    return 0.0 if not math.isfinite(value) else min(1.0, max(0.0, value))


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 12, extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{TEXT}" text-anchor="{anchor}" '
            f'font-family="system-ui, sans-serif"{extra}>{esc(text)}</text>')


def rate_bars(items: Sequence[RateItem], width: int = 640, label_width: int = 200, row: int = 24) -> str:
    """Horizontal bars of success rate (0-100 %) with 95 % interval whiskers, one row per item."""
    plot = max(40, width - label_width - 70)
    height = row * len(items) + 28
    parts = [f'<svg class="chart rate-bars" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="success rate per task">']
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = label_width + tick * plot
        style = 'stroke-width="1"' if tick in (0.0, 1.0) else 'stroke-width="0.5" stroke-dasharray="3 3"'
        parts.append(f'<line x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{height - 20}" stroke="{AXIS}" {style}/>')
        parts.append(_text(x, height - 6, f"{tick:.0%}", "middle", 11))
    for n, item in enumerate(items):
        y = 4 + n * row
        rate, low, high = _clip01(item.rate), _clip01(item.low), _clip01(item.high)
        mid = y + row / 2
        parts.append(_text(label_width - 8, mid + 4, _shorten(item.label, 30), "end", 12))
        parts.append(f'<rect x="{label_width}" y="{y + 4}" width="{rate * plot:.1f}" height="{row - 8}" rx="2" '
                     f'fill="{BAR if rate >= 0.5 else BAR_FAIL}" opacity="0.85"><title>{esc(item.label)}: '
                     f'{rate:.0%} [{low:.0%}, {high:.0%}] {esc(item.detail)}</title></rect>')
        x_low, x_high = label_width + low * plot, label_width + high * plot
        parts.append(f'<line x1="{x_low:.1f}" y1="{mid:.1f}" x2="{x_high:.1f}" y2="{mid:.1f}" stroke="{WHISKER}" '
                     'stroke-width="1.5"/>')
        for x in (x_low, x_high):
            parts.append(f'<line x1="{x:.1f}" y1="{mid - 5:.1f}" x2="{x:.1f}" y2="{mid + 5:.1f}" '
                         f'stroke="{WHISKER}" stroke-width="1.5"/>')
        parts.append(_text(label_width + plot + 8, mid + 4, f"{rate:.0%} {item.detail}", "start", 11))
    parts.append("</svg>")
    return "".join(parts)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bin_edges(values: Sequence[float], bins: int, integer: bool = False) -> list[float]:
    """``bins + 1`` equal-width edges covering ``values`` (integer-aligned when ``integer``)."""
    low, high = float(min(values)), float(max(values))
    if integer:
        first, last = math.floor(low), math.floor(high) + 1
        width = max(1, math.ceil((last - first) / bins))
        return [float(first + width * k) for k in range(math.ceil((last - first) / width) + 1)]
    if high <= low:
        high = low + 1.0
    step = (high - low) / bins
    return [low + step * k for k in range(bins + 1)]


def bin_counts(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """How many ``values`` fall in each ``[edge_k, edge_k+1)`` bin (the last bin includes its right edge)."""
    counts = [0] * (len(edges) - 1)
    for value in values:
        for k in range(len(counts)):
            last = k == len(counts) - 1
            if edges[k] <= value < edges[k + 1] or (last and value == edges[k + 1]):
                counts[k] += 1
                break
    return counts


def _edge_label(edge: float, integer: bool) -> str:
    return str(int(edge)) if integer else f"{edge:.3g}"


def _bin_labels(edges: Sequence[float], integer: bool, left: float, bar_w: float, y: float) -> list[str]:
    """x-axis labels: integer bins one unit wide are labelled at their centre, others at some edges."""
    if integer and len(edges) > 1 and edges[1] - edges[0] == 1:
        every = max(1, math.ceil((len(edges) - 1) / 12))
        return [_text(left + (k + 0.5) * bar_w, y, _edge_label(edges[k], True), "middle", 10)
                for k in range(0, len(edges) - 1, every)]
    every = max(1, math.ceil(len(edges) / 6))
    return [_text(left + k * bar_w, y, _edge_label(edges[k], integer), "middle", 10)
            for k in range(0, len(edges), every)]


def histogram(values: Sequence[float], *, title: str, x_label: str, bins: int = 10, integer: bool = False,
              width: int = 420, height: int = 200) -> str:
    """A histogram of ``values`` (counts per equal-width bin) titled ``title``, x axis ``x_label``."""
    if not values:
        return f'<p class="muted">{esc(title)}: no data</p>'
    edges = bin_edges(values, bins, integer)
    counts = bin_counts(values, edges)
    left, right, top, bottom = 34, 26, 22, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(counts) or 1
    bar_w = plot_w / len(counts)
    parts = [f'<svg class="chart histogram" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
             _text(left, 14, title, "start", 13, ' font-weight="600"'),
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="{AXIS}"/>',
             _text(left - 6, top + 10, str(peak), "end", 11), _text(left - 6, top + plot_h, "0", "end", 11)]
    for k, count in enumerate(counts):
        bar_h = plot_h * count / peak
        x = left + k * bar_w
        parts.append(f'<rect class="bin" data-count="{count}" x="{x + 1:.1f}" y="{top + plot_h - bar_h:.1f}" '
                     f'width="{max(1.0, bar_w - 2):.1f}" height="{bar_h:.1f}" fill="{BAR}" opacity="0.8">'
                     f"<title>{_edge_label(edges[k], integer)}–{_edge_label(edges[k + 1], integer)}: "
                     f"{count}</title></rect>")
    parts.extend(_bin_labels(edges, integer, left, bar_w, top + plot_h + 14))
    parts.append(_text(left + plot_w / 2, height - 4, x_label, "middle", 11))
    parts.append("</svg>")
    return "".join(parts)


def stacked_bar(parts_s: Mapping[str, float], *, width: int = 640, unit: str = "s") -> str:
    """One horizontal bar split into ``parts_s`` (name -> amount), with a legend of amounts and
    shares below it that wraps onto more rows when it does not fit in ``width`` pixels."""
    values = {k: v for k, v in parts_s.items() if math.isfinite(v) and v > 0}
    total = sum(values.values())
    bar: list[str] = []
    legend: list[str] = []
    x, legend_x, legend_y = 0.0, 0.0, 28.0
    for name, value in values.items():
        w = width * value / total
        colour = PHASE_COLOURS.get(name, AXIS)
        label = f"{name} {seconds(value) if unit == 's' else f'{value:.3g} {unit}'} ({value / total:.0%})"
        bar.append(f'<rect class="part" data-part="{esc(name)}" x="{x:.1f}" y="0" width="{w:.1f}" height="18" '
                   f'fill="{colour}"><title>{esc(label)}</title></rect>')
        item_w = 14 + 6.6 * len(label) + 16
        if legend_x > 0 and legend_x + item_w > width:
            legend_x, legend_y = 0.0, legend_y + 18
        legend.append(f'<rect x="{legend_x:.1f}" y="{legend_y:.1f}" width="10" height="10" fill="{colour}"/>')
        legend.append(_text(legend_x + 14, legend_y + 9, label, "start", 11))
        legend_x += item_w
        x += w
    if not values:
        bar.append(_text(0, 14, "no timing data", "start", 12))
    height = int(legend_y + 18)
    return (f'<svg class="chart stacked" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="time by phase">'
            + "".join(bar + legend) + "</svg>")


__all__ = ["RateItem", "bin_counts", "bin_edges", "histogram", "rate_bars", "stacked_bar"]
