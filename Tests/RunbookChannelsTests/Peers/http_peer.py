"""A local HTTP server for the channel tests: Telegram's Bot API (sendMessage) and a webhook.

Usage: http_peer.py RECORD_FILE [PORT]
Prints the port it listens on (127.0.0.1; PORT, or one the system chose), then serves until killed.
Every POST is appended to RECORD_FILE as one JSON line (path, headers, body) before it is answered.
The first segment of the path picks the answer; a path with a /bot<TOKEN>/ segment after it is
answered as Telegram would, any other as a webhook:
  ok         200, Telegram {"ok": true, "result": {...}}
  429        429, Telegram {"parameters": {"retry_after": 7}}; webhook with Retry-After: 5
  429header  429 with Retry-After: 3 and no retry_after in the body
  400        400, Telegram "Bad Request: chat not found"
  401echo    401 whose description repeats what was sent (the path, the Authorization header)
  500        500
  hang       waits 5 s before answering 200
  html       200 with an HTML page, not the Bot API
"""
import http.server
import json
import sys
import time

record_file = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, document, headers=None, content_type="application/json"):
        data = (document if isinstance(document, str) else json.dumps(document)).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        parts = self.path.split("/")
        mode = parts[1] if len(parts) > 1 else ""
        telegram = len(parts) > 3 and parts[2].startswith("bot") and parts[3] == "sendMessage"
        with open(record_file, "a") as record:
            record.write(json.dumps({"path": self.path, "headers": dict(self.headers.items()), "body": body.decode()}) + "\n")
        try:
            self.respond(mode, telegram)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting: that is what "hang" is for

    def respond(self, mode, telegram):
        def error(status, description, **extra):
            if telegram:
                self.answer(status, dict({"ok": False, "error_code": status, "description": description}, **extra))
            else:
                self.answer(status, {"error": description})

        if mode == "ok":
            if telegram:
                self.answer(200, {"ok": True, "result": {"message_id": 42, "chat": {"id": -100123}}})
            else:
                self.answer(200, {"received": True})
        elif mode == "429":
            if telegram:
                error(429, "Too Many Requests: retry after 7", parameters={"retry_after": 7})
            else:
                self.answer(429, {"error": "slow down"}, headers={"Retry-After": "5"})
        elif mode == "429header":
            self.answer(429, {"ok": False, "error_code": 429, "description": "Too Many Requests"}, headers={"Retry-After": "3"})
        elif mode == "400":
            error(400, "Bad Request: chat not found")
        elif mode == "401echo":
            error(401, "Unauthorized: you sent %s with %s" % (self.path, self.headers.get("Authorization", "no header")))
        elif mode == "500":
            error(500, "Internal Server Error")
        elif mode == "hang":
            time.sleep(5)
            self.answer(200, {"ok": True, "result": {}})
        elif mode == "html":
            self.answer(200, "<html><body>a proxy's page</body></html>", content_type="text/html")
        else:
            error(404, "Not Found")


port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
http.server.ThreadingHTTPServer.allow_reuse_address = True
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
