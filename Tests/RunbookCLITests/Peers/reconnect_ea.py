"""An EA that heartbeats on the router with a fixed routing id, as MT5's does, and prints each
fire it receives as a JSON line.

Usage: reconnect_ea.py ROUTER_ENDPOINT ROUTING_ID
Runs until killed.
"""
import json
import sys
import time

import zmq

router, routing_id = sys.argv[1:3]
context = zmq.Context()
dealer = context.socket(zmq.DEALER)
dealer.setsockopt(zmq.IDENTITY, routing_id.encode())
dealer.setsockopt(zmq.LINGER, 0)
dealer.connect(router)
print(json.dumps({"event": "connected"}), flush=True)
heartbeat = json.dumps({"type": "heartbeat", "target_uuid": routing_id, "account": "5012345"}).encode()
next_beat = 0.0
while True:
    now = time.monotonic()
    if now >= next_beat:
        dealer.send(heartbeat)
        next_beat = now + 0.5
    if dealer.poll(100):
        fire = json.loads(dealer.recv())
        print(json.dumps({"event": "fire", "fire_id": fire.get("fire_id")}), flush=True)
