"""Staging labels: which version of a secret is AWSCURRENT, AWSPREVIOUS, AWSPENDING or carries a
label of your own, and which old versions Secrets Manager may remove.

Pure functions over `{version_id: [labels]}`; the service stores the result.
https://docs.aws.amazon.com/secretsmanager/latest/userguide/whats-in-a-secret.html#term_version
https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_UpdateSecretVersionStage.html
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
PENDING = "AWSPENDING"

MAX_LABELS = 20  # "Labels attached across all versions of a secret" (quotas)
MAX_VERSIONS = 100  # beyond it, unlabeled versions older than a day are removed
KEEP_SECONDS = 24 * 3600

Stages = dict[str, list[str]]


def attach(stages: Mapping[str, list[str]], version_id: str, labels: Iterable[str]) -> Stages:
    """Attach `labels` to `version_id`, moving each from the version that had it. Moving
    AWSCURRENT away from a version leaves AWSPREVIOUS on that version, unless the same call
    places AWSPREVIOUS itself."""
    labels = list(labels)
    result = {v: list(ls) for v, ls in stages.items()}
    result.setdefault(version_id, [])
    for label in labels:
        holder = holder_of(result, label)
        if holder == version_id:
            continue
        if holder is not None:
            result[holder].remove(label)
        result[version_id].append(label)
        if label == CURRENT and holder is not None and PREVIOUS not in labels:
            previous = holder_of(result, PREVIOUS)
            if previous is not None:
                result[previous].remove(PREVIOUS)
            result[holder].append(PREVIOUS)
    return result


def detach(stages: Mapping[str, list[str]], version_id: str, label: str) -> Stages:
    return {v: [x for x in ls if not (v == version_id and x == label)]
            for v, ls in stages.items()}


def holder_of(stages: Mapping[str, list[str]], label: str) -> str | None:
    return next((v for v, ls in stages.items() if label in ls), None)


def label_count(stages: Mapping[str, list[str]]) -> int:
    return sum(len(ls) for ls in stages.values())


@dataclass(frozen=True)
class Move:
    """Why UpdateSecretVersionStage cannot do what it was asked, if it cannot."""

    stages: Stages | None
    refusal: str | None = None


def move_stage(stages: Mapping[str, list[str]], label: str, move_to: str | None,
               remove_from: str | None) -> Move:
    """UpdateSecretVersionStage: attach `label` to `move_to` and/or take it off `remove_from`.
    A label attached elsewhere moves only when the call names where it is (RemoveFromVersionId);
    AWSCURRENT can move but not be removed outright."""
    holder = holder_of(stages, label)
    if remove_from is not None and holder != remove_from:
        return Move(None, f"The staging label {label} is not attached to version "
                          f"{remove_from}.")  # wording: portside
    if move_to is None:
        if remove_from is None:
            return Move(None, "You must specify MoveToVersionId, RemoveFromVersionId, "
                              "or both.")  # wording: portside
        if label == CURRENT:
            return Move(None, f"You can only move staging label {CURRENT} to a different "
                              "secret version. It can't be completely removed.")
        return Move(detach(stages, remove_from, label))
    if holder is not None and holder != move_to and remove_from is None:
        return Move(None, f"The staging label {label} is currently attached to version "
                          f"{holder}. You must specify RemoveFromVersionId to move it.")
    return Move(attach(stages, move_to, [label]))


def removable(stages: Mapping[str, list[str]], created: Mapping[str, float],
              now: float) -> list[str]:
    """The versions to remove once a secret has more than MAX_VERSIONS: oldest first, only
    those without labels (deprecated) and created more than a day ago."""
    excess = len(stages) - MAX_VERSIONS
    if excess <= 0:
        return []
    deprecated = sorted((created[v], v) for v, ls in stages.items()
                        if not ls and now - created[v] > KEEP_SECONDS)
    return [v for _, v in deprecated[:excess]]
