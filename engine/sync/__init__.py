"""The sync: store and ledger changes become events, the rules decide, the outbox applies the actions."""
