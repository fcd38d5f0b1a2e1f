"""The model's tab actions on a :class:`~screenpilot.tools.web.session.ChromiumSession`: list, switch, close, open.

Tabs are numbered from 0 in the order they opened (:meth:`ChromiumSession.tabs`); in a browser attached over CDP
that includes the user's own tabs. What each action did is noted as an event for the next Frame: the list for
:func:`list_tabs`, the tab now current for the others. A number that names no tab is an
:class:`~screenpilot.agent.errors.ActionFailedError` whose hint gives the valid range.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from screenpilot.agent.errors import ActionFailedError
from screenpilot.tools.web.session import ChromiumSession, PlaywrightError, is_gone_error

if TYPE_CHECKING:
    from playwright.sync_api import Page

TITLE_CHARS = 60
"""Tab titles longer than this are cut (with ``...``) in the list."""


def _title(page: Page) -> str:
    try:
        title = page.title()
    except PlaywrightError as exc:
        if is_gone_error(exc):
            raise
        title = ""
    title = " ".join(title.split()) or "(no title)"
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 3] + "..."


def tab_line(session: ChromiumSession, index: int, page: Page) -> str:
    """``[1] Title (https://...)``, with `` (current)`` for the current tab."""
    current = " (current)" if page is session.page else ""
    return f"[{index}] {_title(page)} ({page.url}){current}"


def list_tabs(session: ChromiumSession) -> None:
    """Note the open tabs: ``open tabs: [0] Title (url); [1] ... (current)``."""
    session.note("open tabs: " + "; ".join(tab_line(session, i, page) for i, page in enumerate(session.tabs())))


def _tab(session: ChromiumSession, index: int) -> Page:
    tabs = session.tabs()
    if not 0 <= index < len(tabs):
        last = len(tabs) - 1
        raise ActionFailedError(f"there is no tab {index}; tabs are numbered 0 to {last}",
                                hint=f"give a tab number from 0 to {last}; list_tabs shows them")
    return tabs[index]


def switch_tab(session: ChromiumSession, index: int) -> None:
    """Make tab ``index`` the current one."""
    page = _tab(session, index)
    session.switch_to(page, "now on tab " + tab_line(session, index, page))


def close_tab(session: ChromiumSession, index: int | None) -> None:
    """Close tab ``index`` (None: the current one); when that was the current tab, the newest one left takes over
    (:meth:`ChromiumSession.follow_pages`, a blank tab when none is left)."""
    page = session.page if index is None else _tab(session, index)
    shown = tab_line(session, session.tabs().index(page) if index is None else index, page)
    page.close()
    session.note(f"closed tab {shown}")
    session.follow_pages()


def new_tab(session: ChromiumSession, url: str | None) -> None:
    """Open a new tab, make it current and open ``url`` in it (None: leave it blank). ActionFailedError as
    :meth:`ChromiumSession.goto` when ``url`` does not load (the new tab stays)."""
    page = session.open_page()
    session.follow_pages()
    if session.page is not page:
        session.switch_to(page, "opened a new tab")
    if url is not None:
        session.goto(url)


__all__ = ["TITLE_CHARS", "close_tab", "list_tabs", "new_tab", "switch_tab", "tab_line"]
