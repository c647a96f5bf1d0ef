"""A catalogue of AWS managed policies: the ones portside's own scenarios attach.

AWS managed policies live in the `aws` namespace (`arn:aws:iam::aws:policy/...`), exist in
every account, can be attached but not changed, deleted or tagged. portside carries a small
set with their documented contents (AWS managed policy reference guide); each is one version,
`v1`. Ids are derived from the name, so they are stable across restarts and installations.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from portside.services.iam import ids

AWS_ACCOUNT = "aws"
_CREATED = datetime(2015, 2, 6, 18, 39, 46, tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class AwsManagedPolicy:
    name: str
    path: str
    description: str
    document: str

    @property
    def arn(self) -> str:
        return ids.iam_arn(AWS_ACCOUNT, "policy", self.path, self.name)

    @property
    def policy_id(self) -> str:
        digest = hashlib.sha256(self.name.encode()).digest()
        return ids.POLICY_PREFIX + base64.b32encode(digest).decode()[:17]

    @property
    def create_date(self) -> float:
        return _CREATED


def _allow(*actions: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": list(actions) if len(actions) > 1 else actions[0],
         "Resource": "*"}]}, indent=4)


CATALOGUE: tuple[AwsManagedPolicy, ...] = (
    AwsManagedPolicy("AdministratorAccess", "/",
                     "Provides full access to AWS services and resources.", _allow("*")),
    AwsManagedPolicy(
        "AmazonECSTaskExecutionRolePolicy", "/service-role/",
        "Provides access to other AWS service resources that are required to run Amazon ECS "
        "tasks",
        _allow("ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability",
               "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage", "logs:CreateLogStream",
               "logs:PutLogEvents")),
    AwsManagedPolicy(
        "AmazonEC2ContainerRegistryReadOnly", "/",
        "Provides read-only access to Amazon EC2 Container Registry repositories.",
        _allow("ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability",
               "ecr:GetDownloadUrlForLayer", "ecr:GetRepositoryPolicy",
               "ecr:DescribeRepositories", "ecr:ListImages", "ecr:DescribeImages",
               "ecr:BatchGetImage", "ecr:GetLifecyclePolicy", "ecr:GetLifecyclePolicyPreview",
               "ecr:ListTagsForResource", "ecr:DescribeImageScanFindings")),
    AwsManagedPolicy("AmazonS3FullAccess", "/",
                     "Provides full access to all buckets via the AWS Management Console.",
                     _allow("s3:*", "s3-object-lambda:*")),
    AwsManagedPolicy(
        "AmazonS3ReadOnlyAccess", "/",
        "Provides read only access to all buckets via the AWS Management Console.",
        _allow("s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*",
               "s3-object-lambda:List*")),
    AwsManagedPolicy("AmazonSQSFullAccess", "/",
                     "Provides full access to Amazon SQS via the AWS Management Console.",
                     _allow("sqs:*")),
)

BY_ARN: dict[str, AwsManagedPolicy] = {p.arn: p for p in CATALOGUE}
