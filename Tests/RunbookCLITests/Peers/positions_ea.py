"""An EA written with pyzmq that holds positions and reports them, told what to do on stdin.

Usage: positions_ea.py ROUTER_ENDPOINT CONFIRMATIONS_ENDPOINT TARGET
Heartbeats on the router every 0.5 s; fills each fire it receives with the next ticket from 5001
and holds it. Prints one JSON line per event. Commands, one JSON object a line on stdin:
  {"do": "positions"}                               report what it holds
  {"do": "close", "ticket": T, "pnl": P}            close a held position (a close message)
  {"do": "forget", "ticket": T}                     stop holding a position, saying nothing
  {"do": "hold", "ticket": T, "symbol": S, "lots": L}  hold a position no fire opened
  {"do": "close_unknown", "fire_id": F, "ticket": T}   a close for a fire never queued
  {"do": "ignore_fires"}                            leave the next fires unanswered
"""
import json
import os
import sys
import time

import zmq

router_endpoint, confirmations_endpoint, target = sys.argv[1:4]
context = zmq.Context()
dealer = context.socket(zmq.DEALER)
dealer.setsockopt(zmq.IDENTITY, target.encode())
dealer.connect(router_endpoint)
confirmations = context.socket(zmq.PUSH)
confirmations.connect(confirmations_endpoint)


def say(**event):
    print(json.dumps(event), flush=True)


def now():
    return int(time.time() * 1000)


held = {}  # ticket -> (fire_id, symbol, lots)
next_ticket = 5001
answering = True
poller = zmq.Poller()
poller.register(dealer, zmq.POLLIN)
poller.register(sys.stdin.fileno(), zmq.POLLIN)
last_beat = 0
say(event="ready")
while True:
    if time.time() - last_beat >= 0.5:
        dealer.send_string(json.dumps({"type": "heartbeat", "target_uuid": target, "account": "5012345", "time_msc": now()}))
        last_beat = time.time()
    events = dict(poller.poll(100))
    if dealer in events:
        fire = json.loads(dealer.recv_multipart()[-1])
        if not answering:
            say(event="ignored", fire_id=fire["fire_id"])
            continue
        ticket = next_ticket
        next_ticket += 1
        held[ticket] = (fire["fire_id"], fire["symbol"], fire["lot"])
        confirmations.send_string(json.dumps({"type": "confirmation", "fire_id": fire["fire_id"], "status": "filled", "ticket": ticket, "price": 1.0852, "time_msc": now()}))
        say(event="filled", fire_id=fire["fire_id"], ticket=ticket)
    if sys.stdin.fileno() in events:
        line = sys.stdin.readline()
        if not line:
            break
        command = json.loads(line)
        action = command["do"]
        if action == "positions":
            positions = [{"ticket": ticket, "symbol": symbol, "lots": lots} for ticket, (_, symbol, lots) in sorted(held.items())]
            confirmations.send_string(json.dumps({"type": "positions", "target_uuid": target, "positions": positions, "time_msc": now()}))
        elif action == "close":
            fire_id, _, _ = held.pop(command["ticket"])
            confirmations.send_string(json.dumps({"type": "close", "fire_id": fire_id, "ticket": command["ticket"], "exit_price": 1.0880, "pnl": command.get("pnl", 12.5), "time_msc": now()}))
        elif action == "forget":
            held.pop(command["ticket"])
        elif action == "hold":
            held[command["ticket"]] = ("", command["symbol"], command["lots"])
        elif action == "close_unknown":
            confirmations.send_string(json.dumps({"type": "close", "fire_id": command["fire_id"], "ticket": command["ticket"], "exit_price": 1.09, "pnl": -3.0, "time_msc": now()}))
        elif action == "ignore_fires":
            answering = False
        say(event="done", do=action)
for socket in (dealer, confirmations):
    socket.close(linger=0)
context.term()
os._exit(0)
