"""Writing a run's step files off the step path: the screenshot PNG, then its ``steps.jsonl`` line.

:class:`StepWriter` owns one thread that writes the steps handed to :meth:`StepWriter.submit` in order. For each
step it saves the PNG under a temporary name, renames it into place, and only then appends the step's line (flushed
and fsynced): a process killed at any moment (even ``kill -9``) leaves no line whose image is missing, and every
line in the file is complete but perhaps the last (which readers skip when torn). Steps still queued when the
process dies are lost; at most ``depth`` steps wait at a time (:meth:`StepWriter.submit` blocks while that many are
pending), so the recording never falls far behind the run.

PNG encoding (the bulk of the work, tens of milliseconds for a 1280x720 screenshot) releases the GIL in Pillow, so
it overlaps the next step's capture and model call instead of delaying them.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from screenpilot.agent.errors import InfrastructureError


@dataclass(frozen=True)
class _Job:
    index: int
    image: Image.Image
    name: str
    line: str
    png: bytes | None


class StepWriter:
    """Writes step PNGs into ``run_dir`` and lines into ``steps_file`` on its own thread (see the module doc).

    A failed write (disk full, folder removed) is raised as :class:`InfrastructureError` by the next
    :meth:`submit` or by :meth:`flush`; later steps are not written after it. ``write_s`` holds the seconds each
    written step took on the writer's thread (PNG and line), for reports and benchmarks.
    """

    def __init__(self, run_dir: Path, steps_file: Path, depth: int = 2) -> None:
        self._run_dir = run_dir
        self._steps_file = steps_file
        self._jobs: queue.Queue[_Job | None] = queue.Queue(maxsize=depth)
        self._failure: InfrastructureError | None = None
        self.write_s: list[float] = []
        self._thread = threading.Thread(target=self._work, name=f"screenpilot-steps-{run_dir.name}", daemon=True)
        self._thread.start()

    def submit(self, index: int, image: Image.Image, name: str, line: str, png: bytes | None = None) -> None:
        """Queue step ``index``: ``image`` saved as ``name`` in the run folder (``png`` written as is when given: the
        image's own PNG encoding), then ``line`` appended. Blocks while ``depth`` steps are pending; raises the
        error of an earlier failed write."""
        self._raise_failure()
        self._jobs.put(_Job(index, image, name, line, png))

    def flush(self) -> None:
        """Wait until every queued step is on disk; raises the error of a failed write."""
        self._jobs.join()
        self._raise_failure()

    def close(self) -> None:
        """Write what is queued and stop the thread (idempotent); raises the error of a failed write."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if self._failure is None:
                    self._write(job)
            finally:
                self._jobs.task_done()

    def _write(self, job: _Job) -> None:
        started = time.perf_counter()
        final = self._run_dir / job.name
        partial = final.with_name(final.name + ".partial")
        try:
            if job.png is not None:
                partial.write_bytes(job.png)
            else:
                job.image.save(partial, format="PNG")
            os.replace(partial, final)
            with self._steps_file.open("a", encoding="utf-8") as fh:
                fh.write(job.line + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            self._failure = InfrastructureError(
                f"cannot write step {job.index} to {self._run_dir}: {exc.strerror or exc}; "
                "free some disk space or choose another --out folder")
            return
        self.write_s.append(time.perf_counter() - started)


__all__ = ["StepWriter"]
