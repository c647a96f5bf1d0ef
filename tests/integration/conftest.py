import pytest
from server import PortsideServer


@pytest.fixture(scope="session")
def portside(tmp_path_factory):
    """One server for the whole session; tests that kill servers start their own."""
    server = PortsideServer(tmp_path_factory.mktemp("portside") / "data").start()
    yield server
    server.stop()
