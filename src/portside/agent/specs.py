"""How an ECS container definition becomes a Docker container: pure functions from the
assignment's `definition` (overrides already merged by the control plane) to docker-py's
`containers.create` arguments, and from Docker's inspect output back to ECS report members.
Kept apart from the agent's loop so that each translation is testable without an engine."""

from __future__ import annotations

from collections import deque
from typing import Any

LABEL = "portside."
DEFAULT_STOP_TIMEOUT = 30  # seconds, ECS_CONTAINER_STOP_TIMEOUT's default
PUBLISH_ADDRESS = "127.0.0.1"  # published ports stay on loopback: no traffic leaves the host
NANOSECONDS = 1_000_000_000


def docker_name(task_arn: str, container: str) -> str:
    """A Docker name per task container, readable in `docker ps` and unique per host."""
    safe = "".join(c if c.isalnum() or c in "_.-" else "-" for c in container)
    return f"portside-{task_arn.rsplit('/', 1)[-1]}-{safe}"


def start_order(containers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Containers in an order where each comes after the containers it `dependsOn` or takes
    `volumesFrom` (the control plane refuses cycles at registration; anything left over keeps
    its declared order)."""
    by_name = {c["name"]: c for c in containers}
    # volumesFrom orders too: Docker needs the source container to exist.
    waiting = {c["name"]: {d["containerName"] for d in c.get("dependsOn") or ()
                           if d["containerName"] in by_name} |
               {v["sourceContainer"] for v in c.get("volumesFrom") or ()
                if v.get("sourceContainer") in by_name} for c in containers}
    ready = deque(c["name"] for c in containers if not waiting[c["name"]])
    ordered: list[dict[str, Any]] = []
    while ready:
        name = ready.popleft()
        ordered.append(by_name[name])
        for other, deps in waiting.items():
            if name in deps:
                deps.discard(name)
                if not deps and by_name[other] not in ordered and other not in ready:
                    ready.append(other)
    return ordered + [c for c in containers if c not in ordered]


def environment(container: dict[str, Any], injected: dict[str, str]) -> dict[str, str]:
    """The container's environment: what portside injects (endpoint, region, credentials and
    metadata URIs), then the definition's own, which wins as it does on ECS."""
    return {**injected, **{e["name"]: e.get("value", "") for e in
                           container.get("environment") or ()}}


def _healthcheck(check: dict[str, Any]) -> dict[str, Any]:
    return {"test": check["command"],
            "interval": int(check.get("interval", 30) * NANOSECONDS),
            "timeout": int(check.get("timeout", 5) * NANOSECONDS),
            "retries": int(check.get("retries", 3)),
            "start_period": int(check.get("startPeriod", 0) * NANOSECONDS)}


def log_config(container: dict[str, Any], secret_options: dict[str, str] | None = None
               ) -> dict[str, Any] | None:
    """Docker's log configuration for a container's `logConfiguration`: awslogs is shipped by
    the agent from Docker's json-file log (awslogs.py); any other driver is Docker's own, with
    its options and resolved `secretOptions`."""
    config = container.get("logConfiguration") or {}
    driver = config.get("logDriver")
    if not driver:
        return None
    if driver == "awslogs":
        return {"type": "json-file", "config": {}}
    return {"type": driver, "config": {**(config.get("options") or {}),
                                       **(secret_options or {})}}


def _mode(read_only: Any) -> str:
    return "ro" if read_only else "rw"


def binds(container: dict[str, Any], sources: dict[str, str]) -> list[str]:
    """Docker binds (`source:containerPath:ro|rw`) for `mountPoints`; `sources` maps each task
    volume to a host path or a Docker volume name."""
    return [f"{sources[m['sourceVolume']]}:{m['containerPath']}:{_mode(m.get('readOnly'))}"
            for m in container.get("mountPoints") or ()]


def volumes_from(container: dict[str, Any], docker_ids: dict[str, str]) -> list[str]:
    """Docker `volumes_from` (`container id:ro|rw`) for `volumesFrom`."""
    return [f"{docker_ids[v['sourceContainer']]}:{_mode(v.get('readOnly'))}"
            for v in container.get("volumesFrom") or ()]


def create_args(container: dict[str, Any], *, network_mode: str, name: str,
                labels: dict[str, str], env: dict[str, str],
                log_secrets: dict[str, str] | None = None,
                volume_binds: list[str] | None = None,
                shared_volumes: list[str] | None = None) -> dict[str, Any]:
    """docker-py `containers.create` keyword arguments for one container definition.

    `network_mode` is Docker's: `host`, `none`, `bridge`, or `container:<id>` for awsvpc (the
    task's pause container holds the namespace)."""
    from docker.types import LogConfig, Ulimit

    args: dict[str, Any] = {
        "image": container["image"], "name": name, "detach": True,
        "labels": {**(container.get("dockerLabels") or {}), **labels},
        "environment": env, "network_mode": network_mode,
        "stop_signal": "SIGTERM",
    }
    for member, key in (("command", "command"), ("entryPoint", "entrypoint"),
                        ("workingDirectory", "working_dir"), ("user", "user"),
                        ("hostname", "hostname")):
        if container.get(member) and not (key == "hostname" and
                                          network_mode.startswith(("host", "container:"))):
            args[key] = container[member]
    if container.get("cpu"):
        args["cpu_shares"] = max(2, int(container["cpu"]))  # Docker's minimum share is 2
    if container.get("memory"):
        args["mem_limit"] = f"{int(container['memory'])}m"
    if container.get("memoryReservation"):
        args["mem_reservation"] = f"{int(container['memoryReservation'])}m"
    if container.get("ulimits"):
        args["ulimits"] = [Ulimit(name=u["name"], soft=u["softLimit"], hard=u["hardLimit"])
                           for u in container["ulimits"]]
    if volume_binds:
        args["volumes"] = volume_binds
    if shared_volumes:
        args["volumes_from"] = shared_volumes
    logging = log_config(container, log_secrets)
    if logging is not None:
        args["log_config"] = LogConfig(**logging)
    args.update(_process_settings(container, network_mode))
    if container.get("healthCheck"):
        args["healthcheck"] = _healthcheck(container["healthCheck"])
    if network_mode == "bridge" and container.get("portMappings"):
        args["ports"] = {f"{m['containerPort']}/{m.get('protocol', 'tcp')}":
                         (PUBLISH_ADDRESS, m.get("hostPort") or None)
                         for m in container["portMappings"]}
    return args


def _process_settings(container: dict[str, Any], network_mode: str) -> dict[str, Any]:
    """privileged, readonlyRootFilesystem, DNS, extra hosts, sysctls, security options, TTY and
    `linuxParameters` (capabilities, init, shared memory, tmpfs, devices, swap)."""
    args: dict[str, Any] = {}
    for member, key in (("privileged", "privileged"), ("readonlyRootFilesystem", "read_only"),
                        ("pseudoTerminal", "tty"), ("interactive", "stdin_open")):
        if container.get(member):
            args[key] = True
    if container.get("dockerSecurityOptions"):
        args["security_opt"] = list(container["dockerSecurityOptions"])
    if container.get("systemControls"):
        args["sysctls"] = {c["namespace"]: c["value"] for c in container["systemControls"]}
    if not network_mode.startswith(("host", "container:")):  # Docker refuses them there
        if container.get("dnsServers"):
            args["dns"] = list(container["dnsServers"])
        if container.get("dnsSearchDomains"):
            args["dns_search"] = list(container["dnsSearchDomains"])
        if container.get("extraHosts"):
            args["extra_hosts"] = {h["hostname"]: h["ipAddress"] for h in container["extraHosts"]}
    linux = container.get("linuxParameters") or {}
    capabilities = linux.get("capabilities") or {}
    if capabilities.get("add"):
        args["cap_add"] = list(capabilities["add"])
    if capabilities.get("drop"):
        args["cap_drop"] = list(capabilities["drop"])
    if linux.get("initProcessEnabled"):
        args["init"] = True
    if linux.get("sharedMemorySize"):
        args["shm_size"] = f"{int(linux['sharedMemorySize'])}m"
    if linux.get("tmpfs"):
        args["tmpfs"] = {t["containerPath"]: ",".join(
            [f"size={int(t['size'])}m", *(t.get("mountOptions") or ())]) for t in linux["tmpfs"]}
    if linux.get("devices"):
        args["devices"] = [
            f"{d['hostPath']}:{d.get('containerPath') or d['hostPath']}:"
            f"{''.join(p[0] for p in d.get('permissions') or ('read', 'write', 'mknod'))}"
            for d in linux["devices"]]
    if linux.get("maxSwap") is not None and container.get("memory"):
        args["memswap_limit"] = f"{int(container['memory']) + int(linux['maxSwap'])}m"
    if linux.get("swappiness") is not None:
        args["mem_swappiness"] = int(linux["swappiness"])
    return args


def network_bindings(container: dict[str, Any], network_mode: str,
                     inspected: dict[str, Any]) -> list[dict[str, Any]]:
    """`networkBindings` as Docker bound them (dynamic host ports as it chose them); in host
    mode the container's own ports are the host's. `inspected` is needed only for a bridge
    container with `portMappings` (the agent inspects no other)."""
    if network_mode == "host":
        return [{"bindIP": "0.0.0.0", "containerPort": m["containerPort"],
                 "hostPort": m.get("hostPort") or m["containerPort"],
                 "protocol": m.get("protocol", "tcp")}
                for m in container.get("portMappings") or ()]
    if network_mode != "bridge":
        return []
    found = []
    for key, binds in ((inspected.get("NetworkSettings") or {}).get("Ports") or {}).items():
        port, protocol = key.split("/")
        for bind in binds or ():
            found.append({"bindIP": bind["HostIp"] or "0.0.0.0", "containerPort": int(port),
                          "hostPort": int(bind["HostPort"]), "protocol": protocol})
    return found


def dependency_met(condition: str, inspected: dict[str, Any]) -> bool | None:
    """Whether a `dependsOn` condition holds for the dependency's inspected state: True (go),
    False (can never hold: the dependant cannot start), None (not yet)."""
    state = inspected["State"]
    exited = state["Status"] in ("exited", "dead")
    if condition == "START":
        return True
    if condition == "COMPLETE":
        return True if exited else None
    if condition == "SUCCESS":
        return (state["ExitCode"] == 0) if exited else None
    if condition == "HEALTHY":
        health = (state.get("Health") or {}).get("Status")
        if health == "healthy":
            return True
        return False if exited or health == "unhealthy" else None
    return False
