"""Authorization benchmark: the time `portside.auth.policy.evaluate` takes per request.

The principal is a role session with 10 attached policies of 10 statements each — exact and
wildcard actions, ARN patterns, a policy variable, NotResource, conditions on aws:SourceIp,
aws:RequestedRegion, aws:SecureTransport and a principal tag — asked about a fixed mix of
requests across ten services, half of them allowed. A second case adds what a request to a
bucket meets besides: a bucket policy, a permissions boundary and a session policy.

Each run times every request of the mix on its own (`perf_counter_ns` around one call) after a
warm-up pass, so compiled patterns and per-action statement lists are in place, as they are in
a server that has been answering for a while. Reported: the median over runs of each run's
median, with the range over runs, and the 99th percentile. A last column times the first
request of each action against freshly compiled policies (the per-action statement lists not
yet built): what a server pays once per policy and action.

Usage: ``python benchmarks/authz.py [--runs N] [--requests N]``.  Prints a table and replaces
the "Authorization" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from common import format_spread, machine_info, markdown_table, median, write_section

from portside.auth.policy import (
    CallerType,
    PolicyKind,
    PolicySet,
    PrincipalInfo,
    Request,
    evaluate,
    parse_policy,
)

SECTION = "Authorization"
GOAL_MEDIAN_US = 50.0
ACCOUNT = "000000000000"
SERVICES = ["s3", "sqs", "logs", "ecs", "ecr", "secretsmanager", "ssm", "dynamodb", "kms",
            "events"]
VERBS = ["Get", "Put", "List", "Describe", "Delete", "Create", "Update", "Tag"]
NOUNS = ["Object", "Queue", "LogEvents", "Task", "Image", "SecretValue", "Parameter", "Item",
         "Key", "Rule"]
SESSION = PrincipalInfo(
    CallerType.ASSUMED_ROLE, f"arn:aws:sts::{ACCOUNT}:assumed-role/worker/task-1", ACCOUNT,
    "AROAEXAMPLEWORKER0000:task-1", "task-1", parent_arn=f"arn:aws:iam::{ACCOUNT}:role/worker",
    tags={"team": "ingest"})


def resource_arn(service: str, name: str) -> str:
    if service == "s3":
        return f"arn:aws:s3:::{name}"
    return f"arn:aws:{service}:us-east-1:{ACCOUNT}:{name}"


def statement(rng: random.Random, service: str, index: int) -> dict[str, Any]:
    """One of ten statement shapes, in the proportions policies in the wild have them."""
    verb, noun = rng.choice(VERBS), rng.choice(NOUNS)
    shape = index % 10
    result: dict[str, Any] = {"Sid": f"S{index}", "Effect": "Allow"}
    if shape in (0, 1, 2):  # exact actions on named resources
        result["Action"] = [f"{service}:{v}{noun}" for v in rng.sample(VERBS, 3)]
        result["Resource"] = [resource_arn(service, f"app-{rng.randrange(20)}/*"),
                              resource_arn(service, f"app-{rng.randrange(20)}")]
    elif shape in (3, 4):  # wildcard actions on a wildcard resource
        result["Action"] = f"{service}:{verb}*"
        result["Resource"] = resource_arn(service, f"app-{rng.randrange(5)}*")
    elif shape == 5:  # a policy variable
        result["Action"] = f"{service}:*"
        result["Resource"] = resource_arn(service, "team/${aws:PrincipalTag/team}/*")
    elif shape == 6:  # a region and network condition
        result["Action"] = [f"{service}:{verb}*", f"{service}:List*"]
        result["Resource"] = "*"
        result["Condition"] = {"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]},
                               "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}
    elif shape == 7:  # deny without TLS
        result.update(Effect="Deny", Action=f"{service}:*", Resource="*",
                      Condition={"Bool": {"aws:SecureTransport": "false"}})
    elif shape == 8:  # NotResource
        result["Action"] = f"{service}:Describe*"
        result["NotResource"] = resource_arn(service, "secret-*")
    else:  # a principal tag condition
        result["Action"] = f"{service}:{verb}{noun}"
        result["Resource"] = "*"
        result["Condition"] = {"StringEquals": {"aws:PrincipalTag/team": ["ingest", "ops"]}}
    return result


def identity_documents(rng: random.Random) -> list[dict[str, Any]]:
    documents = []
    for number in range(10):
        services = [SERVICES[number], SERVICES[(number + 3) % len(SERVICES)]]
        statements = [statement(rng, services[i % 2], i) for i in range(10)]
        documents.append({"Version": "2012-10-17", "Statement": statements})
    return documents


def compile_identity(documents: list[dict[str, Any]], fresh: str = "") -> list[Any]:
    """The policies, compiled; a `fresh` Id makes new documents, so none comes from the cache."""
    return [parse_policy({"Id": fresh, **d} if fresh else d, PolicyKind.IDENTITY)
            .with_source(f"p{n}") for n, d in enumerate(documents)]


def requests(rng: random.Random, count: int) -> list[Request]:
    context = {"aws:SourceIp": "10.1.2.3", "aws:RequestedRegion": "us-east-1",
               "aws:SecureTransport": True, "aws:CurrentTime": datetime.now(UTC)}
    made = []
    for _ in range(count):
        service = rng.choice(SERVICES)
        action = f"{service}:{rng.choice(VERBS)}{rng.choice(NOUNS)}"
        name = rng.choice([f"app-{rng.randrange(20)}/obj-{rng.randrange(1000)}",
                           f"team/ingest/f-{rng.randrange(100)}", f"other-{rng.randrange(50)}"])
        made.append(Request(SESSION, action, resource_arn(service, name), None, context))
    return made


def full_set(identity: list[Any]) -> PolicySet:
    bucket = parse_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/worker"},
         "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::app-*/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}, PolicyKind.RESOURCE)
    boundary = parse_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": [f"{s}:*" for s in SERVICES], "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]}, PolicyKind.BOUNDARY)
    session = parse_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "NotAction": "kms:*", "Resource": "*"}]}, PolicyKind.SESSION)
    return PolicySet(identity=identity, resource=bucket, boundary=boundary, session=[session])


def time_run(mix: Sequence[Request], policies: PolicySet) -> list[float]:
    """Microseconds per call, one call at a time."""
    clock = time.perf_counter_ns
    timings = []
    for request in mix:
        start = clock()
        evaluate(request, policies)
        timings.append((clock() - start) / 1000)
    return timings


def measure(mix: Sequence[Request], policies: PolicySet, runs: int) -> dict[str, Any]:
    time_run(mix, policies)  # warm-up: compile and memoise
    medians: list[float] = []
    p99s: list[float] = []
    for _ in range(runs):
        timings = time_run(mix, policies)
        medians.append(median(timings))
        p99s.append(statistics.quantiles(timings, n=100)[98])
    allowed = sum(evaluate(r, policies).allowed for r in mix)
    return {"medians": medians, "p99s": p99s, "allowed": allowed}


def measure_first(mix: Sequence[Request], fresh_policies: Callable[[str], PolicySet],
                  runs: int) -> list[float]:
    """Per run, the median time of each action's first request against new policies."""
    medians = []
    for run in range(runs):
        policies = fresh_policies(f"first-{run}-{time.time_ns()}")
        seen: set[str] = set()
        first = []
        for request, took in zip(mix, time_run(mix, policies), strict=True):
            if request.action not in seen:
                seen.add(request.action)
                first.append(took)
        medians.append(median(first))
    return medians


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed passes over the mix")
    parser.add_argument("--requests", type=int, default=20000, help="requests in the mix")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    machine = machine_info()
    rng = random.Random(20240229)
    documents = identity_documents(rng)
    mix = requests(rng, args.requests)
    cases: list[tuple[str, Callable[[str], PolicySet]]] = [
        ("10 identity policies × 10 statements",
         lambda fresh: PolicySet(identity=compile_identity(documents, fresh))),
        ("… + bucket policy, permissions boundary, session policy",
         lambda fresh: full_set(compile_identity(documents, fresh))),
    ]
    rows = []
    for title, policy_set in cases:
        figures = measure(mix, policy_set(""), args.runs)
        first = measure_first(mix, policy_set, args.runs)
        rows.append([title, format_spread(figures["medians"], 1),
                     format_spread(figures["p99s"], 1), format_spread(first, 1),
                     f"{100 * figures['allowed'] / len(mix):.0f} %"])
        print(f"{title}: median {median(figures['medians']):.1f} µs", flush=True)
    table = markdown_table(
        ["policies", "median µs/request (min–max over runs)", "p99 µs (min–max)",
         "first request of an action: median µs (min–max)", "allowed"], rows)
    goal_met = all(float(row[1].split()[0]) <= GOAL_MEDIAN_US for row in rows)
    body = "\n\n".join([
        machine,
        f"Command: `python benchmarks/authz.py --runs {args.runs} --requests {args.requests}`",
        f"`evaluate()` for a role session, {args.requests} requests across ten services, each "
        f"timed on its own, {args.runs} runs after one warm-up pass; medians of the runs' "
        "medians with their range. The first-request column is each action's first request "
        "against newly compiled policies, before the per-action statement lists exist.",
        table,
        f"Goal: median ≤ {GOAL_MEDIAN_US:.0f} µs per request — "
        + ("met." if goal_met else "**not met**."),
    ])
    print(table)
    write_section(SECTION, body)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
