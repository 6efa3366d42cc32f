"""One local HTTP server for the tests of the OpenAI-compatible adapters (127.0.0.1, a free port).

``handle(path, headers, body_bytes) -> (status, obj)`` or ``(status, obj, extra_headers)`` answers each POST
with ``obj`` as JSON (and the extra headers, e.g. Retry-After); each request is kept in ``.requests`` as
``record(path, headers, body_bytes)`` makes it.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalServer:
    def __init__(self, handle):
        self.handle, self.requests = handle, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append(outer.record(self.path, self.headers, body))
                status, obj, *extra = outer.handle(self.path, self.headers, body)
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in (extra[0] if extra else {}).items():
                    self.send_header(k, str(v))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # a client that gave up (timeout tests): not news
                import sys

                if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                       kwargs={"poll_interval": 0.05})  # shutdown() waits at most one poll

    def record(self, path, headers, body):
        return path, headers, body

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
