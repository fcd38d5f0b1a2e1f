"""Action value types: JSON round trips, point mapping, descriptions; key-name folding."""

from __future__ import annotations

from pathlib import Path

import pytest

from screenpilot.agent.actions import (
    AskUser,
    Click,
    CloseTab,
    Drag,
    GoBack,
    ListTabs,
    MoveTo,
    Navigate,
    NewTab,
    Point,
    PressKeys,
    Scroll,
    SwitchTab,
    Terminate,
    TypeText,
    Upload,
    Wait,
    describe,
    from_json,
    map_points,
    to_json,
    upload_path,
)
from screenpilot.agent.keys import normalize_key, split_chord

ALL_ACTIONS = [
    Click(), Click(Point(3, 4), "right", 2), MoveTo(Point(1, 2)), Drag(Point(5, 6)), Drag(Point(5, 6), Point(1, 1)),
    Scroll(dy=-120, dx=0, at=Point(7, 8)), Scroll(dy=40), TypeText("héllo <b>"), PressKeys(("ctrl", "c")),
    Wait(1.5), Terminate("success", "42"), Terminate("failure"), Navigate("https://example.org"), GoBack(),
    AskUser("Which seat?"), ListTabs(), SwitchTab(2), CloseTab(), CloseTab(1), NewTab(), NewTab("https://a.org"),
    Upload("reports/q1.pdf"),
]


@pytest.mark.parametrize("action", ALL_ACTIONS, ids=lambda a: type(a).__name__)
def test_json_round_trip_and_description(action: object) -> None:
    assert from_json(to_json(action)) == action  # type: ignore[arg-type]
    assert describe(action)  # type: ignore[arg-type]


def test_map_points_moves_every_point_and_nothing_else() -> None:
    def double(p: Point) -> Point:
        return Point(p.x * 2, p.y * 2)

    assert map_points(Click(Point(1, 2)), double) == Click(Point(2, 4))
    assert map_points(Click(), double) == Click()
    assert map_points(Drag(Point(1, 1), Point(2, 2)), double) == Drag(Point(2, 2), Point(4, 4))
    assert map_points(Scroll(dy=10, at=Point(3, 3)), double) == Scroll(dy=10, at=Point(6, 6))
    assert map_points(TypeText("x"), double) == TypeText("x")


def test_upload_path_resolves_inside_the_folder_and_follows_links(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("x")
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "link.txt").symlink_to(tmp_path / "real.txt")
    assert upload_path("a.txt", tmp_path / "up") == (tmp_path / "up" / "a.txt").resolve()
    assert upload_path("../real.txt", tmp_path / "up") == (tmp_path / "real.txt").resolve()
    assert upload_path("link.txt", tmp_path / "up") == (tmp_path / "real.txt").resolve()
    assert upload_path(str(tmp_path / "real.txt"), None) == (tmp_path / "real.txt").resolve()
    assert upload_path("rel.txt", None) == (Path.cwd() / "rel.txt").resolve()


def test_from_json_rejects_unknown_kinds_and_bad_points() -> None:
    with pytest.raises(ValueError, match="unknown action kind"):
        from_json({"kind": "Explode"})
    with pytest.raises(ValueError, match=r"\[x, y\]"):
        from_json({"kind": "MoveTo", "at": [1]})


@pytest.mark.parametrize(("name", "canonical"), [
    ("Control", "ctrl"), ("CTRL", "ctrl"), ("cmd", "meta"), ("Super", "meta"), ("win", "meta"),
    ("Return", "enter"), ("esc", "escape"), ("PgUp", "pageup"), ("page_down", "pagedown"),
    ("ArrowUp", "up"), ("Left", "left"), ("F5", "f5"), ("f12", "f12"), ("Page Down", "pagedown"),
    ("space", "space"), ("A", "A"), ("a", "a"), ("+", "+"), ("plus", "+"), ("Backspace", "backspace"),
    ("Del", "delete"), ("option", "alt"),
])
def test_normalize_key(name: str, canonical: str) -> None:
    assert normalize_key(name) == canonical


def test_unknown_key_names_are_none() -> None:
    assert normalize_key("hyperdrive") is None
    assert normalize_key("f99") is None


@pytest.mark.parametrize(("chord", "keys"), [
    ("ctrl+c", ["ctrl", "c"]), ("ctrl c", ["ctrl", "c"]), ("Ctrl-Shift-T", ["Ctrl", "Shift", "T"]),
    ("ctrl++", ["ctrl", "+"]), ("enter", ["enter"]), ("+", ["+"]),
])
def test_split_chord(chord: str, keys: list[str]) -> None:
    assert split_chord(chord) == keys
