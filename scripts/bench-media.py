#!/usr/bin/env python3
"""tandem media beside rtpengine, in one run, under the same load.

The load is the rtpengine peer harness's own (PEERS_DIR, default "$repo/../shared/peers/rtpengine"): its C
generator rtpgen sends N relayed PCMU calls (both directions, 50 pps per direction per call, or N@PPS) over
127.0.0.1, its bench.run_step() sets the calls up over NG, measures loss, one-way latency and the relay
process's CPU from /proc, and deletes the calls. This script imports bench.py and ng.py from there and only
swaps the relay process: rtpengine (userspace forwarding, --table=-1) and `tandem media` (release build) both
run for the whole benchmark, each with its own NG port and media port range, and every step is run through
one then the other (alternating which goes first) so co-tenant load hits both alike.

Modes: relay (RTP/AVP <-> RTP/AVP) and srtp-relay (RTP/SAVP SDES AES_CM_128_HMAC_SHA1_80 <-> RTP/AVP); the
generator-alone baselines direct / srtp-direct give the added latency. Memory per stream: RSS growth of the
relay process with --mem-calls calls set up (no traffic), divided by the streams (2 per call).

Reported: per step, packets relayed per CPU-second of the relay process, loss, p50/p99 latency (absolute and
added over the baseline), CPU; then one summary line:
  media: tandem_pps_per_cpu=N rtpengine_pps_per_cpu=N ratio=R tandem_p99_us=N rtpengine_p99_us=N
taken in mode relay at the highest step both relays sustained (loss < 0.1 %, p99 < 10 ms, rate achieved),
p99 being the added p99 at that step.

  scripts/bench-media.py --tandem target/release/tandem --quick      # < 5 min
  scripts/bench-media.py --tandem target/release/tandem --steps 250,500,1000,1500 --duration 10
  scripts/bench-media.py --tandem target/release/tandem --steps 500,750,1000 --repeat 3 --modes relay
Loopback only; every step is bounded (--duration <= 15 s) and the whole run by --budget.
"""
import argparse
import datetime
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS_DIR = os.path.abspath(os.environ.get("PEERS_DIR", os.path.join(REPO, "..", "shared", "peers", "rtpengine")))
sys.path.insert(0, PEERS_DIR)
try:
    import bench  # noqa: E402  (the peer harness: generator driving, /proc measurements)
    import ng  # noqa: E402
except ImportError as e:
    raise SystemExit("cannot import bench.py/ng.py from PEERS_DIR=%s: %s" % (PEERS_DIR, e))

LO = "127.0.0.1"
RELAYS = ("rtpengine", "tandem")


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((LO, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


# ------------------------------------------------------------------ relay processes

class Relay:
    def __init__(self, name, proc, ng_port):
        self.name, self.proc, self.ng_port = name, proc, ng_port
        self.client = ng.NGClient(LO, ng_port, timeout=2.0, retries=3)
        self.client.is_rtpengine = name == "rtpengine"

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        self.client.close()
        bench.stop_proc(self.proc)  # SIGTERM to exactly this PID, SIGKILL after 5 s


def start_rtpengine(ports):
    bench.RTPE_PORT_MIN, bench.RTPE_PORT_MAX = ports
    ng_port = free_udp_port()
    proc, _args = bench.start_rtpengine(ng_port=ng_port)
    return Relay("rtpengine", proc, ng_port)


def start_tandem(binary, ports, workers, batch_window_us=None, name="tandem"):
    ng_port = free_udp_port()
    env = dict(os.environ, TANDEM_MEDIA_NG="%s:%d" % (LO, ng_port), TANDEM_MEDIA_BIND=LO,
               TANDEM_MEDIA_ADVERTISE="", TANDEM_MEDIA_PORT_MIN=str(ports[0]),
               TANDEM_MEDIA_PORT_MAX=str(ports[1]), TANDEM_MEDIA_METRICS="", TANDEM_MEDIA_TIMEOUT="600",
               RUST_LOG=os.environ.get("RUST_LOG", "warn"))
    if workers is not None:
        env["TANDEM_MEDIA_WORKERS"] = str(workers)
    if batch_window_us is not None:
        env["TANDEM_MEDIA_BATCH_WINDOW_US"] = str(batch_window_us)
    log = open(os.path.join(bench.SCRATCH, "%s-media-bench.log" % name), "w")
    proc = subprocess.Popen([binary, "media"], env=env, stdout=subprocess.PIPE, stderr=log)
    ready, _, _ = select.select([proc.stdout], [], [], 30.0)
    line = proc.stdout.readline().decode() if ready else ""
    if not line.startswith("tandem media:"):
        bench.stop_proc(proc)
        raise SystemExit("%s media did not start (%r); see %s/%s-media-bench.log" % (name, line, bench.SCRATCH, name))
    relay = Relay(name, proc, ng_port)
    relay.client.ping()
    return relay


# The peer harness asks rtpengine for its own relayed-packet counters ("statistics", an rtpengine extension);
# tandem counts in `query` and /metrics instead, so do not ask it.
_rtpe_relayed = bench.rtpe_relayed
bench.rtpe_relayed = lambda c: _rtpe_relayed(c) if getattr(c, "is_rtpengine", False) else (None, None)


# ------------------------------------------------------------------ measurements

def memory_per_stream(relay, calls_n, settle):
    """RSS growth of the relay with calls_n plain calls set up (no traffic), per stream (2 per call), read
    `settle` seconds after the set-up (the same for both relays): long enough for tandem's workers to take
    the calls' sockets and for its allocator (jemalloc, dirty pages returned after ~1 s) to give back what
    the set-up freed, so the figure is what the streams hold, not the set-up's garbage."""
    socks = bench.bind_sockets(calls_n)
    try:
        time.sleep(0.5)
        before = rss_kib(relay.pid)
        calls = bench.setup_calls(relay.client, calls_n, False, "mem-%s-%d" % (relay.name, os.getpid()), socks)
        time.sleep(settle)
        after = rss_kib(relay.pid)
        bench.delete_calls(relay.client, calls)
    finally:
        for s in socks:
            s.close()
    return dict(relay=relay.name, calls=calls_n, rss_before_kib=before, rss_after_kib=after,
                bytes_per_stream=round((after - before) * 1024.0 / (2 * calls_n)))


def pps_per_cpu(r):
    cpu = r.get("rtpe_cpu_pct")
    if not cpu:
        return None
    forwarded = r["rate_achieved"] * (1.0 - r["loss_pct"] / 100.0)
    return forwarded / (cpu / 100.0)


def step(relay, mode, n, rate, a, tag):
    bg = bench.wait_quiet(a.quiet_pct, a.quiet_wait)
    c = relay.client if relay else None
    pid = relay.pid if relay else None
    r = bench.run_step(mode, n, rate, a.duration, c, pid, step_tag=tag, tick_us=a.tick_us)
    r["relay"] = relay.name if relay else "generator"
    r["bg_busy_before_pct"] = bg
    r["loadavg"] = loadavg()
    r["ok"] = bench.sustainable(r, a.loss_limit, a.p99_limit_us)
    r["pps_per_cpu"] = pps_per_cpu(r)
    if relay and not relay.alive():
        raise SystemExit("%s died during %s %d" % (relay.name, mode, n))
    return r


# ------------------------------------------------------------------ report

def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def table(rows, baselines):
    out = ["| relay | mode | calls | pps target | pps sent | loss % | p50 us | p99 us | +p50 us | +p99 us |"
           " relay CPU % | pps per CPU-s | other % | ok |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        base = baselines.get((r["mode"], r["calls"], r["rate_target"]))
        lat = r["lat_us"]
        add50 = lat["p50"] - base["lat_us"]["p50"] if base and r["relay"] != "generator" else None
        add99 = lat["p99"] - base["lat_us"]["p99"] if base and r["relay"] != "generator" else None
        out.append("| %s | %s | %d | %d | %.0f | %.3f | %.0f | %.0f | %s | %s | %s | %s | %.0f | %s |" % (
            r["relay"], r["mode"], r["calls"], r["rate_target"], r["rate_achieved"], r["loss_pct"], lat["p50"],
            lat["p99"], fmt(add50, ".0f"), fmt(add99, ".0f"), fmt(r.get("rtpe_cpu_pct"), ".1f"),
            fmt(r["pps_per_cpu"], ".0f"), r.get("other_busy_pct", 0), "yes" if r["ok"] else "no"))
    return "\n".join(out)


def added_p99(r, baselines):
    base = baselines.get((r["mode"], r["calls"], r["rate_target"]))
    return r["lat_us"]["p99"] - base["lat_us"]["p99"] if base else r["lat_us"]["p99"]


def median(values):
    v = sorted(values)
    m = len(v) // 2
    return v[m] if len(v) % 2 else (v[m - 1] + v[m]) / 2.0


def aggregate(rows, baselines):
    """One row per (relay, mode, calls, rate) from its repeats: the median pps per CPU-s, loss and added p99,
    sustained when more than half of the repeats were, and the repeats' pps per CPU-s (for the spread)."""
    groups = {}
    for r in rows:
        groups.setdefault((r["relay"], r["mode"], r["calls"], r["rate_target"]), []).append(r)
    out = []
    for (relay, mode, n, rate), rs in groups.items():
        pps = [r["pps_per_cpu"] for r in rs if r.get("pps_per_cpu")]
        out.append(dict(relay=relay, mode=mode, calls=n, rate_target=rate, repeats=len(rs),
                        pps_per_cpu=median(pps) if pps else None, pps_each=pps,
                        loss_pct=median([r["loss_pct"] for r in rs]),
                        added_p99=median([added_p99(r, baselines) for r in rs]),
                        ok=2 * sum(1 for r in rs if r["ok"]) > len(rs)))
    return out


def summary(rows, baselines, loss_limit=0.1):
    """(criterion, (calls, rate), line): at the highest step of mode relay both relays sustained; failing
    that (an overloaded machine), the highest step both ran with loss below the limit. A step run more than
    once (--repeat) counts with its medians (see aggregate)."""
    by = {(r["relay"], r["calls"], r["rate_target"]): r for r in aggregate(rows, baselines) if r["mode"] == "relay"}
    steps = sorted({(n, rate) for (name, n, rate) in by if name == "tandem" and ("rtpengine", n, rate) in by})
    pick = lambda test: [k for k in steps if test(by[("tandem",) + k]) and test(by[("rtpengine",) + k])]  # noqa: E731
    criterion, candidates = "sustained by both (loss, p99 and rate limits)", pick(lambda r: r["ok"])
    if not candidates:
        criterion = "NOT sustained by both: highest step with loss < %.2f %% for both" % loss_limit
        candidates = pick(lambda r: r["loss_pct"] < loss_limit and r.get("pps_per_cpu"))
    if not candidates:
        return None, None, "media: no step in mode relay was measured for both relays (see the table)"
    n, rate = candidates[-1]
    t, e = by[("tandem", n, rate)], by[("rtpengine", n, rate)]
    tp, ep = t["pps_per_cpu"] or 0.0, e["pps_per_cpu"] or 0.0
    ratio = tp / ep if ep else 0.0
    return criterion, (n, rate), "media: tandem_pps_per_cpu=%d rtpengine_pps_per_cpu=%d ratio=%.2f tandem_p99_us=%d rtpengine_p99_us=%d" % (
        round(tp), round(ep), ratio, max(0, round(t["added_p99"])), max(0, round(e["added_p99"])))


def repeats_table(rows, baselines):
    """the medians of steps that ran more than once, with each repeat's ratio to rtpengine"""
    agg = [r for r in aggregate(rows, baselines) if r["relay"] != "generator"]
    if not any(r["repeats"] > 1 for r in agg):
        return None
    by = {(r["relay"], r["mode"], r["calls"], r["rate_target"]): r for r in agg}
    raw = {}
    for r in rows:
        raw.setdefault((r["relay"], r["mode"], r["calls"], r["rate_target"]), []).append(r)
    out = ["| relay | mode | calls | repeats | median pps per CPU-s | min-max | median ratio to rtpengine | ratio per repeat | median +p99 us | sustained |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in agg:
        e = by.get(("rtpengine", r["mode"], r["calls"], r["rate_target"]))
        ratio, each = "-", "-"
        if r["relay"] != "rtpengine" and e and e["pps_per_cpu"] and r["pps_per_cpu"]:
            ratio = "%.2f" % (r["pps_per_cpu"] / e["pps_per_cpu"])
            # The i-th repeat of each relay ran in the same round.
            mine = raw[(r["relay"], r["mode"], r["calls"], r["rate_target"])]
            theirs = raw[("rtpengine", r["mode"], r["calls"], r["rate_target"])]
            each = " ".join("%.2f" % (x["pps_per_cpu"] / y["pps_per_cpu"]) for x, y in zip(mine, theirs)
                            if x.get("pps_per_cpu") and y.get("pps_per_cpu"))
        pps = r["pps_each"]
        out.append("| %s | %s | %d | %d | %s | %s | %s | %s | %.0f | %s |" % (
            r["relay"], r["mode"], r["calls"], r["repeats"], fmt(r["pps_per_cpu"], ".0f"),
            "%.0f-%.0f" % (min(pps), max(pps)) if pps else "-", ratio, each, r["added_p99"],
            "yes" if r["ok"] else "no"))
    return "\n".join(out)


def print_report(meta, rows, mems, duration, wall=None):
    baselines = {}
    for r in rows:
        if r["relay"] == "generator":
            baselines[("srtp-relay" if r["mode"] == "srtp-direct" else "relay", r["calls"], r["rate_target"])] = r
    print("\n## tandem media beside rtpengine (%s, %d CPUs, load average at start %s, %.0f s per step)\n" % (
        meta["date"], meta["nproc"], meta["loadavg"], duration))
    print(table([r for r in rows if r["relay"] != "generator"] + [r for r in rows if r["relay"] == "generator"],
                baselines))
    if mems:
        print("\n| relay | calls set up | RSS before KiB | RSS after KiB | bytes per stream |\n|---|---|---|---|---|")
        for m in mems:
            print("| %s | %d | %d | %d | %d |" % (m["relay"], m["calls"], m["rss_before_kib"], m["rss_after_kib"],
                                               m["bytes_per_stream"]))
    medians = repeats_table(rows, baselines)
    if medians:
        print("\nSteps run more than once (--repeat): medians, and each round's ratio to rtpengine\n")
        print(medians)
    criterion, at, line = summary(rows, baselines)
    if at:
        print("\nsummary step: mode relay, %d calls, %d pps target, %s%s" % (
            at[0], at[1], criterion, "; wall %.0f s" % wall if wall else ""))
    print(line)
    if at:
        by = {(r["relay"], r["mode"], r["calls"], r["rate_target"]): r for r in aggregate(rows, baselines)}
        t, b = by.get(("tandem", "relay") + at), by.get(("tandem-baseline", "relay") + at)
        if t and b and t.get("pps_per_cpu") and b.get("pps_per_cpu"):
            print("before/after: tandem-baseline_pps_per_cpu=%d tandem_pps_per_cpu=%d ratio=%.2f "
                  "tandem-baseline_p99_us=%d tandem_p99_us=%d" % (
                      round(b["pps_per_cpu"]), round(t["pps_per_cpu"]), t["pps_per_cpu"] / b["pps_per_cpu"],
                      max(0, round(b["added_p99"])), max(0, round(t["added_p99"]))))


def report(path):
    """the table and summary of the last run recorded in a results .jsonl"""
    meta, rows, mems = None, [], []
    for line in open(path):
        d = json.loads(line)
        if "meta" in d:
            meta, rows, mems = d["meta"], [], []
        elif "memory" in d:
            mems.append(d["memory"])
        else:
            rows.append(d)
    print_report(meta, rows, mems, meta["duration"])


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tandem", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")),
                                                    "release", "tandem"), help="the tandem binary (release build)")
    ap.add_argument("--quick", action="store_true", help="4 steps of 5 s per mode: finishes in < 5 min")
    ap.add_argument("--modes", default="relay,srtp-relay")
    ap.add_argument("--steps", default=None, help="comma list of N (calls, 50 pps/dir) or N@AGG_PPS")
    ap.add_argument("--duration", type=float, default=None, help="seconds of traffic per step (<= 15)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each step this many times in a row (alternating which relay goes first); the "
                         "summary then uses each relay's medians and the report shows each round's ratio")
    ap.add_argument("--no-baseline", action="store_true", help="skip the generator-alone steps")
    ap.add_argument("--mem-calls", type=int, default=500, help="calls set up for the memory figure (0: skip)")
    ap.add_argument("--mem-settle", type=float, default=3.0,
                    help="seconds between setting the memory calls up and reading RSS (both relays)")
    ap.add_argument("--workers", type=int, default=None, help="tandem worker threads (default: one per CPU)")
    ap.add_argument("--batch-window-us", type=int, default=None,
                    help="tandem workers' batch window after a busy wake-up (default: tandem's, 500; 0 = none)")
    ap.add_argument("--baseline-tandem", metavar="BIN",
                    help="an earlier tandem binary run beside the others as relay tandem-baseline (before/after)")
    ap.add_argument("--baseline-ports", default="14000-19999")  # below the ephemeral range (32768-) too
    ap.add_argument("--rtpe-ports", default="20000-25999")
    ap.add_argument("--tandem-ports", default="26000-31999")
    ap.add_argument("--loss-limit", type=float, default=0.1)
    ap.add_argument("--p99-limit-us", type=float, default=10000.0)
    ap.add_argument("--quiet-pct", type=float, default=60.0,
                    help="before each step wait (at most --quiet-wait s) for machine-wide busy below this")
    ap.add_argument("--quiet-wait", type=float, default=5.0)
    ap.add_argument("--tick-us", type=float, default=500.0)
    ap.add_argument("--budget", type=float, default=None, help="stop starting steps after this many seconds")
    ap.add_argument("--out", default=os.path.join(bench.SCRATCH, "bench-media.jsonl"))
    ap.add_argument("--report", metavar="JSONL", help="only print the table and summary of the last run in a file")
    a = ap.parse_args()
    if a.report:
        report(a.report)
        return 0
    a.steps = a.steps or ("100,250,500,1000" if a.quick else "100,250,500,750,1000,1250,1500")
    a.duration = a.duration or (5.0 if a.quick else 10.0)
    a.budget = a.budget or (270.0 if a.quick else 1800.0)
    if not 0 < a.duration <= 15:
        ap.error("duration must be in (0, 15]")
    if not os.path.exists(bench.RTPGEN):
        raise SystemExit("%s missing: run %s/setup.sh" % (bench.RTPGEN, PEERS_DIR))
    if not os.access(a.tandem, os.X_OK):
        raise SystemExit("%s missing: cargo build --release -p tandem-stack --bin tandem" % a.tandem)
    ports = lambda s: tuple(int(x) for x in s.split("-"))  # noqa: E731
    t0 = time.monotonic()
    meta = dict(date=datetime.datetime.now().isoformat(timespec="seconds"), nproc=os.cpu_count(),
                loadavg=loadavg(), batch_window_us=a.batch_window_us, steps=a.steps, repeat=a.repeat, duration=a.duration, modes=a.modes, peers=PEERS_DIR,
                baseline_tandem=a.baseline_tandem, rtpengine=subprocess.run(["dpkg-query", "-W", "-f=${Version}", "rtpengine-daemon"],
                                         capture_output=True, text=True).stdout, tandem=a.tandem)
    print("# " + json.dumps(meta), flush=True)
    out = open(a.out, "a")
    out.write(json.dumps(dict(meta=meta)) + "\n")
    relays = []
    rows, mems = [], []
    try:
        relays.append(start_rtpengine(ports(a.rtpe_ports)))
        relays.append(start_tandem(a.tandem, ports(a.tandem_ports), a.workers, a.batch_window_us))
        if a.baseline_tandem:
            relays.append(start_tandem(a.baseline_tandem, ports(a.baseline_ports), a.workers, name="tandem-baseline"))
        print("# " + "; ".join("%s pid %d ng %d" % (r.name, r.pid, r.ng_port) for r in relays), flush=True)
        if a.mem_calls:
            for relay in relays:
                m = memory_per_stream(relay, a.mem_calls, a.mem_settle)
                mems.append(m)
                out.write(json.dumps(dict(memory=m)) + "\n")
                print("# memory %s: %s" % (relay.name, json.dumps(m)), flush=True)
        k = 0
        for mode in a.modes.split(","):
            base_mode = "srtp-direct" if mode.startswith("srtp") else "direct"
            for n, rate in [s for s in bench.parse_steps(a.steps) for _ in range(max(1, a.repeat))]:
                if time.monotonic() - t0 > a.budget:
                    print("# budget of %.0f s spent: skipping %s %d and later steps" % (a.budget, mode, n), flush=True)
                    break
                k += 1
                order = relays if k % 2 else relays[::-1]
                todo = [(None, base_mode)] if not a.no_baseline else []
                todo += [(relay, mode) for relay in order]
                for relay, m in todo:
                    try:
                        r = step(relay, m, n, rate, a, "bm%d-%d-%s" % (os.getpid(), k, relay.name if relay else "g"))
                    except RuntimeError as e:  # the generator gave up (its watchdog), e.g. on an overloaded box
                        print("# %s %s %d calls: step failed: %s" % (relay.name if relay else "generator", m, n,
                                                                    str(e).strip()[:200]), flush=True)
                        continue
                    rows.append(r)
                    out.write(json.dumps(r) + "\n")
                    out.flush()
                    print("# %-9s %-11s %5d calls %7.0f pps loss %.3f%% p50 %.0f p99 %.0f us cpu %s%% pps/cpu %s other %.0f%%" % (
                        r["relay"], m, n, r["rate_achieved"], r["loss_pct"], r["lat_us"]["p50"], r["lat_us"]["p99"],
                        r.get("rtpe_cpu_pct", "-"), fmt(r["pps_per_cpu"], ".0f"), r.get("other_busy_pct", 0)),
                        flush=True)
                    time.sleep(0.5)
    finally:
        for relay in relays:
            relay.stop()
        out.close()
    print_report(meta, rows, mems, a.duration, time.monotonic() - t0)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the finally: stop exactly our relays
    sys.exit(main())
