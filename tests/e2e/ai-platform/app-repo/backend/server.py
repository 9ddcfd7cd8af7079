"""Stand-in for the platform's backend API: /health and /metrics."""
import http.server
import json
import os

VERSION = "backend v1"
COUNT = {"n": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        COUNT["n"] += 1
        if self.path == "/health":
            body = json.dumps({"status": "ok", "version": VERSION}).encode()
            kind = "application/json"
        elif self.path == "/metrics":
            body = (
                "# TYPE http_requests_total counter\n"
                f'http_requests_total{{status="200"}} {COUNT["n"]}\n'
                "# TYPE active_connections_total gauge\nactive_connections_total 1\n"
            ).encode()
            kind = "text/plain; version=0.0.4"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), Handler).serve_forever()
