"""High availability: leader election among replicas and the state they share (docs/ha.md)."""
