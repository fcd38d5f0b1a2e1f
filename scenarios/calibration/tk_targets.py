"""A borderless Tk window that shows calibration targets and records where clicks land.

Standalone (standard library only) so it can run on any X display as a plain process::

    python tk_targets.py LAYOUT.json STATUS.json [--x X --y Y]

``LAYOUT.json`` is what :func:`screenpilot.agent.calibration.layout.layout_json` writes: ``{"width",
"height", "targets": [{"number", "kind", "label", "x", "y", "width", "height"}]}`` with target
centres in pixels relative to the window. The window is ``width`` x ``height`` pixels, placed
at root position (X, Y) (default 0, 0), without decorations (override-redirect), so window
pixels equal screen pixels shifted by (X, Y).

``STATUS.json`` is rewritten atomically (write + rename) once the window is on screen and after
every mouse button press::

    {"ready": true, "origin": [root_x, root_y], "size": [w, h], "targets": [...as given...],
     "clicks": [{"x", "y", "x_root", "y_root", "button", "time"}, ...]}

``origin`` is where the window really is on the root window (what X reports, not what was
asked); click ``x``/``y`` are window-relative, ``x_root``/``y_root`` root-window pixels,
``time`` seconds since the epoch. The window closes on SIGTERM or when the process is killed.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tkinter as tk
from pathlib import Path
from typing import Any

SMALL_PX = 24
CIRCLE_FILL = "#2f6fdb"
CIRCLE_OUTLINE = "#163f86"
BUTTON_FILL = "#e8e8e8"
BUTTON_OUTLINE = "#777777"


def _write_atomically(path: Path, content: dict[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(content))
    os.replace(temporary, path)


def _draw_circle(canvas: tk.Canvas, target: dict[str, Any], width: int) -> None:
    x, y, d = int(target["x"]), int(target["y"]), int(target["width"])
    half = d // 2
    canvas.create_oval(x - half, y - half, x + half, y + half, fill=CIRCLE_FILL, outline=CIRCLE_OUTLINE,
                       width=2 if d >= SMALL_PX else 1)
    if d >= SMALL_PX:
        canvas.create_text(x, y, text=str(target["label"]), fill="white", font=("DejaVu Sans", 11, "bold"))
    elif x < width / 2:
        canvas.create_text(x + half + 3, y, text=str(target["label"]), fill="#111111", anchor="w",
                           font=("DejaVu Sans", 10))
    else:
        canvas.create_text(x - half - 3, y, text=str(target["label"]), fill="#111111", anchor="e",
                           font=("DejaVu Sans", 10))


def _draw_button(canvas: tk.Canvas, target: dict[str, Any]) -> None:
    x, y = int(target["x"]), int(target["y"])
    w, h = int(target["width"]), int(target["height"])
    left, top = x - w // 2, y - h // 2
    canvas.create_rectangle(left, top, left + w - 1, top + h - 1, fill=BUTTON_FILL, outline=BUTTON_OUTLINE)
    canvas.create_text(x, y, text=str(target["label"]), fill="#111111", font=("DejaVu Sans", 11))


class TargetWindow:
    """The window, its drawing and its status file."""

    def __init__(self, layout: dict[str, Any], status_path: Path, origin: tuple[int, int]) -> None:
        self.layout = layout
        self.status_path = status_path
        self.clicks: list[dict[str, Any]] = []
        self.root = tk.Tk()
        self.root.overrideredirect(True)
        width, height = int(layout["width"]), int(layout["height"])
        self.root.geometry(f"{width}x{height}+{origin[0]}+{origin[1]}")
        self.canvas = tk.Canvas(self.root, width=width, height=height, background="white",
                                highlightthickness=0, borderwidth=0, cursor="left_ptr")
        self.canvas.place(x=0, y=0, width=width, height=height)
        for target in layout["targets"]:
            if target["kind"] == "button":
                _draw_button(self.canvas, target)
            else:
                _draw_circle(self.canvas, target, width)
        self.canvas.bind("<ButtonPress>", self._on_press)

    def _status(self) -> dict[str, Any]:
        return {
            "ready": True,
            "origin": [self.root.winfo_rootx(), self.root.winfo_rooty()],
            "size": [self.root.winfo_width(), self.root.winfo_height()],
            "targets": self.layout["targets"],
            "clicks": self.clicks,
        }

    def _on_press(self, event: tk.Event[tk.Canvas]) -> None:
        self.clicks.append({"x": event.x, "y": event.y, "x_root": event.x_root, "y_root": event.y_root,
                            "button": event.num, "time": time.time()})
        _write_atomically(self.status_path, self._status())

    def _announce_when_mapped(self) -> None:
        if self.root.winfo_viewable():
            self.root.update_idletasks()
            _write_atomically(self.status_path, self._status())
        else:
            self.root.after(20, self._announce_when_mapped)

    def run(self) -> None:
        """Show the window and process events until the process is stopped."""
        self.root.after(50, self._announce_when_mapped)
        self.root.mainloop()


def main() -> None:
    """Command-line entry point (see the module doc)."""
    parser = argparse.ArgumentParser(description="Show calibration targets and record clicks.")
    parser.add_argument("layout", type=Path)
    parser.add_argument("status", type=Path)
    parser.add_argument("--x", type=int, default=0)
    parser.add_argument("--y", type=int, default=0)
    args = parser.parse_args()
    layout = json.loads(args.layout.read_text())
    TargetWindow(layout, args.status, (args.x, args.y)).run()


if __name__ == "__main__":
    main()
