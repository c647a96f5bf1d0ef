"""The HTTP edge: one ASGI application that routes every request to its service."""
