"""What the two web executors share: :class:`WebExecutor`, the base of
:class:`~screenpilot.tools.web.browser.BrowserExecutor` and :class:`~screenpilot.tools.web.phone.PhoneExecutor`.

A subclass says how it captures an image (:meth:`WebExecutor._capture_image`), what a Frame's
``extra`` holds (:meth:`WebExecutor._frame_extra`) and how it carries out one action
(:meth:`WebExecutor._act`); the session, the current tab, screenshots framed with URL, title and
events, the tab checks around every action, secret hiding and closing are here once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from PIL import Image

from screenpilot.agent.actions import Action
from screenpilot.agent.frame import Frame
from screenpilot.tools.web.session import ChromiumSession, ContextOptions, LaunchOptions, PlaywrightError, UrlGuard

if TYPE_CHECKING:
    from playwright.sync_api import Page

_Executor = TypeVar("_Executor", bound="WebExecutor")


class WebExecutor:
    """An executor whose screen is one Chromium tab (the newest one) of its own browser.

    Opens a :class:`ChromiumSession` in the constructor, then ``start_url`` (ConfigError when it
    does not open; the browser is closed again). Capabilities:
    :class:`~screenpilot.tools.base.ShowsPage` (:attr:`page`) and
    :class:`~screenpilot.tools.base.MasksSecrets` (:meth:`hide_values`). Use as a context
    manager or call :meth:`close`.
    """

    def __init__(
        self,
        launch: LaunchOptions,
        context_options: ContextOptions,
        *,
        owner: str,
        url_guard: UrlGuard | None,
        start_url: str | None,
    ) -> None:
        self._hidden_values: list[str] = []
        self._session = ChromiumSession(launch, context_options, owner=owner, url_guard=url_guard)
        self.executable = self._session.executable
        try:
            if start_url:
                self._session.open_start_url(start_url)
        except BaseException:
            self.close()
            raise

    # --- what a subclass supplies ------------------------------------------------------------

    def _capture_image(self) -> Image.Image:
        """The current tab as an RGB image of exactly ``size`` (secrets painted over)."""
        raise NotImplementedError

    def _frame_extra(self) -> dict[str, object]:
        """What a Frame's ``extra`` holds besides ``events``."""
        raise NotImplementedError

    def _act(self, action: Action) -> None:
        """Carry out one screen-space action on the current tab (inside the session's error handling)."""
        raise NotImplementedError

    # --- shared --------------------------------------------------------------------------------

    @property
    def page(self) -> Page:
        """The current Playwright page (the newest tab), for setup steps and checks."""
        return self._session.page

    def hide_values(self, values: Sequence[str]) -> None:
        """From the next screenshot on, paint over every input field whose value contains one
        of ``values`` (secrets typed for the model, which must never see them)."""
        self._hidden_values = [value for value in values if value]

    def screenshot(self) -> Frame:
        """Capture the current tab: an RGB image of exactly ``size`` with the URL and title.

        ``extra`` holds the subclass's facts, ``page_state`` (:meth:`ChromiumSession.page_state`, for loop
        detection) and, when something happened since the last capture, ``events`` (new tabs, dismissed dialogs,
        blocked navigations). ExecutorError when the
        browser cannot be driven.
        """
        session = self._session
        with session.driving("take a screenshot"):
            session.leave_blocked_pages()
            session.follow_pages()
            taken_at = time.time()
            start = time.perf_counter()
            image = self._capture_image()
            capture_s = time.perf_counter() - start
            extra = self._frame_extra()
            state = session.page_state()
            if state is not None:
                extra["page_state"] = state
            events = session.take_events()
            if events:
                extra["events"] = events
            return Frame(image=image, taken_at=taken_at, capture_s=capture_s, url=session.page.url,
                         title=session.title(), extra=extra)

    def execute(self, action: Action) -> None:
        """Carry out one screen-space ``action`` on the newest tab.

        ActionFailedError for what the model can fix, ExecutorError when the browser cannot be
        driven, ValueError for Terminate/AskUser (the loop's business). A tab that closes during
        the action is an event, not an error: the next tab takes over.
        """
        session = self._session
        with session.driving(f"carry out {type(action).__name__}"):
            session.follow_pages()
            try:
                self._act(action)
            except PlaywrightError as exc:
                if not session.tab_closed_under(exc):
                    raise
                session.note(f"the tab closed during {type(action).__name__}")
            session.follow_pages()

    def close(self) -> None:
        """Close the browser and release Playwright. Idempotent; never raises for a dead browser."""
        self._session.close()

    def __enter__(self: _Executor) -> _Executor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


__all__ = ["WebExecutor"]
