"""Write the Jolokia 2.5 variant fixture from the real Jolokia 1.7 recording.

The devstack has Jolokia 1.7 only, so the 2.x reply the unit tests also need is the recording
`tests/fixtures/recorded/jolokia/bulk_worker_with_debezium.json` reshaped the way section 3 of
docs/protocols.md ("Jolokia") says a 2.5 agent answers the same bulk request:

- no `request` echo in the elements (2.x honours includeRequest=false);
- ObjectName keys in registration order (`type` first) rather than canonical order, since
  2.x ignores canonicalNaming in pattern-read results;
- the 2.5 `version` reply (agent 2.5.0, protocol 8.2, `id`, `details`);
- 2.5 error objects (`.error`, `error_type_jmx`); a pattern read whose MBeans lack the listed
  attributes answers AttributeNotFound 404 (the sink-task pattern here);
- null where 2.x serialises NaN or +Infinity (the rebalance times);
- one more task, of a connector named `db:1`, whose name needs quoting in an ObjectName and
  whose averages are all NaN (null).

Run after scripts/record_jolokia.py: .venv/bin/python scripts/reshape_jolokia25.py
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DIR = REPO / "tests" / "fixtures" / "recorded" / "jolokia"
SOURCE = DIR / "bulk_worker_with_debezium.json"
TARGET = DIR / "bulk_jolokia25_variant.json"

VERSION_25 = {
    "agent": "2.5.0",
    "protocol": "8.2",
    "id": "jolokia-8778",
    "details": {
        "agent_version": "2.5.0",
        "agent_id": "jolokia-8778",
        "secured": False,
        "url": "http://10.0.1.13:8778/jolokia",
    },
    "config": {"maxDepth": "15", "canonicalNaming": "false", "agentContext": "/jolokia"},
    "info": {"proxy": {}, "jmx": {}},
}
PROPERTY = re.compile(r'([^=,]+)=("(?:[^"\\]|\\.)*"|[^,]*)')
NAN_IN_2X = {
    "kafka.connect:type=connect-worker-rebalance-metrics": (
        "time-since-last-rebalance-ms",
        "rebalance-avg-time-ms",
        "rebalance-max-time-ms",
    )
}
QUOTED_TASK = {
    "running-ratio": 1.0,
    "pause-ratio": 0.0,
    "offset-commit-avg-time-ms": None,
    "offset-commit-max-time-ms": None,
    "offset-commit-success-percentage": None,
    "offset-commit-failure-percentage": None,
    "batch-size-avg": None,
    "batch-size-max": None,
}


def registration_order(name: str) -> str:
    """`d:a=1,type=t` (canonical) -> `d:type=t,a=1`; quoted values are kept as they are."""
    domain, _, props = name.partition(":")
    pairs = PROPERTY.findall(props)
    ordered = [p for p in pairs if p[0] == "type"] + [p for p in pairs if p[0] != "type"]
    return f"{domain}:" + ",".join(f"{k}={v}" for k, v in ordered)


def error_25(request: dict) -> dict:
    pattern = request["mbean"]
    if "type=sink-task-metrics" in pattern:
        kind, text = "AttributeNotFoundException", f"No attribute found for any MBean matching {pattern} pattern"
    else:
        kind, text = "InstanceNotFoundException", f"No MBean with pattern {pattern} found for READ request"
    return {
        ".error": True,
        "error_type": f"javax.management.{kind}",
        "error_type_jmx": f"javax.management.{kind}",
        "error": text,
        "status": 404,
    }


def reshape(recording: dict) -> dict:
    replies = []
    for request, element in zip(recording["request"], recording["reply"], strict=False):
        if request["type"] == "version":
            replies.append({"value": copy.deepcopy(VERSION_25), "status": 200, "timestamp": 1717171717})
            continue
        if element.get("status") != 200:
            replies.append(error_25(request))
            continue
        value = element["value"]
        if "*" in request["mbean"]:
            value = {registration_order(name): attrs for name, attrs in value.items()}
        else:
            value = dict(value)
            for attribute in NAN_IN_2X.get(request["mbean"], ()):
                value[attribute] = None
        if request["mbean"] == "kafka.connect:type=connector-task-metrics,*":
            value['kafka.connect:type=connector-task-metrics,connector="db:1",task=0'] = dict(QUOTED_TASK)
        replies.append({"value": value, "timestamp": element.get("timestamp"), "status": 200})
    header = (
        "NOT recorded: written by scripts/reshape_jolokia25.py from bulk_worker_with_debezium.json "
        "(docs/protocols.md, Jolokia 2.5.0, protocol 8.2): registration-order keys "
        "(canonicalNaming=false), no request echo, 2.5 error objects, AttributeNotFound 404 for a "
        "pattern without the attributes, null for NaN/+Infinity, and an extra task of connector "
        '"db:1" (quoted ObjectName value).'
    )
    return {"_recorded": header, "request": recording["request"], "reply": replies}


def main() -> None:
    variant = reshape(json.loads(SOURCE.read_text()))
    TARGET.write_text(json.dumps(variant, indent=1, sort_keys=False) + "\n")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
