"""What the two web executors share: :class:`WebExecutor`, the base of
:class:`~screenpilot.tools.web.browser.BrowserExecutor` and :class:`~screenpilot.tools.web.phone.PhoneExecutor`.

A subclass says how it captures a PNG and decodes it (:meth:`WebExecutor._capture_png`,
:meth:`WebExecutor._image_from_png`), what a Frame's ``extra`` holds (:meth:`WebExecutor._frame_extra`) and how it
carries out one action (:meth:`WebExecutor._act`) and how it takes a cheap grey capture
(:meth:`WebExecutor._small_gray`); the session, the current tab, screenshots framed with URL, title, page state and
events, settling after an action (the page asked first, pixels compared only when it reports activity), the tab
checks around every action, secret hiding, file choosers and downloads (:mod:`screenpilot.tools.web.transfers`) and
closing are here once.

The settle frame. When the page says nothing is moving, settle captures the screen *inside* the page's quiet window
(:meth:`ChromiumSession.page_is_quiet` ``during``): the window stays open until the capture (which waits for a
frame of its own) is done and an animation frame has passed, and when it ends without a change the capture shows
the settled screen. The
next :meth:`WebExecutor.screenshot` uses that capture instead of taking another one, when nothing happened in
between: no action, no navigation, no tab switch, no new secret to hide, and at most :data:`KEPT_FRAME_MAX_AGE_S`
later. So a step on a static page costs one capture, as a bare capture-and-act loop does.
"""

from __future__ import annotations

import re
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from PIL import Image, ImageDraw

from screenpilot.agent.actions import Action
from screenpilot.agent.frame import Frame
from screenpilot.tools.settle import GrayFrame, SettleSettings, wait_until_stable
from screenpilot.tools.web.element_probe import ElementProbe
from screenpilot.tools.web.session import (
    ChromiumSession,
    ContextOptions,
    FrameFacts,
    LaunchOptions,
    PageQuestion,
    PlaywrightError,
    PlaywrightTimeoutError,
    UrlGuard,
)
from screenpilot.tools.web.transfers import Transfers

Box = tuple[float, float, float, float]
"""(left, top, width, height) in client CSS px."""

if TYPE_CHECKING:
    from playwright.sync_api import Page

_Executor = TypeVar("_Executor", bound="WebExecutor")
_Answer = TypeVar("_Answer")

MASK_COLOR = (40, 40, 40)
"""The RGB colour secrets are painted over with."""

KEPT_FRAME_MAX_AGE_S = 0.25
"""How long after settle its capture may stand for the next screenshot, in seconds: the step's bookkeeping fits in
it, a model call does not (a page timer due later than the 250 ms the activity tracker watches may have fired)."""

BULK_TYPE_CHARS = 200
"""Lines of typed text longer than this many characters are inserted in one go (one input event, no key events) but
for their last character, which is typed as a key so pages that react to keys still see one; shorter text is typed
key by key (about 2 ms per character), so every key handler fires."""


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's header, None when ``data`` is not a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@dataclass(frozen=True)
class _KeptFrame:
    """A capture settle took inside a quiet window, for the next screenshot (see the module docstring)."""

    png: bytes
    image: Future[Image.Image]
    """``png`` decoded (on the executor's decoding thread, while the quiet window ends)."""
    before: list[Box] | None
    """Where secrets were just before the capture (``[]`` when none are hidden, None when it could not be asked)."""
    page: Page
    navigations: int
    taken_at: float
    """time.time() at the capture."""
    captured_at: float
    """time.monotonic() at the capture."""
    facts: PageQuestion
    """:meth:`ChromiumSession.frame_facts`, asked at the end of the quiet window (after the capture)."""
    observed: PageQuestion
    """The element probe's observation, asked with ``facts``."""


class WebExecutor:
    """An executor whose screen is one Chromium tab (the newest one) of its own browser.

    Opens a :class:`ChromiumSession` in the constructor, then ``start_url`` (ConfigError when it
    does not open; the browser is closed again). ``upload_dir``: the folder uploads come from (see
    :class:`~screenpilot.tools.web.transfers.Transfers`). Capabilities:
    :class:`~screenpilot.tools.base.ShowsPage` (:attr:`page`),
    :class:`~screenpilot.tools.base.MasksSecrets` (:meth:`hide_values`) and
    :class:`~screenpilot.tools.base.SavesDownloads` (:meth:`save_downloads_to`). Use as a context
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
        settle: SettleSettings,
        mask_selectors: Sequence[str] = ("[data-screenpilot-secret]",),
        upload_dir: Path | None = None,
    ) -> None:
        self._hidden_values: list[str] = []
        self._kept: _KeptFrame | None = None
        self._decoder: ThreadPoolExecutor | None = None
        self._probe = ElementProbe()
        self._mask_selectors = tuple(mask_selectors)
        self._settle = settle
        self._session = ChromiumSession(launch, context_options, owner=owner, url_guard=url_guard)
        self.executable = self._session.executable
        self._transfers = Transfers(self._session.note, upload_dir)
        try:
            self._session.watch_pages(self._transfers.watch)
            if start_url:
                self._session.open_start_url(start_url)
        except BaseException:
            self.close()
            raise

    # --- what a subclass supplies ------------------------------------------------------------

    def _capture_png(self) -> bytes:
        """The current tab as a PNG, as captured (:meth:`_masked_capture` paints); ExecutorError when the page does
        not answer within :meth:`_response_timeout_s`."""
        raise NotImplementedError

    def _image_from_png(self, data: bytes) -> Image.Image:
        """``data`` from :meth:`_capture_png` as an RGB image of exactly ``size``."""
        raise NotImplementedError

    def _image_boxes(self, boxes: Iterable[Box]) -> list[tuple[int, int, int, int]]:
        """Boxes (left, top, width, height) in client CSS px as (x0, y0, x1, y1) image px, each covered whole.
        PlaywrightError when the page must be asked and cannot be."""
        raise NotImplementedError

    def _frame_extra(self) -> dict[str, object]:
        """What a Frame's ``extra`` holds besides ``events``."""
        raise NotImplementedError

    def _act(self, action: Action) -> None:
        """Carry out one screen-space action on the current tab (inside the session's error handling)."""
        raise NotImplementedError

    def _small_gray(self) -> GrayFrame:
        """A cheap capture for the pixel comparison of :meth:`settle`: small grayscale, ``downscale_width`` wide."""
        raise NotImplementedError

    def _response_timeout_s(self) -> float:
        """How long the page may take to answer a question before the executor calls it stuck, in seconds."""
        return 10.0

    # --- shared --------------------------------------------------------------------------------

    @property
    def page(self) -> Page:
        """The current Playwright page (the newest tab), for setup steps and checks."""
        return self._session.page

    def take_probes(self) -> list[dict[str, object]]:
        """What the page's elements held at each observation and after each pointer or typing action since the
        last call (:mod:`screenpilot.tools.web.element_probe`)."""
        with self._session.driving("probe the page"):
            self._probe.flush(self._session.page)
        return self._probe.take()

    def save_downloads_to(self, folder: Path) -> None:
        """Save what the pages download into ``folder`` (made on the first download), earlier downloads included."""
        with self._session.driving("save downloads"):
            self._transfers.save_to(folder)

    def hide_values(self, values: Sequence[str]) -> None:
        """From the next screenshot on, paint over every place the page shows one of ``values`` (secrets typed for
        the model, which must never see them): fields, text, same-origin frames (:data:`SECRET_BOXES_JS`)."""
        self._hidden_values = [value for value in values if value]
        self._kept = None

    def _type_text(self, text: str, tab_moves_focus: bool) -> None:
        """Type ``text`` into whatever has focus: ``\n`` (``\r\n``, ``\r``) presses Enter, ``\t`` presses Tab when
        ``tab_moves_focus``; long lines in bulk (:data:`BULK_TYPE_CHARS`)."""
        keyboard = self.page.keyboard
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        for piece in re.split("(\n|\t)" if tab_moves_focus else "(\n)", text):
            if piece == "\n":
                keyboard.press("Enter")
            elif piece == "\t" and tab_moves_focus:
                keyboard.press("Tab")
            elif len(piece) > BULK_TYPE_CHARS:
                keyboard.insert_text(piece[:-1])
                keyboard.type(piece[-1])
            elif piece:
                keyboard.type(piece)

    def _secret_boxes(self) -> list[Box] | None:
        """Where the tab shows a secret or a masked element; None when the page cannot be asked."""
        return self._ask_page(lambda: self._session.secret_boxes(self._mask_selectors, self._hidden_values,
                                                                 self._response_timeout_s()))

    def _frame_facts(self) -> FrameFacts | None:
        """Secret boxes, page state and title in one question to the tab; None when the page cannot be asked."""
        return self._ask_page(lambda: self._session.frame_facts(self._mask_selectors, self._hidden_values,
                                                                self._response_timeout_s()))

    def _ask_page(self, question: Callable[[], _Answer]) -> _Answer | None:
        """``question()``'s answer, or None when the page cannot answer it (a navigation replaced the document);
        a closed tab or a gone browser raises."""
        try:
            return question()
        except PlaywrightError as exc:
            if self._session.tab_closed_under(exc) or not self._session.connected():
                raise
            return None

    def _keep_frame(self, facts: PageQuestion, observed: PageQuestion) -> None:
        """Capture the screen for the next screenshot (called inside a quiet window: the page has just answered);
        ``facts`` and ``observed`` are answered when the window ends."""
        page = self._session.page
        before = self._secret_boxes() if self._hidden_values else []
        png = self._capture_png()
        if self._decoder is None:
            self._decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="screenpilot-decode")
        self._kept = _KeptFrame(png=png, image=self._decoder.submit(self._image_from_png, png), before=before,
                                page=page, navigations=self._session.navigations, taken_at=time.time(),
                                captured_at=time.monotonic(), facts=facts, observed=observed)

    def _take_kept_frame(self) -> _KeptFrame | None:
        """Settle's capture when it still shows the screen (see the module docstring), else None; forgotten."""
        kept, self._kept = self._kept, None
        if kept is None or kept.page is not self._session.page or kept.navigations != self._session.navigations:
            return None
        return kept if time.monotonic() - kept.captured_at <= KEPT_FRAME_MAX_AGE_S else None

    def _masked_capture(self, kept: _KeptFrame | None) -> tuple[Image.Image, FrameFacts | None, bytes | None]:
        """A capture (``kept``, else a new one) with every secret the page shows painted over in
        :data:`MASK_COLOR`, what the page said about itself just after the capture (None: it could not be asked)
        and the capture's PNG when the image is exactly that (nothing painted, not resized; else None).

        The page is asked where just after the capture (with the state and title, :meth:`_frame_facts`) and, when
        values are hidden, also just before; both answers are painted, so text that moves or appears meanwhile is
        still covered. When it cannot be asked while secrets are set (a navigation replaced the document), the
        whole image is painted: the model then sees nothing rather than a secret.
        """
        facts = None
        if kept is None:
            before = self._secret_boxes() if self._hidden_values else []  # marked elements do not come and go
            png = self._capture_png()
            image = self._image_from_png(png)
        else:
            before, png, image = kept.before, kept.png, kept.image.result()
            facts = FrameFacts.from_answer(kept.facts.answer)
        if facts is None:
            facts = self._frame_facts()
        try:
            painted = None if before is None or facts is None else self._image_boxes({*before, *facts.boxes})
        except PlaywrightError:
            painted = None
        draw = ImageDraw.Draw(image)
        if painted is None and self._hidden_values:
            painted = [(0, 0, image.width, image.height)]
        for corners in painted or ():
            draw.rectangle(corners, fill=MASK_COLOR)
        as_captured = not painted and image.size == png_size(png)
        return image, facts, png if as_captured else None

    def screenshot(self) -> Frame:
        """Capture the current tab: an RGB image of exactly ``size`` with the URL and title.

        ``extra`` holds the subclass's facts, ``page_state`` (:meth:`ChromiumSession.page_state`, for loop
        detection) and, when something happened since the last capture, ``events`` (new tabs, dismissed dialogs,
        blocked navigations, file choosers, finished downloads, tab lists). ExecutorError when the
        browser cannot be driven. Right after :meth:`settle` the screen it captured is used (see the module
        docstring): ``capture_s`` is then the time spent here, the capture itself counted in settle.
        """
        session = self._session
        with session.driving("take a screenshot"):
            self._probe.flush(session.page)
            self._transfers.collect()
            session.leave_blocked_pages()
            switched = session.follow_pages()
            kept = None if switched else self._take_kept_frame()
            taken_at = time.time() if kept is None else kept.taken_at
            start = time.perf_counter()
            image, facts, png = self._masked_capture(kept)
            extra = self._frame_extra()
            if kept is not None and kept.observed.answered:
                self._probe.accept(kept.observed, self._hidden_values)
            else:
                self._probe.observe(session.page, self._hidden_values)
            capture_s = time.perf_counter() - start
            state = session.page_state() if facts is None else facts.state
            if state is not None:
                extra["page_state"] = state
            events = session.take_events()
            if events:
                extra["events"] = events
            return Frame(image=image, taken_at=taken_at, capture_s=capture_s, url=session.page.url,
                         title=session.title() if facts is None else facts.title, extra=extra, png=png)

    def settle(self) -> float:
        """Wait until the tab has loaded and stopped changing, at most ``max_wait_s``; seconds spent.

        The page is asked first (:meth:`ChromiumSession.page_is_quiet`: animations, transitions, its own animation
        frames, short timers, media, DOM mutations and scrolls over two frames; requests in flight are waited for),
        and the screen is captured inside its quiet window for the next screenshot (the settle frame, see the module
        docstring); only when it reports activity, or cannot tell (a canvas, a plugin, a cross-origin frame), are
        screenshots compared until two in a row match (:func:`~screenpilot.tools.settle.wait_until_stable`), the page
        asked again between them: once it says nothing moves (the transition or animation has ended), the wait ends
        with a settle frame captured in that quiet window. A navigation or a new tab during the wait starts it once
        more. With ``fixed_delay_s`` set, sleeps exactly that long instead.
        """
        settings = self._settle
        session = self._session
        start = time.monotonic()
        self._kept = None
        with session.driving("wait for the page to settle"):
            if settings.fixed_delay_s is not None:
                self._probe.flush(session.page)
                wait_until_stable(self._small_gray, settings)
                session.follow_pages()
                return time.monotonic() - start
            for _ in range(2):
                navigations = session.navigations
                self._wait_for_load(settings.max_wait_s - (time.monotonic() - start))
                remaining = settings.max_wait_s - (time.monotonic() - start)
                if remaining <= 0:
                    break
                probe = self._probe.pending_question()
                quiet = self._quiet_with_frame(remaining, [probe] if probe else [])
                if probe is not None:
                    self._probe.accept(probe, self._hidden_values)
                if not quiet:
                    remaining = settings.max_wait_s - (time.monotonic() - start)
                    wait_until_stable(self._small_gray, replace(settings, max_wait_s=max(0.0, remaining)),
                                      settled=lambda: self._quiet_with_frame(0.0))
                switched = session.follow_pages()
                if session.navigations == navigations and not switched:
                    break
        return time.monotonic() - start

    def _quiet_with_frame(self, request_wait_s: float, first: Sequence[PageQuestion] = ()) -> bool:
        """Whether the page says it has stopped changing (:meth:`ChromiumSession.page_is_quiet`, waiting up to
        ``request_wait_s`` for its requests; ``first`` asked along), the settle frame captured inside its quiet
        window and kept when it has (dropped otherwise). Asked once after the action and then between the pixel
        comparisons of the fallback, so a page that was busy (a transition, an animation) ends the wait as soon as it
        says so, with no capture left to take."""
        facts = self._session.frame_facts_question(self._mask_selectors, self._hidden_values)
        observed = self._probe.observe_question()
        quiet = self._session.page_is_quiet(self._settle.quiet_window_s, request_wait_s=request_wait_s,
                                            answer_timeout_s=self._response_timeout_s(),
                                            during=lambda: self._keep_frame(facts, observed),
                                            first=first, last=[facts, observed])
        if not quiet:
            self._kept = None
        return quiet

    def _wait_for_load(self, budget_s: float) -> None:
        """Wait up to ``budget_s`` seconds for the tab's ``load`` event; a tab closing meanwhile is followed."""
        if budget_s <= 0:
            return
        try:
            self._session.page.wait_for_load_state("load", timeout=budget_s * 1000)
        except PlaywrightTimeoutError:
            return
        except PlaywrightError as exc:
            if not self._session.tab_closed_under(exc):
                raise
            self._session.follow_pages()

    def execute(self, action: Action) -> None:
        """Carry out one screen-space ``action`` on the newest tab.

        ActionFailedError for what the model can fix, ExecutorError when the browser cannot be
        driven, ValueError for Terminate/AskUser (the loop's business). A tab that closes during
        the action is an event, not an error: the next tab takes over.
        """
        session = self._session
        self._kept = None
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
        """Save pending downloads, close the browser (attached over CDP: only disconnect) and release Playwright.
        Idempotent; never raises for a dead browser."""
        if not self._session.closed:
            self._transfers.close()
        self._session.close()
        if self._decoder is not None:
            self._decoder.shutdown()

    def __enter__(self: _Executor) -> _Executor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


__all__ = ["WebExecutor"]
