"""The servers the benchmarks compare: portside and its peers; how each is installed and run.

Run ``python benchmarks/peers.py`` to create (or check) the peers' virtualenvs under
``benchmarks/.peers/<name>/``; the benchmarks do the same on demand.  Installing is
idempotent: a virtualenv that already holds the pinned version is left alone.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
PEERS_DIR = BENCH_DIR / ".peers"
HOST = "127.0.0.1"
ACCOUNT = "000000000000"


class PeerUnavailable(RuntimeError):
    """The peer cannot be run on this machine; the message says why."""


@dataclass(frozen=True)
class Peer:
    """One server under test.

    ``argv[0]`` names a script in the peer's virtualenv; ``{port}`` and ``{data_dir}`` in
    ``argv`` and ``env`` are filled in for each start.  ``pin`` is the PyPI version we install;
    ``None`` means the project installs the peer itself (portside).  ``packages`` are more
    pinned distributions installed beside it (e.g. one optional dependency a benchmark needs).
    """

    name: str
    distribution: str
    venv: Path
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    pin: str | None = None
    extras: str = ""
    packages: tuple[str, ...] = ()

    @property
    def executable(self) -> Path:
        return self.venv / "bin" / self.argv[0]

    @property
    def requirement(self) -> str:
        return f"{self.distribution}{self.extras}=={self.pin}"

    def command(self, port: int, data_dir: Path) -> list[str]:
        args = [arg.format(port=port, data_dir=data_dir) for arg in self.argv[1:]]
        return [str(self.executable), *args]

    def environment(self, port: int, data_dir: Path) -> dict[str, str]:
        return {key: value.format(port=port, data_dir=data_dir) for key, value in self.env.items()}

    def describe(self) -> str:
        """The start command as a reader would type it, placeholders kept."""
        assignments = [f"{key}={value}" for key, value in self.env.items()]
        return " ".join([*assignments, *self.argv])


PORTSIDE = Peer(
    name="portside",
    distribution="portside",
    venv=REPO_DIR / ".venv",
    argv=("portside", "up", "--host", HOST, "--port", "{port}", "--data-dir", "{data_dir}"),
)
MINISTACK = Peer(
    name="ministack",
    distribution="ministack",
    venv=PEERS_DIR / "ministack",
    # Foreground mode; TMPDIR keeps its PID file in the run's own directory.
    argv=("ministack",),
    env={
        "GATEWAY_PORT": "{port}",
        "BIND_HOST": HOST,
        "MINISTACK_ACCOUNT_ID": ACCOUNT,
        "TMPDIR": "{data_dir}",
    },
    pin="1.5.33",
)
MOTO = Peer(
    name="moto",
    distribution="moto",
    venv=PEERS_DIR / "moto",
    # Without MOTO_ACCOUNT_ID moto answers as account 123456789012.
    argv=("moto_server", "-H", HOST, "-p", "{port}"),
    env={"MOTO_ACCOUNT_ID": ACCOUNT},
    pin="5.2.5",
    extras="[server]",
)
PEERS: dict[str, Peer] = {peer.name: peer for peer in (PORTSIDE, MINISTACK, MOTO)}
# MiniStack that runs ECS tasks as Docker containers (launch.py). Its RunTask needs the docker
# SDK, which only its heavy `full` extra brings: without it, RunTask reports tasks RUNNING and
# starts nothing. A virtualenv of its own, so that the other benchmarks keep measuring the
# plain install; docker-py at the version of the project's own virtualenv.
MINISTACK_DOCKER = replace(
    MINISTACK, venv=PEERS_DIR / "ministack-docker", packages=("docker==7.2.0",)
)


def installed_version(peer: Peer) -> str | None:
    """The version of the peer's distribution in its virtualenv, or None if absent."""
    python = peer.venv / "bin" / "python"
    if not python.exists():
        return None
    probe = f"import importlib.metadata as m; print(m.version({peer.distribution!r}))"
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def ensure_installed(peer: Peer) -> str:
    """Make the peer runnable and return its version; raise PeerUnavailable if it cannot be."""
    if peer.pin is None:
        return _check_project_install(peer)
    if installed_version(peer) != peer.pin or not _has_packages(peer):
        _install(peer)
    version = installed_version(peer)
    if version != peer.pin or not _has_packages(peer):
        raise PeerUnavailable(f"{peer.requirement} did not install into {peer.venv}")
    return version


def _has_packages(peer: Peer) -> bool:
    """Whether the peer's virtualenv holds each of ``peer.packages`` at its pinned version."""
    if not peer.packages:
        return True
    pins = dict(package.split("==", 1) for package in peer.packages)
    probe = (
        "import importlib.metadata as m, sys\n"
        f"for name, pin in {pins!r}.items():\n"
        "    try:\n"
        "        assert m.version(name) == pin\n"
        "    except Exception:\n"
        "        sys.exit(1)\n"
    )
    python = peer.venv / "bin" / "python"
    return python.exists() and subprocess.run([str(python), "-c", probe]).returncode == 0


def _check_project_install(peer: Peer) -> str:
    version = installed_version(peer)
    if version is None or not peer.executable.exists():
        raise PeerUnavailable(
            f"{peer.name} is not installed: {peer.executable} not found "
            f"(install the project into {peer.venv} with `pip install -e .`)"
        )
    return f"{version} ({_git_revision()})"


def _git_revision() -> str:
    def git(*args: str) -> str:
        result = subprocess.run(["git", "-C", str(REPO_DIR), *args], capture_output=True, text=True)
        return result.stdout.strip()

    dirty = "+uncommitted changes" if git("status", "--porcelain", "--", "src") else ""
    return f"git {git('rev-parse', '--short', 'HEAD')}{dirty}"


def _install(peer: Peer) -> None:
    print(f"installing {peer.requirement} into {peer.venv}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(peer.venv)], check=True)
    pip = [str(peer.venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, peer.requirement, *peer.packages], check=True)


def main() -> None:
    for peer in (*PEERS.values(), MINISTACK_DOCKER):
        try:
            print(f"{peer.name}: {ensure_installed(peer)} — {peer.describe()}")
        except PeerUnavailable as reason:
            print(f"{peer.name}: skipped — {reason}")


if __name__ == "__main__":
    main()
