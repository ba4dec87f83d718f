"""The suite imports in any environment: no test module may depend on the name ``tests``, which other packages take
(torch-fidelity 0.4.0 installs a top-level package of that name)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_test_module_imports_beside_a_stray_tests_package(tmp_path):
    stray = tmp_path / "site" / "tests"
    stray.mkdir(parents=True)
    (stray / "__init__.py").write_text(
        '"""Another distribution\'s top-level package named tests."""\n'
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(stray.parent), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            str(ROOT / "tests"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "error" not in result.stdout.lower().splitlines()[-1]
