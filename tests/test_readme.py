"""The README's commands are the ones CI runs, and its quick-start example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import REPO

README = (REPO / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def _commands(script: str) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in script.splitlines())
    return [line for line in lines if line and not line.startswith(("set ", "cd "))]


def test_ci_runs_exactly_the_readme_setup_and_test_commands():
    readme_commands = _commands(_blocks("bash")[0])
    assert readme_commands == ["bash scripts/setup.sh", "python3 -m pytest"]
    ci_commands = _commands((REPO / ".ci" / "run").read_text().split("\n", 1)[1])
    assert ci_commands[:2] == readme_commands  # then the checks beyond the suite (wheel, floors)


def test_quick_start_example_runs_as_written(tmp_path):
    example = _blocks("python")[0]
    assert 'Detector.from_pretrained("tiny-random")' in example
    result = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    probs_line, device_line = result.stdout.strip().splitlines()
    probs = [float(x) for x in probs_line.strip("[]").split()]
    assert len(probs) == 2 and all(0.0 < p < 1.0 for p in probs)
    assert device_line.split() == ["cpu", "torch.float32", "0.5"]
    assert "tiny-random" in result.stderr and "mean nothing" in result.stderr
