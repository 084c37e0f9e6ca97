"""The README's console examples, run as printed against the installed `rulesync` and compared.

Each ```console block runs in a fresh empty folder, its `$ ` lines in one bash session (so `cd`
holds), and each command's output (stdout and stderr, as a terminal shows them) must match the
lines that follow it. In the expected text a line `...` stands for any number of lines and `...`
inside a line for any text, as readers take an elision.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BIN = str(Path(sys.executable).parent)
MARK = "@@readme-command-{}@@"


def console_blocks(text: str) -> list[tuple[int, list[tuple[str, list[str]]]]]:
    """(line number, [(command, expected output lines)]) for every ```console block."""
    blocks = []
    for m in re.finditer(r"^```console\n(.*?)^```", text, re.S | re.M):
        steps: list[tuple[str, list[str]]] = []
        for line in m.group(1).splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
        blocks.append((text.count("\n", 0, m.start()) + 1, steps))
    return blocks


def pattern(expected: list[str]) -> re.Pattern[str]:
    parts = []
    for line in expected:
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(re.escape(line.rstrip()).replace(re.escape("..."), r"[^\n]*") + r"\n")
    return re.compile("".join(parts))


def run_block(steps: list[tuple[str, list[str]]], cwd: Path) -> list[str]:
    script = "".join(f"echo {MARK.format(i)}\n{command}\n" for i, (command, _) in enumerate(steps))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BIGCOMMERCE_", "RULESYNC_"))}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", PYTHONUNBUFFERED="1",
               COLUMNS="100")
    r = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=300, check=False)
    outputs = re.split(r"^@@readme-command-\d+@@\n", r.stdout, flags=re.M)
    assert len(outputs) == len(steps) + 1, r.stdout
    return [o if o.endswith("\n") or not o else o + "\n" for o in outputs[1:]]


BLOCKS = console_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_console_examples() -> None:
    assert len(BLOCKS) >= 2
    assert any(cmd.startswith("rulesync validate") for _, steps in BLOCKS for cmd, _ in steps)
    assert any(cmd.startswith("rulesync eval") for _, steps in BLOCKS for cmd, _ in steps)


@pytest.mark.parametrize("line, steps", BLOCKS, ids=[f"README.md:{n}" for n, _ in BLOCKS])
def test_console_example_output_matches(line: int, steps: list[tuple[str, list[str]]],
                                        tmp_path: Path) -> None:
    for (command, expected), got in zip(steps, run_block(steps, tmp_path), strict=True):
        assert pattern(expected).fullmatch(got), (
            f"README.md:{line}: `$ {command}` printed:\n{got}\nthe README shows:\n"
            + "\n".join(expected))


def test_the_comparison_catches_a_drifted_line() -> None:
    assert pattern(["ok: ... valid", "..."]).fullmatch("ok: 2 rule file(s) valid\nmore\n")
    assert not pattern(["ok: 2 rule file(s) valid"]).fullmatch("ok: 3 rule file(s) valid\n")
    assert not pattern(["a"]).fullmatch("a\nextra line\n")
