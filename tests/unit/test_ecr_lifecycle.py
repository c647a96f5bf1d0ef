"""Lifecycle rules as the ECR documentation states them, and the preview agreeing with expiry."""

import asyncio
import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside.services.ecr.lifecycle import (
    DAY,
    Image,
    InvalidLifecyclePolicy,
    expiring,
    parse_policy,
)

NOW = 1_000 * DAY


def rule(priority, status, count_type="imageCountMoreThan", number=1, **lists):
    selection = {"tagStatus": status, "countType": count_type, "countNumber": number, **lists}
    if count_type == "sinceImagePushed":
        selection["countUnit"] = "days"
    return {"rulePriority": priority, "selection": selection, "action": {"type": "expire"}}


def policy(*rules) -> str:
    return json.dumps({"rules": list(rules)})


def image(name, *tags, age_days=0.0):
    return Image(name, tuple(tags), NOW - age_days * DAY)


def test_image_count_keeps_the_newest():
    images = [image("old", "prod1", age_days=3), image("mid", "prod2", age_days=2),
              image("new", "prod3", age_days=1)]
    rules = parse_policy(policy(rule(1, "tagged", number=2, tagPrefixList=["prod"])))
    assert expiring(rules, images, NOW) == {"old": 1}


def test_since_image_pushed_expires_older_than_n_days():
    images = [image("a", age_days=15), image("b", age_days=13)]
    rules = parse_policy(policy(rule(1, "untagged", "sinceImagePushed", 14)))
    assert expiring(rules, images, NOW) == {"a": 1}


def test_an_image_selected_by_a_higher_priority_rule_is_never_expired_by_a_lower_one():
    images = [image("p1", "prod", age_days=5), image("p2", "prod", age_days=4),
              image("x", "dev", age_days=3)]
    rules = parse_policy(policy(rule(1, "tagged", number=5, tagPrefixList=["prod"]),
                                rule(2, "any", number=1)))
    # prod images are rule 1's (and kept, fewer than 5); rule 2 sees only "x" and keeps it
    assert expiring(rules, images, NOW) == {}


def test_every_pattern_must_match_one_of_the_tags():
    images = [image("both", "prod-1", "web-1", age_days=2), image("one", "prod-2", age_days=1)]
    rules = parse_policy(policy(rule(1, "tagged", "sinceImagePushed", 1,
                                     tagPatternList=["prod*", "web*"])))
    assert expiring(rules, images, NOW) == {"both": 1}


@pytest.mark.parametrize("bad", [
    policy(rule(1, "tagged")),  # tagged needs a list
    policy(rule(1, "any"), rule(2, "untagged")),  # any must come last
    policy(rule(1, "untagged"), rule(1, "any")),  # unique priorities
    policy(rule(1, "tagged", tagPatternList=["*a*b*c*d*e"])),  # more than 4 wildcards
    policy(rule(1, "untagged", number=0)),
    "not json",
    policy(),
])
def test_invalid_policies_are_refused(bad):
    with pytest.raises(InvalidLifecyclePolicy):
        parse_policy(bad)


@given(st.lists(st.tuples(st.sampled_from(["", "prod", "dev"]), st.integers(0, 30)),
                max_size=20), st.integers(1, 5), st.integers(1, 20))
def test_an_image_is_expired_by_at_most_one_rule_and_newest_are_kept(specs, keep, days):
    images = [image(f"d{i}", *((tag,) if tag else ()), age_days=age)
              for i, (tag, age) in enumerate(specs)]
    rules = parse_policy(policy(rule(1, "tagged", number=keep, tagPrefixList=["prod"]),
                                rule(2, "untagged", "sinceImagePushed", days),
                                rule(3, "any", number=keep)))
    doomed = expiring(rules, images, NOW)
    prod = [i for i in images if i.tags == ("prod",)]
    assert sum(1 for i in prod if i.digest in doomed) == max(0, len(prod) - keep)
    for i in images:
        if not i.tags:
            assert (i.digest in doomed) == (i.pushed_at < NOW - days * DAY)


def test_preview_agrees_with_expiry(tmp_path):
    from test_ecr_uploads_in_process import body, ctx, digest, setup, upload_row

    runtime, ecr, repo = setup(tmp_path)

    async def push(tag):
        upload_id = ecr.start_upload(repo)
        config = json.dumps({"tag": tag}).encode()
        await ecr.append_part(repo, upload_row(runtime, upload_id), body(config))
        await ecr.finish_upload(repo, upload_id, digest(config))
        manifest = json.dumps({"schemaVersion": 2,
                               "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "x", "digest": digest(config),
                                          "size": len(config)}, "layers": []})
        ecr.put_image(ctx(), {"repositoryName": "app", "imageManifest": manifest,
                              "imageTag": tag})

    for tag in ("v1", "v2", "v3"):
        asyncio.run(push(tag))
        time.sleep(0.01)
    text = policy(rule(1, "tagged", number=1, tagPrefixList=["v"]))
    ecr.put_lifecycle_policy(ctx(), {"repositoryName": "app", "lifecyclePolicyText": text})
    ecr.start_lifecycle_policy_preview(ctx(), {"repositoryName": "app"})
    preview = ecr.get_lifecycle_policy_preview(ctx(), {"repositoryName": "app"})
    previewed = {r["imageDigest"] for r in preview["previewResults"]}
    assert preview["summary"]["expiringImageTotalCount"] == 2
    assert ecr.apply_lifecycle_policies(time.time()) == 2
    left = ecr.list_images(ctx(), {"repositoryName": "app"})["imageIds"]
    assert [i["imageTag"] for i in left] == ["v3"]
    assert previewed.isdisjoint({i["imageDigest"] for i in left})
    runtime.close()
