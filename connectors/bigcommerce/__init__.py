"""BigCommerce: REST client (client), normalizer (normalize), change feed (changefeed), the
store connector (store) and the sandbox store (sandbox).

Import from the modules: this package imports nothing, so that reading a configuration, which
checks the store settings with `errors`, does not load the HTTP stack.
"""
