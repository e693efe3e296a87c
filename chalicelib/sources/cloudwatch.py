"""CloudWatch alarm state changes ("CloudWatch Alarm State Change") as `Finding`s.

An alarm entering `ALARM` is a finding about the alarm (its name is the finding's kind,
so policies name alarms by prefix: `kinds: ["hipaa-*"]`). `OK` after `ALARM` is a
*cleared* finding: recorded on the open incident, if there is one. Anything else
(`INSUFFICIENT_DATA`, `OK` after `OK`) is `Ignored`.
"""

from __future__ import annotations

from typing import Any

from chalicelib.finding import (
    ALARM,
    Envelope,
    Finding,
    Ignored,
    Source,
    make_resource,
    require,
    search,
    text,
)


def normalize(env: Envelope, event: dict[str, Any]) -> Finding | Ignored:
    name = require(env, "detail.alarmName", event)
    state = require(env, "detail.state.value", event)
    previous = text(search("detail.previousState.value", event))
    if state != "ALARM" and not (state == "OK" and previous == "ALARM"):
        return Ignored(event_id=env.id, reason=f"alarm {name} went {previous} -> {state}")
    named = search("resources[0]", event)
    alarm = make_resource(ALARM, named if text(named) else name, env.account, env.region)
    return Finding(source=Source.CLOUDWATCH, event_id=env.id, time=env.time,
                   account=env.account, region=env.region, kind=name,
                   resources=(alarm,) if alarm else (), cleared=state == "OK", raw=event)
