"""Self-healing: the restart policy (pure) and the runner that performs it."""
