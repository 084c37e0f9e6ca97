"""The ledger: the built-in OMS on SQLite."""
