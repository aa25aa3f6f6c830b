"""The package as a wheel: everything it reads at run time is inside, not only in the editable checkout."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_built_wheel_holds_every_file_of_the_package(tmp_path):
    tracked = subprocess.run(["git", "ls-files", "include/thb_reporting"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    source = tmp_path / "source"
    for name in tracked + ["pyproject.toml", "README.md"]:  # a clean copy: no build/ or egg-info of the checkout
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "-w", str(tmp_path / "dist"), str(source)], check=True)
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    expected = {name.removeprefix("include/") for name in tracked}
    assert expected - inside == set(), "files of the package missing from the wheel"
    assert any(n.endswith("indicators.yaml") for n in inside) and any("email_templates/" in n for n in inside)
    # the schema revisions: Alembic's environment, its template and the package's revisions
    assert {"thb_reporting/store/migrations/env.py", "thb_reporting/store/migrations/script.py.mako",
            "thb_reporting/store/migrations/versions/0001_baseline.py"} <= inside
