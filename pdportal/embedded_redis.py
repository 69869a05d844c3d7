"""An embedded Redis-protocol server (fakeredis) so `make run` needs no Redis install."""

from __future__ import annotations

import argparse
import signal
import sys

from fakeredis import TcpFakeServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6390)
    args = parser.parse_args(argv)
    server = TcpFakeServer((args.host, args.port), server_type="redis")
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"embedded Redis-protocol server on redis://{args.host}:{args.port}/0", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
