"""A peer of the flows written with pyzmq: an EA (DEALER, PUSH) as one not written in this project would be.

Usage: flow_peer.py EVENTS_FILE KIND ENDPOINT [options]
  KIND                  dealer, push or sub
  --id ROUTING_ID       the DEALER's routing id
  --probe-router        ZMQ_PROBE_ROUTER: the DEALER says hello as it connects
  --server-key Z85      connect with CURVE to a server with this public key...
  --public Z85          ...as this key pair
  --secret Z85
  --source ADDRESS      connect from this source address
  --send JSON           a message to send (repeatable), again every 300 ms until killed
Writes one JSON line per event to EVENTS_FILE: handshake_succeeded, handshake_failed, disconnected,
and received (with the message) for what the socket receives.
"""
import argparse
import json
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

parser = argparse.ArgumentParser()
parser.add_argument("events")
parser.add_argument("kind", choices=["dealer", "push", "sub"])
parser.add_argument("endpoint")
parser.add_argument("--id")
parser.add_argument("--probe-router", action="store_true")
parser.add_argument("--server-key")
parser.add_argument("--public")
parser.add_argument("--secret")
parser.add_argument("--source")
parser.add_argument("--send", action="append", default=[])
options = parser.parse_args()

events = open(options.events, "a", buffering=1)


def note(**event):
    events.write(json.dumps(event) + "\n")


context = zmq.Context()
socket = context.socket({"dealer": zmq.DEALER, "push": zmq.PUSH, "sub": zmq.SUB}[options.kind])
socket.setsockopt(zmq.LINGER, 0)
if options.id:
    socket.setsockopt(zmq.ROUTING_ID, options.id.encode())
if options.probe_router:
    socket.setsockopt(zmq.PROBE_ROUTER, 1)
if options.kind == "sub":
    socket.setsockopt(zmq.SUBSCRIBE, b"")
if options.server_key:
    # The keys are set before connecting, as an MQL5 EA sets them.
    socket.setsockopt(zmq.CURVE_SERVERKEY, options.server_key.encode())
    socket.setsockopt(zmq.CURVE_PUBLICKEY, options.public.encode())
    socket.setsockopt(zmq.CURVE_SECRETKEY, options.secret.encode())
monitor = socket.get_monitor_socket()
socket.connect(f"tcp://{options.source}:0;{options.endpoint[len('tcp://'):]}" if options.source else options.endpoint)

poller = zmq.Poller()
poller.register(socket, zmq.POLLIN)
poller.register(monitor, zmq.POLLIN)
names = {
    zmq.EVENT_HANDSHAKE_SUCCEEDED: "handshake_succeeded",
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "handshake_failed",
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "handshake_failed",
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "handshake_failed",
    zmq.EVENT_DISCONNECTED: "disconnected",
}
next_send = 0.0
while True:
    if options.send and time.time() >= next_send and options.kind != "sub":
        for message in options.send:
            try:
                socket.send_string(message, zmq.DONTWAIT)
            except zmq.Again:
                pass
        next_send = time.time() + 0.3
    for ready, _ in poller.poll(50):
        if ready is monitor:
            event = recv_monitor_message(monitor)
            if event["event"] in names:
                note(event=names[event["event"]], value=event["value"])
        else:
            note(event="received", message=socket.recv().decode(errors="replace"))
