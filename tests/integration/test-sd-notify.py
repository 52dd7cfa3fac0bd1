#!/usr/bin/env python3
"""kpingd under a fake service manager: the example config starts as is;
sd_notify READY=1, STATUS= (peer id, peers, total), WATCHDOG=1 from the main
loop, STOPPING=1; socket activation through systemd-socket-activate. TAP."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

KPINGD = os.environ["KPINGD"]
KPINGCTL = os.environ["KPINGCTL"]
EXAMPLE = sys.argv[1]
n = 0
failed = False


def tap(ok, name, *diag):
    global n, failed
    n += 1
    print(f"{'ok' if ok else 'not ok'} {n} - {name}", flush=True)
    if not ok:
        failed = True
        for d in diag:
            for line in str(d).splitlines():
                print(f"# {line}")


def wait_file(path, proc, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def ping(addr, count):
    return subprocess.run([KPINGCTL, "ping", "-c", str(count), "-i", "0", "-W", "5", addr],
                          capture_output=True, text=True, timeout=30)


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None
    return proc.returncode


def test_example_config(tmp):
    r = subprocess.run([KPINGD, "--config", EXAMPLE, "--state-dir", f"{tmp}/example",
                        "--print-peer-id"], capture_output=True, text=True, timeout=30)
    tap(r.returncode == 0 and r.stdout.startswith("12D3KooW") and r.stderr == "",
        "the annotated example config loads without a warning",
        f"exit {r.returncode}", r.stdout, r.stderr)


def test_notify(tmp):
    notify_path = f"{tmp}/notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(notify_path)
    sock.settimeout(0.1)
    env = dict(os.environ, NOTIFY_SOCKET=notify_path, WATCHDOG_USEC="400000")
    env.pop("LISTEN_FDS", None)
    addrs = f"{tmp}/addrs"
    log = open(f"{tmp}/notify.log", "w")
    proc = subprocess.Popen([KPINGD, "--config", EXAMPLE, "--state-dir", f"{tmp}/state",
                             "--listen", "/ip4/127.0.0.1/tcp/0", "--addrs-file", addrs],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    msgs = []

    def collect(seconds, until=None):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                msgs.extend(sock.recv(4096).decode().split("\n"))
            except socket.timeout:
                pass
            if until is not None and until():
                return True
        return until is None or until()

    ready = collect(20, lambda: "READY=1" in msgs and any(m.startswith("STATUS=Ready") for m in msgs))
    tap(ready, "READY=1 once the actor is registered", open(f"{tmp}/notify.log").read())
    tap(os.path.exists(addrs), "addrs file written by the time of READY=1")
    statuses = [m for m in msgs if m.startswith("STATUS=")]
    tap(any(re.search(r"Ready; Peer ID 12D3KooW\w+; 0 connected peers; 0 pings", s)
            for s in statuses), "STATUS= names the peer id, peers and total", statuses)
    before = msgs.count("WATCHDOG=1")
    collect(1.2)
    beats = msgs.count("WATCHDOG=1") - before
    tap(beats >= 4, "WATCHDOG=1 at half of WATCHDOG_USEC (400 ms)", f"{beats} in 1.2 s")

    addr = open(addrs).readline().strip() if os.path.exists(addrs) else ""
    r = ping(addr, 3)
    tap(r.returncode == 0, "kpingctl pings the daemon", r.stdout, r.stderr)
    got = collect(8, lambda: any(m.endswith("; 3 pings") for m in msgs))
    tap(got, "STATUS= follows the total", [m for m in msgs if m.startswith("STATUS=")][-3:])

    code = stop(proc)
    collect(1, lambda: "STOPPING=1" in msgs)
    tap("STOPPING=1" in msgs, "STOPPING=1 on SIGTERM")
    tap(code == 0, "clean exit on SIGTERM", f"exit {code}", open(f"{tmp}/notify.log").read())
    sock.close()


def test_notify_abstract(tmp):
    """NOTIFY_SOCKET=@name: the abstract socket "\\0name"."""
    name = f"kping-sd-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(0.1)
    env = dict(os.environ, NOTIFY_SOCKET="@" + name)
    env.pop("LISTEN_FDS", None)
    env.pop("WATCHDOG_USEC", None)
    log = open(f"{tmp}/abstract.log", "w")
    proc = subprocess.Popen([KPINGD, "--config", EXAMPLE, "--state-dir", f"{tmp}/state3",
                             "--listen", "/ip4/127.0.0.1/tcp/0"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    msgs = []
    end = time.monotonic() + 20
    while time.monotonic() < end and "READY=1" not in msgs and proc.poll() is None:
        try:
            msgs.extend(sock.recv(4096).decode().split("\n"))
        except socket.timeout:
            pass
    tap("READY=1" in msgs, "READY=1 through an abstract NOTIFY_SOCKET (@name)",
        msgs, open(f"{tmp}/abstract.log").read())
    code = stop(proc)
    tap(code == 0, "and a clean exit", f"exit {code}")
    sock.close()


def test_socket_activation(tmp):
    activate = shutil.which("systemd-socket-activate")
    if activate is None:
        print("ok - # SKIP systemd-socket-activate not installed")
        return
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    addrs = f"{tmp}/addrs2"
    log = open(f"{tmp}/activate.log", "w")
    proc = subprocess.Popen([activate, "-l", f"127.0.0.1:{port}", KPINGD, "--config", EXAMPLE,
                             "--state-dir", f"{tmp}/state2", "--listen",
                             "/ip4/127.0.0.1/tcp/0", "--addrs-file", addrs],
                            stdout=log, stderr=subprocess.STDOUT)
    # systemd-socket-activate starts the program on the first connection.
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    up = wait_file(addrs, proc, 20)
    text = open(f"{tmp}/activate.log").read()
    tap(up and f"Listening on /ip4/127.0.0.1/tcp/{port}\n" in text,
        "with LISTEN_FDS kpingd listens on the passed socket", text)
    listening = re.findall(r"^Listening on (/.*)$", text, re.M)
    tap(up and listening == [f"/ip4/127.0.0.1/tcp/{port}"],
        "and not on the configured addresses", text)
    addr = open(addrs).readline().strip() if up else ""
    r = ping(addr, 2)
    tap(r.returncode == 0 and f"/tcp/{port}/p2p/" in addr,
        "kpingctl pings through the passed socket", addr, r.stdout, r.stderr)
    code = stop(proc)
    tap(code == 0, "socket-activated kpingd exits cleanly", f"exit {code}")


def scan_sanitizer_reports(tmp):
    """A report from a daemon whose output went to a log file fails the test
    (ASan/LSan "ERROR: ...Sanitizer", UBSan "runtime error:")."""
    marker = re.compile(r"ERROR: [A-Za-z]+Sanitizer|runtime error:")
    hits = []
    for root, _, files in os.walk(tmp):
        for name in files:
            path = os.path.join(root, name)
            try:
                with open(path, errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            if marker.search(text):
                hits.append(f"{path}:\n{text[-4000:]}")
    tap(not hits, "no sanitizer report in any output", *hits)


def main():
    with tempfile.TemporaryDirectory(prefix="kping-sd-") as tmp:
        test_example_config(tmp)
        test_notify(tmp)
        test_notify_abstract(tmp)
        test_socket_activation(tmp)
        scan_sanitizer_reports(tmp)
    print(f"1..{n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
