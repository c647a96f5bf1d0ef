"""What portside acknowledged survives kill -9 and a restart."""

from __future__ import annotations

import time

from server import PortsideServer


def test_calls_recorded_before_kill_9_are_there_after_restart(tmp_path):
    server = PortsideServer(tmp_path / "data").start()
    try:
        sts = server.client("sts", region="ap-south-1")
        for _ in range(20):
            sts.get_caller_identity()
        time.sleep(0.2)  # records are written at the end of the event-loop turn that made them
        server.kill()
        server.start()
        ct = server.client("cloudtrail", region="ap-south-1")
        events = ct.lookup_events(LookupAttributes=[
            {"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}])["Events"]
        assert len(events) == 20
    finally:
        server.stop()
