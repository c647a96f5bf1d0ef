"""SQS benchmark: messages per second through SendMessageBatch and ReceiveMessage +
DeleteMessageBatch, 1 KiB bodies, 10 messages per call.

For portside (durable: every acknowledged batch is committed to SQLite), MiniStack and moto
(both in memory), side by side in one run, servers taking turns run by run:

1. send — each client process repeats SendMessageBatch of 10 × 1 KiB messages to one queue;
2. receive — the queue is topped up, then each client process repeats ReceiveMessage
   (MaxNumberOfMessages=10) followed by DeleteMessageBatch of what it got. A call counts only if
   it received and deleted 10 messages, so a queue running dry cannot inflate the figure.

Usage: ``python benchmarks/sqs.py [--runs N] [--duration S] [--clients N] [--only …]
[--no-write]``. Prints a table and replaces the "SQS" section of benchmarks/RESULTS.md (not with
``--no-write``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError
from common import (
    LoadResult,
    ServerError,
    format_ratio,
    format_spread,
    machine_info,
    make_client,
    markdown_table,
    median,
    ratio,
    run_load,
    running,
    write_section,
)
from peers import PEERS, Peer, PeerUnavailable, ensure_installed

SECTION = "SQS"
QUEUE = "bench"
BATCH = 10
BODY = "x" * 1024
GOAL_VS_MINISTACK = 1.0
TOP_UP_THREADS = 4


class QueueRanDry(BotoCoreError):
    """A receive got fewer than a full batch: the call does not count."""

    fmt = "ReceiveMessage returned fewer than {wanted} messages: the queue ran dry"


def send_batch_call(endpoint: str) -> Callable[[], object]:
    """In a client process: one SendMessageBatch of 10 × 1 KiB to the benchmark queue."""
    client = make_client("sqs", endpoint)
    url = client.create_queue(QueueName=QUEUE)["QueueUrl"]
    entries = [{"Id": str(i), "MessageBody": BODY} for i in range(BATCH)]
    return partial(client.send_message_batch, QueueUrl=url, Entries=entries)


def receive_delete_call(endpoint: str) -> Callable[[], object]:
    """In a client process: ReceiveMessage of up to 10, then DeleteMessageBatch of them."""
    client = make_client("sqs", endpoint)
    url = client.create_queue(QueueName=QUEUE)["QueueUrl"]

    def call() -> None:
        messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=BATCH).get(
            "Messages", [])
        if messages:
            client.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages)])
        if len(messages) < BATCH:
            raise QueueRanDry(wanted=BATCH)

    return call


def queue_depth(client: BaseClient, url: str) -> int:
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def top_up(endpoint: str, target: int, seconds: float) -> int:
    """Fill the benchmark queue towards `target` messages for at most `seconds` (a server whose
    sends slow down as its queue grows stops short); return the depth reached."""
    client = make_client("sqs", endpoint)
    url = client.create_queue(QueueName=QUEUE)["QueueUrl"]
    deadline = time.monotonic() + seconds
    send = send_batch_call(endpoint)

    def fill(batches: int) -> None:
        for _ in range(batches):
            if time.monotonic() > deadline:
                return
            send()

    missing = max(0, target - queue_depth(client, url)) // BATCH
    with ThreadPoolExecutor(TOP_UP_THREADS) as pool:
        list(pool.map(fill, [missing // TOP_UP_THREADS + 1] * TOP_UP_THREADS))
    return queue_depth(client, url)


@dataclass
class Figures:
    peer: Peer
    version: str = ""
    sent: list[float] = field(default_factory=list)  # messages per second, one per run
    received: list[float] = field(default_factory=list)
    send_cpu_us: list[float] = field(default_factory=list)  # server CPU µs per message
    receive_cpu_us: list[float] = field(default_factory=list)
    send_client_us: list[float] = field(default_factory=list)  # client CPU µs per message
    receive_client_us: list[float] = field(default_factory=list)
    depths: list[int] = field(default_factory=list)  # queue depth when the receive load began
    failed_calls: int = 0
    first_error: str = ""
    problem: str = ""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh server starts per server")
    parser.add_argument("--duration", type=float, default=5.0, help="counted seconds of load")
    parser.add_argument("--warmup", type=float, default=1.0, help="uncounted seconds first")
    parser.add_argument("--clients", type=int, default=8, help="client processes")
    parser.add_argument("--prefill", type=int, default=25_000,
                        help="messages in the queue before the receive load")
    parser.add_argument("--prefill-seconds", type=float, default=60.0,
                        help="the most time spent filling the queue")
    parser.add_argument("--only", default=",".join(PEERS),
                        help="comma-separated servers (default: all)")
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.only) - set(PEERS))
    if unknown:
        parser.error(f"unknown server(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    return args


def prepare(names: Sequence[str]) -> list[Figures]:
    figures = []
    for name in names:
        entry = Figures(PEERS[name])
        try:
            entry.version = ensure_installed(entry.peer)
        except PeerUnavailable as reason:
            entry.problem = f"skipped: {reason}"
            print(f"{name}: {entry.problem}", file=sys.stderr)
        figures.append(entry)
    return figures


def measure(figures: list[Figures], args: argparse.Namespace) -> None:
    for run in range(args.runs):
        for entry in figures:
            if entry.problem:
                continue
            try:
                measure_once(entry, args)
            except (ServerError, OSError, BotoCoreError) as error:
                entry.problem = f"run {run + 1} failed: {error}"
                print(f"{entry.peer.name}: {entry.problem}", file=sys.stderr)
                continue
            print(f"{entry.peer.name} run {run + 1}: {entry.sent[-1]:.0f} sent/s, "
                  f"{entry.received[-1]:.0f} received+deleted/s", file=sys.stderr)


def measure_once(entry: Figures, args: argparse.Namespace) -> None:
    load = partial(run_load, clients=args.clients, duration=args.duration, warmup=args.warmup)
    with running(entry.peer) as server:
        sent = load(server, send_batch_call)
        entry.depths.append(top_up(server.endpoint, args.prefill, args.prefill_seconds))
        received = load(server, receive_delete_call)
    record(entry, sent, entry.sent, entry.send_cpu_us, entry.send_client_us)
    record(entry, received, entry.received, entry.receive_cpu_us, entry.receive_client_us)


def record(entry: Figures, load: LoadResult, rates: list[float], cpu: list[float],
           client_cpu: list[float]) -> None:
    rates.append(load.rate * BATCH)
    if load.cpu_ms_per_call is not None:
        cpu.append(1000 * load.cpu_ms_per_call / BATCH)
    if load.client_cpu_ms_per_call is not None:
        client_cpu.append(1000 * load.client_cpu_ms_per_call / BATCH)
    entry.failed_calls += load.failed
    entry.first_error = entry.first_error or load.first_error


# --- report ------------------------------------------------------------------------------


def report(figures: list[Figures], args: argparse.Namespace, machine: str) -> str:
    command = (f"--runs {args.runs} --duration {args.duration:g} --warmup {args.warmup:g} "
               f"--clients {args.clients} --prefill {args.prefill} --prefill-seconds "
               f"{args.prefill_seconds:g} --only {','.join(args.only)}")
    method = (
        f"Medians with (min–max) over {args.runs} runs per server; every run is a fresh server "
        "process with a fresh data directory, and the servers take turns run by run. Each run "
        f"puts {args.clients} client processes on one standard queue: {args.warmup:g} s "
        f"uncounted, then {args.duration:g} s counted of SendMessageBatch (10 × 1 KiB), then — "
        f"the queue topped up towards {args.prefill} messages for at most "
        f"{args.prefill_seconds:g} s — the same of ReceiveMessage (MaxNumberOfMessages=10) + "
        "DeleteMessageBatch. A receive call counts only if it got and deleted 10 messages."
    )
    return "\n\n".join([machine, f"Command: `python benchmarks/sqs.py {command}`", method,
                        figures_table(figures), goals_table(figures), notes(figures)])


def spread(values: list[float], digits: int) -> str:
    return format_spread(values, digits) if values else "–"


def figures_table(figures: list[Figures]) -> str:
    headers = ["server", "version", "sent msgs/s", "received+deleted msgs/s",
               "server CPU µs/msg sent", "server CPU µs/msg received+deleted",
               "client CPU µs/msg sent", "client CPU µs/msg received+deleted",
               "queue depth at receive", "failed calls"]
    rows = [[e.peer.name, e.version or "–", spread(e.sent, 0), spread(e.received, 0),
             spread(e.send_cpu_us, 0), spread(e.receive_cpu_us, 0),
             spread(e.send_client_us, 0), spread(e.receive_client_us, 0),
             spread([float(d) for d in e.depths], 0), str(e.failed_calls) if e.sent else "–"]
            for e in figures]
    return markdown_table(headers, rows)


def goals_table(figures: list[Figures]) -> str:
    by_name = {e.peer.name: e for e in figures}
    ours = by_name.get("portside")
    if ours is None or not ours.sent or not ours.received:
        return "Goal for portside — ≥ 1.0× MiniStack's messages/s — not assessed: portside " \
               "was not measured."
    peers = [e for e in figures if e is not ours and e.sent and e.received]
    headers = ["measure (portside)", "median", *[f"/ {p.peer.name}" for p in peers],
               "per-run ratios / ministack", "goal", "goal met"]
    ministack = by_name.get("ministack")
    rows = []
    for label, attr in (("sent msgs/s", "sent"), ("received+deleted msgs/s", "received"),
                        ("server CPU µs/msg sent (lower is better)", "send_cpu_us"),
                        ("server CPU µs/msg received+deleted (lower is better)",
                         "receive_cpu_us")):
        value = median(getattr(ours, attr))
        rate = attr in ("sent", "received")
        met = None if not rate or ministack is None or not getattr(ministack, attr) else \
            value >= GOAL_VS_MINISTACK * median(getattr(ministack, attr))
        rows.append([label, f"{value:.0f}",
                     *[format_ratio(ratio_to(value, getattr(p, attr))) for p in peers],
                     paired_ratios(ours, ministack, attr),
                     f"≥ {GOAL_VS_MINISTACK:g}× ministack" if rate else "–",
                     {None: "–", True: "yes", False: "**no**"}[met]])
    return markdown_table(headers, rows)


def ratio_to(value: float, theirs: list[float]) -> float | None:
    return ratio(value, median(theirs)) if theirs else None


def paired_ratios(ours: Figures, peer: Figures | None, attr: str) -> str:
    """The ratio of each run to the peer's run beside it, median first: the servers take turns
    run by run, so a pair shares the machine's load of the moment more than the medians do."""
    mine, theirs = getattr(ours, attr), getattr(peer, attr) if peer else []
    if not mine or len(mine) != len(theirs):
        return "–"
    ratios = [a / b for a, b in zip(mine, theirs, strict=True) if b]
    if not ratios:
        return "–"
    listed = ", ".join(f"{r:.2f}" for r in ratios)
    return f"{median(ratios):.2f}× ({listed})"


def notes(figures: list[Figures]) -> str:
    lines = [
        "Notes:",
        "",
        "- portside commits every acknowledged SendMessageBatch to SQLite (WAL, "
        "synchronous=NORMAL: it survives kill -9) before answering, and marks received "
        "messages in flight in the same transaction that selects them; MiniStack and moto keep "
        "messages in memory only.",
        "- The client processes share the machine's cores with the server, so the rates are "
        "those of server and clients together, the same handicap for every server. Server CPU "
        "µs/msg (from /proc, over the counted window) hardly depends on that; client CPU "
        "µs/msg is that of all client processes over the messages they counted.",
    ]
    for entry in figures:
        if entry.problem:
            lines.append(f"- {entry.peer.name}: {entry.problem}")
        if entry.first_error:
            lines.append(f"- {entry.peer.name}: first failed call: {entry.first_error}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    machine = machine_info()
    figures = prepare(args.only)
    measure(figures, args)
    if not any(entry.sent for entry in figures):
        print("no server was measured; RESULTS.md left as it was", file=sys.stderr)
        return 1
    body = report(figures, args, machine)
    print(body)
    if not args.no_write:
        write_section(SECTION, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
