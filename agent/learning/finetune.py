"""``screenpilot finetune``: LoRA fine-tuning of a vision-language model on an exported dataset, with TRL and peft.

The dataset is the ``hf`` folder of ``screenpilot export`` (or the export folder holding it): TRL's conversational
prompt-completion shape with images, so TRL's ``SFTTrainer`` renders each example with the model's own chat template
and processor (the images are already at model size, which the processor's bounds leave as they are) and computes
the loss on the completion only (``completion_only_loss``). The model loads with
``AutoModelForImageTextToText.from_pretrained`` (Qwen2.5-VL, Qwen3-VL, UI-TARS-1.5) and gets a peft LoRA adapter
(``rank``, ``alpha``, ``target_modules``; ``modules_to_save`` trains those modules whole, e.g. ``lm_head``).

Output folder::

    adapter/        the LoRA adapter (peft ``save_pretrained``; load with ``PeftModel.from_pretrained``)
    merged/         base + adapter merged, with the processor and generation config: a model folder that
                    ``screenpilot run --model DIR`` and ``transformers serve DIR`` load like any other
    training.json   the settings, the loss per logged step, the training time in seconds

It is meant for small models on a CPU and for checking a dataset before a GPU run; for a 7B model the same export
goes to LLaMA-Factory or ms-swift (see the README). Needs ``pip install 'screenpilot[train]'``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from screenpilot.agent.errors import ConfigError

INSTALL_HINT = "pip install 'screenpilot[train]'"
ADAPTER_DIR = "adapter"
MERGED_DIR = "merged"
REPORT_FILE = "training.json"
SCHEDULERS = ("constant", "linear", "cosine")


@dataclass(frozen=True)
class FinetuneSettings:
    """How to train. ``rank`` / ``alpha``: LoRA rank and scaling; ``target_modules``: module names that get LoRA
    (e.g. q_proj, v_proj); ``modules_to_save``: modules trained whole (e.g. lm_head). ``learning_rate`` per step;
    ``epochs`` over the dataset, or ``max_steps`` optimiser steps when given (> 0, overrides epochs);
    ``batch_size`` examples per step; ``scheduler`` the learning-rate schedule (a transformers name: ``constant``,
    ``linear`` decays to zero by the last step, ``cosine``); ``seed`` for the adapter's initialisation and the data
    order; ``gradient_checkpointing`` trades time for memory (large models)."""

    rank: int = 16
    alpha: int = 32
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    modules_to_save: tuple[str, ...] = ()
    learning_rate: float = 2e-4
    epochs: float = 3.0
    max_steps: int | None = None
    batch_size: int = 4
    scheduler: str = "constant"
    seed: int = 0
    gradient_checkpointing: bool = False


@dataclass
class FinetuneResult:
    """A finished training: the output ``folder``, the ``adapter`` and ``merged`` model folders, the ``losses``
    (step, loss) as logged, the number of ``examples`` and the training time ``train_s`` in seconds."""

    folder: Path
    adapter: Path
    merged: Path
    examples: int
    train_s: float
    losses: list[tuple[int, float]] = field(default_factory=list)


def dataset_folder(path: Path) -> Path:
    """The ``datasets`` folder for ``path``: itself, or its ``hf`` sub-folder (an export folder); ConfigError
    naming what to give otherwise."""
    for candidate in (path, path / "hf"):
        if (candidate / "dataset_info.json").is_file() and (candidate / "state.json").is_file():
            return candidate
    raise ConfigError(f"{path} is not a dataset folder; give the folder `screenpilot export --format hf --out DIR` "
                      "wrote (DIR or DIR/hf)")


def _imports() -> tuple[Any, Any, Any, Any]:
    """(datasets, peft, transformers, trl); ConfigError with the install hint when one is missing."""
    try:
        import datasets
        import peft
        import transformers
        import trl
    except ImportError as exc:
        raise ConfigError(f"fine-tuning needs {exc.name}: {INSTALL_HINT}") from None
    return datasets, peft, transformers, trl


def _check(settings: FinetuneSettings) -> None:
    if settings.rank < 1 or settings.alpha < 1 or settings.batch_size < 1:
        raise ConfigError("rank, alpha and batch size must be at least 1")
    if settings.learning_rate <= 0 or (settings.max_steps is None and settings.epochs <= 0):
        raise ConfigError("the learning rate and the epochs must be positive")
    if settings.max_steps is not None and settings.max_steps < 1:
        raise ConfigError("max steps must be at least 1")
    if not settings.target_modules:
        raise ConfigError("give at least one target module for LoRA (e.g. q_proj,v_proj)")
    if settings.scheduler not in SCHEDULERS:
        raise ConfigError(f"unknown learning-rate schedule {settings.scheduler!r}; one of {', '.join(SCHEDULERS)}")


def _loss_logger(trl: Any, losses: list[tuple[int, float]], progress: Callable[[str], None]) -> Any:
    """A transformers callback that keeps and reports the training loss of every logged step."""
    from transformers import TrainerCallback

    class LossLogger(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None,
                   **kwargs: Any) -> None:
            if logs and "loss" in logs:
                losses.append((int(state.global_step), float(logs["loss"])))
                progress(f"step {state.global_step}/{state.max_steps} loss {logs['loss']:.4f}")

    return LossLogger()


def finetune(dataset: Path, base: Path, out: Path, settings: FinetuneSettings = FinetuneSettings(),
             progress: Callable[[str], None] = lambda line: None) -> FinetuneResult:
    """Train a LoRA adapter for the model folder ``base`` on ``dataset`` and write ``out`` (see the module doc).

    ``progress`` gets a line per logged step (the loss) and per stage. ConfigError for a missing library, a folder
    that is no dataset or no model, an empty dataset, bad settings or an ``out`` that holds a trained model already.
    """
    _check(settings)
    datasets, peft, transformers, trl = _imports()
    if not (base / "config.json").is_file():
        raise ConfigError(f"{base} is not a model folder (no config.json); give a local Qwen2.5-VL, Qwen3-VL or "
                          "UI-TARS folder (e.g. one `hf download Qwen/Qwen2.5-VL-3B-Instruct` fetched)")
    folder = dataset_folder(dataset)
    if (out / MERGED_DIR).exists() or (out / ADAPTER_DIR).exists():
        raise ConfigError(f"{out} holds a trained model already; give --out a new folder")
    train = datasets.load_from_disk(str(folder))
    if len(train) == 0:
        raise ConfigError(f"{folder} holds no examples")
    progress(f"{len(train)} examples from {folder}; loading {base}")
    transformers.set_seed(settings.seed)
    processor = transformers.AutoProcessor.from_pretrained(str(base))
    model = transformers.AutoModelForImageTextToText.from_pretrained(str(base), dtype="auto")
    lora = peft.LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=0.0,
                           target_modules=list(settings.target_modules),
                           modules_to_save=list(settings.modules_to_save) or None, task_type="CAUSAL_LM")
    losses: list[tuple[int, float]] = []
    args = trl.SFTConfig(
        output_dir=str(out / "checkpoints"), learning_rate=settings.learning_rate,
        num_train_epochs=settings.epochs, max_steps=settings.max_steps or -1,
        per_device_train_batch_size=settings.batch_size, logging_steps=1, save_strategy="no", report_to=[],
        completion_only_loss=True, max_length=None, seed=settings.seed, data_seed=settings.seed,
        lr_scheduler_type=settings.scheduler, warmup_steps=0, disable_tqdm=True, dataloader_num_workers=0,
        bf16=_bf16(), use_cpu=not _cuda(), gradient_checkpointing=settings.gradient_checkpointing,
    )
    trainer = trl.SFTTrainer(model=model, args=args, train_dataset=train, processing_class=processor,
                             peft_config=lora, callbacks=[_loss_logger(trl, losses, progress)])
    trainer.remove_callback(transformers.PrinterCallback)  # the loss lines come from the logger above
    started = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - started
    result = _save(trainer.model, processor, out)
    report = {"settings": asdict(settings), "base": str(base), "dataset": str(folder), "examples": len(train),
              "train_s": round(train_s, 2), "losses": losses}
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2), encoding="utf-8")
    progress(f"trained in {train_s:.1f}s; adapter {result[0]}, merged model {result[1]}")
    return FinetuneResult(out, result[0], result[1], len(train), train_s, losses)


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _bf16() -> bool:
    """Train in bfloat16 where a GPU supports it (TRL's default), in float32 on the CPU."""
    import torch

    return _cuda() and bool(torch.cuda.is_bf16_supported())


def _save(model: Any, processor: Any, out: Path) -> tuple[Path, Path]:
    """Save the adapter, then the merged model with the processor and the base's generation config."""
    adapter, merged = out / ADAPTER_DIR, out / MERGED_DIR
    model.save_pretrained(str(adapter))
    full = model.merge_and_unload()
    full.save_pretrained(str(merged))
    processor.save_pretrained(str(merged))
    return adapter, merged


def parse_modules(text: str) -> tuple[str, ...]:
    """Module names from a comma-separated list (blanks dropped)."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def summary(losses: Sequence[tuple[int, float]], points: int = 8) -> str:
    """The loss curve in ``points`` samples, ``step:loss`` each (first and last included)."""
    if not losses:
        return "(no loss logged)"
    picks = sorted({round(i * (len(losses) - 1) / max(points - 1, 1)) for i in range(points)})
    return " ".join(f"{losses[i][0]}:{losses[i][1]:.3f}" for i in picks)
