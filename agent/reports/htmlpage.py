"""Small helpers shared by the HTML reports: escaping, formatting, data URIs and the page shell.

Every report is one self-contained file: styles inline, images as ``data:`` URIs, no scripts,
and a Content-Security-Policy that forbids loading anything from the network. Every value that
goes into a page passes through :func:`esc` (run files hold untrusted model text).
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import urllib.parse
from pathlib import Path

from PIL import Image

CSP_EMBEDDED = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
CSP_LINKED = "default-src 'none'; img-src data: file: 'self'; style-src 'unsafe-inline'"

BASE_CSS = """
:root { --fg:#1d2433; --muted:#667085; --line:#d9dee7; --bg:#f5f7fa; --card:#fff;
  --ok:#12805c; --fail:#b54708; --err:#c01048; --stop:#7a5af8; --accent:#175cd3; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg);
  background:var(--bg); }
main, header.page { max-width: 1400px; margin: 0 auto; padding: 8px 24px; }
header.page { padding-bottom: 0; }
main { padding-top: 0; }
h1 { font-size: 22px; margin: 0 0 8px; overflow-wrap: anywhere; }
h2 { font-size: 17px; margin: 0; }
h3 { font-size: 13px; margin: 12px 0 4px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
a { color: var(--accent); }
pre { background:#0f172a; color:#e2e8f0; padding:10px 12px; border-radius:6px; white-space:pre-wrap;
  overflow-wrap:anywhere; font:12.5px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; margin:0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); vertical-align: top; }
th { font-weight:600; color:var(--muted); font-size:12px; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
code { font: 12.5px ui-monospace, "DejaVu Sans Mono", monospace; overflow-wrap:anywhere; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:14px 16px; margin:14px 0; }
.badge { display:inline-block; padding:2px 10px; border-radius:999px; color:#fff; font-weight:600; font-size:13px; }
.status-success { background:var(--ok); } .status-failure { background:var(--fail); }
.status-error { background:var(--err); } .status-stopped { background:var(--stop); }
.status-unknown { background:var(--muted); }
.muted { color: var(--muted); }
dl.facts { display:grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin:0; overflow-wrap:anywhere; }
.legend span { display:inline-block; margin-right:12px; font-size:12px; }
.legend i { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:4px; vertical-align:-1px; }
.ph-capture { background:#7f56d9; } .ph-model { background:#175cd3; } .ph-execute { background:#12b76a; }
.ph-settle { background:#f79009; } .ph-other { background:#98a2b3; }
"""


def esc(value: object) -> str:
    """``value`` as text safe inside HTML elements and quoted attributes (None -> empty)."""
    return "" if value is None else html.escape(str(value), quote=True)


def seconds(value: object) -> str:
    """A duration in seconds for people: ``0.034 s``, ``2.41 s``, ``3 min 05 s``; ``–`` when unknown."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return "–"
    if value < 1:
        return f"{value:.3f} s"
    if value < 120:
        return f"{value:.2f} s"
    minutes, rest = divmod(value, 60)
    return f"{int(minutes)} min {rest:04.1f} s"


def number(value: object) -> float | None:
    """``value`` as a finite float, or None when it is missing, not a number or not finite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def png_data_uri(image: Image.Image) -> str:
    """``image`` as a ``data:image/png;base64,...`` URI (lossless, so pixels stay exact)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def status_class(status: object) -> str:
    """CSS class for a run status (success, failure, error, stopped; anything else: unknown)."""
    return f"status-{status}" if status in ("success", "failure", "error", "stopped") else "status-unknown"


def page(title: str, body: str, *, css: str = "", embedded: bool = True) -> str:
    """A complete HTML document around ``body`` (already escaped HTML). ``title`` is escaped here."""
    csp = CSP_EMBEDDED if embedded else CSP_LINKED
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{esc(csp)}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{esc(title)}</title>\n<style>{BASE_CSS}{css}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def relative_href(target: Path, start: Path) -> str:
    """A relative URL from folder ``start`` to file ``target``: forward slashes, percent-quoted
    (still to be HTML-escaped by the caller)."""
    relative = os.path.relpath(target, start)
    return urllib.parse.quote(Path(relative).as_posix())
