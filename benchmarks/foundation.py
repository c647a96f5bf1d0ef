"""Foundation benchmark: start-up time, idle memory and GetCallerIdentity throughput.

For portside, MiniStack and moto, side by side in one run:

1. ready time — from the ``Popen`` call to the first successful ``sts get_caller_identity``
   (polled every 10 ms);
2. idle RSS — the server process and its descendants, one second after it is ready;
3. call rate — GetCallerIdentity calls per second from concurrent client processes.

Usage: ``python benchmarks/foundation.py [--runs N] [--load-runs N] [--duration S]
[--only portside,ministack]``.  Prints a table and replaces the "Foundation" section of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from common import (
    ServerError,
    format_ratio,
    format_spread,
    machine_info,
    make_client,
    markdown_table,
    median,
    ratio,
    rejects_bad_signature,
    run_load,
    running,
    write_section,
)
from peers import PEERS, Peer, PeerUnavailable, ensure_installed

SECTION = "Foundation"
GOAL_READY_SECONDS = 1.0
GOAL_IDLE_MB = 80.0
GOAL_RATE_VS_MINISTACK = 1.5
IDLE_SETTLE_SECONDS = 1.0


@dataclass
class Figures:
    """What one server measured over all its runs."""

    peer: Peer
    version: str = ""
    ready: list[float] = field(default_factory=list)
    idle_mb: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # server CPU milliseconds per call
    client_cpu_ms: list[float] = field(default_factory=list)  # all clients' CPU ms per call
    failed_calls: int = 0
    first_error: str = ""
    identity: dict[str, str] = field(default_factory=dict)
    rejects_bad_signature: bool | None = None
    problem: str = ""  # why the server was skipped or stopped being measured


def sts_identity_call(endpoint: str) -> Callable[[], object]:
    """The call each load client repeats (built in the client's own process)."""
    return make_client("sts", endpoint).get_caller_identity


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="server starts per server")
    parser.add_argument("--load-runs", type=int, default=3, help="starts that also get load")
    parser.add_argument("--duration", type=float, default=5.0, help="counted seconds of load")
    parser.add_argument("--warmup", type=float, default=1.0, help="uncounted seconds first")
    parser.add_argument("--clients", type=int, default=8, help="client processes")
    parser.add_argument(
        "--only", default=",".join(PEERS), help="comma-separated servers (default: all)"
    )
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


def warm_up(figures: list[Figures]) -> None:
    """Start each server once, uncounted, so that bytecode and page caches are filled alike."""
    for entry in figures:
        attempt(entry, "warm-up start", partial(start_once, entry))


def measure(figures: list[Figures], args: argparse.Namespace) -> None:
    """Run the servers in turn, run by run, so that drift on the machine hits all alike."""
    for run in range(max(args.runs, args.load_runs)):
        for entry in figures:
            attempt(entry, f"run {run + 1}", partial(measure_once, entry, run, args))


def attempt(entry: Figures, label: str, action: Callable[[], None]) -> None:
    """Do ``action`` unless the server already failed; a failure ends its measuring."""
    if entry.problem:
        return
    try:
        action()
    except (ServerError, OSError) as error:
        entry.problem = f"{label} failed: {error}"
        tail = getattr(error, "log_tail", "")
        print(f"{entry.peer.name}: {entry.problem}\n{tail}", file=sys.stderr)


def start_once(entry: Figures) -> None:
    with running(entry.peer):
        pass


def measure_once(entry: Figures, run: int, args: argparse.Namespace) -> None:
    with running(entry.peer) as server:
        entry.ready.append(server.ready_seconds)
        entry.identity = server.identity
        time.sleep(IDLE_SETTLE_SECONDS)
        entry.idle_mb.append(server.rss_bytes() / 1e6)
        if run == 0:
            entry.rejects_bad_signature = rejects_bad_signature(server.endpoint)
        note = f"ready {server.ready_seconds:.3f} s, idle RSS {entry.idle_mb[-1]:.1f} MB"
        if run < args.load_runs:
            load = run_load(
                server,
                sts_identity_call,
                clients=args.clients,
                duration=args.duration,
                warmup=args.warmup,
            )
            entry.rates.append(load.rate)
            if load.cpu_ms_per_call is not None:
                entry.cpu_ms.append(load.cpu_ms_per_call)
            if load.client_cpu_ms_per_call is not None:
                entry.client_cpu_ms.append(load.client_cpu_ms_per_call)
            entry.failed_calls += load.failed
            entry.first_error = entry.first_error or load.first_error
            note += f", {load.rate:.0f} calls/s ({load.failed} failed)"
    print(f"{entry.peer.name} run {run + 1}: {note}", file=sys.stderr)


# --- report ------------------------------------------------------------------------------


def report(figures: list[Figures], args: argparse.Namespace, machine: str) -> str:
    parts = [
        machine,
        f"Command: `python benchmarks/foundation.py {command_line(args)}`",
        method(args),
        figures_table(figures),
        goals_table(figures),
        servers_list(figures),
        notes(figures, args),
    ]
    return "\n\n".join(parts)


def command_line(args: argparse.Namespace) -> str:
    return (
        f"--runs {args.runs} --load-runs {args.load_runs} --duration {args.duration:g} "
        f"--warmup {args.warmup:g} --clients {args.clients} --only {','.join(args.only)}"
    )


def method(args: argparse.Namespace) -> str:
    starts = max(args.runs, args.load_runs)
    return (
        f"Medians with (min–max) over {starts} starts per server (ready time, idle RSS) and "
        f"{args.load_runs} of those starts put under load (call rate), after one uncounted "
        "warm-up start. Every start is a fresh process with a fresh data directory on its own "
        "port; servers take turns run by run."
    )


def figures_table(figures: list[Figures]) -> str:
    headers = [
        "server",
        "version",
        "ready (s)",
        "idle RSS (MB)",
        "GetCallerIdentity/s",
        "server CPU ms/call",
        "client CPU ms/call",
        "failed calls",
        "rejects bad signature",
        "reports",
    ]
    return markdown_table(headers, [figures_row(entry) for entry in figures])


def figures_row(entry: Figures) -> list[str]:
    def spread(values: list[float], digits: int) -> str:
        return format_spread(values, digits) if values else "–"

    signature = {None: "–", True: "yes", False: "no"}[entry.rejects_bad_signature]
    identity = entry.identity.get("Arn", "–")
    return [
        entry.peer.name,
        entry.version or "–",
        spread(entry.ready, 3),
        spread(entry.idle_mb, 1),
        spread(entry.rates, 0),
        spread(entry.cpu_ms, 2),
        spread(entry.client_cpu_ms, 2),
        str(entry.failed_calls) if entry.rates else "–",
        signature,
        f"`{identity}`" if entry.identity else "–",
    ]


@dataclass(frozen=True)
class Measure:
    """One row of the portside table: a Figures list, how to show it and its goal, if any."""

    label: str
    attr: str
    digits: int
    goal: str = "–"
    # Whether portside's median meets the goal, given every server's figures; None: no verdict.
    met: Callable[[float, dict[str, Figures]], bool | None] | None = None


def rate_goal_met(value: float, by_name: dict[str, Figures]) -> bool | None:
    ministack = by_name.get("ministack")
    if ministack is None or not ministack.rates:
        return None
    return value >= GOAL_RATE_VS_MINISTACK * median(ministack.rates)


MEASURES = (
    Measure(
        "ready (s), lower is better",
        "ready",
        3,
        f"ready ≤ {GOAL_READY_SECONDS:g} s",
        lambda value, _: value <= GOAL_READY_SECONDS,
    ),
    Measure(
        "idle RSS (MB), lower is better",
        "idle_mb",
        1,
        f"idle RSS ≤ {GOAL_IDLE_MB:g} MB",
        lambda value, _: value <= GOAL_IDLE_MB,
    ),
    Measure(
        "GetCallerIdentity/s, higher is better",
        "rates",
        0,
        f"calls/s ≥ {GOAL_RATE_VS_MINISTACK:g}× ministack's",
        rate_goal_met,
    ),
    Measure("server CPU ms/call, lower is better", "cpu_ms", 2),
)


def goals_table(figures: list[Figures]) -> str:
    by_name = {entry.peer.name: entry for entry in figures}
    ours = by_name.get("portside")
    if ours is None or not all(getattr(ours, measure.attr) for measure in MEASURES):
        why = "see below" if ours else "not selected with --only"
        goals = ", ".join(measure.goal for measure in MEASURES if measure.met)
        return f"Goals for portside — {goals} — not assessed: portside was not measured ({why})."
    peers = [entry for entry in figures if entry is not ours and entry.ready]
    ratios = [f"/ {peer.peer.name}" for peer in peers]
    headers = ["measure (portside)", "goal", "median", *ratios, "goal met"]
    rows = [goal_row(measure, ours, peers, by_name) for measure in MEASURES]
    return markdown_table(headers, rows)


def goal_row(
    measure: Measure, ours: Figures, peers: list[Figures], by_name: dict[str, Figures]
) -> list[str]:
    value = median(getattr(ours, measure.attr))
    ratios = [format_ratio(peer_ratio(value, peer, measure.attr)) for peer in peers]
    met = measure.met(value, by_name) if measure.met else None
    verdict = {None: "–", True: "yes", False: "**no**"}[met]
    return [measure.label, measure.goal, f"{value:.{measure.digits}f}", *ratios, verdict]


def peer_ratio(value: float, peer: Figures, attr: str) -> float | None:
    theirs = getattr(peer, attr)
    return ratio(value, median(theirs)) if theirs else None


def servers_list(figures: list[Figures]) -> str:
    lines = ["How each server was started (`{port}` free, `{data_dir}` fresh per start):", ""]
    for entry in figures:
        line = f"- {entry.peer.name}: `{entry.peer.describe()}`"
        if entry.problem:
            line += f" — {entry.problem}"
        lines.append(line)
    return "\n".join(lines)


def notes(figures: list[Figures], args: argparse.Namespace) -> str:
    lines = [
        "Notes:",
        "",
        f"- Load comes from {args.clients} client processes, each with its own boto3 session and "
        f"client, calling in a loop for {args.warmup:g} s uncounted, then {args.duration:g} s "
        "counted; only successful calls count. The machine has "
        f"{os.cpu_count()} cores, so the clients compete with the server for CPU: the rate is "
        "that of server and clients together, the same handicap for every server.",
        "- All clients sign with access key `test`, secret `test`, region us-east-1. "
        '"rejects bad signature" is one GetCallerIdentity signed with a wrong secret: a server '
        "that accepts it does not verify SigV4 and so skips that work on every call.",
        "- Server CPU ms/call: user + system CPU time of the server's processes (from /proc) "
        "during the counted window, divided by the calls counted. Unlike the call rate, it "
        "hardly changes when other work shares the machine.",
        "- Client CPU ms/call: user + system CPU time of all client processes over the calls "
        "they counted, divided by those calls.",
        *cpu_bound_notes(figures),
        f"- Load average when the run ended: {os.getloadavg()[0]:.2f}.",
        "- Servers log to a file at their default log level.",
    ]
    errors = [entry for entry in figures if entry.first_error]
    lines += [f"- {entry.peer.name}: first failed call: {entry.first_error}" for entry in errors]
    return "\n".join(lines)


def cpu_bound_notes(figures: list[Figures]) -> list[str]:
    """What the machine's CPU allows: clients and server share the cores, so calls per second
    cannot exceed cores × 1000 / (client + server CPU ms per call)."""
    by_name = {entry.peer.name: entry for entry in figures}
    ours, peer = by_name.get("portside"), by_name.get("ministack")
    if not (ours and peer and ours.cpu_ms and ours.client_cpu_ms and peer.cpu_ms
            and peer.client_cpu_ms):
        return []
    cores = os.cpu_count() or 1
    ours_ms = median(ours.client_cpu_ms) + median(ours.cpu_ms)
    peer_ms = median(peer.client_cpu_ms) + median(peer.cpu_ms)
    best = peer_ms / median(ours.client_cpu_ms)
    needed = peer_ms / GOAL_RATE_VS_MINISTACK - median(ours.client_cpu_ms)
    verdict = (f"the boto3 clients' own CPU makes the {GOAL_RATE_VS_MINISTACK:g}× goal "
               f"unreachable on {cores} cores, whatever the server does" if needed <= 0 else
               f"the {GOAL_RATE_VS_MINISTACK:g}× goal needs at most {needed:.2f} ms of server "
               "CPU per call")
    return [
        f"- CPU bound: on {cores} cores, clients and server together allow at most "
        f"{cores * 1000 / ours_ms:.0f} calls/s for portside ({median(ours.client_cpu_ms):.2f} "
        f"client + {median(ours.cpu_ms):.2f} server ms per call) and "
        f"{cores * 1000 / peer_ms:.0f} for MiniStack ({median(peer.client_cpu_ms):.2f} + "
        f"{median(peer.cpu_ms):.2f} ms). A server using no CPU at all would reach at most "
        f"{best:.2f}× MiniStack's rate: {verdict}.",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    machine = machine_info()
    figures = prepare(args.only)
    warm_up(figures)
    measure(figures, args)
    if not any(entry.ready for entry in figures):
        print("no server was measured; RESULTS.md left as it was", file=sys.stderr)
        return 1
    body = report(figures, args, machine)
    print(body)
    write_section(SECTION, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
