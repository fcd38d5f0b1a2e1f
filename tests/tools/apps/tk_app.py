"""A small Tk application for desktop executor tests.

Run as ``python tk_app.py STATE_PATH [--x X --y Y] [--calculator [--show TEXT]]``. The window is 800x600 pixels with its
top-left corner at (X, Y) on the screen (default 0, 0; the tests run it on Xvfb without a
window manager, so the window lands exactly there). Widgets sit at fixed window coordinates
(see ``LAYOUT``), shared with ``contract_page.html`` so the same expectations hold for the
browser. Whenever the state changes, the whole state is written as JSON to STATE_PATH
(atomically: a temporary file renamed over it). Positions in the state are *window*
pixels (subtract the window origin from screen pixels).

State keys: ``ready``; ``button_clicks``; ``pad_events`` (list of
``{"button": 1|2|3, "count": 1|2, "x", "y"}`` in window pixels); ``entry`` (the Entry's
text); ``scroll`` ({"x", "y"}: pixels scrolled in the scroll area) and ``wheel`` (list of
"up"/"down"/"left"/"right" per wheel click); ``drag_item`` ([x, y] of the square's top-left);
``last_motion`` ([x, y] of the last pointer motion); ``keys`` (the last 50 key presses as
``"ctrl+shift+a"`` style strings); ``animations`` (number of finished animations: for
``ANIMATION_MS`` milliseconds after a click on "Animate", the drag area and the area below the
pad fade from dark to their usual colours, so every frame differs from the previous ones, and a
ball rolls across).

``--calculator`` replaces all of that with a calculator-like keypad (for text lookups of lone
symbols): a display label at ``CALC_DISPLAY`` showing ``--show TEXT`` (default ``0``) and the
buttons of ``CALC_KEYS`` in a grid. Its state keys: ``ready``; ``geometry`` ({label: [x0, y0,
x1, y1]} of every button and of ``"display"``, window pixels, as Tk placed them); ``pressed``
(the labels of the buttons clicked, in order).
"""

from __future__ import annotations

import argparse
import json
import os
import tkinter as tk

LAYOUT = {
    "button": (20, 20, 140, 60),
    "animate": (20, 80, 140, 120),
    "pad": (200, 20, 400, 120),
    "anim": (200, 190, 400, 280),
    "entry": (20, 150, 380, 180),
    "scroll": (420, 20, 780, 280),
    "drag_area": (20, 300, 780, 580),
}
DRAG_START = (60, 340)
DRAG_SIZE = 40
SCROLL_STEP = 20
ANIMATION_MS = 300

CALC_DISPLAY = (20, 20, 500, 80)
CALC_KEYS = (("7", "8", "9", "÷"), ("4", "5", "6", "×"), ("1", "2", "3", "-"), ("0", ".", "=", "+"))
CALC_KEY_SIZE = (90, 60)
CALC_KEY_GAP = 20
CALC_TOP = 110

_MODIFIERS = ((0x4, "ctrl"), (0x8, "alt"), (0x40, "meta"), (0x1, "shift"))


def write_state(path: str, state: dict[str, object]) -> None:
    """Write ``state`` to ``path`` atomically (tests poll the file)."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f, ensure_ascii=False)
    os.replace(tmp, path)


def _ramp(start: tuple[int, int, int], end: tuple[int, int, int], t: float) -> str:
    """The colour a fraction ``t`` (0..1) of the way from ``start`` to ``end``, as #rrggbb."""
    r, g, b = (round(a + (z - a) * t) for a, z in zip(start, end, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


class App:
    def __init__(self, root: tk.Tk, state_path: str) -> None:
        self.root = root
        self.state_path = state_path
        self.state: dict[str, object] = {
            "ready": False, "button_clicks": 0, "pad_events": [], "entry": "",
            "scroll": {"x": 0, "y": 0}, "wheel": [], "drag_item": list(DRAG_START),
            "last_motion": None, "keys": [], "animations": 0,
        }
        root.configure(background="#ffffff")
        self._build_button()
        self._build_pad()
        self._build_entry()
        self._build_scroll()
        self._build_drag()
        self._build_animation()
        root.bind_all("<Motion>", self._on_motion, add="+")
        root.bind_all("<KeyPress>", self._on_key, add="+")
        root.after(50, self._ready)

    def _place(self, widget: tk.Widget, name: str) -> None:
        x0, y0, x1, y1 = LAYOUT[name]
        widget.place(x=x0, y=y0, width=x1 - x0, height=y1 - y0)

    def write(self) -> None:
        write_state(self.state_path, self.state)

    def _ready(self) -> None:
        self.root.update_idletasks()
        self.state["ready"] = True
        self.write()

    # -- widgets ---------------------------------------------------------------------------

    def _build_button(self) -> None:
        button = tk.Button(self.root, text="Press", background="#2060ff", activebackground="#2060ff",
                           foreground="#ffffff", command=self._on_button)
        self._place(button, "button")

    def _on_button(self) -> None:
        self.state["button_clicks"] = int(self.state["button_clicks"]) + 1  # type: ignore[call-overload]
        self.write()

    def _build_pad(self) -> None:
        pad = tk.Canvas(self.root, background="#ff0000", highlightthickness=0)
        self._place(pad, "pad")
        x0, y0 = LAYOUT["pad"][:2]
        for button in (1, 2, 3):
            pad.bind(f"<Button-{button}>", lambda e, b=button: self._on_pad(e, b, 1))
            pad.bind(f"<Double-Button-{button}>", lambda e, b=button: self._on_pad(e, b, 2))
        self._pad_origin = (x0, y0)

    def _on_pad(self, event: tk.Event, button: int, count: int) -> None:
        events = self.state["pad_events"]
        assert isinstance(events, list)
        events.append({"button": button, "count": count,
                       "x": event.x + self._pad_origin[0], "y": event.y + self._pad_origin[1]})
        self.write()

    def _build_entry(self) -> None:
        self.entry_text = tk.StringVar(self.root)
        entry = tk.Entry(self.root, textvariable=self.entry_text, font=("DejaVu Sans", 12))
        self._place(entry, "entry")
        self.entry_text.trace_add("write", self._on_entry)

    def _on_entry(self, *_: object) -> None:
        self.state["entry"] = self.entry_text.get()
        self.write()

    def _build_scroll(self) -> None:
        canvas = tk.Canvas(self.root, background="#f0f0f0", highlightthickness=0,
                           scrollregion=(0, 0, 2000, 2000), xscrollincrement=SCROLL_STEP,
                           yscrollincrement=SCROLL_STEP)
        self._place(canvas, "scroll")
        for i in range(0, 2000, 100):
            canvas.create_line(0, i, 2000, i, fill="#808080")
            canvas.create_line(i, 0, i, 2000, fill="#808080")
            canvas.create_text(i + 4, 4, text=str(i), anchor="nw")
            canvas.create_text(4, i + 4, text=str(i), anchor="nw")
        # Tk 8.6 on X11 reports the horizontal wheel buttons 6 and 7 as Shift-Button-4 and 5.
        wheel = {"<Button-4>": ("up", "y", -1), "<Button-5>": ("down", "y", 1),
                 "<Shift-Button-4>": ("left", "x", -1), "<Shift-Button-5>": ("right", "x", 1)}
        for sequence, (name, axis, sign) in wheel.items():
            canvas.bind(sequence, lambda e, n=name, a=axis, s=sign: self._on_wheel(canvas, n, a, s))
        self.scroll_canvas = canvas

    def _on_wheel(self, canvas: tk.Canvas, name: str, axis: str, sign: int) -> str:
        if axis == "y":
            canvas.yview_scroll(sign, "units")
        else:
            canvas.xview_scroll(sign, "units")
        wheel = self.state["wheel"]
        assert isinstance(wheel, list)
        wheel.append(name)
        self.state["scroll"] = {"x": round(canvas.canvasx(0)), "y": round(canvas.canvasy(0))}
        self.write()
        return "break"

    def _build_drag(self) -> None:
        area = tk.Canvas(self.root, background="#ffffe0", highlightthickness=0)
        self._place(area, "drag_area")
        ax, ay = LAYOUT["drag_area"][:2]
        x, y = DRAG_START
        self.square = area.create_rectangle(x - ax, y - ay, x - ax + DRAG_SIZE, y - ay + DRAG_SIZE,
                                            fill="#0000ff", outline="")
        area.tag_bind(self.square, "<ButtonPress-1>", self._on_drag_start)
        area.bind("<B1-Motion>", self._on_drag_move)
        area.bind("<ButtonRelease-1>", self._on_drag_end)
        self.drag_area = area
        self._grab: tuple[int, int] | None = None

    def _on_drag_start(self, event: tk.Event) -> None:
        x0, y0, _, _ = self.drag_area.coords(self.square)
        self._grab = (round(event.x - x0), round(event.y - y0))

    def _on_drag_move(self, event: tk.Event) -> None:
        if self._grab is None:
            return
        self.drag_area.moveto(self.square, event.x - self._grab[0], event.y - self._grab[1])

    def _on_drag_end(self, event: tk.Event) -> None:
        if self._grab is None:
            return
        self._on_drag_move(event)
        self._grab = None
        x0, y0, _, _ = self.drag_area.coords(self.square)
        ax, ay = LAYOUT["drag_area"][:2]
        self.state["drag_item"] = [round(x0) + ax, round(y0) + ay]
        self.write()

    def _build_animation(self) -> None:
        button = tk.Button(self.root, text="Animate", background="#20a020", activebackground="#20a020",
                           foreground="#ffffff", command=self._animate)
        self._place(button, "animate")
        canvas = tk.Canvas(self.root, background="#e0e0ff", highlightthickness=0)
        self._place(canvas, "anim")
        self.ball = canvas.create_oval(0, 20, 50, 70, fill="#ff8000", outline="")
        self.anim_canvas = canvas

    def _animate(self) -> None:
        """Over ANIMATION_MS, fade the drag area and the animation area from dark to their
        usual colours (every frame differs from every earlier one) and roll the ball across."""
        width = LAYOUT["anim"][2] - LAYOUT["anim"][0] - 50
        frames = max(1, ANIMATION_MS // 16)

        def step(i: int) -> None:
            t = i / frames
            self.anim_canvas.moveto(self.ball, round(width * t), 20)
            self.drag_area.configure(background=_ramp((0x20, 0x20, 0x80), (0xFF, 0xFF, 0xE0), t))
            self.anim_canvas.configure(background=_ramp((0x40, 0x00, 0x00), (0xE0, 0xE0, 0xFF), t))
            if i < frames:
                self.root.after(ANIMATION_MS // frames, step, i + 1)
            else:
                self.state["animations"] = int(self.state["animations"]) + 1  # type: ignore[call-overload]
                self.write()

        step(0)

    # -- global bindings -------------------------------------------------------------------

    def _on_motion(self, event: tk.Event) -> None:
        self.state["last_motion"] = [event.x_root - self.root.winfo_rootx(),
                                     event.y_root - self.root.winfo_rooty()]
        self.write()

    def _on_key(self, event: tk.Event) -> None:
        state = int(event.state)
        mods = [name for bit, name in _MODIFIERS if state & bit]
        keys = self.state["keys"]
        assert isinstance(keys, list)
        keys.append("+".join([*mods, event.keysym]))
        del keys[:-50]
        self.write()


class Calculator:
    """The ``--calculator`` window: a display and a keypad (see the module docstring)."""

    def __init__(self, root: tk.Tk, state_path: str, shown: str) -> None:
        self.root = root
        self.state_path = state_path
        self.state: dict[str, object] = {"ready": False, "geometry": {}, "pressed": []}
        root.configure(background="#d8d8d8")
        display = tk.Label(root, text=shown, anchor="e", background="#ffffff", foreground="#000000",
                           font=("DejaVu Sans", 22), padx=10)
        x0, y0, x1, y1 = CALC_DISPLAY
        display.place(x=x0, y=y0, width=x1 - x0, height=y1 - y0)
        self.widgets: dict[str, tk.Widget] = {"display": display}
        width, height = CALC_KEY_SIZE
        for row, keys in enumerate(CALC_KEYS):
            for column, key in enumerate(keys):
                button = tk.Button(root, text=key, font=("DejaVu Sans", 18), background="#f4f4f4",
                                   activebackground="#f4f4f4", command=lambda k=key: self._press(k))
                button.place(x=20 + column * (width + CALC_KEY_GAP), y=CALC_TOP + row * (height + CALC_KEY_GAP),
                             width=width, height=height)
                self.widgets[key] = button
        root.after(50, self._ready)

    def write(self) -> None:
        write_state(self.state_path, self.state)

    def _ready(self) -> None:
        self.root.update_idletasks()
        self.state["geometry"] = {
            name: [w.winfo_x(), w.winfo_y(), w.winfo_x() + w.winfo_width(), w.winfo_y() + w.winfo_height()]
            for name, w in self.widgets.items()
        }
        self.state["ready"] = True
        self.write()

    def _press(self, key: str) -> None:
        pressed = self.state["pressed"]
        assert isinstance(pressed, list)
        pressed.append(key)
        self.write()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("state_path")
    parser.add_argument("--x", type=int, default=0)
    parser.add_argument("--y", type=int, default=0)
    parser.add_argument("--calculator", action="store_true", help="show the calculator keypad instead")
    parser.add_argument("--show", default="0", help="the calculator display's text")
    args = parser.parse_args()
    root = tk.Tk(className="screenpilot-test")
    root.title("screenpilot test app")
    root.geometry(f"800x600+{args.x}+{args.y}")
    root.resizable(False, False)
    if args.calculator:
        Calculator(root, args.state_path, args.show)
    else:
        App(root, args.state_path)
    root.mainloop()


if __name__ == "__main__":
    main()
