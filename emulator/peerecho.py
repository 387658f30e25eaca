"""The echo messages every node's transport answers itself (wire names ``hb.*``).

A Ping is answered with a Pong by the receiving transport straight away, like a kernel answering
ICMP echo; the heartbeat actor (:mod:`actors.heartbeat`) sends the pings and reads the pongs. They
live here, beside the wire codec, so the transport needs nothing from the actors.
"""

from __future__ import annotations

from emulator.wire import message


@message("hb.Ping")
class Ping:
    seq: int
    sent: float  # the sender's monotonic clock, echoed back


@message("hb.Pong")
class Pong:
    seq: int
    sent: float
