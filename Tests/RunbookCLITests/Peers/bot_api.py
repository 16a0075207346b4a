"""A local server speaking the Telegram Bot API subset the engine uses, both ways.

Usage: bot_api.py RECORD_FILE
Prints the port it listens on (127.0.0.1), then serves until killed. Every Bot API call is
appended to RECORD_FILE as one JSON line (method, body, at) before it is answered.
  sendMessage          ok, with a message_id
  getUpdates           the queued updates from `offset` on, held open up to 2 s while there are none;
                       updates below `offset` are forgotten, as Telegram forgets them
  answerCallbackQuery, editMessageText   ok
The test drives it with POSTs to /control/...:
  /control/press   {"user": ID, "username": NAME, "data": "ack:1", "message_id": N, "text": T, "reply_markup": K}
                   queues a callback_query from that user
  /control/fail    {"status": 429, "count": N, "retry_after": S} answers the next N getUpdates so
                   (429 with parameters.retry_after, any other status as an outage)
"""
import http.server
import json
import sys
import threading
import time

record_file = sys.argv[1]
lock = threading.Lock()
updates = []
next_update = [1000]
next_message = [1]
failures = {"status": 0, "count": 0, "retry_after": 1}


def record(method, body):
    with lock, open(record_file, "a") as out:
        out.write(json.dumps({"method": method, "body": body, "at": time.time()}) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        parts = self.path.strip("/").split("/")
        if parts[0] == "control":
            with lock:
                if parts[1] == "press":
                    next_update[0] += 1
                    updates.append({"update_id": next_update[0], "callback_query": {
                        "id": "cb-%d" % next_update[0], "data": body["data"],
                        "from": {"id": body["user"], "is_bot": False, "first_name": body.get("username", "someone"), "username": body.get("username")},
                        "message": {"message_id": body.get("message_id", 1), "chat": {"id": 42}, "text": body.get("text", ""),
                                    "reply_markup": body.get("reply_markup") or None},
                    }})
                elif parts[1] == "fail":
                    failures.update(body)
            return self.answer(200, {"ok": True})
        method = parts[-1]
        record(method, body)
        if method == "sendMessage":
            with lock:
                next_message[0] += 1
                number = next_message[0]
            return self.answer(200, {"ok": True, "result": {"message_id": number, "chat": {"id": 42}, "text": body.get("text")}})
        if method == "getUpdates":
            with lock:
                if failures["count"] > 0:
                    failures["count"] -= 1
                    status = failures["status"]
                    if status == 429:
                        return self.answer(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after %d" % failures["retry_after"],
                                                 "parameters": {"retry_after": failures["retry_after"]}})
                    return self.answer(status, {"ok": False, "error_code": status, "description": "Bad Gateway"})
            offset = body.get("offset", 0)
            deadline = time.time() + min(2, body.get("timeout", 0))
            while True:
                with lock:
                    updates[:] = [u for u in updates if u["update_id"] >= offset]
                    ready = list(updates)
                if ready or time.time() >= deadline:
                    return self.answer(200, {"ok": True, "result": ready})
                time.sleep(0.05)
        return self.answer(200, {"ok": True, "result": True})


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
