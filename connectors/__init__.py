"""Connectors: one package per system (bigcommerce, ledger)."""
