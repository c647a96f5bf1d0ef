"""The `portside` command: `up`, `agent`, `demo`, `status`, `reset`."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from portside import __version__
from portside.config import Settings

LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Threads for blocking calls (Docker Engine requests, awslogs, disk): asyncio's default pool has
# cores + 4 of them, and on a 2-core host 100 tasks starting at once queued behind 6 threads
# shared by both local agents (launch benchmark under load: 6.7-7x bare Docker in two rounds).
# Many more contend for the GIL and dockerd: at 64, 100 tasks took 1.39x bare Docker on a quiet
# machine, at 12-16 1.13-1.19x (2 rounds each; bare Docker starts them 10 at a time).
BLOCKING_THREADS = 16


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
    # botocore.compat decides at import whether awscrt is there.
    _import_without_extras("botocore.compat", "uvicorn", "requests")
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
    # No proxy headers: a client's X-Forwarded-For must not choose the source IP that IAM
    # conditions (aws:SourceIp) and CloudTrail see.
    config = uvicorn.Config(Gateway(runtime), loop="uvloop", http="httptools", lifespan="on",
                            access_log=False, log_level="warning", timeout_graceful_shutdown=5,
                            proxy_headers=False, server_header=False)
    try:
        _local_agent_server(config, runtime).run(sockets=[sock])
    finally:
        runtime.close()


def _widen_blocking_pool() -> None:
    """Give the running loop BLOCKING_THREADS threads for asyncio.to_thread and friends."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(BLOCKING_THREADS, thread_name_prefix="portside-blocking"))


async def _run_agent(agent: Any) -> None:
    _widen_blocking_pool()
    await agent.run()


def _import_without_extras(*modules: str) -> None:
    """Import `modules` without optional libraries they load whenever installed, which would
    stay resident in an idle `portside up` or `portside agent` for nothing: awscrt (~6 MB), with
    which botocore signs client requests (the server verifies signatures itself, the agents sign
    with portside.auth.sigv4, and S3's CRC32C/CRC64NVME checksums import awscrt on first use);
    watchfiles with anyio (~1 MB), for uvicorn's reload on code changes; and charset_normalizer
    (~2.5 MB), with which requests guesses the encoding of a response that names none —
    docker-py's Docker Engine answers are JSON, and without a detector requests falls back to
    UTF-8."""
    import importlib
    import importlib.abc
    import warnings

    skipped = ("awscrt", "watchfiles", "charset_normalizer", "chardet")

    class Skip(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: Any, target: Any = None) -> None:
            if name.split(".")[0] in skipped:
                raise ImportError(f"{name} is not imported at start")

    finder = Skip()
    sys.meta_path.insert(0, finder)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # requests warns that it has no charset detector
            for module in modules:
                importlib.import_module(module)
    finally:
        sys.meta_path.remove(finder)


def _local_agent_server(config: Any, runtime: Any) -> Any:
    """A uvicorn server that, once listening, runs a Docker agent for the `default` cluster on
    the same event loop (in-process: no second interpreter's memory, and task role credentials
    come straight from STS on the loop that serves requests). No Docker Engine: no agent, so no
    instance is registered and nothing is placed where it could not run."""
    import asyncio

    import uvicorn

    from portside.agent.channel import Identity
    from portside.agent.docker_agent import AgentSpec, DockerAgent

    settings = runtime.settings
    root = settings.root_keys[0]

    async def credentials(task_arn: str, role_arn: str) -> dict[str, Any]:
        sts = runtime.services["sts"]
        return sts.assume_role_for_service(
            "ecs-tasks.amazonaws.com", role_arn, f"ecs-task-{task_arn.rsplit('/', 1)[-1][:32]}",
            source_arn=task_arn, source_account=task_arn.split(":")[4])

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            _widen_blocking_pool()
            await super().startup(sockets)
            self.agent_task = asyncio.create_task(self._agent())

        async def _agent(self) -> None:
            identity = Identity(settings.endpoint, settings.default_region,
                                     root.access_key_id, root.secret_access_key)
            retention = float(os.environ.get("PORTSIDE_AGENT_RETENTION", "0"))
            # The EC2 capacity of the default cluster, and portside's Fargate capacity.
            kinds = os.environ.get("PORTSIDE_LOCAL_AGENTS", "ec2,fargate").split(",")
            specs = {"ec2": AgentSpec(state_dir=settings.data_dir / "agent",
                                      retention=retention),
                     "fargate": AgentSpec(state_dir=settings.data_dir / "fargate",
                                          retention=retention, fargate_zones=("a", "b", "c"))}
            await asyncio.gather(*(self._run(identity, specs[k]) for k in kinds if k in specs))

        async def _run(self, identity: Identity, spec: AgentSpec) -> None:
            try:
                # Building docker-py's client takes a while: not on the loop that serves
                # requests and channels.
                agent = await asyncio.to_thread(DockerAgent, identity, spec, credentials)
                await agent.run()
            except Exception as exc:  # no engine, or not root: portside runs without it
                logging.getLogger("portside.agent").warning(
                    "no local %s agent (tasks need one to run): %s",
                    "Fargate" if spec.fargate_zones else "EC2", exc)

    return Server(config)


@main.command()
@click.option("--endpoint", required=True, help="portside's endpoint, e.g. http://127.0.0.1:4566.")
@click.option("--cluster", required=True, help="The cluster this host joins.")
@click.option("--attribute", "attributes", multiple=True, metavar="K=V",
              help="A custom attribute of this container instance (repeatable).")
@click.option("--cpu", type=int, default=None, help="CPU units offered (default: CPUs × 1024).")
@click.option("--memory", type=int, default=None, help="MiB offered (default: the host's).")
@click.option("--availability-zone", default=None, help="Zone (default: <region>a).")
@click.option("--state-dir", type=click.Path(path_type=Path), default=None,
              help="Where the agent keeps its instance ARN (default: <data dir>/agent-<cluster>).")
@click.option("--retention", type=float, default=0.0,
              help="Seconds stopped containers are kept for inspection.")
def agent(endpoint: str, cluster: str, attributes: tuple[str, ...], cpu: int | None,
          memory: int | None, availability_zone: str | None, state_dir: Path | None,
          retention: float) -> None:
    """Join this host to a control plane and run its tasks on the local Docker Engine."""
    import asyncio

    _import_without_extras("requests")

    from portside.agent.channel import Identity
    from portside.agent.docker_agent import AgentSpec, DockerAgent

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings.from_env()
    root = settings.root_keys[0]
    identity = Identity(endpoint, settings.default_region,
                        os.environ.get("AWS_ACCESS_KEY_ID", root.access_key_id),
                        os.environ.get("AWS_SECRET_ACCESS_KEY", root.secret_access_key),
                        os.environ.get("AWS_SESSION_TOKEN"))
    extra = {k: (v or None) for k, _, v in (a.partition("=") for a in attributes)}
    spec = AgentSpec(cluster=cluster, cpu=cpu, memory=memory, zone=availability_zone,
                     attributes=extra, retention=retention,
                     state_dir=state_dir or settings.data_dir / f"agent-{cluster}")
    import docker.errors
    import requests

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_run_agent(DockerAgent(identity, spec)))
    except (docker.errors.DockerException, requests.RequestException) as exc:
        # No engine: this host registers nothing, so no task is placed where it cannot run.
        raise click.ClickException(f"no Docker Engine answers ({exc}); "
                                   "this host was not registered") from exc


@main.command()
@click.option("--endpoint", default=None, help="portside's endpoint (default from settings).")
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="Seconds to wait for the worker's result.")
@click.option("--secrets/--no-secrets", default=True, show_default=True,
              help="Inject the Secrets Manager secret and the SSM parameter into the worker.")
@click.option("--clean-up", is_flag=True, help="Delete the demo's resources instead.")
def demo(endpoint: str | None, timeout: float, secrets: bool, clean_up: bool) -> None:
    """Run the seed's batch pipeline end to end: S3 upload → EventBridge → ECS task → S3 + SQS.

    Exits 0 only when the worker really ran and its result and message really arrived."""
    from botocore.exceptions import BotoCoreError, ClientError

    from portside import demo as pipeline

    settings = Settings.from_env()
    root = settings.root_keys[0]
    url = endpoint or settings.endpoint
    why = pipeline.endpoint_answers(url)
    if why is not None:
        raise click.ClickException(f"portside is not answering at {url} ({why}); start it "
                                   "with `portside up`")
    runner = pipeline.Demo(url, os.environ.get("AWS_ACCESS_KEY_ID", root.access_key_id),
                           os.environ.get("AWS_SECRET_ACCESS_KEY", root.secret_access_key),
                           os.environ.get("AWS_DEFAULT_REGION", settings.default_region),
                           echo=lambda line: click.echo(line),
                           session_token=os.environ.get("AWS_SESSION_TOKEN"))
    click.echo(f"portside demo: the seed's batch pipeline against {url}\n")
    try:
        if clean_up:
            runner.clean_up()
            return
        pipeline.run(runner, timeout=timeout, secrets=secrets)
    except pipeline.DemoFailed as exc:
        click.echo(f"\nFAILED: {exc}", err=True)
        sys.exit(1)
    except (BotoCoreError, ClientError) as exc:
        click.echo(f"\nFAILED: a call to portside failed: {exc}", err=True)
        sys.exit(1)
    click.echo("\nThe pipeline works: upload → EventBridge → ECS task → S3 result + SQS message.")


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
    from portside.agent import aws

    settings = Settings.from_env()
    root = settings.root_keys[0]
    url = (endpoint or settings.endpoint).rstrip("/") + "/_portside/reset"
    headers = aws.signed_headers(aws.Keys(root.access_key_id, root.secret_access_key),
                                 settings.default_region, aws.Service("portside"), "POST", url)
    http_request = urllib.request.Request(url, data=b"", method="POST", headers=headers)
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
