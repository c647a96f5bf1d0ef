"""The action tables: which action and resource ARN a call is checked against."""

from __future__ import annotations

from portside.auth.actions import Action, Check, checks_for
from portside.auth.identity import Principal
from portside.context import RequestContext

CTX = RequestContext("111122223333", "eu-west-1", Principal.root("111122223333"), "k", "r", "ip")


def test_default_is_the_operation_named_action_on_any_resource():
    assert checks_for("ecs", {}, CTX, "ListClusters", {}) == [Check("ecs:ListClusters", "*")]


def test_templates_fill_members_region_and_account():
    table = {"GetObject": Action("s3:GetObject", "arn:{partition}:s3:::{Bucket}/{Key}"),
             "DescribeClusters": Action("ecs:DescribeClusters",
                                        "arn:aws:ecs:{region}:{account}:cluster/{cluster}")}
    assert checks_for("s3", table, CTX, "GetObject", {"Bucket": "b", "Key": "a/k"}) == [
        Check("s3:GetObject", "arn:aws:s3:::b/a/k")]
    assert checks_for("ecs", table, CTX, "DescribeClusters", {}) == [
        Check("ecs:DescribeClusters", "arn:aws:ecs:eu-west-1:111122223333:cluster/*")]


def test_several_actions_and_computed_resources():
    table = {"CopyObject": (Action("s3:GetObject", lambda ctx, p: "arn:aws:s3:::" + p["Src"]),
                            Action("s3:PutObject", "arn:aws:s3:::{Bucket}/{Key}"))}
    got = checks_for("s3", table, CTX, "CopyObject", {"Src": "a/b", "Bucket": "c", "Key": "d"})
    assert [c.resource for c in got] == ["arn:aws:s3:::a/b", "arn:aws:s3:::c/d"]


def test_an_empty_entry_means_no_check():
    assert checks_for("sts", {"GetCallerIdentity": ()}, CTX, "GetCallerIdentity", {}) == []
