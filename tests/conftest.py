"""Shared test setup. Its presence puts `tests/` on sys.path, so test modules can import the
shared helpers beside it (e.g. `protocol_vectors`)."""
