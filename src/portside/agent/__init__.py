"""The host agent: its side of the agent protocol (channel.py), and, for tests and benchmarks
only, a simulated host that runs no containers (simulated.py)."""
