"""A standard-library HTTP server that misbehaves on purpose, for tests of processes and signals.

    python tests/apps/stubborn_server.py PORT [--start-after S] [--hang PATH]
                                              [--ignore-sigterm] [--stop-after S]

``GET /`` answers 200 ``{}`` (the ready check); ``--hang PATH``: a request for PATH is never
answered; every other request answers 200 ``{"ok": true}``. ``--start-after S``: listen only
after S seconds (a slow start). ``--ignore-sigterm``: SIGTERM is ignored (a stop that hangs
until SIGKILL). ``--stop-after S``: on SIGTERM, take S seconds before exiting.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--start-after", type=float, default=0.0)
    parser.add_argument("--hang", default=None)
    parser.add_argument("--ignore-sigterm", action="store_true")
    parser.add_argument("--stop-after", type=float, default=0.0)
    args = parser.parse_args()
    if args.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    elif args.stop_after:
        def slow_exit(signum: int, frame: FrameType | None) -> None:
            time.sleep(args.stop_after)
            sys.exit(0)

        signal.signal(signal.SIGTERM, slow_exit)
    time.sleep(args.start_after)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == args.hang:
                time.sleep(3600)
            body = b"{}" if self.path == "/" else b'{"ok": true}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, format: str, *values: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"listening on {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
