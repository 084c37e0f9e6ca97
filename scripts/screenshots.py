"""Take the README's screenshots: docs/status-page.png and docs/docs-page.png.

    .venv/bin/pip install -e '.[test]'       # selenium; plus Debian's chromium and chromium-driver
    .venv/bin/python scripts/screenshots.py [OUT_DIR]     # default: docs/

The status page: a sandbox store with a few orders, three of which the store garbles (the test
suite's misbehaving store: a status id as a string, consignments null, a negative quantity), one
status write refused as a conflict (the store moved the order to Completed while the ledger packed
it), then `rulesync serve` with push_order_info on and an admin token; headless Chromium signs in
and photographs the page. The docs page: `rulesync docs --format html` opened from a file.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.bigcommerce.sandbox.clock import FrozenClock  # noqa: E402
from connectors.ledger import Ledger  # noqa: E402
from tests.support import browser  # noqa: E402
from tests.support.misbehaving_store import (  # noqa: E402
    MisbehavingStore,
    consignments_null,
    negative_quantity,
    status_as_string,
)
from tests.support.serve_world import T0, Serve, order_body, run, sandbox, wait_for  # noqa: E402

ADMIN = "screenshot-admin-token-0123456789"


def status_page(out: Path, work: Path) -> None:
    from selenium.webdriver.common.by import By

    clock = FrozenClock(T0)
    with sandbox(clock=clock) as sb:
        ids = [int(sb.store.create_order(order_body(status))["id"]) for status in (11, 7, 9, 11)]
        clock.advance(2)
        state = work / "state.sqlite"
        done = run(sb, work, "apply", "--state", str(state), "--set", "push_order_info=true")
        assert done.returncode == 0, done.stderr
        with Ledger(state) as ledger:  # the ledger packs an order the store has just completed
            ledger.mark_packed(ids[0], origin="user", note="packed in the warehouse")
        sb.store.set_status(ids[0], 10)
        store = MisbehavingStore(sb)
        for breakage in (status_as_string, consignments_null, negative_quantity):
            store.rewrite(int(sb.store.create_order(order_body(11))["id"]), breakage)
        clock.advance(2)
        serve = Serve(sb, work, state, args=("--set", "push_order_info=true"),
                      extra_env={"RULESYNC_ADMIN_TOKEN": ADMIN})
        try:
            serve.start()
            with browser.chromium(1280, 1300) as driver:
                base = f"http://127.0.0.1:{serve.port}"
                driver.get(base + "/login")
                driver.find_element(By.ID, "token").send_keys(ADMIN)
                driver.find_element(By.ID, "sign-in").click()
                wait_for("three orders in the retry set", lambda: "3 order(s)" in (
                    driver.refresh() or driver.find_element(By.ID, "retry-counts").text))
                save(driver, out / "status-page.png")
        finally:
            serve.stop()
            store.restore()


def docs_page(out: Path, work: Path) -> None:
    subprocess.run([str(Path(sys.executable).parent / "rulesync"), "docs", "--format", "html",
                    "--out", str(work / "site")], check=True, capture_output=True)
    with browser.chromium(1280, 1400) as driver:
        driver.get((work / "site" / "index.html").as_uri())
        save(driver, out / "docs-page.png")


def save(driver: object, target: Path) -> None:
    if not driver.save_screenshot(str(target)):  # type: ignore[attr-defined]
        raise SystemExit(f"could not write {target}")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs"
    missing = browser.missing()
    if missing:
        raise SystemExit(missing)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        status_page(out, Path(tmp))
        docs_page(out, Path(tmp))
    print(f"wrote {out / 'status-page.png'} and {out / 'docs-page.png'}")


if __name__ == "__main__":
    main()
