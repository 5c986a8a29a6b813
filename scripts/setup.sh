#!/usr/bin/env bash
# Installs dfdetect with everything its tests need, on a fresh Debian machine with Python >= 3.10.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
# PyTorch first, pinned: on this machine kind pip finds a CPU wheel of 2.13.0 on disk, while an
# open range would pull the newest CUDA build (GBs). A torch you installed yourself is kept.
"$py" -c "import torch" 2>/dev/null || "$py" -m pip install "torch==2.13.0"
"$py" -m pip install -e ".[dev]"
# The default face detector's weights ship inside facenet-pytorch. Its pins (torch<2.3, numpy<2,
# Pillow<10.3) would downgrade the stack, and dfdetect runs the networks itself: weights only.
"$py" -m pip install --no-deps "facenet-pytorch==2.6.0"
# Browser tests drive Debian's Chromium through Playwright (which cannot download its own here).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: chromium not installed (needs root apt-get); browser tests will be skipped" >&2
  fi
fi
