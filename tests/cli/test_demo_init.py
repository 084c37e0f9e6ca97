"""`rulesync demo` and `rulesync init` through the installed command."""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine import DISTRIBUTION, __version__

RULESYNC = str(Path(sys.executable).parent / "rulesync")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """As typed in a shell where the environment is active (`rulesync` on the PATH)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RULESYNC_", "BIGCOMMERCE_"))}
    env["PATH"] = f"{Path(RULESYNC).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([RULESYNC, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300, check=False)


def section(out: str, title: str) -> list[str]:
    """The lines of one titled table of the demo's output."""
    return out.split(title, 1)[1].strip("\n").split("\n\n", 1)[0].splitlines()


# Each ledger change and the store status the outbound rules push for it (refund: none).
PUSHED = {"pay": "11 Awaiting Fulfillment", "pack": "9 Awaiting Shipment", "ship": "2 Shipped",
          "close": "10 Completed", "void": "5 Cancelled"}


def test_demo_syncs_both_ways_and_ends_with_nothing_to_do(tmp_path: Path) -> None:
    r = run("demo", "--dir", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr == ""
    assert "\n4. Plan after the sync: nothing to do: both sides are in step\n" in r.stdout
    store = section(r.stdout, "The store now, for the changed orders:")
    assert store[0].split() == ["change", "order", "store", "status", "store", "shipments"]
    rows = {line.split()[0]: line for line in store[1:]}
    assert set(rows) == {*PUSHED, "refund"}
    for change, status in PUSHED.items():
        assert f"  {status}  " in rows[change] + "  ", rows[change]
    assert re.search(r"1Z\d{6} \(\d line\(s\)\)$", rows["ship"])

    paid = int(rows["pay"].split()[1])
    shown = run("orders", "show", str(paid), "--json", "--state", "out/state.sqlite", cwd=tmp_path)
    assert json.loads(shown.stdout)["state"]["paid"] is True
    hints = re.findall(r": (\S*rulesync (?:explain|orders list) .*)$", r.stdout, re.M)
    assert [h.split()[1:3] for h in hints] == [["explain", str(paid)], ["orders", "list"]]
    assert all(h.endswith("--state out/state.sqlite") for h in hints)


def test_demo_starts_afresh_each_run(tmp_path: Path) -> None:
    first = run("demo", "--orders", "12", "--dir", "out", cwd=tmp_path)
    again = run("demo", "--orders", "12", "--dir", "out", cwd=tmp_path)
    assert first.returncode == again.returncode == 0, again.stderr

    def stable(out: str) -> str:
        return re.sub(r"http://127\.0\.0\.1:\d+", "URL", out)

    assert stable(first.stdout) == stable(again.stdout)
    assert "nothing to do: both sides are in step" in again.stdout


def test_init_writes_a_project_that_validates_and_tests(tmp_path: Path) -> None:
    r = run("init", "shop", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    written = [line.removeprefix("wrote ") for line in r.stdout.splitlines()
               if line.startswith("wrote ")]
    assert written == sorted(written) and "shop/rulesync.yaml" in written
    assert {"shop/.github/workflows/rulesync.yml", "shop/.pre-commit-config.yaml",
            "shop/rules/bigcommerce/inbound.yaml", "shop/rules/bigcommerce/outbound.tests.yaml",
            "shop/rules/schema/ruleset-v1.schema.json"} <= set(written)
    assert all((tmp_path / w).is_file() for w in written)
    assert "next: edit rulesync.yaml, then `cd shop && rulesync validate && rulesync test`" \
        in r.stdout
    config = yaml.safe_load((tmp_path / "shop/rulesync.yaml").read_text())
    assert config["rules"] == ["rules/bigcommerce"]
    assert config["settings"] == {"auto_close": False, "push_order_info": False}
    # the pre-commit hooks, run as pre-commit runs them (from the project's root)
    hooks = yaml.safe_load((tmp_path / "shop/.pre-commit-config.yaml").read_text())
    for hook in hooks["repos"][0]["hooks"]:
        entry = hook["entry"].split()
        assert entry[0] == "rulesync"
        done = run(*entry[1:], cwd=tmp_path / "shop")
        assert done.returncode == 0, (hook["id"], done.stdout, done.stderr)
        assert "(the rules rulesync.yaml configures)" in done.stdout
        assert re.search(hook["files"], "rulesync.yaml") and re.search(hook["files"], "rules/x")


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    assert run("init", cwd=tmp_path).returncode == 0
    config = tmp_path / "rulesync.yaml"
    config.write_text("# mine\n" + config.read_text())
    again = run("init", cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.strip().startswith("error: ") and "already exists (use --force" \
        in again.stderr
    assert config.read_text().startswith("# mine\n")
    forced = run("init", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and not config.read_text().startswith("# mine\n")
    assert "next: edit rulesync.yaml, then `rulesync validate && rulesync test`" in forced.stdout


def test_init_install_line(tmp_path: Path) -> None:
    workflow = tmp_path / "a/.github/workflows/rulesync.yml"
    made = run("init", "a", cwd=tmp_path)  # from this checkout (an editable install)
    assert made.returncode == 0 and made.stderr.startswith("warning: this rulesync was installed "
                                                           "from file://"), made.stderr
    assert f"pip install '{DISTRIBUTION}=={__version__}'" in workflow.read_text()
    assert "pip install rulesync" not in workflow.read_text()
    pinned = f"{DISTRIBUTION} @ git+https://git.example.com/shop/rulesync@v{__version__}"
    r = run("init", "a", "--force", "--install", pinned, cwd=tmp_path)
    assert (r.returncode, r.stderr) == (0, "")  # given: no warning about where this copy came from
    assert f"- run: pip install '{pinned}'\n" in workflow.read_text()
    bad = run("init", "b", "--install", "x'; rm -rf /", cwd=tmp_path)
    assert bad.returncode == 2 and "--install" in bad.stderr
    assert not (tmp_path / "b").exists()


CHECKOUT = Path(__file__).resolve().parents[2]


def git_clone_of_this_checkout(folder: Path) -> Path:
    """A git repository holding this checkout's sources as they are now, in one commit."""
    for name in ("pyproject.toml", "README.md", "engine", "connectors", "rules"):
        source = CHECKOUT / name
        if source.is_dir():
            shutil.copytree(source, folder / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, folder / name)
    for git in (["init", "-q"], ["add", "-A"],
                ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "x"]):
        subprocess.run(["git", *git], cwd=folder, check=True, capture_output=True)
    return folder


def test_init_after_pip_install_from_a_local_clone_pins_the_commit_and_warns(
        tmp_path: Path) -> None:
    """`pip install git+file:///clone` records the commit (direct_url.json): the workflow pins it,
    and init says CI cannot clone a file: URL instead of writing that line in silence."""
    clone = git_clone_of_this_checkout(tmp_path / "clone")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, check=True,
                            capture_output=True, text=True).stdout.strip()
    target = tmp_path / "installed"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                          str(target), f"git+{clone.as_uri()}"], capture_output=True, text=True,
                         timeout=300, check=False)
    assert pip.returncode == 0, pip.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RULESYNC_", "BIGCOMMERCE_"))}
    env["PYTHONPATH"] = str(target)  # this install first: its code and its direct_url.json
    made = subprocess.run([str(target / "bin/rulesync"), "init", "p"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    pinned = f"{DISTRIBUTION} @ git+{clone.as_uri()}@{commit}"
    workflow = (tmp_path / "p/.github/workflows/rulesync.yml").read_text()
    assert f"- run: pip install '{pinned}'\n" in workflow
    assert made.stderr.splitlines() == [
        f"warning: this rulesync was installed from git+{clone.as_uri()}, which CI cannot reach; "
        f"the workflow installs {pinned}, which CI cannot clone: give --install (your git URL, "
        "see --help) or edit that line"]


@pytest.mark.parametrize("source, requirement, warned", [
    ({}, f"{DISTRIBUTION}=={__version__}", None),  # from a package index: no direct_url.json
    ({"url": "https://git.example.com/shop/rulesync", "vcs_info": {"vcs": "git",
      "commit_id": "abc123"}}, f"{DISTRIBUTION} @ git+https://git.example.com/shop/rulesync"
     "@abc123", None),
    ({"url": "file:///src/rulesync", "vcs_info": {"vcs": "git", "commit_id": "abc123"}},
     f"{DISTRIBUTION} @ git+file:///src/rulesync@abc123", "git+file:///src/rulesync"),
    ({"url": "file:///src/rulesync", "vcs_info": {"vcs": "hg", "commit_id": "abc123"}},
     f"{DISTRIBUTION}=={__version__}", "hg+file:///src/rulesync"),
    ({"url": "file:///src/rulesync", "dir_info": {"editable": True}},
     f"{DISTRIBUTION}=={__version__}", "file:///src/rulesync"),
    ({"url": "file:///w/bigcommerce_rulesync-0.1.0-py3-none-any.whl", "archive_info": {}},
     f"{DISTRIBUTION}=={__version__}", "file:///w/bigcommerce_rulesync-0.1.0-py3-none-any.whl"),
], ids=["index", "git-https", "git-file", "hg-file", "editable", "wheel-file"])
def test_init_pins_and_warns_by_where_this_copy_came_from(
        source: dict[str, Any], requirement: str, warned: str | None) -> None:
    """pip's direct_url.json shapes (PEP 610): only a file: URL, whatever the VCS, is flagged."""
    from engine.cli.init import install_requirement, unreachable_source, unreachable_warning

    assert install_requirement(source=source) == requirement
    assert unreachable_source(source) == warned
    warning = unreachable_warning(requirement, source)
    assert (warning is None) == (warned is None)
    if warning:
        assert warning.startswith(f"warning: this rulesync was installed from {warned}, which CI "
                                  f"cannot reach; the workflow installs {requirement}")


def test_demo_never_deletes_a_state_file_it_did_not_make(tmp_path: Path) -> None:
    # A project's own ledger and sync state sit in .rulesync/ (the default state file); a demo
    # pointed there by mistake must not start afresh by deleting them.
    state = tmp_path / ".rulesync" / "state.sqlite"
    state.parent.mkdir()
    with closing(sqlite3.connect(state)) as c, c:
        c.execute("CREATE TABLE ledger_orders (order_id INTEGER)")
        c.execute("INSERT INTO ledger_orders VALUES (7)")
    raw = state.read_bytes()
    r = run("demo", "--orders", "3", "--dir", ".rulesync", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.strip() == (
        "error: .rulesync/state.sqlite was not made by rulesync demo, which deletes its state "
        "on every run: give --dir a folder of its own (or delete that file if an earlier demo "
        "left it)")
    assert state.read_bytes() == raw and r.stdout == ""
    # Its own folder it still starts afresh, run after run.
    for _ in range(2):
        again = run("demo", "--orders", "3", "--dir", ".rulesync/demo", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
    assert state.read_bytes() == raw


def test_a_folder_that_cannot_be_made_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder\n")
    made = run("init", "a-file/shop", cwd=tmp_path)
    assert (made.returncode, made.stdout) == (1, ""), made.stderr
    assert made.stderr.startswith("error: cannot write a-file/shop/") \
        and made.stderr.strip().endswith(": Not a directory"), made.stderr
    demo = run("demo", "--orders", "3", "--dir", "a-file/demo", cwd=tmp_path)
    assert (demo.returncode, demo.stdout) == (1, ""), demo.stderr
    assert demo.stderr.strip() == "error: rulesync demo: cannot use a-file/demo: Not a directory"
    assert (tmp_path / "a-file").read_text() == "not a folder\n"
