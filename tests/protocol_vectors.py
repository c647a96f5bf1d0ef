"""botocore's protocol test vectors, fetched at test time and turned into models.

The vectors ship only in botocore's source distribution on PyPI, so they are downloaded once (for
the installed botocore version) into `.cache/` at the repo root and never committed. Input tests
(parsers) and output tests (serializers) share this module so the download happens once.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import botocore
from botocore.model import OperationModel, ServiceModel

CACHE = Path(__file__).resolve().parent.parent / ".cache" / f"botocore-{botocore.__version__}"
PROTOCOLS_DIR = CACHE / "protocols"

# The files for the protocols portside serves (ec2 and smithy-rpc-v2-cbor are not among them).
PROTOCOL_FILES = (
    "json",
    "json_1_0",
    "json_1_0-query-compatible",
    "query",
    "rest-json",
    "rest-xml",
)

Kind = Literal["input", "output"]


@dataclass
class Case:
    """One test case with the service and operation models botocore's own runner would build."""

    file: str  # e.g. "rest-xml" (the vector file's name without .json)
    suite: str  # the suite's description
    suite_id: int
    test_id: int
    case: dict[str, Any]
    service: ServiceModel
    operation: OperationModel

    @property
    def protocol(self) -> str:
        return self.service.metadata["protocol"]

    @property
    def name(self) -> str:
        """A stable pytest id: file, case id (or suite:test numbers) — readable in reports."""
        return f"{self.file}:{self.case.get('id') or f'{self.suite_id}:{self.test_id}'}"


def protocols_dir() -> Path:
    """Download and extract the vectors once; later calls only check the directory exists."""
    if PROTOCOLS_DIR.is_dir():
        return PROTOCOLS_DIR
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        subprocess.run(
            [
                sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:",
                "--no-deps", f"botocore=={botocore.__version__}", "-d", tmp,
            ],
            check=True,
        )
        (sdist,) = Path(tmp).glob("botocore-*.tar.gz")
        prefix = f"botocore-{botocore.__version__}/tests/unit/protocols/"
        with tarfile.open(sdist) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
            tar.extractall(tmp, members=members, filter="data")
        # Rename into place atomically so a concurrent run never sees a half-extracted tree.
        try:
            Path(tmp, prefix).rename(PROTOCOLS_DIR)
        except OSError:
            if not PROTOCOLS_DIR.is_dir():
                raise
    return PROTOCOLS_DIR


def ignore_list() -> dict[str, Any]:
    """botocore's own list of vectors it does not run (suites and case ids per protocol file)."""
    return json.loads((protocols_dir() / "protocol-tests-ignore-list.json").read_text())


def botocore_ignores(kind: Kind, file: str, suite: str, case_id: str | None) -> bool:
    ignored = ignore_list()
    general = ignored.get("general", {}).get(kind, {})
    specific = ignored.get("protocols", {}).get(file, {}).get(kind, {})
    return any(
        suite in lists.get("suites", []) or case_id in lists.get("cases", [])
        for lists in (general, specific)
    )


def load_cases(kind: Kind, files: tuple[str, ...] = PROTOCOL_FILES) -> Iterator[Case]:
    """Every case of the given vector files, each with its own one-operation service model.

    Mirrors botocore's tests/unit/test_protocols.py: the suite is the service description and the
    case's `given` is the single operation's model.
    """
    base = protocols_dir() / kind
    for file in files:
        suites = json.loads((base / f"{file}.json").read_text(encoding="utf-8"))
        for suite_id, suite in enumerate(suites):
            description = {k: v for k, v in suite.items() if k != "cases"}
            for test_id, raw in enumerate(suite["cases"]):
                case = copy.deepcopy(raw)
                given = case.get("given", {})
                name = given.get("name", "OperationName")
                service_description = copy.deepcopy(description)
                service_description["operations"] = {name: given}
                service = ServiceModel(service_description)
                yield Case(
                    file=file,
                    suite=suite["description"],
                    suite_id=suite_id,
                    test_id=test_id,
                    case=case,
                    service=service,
                    operation=OperationModel(given, service, name),
                )

