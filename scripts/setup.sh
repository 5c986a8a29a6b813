#!/usr/bin/env bash
# Installs dfdetect with everything its tests need, on a fresh Debian machine with Python >= 3.10.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
# PyTorch first, pinned with a torchvision that imports beside it (timm, for the Perception
# Encoder backbone, needs torchvision). A pin keeps pip from pulling the newest CUDA build (GBs)
# onto a machine that has no GPU; a working torch + torchvision you installed (for instance a
# CUDA build for your GPU) is kept.
if ! "$py" -c "import torch, torchvision" 2>/dev/null; then
  case "$(uname -m)" in
    aarch64|arm64) "$py" -m pip install "torch==2.9.1" "torchvision==0.24.1" ;;
    *) "$py" -m pip install "torch==2.14.1" "torchvision==0.29.1" ;;
  esac
fi
"$py" -m pip install -e ".[dev]"
# Browser tests drive Debian's Chromium through Playwright (which cannot download its own here).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: chromium not installed (needs root apt-get); browser tests will be skipped" >&2
  fi
fi
