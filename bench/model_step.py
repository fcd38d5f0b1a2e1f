"""Per-step latency of Qwen2.5-VL on one screenshot: preprocessing, prefill, decode, GPU memory.

Usage::

    python bench/model_step.py            # random weights, Qwen2.5-VL-7B-Instruct architecture, GPU
    python bench/model_step.py --tiny     # the tiny random model on the CPU (a smoke run, seconds)
    python bench/model_step.py --json out.json --sizes 1280x720,1920x1080,3840x2160

The 7B model is built from the published ``config.json`` values of Qwen/Qwen2.5-VL-7B-Instruct
with random weights (nothing is downloaded); speed does not depend on the weights. The
processor (chat template, tokenizer, the released image-processor settings) is the tiny model's,
so text tokens differ slightly from the real tokenizer's count; image tokens are exact. Each
screenshot is resized to model space with smart_resize (factor 28, min 3,136 pixels, max
``--max-pixels``) before the processor sees it, as screenpilot does.

Per size, after one warm-up call, ``--repeats`` calls are timed and the median is reported:

- ``preprocess``: chat template, image loading, processor, copy to the device (ms);
- ``prefill``: ``generate`` start to the first token's logits, i.e. time to first token (ms);
- ``decode``: ms per token over the remaining ``--new-tokens - 1`` tokens (EOS suppressed);
- ``peak GPU memory``: ``torch.cuda.max_memory_allocated`` over the size's calls (MiB).

On a GPU the table also gives the ratio of each measured time to a hardware bound: decode
against reading the language model's weights once per token (bytes / memory bandwidth; the KV
cache and activations are ignored) and prefill against its FLOPs at peak dense bf16 throughput
(2 x parameters x tokens for the matmuls, plus attention: causal in the language model, windowed
and full in the vision tower). Bandwidth and peak come from a small table by GPU name
(``--gpu-name``, ``--bandwidth-gbs``, ``--peak-tflops`` override it). A ratio of 1 would be at the
bound; real runs are above it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from screenpilot.models.backends.local import FirstTokenClock, prepare_inputs  # noqa: E402
from screenpilot.models.resize import MAX_PIXELS, MIN_PIXELS, model_size_for, resize_image  # noqa: E402
from screenpilot.models.tiny import build_tiny_qwen25_vl  # noqa: E402

#: Published config.json values of Qwen/Qwen2.5-VL-7B-Instruct (flat, as on the hub).
QWEN25_VL_7B_CONFIG: dict[str, Any] = {
    "architectures": ["Qwen2_5_VLForConditionalGeneration"],
    "model_type": "qwen2_5_vl",
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "vision_start_token_id": 151652,
    "vision_end_token_id": 151653,
    "vision_token_id": 151654,
    "image_token_id": 151655,
    "video_token_id": 151656,
    "hidden_act": "silu",
    "hidden_size": 3584,
    "initializer_range": 0.02,
    "intermediate_size": 18944,
    "max_position_embeddings": 128000,
    "max_window_layers": 28,
    "num_attention_heads": 28,
    "num_hidden_layers": 28,
    "num_key_value_heads": 4,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
    "sliding_window": 32768,
    "use_sliding_window": False,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "vocab_size": 152064,
    "vision_config": {
        "depth": 32,
        "hidden_act": "silu",
        "hidden_size": 1280,
        "intermediate_size": 3420,
        "num_heads": 16,
        "in_chans": 3,
        "out_hidden_size": 3584,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "spatial_patch_size": 14,
        "temporal_patch_size": 2,
        "window_size": 112,
        "fullatt_block_indexes": [7, 15, 23, 31],
        "tokens_per_second": 2,
    },
}

_TOKEN_ID_KEYS = (
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "vision_start_token_id",
    "vision_end_token_id",
    "vision_token_id",
    "image_token_id",
    "video_token_id",
)

#: (substring of torch.cuda.get_device_name(), memory bandwidth GB/s, dense bf16 TFLOP/s), first match wins.
GPU_SPECS: tuple[tuple[str, float, float], ...] = (
    ("H200", 4800.0, 989.0),
    ("H100 PCIE", 2000.0, 756.0),
    ("H100 NVL", 3900.0, 835.0),
    ("H100", 3350.0, 989.0),
    ("A100-SXM4-80GB", 2039.0, 312.0),
    ("A100 80GB PCIE", 1935.0, 312.0),
    ("A100", 1555.0, 312.0),
    ("L40S", 864.0, 362.0),
    ("L4", 300.0, 121.0),
    ("A10", 600.0, 125.0),
    ("T4", 320.0, 65.0),
)

TASK = "Open the settings page and turn on dark mode."
SYSTEM = (
    "You are a helpful assistant.\n\n# Tools\n\nYou may call one or more functions to assist with the "
    "user query.\n\n<tools>\n"
    + json.dumps(
        {
            "type": "function",
            "function": {
                "name": "computer_use",
                "description": "Use a mouse and keyboard to interact with a computer.",
                "parameters": {
                    "properties": {
                        "action": {"type": "string", "enum": ["left_click", "type", "key", "scroll"]},
                        "coordinate": {"type": "array"},
                        "text": {"type": "string"},
                    },
                    "required": ["action"],
                    "type": "object",
                },
            },
        }
    )
    + "\n</tools>\n\nFor each function call, return a json object within <tool_call></tool_call> XML tags."
)


@dataclass
class StepResult:
    """Median measurements for one screenshot size (times in ms, memory in MiB)."""

    screen: str
    model_space: str
    image_tokens: int
    prompt_tokens: int
    new_tokens: int
    preprocess_ms: float
    prefill_ms: float
    decode_ms_per_token: float
    peak_gpu_mib: float | None
    prefill_tflop: float
    prefill_bound_ms: float | None = None
    decode_bound_ms: float | None = None
    prefill_ratio: float | None = None
    decode_ratio: float | None = None


@dataclass
class Hardware:
    """What the bounds are computed against."""

    device: str
    name: str
    bandwidth_gbs: float | None
    peak_tflops: float | None


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> (1280, 720)."""
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


def synthetic_screenshot(size: tuple[int, int]) -> Any:
    """A screenshot-like RGB image: a title bar, a sidebar, buttons and text lines."""
    from PIL import Image, ImageDraw

    width, height = size
    image = Image.new("RGB", size, (245, 246, 248))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 40), fill=(40, 44, 52))
    draw.rectangle((0, 40, width // 6, height), fill=(225, 228, 232))
    for row in range(12):
        top = 70 + row * (height - 100) // 12
        draw.text((width // 6 + 30, top), f"Item {row}: settings, preferences, dark mode", fill=(20, 20, 20))
        draw.rectangle((width - 180, top, width - 40, top + 24), fill=(30, 110, 220))
    return image


def _messages(image: Any) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": [{"type": "text", "text": SYSTEM}]},
        {"role": "user", "content": [{"type": "text", "text": TASK}, {"type": "image", "image": image}]},
    ]


def _seven_b_config(tiny_config: dict[str, Any]) -> dict[str, Any]:
    """The 7B values with the special-token ids of the tiny tokenizer the bench uses."""
    config = json.loads(json.dumps(QWEN25_VL_7B_CONFIG))
    config.update({key: tiny_config[key] for key in _TOKEN_ID_KEYS if key in tiny_config})
    return config


def load_model(tiny: bool, workdir: Path, attn_implementation: str | None) -> tuple[Any, Any, str]:
    """(model, processor, label): the tiny model on the CPU, or random 7B weights on the GPU."""
    import torch
    from transformers import AutoProcessor, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    folder = build_tiny_qwen25_vl(workdir / "tiny")
    processor = AutoProcessor.from_pretrained(folder)
    if tiny:
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(folder, dtype=torch.float32)
        return model.eval(), processor, "tiny Qwen2.5-VL (random)"
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU found: the 7B bench needs one (use --tiny for a CPU smoke run)")
    tiny_config = json.loads((folder / "config.json").read_text())
    config = Qwen2_5_VLConfig(**_seven_b_config(tiny_config))
    options: dict[str, Any] = {"dtype": torch.bfloat16}
    if attn_implementation:
        options["attn_implementation"] = attn_implementation
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, **options)
    return model.eval(), processor, "Qwen2.5-VL-7B-Instruct architecture (random weights)"


def _sync(torch: Any) -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _one_call(model: Any, processor: Any, image: Any, new_tokens: int) -> tuple[float, float, float, Any]:
    """(preprocess s, prefill s, decode s per token, inputs) for one generate call."""
    import torch
    from transformers import LogitsProcessorList

    started = time.perf_counter()
    inputs = prepare_inputs(processor, _messages(image)).to(model.device)
    _sync(torch)
    prepared = time.perf_counter()
    clock = FirstTokenClock(torch)
    with torch.inference_mode():
        model.generate(
            **inputs,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            logits_processor=LogitsProcessorList([clock]),
        )
    _sync(torch)
    ended = time.perf_counter()
    first = clock.first_token_at or ended
    return prepared - started, first - prepared, (ended - first) / max(new_tokens - 1, 1), inputs


def _param_count(module: Any) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def prefill_flops(model: Any, grid: tuple[int, int, int], prompt_tokens: int) -> float:
    """Estimated FLOPs of one prefill: vision tower on ``grid`` (t, h, w) plus the language model."""
    vision_config = model.config.vision_config
    text_config = model.config.get_text_config()
    patches = grid[0] * grid[1] * grid[2]
    visual = model.model.visual
    vision_matmul = 2 * (_param_count(visual.blocks) + _param_count(visual.patch_embed)) * patches
    merger = 2 * _param_count(visual.merger) * patches / vision_config.spatial_merge_size**2
    window_patches = (vision_config.window_size // vision_config.patch_size) ** 2
    full = len(vision_config.fullatt_block_indexes)
    windowed = vision_config.depth - full
    vision_attention = 4 * vision_config.hidden_size * patches * (full * patches + windowed * window_patches)
    language = model.model.language_model
    layers = _param_count(language.layers)
    text_matmul = 2 * layers * prompt_tokens + 2 * _param_count(model.lm_head)
    text_attention = 2 * text_config.num_hidden_layers * text_config.hidden_size * prompt_tokens**2
    return float(vision_matmul + merger + vision_attention + text_matmul + text_attention)


def decode_weight_bytes(model: Any) -> int:
    """Bytes of weights one decoded token reads: the language model's layers, norm and lm_head."""
    language = model.model.language_model
    modules = (language.layers, language.norm, model.lm_head)
    return sum(p.numel() * p.element_size() for module in modules for p in module.parameters())


def hardware(args: argparse.Namespace) -> Hardware:
    """The device and its bandwidth / peak from GPU_SPECS, overridden by the flags."""
    import torch

    if args.tiny or not torch.cuda.is_available():
        return Hardware("cpu", "cpu", args.bandwidth_gbs, args.peak_tflops)
    name = args.gpu_name or torch.cuda.get_device_name()
    spec = next((row for row in GPU_SPECS if row[0] in name.upper()), None)
    bandwidth = args.bandwidth_gbs or (spec[1] if spec else None)
    peak = args.peak_tflops or (spec[2] if spec else None)
    return Hardware("cuda", name, bandwidth, peak)


def measure(model: Any, processor: Any, args: argparse.Namespace, screen: tuple[int, int]) -> StepResult:
    """Warm up once, then time ``args.repeats`` calls for a ``screen`` (width, height) screenshot."""
    import torch

    model_size = model_size_for(screen, MIN_PIXELS, args.max_pixels)
    image = resize_image(synthetic_screenshot(screen), model_size)
    _one_call(model, processor, image, args.new_tokens)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    runs = [_one_call(model, processor, image, args.new_tokens) for _ in range(args.repeats)]
    inputs = runs[-1][3]
    input_ids = inputs["input_ids"]
    grid = tuple(int(v) for v in inputs["image_grid_thw"][0].tolist())
    prompt_tokens = int(input_ids.shape[1])
    peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    return StepResult(
        screen=f"{screen[0]}x{screen[1]}",
        model_space=f"{model_size[0]}x{model_size[1]}",
        image_tokens=int((input_ids == processor.image_token_id).sum()),
        prompt_tokens=prompt_tokens,
        new_tokens=args.new_tokens,
        preprocess_ms=1e3 * statistics.median(run[0] for run in runs),
        prefill_ms=1e3 * statistics.median(run[1] for run in runs),
        decode_ms_per_token=1e3 * statistics.median(run[2] for run in runs),
        peak_gpu_mib=peak,
        prefill_tflop=prefill_flops(model, (grid[0], grid[1], grid[2]), prompt_tokens) / 1e12,
    )


def add_bounds(result: StepResult, hw: Hardware, weight_bytes: int) -> None:
    """Fill the hardware-bound columns where bandwidth / peak are known."""
    if hw.peak_tflops:
        result.prefill_bound_ms = 1e3 * result.prefill_tflop / hw.peak_tflops
        result.prefill_ratio = result.prefill_ms / result.prefill_bound_ms
    if hw.bandwidth_gbs:
        result.decode_bound_ms = 1e3 * weight_bytes / (hw.bandwidth_gbs * 1e9)
        result.decode_ratio = result.decode_ms_per_token / result.decode_bound_ms


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}" if value < 100 else f"{value:.0f}"
    return str(value)


def format_table(results: list[StepResult]) -> str:
    """A fixed-width text table, one row per size."""
    columns = (
        ("screen", "screen"),
        ("model space", "model_space"),
        ("img tok", "image_tokens"),
        ("prompt tok", "prompt_tokens"),
        ("preproc ms", "preprocess_ms"),
        ("prefill ms", "prefill_ms"),
        ("decode ms/tok", "decode_ms_per_token"),
        ("peak MiB", "peak_gpu_mib"),
        ("prefill x bound", "prefill_ratio"),
        ("decode x bound", "decode_ratio"),
    )
    rows = [[title for title, _ in columns]]
    rows += [[_cell(getattr(result, key)) for _, key in columns] for result in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/model_step.py", description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny random model on the CPU")
    parser.add_argument("--sizes", default="1280x720,1920x1080", help="screen sizes WxH, comma separated")
    parser.add_argument("--new-tokens", type=int, default=40, help="tokens generated per call")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per size (median)")
    parser.add_argument("--max-pixels", type=int, default=MAX_PIXELS, help="smart_resize upper bound")
    parser.add_argument("--attn-implementation", default=None, help="e.g. sdpa, flash_attention_2")
    parser.add_argument("--gpu-name", default=None, help="GPU name for the spec table lookup")
    parser.add_argument("--bandwidth-gbs", type=float, default=None, help="memory bandwidth override, GB/s")
    parser.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak override, TFLOP/s")
    parser.add_argument("--json", type=Path, default=None, help="write results as JSON here ('-': stdout)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the bench; print the table (and write JSON with --json)."""
    args = parse_args(argv)
    import torch
    import transformers

    with tempfile.TemporaryDirectory(prefix="screenpilot-bench-") as workdir:
        started = time.perf_counter()
        model, processor, label = load_model(args.tiny, Path(workdir), args.attn_implementation)
        load_s = time.perf_counter() - started
        hw = hardware(args)
        weight_bytes = decode_weight_bytes(model)
        results = []
        for size in args.sizes.split(","):
            result = measure(model, processor, args, parse_size(size))
            add_bounds(result, hw, weight_bytes)
            results.append(result)
    print(
        f"{label} on {hw.name}, {str(model.dtype).removeprefix('torch.')}, built in {load_s:.1f} s; "
        f"{args.new_tokens} new tokens, median of {args.repeats}"
    )
    print(format_table(results))
    report = {
        "model": label,
        "parameters": _param_count(model),
        "decode_weight_bytes": weight_bytes,
        "dtype": str(model.dtype).removeprefix("torch."),
        "hardware": asdict(hw),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "settings": {"new_tokens": args.new_tokens, "repeats": args.repeats, "max_pixels": args.max_pixels},
        "results": [asdict(result) for result in results],
    }
    if args.json is not None:
        text = json.dumps(report, indent=2)
        if str(args.json) == "-":
            print(text)
        else:
            args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
