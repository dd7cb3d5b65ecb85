"""The wheel builds, carries the library and its experiments (not the tests or docs),
imports from where it is installed, and runs an experiment outside the repository."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_builds_installs_and_imports(tmp_path):
    build = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
             str(tmp_path / "dist"), str(ROOT)]  # fmt: skip
    result = subprocess.run(build, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("cunitary-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "cunitary/unitary.py" in names
    assert "cunitary/experiments/memory.py" in names  # the experiments run from a pip install
    assert not any(n.startswith(("experiments/", "tests/", "docs/")) for n in names)
    assert any(n.endswith("LICENSE") for n in names)
    target = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
               "--target", str(target), str(wheel)]  # fmt: skip
    result = subprocess.run(install, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    probe = (
        "import cunitary, torch; x = torch.randn(2, 3, 8, 8); "
        "print(cunitary.__file__); "
        "print(torch.allclose(cunitary.UnitaryConv2d(8, 3, real=True)(x).norm(), x.norm()))"
    )
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    where, ok = result.stdout.split()
    assert Path(where).is_relative_to(target) and ok == "True"
    # The memory experiment from the installed package, outside the repository.
    run = [sys.executable, "-m", "cunitary.experiments.memory", "--preset", "smoke",
           "--models", "cgrnn", "--steps", "4", "--out", str(tmp_path / "run")]  # fmt: skip
    result = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "run" / "table.json").exists()
