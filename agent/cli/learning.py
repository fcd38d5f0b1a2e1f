"""``screenpilot export`` and ``screenpilot finetune``: runs as training data, and LoRA fine-tuning on it.

``screenpilot export RUNS_OR_EVALS... --out DIR`` writes the model calls of successful runs (of an evaluation, its
passed episodes) as LLaMA-Factory, Hugging Face ``datasets`` and OpenAI-style files with a manifest
(:mod:`screenpilot.agent.learning.export`). ``screenpilot finetune DATASET --base MODEL_DIR --out DIR`` trains a LoRA
adapter with TRL and writes it with a merged model folder (:mod:`screenpilot.agent.learning.finetune`).
Exit codes: 0 written; 2 bad folders or options, no examples, a missing library (with the install hint).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from screenpilot.agent.cli.app import app, command
from screenpilot.agent.cli.exits import EXIT_SUCCESS


@command(app, "export", summary="export runs and evaluations as training data",
         help="Write every model call of successful runs (of an evaluation folder, its passed episodes) as training "
         "examples exactly as the model saw them: LLaMA-Factory JSON, a Hugging Face datasets folder, OpenAI-style "
         "JSONL, and manifest.json. Steps with a model error or a refused action are left out.")
def cmd_export(
    console: Console,
    paths: Annotated[list[Path], typer.Argument(metavar="RUNS_OR_EVALS", help="run folders and evaluation folders",
                                                show_default=False)],
    out: Annotated[Path, typer.Option(help="the folder to create (new or empty)", show_default=False)],
    format: Annotated[list[str] | None, typer.Option(
        "--format", help="llamafactory, hf or openai; repeat for several (default: all three)")] = None,
    include_failed: Annotated[bool, typer.Option(help="also runs that did not succeed, and failed episodes")] = False,
) -> int:
    from screenpilot.agent.learning.export import FORMATS, export

    result = export(paths, out, tuple(format or FORMATS), include_failed=include_failed,
                    progress=lambda line: console.print(escape(line)))
    for source in result.sources:
        if source.skipped:
            console.print(f"[yellow]skipped[/yellow] {escape(str(source.run_dir))}: {escape(source.skipped)}")
    console.print(f"{result.examples} examples, {result.images} images -> {escape(str(result.folder))}")
    return EXIT_SUCCESS


@command(app, "finetune", summary="LoRA fine-tune a model on an exported dataset",
         help="Train a LoRA adapter (TRL SFTTrainer, loss on the replies only) for the model folder --base on the hf "
         "folder of `screenpilot export`, and write the adapter, a merged model folder (for screenpilot run --model "
         "DIR/merged) and training.json with the loss curve.")
def cmd_finetune(  # noqa: PLR0913 - one parameter per option
    console: Console,
    dataset: Annotated[Path, typer.Argument(metavar="DATASET", help="an export folder or its hf sub-folder",
                                            show_default=False)],
    base: Annotated[Path, typer.Option(help="the model folder to start from", show_default=False)],
    out: Annotated[Path, typer.Option(help="the folder for adapter/, merged/ and training.json",
                                      show_default=False)],
    rank: Annotated[int, typer.Option(help="LoRA rank")] = 16,
    alpha: Annotated[int, typer.Option(help="LoRA alpha (scaling)")] = 32,
    target_modules: Annotated[str, typer.Option(help="modules that get LoRA, comma-separated")] = "q_proj,v_proj",
    modules_to_save: Annotated[str, typer.Option(help="modules trained whole, comma-separated (e.g. lm_head)")] = "",
    learning_rate: Annotated[float, typer.Option("--lr", help="learning rate")] = 2e-4,
    epochs: Annotated[float, typer.Option(help="passes over the dataset")] = 3.0,
    max_steps: Annotated[int | None, typer.Option(help="optimiser steps (overrides --epochs)")] = None,
    batch_size: Annotated[int, typer.Option(help="examples per step")] = 4,
    scheduler: Annotated[str, typer.Option(help="learning-rate schedule: constant, linear (decays to zero) or "
                                                "cosine")] = "constant",
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    gradient_checkpointing: Annotated[bool, typer.Option(help="trade time for memory (large models)")] = False,
) -> int:
    from screenpilot.agent.learning.finetune import FinetuneSettings, finetune, parse_modules, summary

    settings = FinetuneSettings(rank=rank, alpha=alpha, target_modules=parse_modules(target_modules),
                                modules_to_save=parse_modules(modules_to_save), learning_rate=learning_rate,
                                epochs=epochs, max_steps=max_steps, batch_size=batch_size, scheduler=scheduler,
                                seed=seed, gradient_checkpointing=gradient_checkpointing)
    result = finetune(dataset, base, out, settings, progress=lambda line: console.print(escape(line)))
    console.print(f"loss curve (step:loss): {summary(result.losses)}")
    merged = escape(str(result.merged))
    console.print(f"merged model: {merged} (use it with screenpilot run ... --model {merged})")
    return EXIT_SUCCESS
