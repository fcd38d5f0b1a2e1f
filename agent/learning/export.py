"""``screenpilot export``: training examples (:mod:`.examples`) written as training data, with a manifest.

Formats (each in its own sub-folder of the output folder):

- ``llamafactory``: ``data.json``, a list of ShareGPT/OpenAI-style records ``{"messages": [{"role", "content"}],
  "images": [paths]}`` where each ``<image>`` in a content string stands for the next image, images as PNG files in
  ``images/`` (named by content hash, so a screenshot kept in several requests is stored once), and the
  ``dataset_info.json`` entry ``screenpilot`` LLaMA-Factory needs (``dataset_dir`` = this folder).
- ``hf``: a Hugging Face ``datasets`` folder (``save_to_disk``) in TRL's conversational prompt-completion shape:
  ``images`` (a list of the ``Image`` feature), ``prompt`` (messages whose image parts are placeholders
  ``{"type": "image"}``, filled in order), ``completion`` (the assistant reply), ``source`` and ``step``.
  ``load_from_disk(DIR/hf)`` reads it; ``dataset.push_to_hub("user/name")`` publishes it.
- ``openai``: ``data.jsonl``, one ``{"messages": [...]}`` per line with the request exactly as the OpenAI-compatible
  backend sends it (images as ``image_url`` PNG data URLs at model size) and the reply as the assistant message.

``manifest.json`` records the sources (and what each gave or why it was skipped), the counts, the files and their
sizes in bytes, the prompt formats and the screenpilot version that wrote the prompts. The folder is written beside
its final place and moved there when complete, so a failed export leaves no half-written folder behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

import screenpilot
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.learning.examples import Example, SourceReport, collect, images_of
from screenpilot.models.base import Message

FORMATS: tuple[str, ...] = ("llamafactory", "hf", "openai")
"""The export formats, in the order they are written."""

MANIFEST = "manifest.json"
DATASET_NAME = "screenpilot"
"""The dataset's name in LLaMA-Factory's ``dataset_info.json``."""
TRAIN_HINT = "pip install 'screenpilot[train]'"


@dataclass(frozen=True)
class ExportResult:
    """A finished export: the output ``folder``, the number of ``examples`` and ``images``, and per format the
    bytes it takes on disk."""

    folder: Path
    examples: int
    images: int
    sizes: dict[str, int]
    sources: list[SourceReport]


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def write_llamafactory(examples: Sequence[Example], folder: Path) -> None:
    """``data.json``, ``images/`` and ``dataset_info.json`` in ``folder`` (see the module doc)."""
    images_dir = folder / "images"
    images_dir.mkdir(parents=True)
    records = []
    for example in examples:
        paths: list[str] = []
        messages = []
        for message in [*example.request.messages, {"role": "assistant", "content": [
                {"type": "text", "text": example.target}]}]:
            text = []
            for part in message["content"]:
                if part.get("type") == "image":
                    data = _png(part["image"])
                    name = f"images/{hashlib.sha256(data).hexdigest()[:20]}.png"
                    if not (folder / name).exists():
                        (folder / name).write_bytes(data)
                    paths.append(name)
                    text.append("<image>")
                else:
                    text.append(part["text"])
            messages.append({"role": message["role"], "content": "".join(text)})
        records.append({"messages": messages, "images": paths})
    (folder / "data.json").write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    info = {DATASET_NAME: {
        "file_name": "data.json", "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
                 "system_tag": "system"},
    }}
    (folder / "dataset_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")


def _placeholders(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Neutral messages with each image part replaced by the placeholder ``{"type": "image", "text": None}``."""
    return [{"role": m["role"], "content": [
        {"type": "image", "text": None} if part.get("type") == "image" else {"type": "text", "text": part["text"]}
        for part in m["content"]]} for m in messages]


def write_hf(examples: Sequence[Example], folder: Path) -> None:
    """A ``datasets`` folder (``save_to_disk``) in ``folder`` (see the module doc); ConfigError without datasets."""
    try:
        import datasets
    except ImportError:
        raise ConfigError(f"the hf format needs the datasets library: {TRAIN_HINT}") from None
    part = {"type": datasets.Value("string"), "text": datasets.Value("string")}
    message = {"role": datasets.Value("string"), "content": datasets.List(part)}
    features = datasets.Features({
        "images": datasets.List(datasets.Image()),
        "prompt": datasets.List(message),
        "completion": datasets.List(message),
        "source": datasets.Value("string"),
        "step": datasets.Value("int32"),
    })
    rows = [{
        "images": example.request.images(),
        "prompt": _placeholders(example.request.messages),
        "completion": [{"role": "assistant", "content": [{"type": "text", "text": example.target}]}],
        "source": str(example.source),
        "step": example.step,
    } for example in examples]
    datasets.Dataset.from_list(rows, features=features).save_to_disk(str(folder))


def write_openai(examples: Sequence[Example], folder: Path) -> None:
    """``data.jsonl`` in ``folder``: each request as the OpenAI-compatible backend sends it, plus the reply."""
    from screenpilot.models.backends.openai_compat import OpenAICompatBackend

    folder.mkdir(parents=True)
    with (folder / "data.jsonl").open("w", encoding="utf-8") as fh:
        for example in examples:
            payload = OpenAICompatBackend("http://127.0.0.1", example.format_name).request_payload(example.request)
            messages = [*payload["messages"], {"role": "assistant", "content": example.target}]
            fh.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")


WRITERS: dict[str, Callable[[Sequence[Example], Path], None]] = {
    "llamafactory": write_llamafactory, "hf": write_hf, "openai": write_openai,
}


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} exists and is not an empty folder; give --out a new folder")


def export(paths: Sequence[Path], out: Path, formats: Sequence[str] = FORMATS, *, include_failed: bool = False,
           progress: Callable[[str], None] = lambda line: None) -> ExportResult:
    """Export the examples of ``paths`` (run or evaluation folders) to ``out`` in ``formats``.

    ``progress`` gets one line per stage. ConfigError for an unknown format, an ``out`` that is a file or a folder
    holding something, sources that are neither kind, or sources giving no example (with what each gave).
    """
    unknown = [name for name in formats if name not in WRITERS]
    if unknown or not formats:
        raise ConfigError(f"unknown export format {', '.join(unknown) or '(none)'}; use {', '.join(FORMATS)}")
    _check_out(out)
    examples, sources = collect(paths, include_failed)
    if not examples:
        why = "; ".join(f"{s.run_dir}: {s.skipped or ', '.join(s.dropped) or 'no steps'}" for s in sources)
        raise ConfigError("no examples to export" + (f" ({why})" if why else " (no run folders found)")
                          + "; runs that did not succeed count only with --include-failed")
    progress(f"{len(examples)} examples from {sum(1 for s in sources if s.examples)} run(s)")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        sizes: dict[str, int] = {}
        for name in dict.fromkeys(formats):
            started = time.perf_counter()
            WRITERS[name](examples, staging / name)
            sizes[name] = _folder_bytes(staging / name)
            progress(f"{name}: {sizes[name]:,} bytes in {time.perf_counter() - started:.1f}s")
        manifest = _manifest(examples, sources, sizes, include_failed)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(out, len(examples), images_of(examples), sizes, sources)


def _manifest(examples: Sequence[Example], sources: Sequence[SourceReport], sizes: dict[str, int],
              include_failed: bool) -> dict[str, Any]:
    return {
        "schema": 1,
        "screenpilot": screenpilot.__version__,
        "examples": len(examples),
        "images": images_of(examples),
        "include_failed": include_failed,
        "prompt_formats": dict(Counter(example.format_name for example in examples)),
        "formats": {name: {"folder": name, "bytes": size} for name, size in sizes.items()},
        "sources": [{"run_dir": str(s.run_dir), "evaluation": None if s.evaluation is None else str(s.evaluation),
                     "examples": s.examples, "dropped": s.dropped, "skipped": s.skipped} for s in sources],
    }
