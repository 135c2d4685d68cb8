#!/usr/bin/env python3
"""A clerk's approval of a dog-tax registration while the register holds N households (default
10,000), through the real interface: a citizen registers a dog over HTTP, a Panketal clerk signs in
with password and TOTP and approves; the time of the approval request (register entry, notice PDF,
e-mail to the outbox, audit, one transaction) is measured.

    cargo build --release --bin rathaus
    python3 bench/approve.py [path/to/rathaus] [households] [approvals]

Half of the registrations come from holders already in the register (their household grows: a
change notice), half from new holders. On SQLite the run is repeated with the households' holder
index removed, as for households registered before the index existed: each approval then opens
every household's sealed holder data to find the household.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from assess import household  # noqa: E402  (the same generated register)

BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.environ.get("CARGO_TARGET_DIR", "target"), "release", "rathaus")
HOUSEHOLDS = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
APPROVALS = int(sys.argv[3]) if len(sys.argv) > 3 else 20
AGS = "12060181"
CLERK = "sachbearbeitung@panketal.example"
SERVICE = "/panketal/hundesteuer-anmeldung"


class Client:
    """One browser: cookies kept by name, redirects not followed."""

    def __init__(self, host, port):
        self.host, self.port, self.cookies = host, port, {}

    def request(self, method, path, form=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"http://{self.host}:{self.port}"
        conn.request(method, path, body=body, headers=headers)
        res = conn.getresponse()
        text = res.read().decode("utf-8", "replace")
        for name, value in res.getheaders():
            if name.lower() == "set-cookie":
                k, v = value.split(";", 1)[0].split("=", 1)
                if "Max-Age=0" in value:
                    self.cookies.pop(k, None)
                else:
                    self.cookies[k] = v
        conn.close()
        return res.status, res.getheader("Location"), text

    def get(self, path):
        status, _, text = self.request("GET", path)
        if status != 200:
            raise SystemExit(f"GET {path}: {status}")
        return text

    def post(self, path, form, expect=303):
        status, location, text = self.request("POST", path, form)
        if status != expect:
            raise SystemExit(f"POST {path}: {status}\n{text[:2000]}")
        return location


def csrf(page):
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def totp(secret, at):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return f"{(struct.unpack('>I', mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def register(c, holder, n):
    """A citizen registers one dog; returns the reference number."""
    c.post(f"{SERVICE}/start", {"csrf": csrf(c.get(SERVICE))})
    steps = [
        ("schritt/halter", {"holder_name": holder["name"], "street": holder["street"],
                            "postcode": holder["postcode"], "city": holder["city"],
                            "email": "halter@example.org", "action": "continue"}),
        ("schritt/hund/1", {"dog_name": f"Neu {n}", "breed": "Mischling", "kept_from": "2026-10-01",
                            "microchip": f"276098{n:09d}", "action": "continue"}),
        ("schritt/hund/weitere", {"another": "no"}),
        ("schritt/zahlung", {"payment_method": "transfer", "action": "continue"}),
        ("schritt/erklaerung", {"truthful": "true", "privacy_ack": "true", "action": "continue"}),
    ]
    for step, form in steps:
        path = f"{SERVICE}/{step}"
        c.post(path, {"csrf": csrf(c.get(path)), **form})
    c.post(f"{SERVICE}/absenden", {"csrf": csrf(c.get(f"{SERVICE}/pruefen"))})
    return re.search(r'rh-reference">([^<]+)', c.get(f"{SERVICE}/bestaetigung")).group(1).strip()


def approve(clerk, reference):
    """Finds the case by its reference and approves it; returns the seconds the approval took."""
    inbox = clerk.get(f"/verwaltung/vorgaenge?q={reference}")
    case = re.search(r'href="(/verwaltung/vorgaenge/[a-z0-9]+)"', inbox).group(1)
    page = clerk.get(case)
    form = re.search(r'action="' + re.escape(case) + r'/entscheiden".*?</form>', page, re.S).group(0)
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    t0 = time.perf_counter()
    clerk.post(f"{case}/entscheiden", {"csrf": csrf(form), "version": version,
                                      "outcome": "approved", "reasons": "Anmeldung vollständig."})
    return time.perf_counter() - t0


def main():
    with tempfile.TemporaryDirectory(prefix="rathaus-bench-") as data:
        env = {"PATH": os.environ["PATH"], "RATHAUS_DATA_DIR": data, "RATHAUS_LOG_LEVEL": "warn",
               "RATHAUS_LISTEN": "127.0.0.1:0"}
        postgres = bool(os.environ.get("RATHAUS_DATABASE_URL"))
        if postgres:
            env["RATHAUS_DATABASE_URL"] = os.environ["RATHAUS_DATABASE_URL"]
        # The demo's banner holds the clerk's password and TOTP secret.
        demo = subprocess.Popen([BIN, "demo"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        banner = []
        for line in demo.stdout:
            banner.append(line.decode())
            if line.startswith(b"listening on "):
                break
        demo.send_signal(signal.SIGTERM)
        demo.wait()
        text = "".join(banner)
        account = text[text.index(CLERK):]
        password = re.search(r"password (\S+)", account).group(1)
        secret = re.search(r"TOTP\s+(\S+)", account).group(1)

        rng = random.Random(2027)
        register_file = os.path.join(data, "register.jsonl")
        existing = []
        with open(register_file, "w") as f:
            for i in range(HOUSEHOLDS):
                h = household(rng, i)
                existing.append(h["holder"])
                f.write(json.dumps(h, ensure_ascii=False) + "\n")
        subprocess.run([BIN, "dogtax", "import", AGS, register_file], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        server = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            for line in server.stdout:
                m = re.match(rb"listening on http://([\d.]+):(\d+)", line)
                if m:
                    host, port = m.group(1).decode(), int(m.group(2))
                    break
            clerk = Client(host, port)
            clerk.post("/verwaltung/anmelden", {"csrf": csrf(clerk.get("/verwaltung/anmelden")),
                                                 "email": CLERK, "password": password, "weiter": ""})
            clerk.post("/verwaltung/anmelden/code", {"csrf": csrf(clerk.get("/verwaltung/anmelden/code")),
                                                      "code": totp(secret, time.time())})

            def round_of(label, first):
                times = {"existing household": [], "new household": []}
                for n in range(APPROVALS):
                    if n % 2 == 0:
                        holder, kind = existing[(first + n) * 37 % len(existing)], "existing household"
                    else:
                        holder = {"name": f"Neue Halterin {first + n}", "street": "Waldweg 1",
                                  "postcode": "16341", "city": "Panketal"}
                        kind = "new household"
                    times[kind].append(approve(clerk, register(Client(host, port), holder, first + n)))
                for kind, ts in times.items():
                    print(f"{label:<34} {kind:<19} median {statistics.median(ts) * 1000:6.1f} ms"
                          f"   max {max(ts) * 1000:6.1f} ms   ({len(ts)} approvals)")

            print(f"{HOUSEHOLDS} households in the register, {os.cpu_count()} cores, "
                  f"{'PostgreSQL' if postgres else 'SQLite'}")
            round_of("with the holder index", 0)
            if not postgres:
                db = sqlite3.connect(os.path.join(data, "rathaus.db"))
                db.execute("UPDATE dogtax_households SET holder_index = NULL")
                db.commit()
                db.close()
                round_of("without it (households opened)", APPROVALS)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait()


if __name__ == "__main__":
    main()
