"""Stand-in for the platform's AI service: a placeholder on $PORT."""
import functools
import http.server
import os

handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory="/app")
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), handler).serve_forever()
