#!/usr/bin/env python3
"""Cold start and idle memory of `rathaus serve`.

Cold start: wall time from exec to the first 200 on /healthz, for an installation that already has
the demo data (the normal restart of a server) and for a brand-new one (migrations and key generation
included). Idle memory: resident set size after start and a few page views, once the process is idle.

    cargo build --release --bin rathaus
    python3 bench/startup.py [path/to/rathaus] [runs]
"""
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.environ.get("CARGO_TARGET_DIR", "target"), "release", "rathaus")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
PORT = 18090


def get(path):
    """One HTTP/1.1 GET on a fresh connection; returns the status code or None if refused."""
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=2) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return int(data.split(b" ", 2)[1])
    except OSError:
        return None


def start(data_dir, command="serve"):
    env = {"PATH": os.environ["PATH"], "RATHAUS_DATA_DIR": data_dir,
           "RATHAUS_LISTEN": f"127.0.0.1:{PORT}", "RATHAUS_LOG_LEVEL": "warn"}
    t0 = time.perf_counter()
    p = subprocess.Popen([BIN, command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while get("/healthz") != 200:
        if p.poll() is not None:
            raise SystemExit(f"rathaus exited with {p.returncode}")
        if time.perf_counter() - t0 > 60:
            raise SystemExit("no answer within 60 s")
    return p, time.perf_counter() - t0


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=30)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def summary(name, xs):
    xs = sorted(xs)
    p90 = xs[max(0, int(len(xs) * 0.9) - 1)]
    print(f"{name}: median {statistics.median(xs) * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms, "
          f"min {xs[0] * 1000:.1f} ms, max {xs[-1] * 1000:.1f} ms ({len(xs)} runs)")


def main():
    fresh = []
    for _ in range(max(3, RUNS // 4)):
        with tempfile.TemporaryDirectory() as d:
            p, t = start(d)
            fresh.append(t)
            stop(p)
    with tempfile.TemporaryDirectory() as d:
        p, _ = start(d, "demo")  # seed once
        stop(p)
        warm = []
        for _ in range(RUNS):
            p, t = start(d)
            warm.append(t)
            stop(p)
        p, _ = start(d)
        for path in ["/", "/panketal", "/amt-niemegk", "/readyz", "/metrics"] * 5:
            assert get(path) == 200, path
        time.sleep(2)
        rss = rss_kib(p.pid)
        stop(p)
    print(f"binary: {BIN} ({os.path.getsize(BIN) / 1e6:.1f} MB)")
    summary("cold start, existing installation (exec -> first 200 on /healthz)", warm)
    summary("cold start, new installation (migrations + master key included)", fresh)
    print(f"idle memory after 25 page views: {rss / 1024:.1f} MiB RSS")


if __name__ == "__main__":
    main()
