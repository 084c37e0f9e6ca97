"""Two processes share one ledger (e.g. `rulesync serve` and a user's `rulesync orders`), in one
SQLite file or one PostgreSQL database."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from connectors.ledger import Ledger

WORKER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from connectors.ledger import Ledger

    db, go, base = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    while not go.exists():
        time.sleep(0.005)
    shared = {"line_items": [{"id": 1, "sku": "A", "quantity": 2}]}
    with Ledger(db) as ledger:  # both processes migrate the fresh database at once
        for n in range(60):
            ledger.import_order({"id": base + n, **shared}, origin="store")
            ledger.mark_paid(base + n, origin="user")
            ledger.import_order({"id": n, **shared}, origin="store")
            ledger.mark_paid(n, origin="store")
            ledger.record_shipment(
                n, {"id": 500 + n, "items": [{"order_product_id": 1, "quantity": 2}]},
                origin="store")
    print("ok")
""")


def test_two_processes_write_the_same_ledger_at_once(tmp_path: Path, location: str) -> None:
    db, go, script = location, tmp_path / "go", tmp_path / "worker.py"
    script.write_text(WORKER)
    workers = [subprocess.Popen([sys.executable, str(script), db, str(go), str(base)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for base in (1000, 2000)]
    time.sleep(0.2)
    go.touch()
    results = [worker.communicate(timeout=120) for worker in workers]
    assert [(w.returncode, out, err) for w, (out, err) in zip(workers, results, strict=True)] == [
        (0, "ok\n", ""), (0, "ok\n", "")]
    with Ledger(db) as ledger:
        feed = ledger.changes_since(0, limit=10_000)
        assert [e.seq for e in feed] == list(range(1, len(feed) + 1))
        # own orders: import + paid each; shared orders: exactly one of each change
        assert len(feed) == 2 * 60 * 2 + 60 * 3
        for n in range(60):
            assert [e.kind for e in ledger.history(n)] == [
                "imported", "paid", "shipment_recorded"]
            assert ledger.state_of(n)["shipped"] == "complete"
        assert len(ledger.list_orders(limit=1000)) == 180
