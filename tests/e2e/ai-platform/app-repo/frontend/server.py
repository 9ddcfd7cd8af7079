"""Stand-in for the platform's frontend: static files on $PORT."""
import functools
import http.server
import os

handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory="/app/public")
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), handler).serve_forever()
