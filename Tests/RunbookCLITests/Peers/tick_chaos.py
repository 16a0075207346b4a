"""Sends numbered ticks and records which of them the engine relayed, across engine restarts.

Usage: tick_chaos.py TICKS_ENDPOINT TELEMETRY_OUT RATE STOP_FILE
Sends ticks at RATE per second (time_msc = 1763700000000 + n) until STOP_FILE exists, keeps
listening one more second, then prints one JSON line: {"sent": N, "relayed": [n, ...]}.
"""
import json
import os
import sys
import time

import zmq

ticks_endpoint, telemetry_out, rate, stop_file = sys.argv[1:5]
rate = float(rate)
context = zmq.Context()
push = context.socket(zmq.PUSH)
push.setsockopt(zmq.SNDHWM, 1_000_000)
push.connect(ticks_endpoint)
sub = context.socket(zmq.SUB)
sub.setsockopt(zmq.SUBSCRIBE, b"")
sub.setsockopt(zmq.RCVHWM, 1_000_000)
sub.connect(telemetry_out)
base = 1_763_700_000_000
relayed = set()


def drain():
    while True:
        try:
            frame = sub.recv(zmq.NOBLOCK)
        except zmq.Again:
            return
        relayed.add(json.loads(frame)["time_msc"] - base)


sent = 0
start = time.monotonic()
while not os.path.exists(stop_file):
    due = int((time.monotonic() - start) * rate)
    while sent < due:
        frame = '{"type":"tick","symbol":"EURUSD","bid":1.%05d,"ask":1.%05d,"time_msc":%d,"volume":0}' % (10000 + sent % 1000, 10002 + sent % 1000, base + sent)
        push.send_string(frame)
        sent += 1
    drain()
    time.sleep(0.002)
end = time.monotonic() + 1
while time.monotonic() < end:
    drain()
    time.sleep(0.01)
print(json.dumps({"sent": sent, "relayed": sorted(relayed)}), flush=True)
