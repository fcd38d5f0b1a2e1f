"""Files in and out of a Chromium session: the file choosers its pages open and the files they download.

:class:`Transfers` watches every page of a :class:`~screenpilot.tools.web.session.ChromiumSession`:

* **File choosers.** With a ``filechooser`` listener Playwright keeps the native dialog from opening; the chooser
  is held (the latest one per page) and an event tells the model to answer it with ``upload``. :meth:`Transfers.upload`
  sets the file on the current page's chooser; without one it is an ActionFailedError whose hint says to click the
  file field first. With an ``upload_dir`` a path is taken as :func:`~screenpilot.agent.actions.upload_path` resolves
  it and must lie inside that folder (the safety gate has already refused others; this is the executor's own guard).
* **Downloads.** Playwright reports each download when it starts; :meth:`Transfers.collect` (called before every
  screenshot, when the folder is given and on close) waits for each to finish and saves it into the folder given by
  :meth:`Transfers.save_to` (made on the first download), under the name the page suggested (``name-2.ext`` when
  taken), and notes ``downloaded NAME (N bytes) to FOLDER/NAME``. A download before a folder is given waits in a
  temporary folder and moves in when it is given. Waiting for a large download holds the screenshot up until done.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from screenpilot.agent.actions import upload_path
from screenpilot.agent.errors import ActionFailedError
from screenpilot.tools.web.session import PlaywrightError, PlaywrightTimeoutError, first_line, is_gone_error

if TYPE_CHECKING:
    from playwright.sync_api import Download, FileChooser, Page

MAX_LISTED_FILES = 20
"""A chooser event names at most this many files of the upload folder."""

CHOOSER_GRACE_S = 2.0
"""How long an upload waits for a chooser that is not there yet. Playwright reports a chooser some round trips
after the click that opened it; on a loaded machine that was seen to take over a second."""


def free_name(folder: Path, suggested: str) -> Path:
    """A path in ``folder`` for a file the page calls ``suggested``: its last path part (``download`` when that is
    empty or a dot name), with ``-2``, ``-3``... before the suffix while the name is taken."""
    name = Path(suggested.replace("\\", "/")).name.strip()
    if name in ("", ".", ".."):
        name = "download"
    target = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    number = 2
    while target.exists():
        target = folder / f"{stem}-{number}{suffix}"
        number += 1
    return target


class Transfers:
    """The file choosers and downloads of one session's pages; ``note`` queues an event line for the model.

    ``upload_dir``: the folder uploads come from (relative paths are taken inside it, and paths outside it are
    refused); None: any path, relative ones to the working folder.
    """

    def __init__(self, note: Callable[[str], None], upload_dir: Path | None = None) -> None:
        self._note = note
        self._upload_dir = upload_dir
        self._choosers: dict[Page, FileChooser] = {}
        self._downloads: list[Download] = []
        self._folder: Path | None = None
        self._waiting: Path | None = None

    def watch(self, page: Page) -> None:
        """Hold the file choosers ``page`` opens and report what it downloads."""
        page.on("filechooser", self._on_chooser)
        page.on("download", self._on_download)

    def _on_download(self, download: Download) -> None:
        self._downloads.append(download)

    def _on_chooser(self, chooser: FileChooser) -> None:
        self._choosers[chooser.page] = chooser
        kind = "several files" if chooser.is_multiple() else "one file"
        self._note(f"a file chooser opened (for {kind}); answer it with upload and a file's path{self._listing()}")

    def _listing(self) -> str:
        """`` (files in DIR: a.pdf, b.csv)`` for the upload folder, or nothing without one."""
        folder = self._upload_dir
        if folder is None or not folder.is_dir():
            return "" if folder is None else f" (the upload folder {folder} does not exist)"
        names = sorted(p.name for p in folder.iterdir() if p.is_file())
        shown = ", ".join(names[:MAX_LISTED_FILES]) + (", ..." if len(names) > MAX_LISTED_FILES else "")
        return f" (files in {folder.resolve()}: {shown or 'none'})"

    # --- upload ------------------------------------------------------------------------------------

    def upload(self, page: Page, path: str) -> Path:
        """Choose the file ``path`` in the chooser ``page`` opened; the file's resolved path.

        ActionFailedError when no chooser is open on ``page`` (one still on its way is waited for up to
        :data:`CHOOSER_GRACE_S`), the file is outside the upload folder or is not a
        file, or the page no longer takes it (the chooser stays for another try in the last two cases).
        """
        chooser = self._choosers.get(page)
        if chooser is None and not page.is_closed():
            with suppress(PlaywrightTimeoutError):
                page.wait_for_event("filechooser", timeout=CHOOSER_GRACE_S * 1000)
            chooser = self._choosers.get(page)
        if chooser is None or chooser.page.is_closed():
            raise ActionFailedError("no file chooser is open on this page",
                                    hint="click the page's file field (or its upload button) first; when the file "
                                    "chooser opens, upload the file")
        target = upload_path(path, self._upload_dir)
        if self._upload_dir is not None and not target.is_relative_to(self._upload_dir.resolve()):
            raise ActionFailedError(f"{path!r} is outside the upload folder",
                                    hint=f"upload a file from {self._upload_dir.resolve()}")
        if not target.is_file():
            raise ActionFailedError(f"there is no file {target}",
                                    hint=f"upload an existing file{self._listing()}")
        try:
            chooser.set_files(target)
        except PlaywrightError as exc:
            if is_gone_error(exc):
                raise
            raise ActionFailedError(f"the page did not take the file: {first_line(exc)}",
                                    hint="click the file field again, then upload") from exc
        del self._choosers[page]
        return target

    # --- downloads ---------------------------------------------------------------------------------

    def save_to(self, folder: Path) -> None:
        """Save downloads into ``folder`` from now on (made on the first one); earlier ones move there now."""
        self._folder = folder
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            folder.mkdir(parents=True, exist_ok=True)
            for file in sorted(waiting.iterdir()):
                shutil.move(file, free_name(folder, file.name))
            shutil.rmtree(waiting, ignore_errors=True)
        self.collect()

    def collect(self) -> None:
        """Wait for every reported download to finish and save it (see the module docstring), noting each."""
        while self._downloads:
            download = self._downloads.pop(0)
            name = download.suggested_filename
            failure = download.failure()
            if failure is not None:
                self._note(f"the download of {name} failed ({failure})")
                continue
            folder = self._folder or self._waiting_folder()
            folder.mkdir(parents=True, exist_ok=True)
            target = free_name(folder, name)
            download.save_as(target)
            shown = f"{folder.name}/{target.name}" if self._folder is not None else str(target)
            self._note(f"downloaded {name} ({target.stat().st_size} bytes) to {shown}")

    def _waiting_folder(self) -> Path:
        if self._waiting is None:
            self._waiting = Path(tempfile.mkdtemp(prefix="screenpilot-downloads-"))
        return self._waiting

    def close(self) -> None:
        """Save what is still pending where it can go (nothing raises for a gone browser); drop a waiting folder
        nobody asked for."""
        with suppress(PlaywrightError):
            self.collect()
        if self._waiting is not None and self._folder is None:
            shutil.rmtree(self._waiting, ignore_errors=True)
            self._waiting = None


__all__ = ["CHOOSER_GRACE_S", "MAX_LISTED_FILES", "Transfers", "free_name"]
