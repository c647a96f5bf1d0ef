"""Registry benchmark: portside's ECR registry beside Debian's docker-registry (Docker
Distribution 2.8, filesystem storage), in the same run, on the same image.

Per registry: `docker push` of the python-boto3 test image to a fresh repository, then
`skopeo copy` of it to an OCI layout (a fresh pull that leaves the local engine's images alone:
removing the image's layers locally would remove the shared test image) and back to a new
repository; wall time of each, and the server's RSS growth (peak sampled every 50 ms).

Usage: ``python benchmarks/registry.py``. Needs docker, skopeo and /usr/bin/docker-registry.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3

IMAGE = "portside-test/python-boto3:latest"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def wait_http(url: str) -> None:
    import urllib.error
    import urllib.request

    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # answering, if only with 401
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(url)


def timed(pid: int, args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds of the command and the server's RSS growth (MB) while it ran."""
    before = peak = rss_mb(pid)
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb(pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    start = time.monotonic()
    subprocess.run(args, env=env, check=True, capture_output=True)
    elapsed = time.monotonic() - start
    done.set()
    watcher.join()
    return elapsed, peak - before


def run(name: str, pid: int, host: str, creds: list[str], env: dict[str, str],
        work: Path) -> dict[str, float]:
    tag = f"{host}/bench/push:{int(time.time())}"
    subprocess.run(["docker", "tag", IMAGE, tag], check=True)
    push, push_rss = timed(pid, ["docker", "push", tag], env)
    subprocess.run(["docker", "rmi", tag], check=True, capture_output=True)
    layout = work / f"{name}-layout"
    pull, pull_rss = timed(pid, ["skopeo", "copy", "--src-tls-verify=false", *creds[:2],
                                 f"docker://{tag}", f"oci:{layout}:v1"], env)
    back = f"docker://{host}/bench/copy:v1"
    copy, copy_rss = timed(pid, ["skopeo", "copy", "--dest-tls-verify=false", *creds[2:],
                                 f"oci:{layout}:v1", back], env)
    return {"docker push s": push, "skopeo pull s": pull, "skopeo push s": copy,
            "RSS growth MB": max(push_rss, pull_rss, copy_rss)}


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    env = {**os.environ, "DOCKER_CONFIG": str(work / "docker")}
    results = {}

    port = free_port()
    config = work / "distribution.yml"
    config.write_text(json.dumps({
        "version": 0.1, "storage": {"filesystem": {"rootdirectory": str(work / "dist")}},
        "http": {"addr": f"127.0.0.1:{port}"}}))
    dist = subprocess.Popen(["/usr/bin/docker-registry", "serve", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/")
        results["distribution 2.8"] = run("dist", dist.pid, f"localhost:{port}", [], env, work)
    finally:
        dist.terminate()
        dist.wait()

    port = free_port()
    ours = subprocess.Popen([sys.executable, "-m", "portside", "up", "--port", str(port),
                             "--data-dir", str(work / "portside")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PORTSIDE_LOCAL_AGENTS": ""})
    try:
        wait_http(f"http://127.0.0.1:{port}/_portside/health")
        ecr = boto3.client("ecr", endpoint_url=f"http://127.0.0.1:{port}",
                           region_name="us-east-1", aws_access_key_id="test",
                           aws_secret_access_key="test")
        for repo in ("bench/push", "bench/copy"):
            ecr.create_repository(repositoryName=repo)
        token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        login = base64.b64decode(token).decode()
        subprocess.run(["docker", "login", "-u", "AWS", "--password-stdin", f"localhost:{port}"],
                       input=login.partition(":")[2].encode(), env=env, check=True,
                       capture_output=True)
        creds = ["--src-creds", login, "--dest-creds", login]
        results["portside"] = run("portside", ours.pid, f"localhost:{port}", creds, env, work)
    finally:
        ours.terminate()
        ours.wait()

    columns = list(next(iter(results.values())))
    print("| registry | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, row in results.items():
        print(f"| {name} | " + " | ".join(f"{row[c]:.1f}" for c in columns) + " |")


if __name__ == "__main__":
    main()
