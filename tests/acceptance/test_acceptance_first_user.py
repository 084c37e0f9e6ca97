"""What a first-time user meets after the demo, on a real sandbox store through the real command:
log levels and quiet runs, progress on long runs, and the habits of the ledger commands."""
from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.ledger import Ledger
from tests.support.acceptance_world import RULESYNC, World, order_body


@pytest.fixture
def store(tmp_path: Path) -> Iterator[World]:
    with World(tmp_path / "world", seed_orders=40) as w:
        w.tick()
        yield w


def test_log_level_by_name_verbose_and_quiet_on_apply(tmp_path: Path) -> None:
    runs = {}
    for name, args, env in (("default", [], {}), ("named", [], {"RULESYNC_LOG_LEVEL": "INFO"}),
                            ("verbose", ["-v"], {}), ("debug", ["-vv"], {}),
                            ("quiet", ["-q"], {"RULESYNC_PROGRESS_SECONDS": "0"})):
        with World(tmp_path / name, seed_orders=5) as w:
            w.tick()
            r = w.run("apply", *args, "--state", str(w.state), **env)
            assert r.returncode == 0, (name, r.stderr)
            runs[name] = r.stderr
    info = "INFO rulesync.apply: read 5 store order(s) in "
    assert info not in runs["default"]
    assert info in runs["named"] and info in runs["verbose"]
    assert "store API: " in runs["verbose"] and " DEBUG " not in runs["verbose"]
    assert " DEBUG " in runs["debug"]  # each HTTP request, from urllib3
    assert runs["quiet"] == ""  # not even progress lines, though they were due after each order


def test_progress_lines_when_not_a_terminal(store: World) -> None:
    r = store.run("apply", "--state", str(store.state), RULESYNC_PROGRESS_SECONDS="0")
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stderr.splitlines() if "rulesync.progress" in x]
    assert len(lines) == 41  # one per order with a zero interval, then the closing line
    assert "apply: 1 of about 40 store orders read (2%) in " in lines[0]
    assert "apply: 20 of about 40 store orders read (50%)" in lines[19]
    assert lines[-1].split("rulesync.progress: ", 1)[1].startswith("apply: 40 store order(s) read")
    assert lines[-1].endswith(", done")
    count_calls = store.sb.api_calls().get("GET /v2/orders/count")
    assert count_calls == 1  # asked once, for the total


def test_a_run_shorter_than_the_interval_asks_no_count_and_prints_no_progress(
        store: World) -> None:
    r = store.run("apply", "--state", str(store.state), RULESYNC_PROGRESS_SECONDS="3600")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert "GET /v2/orders/count" not in store.sb.api_calls()


def test_progress_bar_with_total_and_eta_on_a_terminal(store: World) -> None:
    main, other = os.openpty()
    proc = subprocess.Popen([RULESYNC, "apply", "--state", str(store.state)], cwd=store.dir,
                            env=store.env(), stdout=subprocess.PIPE, stderr=other, text=True)
    os.close(other)
    screen = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal closes when the process exits
            break
        if not chunk:
            break
        screen += chunk
    os.close(main)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, screen
    text = screen.decode()
    assert "store orders  [" in text and "40/40" in text
    assert "imported" in out  # the summary still goes to stdout


def test_plan_creates_no_state_file_nor_folder(store: World) -> None:
    state = store.dir / "nested" / "state.sqlite"
    r = store.run("plan", "--json", "--state", str(state))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["actions"]
    assert not state.parent.exists()
    default = store.run("plan")  # the default state, .rulesync/state.sqlite under the cwd
    assert default.returncode == 0, default.stderr
    assert not (store.dir / ".rulesync").exists()


def test_explain_an_unknown_order_exits_1(store: World) -> None:
    store.apply()
    first = min(store.ledger_dump())
    known = store.run("explain", str(first), "--state", str(store.state))
    assert known.returncode == 0 and known.stdout.startswith(f"order {first}: ")
    r = store.run("explain", "999999", "--state", str(store.state))
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr.strip() == (f"error: order 999999: no decision recorded and not in the "
                                f"ledger ({store.state})")
    missing = store.run("explain", "1", "--state", str(store.dir / "nope.sqlite"))
    assert missing.returncode == 1 and "run `rulesync apply` first" in missing.stderr
    assert not (store.dir / "nope.sqlite").exists()


def test_orders_list_says_how_many_lie_past_the_limit(store: World) -> None:
    store.apply()
    with Ledger(store.state) as ledger:
        total = ledger.count_orders()
    assert total > 3
    r = store.orders("list", "--limit", "3")
    assert r.stdout.splitlines()[-1] == (f"3 of {total} order(s); {total - 3} more past "
                                         f"--limit 3 (--limit 0 lists all)")
    everything = store.orders("list", "--limit", "0")
    assert everything.stdout.splitlines()[-1] == f"{total} of {total} order(s)"
    assert len(everything.stdout.splitlines()) == total + 2
    data = json.loads(store.orders("list", "--limit", "2", "--json").stdout)
    assert (len(data["orders"]), data["total"], data["more"]) == (2, total, total - 2)


def test_orders_show_text_has_customer_and_shipping_address(store: World) -> None:
    oid = store.create(order_body(11))
    store.tick()
    store.apply()
    lines = store.orders("show", str(oid)).stdout.splitlines()
    assert lines[1] == "  customer: Jo Doe <jo@example.com> 555-0100"
    assert lines[2] == "  ship to:  Jo Doe, 1 Main St, Austin, Texas 78701, US"


def test_orders_ship_wants_tracking_unless_told_there_is_none(store: World) -> None:
    oid = store.create(order_body(9))
    store.tick()
    store.apply()
    for args in ([], ["--tracking", "  "]):
        r = store.run("orders", "ship", str(oid), "--carrier", "ups", *args,
                      "--state", str(store.state))
        assert r.returncode == 2
        assert "give --tracking NUMBER, or --no-tracking to ship without one" in r.stderr
    assert store.ledger_get(oid)["shipments"] == []  # type: ignore[index]
    r = store.run("orders", "ship", str(oid), "--carrier", "ups", "--no-tracking",
                  "--item", "CAP-1=1", "--note", "handed to the courier", "--json",
                  "--state", str(store.state))
    assert r.returncode == 0, r.stderr
    made = json.loads(r.stdout)["shipment"]
    assert (made["tracking_number"], made["carrier"]) == ("", "ups")
    history = store.run("explain", str(oid), "--state", str(store.state)).stdout
    assert "shipment_recorded by user: handed to the courier" in history


def test_webhooks_remove_takes_the_destination_as_an_argument(store: World) -> None:
    env = {"RULESYNC_WEBHOOK_SECRET": "s" * 32}
    for url in ("https://a.example.com/webhooks", "https://b.example.com/webhooks"):
        r = store.run("webhooks", "register", url, "--json", **env)
        assert r.returncode == 0, r.stderr
        assert "created" in {row["hook"] for row in json.loads(r.stdout)}
    also = {row["hook"] for row in json.loads(r.stdout)} - {"created"}
    assert also == {"ALSO active to https://a.example.com/webhooks (remove it: rulesync webhooks "
                    "remove https://a.example.com/webhooks)"}
    r = store.run("webhooks", "remove", "https://a.example.com/webhooks", "--json", **env)
    assert r.returncode == 0, r.stderr
    removed = json.loads(r.stdout)["removed"]
    left = json.loads(store.run("webhooks", "status", "--json", **env).stdout)
    assert removed and len(left) == len(removed)
    assert {h["destination"] for h in left} == {"https://b.example.com/webhooks"}
    r = store.run("webhooks", "remove", **env)
    assert r.returncode == 0 and r.stdout.strip() == f"removed {len(left)} hook(s)"
