"""rulesync: order-status sync between BigCommerce and an OMS, driven by YAML rules."""

__version__ = "0.1.0"  # the one place the version is written (pyproject.toml reads it)
DISTRIBUTION = "bigcommerce-rulesync"  # the name on PyPI, where `rulesync` is an unrelated project
