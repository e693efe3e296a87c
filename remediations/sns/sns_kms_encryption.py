"""Encrypt an SNS topic with the customer-managed key (`KmsMasterKeyId`).

A topic without a key, or on the AWS-managed `alias/aws/sns`, gets `REMEDIATION_KMS_KEY`
(or the policy's `kms_key`); a topic on another customer-managed key is left alone.

Example policy:

```yaml
- name: sns-kms
  trigger:
    - source: cloudtrail
      kinds: [CreateTopic]
  remediation: sns_kms_encryption
  mode: auto
  hipaa: ["164.312(a)(2)(iv)"]
```

Before-state is the topic's `KmsMasterKeyId` (None for none); rollback puts it back or
clears it.
"""

from __future__ import annotations

from typing import Any

from chalicelib.aws import translate
from remediations._kms import KeyParams, customer_key, is_customer_key
from remediations.base import ApiCall, Remediation, State, register


@register("sns_kms_encryption")
class SnsKmsEncryption(Remediation[KeyParams]):
    """Encrypt an SNS topic with the customer-managed KMS key."""

    summary = "Encrypt the topic with the customer-managed KMS key (KmsMasterKeyId)"
    resource_types = ("AWS::SNS::Topic",)
    permissions = ("sns:GetTopicAttributes", "sns:SetTopicAttributes",
                   "sns:ListTagsForResource", "kms:DescribeKey")
    Params = KeyParams

    @property
    def sns(self) -> Any:
        return self.target.clients("sns")

    @property
    def topic(self) -> str:
        return self.target.resource.arn or self.target.resource.id

    def read(self) -> State:
        with translate(f"reading the encryption of topic {self.topic}"):
            attributes = self.sns.get_topic_attributes(TopicArn=self.topic)["Attributes"]
        return {"KmsMasterKeyId": attributes.get("KmsMasterKeyId") or None}

    def desired(self, before: State) -> State:
        if is_customer_key(before["KmsMasterKeyId"]):
            return before
        return {"KmsMasterKeyId": customer_key(self.target, self.params.kms_key, "the topic")}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        return [ApiCall(service="sns", operation="SetTopicAttributes", params={
            "TopicArn": self.topic, "AttributeName": "KmsMasterKeyId",
            "AttributeValue": to["KmsMasterKeyId"] or ""})]

    def tags(self) -> dict[str, str]:
        with translate(f"reading tags of topic {self.topic}"):
            tags = self.sns.list_tags_for_resource(ResourceArn=self.topic).get("Tags", [])
        return {t["Key"]: t["Value"] for t in tags}
