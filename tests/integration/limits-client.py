#!/usr/bin/env python3
"""limits-client.py PORT --from ADDR --count N [--hold S]: silent TCP
connections to 127.0.0.1:PORT from the loopback address ADDR, for
test-limits.sh.

Opens N connections one after the other, then looks at each: one the server
closed with not a byte sent is refused, any other is open (the server may
have sent its multistream header). Prints one line per refused connection,
"refused LOCAL_ADDR:PORT", then "open=K refused=M", and holds the open ones
silent for --hold seconds (or until killed)."""

import argparse
import select
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--from", dest="source", default="127.0.0.1")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--hold", type=float, default=30.0)
    ap.add_argument("--settle", type=float, default=0.5)
    args = ap.parse_args()
    if not args.source.startswith("127.") or args.count < 0 or args.count > 10000:
        print("usage: loopback source addresses only, 0 to 10000 connections", file=sys.stderr)
        return 2

    socks = []
    for _ in range(args.count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((args.source, 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", args.port))
        socks.append(s)
    # The server accepts (or refuses) in the order of the connects.
    time.sleep(args.settle)
    n_open = n_refused = 0
    held = []
    for s in socks:
        name = "%s:%d" % s.getsockname()
        received = b""
        closed = False
        while True:
            poller = select.poll()
            poller.register(s, select.POLLIN)
            if not poller.poll(0):
                break
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            received += chunk
        if closed and not received:
            n_refused += 1
            print("refused %s" % name, flush=True)
            s.close()
        else:
            n_open += 1
            held.append(s)
    print("open=%d refused=%d" % (n_open, n_refused), flush=True)
    deadline = time.monotonic() + args.hold
    while time.monotonic() < deadline:
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
    for s in held:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
