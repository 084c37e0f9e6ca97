"""What a first-time user meets after the demo, on a real sandbox store through the real command:
log levels and quiet runs, progress on long runs, and the habits of the ledger commands."""
from __future__ import annotations

import json
import os
import re
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
    assert runs["quiet"] == ""  # not even progress lines, though one was due every 50 ms


def progress_lines(stderr: str) -> list[str]:
    return [x.split("rulesync.progress: ", 1)[1] for x in stderr.splitlines()
            if "rulesync.progress: " in x]


def test_progress_lines_when_not_a_terminal(store: World) -> None:
    r = store.run("apply", "--state", str(store.state), RULESYNC_PROGRESS_SECONDS="0")
    assert r.returncode == 0, r.stderr
    lines = progress_lines(r.stderr)
    assert lines and all(x.startswith("apply: ") for x in lines)
    assert lines[-1].startswith("apply: done in ") and "40 store order(s) read" in lines[-1]
    count_calls = store.sb.api_calls().get("GET /v2/orders/count")
    assert count_calls == 1  # asked once, for the total


def test_a_run_that_fails_says_it_stopped_not_that_it_is_done(store: World) -> None:
    """The store is down: the run's closing progress line says how far it got, then the error."""
    r = store.run("apply", "--state", str(store.state), RULESYNC_PROGRESS_SECONDS="0",
                  BIGCOMMERCE_API_URL="http://127.0.0.1:9")
    assert r.returncode == 1, r.stderr
    lines = progress_lines(r.stderr)
    assert lines[-1].startswith("apply: stopped after ") and lines[-1].endswith(": nothing done")
    assert not any(" done in " in x for x in lines), lines
    assert r.stderr.splitlines()[-1].startswith("error: BigCommerce GET /v2/time: cannot reach")


def test_piped_progress_goes_on_while_the_run_waits_on_the_store(tmp_path: Path) -> None:
    """Lines come from a timer, not from orders arriving: a wait for the store's rate limit
    (one request a window) is filled with lines saying where the run is."""
    with World(tmp_path / "world") as w:
        # One request at a time, so the waits follow each other as the run meets them.
        (w.dir / "rulesync.yaml").write_text("version: 1\nstore: {concurrency: 1}\n")
        for n in range(3):  # shipped: each order's shipments are one more request, one more wait
            oid = w.create(order_body(11))
            w.ship_in_store(oid, {sku: line["quantity"] for sku, line in w.lines(oid).items()},
                            f"1ZWAIT{n}")
        w.tick()
        w.sb.limiter.configure(1, 1500)
        r = w.run("apply", "--state", str(w.state), RULESYNC_PROGRESS_SECONDS="0.3")
        count_calls = w.sb.api_calls().get("GET /v2/orders/count")
    assert r.returncode == 0, r.stderr
    stderr = r.stderr.splitlines()
    waits = [i for i, x in enumerate(stderr) if x.endswith("waiting 1.5 s")]
    assert waits, r.stderr
    for i in waits:  # a 1.5 s wait on the store, a line every 0.3 s: the next lines are progress
        assert all("rulesync.progress: apply: " in x for x in stderr[i + 1:i + 4]), r.stderr
    lines = progress_lines(r.stderr)
    assert any(x.startswith("apply: 0 store order(s) read in ") for x in lines)
    assert any(x.startswith("apply: 1 of about 3 store orders read (33%) in ") for x in lines)
    assert any(x.startswith("apply: 2 of about 3 store orders read (66%) in ") for x in lines)
    assert lines[-1].startswith("apply: done in ") and "3 store order(s) read" in lines[-1]
    assert count_calls == 1


@pytest.fixture
def paid_in_the_ledger(tmp_path: Path) -> Iterator[World]:
    """Eight imported orders, then paid in the ledger: eight ledger changes to push, each a
    GET of the live status and a PUT, on a store that answers in 150 ms."""
    with World(tmp_path / "world") as w:
        ids = [w.create(order_body(7)) for _ in range(8)]
        w.tick()
        w.apply()
        with Ledger(w.state) as ledger:
            for oid in ids:
                ledger.mark_paid(oid, origin="user")
        w.tick()
        w.sb.faults.configure(0.0, 150, 0)
        yield w


def pushed_steps(lines: list[str], verb: str) -> set[int]:
    return {int(x.split()[1]) for x in lines
            if x.startswith(f"{verb}: ") and " of 8 ledger changes handled (" in x}


def test_piped_progress_covers_the_push_phase(paid_in_the_ledger: World) -> None:
    w = paid_in_the_ledger
    r = w.run("apply", "--state", str(w.state), "--set", "push_order_info=true",
              RULESYNC_PROGRESS_SECONDS="0.2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].split()[2] == "8"  # pushed
    lines = progress_lines(r.stderr)
    assert len(pushed_steps(lines, "apply")) >= 3, r.stderr  # the count moves line by line
    assert lines[-1].startswith("apply: done in ") and lines[-1].endswith(
        ": 8 ledger change(s) handled")


def test_plan_shows_the_same_progress_on_stderr_only(paid_in_the_ledger: World) -> None:
    w = paid_in_the_ledger
    args = ("plan", "--json", "--state", str(w.state), "--set", "push_order_info=true")
    shown = w.run(*args, RULESYNC_PROGRESS_SECONDS="0.1")
    quiet = w.run(*args, RULESYNC_PROGRESS_SECONDS="3600")
    assert shown.returncode == quiet.returncode == 0, shown.stderr + quiet.stderr
    assert shown.stdout == quiet.stdout  # the JSON is the same with or without progress
    assert len(json.loads(shown.stdout)["actions"]) == 8 and quiet.stderr == ""
    lines = progress_lines(shown.stderr)
    assert len(pushed_steps(lines, "plan")) >= 3, shown.stderr
    assert lines[-1].startswith("plan: done in ") and lines[-1].endswith(
        ": 8 ledger change(s) handled")


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
    # then a bar for the ledger changes the imports made, handled with push off
    assert re.search(r"ledger changes  \[#+\]  (\d+)/\1", text), text
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
