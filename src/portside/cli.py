"""The `portside` command: `up`, `status`, `reset`."""

from __future__ import annotations

import json
import logging
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

import click

from portside import __version__
from portside.config import Settings

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@click.group()
@click.version_option(__version__, prog_name="portside")
def main() -> None:
    """portside: a self-hosted, AWS-compatible container cloud."""


@main.command()
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1; anything "
              "else must be given here explicitly).")
@click.option("--port", type=int, default=None, help="Port (default 4566).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Where state lives (default: $PORTSIDE_DATA_DIR or ~/.local/share/portside).")
def up(host: str | None, port: int | None, data_dir: Path | None) -> None:
    """Start portside and serve every AWS API it implements on one endpoint."""
    import uvicorn

    from portside.gateway.app import Gateway
    from portside.runtime import Runtime

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Only the flag may bind beyond loopback: an environment variable is too easy to inherit.
    settings = Settings.from_env(host=host or "127.0.0.1", port=port, data_dir=data_dir)
    runtime = Runtime(settings)
    sock = _listen(settings.host, settings.port)
    root = settings.root_keys[0]
    click.echo(f"portside {__version__} ready on {settings.endpoint}\n"
               f"  credentials: AWS_ACCESS_KEY_ID={root.access_key_id} "
               f"AWS_SECRET_ACCESS_KEY={'*' * len(root.secret_access_key)} "
               f"(account {root.account_id}, region {settings.default_region})\n"
               f"  data directory: {settings.data_dir}", err=True)
    config = uvicorn.Config(Gateway(runtime), loop="uvloop", http="httptools", lifespan="on",
                            access_log=False, log_level="warning", timeout_graceful_shutdown=5)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        runtime.close()


@main.command()
@click.option("--endpoint", default=None, help="portside's endpoint (default from settings).")
def status(endpoint: str | None) -> None:
    """Report what runs."""
    url = (endpoint or Settings.from_env().endpoint).rstrip("/") + "/_portside/health"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            health = json.load(response)
    except (urllib.error.URLError, OSError) as exc:
        click.echo(f"portside is not answering at {url}: {exc}", err=True)
        sys.exit(1)
    click.echo(f"portside {health['version']} at {url.rsplit('/_portside', 1)[0]}")
    for name, state in health["services"].items():
        click.echo(f"  {name:<16} {state}")


@main.command()
@click.option("--endpoint", default=None, help="portside's endpoint (default from settings).")
def reset(endpoint: str | None) -> None:
    """Wipe every service's state (signed with the root credentials)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    settings = Settings.from_env()
    root = settings.root_keys[0]
    url = (endpoint or settings.endpoint).rstrip("/") + "/_portside/reset"
    request = AWSRequest(method="POST", url=url, data=b"")
    SigV4Auth(Credentials(root.access_key_id, root.secret_access_key), "portside",
              settings.default_region).add_auth(request)
    prepared = request.prepare()
    http_request = urllib.request.Request(url, data=b"", method="POST",
                                          headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(http_request, timeout=10):
            click.echo("portside state wiped")
    except urllib.error.HTTPError as exc:
        click.echo(f"reset refused: {exc.read().decode(errors='replace')}", err=True)
        sys.exit(1)


def _listen(host: str, port: int) -> socket.socket:
    """Bind and listen before announcing: once the line is printed, connections are accepted."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock
