#!/usr/bin/env python3
"""The annual dog-tax assessment at scale: N households (default 10,000) in Panketal's register,
then `rathaus dogtax assess` for a year, the same again (nothing to do), the next year, printing
that year's notices as PDF files, and the treasury's export for the first due date.

    cargo build --release --bin rathaus
    python3 bench/assess.py [path/to/rathaus] [households] [--before]

`--before` runs the steps as binaries before the bounded-memory dog-tax year knew them (the next
year assessed and printed in one step). The machine's floor is measured in the same run: a
durable SQLite transaction inserting as many rows of the notices' size (Python's sqlite3), and
writing as many files of the PDFs' size into one directory.

The register is generated (deterministically) and taken over with `rathaus dogtax import`: 1 to 3
dogs a household, some dangerous, exempt or reduced, 60 % paying by direct debit. The demo is
seeded first (`rathaus demo`, stopped once it listens), so the statutes and the municipality's bank
details are there. Set RATHAUS_DATABASE_URL to measure on PostgreSQL instead of SQLite.
Prints one line per step: wall time, peak RSS and CPU time (user + kernel) of the process; CPU
time above wall time means the step used more than one core.
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
HOUSEHOLDS = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 10_000
BEFORE = "--before" in sys.argv
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
    cpu = usage.ru_utime + usage.ru_stime
    print(f"{label:<40} {elapsed:7.2f} s   peak RSS {usage.ru_maxrss / 1024:6.0f} MiB   "
          f"CPU {cpu:6.1f} s ({usage.ru_stime:5.1f} s kernel)   | {out.strip().splitlines()[0]}")
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
        if BEFORE:
            run(env, ["dogtax", "assess", AGS, "--year", "2028", "--date", "2027-12-01", "--pdf", pdfs],
                "assess 2028 with PDF notices")
        else:
            run(env, ["dogtax", "assess", AGS, "--year", "2028", "--date", "2027-12-01"],
                "assess 2028 (notices stored)")
            run(env, ["dogtax", "assess", AGS, "--year", "2028", "--pdf", pdfs],
                "print 2028 notices (PDF)")
        names = os.listdir(pdfs)
        pdf_bytes = sum(os.path.getsize(os.path.join(pdfs, n)) for n in names)
        print(f"{'':<40} {pdf_bytes / 1e6:7.1f} MB of PDF in {len(names)} files")
        run(env, ["dogtax", "export", AGS, "--due", "2027-02-15", "--out", os.path.join(data, "kasse")],
            "export 2027-02-15 (pain.008 + CSV)")
        floor(data, len(names), pdf_bytes // max(1, len(names)))


def floor(data, files, size):
    """The machine's floor for the same amounts: one durable SQLite transaction inserting a row
    of 2 KB per household, and a file of the PDFs' average size per notice."""
    import sqlite3
    db = os.path.join(data, "floor.db")
    t0 = time.perf_counter()
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = FULL")
    con.execute("CREATE TABLE t (id TEXT PRIMARY KEY, body BLOB)")
    blob = os.urandom(2048)
    with con:
        con.executemany("INSERT INTO t VALUES (?, ?)", ((f"row-{i:08d}", blob) for i in range(HOUSEHOLDS)))
    con.close()
    print(f"{'floor: insert one 2 KB row a household':<40} {time.perf_counter() - t0:7.2f} s")
    out = os.path.join(data, "floor-files")
    os.makedirs(out)
    content = os.urandom(size)
    t0 = time.perf_counter()
    for i in range(files):
        with open(os.path.join(out, f"{i:08d}.pdf.part"), "wb") as f:
            f.write(content)
        os.rename(os.path.join(out, f"{i:08d}.pdf.part"), os.path.join(out, f"{i:08d}.pdf"))
    print(f"{'floor: write a file a notice':<40} {time.perf_counter() - t0:7.2f} s   ({files} x {size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
