"""Start an AWS Config configuration recorder that was stopped.

Without the recorder there are no Config evaluations, so the configuration history an
auditor asks for has a gap, and every Config-triggered policy goes blind.

Example policy:

```yaml
- name: config-recorder-on
  trigger:
    - source: cloudtrail
      kinds: [StopConfigurationRecorder]
  remediation: config_recorder_restart
  mode: auto
  hipaa: ["164.312(b)"]
```

Before-state is whether the recorder was recording; rollback stops it again. Recorders
carry no tags: exempt an account with the policy's `exempt_accounts`.
"""

from __future__ import annotations

from typing import Any

from chalicelib.aws import translate
from chalicelib.errors import ResourceGone
from remediations.base import ApiCall, Remediation, State, register


@register("config_recorder_restart")
class ConfigRecorderRestart(Remediation):
    """Start the stopped AWS Config configuration recorder."""

    summary = "Start the AWS Config configuration recorder again"
    resource_types = ("AWS::Config::ConfigurationRecorder",)
    permissions = ("config:DescribeConfigurationRecorderStatus",
                   "config:StartConfigurationRecorder", "config:StopConfigurationRecorder")

    @property
    def recorder(self) -> str:
        ref = self.target.resource.arn or self.target.resource.id
        return ref.split(":configuration-recorder/", 1)[-1].split("/", 1)[0]

    @property
    def config(self) -> Any:
        return self.target.clients("config")

    def read(self) -> State:
        with translate(f"reading the status of recorder {self.recorder}"):
            found = self.config.describe_configuration_recorder_status(
                ConfigurationRecorderNames=[self.recorder])["ConfigurationRecordersStatus"]
        if not found:
            raise ResourceGone(f"no configuration recorder {self.recorder}")
        return {"recording": bool(found[0]["recording"])}

    def desired(self, before: State) -> State:
        return {"recording": True}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        op = "StartConfigurationRecorder" if to["recording"] else "StopConfigurationRecorder"
        return [ApiCall(service="config", operation=op,
                        params={"ConfigurationRecorderName": self.recorder})]
