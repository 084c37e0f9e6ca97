"""`rulesync serve`: webhooks in, a durable inbox, a worker per store, and the status page."""
