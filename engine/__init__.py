"""rulesync: order-status sync between BigCommerce and an OMS, driven by YAML rules."""
