"""BigCommerce: REST client, normalizer, change feed and the sandbox store."""
