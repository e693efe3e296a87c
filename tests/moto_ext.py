"""Small moto extensions for calls moto does not implement, so remediations that use them
are tested end to end against the same emulator as the rest (in-process and server).

- CloudWatch Logs `AssociateKmsKey` / `DisassociateKmsKey`: set / clear the group's key,
  which `DescribeLogGroups` then reports as `kmsKeyId` (what real CloudWatch Logs does;
  it also checks that the key policy allows the logs service principal, which moto
  cannot).
- Lambda `UpdateFunctionConfiguration` with `KMSKeyArn`: moto ignores it; real Lambda sets
  the key that encrypts the environment variables ("" removes it).
- EC2 `CreateFlowLogs` to an S3 destination with a prefix (`arn:aws:s3:::bucket/prefix/`):
  moto looks for a bucket named `bucket/prefix/` and fails; real EC2 checks the bucket and
  keeps the prefix.
- Security Hub `BatchUpdateFindings`: sets the workflow status and the note of findings
  `BatchImportFindings` stored (what `GetFindings` then returns), and reports unknown
  findings as `UnprocessedFindings` (`FindingNotFound`), as real Security Hub does. Real
  Security Hub also emits a "Security Hub Findings - Imported" event for the update,
  which moto does not: the tests feed that echo to the pipeline themselves.
"""

from __future__ import annotations

from typing import Any


def install() -> None:
    from moto.logs.exceptions import ResourceNotFoundException
    from moto.logs.responses import LogsResponse

    def _group(self: Any) -> Any:
        name = self._get_param("logGroupName")
        if name not in self.logs_backend.groups:
            raise ResourceNotFoundException()
        return self.logs_backend.groups[name]

    def associate_kms_key(self: Any) -> str:
        _group(self).kms_key_id = self._get_param("kmsKeyId")
        return ""

    def disassociate_kms_key(self: Any) -> str:
        _group(self).kms_key_id = None
        return ""

    from moto.awslambda.models import LambdaFunction
    from moto.ec2.models.flow_logs import FlowLogsBackend

    if not getattr(FlowLogsBackend.create_flow_logs, "_takes_prefix", False):
        create = FlowLogsBackend.create_flow_logs

        def create_flow_logs(self: Any, **kwargs: Any) -> Any:
            destination = kwargs.get("log_destination")
            if (kwargs.get("log_destination_type") == "s3" and destination
                    and "/" in destination.split(":", 5)[5]):
                kwargs["log_destination"] = destination.split("/", 1)[0]  # the bucket
            made, failed = create(self, **kwargs)
            for flow_log in made:
                flow_log.log_destination = destination
            return made, failed

        create_flow_logs._takes_prefix = True  # type: ignore[attr-defined]
        FlowLogsBackend.create_flow_logs = create_flow_logs  # type: ignore[method-assign]

    if not getattr(LambdaFunction.update_configuration, "_takes_kms_key", False):
        original = LambdaFunction.update_configuration

        def update_configuration(self: Any, updates: dict[str, Any]) -> dict[str, Any]:
            if "KMSKeyArn" in updates:
                self.kms_key_arn = updates["KMSKeyArn"] or None
            return dict(original(self, updates))

        update_configuration._takes_kms_key = True  # type: ignore[attr-defined]
        LambdaFunction.update_configuration = update_configuration  # type: ignore[method-assign]

    _install_securityhub()

    if not hasattr(LogsResponse, "associate_kms_key"):
        LogsResponse.associate_kms_key = associate_kms_key  # type: ignore[attr-defined]
        LogsResponse.disassociate_kms_key = disassociate_kms_key  # type: ignore[attr-defined]


def _install_securityhub() -> None:
    import datetime as dt
    import json

    from moto.securityhub import urls
    from moto.securityhub.responses import SecurityHubResponse

    if hasattr(SecurityHubResponse, "batch_update_findings"):
        return

    def batch_update_findings(self: Any) -> str:
        body = json.loads(self.body or "{}")
        stored = {f.id: f for f in self.securityhub_backend.findings}
        processed, unprocessed = [], []
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace(
            "+00:00", "Z")
        for ident in body.get("FindingIdentifiers", []):
            finding = stored.get(ident.get("Id"))
            if finding is None or finding.data.get("ProductArn") != ident.get("ProductArn"):
                unprocessed.append({"FindingIdentifier": ident, "ErrorCode": "FindingNotFound",
                                    "ErrorMessage": "Finding Not Found"})
                continue
            if "Workflow" in body:
                finding.data["Workflow"] = dict(body["Workflow"])
            if "Note" in body:
                finding.data["Note"] = {**body["Note"], "UpdatedAt": now}
            processed.append(ident)
        return json.dumps({"ProcessedFindings": processed,
                           "UnprocessedFindings": unprocessed})

    SecurityHubResponse.batch_update_findings = batch_update_findings  # type: ignore[attr-defined]
    urls.url_paths["{0}/findings/batchupdate$"] = SecurityHubResponse.dispatch
