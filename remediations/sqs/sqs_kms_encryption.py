"""Encrypt an SQS queue with the customer-managed key (`KmsMasterKeyId`).

PHI turns up in "temporary processing queues". SSE-SQS (SQS-owned keys) and the
AWS-managed `alias/aws/sqs` are not keys we control, so a queue without a customer-managed
key gets `REMEDIATION_KMS_KEY` (or the policy's `kms_key`). A queue already on another
customer-managed key is left alone: its owner chose it.

Example policy:

```yaml
- name: sqs-kms
  trigger:
    - source: cloudtrail
      kinds: [CreateQueue]
  remediation: sqs_kms_encryption
  mode: auto
  hipaa: ["164.312(a)(2)(iv)"]
```

Before-state is the queue's `KmsMasterKeyId` (None for none); rollback puts it back, or
for none clears it and turns SQS-managed encryption on (SQS's default for new queues).
"""

from __future__ import annotations

from typing import Any

from chalicelib.aws import translate
from remediations._kms import KeyParams, customer_key, is_customer_key
from remediations.base import ApiCall, Remediation, State, register


@register("sqs_kms_encryption")
class SqsKmsEncryption(Remediation[KeyParams]):
    """Encrypt an SQS queue with the customer-managed KMS key."""

    summary = "Encrypt the queue with the customer-managed KMS key (KmsMasterKeyId)"
    resource_types = ("AWS::SQS::Queue",)
    permissions = ("sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes",
                   "sqs:ListQueueTags", "kms:DescribeKey")
    Params = KeyParams

    _url: str | None = None

    @property
    def sqs(self) -> Any:
        return self.target.clients("sqs")

    @property
    def url(self) -> str:
        """The queue URL (events name queues by URL, our identity is the ARN)."""
        if self._url is None:
            name = (self.target.resource.arn or self.target.resource.id).rsplit(":", 1)[-1]
            with translate(f"looking up queue {name}"):
                self._url = str(self.sqs.get_queue_url(
                    QueueName=name, QueueOwnerAWSAccountId=self.target.account)["QueueUrl"])
        return self._url

    def read(self) -> State:
        with translate(f"reading the encryption of queue {self.url}"):
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=self.url, AttributeNames=["KmsMasterKeyId"]).get("Attributes", {})
        return {"KmsMasterKeyId": attributes.get("KmsMasterKeyId") or None}

    def desired(self, before: State) -> State:
        if is_customer_key(before["KmsMasterKeyId"]):
            return before
        return {"KmsMasterKeyId": customer_key(self.target, self.params.kms_key, "the queue")}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        wanted = to["KmsMasterKeyId"]
        attributes = ({"KmsMasterKeyId": wanted} if wanted
                      else {"KmsMasterKeyId": "", "SqsManagedSseEnabled": "true"})
        return [ApiCall(service="sqs", operation="SetQueueAttributes",
                        params={"QueueUrl": self.url, "Attributes": attributes})]

    def tags(self) -> dict[str, str]:
        with translate(f"reading tags of queue {self.url}"):
            return dict(self.sqs.list_queue_tags(QueueUrl=self.url).get("Tags", {}))
