"""Where the engine meets connectors: the protocols it talks to, the registry that finds them, and
the composition root that builds them from the configuration."""
