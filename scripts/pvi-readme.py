#!/usr/bin/env python3
"""Condense the JSON of `cargo run --release --example polling-vs-interrupt -- --json out.json` into the Markdown
tables of README's "Polling vs interrupt" section: python3 scripts/pvi-readme.py out.json"""
import json
import sys

rows = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "out.json"))
meta = rows[0]
cells = [r for r in rows if "depth" in r]
idle = [r for r in rows if "idle_cpu_pct" in r]
floors = [r for r in rows if "floor" in r]
goals = [r for r in rows if "goal" in r]
runners = []
for c in cells:
    if c["mode"] not in runners:
        runners.append(c["mode"])
jobs = []
for c in cells:
    if c["job"] not in jobs:
        jobs.append(c["job"])


def find(mode, depth, job, services=("none", "-")):
    for s in services:
        for c in cells:
            if c["mode"] == mode and c["depth"] == depth and c["job"] == job and c["service"] == s:
                return c
    return None


def f(x, nd=1):
    return "—" if x is None else f"{x:,.{nd}f}"


print(f"Machine: {meta['machine']}; backend {meta['backend']}, {meta['workers']} tokio worker thread(s), "
      f"{meta['secs_per_cell']} s per cell.\n")
print("Floors of this machine:\n")
print("| floor | value |\n|---|---|")
for r in floors:
    v = r["value_us"]
    if r["floor"].startswith("busy_poll"):
        print(f"| {r['floor']} | {v * 1000:.0f} ns |")
    else:
        print(f"| {r['floor']} | {v:.1f} µs |")
print("\nNull jobs (pure overhead), service time none — jobs/s · p50 µs · p99 µs · app CPU µs/job:\n")
print("| mode | " + " | ".join(f"depth {d}" for d in (1, 4, 16, 64)) + " |")
print("|---|" + "---|" * 4)
for m in runners:
    if m == "inline":
        continue
    row = []
    for d in (1, 4, 16, 64):
        c = find(m, d, "null")
        row.append("—" if c is None else
                   f"{c['jobs_per_s']:,.0f} · {c['p50_us']:.1f} · {c['p99_us']:.0f} · **{c['app_cpu_us_per_job']:.2f}**")
    print(f"| {m} | " + " | ".join(row) + " |")
print("\nDepth 64, service time none (baselines: the CPU) — jobs/s · app CPU µs/job:\n")
print("| mode | " + " | ".join(jobs) + " |")
print("|---|" + "---|" * len(jobs))
for m in runners:
    row = []
    for j in jobs:
        c = find(m, 64, j)
        row.append("—" if c is None or (j == "null" and m == "inline") else
                   f"{c['jobs_per_s']:,.0f} · **{c['app_cpu_us_per_job']:.2f}**")
    print(f"| {m} | " + " | ".join(row) + " |")
services = [s for s in ("none", "fixed-10us", "bw-2GB/s") if any(c["service"] == s for c in cells)]
print("\nDepth-1 p50 latency (µs) of gzip 4 KiB and null jobs by service model:\n")
print("| mode | " + " | ".join(f"null {s}" for s in services) + " | " + " | ".join(f"gzip-4k {s}" for s in services) + " |")
print("|---|" + "---|" * (2 * len(services)))
for m in runners:
    if m in ("inline", "spawn-blocking"):
        continue
    row = [f(getattr(find(m, 1, "null", (s,)), "get", lambda k: None)("p50_us")) for s in services]
    row += [f(getattr(find(m, 1, "gzip-4k", (s,)), "get", lambda k: None)("p50_us")) for s in services]
    print(f"| {m} | " + " | ".join(row) + " |")
print("\nIdle CPU of the application's threads over 1 s, queues open, nothing submitted: " +
      ", ".join(f"{r['mode']} {r['idle_cpu_pct']:.3f} %" for r in idle) + ".\n")
print("Goals:\n")
for g in goals:
    v = {True: "**holds**", False: "**fails**", None: "n/a"}[g["holds"]]
    print(f"- {v} — {g['goal']}: {g['detail'].rstrip('; ')}")
