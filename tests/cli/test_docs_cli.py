"""`rulesync docs` as users type it: the installed command in a subprocess, on real rule files.

Golden files: `tests/cli/golden/docs_shipped.md` and the README's inbound table are the command's
output on the shipped rules. After a deliberate change, refresh both with
    RULESYNC_REFRESH_GOLDEN=1 .venv/bin/python -m pytest tests/cli/test_docs_cli.py
and review the diff.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import rules

RULESYNC = shutil.which("rulesync", path=str(Path(sys.executable).parent)) or "rulesync"
REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden" / "docs_shipped.md"
README = REPO / "README.md"
README_BLOCK = re.compile(r"(<!-- begin: rulesync docs, inbound table -->\n)(.*?)"
                          r"(<!-- end: rulesync docs, inbound table -->)", re.S)
REFRESH = os.environ.get("RULESYNC_REFRESH_GOLDEN") == "1"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RULESYNC, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=60, check=False)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    return result.stdout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project holding a copy of the shipped rules where the repository keeps them, so links
    and paths read exactly as they do in the repository (and in its README)."""
    shutil.copytree(rules.BIGCOMMERCE, tmp_path / "rules" / "bigcommerce")
    (tmp_path / "rulesync.yaml").write_text("version: 1\nrules: [rules/bigcommerce]\n",
                                            encoding="utf-8")
    return tmp_path


def table(markdown: str, heading: str) -> str:
    """The first table under the `## heading...` section, its lines as printed."""
    section = markdown[markdown.index("\n## " + heading):]
    lines = section.split("\n")
    first = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next(i for i in range(first, len(lines)) if not lines[i].startswith("|"))
    return "\n".join(lines[first:end]) + "\n"


def rows(markdown: str, heading: str) -> list[list[str]]:
    return [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            for line in table(markdown, heading).splitlines()[2:]]


# ---------------------------------------------------------------------------------------------
# the shipped rules


def test_shipped_rules_match_the_golden_file(project: Path) -> None:
    out = ok(run("docs", cwd=project))
    if REFRESH:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(out, encoding="utf-8")
    assert out == GOLDEN.read_text(encoding="utf-8"), "changed on purpose? see the docstring"


# The help article's two tables, transcribed from the article (not from the rule files): each
# article row is (trigger, condition, update) of one rendered row.
ARTICLE_INBOUND = [
    ("7 Awaiting Payment", "", "import as billed"),
    ("11 Awaiting Fulfillment", "", "import as billed, mark paid"),
    ("9 Awaiting Shipment", "", "import as billed, mark paid, mark packed"),
    ("Ship Items (a shipment created) / a shipment updated", "imported before",
     "record the shipment with its tracking (partial or complete from the quantities)"),
    ("5 Cancelled", "imported before", "void"),
    ("10 Completed", "not imported before, `auto_close` on",
     "import as billed, mark paid, mark packed, close"),
    ("10 Completed", "not imported before, `auto_close` off",
     "import as billed, mark paid, mark packed"),
]
ARTICLE_OUTBOUND = [
    ("Paid", "`push_order_info` on", "set the status to 11 Awaiting Fulfillment"),
    ("Packed", "`push_order_info` on", "set the status to 9 Awaiting Shipment"),
    ("Shipped", "`push_order_info` on", "create a shipment with its tracking for the items shipped"),
    ("Closed", "`push_order_info` on", "set the status to 10 Completed"),
    ("Void", "`push_order_info` on", "set the status to 5 Cancelled"),
    ("Refund", "`push_order_info` on", "no update: A refund in the ledger does not update the store."),
]


def test_every_row_of_the_article_is_in_the_tables(project: Path) -> None:
    out = ok(run("docs", cwd=project))
    inbound = [tuple(r[:3]) for r in rows(out, "Store → ledger")]
    outbound = [tuple(r[:3]) for r in rows(out, "Ledger → store")]
    assert [r for r in ARTICLE_INBOUND if r not in inbound] == []
    assert [r for r in ARTICLE_OUTBOUND if r not in outbound] == []
    by_trigger = {r[0]: r for r in inbound}
    # The article's notes: shipping comes only from Ship Items; Completed leaves an order
    # imported before alone; Awaiting Pickup / Verification Required update nothing.
    shipped = by_trigger["2 Shipped / 3 Partially Shipped"]
    assert shipped[2].startswith("no update: ") and "Ship Items" in shipped[2]
    assert ("10 Completed", "imported before",
            "no update: Completed does not update an order that was imported before.") in inbound
    assert by_trigger["8 Awaiting Pickup / 12 Manual Verification Required"][2].startswith(
        "no update: ")


def test_each_row_links_to_its_rule(project: Path) -> None:
    out = ok(run("docs", cwd=project))
    for heading, name in (("Store → ledger", "inbound.yaml"), ("Ledger → store", "outbound.yaml")):
        lines = (project / "rules" / "bigcommerce" / name).read_text(encoding="utf-8").split("\n")
        for row in rows(out, heading):
            m = re.fullmatch(r"`([a-z0-9-]+)` \[(\S+):(\d+)\]\((\S+)#L(\d+)\)", row[3])
            assert m, row
            rule_id, file, line, href, anchor = m.groups()
            assert (file, line, href, anchor) == (name, anchor, f"rules/bigcommerce/{name}", line)
            assert lines[int(line) - 1].strip() in (f"- id: {rule_id}", f"id: {rule_id}")


def test_readme_shows_the_commands_inbound_table(project: Path) -> None:
    rendered = table(ok(run("docs", cwd=project)), "Store → ledger")
    text = README.read_text(encoding="utf-8")
    if REFRESH:
        text = README_BLOCK.sub(lambda m: m.group(1) + rendered + m.group(3), text)
        README.write_text(text, encoding="utf-8")
    block = README_BLOCK.search(text)
    assert block, "README lost its inbound table markers"
    assert block.group(2) == rendered, "changed on purpose? see the docstring"


# ---------------------------------------------------------------------------------------------
# a user's rules


def test_an_edited_rule_changes_its_row(project: Path) -> None:
    inbound = project / "rules" / "bigcommerce" / "inbound.yaml"
    before = rows(ok(run("docs", cwd=project)), "Store → ledger")
    text = inbound.read_text(encoding="utf-8")
    edited = text.replace("    when: {event.type: order.status_changed, event.new_status_id: 7}\n"
                          "    actions: [import_order]\n",
                          "    when: {event.type: order.status_changed, event.new_status_id: 7}\n"
                          "    actions: [import_order, mark_paid]\n")
    edited = edited.replace("Declined (6) is not in the sync table; the ledger order is left as it is.",
                            "Declined orders wait for the payment provider.")
    assert edited.count("\n") == text.count("\n") and edited != text
    inbound.write_text(edited, encoding="utf-8")
    after = rows(ok(run("docs", cwd=project)), "Store → ledger")
    changed = [(b, a) for b, a in zip(before, after) if b != a]
    assert [(b[:3], a[:3]) for b, a in changed] == [
        (["7 Awaiting Payment", "", "import as billed"],
         ["7 Awaiting Payment", "", "import as billed, mark paid"]),
        (["6 Declined", "", "no update: Declined (6) is not in the sync table; the ledger order "
          "is left as it is."],
         ["6 Declined", "", "no update: Declined orders wait for the payment provider."]),
    ]


def test_a_rule_added_on_top_moves_the_links(project: Path) -> None:
    inbound = project / "rules" / "bigcommerce" / "inbound.yaml"
    text = inbound.read_text(encoding="utf-8")
    inbound.write_text(text.replace("rules:\n", "rules:\n  - id: big-orders-first\n"
                                    "    when: {expr: \"event.order.totals.total_inc_tax | float > 500\"}\n"
                                    "    no_update: Large orders are reviewed by hand.\n\n", 1),
                       encoding="utf-8")
    out = ok(run("docs", cwd=project))
    first, second = rows(out, "Store → ledger")[:2]
    assert first == ["any store event", "`event.order.totals.total_inc_tax \\| float > 500`",
                     "no update: Large orders are reviewed by hand.",
                     "`big-orders-first` [inbound.yaml:15](rules/bigcommerce/inbound.yaml#L15)"]
    assert second[3].endswith("[inbound.yaml:19](rules/bigcommerce/inbound.yaml#L19)")


def test_configured_settings_are_shown_beside_their_defaults(project: Path) -> None:
    (project / "rulesync.yaml").write_text(
        "version: 1\nrules: [rules/bigcommerce]\nsettings: {auto_close: true}\n", encoding="utf-8")
    out = ok(run("docs", cwd=project))
    assert "- `auto_close`: default false, true in this configuration\n" in out
    assert "- `push_order_info`: default false\n" in out


def test_invalid_rules_are_reported_not_rendered(project: Path) -> None:
    inbound = project / "rules" / "bigcommerce" / "inbound.yaml"
    text = inbound.read_text(encoding="utf-8")
    inbound.write_text(text.replace("actions: [void_order]", "actions: [void_ordr]"),
                       encoding="utf-8")
    r = run("docs", cwd=project)
    assert (r.returncode, r.stdout) == (1, "")
    assert "rules/bigcommerce/inbound.yaml:" in r.stderr and "void_ordr" in r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr


# ---------------------------------------------------------------------------------------------
# output files, formats, --store


def test_markdown_out_links_from_the_output_folder(project: Path) -> None:
    r = run("docs", "--out", "site/rules", cwd=project)
    assert ok(r) == "wrote site/rules/index.md\n"
    out = (project / "site" / "rules" / "index.md").read_text(encoding="utf-8")
    hrefs = re.findall(r"\]\(([^)#]+)(?:#L\d+)?\)", out)
    assert hrefs and all(h.startswith("../../rules/bigcommerce/") for h in hrefs)
    assert all((project / "site" / "rules" / h).is_file() for h in hrefs)


def test_links_to_rules_in_a_folder_with_spaces_stay_links(project: Path) -> None:
    # A Markdown link destination ends at a space (CommonMark): the path must be percent-encoded,
    # or the row shows "[inbound.yaml:15](my rules/...)" as plain text.
    (project / "rules").rename(project / "our rules")
    (project / "rulesync.yaml").write_text("version: 1\nrules: ['our rules/bigcommerce']\n",
                                           encoding="utf-8")
    ok(run("docs", "--out", "site", cwd=project))
    pages = {"stdout": ok(run("docs", cwd=project)),
             "--out": (project / "site" / "index.md").read_text(encoding="utf-8")}
    for where, out in pages.items():
        hrefs = re.findall(r"\]\(([^)]*)\)", out)
        assert hrefs and all(re.fullmatch(r"[^\s<>]+", h) for h in hrefs), (where, hrefs)
    assert "[inbound.yaml:15](our%20rules/bigcommerce/inbound.yaml#L15)" in pages["stdout"]
    assert "[inbound.yaml:15](../our%20rules/bigcommerce/inbound.yaml#L15)" in pages["--out"]
    page = ok(run("docs", "--format", "html", cwd=project))
    assert 'href="our%20rules/bigcommerce/inbound.yaml#L15"' in page


def test_html_page_is_self_contained(project: Path) -> None:
    assert ok(run("docs", "--format", "html", "--out", "site", cwd=project)) == \
        "wrote site/index.html\n"
    page = (project / "site" / "index.html").read_text(encoding="utf-8")
    # Nothing fetched: no scripts, stylesheets, images or fonts from anywhere.
    assert not re.search(r"<script|<link|<img|<iframe|\bsrc=|@import|url\((?!#)", page)
    assert re.findall(r"https?://\S*?(?=\")", page) == ["http://www.w3.org/2000/svg"]  # a namespace name
    svg = re.search(r"<svg.*?</svg>", page, re.S)
    assert svg
    drawn = ET.fromstring(svg.group(0))
    labels = {t.text for t in drawn.iter("{http://www.w3.org/2000/svg}text")}
    assert {"not imported", "billed", "paid", "packed", "shipped", "closed", "void"} <= labels
    assert "<td>10 Completed</td><td>not imported before, <code>auto_close</code> on</td>" in page
    assert '<a href="../rules/bigcommerce/inbound.yaml#L15">inbound.yaml:15</a>' in page
    assert "stateDiagram-v2" in page  # the Mermaid source, shown as text


def test_html_to_stdout(project: Path) -> None:
    out = ok(run("docs", "--format", "html", cwd=project))
    assert out.startswith("<!DOCTYPE html>") and out.rstrip().endswith("</html>")


def test_store_option_is_refused_with_a_single_store_configuration(project: Path) -> None:
    r = run("docs", "--store", "eu", cwd=project)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == ("error: --store eu: rulesync.yaml names no stores (its one store is "
                        "'default'); leave out --store\n")


def test_store_option_renders_that_stores_rules_and_settings(project: Path) -> None:
    own = project / "rules" / "eu"
    shutil.copytree(rules.BIGCOMMERCE, own)
    inbound = own / "inbound.yaml"
    inbound.write_text(inbound.read_text().replace(
        "description: 11 Awaiting Fulfillment marks the order paid",
        "description: 11 Awaiting Fulfillment imports the order, not paid yet", 1).replace(
        "actions: [import_order, mark_paid]\n", "actions: [import_order]\n", 1))
    (project / "rulesync.yaml").write_text(
        "version: 1\nrules: [rules/bigcommerce]\nstores:\n"
        "  - {name: eu, store_hash: abc, settings: {auto_close: true}, rules: [rules/eu]}\n"
        "  - {name: us, store_hash: def}\n", encoding="utf-8")
    eu, us = (ok(run("docs", "--store", name, cwd=project)) for name in ("eu", "us"))
    assert "- `auto_close`: default false, true in this configuration\n" in eu
    assert "- `auto_close`: default false\n" in us
    assert "rules/eu/inbound.yaml" in eu and "rules/eu/" not in us
    assert eu != us.replace("rules/bigcommerce/", "rules/eu/")  # the edited row differs too
    unknown = run("docs", "--store", "ca", cwd=project)
    assert (unknown.returncode, unknown.stdout) == (1, "")
    assert "--store ca: no such store in rulesync.yaml (configured: eu, us)" in unknown.stderr


def test_shipped_rules_without_a_configuration(tmp_path: Path) -> None:
    """Outside a project the shipped rules are shown, by their place in the package, unlinked."""
    out = ok(run("docs", cwd=tmp_path))
    assert "From `rules/bigcommerce/inbound.yaml`." in out
    assert "| 7 Awaiting Payment |  | import as billed | `awaiting-payment` inbound.yaml:15 |" in out
    assert "](" not in out


def test_an_output_folder_that_cannot_be_made_is_one_clear_error(project: Path) -> None:
    (project / "site").write_text("a file in the way", encoding="utf-8")
    r = run("docs", "--out", "site/rules", cwd=project)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == "error: cannot write site/rules/index.md: Not a directory\n"
    assert (project / "site").read_text(encoding="utf-8") == "a file in the way"
