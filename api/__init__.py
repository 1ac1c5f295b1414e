"""The HTTP service (FastAPI). It arrives with the API issue; the engine does not need it."""
