"""bench/model_step.py: the published 7B architecture, the FLOP/byte bounds, and a tiny CPU run."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "model_step.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("model_step_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def seven_b_on_meta(bench: ModuleType, tiny_model_dir: Path) -> Any:
    """The 7B architecture with no storage (meta device): shapes and counts only."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tiny_config = json.loads((tiny_model_dir / "config.json").read_text())
    config = Qwen2_5_VLConfig(**bench._seven_b_config(tiny_config))
    with torch.device("meta"):
        return Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=torch.bfloat16)


@pytest.mark.slow
def test_seven_b_architecture_has_the_published_size(bench: ModuleType, seven_b_on_meta: Any) -> None:
    assert bench._param_count(seven_b_on_meta) == 8_292_166_656
    assert bench._param_count(seven_b_on_meta.model.visual) == 676_550_144
    text = seven_b_on_meta.config.get_text_config()
    assert (text.hidden_size, text.num_hidden_layers, text.num_key_value_heads) == (3584, 28, 4)


@pytest.mark.slow
def test_bounds_are_in_the_expected_range(bench: ModuleType, seven_b_on_meta: Any) -> None:
    weight_bytes = bench.decode_weight_bytes(seven_b_on_meta)
    assert 14.0e9 < weight_bytes < 14.3e9
    flops = bench.prefill_flops(seven_b_on_meta, (1, 52, 92), 1300)
    assert 20e12 < flops < 30e12


def test_hardware_table_and_overrides(bench: ModuleType) -> None:
    names = [row[0] for row in bench.GPU_SPECS]
    assert names.index("H100 PCIE") < names.index("H100")
    assert bench.parse_size("1920x1080") == (1920, 1080)


@pytest.mark.slow
def test_tiny_cpu_run_writes_a_table_and_json(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    argv = ["--tiny", "--sizes", "640x480", "--new-tokens", "4", "--repeats", "1", "--json", str(out)]

    assert bench.main(argv) == 0

    table = capsys.readouterr().out
    assert "640x480" in table and "644x476" in table
    report = json.loads(out.read_text())
    (result,) = report["results"]
    assert result["image_tokens"] == 391
    assert result["new_tokens"] == 4
    assert result["prefill_ms"] > 0 and result["decode_ms_per_token"] > 0


def test_bounds_and_ratios(bench: ModuleType) -> None:
    result = bench.StepResult(
        screen="1280x720",
        model_space="1288x728",
        image_tokens=1196,
        prompt_tokens=1300,
        new_tokens=40,
        preprocess_ms=20.0,
        prefill_ms=100.0,
        decode_ms_per_token=10.0,
        peak_gpu_mib=20000.0,
        prefill_tflop=26.0,
    )
    hardware = bench.Hardware("cuda", "NVIDIA H200", bandwidth_gbs=4800.0, peak_tflops=989.0)

    bench.add_bounds(result, hardware, weight_bytes=14_141_238_272)

    assert result.decode_bound_ms == pytest.approx(2.946, abs=0.001)
    assert result.decode_ratio == pytest.approx(10.0 / 2.946, rel=1e-3)
    assert result.prefill_bound_ms == pytest.approx(26.29, abs=0.01)
    assert "prefill x bound" in bench.format_table([result])
