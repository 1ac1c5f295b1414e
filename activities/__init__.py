"""The worker's I/O: one Temporal activity per node type that touches the world."""
