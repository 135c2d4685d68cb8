#!/usr/bin/env python3
"""The annual dog-tax assessment at scale: N households (default 10,000) in Panketal's register,
then `rathaus dogtax assess` for a year, with and without rendering the PDF notices, and the
treasury's export for the first due date.

    cargo build --release --bin rathaus
    python3 bench/assess.py [path/to/rathaus] [households]

The register is generated (deterministically) and taken over with `rathaus dogtax import`: 1 to 3
dogs a household, some dangerous, exempt or reduced, 60 % paying by direct debit. The demo is
seeded first (`rathaus demo`, stopped once it listens), so the statutes and the municipality's bank
details are there. Set RATHAUS_DATABASE_URL to measure on PostgreSQL instead of SQLite.
Prints one line per step: wall time and peak RSS of the process.
"""
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.environ.get("CARGO_TARGET_DIR", "target"), "release", "rathaus")
HOUSEHOLDS = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
AGS = "12060181"


def iban(rng):
    """A German IBAN with correct check digits (ISO 7064 MOD 97-10)."""
    bban = f"{rng.randrange(10**7, 10**8)}{rng.randrange(10**9, 10**10)}"  # BLZ + account
    check = 98 - int(bban + "131400") % 97  # "DE" = 13 14, then 00
    return f"DE{check:02d}{bban}"


def household(rng, i):
    dogs = []
    for d in range(rng.choice([1, 1, 1, 2, 2, 3])):
        dog = {"name": f"Hund {i}-{d}", "breed": "Mischling",
               "kept_from": f"{rng.randrange(2010, 2027)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"}
        r = rng.random()
        if r < 0.03:
            dog["dangerous"] = {"date": "2024-08-01", "file_number": f"OA-{i}"}
        elif r < 0.06:
            dog["exemption"] = "assistance"
        elif r < 0.10:
            dog["reduction"] = "sachkunde"
        dogs.append(dog)
    holder = {"name": f"Halterin {i}", "street": f"Teststraße {i % 300 + 1}", "postcode": "16341",
              "city": "Panketal"}
    if rng.random() < 0.6:
        payment = {"method": "debit", "iban": iban(rng), "account_holder": holder["name"],
                   "mandate_reference": f"HU-BENCH-{i:06d}", "mandate_date": "2020-01-01"}
    else:
        payment = {"method": "transfer"}
    return {"holder": holder, "payment": payment, "dogs": dogs}


def run(env, args, label):
    t0 = time.perf_counter()
    p = subprocess.Popen([BIN] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = p.stdout.read().decode()
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"{label} failed ({status}): {out}")
    print(f"{label:<40} {elapsed:7.2f} s   peak RSS {usage.ru_maxrss / 1024:6.0f} MiB   | {out.strip().splitlines()[0]}")
    return elapsed


def main():
    with tempfile.TemporaryDirectory(prefix="rathaus-bench-") as data:
        env = {"PATH": os.environ["PATH"], "RATHAUS_DATA_DIR": data, "RATHAUS_LOG_LEVEL": "warn",
               "RATHAUS_LISTEN": "127.0.0.1:0"}
        if os.environ.get("RATHAUS_DATABASE_URL"):
            env["RATHAUS_DATABASE_URL"] = os.environ["RATHAUS_DATABASE_URL"]
        demo = subprocess.Popen([BIN, "demo"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for line in demo.stdout:
            if line.startswith(b"listening on "):
                break
        demo.send_signal(signal.SIGTERM)
        demo.wait()

        rng = random.Random(2027)
        register = os.path.join(data, "register.jsonl")
        with open(register, "w") as f:
            for i in range(HOUSEHOLDS):
                f.write(json.dumps(household(rng, i), ensure_ascii=False) + "\n")
        print(f"{HOUSEHOLDS} households, {os.cpu_count()} cores, "
              f"{'PostgreSQL' if 'RATHAUS_DATABASE_URL' in env else 'SQLite'}")
        run(env, ["dogtax", "import", AGS, register], "import register (setup)")
        run(env, ["dogtax", "assess", AGS, "--year", "2027", "--date", "2026-12-01"],
            "assess 2027 (notices stored)")
        run(env, ["dogtax", "assess", AGS, "--year", "2027"], "assess 2027 again (nothing to do)")
        pdfs = os.path.join(data, "pdf")
        run(env, ["dogtax", "assess", AGS, "--year", "2028", "--date", "2027-12-01", "--pdf", pdfs],
            "assess 2028 with PDF notices")
        print(f"{'':<40} {sum(os.path.getsize(os.path.join(pdfs, n)) for n in os.listdir(pdfs)) / 1e6:7.1f} MB of PDF")
        run(env, ["dogtax", "export", AGS, "--due", "2027-02-15", "--out", os.path.join(data, "kasse")],
            "export 2027-02-15 (pain.008 + CSV)")


if __name__ == "__main__":
    main()
