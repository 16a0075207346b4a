"""An EA written with pyzmq: proves the wire format with a peer not written in this project.

Usage: ea_peer.py TICKS_ENDPOINT TELEMETRY_OUT ROUTER_ENDPOINT CONFIRMATIONS_ENDPOINT TARGET N_TICKS
Prints one JSON line per event it sees, then exits after handling one fire (or 20 s).
"""
import json
import sys
import time

import zmq

ticks_endpoint, telemetry_out, router_endpoint, confirmations_endpoint, target, count = sys.argv[1:7]
count = int(count)
context = zmq.Context()
push = context.socket(zmq.PUSH)
push.connect(ticks_endpoint)
sub = context.socket(zmq.SUB)
sub.setsockopt(zmq.SUBSCRIBE, b"")
sub.connect(telemetry_out)
dealer = context.socket(zmq.DEALER)
dealer.setsockopt(zmq.IDENTITY, target.encode())
dealer.connect(router_endpoint)
confirmations = context.socket(zmq.PUSH)
confirmations.connect(confirmations_endpoint)
time.sleep(0.5)


def say(**event):
    print(json.dumps(event), flush=True)


now = int(time.time() * 1000)
heartbeat = json.dumps({"type": "heartbeat", "target_uuid": target, "account": "5012345", "time_msc": now})
dealer.send_string(heartbeat)
push.send_string(heartbeat)
sent = [json.dumps({"type": "tick", "symbol": "EURUSD", "bid": 1.08512, "ask": 1.08527, "time_msc": now + i, "volume": 0}) for i in range(count)]
for frame in sent:
    push.send_string(frame)
relayed = []
poller = zmq.Poller()
poller.register(sub, zmq.POLLIN)
deadline = time.time() + 10
while len(relayed) < count and time.time() < deadline:
    if poller.poll(200):
        frame = sub.recv_string()
        if json.loads(frame)["type"] == "tick":
            relayed.append(frame)
say(event="relayed", count=len(relayed), identical=relayed == sent)
say(event="ready")

poller = zmq.Poller()
poller.register(dealer, zmq.POLLIN)
deadline = time.time() + 20
while time.time() < deadline:
    dealer.send_string(json.dumps({"type": "heartbeat", "target_uuid": target, "time_msc": int(time.time() * 1000)}))
    if not poller.poll(500):
        continue
    fire = json.loads(dealer.recv_string())
    say(event="fire", fire_id=fire["fire_id"], symbol=fire["symbol"], lot=fire["lot"])
    confirmations.send_string(json.dumps({"type": "confirmation", "fire_id": fire["fire_id"], "status": "filled", "ticket": 4242, "price": 1.0852, "time_msc": int(time.time() * 1000)}))
    confirmations.send_string(json.dumps({"type": "close", "fire_id": fire["fire_id"], "ticket": 4242, "exit_price": 1.0880, "pnl": 28.0, "time_msc": int(time.time() * 1000)}))
    time.sleep(0.3)
    break
for socket in (push, sub, dealer, confirmations):
    socket.close(linger=0)
context.term()
