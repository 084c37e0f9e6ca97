"""From a fresh virtual environment, as a new user or CI gets it: the README's first command, the
hints the demo prints (run as printed, without activating anything), and the CI workflow that
`rulesync init` writes (its install line resolved against this project's own wheel).

The environment is built once for the module; pip reaches only the configured registries.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from engine import DISTRIBUTION, __version__

CHECKOUT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "engine", "connectors", "rules")


def first_command() -> str:
    block = re.search(r"^```sh\n(.*?)^```", (CHECKOUT / "README.md").read_text(encoding="utf-8"),
                      re.S | re.M)
    assert block
    return next(line for line in block.group(1).splitlines() if line and not line.startswith("#"))


def bare_env() -> dict[str, str]:
    """The user's shell: no rulesync on the PATH, no virtual environment active."""
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep)
            if p and not (Path(p) / "rulesync").exists()]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RULESYNC_", "BIGCOMMERCE_", "PYTHON")) and k != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join(path)
    assert shutil.which("rulesync", path=env["PATH"]) is None
    return env


def sh(command: str, cwd: Path, env: dict[str, str] | None = None
       ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env or bare_env(),
                          capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A copy of the checkout in src/, then the README's first command run beside it."""
    home = tmp_path_factory.mktemp("fresh")
    for name in SOURCES:
        source = CHECKOUT / name
        if source.is_dir():
            shutil.copytree(source, home / "src" / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            (home / "src").mkdir(exist_ok=True)
            shutil.copy(source, home / "src" / name)
    command = first_command()
    assert " install -q . " in command  # the checkout is `.` in the README, `./src` here
    r = sh(command.replace(" install -q . ", " install -q ./src "), home)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    yield home, r.stdout


def test_the_demo_ends_in_step_and_its_hints_work_as_printed(fresh: tuple[Path, str]) -> None:
    home, out = fresh
    assert "4. Plan after the sync: nothing to do: both sides are in step" in out
    hints = re.findall(r"^[^\n]*: (\.venv/bin/rulesync [^\n]+)$", out, re.M)
    assert [h.split()[1] for h in hints] == ["explain", "orders"], out[-1000:]
    explained, listed = (sh(hint, home) for hint in hints)
    assert explained.returncode == 0, explained.stderr
    assert re.match(r"order \d+: \d+ decision\(s\)", explained.stdout)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^\d+ of \d+ order\(s\)$", listed.stdout, re.M)


def test_the_generated_workflow_installs_this_project_pinned(fresh: tuple[Path, str]) -> None:
    home, _ = fresh
    made = sh(".venv/bin/rulesync init p", home)
    assert made.returncode == 0, made.stderr
    assert f"CI installs {DISTRIBUTION}=={__version__}" in made.stdout
    # Installed from a folder, which a CI runner cannot reach: a pin by name may find nothing on
    # the index, or somebody else's upload; init says so rather than pinning in silence.
    assert made.stderr.splitlines() == [
        f"warning: this rulesync was installed from {(home / 'src').as_uri()}, which CI cannot "
        f"reach; the workflow installs {DISTRIBUTION}=={__version__} from the package index, "
        "where it may not be published: give --install (your git URL, see --help) or edit that "
        "line"]
    workflow = yaml.safe_load((home / "p/.github/workflows/rulesync.yml").read_text())
    steps = [s["run"] for s in workflow["jobs"]["rules"]["steps"] if "run" in s]
    assert steps[0] == f"pip install '{DISTRIBUTION}=={__version__}'"
    assert all(s.startswith("rulesync ") for s in steps[1:]) and len(steps) == 3

    wheel = sh(".venv/bin/pip wheel -q --no-deps -w wheels ./src", home)
    assert wheel.returncode == 0, wheel.stderr
    env = bare_env()
    env["PATH"] = f"{home / '.venv/bin'}{os.pathsep}{env['PATH']}"  # as setup-python leaves it
    # The published index is replaced by this checkout's wheel; everything else is as written.
    install = sh(steps[0] + " --no-index --find-links wheels --force-reinstall --no-deps",
                 home, env)
    assert install.returncode == 0, install.stderr
    assert f"Successfully installed {DISTRIBUTION}-{__version__}" in install.stdout
    for step in steps[1:]:
        r = sh(step, home / "p", env)
        assert r.returncode == 0, (step, r.stdout, r.stderr)
        assert "(the rules rulesync.yaml configures)" in r.stdout

    inbound = home / "p/rules/bigcommerce/inbound.yaml"
    inbound.write_text(inbound.read_text().replace("[void_order]", "[void_ordr]"))
    caught = sh(steps[1], home / "p", env)
    assert caught.returncode == 1
    assert "::error file=rules/bigcommerce/inbound.yaml," in caught.stdout


def test_the_next_step_init_prints_works_as_printed(fresh: tuple[Path, str]) -> None:
    home, _ = fresh
    made = sh(".venv/bin/rulesync init shop", home)  # as typed after the README's first command
    assert made.returncode == 0, made.stderr
    hint = re.search(r"^next: edit rulesync\.yaml, then `([^`]+)`$", made.stdout, re.M)
    assert hint, made.stdout
    assert hint.group(1).startswith("cd shop && ")
    r = sh(hint.group(1), home)
    assert r.returncode == 0, (hint.group(1), r.stdout, r.stderr)
    assert "(the rules rulesync.yaml configures)" in r.stdout
