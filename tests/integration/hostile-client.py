#!/usr/bin/env python3
"""hostile-client.py CASE PORT: one misbehaving libp2p dialer against
127.0.0.1:PORT, for test-hostile-transport.sh.

Connects, misbehaves as CASE says, then waits (at most --wait seconds) for
the server to close the connection. Prints one line:
  local=/ip4/127.0.0.1/tcp/N result=closed|timeout elapsed_ms=M
Exit status 0 when the server closed the connection in time, 1 otherwise,
2 on a usage or setup error.

"flood" opens --connections silent connections at once (more than the
server's descriptor limit, to make its accept fail) and waits until the
server has closed every one; it prints closed=K of=N.

"load" keeps --stalls connections stalled mid-handshake (/noise agreed, a
Noise frame announced and never finished; each is opened again when the
server closes it) and --garbage peers sending garbage and opening a new
connection after each close, from the source addresses --stall-sources and
--garbage-sources (FIRST-LAST, e.g. 127.0.0.10-127.0.0.29, spread round
robin), for --seconds. It prints the connections made and closed by the
server per kind, and exits 1 when a kind had none closed."""

import argparse
import asyncio
import ipaddress
import os
import select
import socket
import sys
import time


def uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def mss_msg(text):
    body = text.encode() + b"\n"
    return uvarint(len(body)) + body


MSS_HEADER = mss_msg("/multistream/1.0.0")
NOISE_PROPOSAL = MSS_HEADER + mss_msg("/noise")


def read_exact(sock, n, deadline):
    buf = b""
    while len(buf) < n:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def read_mss_answer(sock, deadline):
    """Reads the listener's header and its echo of /noise (two messages)."""
    for _ in range(2):
        length, shift = 0, 0
        while True:
            b = read_exact(sock, 1, deadline)[0]
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        read_exact(sock, length, deadline)


# Each case: what to send once connected; returns nothing. The server must
# close the connection afterwards.
def case_garbage(sock, deadline):
    # Not random: 'G' reads as a length of 71, and the 71st byte is not the
    # newline a multistream message ends with (random bytes could announce
    # more than is sent and end in the handshake timeout instead).
    sock.sendall(b"GET / HTTP/1.1\r\nHost: kping\r\n" + b"X" * 100 + b"\r\n\r\n")


def case_wrong_mss_header(sock, deadline):
    sock.sendall(mss_msg("/multistream/2.0.0") + mss_msg("/noise"))


def case_truncated(sock, deadline):
    # The /noise proposal and half of a Noise message 1 (announced 32
    # bytes, 10 sent), then the write side closes.
    sock.sendall(NOISE_PROPOSAL + b"\x00\x20" + os.urandom(10))
    sock.shutdown(socket.SHUT_WR)


def case_oversized_mss(sock, deadline):
    # A length prefix of 2^28 - 1: must be refused before any body.
    sock.sendall(uvarint((1 << 28) - 1) + b"/multistream")


def case_overlong_varint(sock, deadline):
    # A varint that never ends.
    sock.sendall(b"\xff" * 16)


def case_noise_65535(sock, deadline):
    sock.sendall(NOISE_PROPOSAL + b"\xff\xff")


def case_noise_partial_silence(sock, deadline):
    # A frame within limits announced (1000 bytes), 10 sent, then nothing.
    sock.sendall(NOISE_PROPOSAL + b"\x03\xe8" + os.urandom(10))


def case_trickle(sock, deadline):
    # A valid proposal, one byte every 200 ms: input must not extend the
    # handshake deadline.
    for b in NOISE_PROPOSAL + b"\x00\x20" + os.urandom(32):
        if time.monotonic() >= deadline:
            return
        sock.sendall(bytes([b]))
        sock.settimeout(0.2)
        try:
            if not sock.recv(4096):
                raise ConnectionError("closed")
        except socket.timeout:
            pass


def case_silent(sock, deadline):
    pass


def case_silent_after_mss(sock, deadline):
    # Security agreed, then nothing: only the handshake timeout ends it.
    sock.sendall(NOISE_PROPOSAL)


def case_garbage_noise_message3(sock, deadline):
    # A real ephemeral-sized message 1 (any 32 bytes are a Curve25519 point
    # encoding), the server's message 2 read, then a message 3 of garbage:
    # decryption must fail.
    sock.sendall(NOISE_PROPOSAL + b"\x00\x20" + os.urandom(32))
    read_mss_answer(sock, deadline)
    n = int.from_bytes(read_exact(sock, 2, deadline), "big")
    read_exact(sock, n, deadline)
    sock.sendall(b"\x00\x60" + os.urandom(96))


CASES = {
    "garbage": case_garbage,
    "truncated": case_truncated,
    "oversized-mss": case_oversized_mss,
    "overlong-varint": case_overlong_varint,
    "noise-65535": case_noise_65535,
    "noise-partial-silence": case_noise_partial_silence,
    "wrong-mss-header": case_wrong_mss_header,
    "silent": case_silent,
    "trickle": case_trickle,
    "silent-after-mss": case_silent_after_mss,
    "garbage-noise-message3": case_garbage_noise_message3,
}


def flood(port, n, wait):
    deadline = time.monotonic() + wait
    socks = []
    for _ in range(n):
        # The kernel completes the TCP handshake from the listen backlog
        # whether or not the server can accept.
        s = socket.create_connection(("127.0.0.1", port), timeout=wait)
        s.setblocking(False)
        socks.append(s)
    open_socks = set(socks)
    while open_socks and time.monotonic() < deadline:
        ready, _, _ = select.select(list(open_socks), [], [], 0.1)
        for s in ready:
            try:
                if s.recv(4096):
                    continue
            except ConnectionError:
                pass
            open_socks.discard(s)
            s.close()
    for s in open_socks:
        s.close()
    print(f"closed={n - len(open_socks)} of={n}")
    return 0 if not open_socks else 1


def address_range(text):
    first, last = (ipaddress.IPv4Address(a) for a in text.split("-"))
    if not first.is_loopback or not last.is_loopback or last < first:
        raise argparse.ArgumentTypeError("a range of loopback addresses")
    return [str(ipaddress.IPv4Address(a)) for a in range(int(first), int(last) + 1)]


async def one_connection(port, source, payload, deadline):
    """Connects from SOURCE, sends PAYLOAD, waits (at most until DEADLINE,
    but never less than a second) for the server to close. True when it
    did."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)), 5)
    except (OSError, asyncio.TimeoutError):
        return None
    closed = False
    try:
        writer.write(payload)
        await writer.drain()
        wait = max(1.0, deadline - time.monotonic())
        while True:
            if not await asyncio.wait_for(reader.read(4096), wait):
                closed = True
                break
    except ConnectionError:
        closed = True
    except (OSError, asyncio.TimeoutError):
        pass
    finally:
        writer.close()
    return closed


async def load_peer(port, source, payload, pause, deadline, stats, kind):
    while time.monotonic() < deadline:
        closed = await one_connection(port, source, payload, deadline + 1.5)
        if closed is None:
            stats[kind + "_errors"] += 1
            await asyncio.sleep(0.1)
            continue
        stats[kind + "_connections"] += 1
        stats[kind + "_closed"] += 1 if closed else 0
        await asyncio.sleep(pause)


async def load(port, args):
    deadline = time.monotonic() + args.seconds
    stats = {k + s: 0 for k in ("stall", "garbage") for s in ("_connections", "_closed", "_errors")}
    # Mid-handshake: a frame of 1000 bytes announced, 10 sent.
    stall = NOISE_PROPOSAL + b"\x03\xe8" + b"\x00" * 10
    garbage = b"GET / HTTP/1.1\r\nHost: kping\r\n" + b"X" * 100 + b"\r\n\r\n"
    tasks = []
    for i in range(args.stalls):
        src = args.stall_sources[i % len(args.stall_sources)]
        tasks.append(load_peer(port, src, stall, 0, deadline, stats, "stall"))
    for i in range(args.garbage):
        src = args.garbage_sources[i % len(args.garbage_sources)]
        tasks.append(load_peer(port, src, garbage, 0.2, deadline, stats, "garbage"))
    await asyncio.gather(*tasks)
    print(" ".join(f"{k}={v}" for k, v in stats.items()))
    return 0 if stats["stall_closed"] and stats["garbage_closed"] else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES) + ["flood", "load"])
    ap.add_argument("port", type=int)
    ap.add_argument("--wait", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--stalls", type=int, default=500)
    ap.add_argument("--garbage", type=int, default=100)
    ap.add_argument("--stall-sources", type=address_range, default=["127.0.0.1"])
    ap.add_argument("--garbage-sources", type=address_range, default=["127.0.0.1"])
    args = ap.parse_args()
    if args.case == "load":
        if not 0 < args.seconds <= 600 or args.stalls > 5000 or args.garbage > 5000:
            ap.error("load: --seconds 0..600, at most 5000 peers of each kind")
        return asyncio.run(load(args.port, args))
    if args.case == "flood":
        return flood(args.port, args.connections, args.wait)

    start = time.monotonic()
    deadline = start + args.wait
    try:
        sock = socket.create_connection(("127.0.0.1", args.port), timeout=args.wait)
    except OSError as e:
        print(f"connect failed: {e}", file=sys.stderr)
        return 2
    local = "/ip4/127.0.0.1/tcp/%d" % sock.getsockname()[1]
    result = "timeout"
    try:
        CASES[args.case](sock, deadline)
        # Drain whatever the server says until it closes.
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            if not sock.recv(4096):
                result = "closed"
                break
    except (ConnectionError, BrokenPipeError):
        result = "closed"
    except socket.timeout:
        result = "timeout"
    finally:
        sock.close()
    elapsed = int((time.monotonic() - start) * 1000)
    print(f"local={local} result={result} elapsed_ms={elapsed}")
    return 0 if result == "closed" else 1


if __name__ == "__main__":
    sys.exit(main())
