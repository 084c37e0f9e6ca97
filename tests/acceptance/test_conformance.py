"""The conformance kit (engine/conformance) run on the built-in ledger, its state on SQLite and
on PostgreSQL (the example connector package runs it in test_acceptance_plugins.py)."""
from __future__ import annotations

from engine.conformance import Conformance
from tests.support import databases


class TestLedgerOnSqlite(Conformance):
    pass


class TestLedgerOnPostgresql(Conformance):
    def database(self) -> str:
        return databases.server_url()  # skips, saying why, without a server to test against
