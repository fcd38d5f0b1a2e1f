"""A tiny, randomly initialised Qwen2.5-VL built offline in seconds, for tests and benchmarks.

The folder written by :func:`build_tiny_qwen25_vl` has the same files and loads with the same
calls as the released ``Qwen/Qwen2.5-VL-7B-Instruct``::

    processor = AutoProcessor.from_pretrained(folder)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(folder)

What is in it (sizes are for the defaults below):

- ``config.json``: a Qwen2.5-VL configuration passed *flat* (text keys at the top level, as the
  hub's file is), with a 2-layer, hidden-64 language model (4 heads, 2 key/value heads, head_dim
  16, ``mrope_section`` [2, 3, 3] summing to head_dim / 2) and a 2-block vision tower with the real
  geometry: patch 14, spatial merge 2, temporal patch 2, window 112, its output projected to the
  language model's hidden size. About 0.25 million parameters, about 1 MB of float32 weights.
  ``head_dim`` (a multiple of 16) widens the language model to ``4 * head_dim`` with the same
  heads and a ``mrope_section`` scaled to match: vLLM's CPU attention rejects head_dim 16 and
  takes 32, 64, 80, ... (``head_dim=32``: hidden 128, about 0.6 million parameters).
- ``tokenizer.json`` / ``tokenizer_config.json``: a byte-level BPE trained with ``tokenizers`` on
  a small built-in corpus (chat text, tool-call JSON, action words, numbers), followed by Qwen's
  special tokens in Qwen's order (``<|endoftext|>``, ``<|im_start|>``, ``<|im_end|>``, ...,
  ``<|vision_start|>``, ``<|vision_end|>``, ``<|vision_pad|>``, ``<|image_pad|>``,
  ``<|video_pad|>``) and then ``<tool_call>`` / ``</tool_call>`` as *non-special* added tokens
  (they survive ``skip_special_tokens=True``, as in Qwen's tokenizer). The config's
  ``image_token_id``, ``video_token_id``, ``vision_start_token_id`` and ``vision_end_token_id``
  are the ids these tokens received.
- ``chat_template.json``: the Qwen2.5-VL chat format (``<|im_start|>role\\n...<|im_end|>\\n``,
  default system prompt, images as ``<|vision_start|><|image_pad|><|vision_end|>``).
- ``preprocessor_config.json``: the released image-processor values (``Qwen2VLImageProcessor``,
  min_pixels 3136, max_pixels 12845056, patch 14, temporal patch 2, merge 2, CLIP mean/std).
- ``generation_config.json``: the released generation settings with this vocabulary's ids.

The weights are random: the model's replies are arbitrary tokens. Use it to check shapes, token
counts, loading and error handling, never text. The folder is written by the installed
transformers version; load it with the same major version.

Command line: ``python -m screenpilot.models.tiny DIR`` builds into DIR and prints the build time and size.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

TEXT_LAYERS = 2
HIDDEN = 64
HEADS = 4
KV_HEADS = 2
INTERMEDIATE = 128
MROPE_SECTION = [2, 3, 3]
HEAD_DIM = HIDDEN // HEADS
"""The default head size (16); :func:`tiny_config_dict` takes another multiple of 16."""
BPE_VOCAB = 512
VOCAB_MULTIPLE = 64

VISION_DEPTH = 2
VISION_HIDDEN = 32
VISION_HEADS = 2
VISION_INTERMEDIATE = 64

#: Qwen2.5's added tokens in their released order; ``True`` marks special tokens.
QWEN_ADDED_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
)

#: Qwen2's pre-tokenisation pattern (contractions, letters, single digits, punctuation, spaces).
PRETOKENIZE_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

#: The Qwen2.5-VL chat format as a Jinja template (``add_vision_id`` numbers the pictures).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}"
    "{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}"
    "{{ message['content'] }}"
    "{% else %}"
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or 'image' in part or 'image_url' in part %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}{{ 'Picture ' + image_count.value|string + ': ' }}{% endif %}"
    "{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{% elif part['type'] == 'video' or 'video' in part %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}{{ 'Video ' + video_count.value|string + ': ' }}{% endif %}"
    "{{ '<|vision_start|><|video_pad|><|vision_end|>' }}"
    "{% elif 'text' in part %}"
    "{{ part['text'] }}"
    "{% endif %}"
    "{% endfor %}"
    "{% endif %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

#: The released Qwen2.5-VL image-processor settings.
PREPROCESSOR_CONFIG: dict[str, Any] = {
    "min_pixels": 3136,
    "max_pixels": 12845056,
    "patch_size": 14,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "image_processor_type": "Qwen2VLImageProcessor",
    "processor_class": "Qwen2_5_VLProcessor",
}

_ACTIONS = (
    "key", "type", "mouse_move", "left_click", "left_click_drag", "right_click",
    "middle_click", "double_click", "scroll", "wait", "terminate",
)  # fmt: skip

_SENTENCES = (
    "You are a helpful assistant.",
    "The screen's resolution is 1288x728.",
    "Use a mouse and keyboard to interact with a computer, and take screenshots.",
    "Click the Submit button, then type your name into the search box and press Enter.",
    "Open the settings page, scroll down and select the checkbox labelled Remember me.",
    "For each function call, return a json object with function name and arguments within tool_call XML tags.",
    "Step 1: the page shows a login form with a username field and a password field.",
    "The task is finished successfully; the answer is 42 items in the cart.",
)


def _training_corpus(extra: Sequence[str] = ()) -> list[str]:
    """A small deterministic corpus: prose, chat turns, tool calls for every action, numbers,
    then the family's ``extra`` lines."""
    lines = [*_SENTENCES, *extra]
    for index, action in enumerate(_ACTIONS):
        x, y = 37 * index + 12, 23 * index + 140
        arguments: dict[str, Any] = {"action": action, "coordinate": [x, y]}
        if action == "type":
            arguments = {"action": action, "text": "hello world"}
        elif action == "key":
            arguments = {"action": action, "keys": ["ctrl", "a"]}
        elif action == "terminate":
            arguments = {"action": action, "status": "success"}
        call = json.dumps({"name": "computer_use", "arguments": arguments})
        lines.append(f"<tool_call>\n{call}\n</tool_call>")
        lines.append(f"<|im_start|>assistant\nI will {action.replace('_', ' ')} now.<|im_end|>")
    lines.extend(" ".join(str(n) for n in range(start, start + 40)) for start in range(0, 2000, 40))
    return lines * 3


def _build_tokenizer(
    added_tokens: Sequence[tuple[str, bool]] = QWEN_ADDED_TOKENS, extra_corpus: Sequence[str] = ()
) -> Any:
    """Train the byte-level BPE and append ``added_tokens`` (content, special) in that order."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import ByteLevel as ByteLevelProcessor
    from tokenizers.trainers import BpeTrainer

    tokenizer = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = ByteLevelProcessor(trim_offsets=False)
    trainer = BpeTrainer(
        vocab_size=BPE_VOCAB,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
        special_tokens=[],
    )
    tokenizer.train_from_iterator(_training_corpus(extra_corpus), trainer=trainer)
    for content, special in added_tokens:
        token = AddedToken(content, special=special, normalized=False, single_word=False)
        if special:
            tokenizer.add_special_tokens([token])
        else:
            tokenizer.add_tokens([token])
    return tokenizer


def _tokenizer_config(
    token_ids: dict[str, int], added_tokens: Sequence[tuple[str, bool]] = QWEN_ADDED_TOKENS
) -> dict[str, Any]:
    """``tokenizer_config.json`` in the released layout, with this vocabulary's ids."""
    added = {
        str(token_ids[content]): {
            "content": content,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": special,
        }
        for content, special in added_tokens
    }
    return {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": added,
        "additional_special_tokens": [c for c, special in added_tokens if special][1:],
        "bos_token": None,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 131072,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }


def _vocab_size(token_count: int) -> int:
    """The embedding rows: the tokenizer's size rounded up, as Qwen pads 151,665 to 152,064."""
    return -(-token_count // VOCAB_MULTIPLE) * VOCAB_MULTIPLE


def _check_head_dim(head_dim: int) -> None:
    if head_dim < 16 or head_dim % 16:
        raise ValueError(f"head_dim must be a multiple of 16 (16, 32, 64, 80, ...), not {head_dim}")


def tiny_config_dict(token_ids: dict[str, int], vocab_size: int, head_dim: int = HEAD_DIM) -> dict[str, Any]:
    """The flat ``config.json`` content of the tiny model (same keys as the released file).

    ``head_dim``: a multiple of 16; the language model is ``HEADS * head_dim`` wide (64 for the
    default 16) and ``mrope_section`` is [2, 3, 3] scaled by ``head_dim / 16`` (it sums to
    head_dim / 2). Raises ValueError for another head_dim.
    """
    _check_head_dim(head_dim)
    hidden, scale = HEADS * head_dim, head_dim // HEAD_DIM
    return {
        "architectures": ["Qwen2_5_VLForConditionalGeneration"],
        "model_type": "qwen2_5_vl",
        "attention_dropout": 0.0,
        "bos_token_id": token_ids["<|endoftext|>"],
        "eos_token_id": token_ids["<|im_end|>"],
        "pad_token_id": token_ids["<|endoftext|>"],
        "vision_start_token_id": token_ids["<|vision_start|>"],
        "vision_end_token_id": token_ids["<|vision_end|>"],
        "vision_token_id": token_ids["<|vision_pad|>"],
        "image_token_id": token_ids["<|image_pad|>"],
        "video_token_id": token_ids["<|video_pad|>"],
        "hidden_act": "silu",
        "hidden_size": hidden,
        "initializer_range": 0.02,
        "intermediate_size": INTERMEDIATE * hidden // HIDDEN,
        "max_position_embeddings": 32768,
        "max_window_layers": TEXT_LAYERS,
        "num_attention_heads": HEADS,
        "num_hidden_layers": TEXT_LAYERS,
        "num_key_value_heads": KV_HEADS,
        "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0,
        "rope_scaling": {"type": "mrope", "mrope_section": [scale * n for n in MROPE_SECTION]},
        "sliding_window": 32768,
        "use_sliding_window": False,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": vocab_size,
        "vision_config": {
            "depth": VISION_DEPTH,
            "hidden_act": "silu",
            "hidden_size": VISION_HIDDEN,
            "intermediate_size": VISION_INTERMEDIATE,
            "num_heads": VISION_HEADS,
            "in_chans": 3,
            "out_hidden_size": hidden,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "spatial_patch_size": 14,
            "temporal_patch_size": 2,
            "window_size": 112,
            "fullatt_block_indexes": [VISION_DEPTH - 1],
            "tokens_per_second": 2,
        },
    }


def _generation_config(token_ids: dict[str, int]) -> dict[str, Any]:
    """The released generation settings (near-greedy sampling) with this vocabulary's ids."""
    return {
        "bos_token_id": token_ids["<|endoftext|>"],
        "pad_token_id": token_ids["<|endoftext|>"],
        "eos_token_id": [token_ids["<|im_end|>"], token_ids["<|endoftext|>"]],
        "do_sample": True,
        "repetition_penalty": 1.05,
        "temperature": 0.1,
        "top_k": 1,
        "top_p": 0.001,
    }


@dataclass(frozen=True)
class _Family:
    """What differs between the tiny folders of two model families."""

    added_tokens: tuple[tuple[str, bool], ...]
    config: Callable[[dict[str, int], int], dict[str, Any]]
    generation: Callable[[dict[str, int]], dict[str, Any]]
    chat_template: str
    side_files: dict[str, dict[str, Any]]
    corpus: tuple[str, ...] = ()


_QWEN25 = _Family(
    QWEN_ADDED_TOKENS, tiny_config_dict, _generation_config, CHAT_TEMPLATE,
    {"preprocessor_config.json": PREPROCESSOR_CONFIG},
)

# ---------------------------------------------------------------------------------------------
# Qwen3-VL: a nested config (text_config / vision_config, as its hub config.json is laid out),
# patch 16 x merge 2 (images in multiples of 32), Qwen3's extra added tokens, no default system
# message in the chat template, SigLIP-style normalisation (mean = std = 0.5).

QWEN3_ADDED_TOKENS: tuple[tuple[str, bool], ...] = (
    *QWEN_ADDED_TOKENS,
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
)
"""Qwen3's added tokens: Qwen2.5's, then the tool-response and thinking tags (non-special)."""

QWEN3_MROPE_SECTION = [4, 2, 2]
"""Interleaved multimodal rope sections (t, h, w) summing to head_dim / 2 = 8."""

QWEN3_VISION_POSITIONS = 2304
"""Learned vision position grid (48 x 48, the released size; resampled to each image)."""

#: The Qwen3-VL chat format: like Qwen2.5-VL's, without a default system message.
QWEN3_CHAT_TEMPLATE = CHAT_TEMPLATE.replace(
    "{% if loop.first and message['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{% endif %}",
    "",
)

QWEN3_MIN_PIXELS = 65536
"""Lower area bound of the released Qwen3-VL preprocessor (``size.shortest_edge``, 64 * 32 * 32)."""

QWEN3_MAX_PIXELS = 16777216
"""Upper area bound of the released Qwen3-VL preprocessor (``size.longest_edge``, 16384 * 32 * 32)."""

_SIGLIP_MEAN_STD = [0.5, 0.5, 0.5]

#: The released Qwen3-VL image-processor settings (areas under ``size``, patch 16, merge 2).
QWEN3_PREPROCESSOR_CONFIG: dict[str, Any] = {
    "size": {"longest_edge": QWEN3_MAX_PIXELS, "shortest_edge": QWEN3_MIN_PIXELS},
    "patch_size": 16,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": _SIGLIP_MEAN_STD,
    "image_std": _SIGLIP_MEAN_STD,
    "processor_class": "Qwen3VLProcessor",
    "image_processor_type": "Qwen2VLImageProcessorFast",
}

#: The released Qwen3-VL video-processor settings (the processor needs one to load).
QWEN3_VIDEO_PREPROCESSOR_CONFIG: dict[str, Any] = {
    "size": {"longest_edge": 25165824, "shortest_edge": 4096},
    "patch_size": 16,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": _SIGLIP_MEAN_STD,
    "image_std": _SIGLIP_MEAN_STD,
    "processor_class": "Qwen3VLProcessor",
    "video_processor_type": "Qwen3VLVideoProcessor",
}


def tiny_qwen3_config_dict(token_ids: dict[str, int], vocab_size: int) -> dict[str, Any]:
    """The ``config.json`` content of the tiny Qwen3-VL, laid out like the released file
    (token ids at the top, ``text_config`` and ``vision_config`` nested)."""
    return {
        "architectures": ["Qwen3VLForConditionalGeneration"],
        "model_type": "qwen3_vl",
        "image_token_id": token_ids["<|image_pad|>"],
        "video_token_id": token_ids["<|video_pad|>"],
        "vision_start_token_id": token_ids["<|vision_start|>"],
        "vision_end_token_id": token_ids["<|vision_end|>"],
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "text_config": {
            "model_type": "qwen3_vl_text",
            "attention_bias": False,
            "attention_dropout": 0.0,
            "bos_token_id": token_ids["<|endoftext|>"],
            "eos_token_id": token_ids["<|im_end|>"],
            "head_dim": HIDDEN // HEADS,
            "hidden_act": "silu",
            "hidden_size": HIDDEN,
            "initializer_range": 0.02,
            "intermediate_size": INTERMEDIATE,
            "max_position_embeddings": 262144,
            "num_attention_heads": HEADS,
            "num_hidden_layers": TEXT_LAYERS,
            "num_key_value_heads": KV_HEADS,
            "rms_norm_eps": 1e-06,
            "rope_scaling": {"rope_type": "default", "mrope_section": list(QWEN3_MROPE_SECTION),
                             "mrope_interleaved": True},
            "rope_theta": 5000000,
            "use_cache": True,
            "vocab_size": vocab_size,
        },
        "vision_config": {
            "model_type": "qwen3_vl",
            "depth": VISION_DEPTH,
            "hidden_act": "gelu_pytorch_tanh",
            "hidden_size": VISION_HIDDEN,
            "in_channels": 3,
            "initializer_range": 0.02,
            "intermediate_size": VISION_INTERMEDIATE,
            "num_heads": VISION_HEADS,
            "num_position_embeddings": QWEN3_VISION_POSITIONS,
            "out_hidden_size": HIDDEN,
            "patch_size": 16,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "deepstack_visual_indexes": [VISION_DEPTH - 1],
        },
    }


def _qwen3_generation_config(token_ids: dict[str, int]) -> dict[str, Any]:
    """The released Qwen3-VL Instruct sampling settings with this vocabulary's ids."""
    return {
        "bos_token_id": token_ids["<|endoftext|>"],
        "pad_token_id": token_ids["<|endoftext|>"],
        "eos_token_id": [token_ids["<|im_end|>"], token_ids["<|endoftext|>"]],
        "do_sample": True,
        "repetition_penalty": 1.0,
        "temperature": 0.7,
        "top_k": 20,
        "top_p": 0.8,
    }


_QWEN3_CORPUS = (
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [500, 250]}}'
    "\n</tool_call>",
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "answer", "text": "42"}}\n</tool_call>',
    "<think>\nThe button is near the top right.\n</think>",
)

_QWEN3 = _Family(
    QWEN3_ADDED_TOKENS, tiny_qwen3_config_dict, _qwen3_generation_config, QWEN3_CHAT_TEMPLATE,
    {"preprocessor_config.json": QWEN3_PREPROCESSOR_CONFIG,
     "video_preprocessor_config.json": QWEN3_VIDEO_PREPROCESSOR_CONFIG},
    _QWEN3_CORPUS,
)

# ---------------------------------------------------------------------------------------------
# UI-TARS-1.5: the Qwen2.5-VL architecture under UI-TARS' name, with UI-TARS' own image bounds.

UITARS_NAME = "ByteDance-Seed/UI-TARS-1.5-7B"
UITARS_MIN_PIXELS = 100 * 28 * 28
"""UI-TARS' lower area bound (78,400 pixels)."""

UITARS_MAX_PIXELS = 16384 * 28 * 28
"""UI-TARS' upper area bound (12,845,056 pixels)."""

UITARS_PREPROCESSOR_CONFIG: dict[str, Any] = {
    **PREPROCESSOR_CONFIG, "min_pixels": UITARS_MIN_PIXELS, "max_pixels": UITARS_MAX_PIXELS,
}


def tiny_uitars_config_dict(token_ids: dict[str, int], vocab_size: int) -> dict[str, Any]:
    """The tiny Qwen2.5-VL config (:func:`tiny_config_dict`) named as UI-TARS-1.5."""
    return {"_name_or_path": UITARS_NAME, **tiny_config_dict(token_ids, vocab_size)}


_UITARS_CORPUS = (
    "Thought: The search box is at the top of the page, I will click it.\nAction: click(start_box='(412,118)')",
    "Thought: Type the query and submit it.\nAction: type(content='weather in Lisbon\\n')",
    "Action: click(point='<point>640 360</point>')",
    "Action: scroll(point='<point>640 360</point>', direction='down')",
    "Action: hotkey(key='ctrl c')",
    "Action: finished(content='done')",
)

_UITARS = _Family(
    QWEN_ADDED_TOKENS, tiny_uitars_config_dict, _generation_config, CHAT_TEMPLATE,
    {"preprocessor_config.json": UITARS_PREPROCESSOR_CONFIG}, _UITARS_CORPUS,
)


def _write_json(path: Path, content: dict[str, Any]) -> None:
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _save_weights(out_dir: Path, config: dict[str, Any], seed: int) -> None:
    """Initialise the model of ``config["model_type"]`` from the config dict with ``seed`` and
    save it as safetensors (``qwen2_5_vl`` or ``qwen3_vl``)."""
    import torch
    import transformers
    from transformers.utils import logging as hf_logging

    config_class, model_class = _MODEL_CLASSES[config["model_type"]]
    torch.manual_seed(seed)
    model = getattr(transformers, model_class)(getattr(transformers, config_class)(**config))
    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(out_dir)
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()


_MODEL_CLASSES: dict[str, tuple[str, str]] = {
    "qwen2_5_vl": ("Qwen2_5_VLConfig", "Qwen2_5_VLForConditionalGeneration"),
    "qwen3_vl": ("Qwen3VLConfig", "Qwen3VLForConditionalGeneration"),
}


def _write_folder(out_dir: Path, seed: int, family: _Family) -> Path:
    """Build the tokenizer, weights and side files of ``family`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = _build_tokenizer(family.added_tokens, family.corpus)
    token_ids = {content: tokenizer.token_to_id(content) for content, _ in family.added_tokens}
    config = family.config(token_ids, _vocab_size(tokenizer.get_vocab_size()))
    _save_weights(out_dir, config, seed)
    _write_json(out_dir / "config.json", config)
    _write_json(out_dir / "generation_config.json", family.generation(token_ids))
    tokenizer.save(str(out_dir / "tokenizer.json"))
    _write_json(out_dir / "tokenizer_config.json", _tokenizer_config(token_ids, family.added_tokens))
    _write_json(out_dir / "chat_template.json", {"chat_template": family.chat_template})
    for name, content in family.side_files.items():
        _write_json(out_dir / name, content)
    return out_dir


def build_tiny_qwen25_vl(out_dir: Path, seed: int = 0, head_dim: int = HEAD_DIM) -> Path:
    """Write a tiny random Qwen2.5-VL into ``out_dir`` (created if needed) and return it.

    Offline, deterministic for a given ``seed`` and transformers version, a few seconds on a CPU.
    Files already in ``out_dir`` with the same names are overwritten. ``head_dim``: see
    :func:`tiny_config_dict` (32 or more for vLLM's CPU attention). Raises ValueError for a bad head_dim.
    """
    _check_head_dim(head_dim)
    family = _QWEN25 if head_dim == HEAD_DIM else replace(_QWEN25, config=partial(tiny_config_dict, head_dim=head_dim))
    return _write_folder(out_dir, seed, family)


def build_tiny_qwen3_vl(out_dir: Path, seed: int = 0) -> Path:
    """Write a tiny random Qwen3-VL into ``out_dir`` (created if needed) and return it.

    Loads like the released ``Qwen/Qwen3-VL-8B-Instruct``: ``AutoProcessor`` (a
    ``Qwen3VLProcessor`` with patch 16, merge 2) and ``Qwen3VLForConditionalGeneration``.
    Same size and speed as :func:`build_tiny_qwen25_vl`; files of the same names are overwritten.
    """
    return _write_folder(out_dir, seed, _QWEN3)


def build_tiny_uitars(out_dir: Path, seed: int = 0) -> Path:
    """Write a tiny random UI-TARS-1.5 into ``out_dir`` (created if needed) and return it.

    The Qwen2.5-VL architecture (``model_type`` ``qwen2_5_vl``) with ``_name_or_path``
    :data:`UITARS_NAME` in ``config.json`` and UI-TARS' image bounds (min 100 * 28 * 28, max
    16384 * 28 * 28) in ``preprocessor_config.json``.
    """
    return _write_folder(out_dir, seed, _UITARS)


FAMILIES: tuple[str, ...] = ("qwen2.5-vl", "qwen3-vl", "ui-tars")
"""The families :func:`build_tiny` builds."""

_FAMILY_LABELS = {"qwen2.5-vl": "Qwen2.5-VL", "qwen3-vl": "Qwen3-VL", "ui-tars": "UI-TARS-1.5"}


def build_tiny(family: str, out_dir: Path, seed: int = 0, head_dim: int | None = None) -> Path:
    """Build the tiny model of ``family`` (one of :data:`FAMILIES`) into ``out_dir``.

    ``head_dim`` (Qwen2.5-VL only; None = the default 16): see :func:`tiny_config_dict`.
    Raises ValueError for an unknown family, or a head_dim for another family or not a multiple of 16.
    """
    if head_dim is not None:
        if family != "qwen2.5-vl":
            raise ValueError(f"head_dim is a qwen2.5-vl option, not one of {family}")
        return build_tiny_qwen25_vl(out_dir, seed, head_dim=head_dim)
    builders: dict[str, Callable[[Path, int], Path]] = {
        "qwen2.5-vl": build_tiny_qwen25_vl,
        "qwen3-vl": build_tiny_qwen3_vl,
        "ui-tars": build_tiny_uitars,
    }
    if family not in builders:
        raise ValueError(f"unknown model family {family!r}; choose one of {', '.join(FAMILIES)}")
    return builders[family](out_dir, seed)


def family_label(family: str) -> str:
    """The display name of a :data:`FAMILIES` entry (e.g. ``Qwen3-VL``)."""
    return _FAMILY_LABELS.get(family, family)


def folder_size_bytes(folder: Path) -> int:
    """Total size in bytes of the regular files directly inside ``folder``."""
    return sum(path.stat().st_size for path in Path(folder).iterdir() if path.is_file())


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m screenpilot.models.tiny DIR [--seed N] [--family F]``: build a tiny model, print time and size."""
    parser = argparse.ArgumentParser(prog="python -m screenpilot.models.tiny", description=main.__doc__)
    parser.add_argument("out_dir", type=Path, help="folder to write the model into")
    parser.add_argument("--seed", type=int, default=0, help="weight initialisation seed")
    parser.add_argument("--family", choices=FAMILIES, default="qwen2.5-vl", help="model family (default qwen2.5-vl)")
    parser.add_argument("--head-dim", type=int, default=None,
                        help="qwen2.5-vl: attention head size, a multiple of 16 (default 16; vLLM on CPU needs >= 32)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    folder = build_tiny(args.family, args.out_dir, seed=args.seed, head_dim=args.head_dim)
    elapsed = time.perf_counter() - started
    size_mb = folder_size_bytes(folder) / 1e6
    print(f"built tiny {family_label(args.family)} in {folder} in {elapsed:.1f} s ({size_mb:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
