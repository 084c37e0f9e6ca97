"""Storage: the databases (SQLite or PostgreSQL) and the durable sync state kept in them."""
