"""Plain async clients for external services. No Temporal imports, nothing of ours."""
