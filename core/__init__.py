"""What the API and the worker share: settings, database, credential encryption."""
