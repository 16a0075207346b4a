"""A signal engine, a web app and an EA written with pyzmq, moving traffic through all the
engine's order flows for a while.

Usage: flow_traffic.py SIGNALS_ENDPOINT QUEUE_ENDPOINT ROUTER_ENDPOINT CONFIRMATIONS_ENDPOINT TARGET PREFIX SECONDS

Binds PUB on SIGNALS_ENDPOINT (the engine's relay connects to it). Twice a second it publishes a
signal PREFIX-sN and queues a fire PREFIX-fN for TARGET; as TARGET (a DEALER) it heartbeats,
and answers each fire it receives with a confirmation and a close. Prints one JSON line per fire
received (with the milliseconds from queued to received), then a summary line.
"""
import json
import sys
import time

import zmq

signals_endpoint, queue_endpoint, router_endpoint, confirmations_endpoint, target, prefix, seconds = sys.argv[1:8]
seconds = float(seconds)
context = zmq.Context()
pub = context.socket(zmq.PUB)
pub.bind(signals_endpoint)
queue = context.socket(zmq.PUSH)
queue.connect(queue_endpoint)
dealer = context.socket(zmq.DEALER)
dealer.setsockopt(zmq.IDENTITY, target.encode())
dealer.connect(router_endpoint)
confirmations = context.socket(zmq.PUSH)
confirmations.connect(confirmations_endpoint)


def say(**event):
    print(json.dumps(event), flush=True)


def now_ms():
    return int(time.time() * 1000)


# The relay's subscription and the router's knowledge of the EA take a moment.
dealer.send_string(json.dumps({"type": "heartbeat", "target_uuid": target, "account": "5012345", "time_msc": now_ms()}))
time.sleep(1.5)
say(event="ready")

queued = {}
received = []
signals = 0
poller = zmq.Poller()
poller.register(dealer, zmq.POLLIN)
start = time.time()
next_round = start
n = 0
while time.time() < start + seconds or (len(received) < len(queued) and time.time() < start + seconds + 10):
    if time.time() >= next_round and time.time() < start + seconds:
        n += 1
        pub.send_string(json.dumps({"type": "signal", "signal_id": f"{prefix}-s{n}", "symbol": "EURUSD", "direction": "BUY", "entry": 1.0851, "time_msc": now_ms()}))
        signals += 1
        fire_id = f"{prefix}-f{n}"
        queued[fire_id] = time.time()
        queue.send_string(json.dumps({"type": "fire", "fire_id": fire_id, "target_uuid": target, "symbol": "EURUSD", "direction": "BUY", "lot": 0.1}))
        dealer.send_string(json.dumps({"type": "heartbeat", "target_uuid": target, "time_msc": now_ms()}))
        next_round += 0.5
    if not poller.poll(50):
        continue
    fire = json.loads(dealer.recv_string())
    latency = int((time.time() - queued.get(fire["fire_id"], time.time())) * 1000)
    received.append(fire["fire_id"])
    say(event="fire", fire_id=fire["fire_id"], latency_ms=latency)
    confirmations.send_string(json.dumps({"type": "confirmation", "fire_id": fire["fire_id"], "status": "filled", "ticket": 1000 + len(received), "price": 1.0852, "time_msc": now_ms()}))
    confirmations.send_string(json.dumps({"type": "close", "fire_id": fire["fire_id"], "ticket": 1000 + len(received), "exit_price": 1.0862, "pnl": 10.0, "time_msc": now_ms()}))
time.sleep(0.5)
say(event="done", signals=signals, fires=len(queued), received=len(received), distinct=len(set(received)))
