"""An EA written with pyzmq that only listens: it heartbeats on the router and prints one JSON
line per fire it receives, until killed.

Usage: listening_ea.py ROUTER_ENDPOINT TARGET
"""
import json
import sys
import time

import zmq

router_endpoint, target = sys.argv[1:3]
context = zmq.Context()
dealer = context.socket(zmq.DEALER)
dealer.setsockopt(zmq.IDENTITY, target.encode())
dealer.connect(router_endpoint)
poller = zmq.Poller()
poller.register(dealer, zmq.POLLIN)
print(json.dumps({"event": "ready"}), flush=True)
while True:
    dealer.send_string(json.dumps({"type": "heartbeat", "target_uuid": target, "time_msc": int(time.time() * 1000)}))
    if poller.poll(300):
        fire = json.loads(dealer.recv_string())
        print(json.dumps({"event": "fire", "fire_id": fire.get("fire_id")}), flush=True)
