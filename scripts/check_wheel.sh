#!/usr/bin/env bash
# The wheel stands alone: build it, install it into a fresh environment that sees none of this
# one's packages (so no facenet-pytorch), and scan a photo offline with the face detector whose
# weights ship inside the wheel. Run from anywhere; CI runs it after the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
unset PYTHONPATH  # the fresh environment must import the installed wheel, not src/
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# setuptools from this environment: no build isolation, so nothing is downloaded to build
"$py" -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" .
"$py" -m venv "$work/venv"
pip="$work/venv/bin/python -m pip"
# a CPU-only torch (the CUDA build is GBs); dfdetect's own requirements come with the wheel
$pip install -q "torch==${WHEEL_TORCH:-2.13.0}"
echo "check_wheel: wheel built, torch installed after ${SECONDS}s"
$pip install -q "$work"/dist/dfdetect-*.whl
echo "check_wheel: wheel and its requirements installed after ${SECONDS}s"
if $pip show facenet-pytorch >/dev/null 2>&1; then
  echo "check_wheel: facenet-pytorch is installed in the fresh environment" >&2
  exit 1
fi
# a sample face photo when shared/ has one (a face must be scored), else a generated image (a
# valid "no_face" row is enough: no face can be drawn without a sample)
photo=$(find "$(realpath -m "${DFDETECT_SHARED:-../shared}")/samples/faces" -name '*.png' 2>/dev/null |
  sort | head -n 1 || true)
faces=1
if [ -z "$photo" ]; then
  photo="$work/generated.png"
  faces=0
  "$work/venv/bin/python" -c 'import sys
from PIL import Image
from dfdetect.media.synthetic import background
Image.fromarray(background(240, 320)).save(sys.argv[1])' "$photo"
fi
cd "$work"  # away from the source tree: dfdetect is imported from the installed wheel
HF_HUB_OFFLINE=1 DFDETECT_CACHE="$work/cache" DFDETECT_SCAN_DB="$work/scan.sqlite" \
  "$work/venv/bin/dfdetect" scan "$photo" --model tiny-random --out "$work/scan.jsonl" --quiet
"$work/venv/bin/python" - "$work/scan.jsonl" "$faces" <<'PY'
import json
import sys

import dfdetect

assert "site-packages" in dfdetect.__file__, f"dfdetect imported from {dfdetect.__file__}"
rows = [json.loads(line) for line in open(sys.argv[1])]
print("check_wheel:", json.dumps(rows)[:300])
face = sys.argv[2] == "1"
# the face detector ran on the weights inside the wheel: a face scored, or none in a blank image
assert len(rows) == 1 and rows[0]["status"] == ("ok" if face else "no_face"), rows
if face:
    assert rows[0]["faces"], "no face found in the sample photo"
    assert all(0 <= face["prob"] <= 1 for face in rows[0]["faces"]), rows[0]["faces"]
PY
echo "check_wheel: ok in ${SECONDS}s"
