#!/usr/bin/env python3
"""driver.py - runs the cxm benchmarks; bench/run.sh builds the tools and
calls it. Every figure is printed beside its reference, measured in the same
run and interleaved with it (server run, reference run, server run, ...), so
that the load other tenants put on this shared machine hits both alike.
Figures are medians of BENCH_RUNS (>= 3) runs. These are benchmarks, never
tests: the exit status is 0 whether targets are met or not (1 only when a
benchmark could not run).

Options come from the environment; see run.sh for the list."""

import http.client
import datetime
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


def env_float(name, default):
    v = os.environ.get(name, "")
    return float(v) if v.strip() else default


QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
RUNS = max(3, env_int("BENCH_RUNS", 3))
DURATION = env_int("BENCH_DURATION", 3 if QUICK else 10)
WARMUP = env_int("BENCH_WARMUP", 1 if QUICK else 2)
CONNS = env_int("BENCH_CONNS", 32)
THREADS = env_int("BENCH_THREADS", 2)
PER_BATCH = env_int("BENCH_BATCH_SIZE", 100)
USERS = env_int("BENCH_USERS", 10000)
RATE = env_int("BENCH_RATE", 10000)
LG_CONNS = env_int("BENCH_LG_CONNS", 64)  # >= rate x p99 budget (Little): 10k/s x 5 ms = 50
IMPORT_EVENTS = env_int("BENCH_IMPORT_EVENTS", 200000 if QUICK else 1000000)
IMPORT_USERS = env_int("BENCH_IMPORT_USERS", 50000)
IMPORT_GROUP = env_int("BENCH_IMPORT_GROUP", 20000)  # src/cmd_import.c IMPORT_BATCH
REF_MIN_ROWS = env_int("BENCH_REF_MIN_ROWS", 200000 if QUICK else 500000)
SCALE = os.environ.get("BENCH_SCALE", "") not in ("", "0")
SCALE_FACTOR = env_float("BENCH_SCALE_FACTOR", 0.01 if QUICK else 1.0)
ONLY = set(os.environ.get("BENCH_ONLY", "1 2 3 4 5 6 7 8 9 10").replace(",", " ").split())
DEMO_CUSTOMERS = env_int("BENCH_DEMO_CUSTOMERS", 5000 if QUICK else 50000)
API_REPS = env_int("BENCH_API_REPS", 21)
PROFILE = os.environ.get("BENCH_PROFILE", "") not in ("", "0")
KEEP = os.environ.get("BENCH_KEEP", "") not in ("", "0")
VERIFY = os.environ.get("BENCH_VERIFY", "") not in ("", "0")  # part 6: check DuckDB's SQL too
OUT = os.path.abspath(os.environ.get("BENCH_OUT", os.path.join(HERE, "out")))
TMP = os.path.abspath(os.environ.get("BENCH_TMP", os.path.join(OUT, "work")))
BIN = os.path.join(OUT, "bin")
CXM = os.path.abspath(os.environ.get("CXM_BIN", os.path.join(ROOT, "build", "cxm")))
STAMP = time.strftime("%Y%m%d-%H%M%S")

results = {"started": STAMP, "quick": QUICK, "runs": RUNS, "parts": {}}
summary = []  # rows of the final table


def say(*a):
    print(*a, flush=True)


def fmt(v, unit=""):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        s = f"{v:,.0f}"
    elif abs(v) >= 100:
        s = f"{v:.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return s + unit


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ---------------------------------------------------------------- processes

class Server:
    """A `cxm serve` on a loopback port; start-up is timed from exec to the
    "listening" log line."""

    def __init__(self, data, tag, perf_to=None):
        self.data = data
        self.perf = None
        self.log_path = os.path.join(OUT, "logs", f"{STAMP}-{tag}.log")
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        self.listening = threading.Event()
        self.port = None
        self.startup_ms_logged = None
        self.t_exec = time.monotonic()
        self.p = subprocess.Popen([CXM, "serve", "--data", data, "--listen", "127.0.0.1:0"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        if perf_to:  # record the start-up: attach at once, stop at "listening"
            self.perf = subprocess.Popen(["perf", "record", "-F", "997", "-g", "-o", perf_to, "-p",
                                          str(self.p.pid)], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
        self.t_listen = None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.listening.wait(600):
            self.stop()
            raise RuntimeError(f"cxm serve did not start; see {self.log_path}")
        if self.port is None:
            raise RuntimeError(f"cxm serve exited; see {self.log_path}")
        self.startup_wall_ms = (self.t_listen - self.t_exec) * 1000
        if self.perf:
            self.perf.send_signal(signal.SIGINT)
            self.perf.wait(120)

    def _read(self):
        with open(self.log_path, "wb") as log:
            for line in self.p.stderr:
                log.write(line)
                if self.port is None:
                    try:
                        o = json.loads(line)
                    except ValueError:
                        continue
                    if o.get("msg") == "listening":
                        self.t_listen = time.monotonic()
                        self.port = int(o["port"])
                        self.startup_ms_logged = float(o.get("startup_ms", "nan"))
                        self.logged = o
                        self.listening.set()
            self.listening.set()

    @property
    def pid(self):
        return self.p.pid

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(120)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.reader.join(5)


def cxm_init(data):
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(os.path.dirname(data), exist_ok=True)
    out = subprocess.run([CXM, "init", "--data", data], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def basic_auth(key):
    import base64
    return "Basic " + base64.b64encode((key + ":").encode()).decode()


def http_get(port, path, token=None, timeout=600):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"Authorization": "Bearer " + token} if token else {}
    c.request("GET", path, headers=h)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def metrics(port):
    st, body = http_get(port, "/metrics")
    m = {}
    for line in body.decode().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        k, _, v = line.rpartition(" ")
        try:
            m[k] = float(v)
        except ValueError:
            pass
    return m


def store_deltas(m0, m1):
    """Events ingested, commits and seconds in COMMIT between two /metrics."""
    d = lambda k: m1.get(k, 0) - m0.get(k, 0)
    return (d("cxm_events_ingested_total"), d("cxm_store_commits_total"),
            d("cxm_store_commit_seconds_total"))


def sync_note(m0, m1, seconds):
    """", N fdatasyncs/s, X% of the time" when the server reports its syncer."""
    if "cxm_store_syncs_total" not in m1:
        return "", None
    n = m1["cxm_store_syncs_total"] - m0.get("cxm_store_syncs_total", 0)
    t = m1.get("cxm_store_sync_seconds_total", 0) - m0.get("cxm_store_sync_seconds_total", 0)
    return (f", {n / seconds:,.0f} fdatasyncs/s busy {100 * t / seconds:.0f}% of the time",
            {"syncs": n, "sync_share": t / seconds})


def proc_status(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def proc_write_bytes(pid):
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run_measured(cmd, **kw):
    """subprocess.run plus the child's CPU seconds and bytes written to storage."""
    import resource
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    wall = time.monotonic() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return out, wall, cpu, (r1.ru_oublock - r0.ru_oublock) * 512


TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid):
    """{tid: cpu seconds} of the process's threads, and the process total."""
    out = {}
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                out[int(tid)] = (int(fields[11]) + int(fields[12])) / TICK
            except (OSError, IndexError):
                pass
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / TICK
    except OSError:
        total = None
    return out, total


def cpu_split(before, after, seconds):
    """Cores used over the window: the whole process and its busiest thread
    (under load that is the single writer thread: every insert runs there;
    HTTP connection threads each carry one connection)."""
    tb, totb = before
    ta, tota = after
    if totb is None or tota is None:
        return None
    per = sorted(((ta[t] - tb.get(t, 0)) for t in ta), reverse=True)
    return {"total_cores": (tota - totb) / seconds,
            "busiest_thread_cores": (per[0] if per else 0) / seconds,
            "threads": len(ta)}


def run_json(cmd, **kw):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"no JSON from {cmd}: {out.stdout} {out.stderr}")


def db_bytes(data):
    n = 0
    for f in ("cxm.db", "cxm.db-wal"):
        try:
            n += os.path.getsize(os.path.join(data, f))
        except OSError:
            pass
    return n


def db_query(path, sql):
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return c.execute(sql).fetchone()
    finally:
        c.close()


def avg_body(path):
    """Mean stored message size, wherever the schema keeps the text."""
    # blocks (lib/store/bodies.c): a block is u32 n, u32 end[n], the bodies;
    # packed ("LZ41"), its length is the u32 at byte 4 of data
    try:
        c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            total = n = 0
            for data, k in c.execute("SELECT data, n FROM event_blocks"):
                raw = int.from_bytes(data[4:8], "little") if data[:4] == b"LZ41" else len(data)
                total += raw - 4 - 4 * k
                n += k
            if n:
                return total / n
        finally:
            c.close()
    except sqlite3.OperationalError:
        pass
    for sql in ("SELECT avg(length(body)) FROM events",
                "SELECT avg(length(body)) FROM event_bodies"):
        try:
            v = db_query(path, sql)[0]
        except sqlite3.OperationalError:
            continue
        if v is not None:
            return v
    return None


def perf_available():
    return shutil.which("perf") is not None


def perf_report(data_file, out_txt):
    """Per-thread summary (perf_summary.py) on screen; the full flat profile
    in out_txt."""
    rep = subprocess.run(["perf", "report", "-i", data_file, "--no-children", "--stdio", "-g",
                          "none", "--sort", "dso,symbol", "--percent-limit", "0.3"],
                         capture_output=True, text=True)
    summ = subprocess.run([sys.executable, os.path.join(HERE, "perf_summary.py"), data_file,
                           "--top", "10"], capture_output=True, text=True).stdout
    with open(out_txt, "w") as f:
        f.write(summ + "\n" + rep.stdout)
    return summ.rstrip("\n").splitlines()


def machine_state():
    """Load average and CPU pressure: how much the other tenants of this
    shared machine took while a part ran."""
    load = open("/proc/loadavg").read().split()[:3]
    psi = ""
    try:
        with open("/proc/pressure/cpu") as f:
            some = f.readline().split()
        psi = ", CPU pressure " + some[1].split("=")[1] + "% (avg10)"
    except (OSError, IndexError):
        pass
    return f"load {' '.join(load)}{psi}"


def add_summary(metric, cxm, ref, ratio, target, ok, unit=""):
    summary.append((metric, fmt(cxm, unit), fmt(ref, unit) if not isinstance(ref, str) else ref,
                    "—" if ratio is None else f"{ratio:.2f}×", target,
                    "—" if ok is None else ("pass" if ok else "FAIL")))


# ---------------------------------------------------------------- 1. batch

def wrk_run(port, auth, seconds, conns):
    cmd = ["wrk", f"-t{THREADS}", f"-c{conns}", f"-d{seconds}s", "--timeout", "30s",
           "-s", os.path.join(HERE, "batch.lua"), f"http://127.0.0.1:{port}", "--",
           auth, str(PER_BATCH), str(USERS), "64"]
    import resource
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            o = json.loads(line[len("BENCH_JSON "):])
            o["wrk_cores"] = ((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) / seconds
            return o
    raise RuntimeError("wrk printed no result:\n" + out.stdout + out.stderr)


def part_batch():
    say(f"\n== 1. /v1/batch throughput: {PER_BATCH} track messages per request, wrk -t{THREADS} "
        f"-c{CONNS}, {DURATION} s per run, {RUNS} runs; reference: ref_sqlite_append synth")
    runs = []
    for i in range(RUNS + (1 if PROFILE and perf_available() else 0)):
        data = os.path.join(TMP, "batch")
        creds = cxm_init(data)
        auth = basic_auth(creds["write_key"])
        srv = Server(data, f"batch{i + 1}")
        prof = None
        try:
            wrk_run(srv.port, auth, WARMUP, CONNS)  # warm-up: connections, caches, allocator
            m0 = metrics(srv.port)
            c0 = thread_cpu(srv.pid)
            wb0 = proc_write_bytes(srv.pid)
            if i == RUNS:  # an extra run under perf, left out of the medians
                prof = os.path.join(OUT, f"perf-batch-{STAMP}.data")
                pp = subprocess.Popen(["perf", "record", "-F", "997", "-g", "-o", prof, "-p",
                                       str(srv.pid), "--", "sleep", str(DURATION)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            w = wrk_run(srv.port, auth, DURATION, CONNS)
            c1 = thread_cpu(srv.pid)
            wb1 = proc_write_bytes(srv.pid)
            m1 = metrics(srv.port)
            if prof:
                pp.wait()
            rss = proc_status(srv.pid, "VmRSS")
        finally:
            srv.stop()
        ev, commits, commit_s = store_deltas(m0, m1)
        group = ev / commits if commits else PER_BATCH
        body = avg_body(os.path.join(data, "cxm.db"))
        eps = w["ok"] * PER_BATCH / w["duration_s"]
        sync_s, sync = sync_note(m0, m1, w["duration_s"])
        cpu = cpu_split(c0, c1, w["duration_s"])
        ref_rows = max(REF_MIN_ROWS, int(ev))
        ref = run_json([os.path.join(BIN, "ref_sqlite_append"), "synth", "--db",
                        os.path.join(TMP, "ref-batch.db"), "--rows", str(ref_rows), "--group",
                        str(max(1, round(group))), "--body-bytes", str(round(body or 380)),
                        "--users", str(USERS)])
        wpe = (wb1 - wb0) / ev if ev and wb0 is not None and wb1 is not None else None
        ref_wpe = ref["write_bytes"] / ref["rows"] if ref.get("write_bytes", -1) > 0 else None
        r = {"events_per_s": eps, "wrk": w, "server_events": ev, "commits": commits,
             "written_per_event": wpe, "ref_written_per_row": ref_wpe, "sync": sync,
             "group": group, "commit_share": commit_s / w["duration_s"], "avg_body": body,
             "cpu": cpu, "rss": rss, "ref": ref, "ratio": eps / ref["rows_per_s"]}
        if i < RUNS:
            runs.append(r)
        cpu_s = (f"; server {cpu['total_cores']:.2f} cores, busiest thread "
                 f"{cpu['busiest_thread_cores']:.2f}, wrk {w['wrk_cores']:.2f}" if cpu else "")
        label = f"run {i + 1}" if i < RUNS else "perf run (not in the medians)"
        say(f"  {label}: cxm {fmt(eps)} ev/s ({w['ok']} × 2xx, {w['non2xx']} non-2xx, "
            f"{w['socket_errors']} socket errors; group {group:.0f} ev/commit, COMMIT "
            f"{100 * r['commit_share']:.0f}% of the time{sync_s}{cpu_s}; wrk p50 {w['lat_p50_ms']:.1f} ms, "
            f"p99 {w['lat_p99_ms']:.1f} ms)")
        say(f"         ref {fmt(ref['rows_per_s'])} rows/s ({ref['rows']} rows, group "
            f"{ref['group']}, body {ref['avg_body']:.0f} B)  ratio {r['ratio']:.2f}")
        if wpe and ref_wpe:
            say(f"         written to storage: cxm {wpe:,.0f} B/event, ref {ref_wpe:,.0f} B/row")
        if prof:
            rows = perf_report(prof, os.path.join(OUT, f"perf-batch-{STAMP}.txt"))
            say(f"  perf, cxm serve during that run (full profile: {prof[:-5]}.txt):")
            for l in rows:
                say("  " + l)
    shutil.rmtree(os.path.join(TMP, "batch"), ignore_errors=True)
    for f in ("ref-batch.db", "ref-batch.db-wal", "ref-batch.db-shm"):
        try:
            os.unlink(os.path.join(TMP, f))
        except OSError:
            pass
    eps = med([r["events_per_s"] for r in runs])
    ref = med([r["ref"]["rows_per_s"] for r in runs])
    ratio = med([r["ratio"] for r in runs])
    non2xx = sum(r["wrk"]["non2xx"] + r["wrk"]["socket_errors"] for r in runs)
    say(f"  median: cxm {fmt(eps)} ev/s | ref {fmt(ref)} rows/s | ratio {ratio:.2f} (median of "
        f"per-run ratios) | errors/non-2xx over all runs: {non2xx} | messages "
        f"{runs[0]['wrk']['bytes_per_message']:.0f} B as sent, {runs[0]['avg_body']:.0f} B stored")
    results["parts"]["batch"] = {"runs": runs, "median_events_per_s": eps,
                                 "median_ref_rows_per_s": ref, "median_ratio": ratio}
    add_summary("/v1/batch events/s (100/req)", eps, ref, ratio, "≥ 250,000", eps >= 250000)
    add_summary("/v1/batch ratio to reference", ratio, 1.0, None, "≥ 0.5×", ratio >= 0.5, "×")


# ---------------------------------------------------------------- 2. latency

def loadgen(port, path, auth, tag):
    cmd = [os.path.join(BIN, "loadgen"), "--port", str(port), "--path", path, "--rate", str(RATE),
           "--duration", str(DURATION), "--warmup", str(WARMUP), "--connections", str(LG_CONNS),
           "--users", str(USERS)]
    if auth:
        cmd += ["--auth", auth]
    return run_json(cmd)


def part_latency():
    say(f"\n== 2. /v1/track latency at a fixed {RATE:,} requests/s (open loop, {LG_CONNS} "
        f"connections, {DURATION} s measured after {WARMUP} s warm-up, {RUNS} runs); reference: "
        "the same load against bench/static_server.c")
    runs = []
    for i in range(RUNS):
        sp = subprocess.Popen([os.path.join(BIN, "static_server")], stdout=subprocess.PIPE,
                              text=True)
        try:
            port = json.loads(sp.stdout.readline())["port"]
            ref = loadgen(port, "/v1/track", None, "static")
        finally:
            sp.send_signal(signal.SIGTERM)
            sp.wait(10)
        data = os.path.join(TMP, "latency")
        creds = cxm_init(data)
        srv = Server(data, f"latency{i + 1}")
        try:
            m0 = metrics(srv.port)
            c0 = thread_cpu(srv.pid)
            wb0 = proc_write_bytes(srv.pid)
            lg = loadgen(srv.port, "/v1/track", basic_auth(creds["write_key"]), "cxm")
            c1 = thread_cpu(srv.pid)
            wb1 = proc_write_bytes(srv.pid)
            m1 = metrics(srv.port)
        finally:
            srv.stop()
        ev, commits, commit_s = store_deltas(m0, m1)
        group = ev / commits if commits else None
        span = DURATION + WARMUP
        sync_s, sync = sync_note(m0, m1, span)
        cpu = cpu_split(c0, c1, span)
        wpe = (wb1 - wb0) / ev if ev and wb0 is not None and wb1 is not None else None
        runs.append({"cxm": lg, "ref": ref, "group": group, "cpu": cpu, "commits": commits,
                     "written_per_event": wpe,
                     "commit_share": commit_s / span})
        for name, o in (("ref", ref), ("cxm", lg)):
            extra = ""
            if name == "cxm" and group:
                extra = (f" ({commits / span:,.0f} commits/s of {group:.1f} requests, COMMIT "
                         f"{100 * commit_s / span:.0f}% of the time{sync_s}"
                         + (f", server {cpu['total_cores']:.2f} cores = "
                            f"{1e6 * cpu['total_cores'] / max(ev / span, 1):.0f} µs CPU/request, "
                            f"busiest thread {cpu['busiest_thread_cores']:.2f}" if cpu else "")
                         + (f", wrote {wpe:,.0f} B/request" if wpe else "") + ")")
            say(f"  run {i + 1} {name}: {o['achieved_rate']:,.0f} req/s, p50 {o['p50_ms']:.2f} ms, "
                f"p90 {o['p90_ms']:.2f}, p99 {o['p99_ms']:.2f}, p99.9 {o['p999_ms']:.2f}, max "
                f"{o['max_ms']:.1f}, errors {o['errors']}" + extra)
    shutil.rmtree(os.path.join(TMP, "latency"), ignore_errors=True)
    agg = {}
    for name in ("cxm", "ref"):
        agg[name] = {k: med([r[name][k] for r in runs])
                     for k in ("achieved_rate", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms")}
        agg[name]["errors"] = sum(r[name]["errors"] for r in runs)
    c, r = agg["cxm"], agg["ref"]
    say("  median:        rate      p50      p90      p99    p99.9   errors")
    for name in ("cxm", "ref"):
        a = agg[name]
        say(f"    {name:8s} {a['achieved_rate']:9,.0f} {a['p50_ms']:7.2f}  {a['p90_ms']:7.2f}  "
            f"{a['p99_ms']:7.2f}  {a['p999_ms']:7.2f}   {a['errors']}")
    results["parts"]["latency"] = {"runs": runs, "median": agg}
    rate_ok = c["achieved_rate"] >= 0.98 * RATE and c["errors"] == 0
    add_summary(f"/v1/track p50 ms @ {RATE:,}/s", c["p50_ms"], r["p50_ms"],
                c["p50_ms"] / r["p50_ms"] if r["p50_ms"] else None, "(report)", None)
    add_summary(f"/v1/track p99 ms @ {RATE:,}/s", c["p99_ms"], r["p99_ms"],
                c["p99_ms"] / r["p99_ms"] if r["p99_ms"] else None, "< 5 ms, rate held",
                c["p99_ms"] < 5 and rate_ok)
    add_summary(f"/v1/track p99.9 ms @ {RATE:,}/s", c["p999_ms"], r["p999_ms"],
                c["p999_ms"] / r["p999_ms"] if r["p999_ms"] else None, "(report)", None)


# ---------------------------------------------------------------- 3. import

def gen_events(path, events, users):
    t = time.monotonic()
    with open(path, "wb") as f:
        subprocess.run([os.path.join(BIN, "gen_events"), "--events", str(events), "--users",
                        str(users)], check=True, stdout=f)
    return time.monotonic() - t


IMPORT_RE = re.compile(r"imported (\d+) events \((\d+) duplicates skipped\) in ([\d.]+) s")


def cxm_import(path, data, profile_to=None):
    cmd = [CXM, "import", "events", path, "--data", data]
    if profile_to:
        cmd = ["perf", "record", "-F", "997", "-g", "-o", profile_to, "--"] + cmd
    out, wall, cpu, written = run_measured(cmd)
    if out.returncode:
        raise RuntimeError(f"cxm import failed: {out.stderr[-2000:]}")
    m = IMPORT_RE.search(out.stderr)
    n = int(m.group(1)) if m else None
    return {"wall_s": wall, "events": n, "cpu_s": cpu, "written": written, "duplicates": int(m.group(2)) if m else None,
            "self_s": float(m.group(3)) if m else None,
            "events_per_s": n / wall if n else None,
            "self_events_per_s": n / float(m.group(3)) if m and float(m.group(3)) > 0 else None}


def ref_import(path, db):
    out, wall, cpu, written = run_measured(
        [os.path.join(BIN, "ref_sqlite_append"), "file", "--db", db, "--input", path, "--group",
         str(IMPORT_GROUP)], check=True)
    r = json.loads([l for l in out.stdout.splitlines() if l.startswith("{")][-1])
    r.update({"wall_s": wall, "cpu_s": cpu, "written": written,
              "rows_per_s_wall": r["rows"] / wall})
    return r


def part_import():
    path = os.path.join(TMP, f"events-{IMPORT_EVENTS}.jsonl")
    os.makedirs(TMP, exist_ok=True)
    gt = gen_events(path, IMPORT_EVENTS, IMPORT_USERS)
    size = os.path.getsize(path)
    say(f"\n== 3. cxm import events: {IMPORT_EVENTS:,} messages, {IMPORT_USERS:,} users "
        f"({size / IMPORT_EVENTS:.0f} B/line, generated in {gt:.1f} s), {RUNS} runs, fresh data "
        f"dir each; reference: ref_sqlite_append file (same lines, group {IMPORT_GROUP})")
    runs = []
    for i in range(RUNS + (1 if PROFILE and perf_available() else 0)):
        data = os.path.join(TMP, "import")
        cxm_init(data)
        prof = None
        if i == RUNS:  # an extra run under perf, left out of the medians
            prof = os.path.join(OUT, f"perf-import-{STAMP}.data")
        c = cxm_import(path, data, prof)
        c["db_bytes"] = db_bytes(data)
        ref = ref_import(path, os.path.join(TMP, "ref-import.db"))
        ratio = c["events_per_s"] / ref["rows_per_s_wall"] if c["events_per_s"] else None
        if i < RUNS:
            runs.append({"cxm": c, "ref": ref, "ratio": ratio})
        label = f"run {i + 1}" if i < RUNS else "perf run (not in the medians)"
        say(f"  {label}: cxm {fmt(c['events_per_s'])} ev/s wall ({c['events']:,} events in "
            f"{c['wall_s']:.2f} s, CPU {c['cpu_s']:.2f} s, wrote {c['written'] / c['events']:,.0f}"
            f" B/event; own report {fmt(c['self_events_per_s'])} ev/s)")
        say(f"         ref {fmt(ref['rows_per_s_wall'])} rows/s ({ref['wall_s']:.2f} s, CPU "
            f"{ref['cpu_s']:.2f} s, wrote {ref['written'] / ref['rows']:,.0f} B/row)  "
            f"ratio {ratio:.2f}")
        if prof:
            rows = perf_report(prof, os.path.join(OUT, f"perf-import-{STAMP}.txt"))
            say(f"  perf, cxm import (full profile: {prof[:-5]}.txt):")
            for l in rows:
                say("  " + l)
    shutil.rmtree(os.path.join(TMP, "import"), ignore_errors=True)
    for f in (path, os.path.join(TMP, "ref-import.db")):
        try:
            os.unlink(f)
        except OSError:
            pass
    eps = med([r["cxm"]["events_per_s"] for r in runs])
    ref = med([r["ref"]["rows_per_s_wall"] for r in runs])
    ratio = med([r["ratio"] for r in runs])
    say(f"  median: cxm {fmt(eps)} ev/s | ref {fmt(ref)} rows/s | ratio {ratio:.2f}")
    results["parts"]["import"] = {"runs": runs, "median_events_per_s": eps,
                                  "median_ref_rows_per_s": ref, "median_ratio": ratio}
    add_summary(f"import events/s ({IMPORT_EVENTS / 1e6:g}M msgs)", eps, ref, ratio,
                "≥ 500,000", eps >= 500000)


# ---------------------------------------------------------------- 4. scale

SCALE_EVENTS = int(10_000_000 * SCALE_FACTOR)
SCALE_USERS = max(1, int(1_000_000 * SCALE_FACTOR))
_scale = {}  # the scale store of this run, once built


def scale_store(fresh=False):
    """The scale data set of parts 4 and 6: gen_events' SCALE_EVENTS lines of
    SCALE_USERS users imported with `cxm import events` into TMP/scale.
    Built once per run and shared; part 4 asks for a fresh one (it measures
    the import). Otherwise a store kept by an earlier run (BENCH_KEEP=1) is
    reused when its marker names the same events and users. Returns
    {data, path, events, users, creds, imp (None when reused)}."""
    events, users = SCALE_EVENTS, SCALE_USERS
    data = os.path.join(TMP, "scale")
    marker = os.path.join(data, "bench-scale.json")
    if _scale and not fresh:
        return _scale
    if not fresh and KEEP and os.path.exists(marker):
        with open(marker) as f:
            m = json.load(f)
        if m.get("events") == events and m.get("users") == users:
            say(f"  reusing the scale store kept in {data} ({events:,} events, {users:,} users)")
            _scale.update(m, data=data, path=None, imp=None)
            return _scale
    path = os.path.join(TMP, f"scale-{events}.jsonl")
    os.makedirs(TMP, exist_ok=True)
    gt = gen_events(path, events, users)
    say(f"  generated {events:,} events of {users:,} users, {os.path.getsize(path) / 1e9:.2f} GB "
        f"in {gt:.0f} s")
    creds = cxm_init(data)
    imp = cxm_import(path, data)
    say(f"  cxm import: {imp['events']:,} events in {imp['wall_s']:.1f} s "
        f"({fmt(imp['events_per_s'])} ev/s)")
    with open(marker, "w") as f:
        json.dump({"events": events, "users": users, "creds": creds}, f)
    _scale.clear()
    _scale.update(data=data, path=path, events=events, users=users, creds=creds, imp=imp)
    return _scale


def scale_cleanup():
    """Without BENCH_KEEP, the scale store and its generated lines go at the
    end of the run (parts 4 and 6 share them)."""
    if KEEP or not _scale:
        return
    shutil.rmtree(_scale["data"], ignore_errors=True)
    if _scale.get("path"):
        try:
            os.unlink(_scale["path"])
        except OSError:
            pass


def part_scale():
    events, users = SCALE_EVENTS, SCALE_USERS
    say(f"\n== 4. scale: {events:,} events of {users:,} users (factor {SCALE_FACTOR:g}); "
        f"import, then restart cxm serve {RUNS} times")
    st = scale_store(fresh=True)
    data, path, creds, imp = st["data"], st["path"], st["creds"], st["imp"]
    disk_closed = db_bytes(data)
    ref_db = os.path.join(TMP, "ref-scale.db")
    ref = ref_import(path, ref_db)
    say(f"  ref import: {ref['rows']:,} rows in {ref['wall_s']:.1f} s "
        f"({fmt(ref['rows_per_s_wall'])} rows/s), {ref['db_bytes'] / ref['rows']:.0f} B/row on disk")
    starts = []
    for i in range(RUNS):
        srv = Server(data, f"scale{i + 1}")
        try:
            rss0 = proc_status(srv.pid, "VmRSS")
            q = {}
            if i == 0:
                q = scale_queries(srv.port, creds["admin_token"], users)
            rss1 = proc_status(srv.pid, "VmRSS")
            hwm = proc_status(srv.pid, "VmHWM")
            anon = proc_status(srv.pid, "RssAnon")
            filemap = proc_status(srv.pid, "RssFile")
            disk_open = db_bytes(data)
        finally:
            srv.stop()
        s = {"startup_wall_ms": srv.startup_wall_ms, "startup_ms_logged": srv.startup_ms_logged,
             "events": int(srv.logged.get("events", 0)),
             "customers": int(srv.logged.get("customers", 0)), "rss_start": rss0,
             "rss_after_queries": rss1, "vm_hwm": hwm, "rss_anon": anon, "rss_file": filemap,
             "disk_open": disk_open, "queries": q}
        starts.append(s)
        say(f"  start {i + 1}: listening after {srv.startup_wall_ms:.0f} ms (log says "
            f"startup_ms {srv.startup_ms_logged:.0f}); {s['events']:,} events, "
            f"{s['customers']:,} customers; RSS {rss0 / 2**20:.0f} MiB at start, "
            f"{rss1 / 2**20:.0f} MiB after queries (peak {hwm / 2**20:.0f} MiB; of it heap "
            f"{anon / 2**20:.0f} MiB, mapped database file {filemap / 2**20:.0f} MiB)")
        if q:
            say("    queries: " + ", ".join(f"{k} {v}" for k, v in q.items()))
    # the same start without the timelines snapshot: the whole log scanned
    snap = os.path.join(data, "cxm.db-timelines")
    full = []
    for i in range(RUNS):
        try:
            os.unlink(snap)
        except OSError:
            pass
        srv = Server(data, f"scale-full{i + 1}")
        srv.stop()
        full.append(srv.startup_wall_ms)
        say(f"  start without the snapshot {i + 1}: listening after {srv.startup_wall_ms:.0f} ms")
    full_ms = med(full)
    if PROFILE and perf_available():
        prof = os.path.join(OUT, f"perf-startup-{STAMP}.data")
        srv = Server(data, "scale-perf", perf_to=prof)
        srv.stop()
        say(f"  start under perf (not in the medians): listening after {srv.startup_wall_ms:.0f} ms;"
            f" full profile: {prof[:-5]}.txt")
        for l in perf_report(prof, prof[:-5] + ".txt"):
            say("  " + l)
    # reference for start-up: the bare scan of (seq, customer_id, ts) over the same file
    scans = [run_json([os.path.join(BIN, "ref_sqlite_append"), "scan", "--db",
                       os.path.join(data, "cxm.db")]) for _ in range(RUNS)]
    scan_ms = med([x["seconds"] * 1000 for x in scans])
    n_events = starts[0]["events"] or imp["events"] or events
    startup = med([s["startup_wall_ms"] for s in starts])
    rss_start = med([s["rss_start"] for s in starts])
    rss_q = starts[0]["rss_after_queries"]
    bpe = disk_closed / n_events
    ref_bpe = ref["db_bytes"] / ref["rows"]
    say(f"  median start-up {startup:.0f} ms (from the snapshot; {full_ms:.0f} ms scanning the whole "
        f"log) | ref: bare scan of (seq, customer_id, ts) "
        f"{scan_ms:.0f} ms | disk {bpe:.0f} B/event (ref {ref_bpe:.0f} B/row) | "
        f"RSS {rss_start / 2**20:.0f} MiB at start, {rss_q / 2**20:.0f} MiB after queries")
    results["parts"]["scale"] = {"events": events, "users": users, "import": imp, "ref": ref,
                                 "starts": starts, "starts_without_snapshot_ms": full, "scan": scans, "disk_bytes": disk_closed,
                                 "bytes_per_event": bpe}
    tag = f"{events / 1e6:g}M ev/{users / 1e6:g}M cust"
    full_scale = SCALE_FACTOR >= 1.0
    add_summary(f"start-up ms ({tag})", startup, scan_ms, startup / scan_ms if scan_ms else None,
                "< 5,000 ms" + ("" if full_scale else " (at 1×)"), startup < 5000 if full_scale else None)
    add_summary(f"start-up ms, no snapshot ({tag})", full_ms, scan_ms,
                full_ms / scan_ms if scan_ms else None, "(report)", None)
    add_summary(f"RSS MiB after queries ({tag})", rss_q / 2**20, "—", None,
                "< 1,536 MiB" + ("" if full_scale else " (at 1×)"),
                rss_q < 1.5 * 2**30 if full_scale else None)
    add_summary(f"disk bytes/event ({tag})", bpe, ref_bpe, bpe / ref_bpe, "(report)", None)
    add_summary(f"import events/s ({tag})", imp["events_per_s"], ref["rows_per_s_wall"],
                imp["events_per_s"] / ref["rows_per_s_wall"], "(report)", None)
    if not KEEP:  # the store and the lines stay for part 6 (scale_cleanup)
        for f in (ref_db, ref_db + "-wal", ref_db + "-shm"):
            try:
                os.unlink(f)
            except OSError:
                pass


def scale_queries(port, token, users):
    """Stats, 200 identity look-ups with profile and timeline page, one text
    search; returns median latencies in ms."""
    import random
    rnd = random.Random(7)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    h = {"Authorization": "Bearer " + token}

    def get(path):
        t = time.monotonic()
        c.request("GET", path, headers=h)
        r = c.getresponse()
        body = r.read()
        return r.status, body, (time.monotonic() - t) * 1000

    out = {}
    st, body, ms = get("/api/v1/stats")
    out["stats"] = f"{ms:.1f} ms"
    look, prof, tl = [], [], []
    found = 0
    for _ in range(200):
        uid = f"user-{rnd.randrange(users):07d}"
        st, body, ms = get(f"/api/v1/customers?user_id={uid}")
        look.append(ms)
        if st != 200:
            continue
        cs = json.loads(body).get("customers", [])
        if not cs:
            continue
        found += 1
        cid = cs[0]["id"]
        st, body, ms = get(f"/api/v1/customers/{cid}")
        prof.append(ms)
        st, body, ms = get(f"/api/v1/customers/{cid}/events?limit=50")
        tl.append(ms)
    out["lookup p50"] = f"{med(look):.2f} ms" if look else "—"
    out["profile p50"] = f"{med(prof):.2f} ms" if prof else "—"
    out["timeline p50"] = f"{med(tl):.2f} ms" if tl else "—"
    out["found"] = f"{found}/200"
    st, body, ms = get("/api/v1/customers?q=Lovelace&limit=20")
    out["text search"] = f"{ms:.0f} ms (status {st})"
    c.close()
    return out


# ---------------------------------------------------------------- 6. analytics

ROOTS_SQL = (
    "WITH RECURSIVE root(id, r) AS (SELECT id, id FROM customers WHERE merged_into IS NULL"
    " UNION ALL SELECT c.id, root.r FROM customers c JOIN root ON c.merged_into = root.id)"
    " SELECT root.r, e.ts, e.seq, e.name FROM events e JOIN root ON e.customer_id = root.id"
    " WHERE e.name IS NOT NULL")


# the trait the segment rule of part 6 reads, per root customer: (root, value
# as stored - JSON text -, ts); the newest by ts over a root's members wins
TRAITS_SQL = (
    "WITH RECURSIVE root(id, r) AS (SELECT id, id FROM customers WHERE merged_into IS NULL"
    " UNION ALL SELECT c.id, root.r FROM customers c JOIN root ON c.merged_into = root.id)"
    " SELECT root.r, t.value, t.ts FROM traits t JOIN root ON t.customer_id = root.id"
    " WHERE t.key = 'plan'")


def export_events_csv(db, csv_path, sql=ROOTS_SQL):
    """(root customer id, ts, seq, name) of every named event, as CSV: the
    sqlite3 shell when there is one, else python's sqlite3 module."""
    t = time.monotonic()
    tmp = csv_path + ".tmp"
    if shutil.which("sqlite3"):
        with open(tmp, "wb") as f:
            subprocess.run(["sqlite3", "-readonly", "-csv", db, sql], stdout=f, check=True)
    else:
        import csv
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        with open(tmp, "w", newline="") as f:
            csv.writer(f).writerows(con.execute(sql))
        con.close()
    os.replace(tmp, csv_path)
    return time.monotonic() - t


def part_analytics():
    """Funnels and retention over the scale store, each beside DuckDB
    running the equivalent SQL over the same events (bench/analytics.mjs)."""
    reps = env_int("BENCH_API_REPS", 11)
    say(f"\n== 6. journey analytics: {SCALE_EVENTS:,} events of {SCALE_USERS:,} users (factor "
        f"{SCALE_FACTOR:g}); funnels and retention, {reps} times each, interleaved; reference: "
        "DuckDB (bench/analytics.mjs, in memory) running the equivalent SQL over the same events, "
        "answers checked equal")
    if not shutil.which("node"):
        raise RuntimeError("node is missing")
    if not os.path.isdir(os.path.join(HERE, "node_modules", "@duckdb", "node-api")):
        raise RuntimeError("bench/node_modules lacks @duckdb/node-api (cd bench && npm ci)")
    st = scale_store()
    data = st["data"]
    csv_path = os.path.join(TMP, "analytics-events.csv")
    et = export_events_csv(os.path.join(data, "cxm.db"), csv_path)
    say(f"  exported the named events with their root customer to CSV in {et:.1f} s "
        f"({os.path.getsize(csv_path) / 1e6:,.0f} MB; not timed below)")
    traits_path = os.path.join(TMP, "analytics-traits.csv")
    tt = export_events_csv(os.path.join(data, "cxm.db"), traits_path, TRAITS_SQL)
    say(f"  exported the trait plan with its root customer to CSV in {tt:.1f} s "
        f"({os.path.getsize(traits_path) / 1e6:,.0f} MB; not timed below)")
    srv = Server(data, "analytics")
    say(f"  cxm serve listening after {srv.startup_wall_ms:.0f} ms")
    try:
        p = subprocess.Popen(["node", os.path.join(HERE, "analytics.mjs"), "--csv", csv_path,
                              "--traits", traits_path, "--port", str(srv.port), "--token", st["creds"]["admin_token"],
                              "--reps", str(reps)]
                             + (["--verify", "1"] if VERIFY else []), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        out_lines = []
        t = threading.Thread(target=lambda: out_lines.extend(p.stdout), daemon=True)
        t.start()
        for line in p.stderr:
            say(line.rstrip("\n"))
        p.wait()
        t.join(10)
        rss = proc_status(srv.pid, "VmRSS")
    finally:
        srv.stop()
    if not KEEP:
        for f in (csv_path, traits_path):
            try:
                os.unlink(f)
            except OSError:
                pass
    js = [l for l in out_lines if l.startswith("{")]
    if p.returncode or not js:
        raise RuntimeError(f"analytics.mjs exited with {p.returncode}")
    r = json.loads(js[-1])
    r.update({"events": SCALE_EVENTS, "users": SCALE_USERS, "export_s": et,
              "server_rss_after": rss, "server_startup_ms": srv.startup_wall_ms})
    results["parts"]["analytics"] = r
    tag = f"{SCALE_EVENTS / 1e6:g}M ev"
    full_scale = SCALE_FACTOR >= 1.0
    at = "" if full_scale else " (at 1×)"
    checked = [q for q in r["queries"] if q.get("match") is not None]
    for q in r["queries"]:
        c, d = q["cxm_median_ms"], q["duckdb_median_ms"]
        ok = (c < q["target_ms"]) if (c is not None and full_scale) else None
        add_summary(f"{q['short']} ms ({tag})", c, d, c / d if c else None,
                    f"< {q['target_ms']} ms{at}", ok)
        sp = d / c if c else None
        add_summary("  DuckDB ÷ cxm", sp, "—", None, f"≥ 3×{at}",
                    (sp >= 3) if (sp is not None and full_scale) else None, "×")
    n_eq = sum(1 for q in checked if q["match"])
    add_summary("analytics answers equal to DuckDB's", f"{n_eq}/{len(checked)}" if checked else "—",
                "—", None, "all", (n_eq == len(checked)) if checked else None)
    # segments: one rule over every customer from scratch (preview) beside DuckDB
    segs = r.get("segments", [])
    for q in segs:
        c, d = q["cxm_median_ms"], q["duckdb_median_ms"]
        ok = (c < q["target_ms"]) if (c is not None and full_scale) else None
        add_summary(f"{q['short']} ms ({tag})", c, d, c / d if c else None,
                    f"< {q['target_ms']} ms{at}", ok)
        add_summary("  server took_ms", q["cxm_took_median_ms"], "—", None, "(report)", None)
        sp = d / c if c else None
        add_summary("  DuckDB ÷ cxm", sp, "—", None, f"≥ 3×{at}",
                    (sp >= 3) if (sp is not None and full_scale) else None, "×")
    seg_checked = [q for q in segs if q.get("match") is not None]
    if segs:
        n_eq = sum(1 for q in seg_checked if q["match"])
        add_summary("segment sizes equal to DuckDB's", f"{n_eq}/{len(seg_checked)}" if seg_checked else "—",
                    "—", None, "all", (n_eq == len(seg_checked)) if seg_checked else None)
    lc = r.get("lifecycle") or {}
    if lc.get("cxm_median_ms") is not None:
        add_summary(f"lifecycle ms ({tag})", lc["cxm_median_ms"], "none", None,
                    "(report; no DuckDB equivalent)", None)
        add_summary("  server took_ms", lc["cxm_took_median_ms"], "—", None, "(report)", None)
    # segments kept current: events streamed into a copy of the store
    try:
        inc = segment_incremental(st, r.get("lifecycle", {}).get("customers"))
    except Exception as e:  # reported, the figures above stay
        say(f"  incremental segment update could not run: {type(e).__name__}: {e}")
        results["parts"]["analytics"]["incremental"] = {"error": f"{type(e).__name__}: {e}"}
        return
    results["parts"]["analytics"]["incremental"] = inc
    ev_tag = f"{inc['events']:,} ev, {len(inc['segments'])} seg"
    ref_us = inc["full_us_per_customer"]
    add_summary(f"segment update µs/event ({ev_tag})", inc["us_per_event"], ref_us,
                inc["us_per_event"] / ref_us if inc["us_per_event"] is not None and ref_us else None,
                f"< 5 µs{at}", (inc["us_per_event"] < 5) if (inc["us_per_event"] is not None and full_scale)
                else None)
    add_summary("  µs per changed customer", inc["us_per_changed_customer"], ref_us,
                inc["us_per_changed_customer"] / ref_us
                if inc["us_per_changed_customer"] is not None and ref_us else None, "(report)", None)
    add_summary("  full runs while streaming", inc["full_runs_during"], "—", None,
                "(report; 0 = all incremental)", None)
    n_eq = sum(1 for g in inc["segments"] if g["match"])
    add_summary("segment sizes incremental = full", f"{n_eq}/{len(inc['segments'])}", "—", None, "all",
                n_eq == len(inc["segments"]))


# segments defined for the incremental update (part 6): rules whose answer does
# not depend on now (the data is in 2024 and 2025)
SEG_RULES = [
    ("repeat buyers", 'count("Order Completed") >= 2'),
    ("viewers who never ordered", 'count("Product Viewed") >= 5 && count("Order Completed") == 0'),
    ("pro plan", 'traits.plan == "pro"'),
    ("enterprise checkouts", 'traits.plan == "enterprise" && count("Checkout Started") >= 1'),
    ("cart or coupon", 'count("Cart Viewed") >= 3 || count("Coupon Applied") >= 1'),
]
SEG_EVENTS = env_int("BENCH_SEG_EVENTS", 300000)
# events/s: the refresh thread drains the profile's change log (65,536
# entries) once a second; faster, the log overflows and every segment is
# computed in full instead (counted apart: cxm_segment_full_runs_total)
SEG_RATE = env_int("BENCH_SEG_RATE", 20000)
SEG_CONNS = env_int("BENCH_SEG_CONNS", 4)


def seg_bodies(events, users, per=100):
    """/v1/batch bodies of `per` track messages each for existing customers
    (userIds of gen_events), named as gen_events names them, at times after
    the store's (2025) and in order; deterministic."""
    import random
    rnd = random.Random(11)
    names = ["Product Viewed", "Product Added", "Cart Viewed", "Checkout Started", "Order Completed",
             "Product Searched", "Coupon Applied", "Support Ticket Opened", "Email Opened", "Signed In"]
    weights = [0.34, 0.14, 0.10, 0.07, 0.05, 0.12, 0.03, 0.03, 0.08, 0.04]
    t0 = 1735689600000  # 2025-01-01T00:00:00Z
    bodies = []
    seen = set()
    for b in range(0, events, per):
        msgs = []
        for i in range(b, min(events, b + per)):
            u = rnd.randrange(users)
            seen.add(u)
            ev = rnd.choices(names, weights)[0]
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((t0 + i * 10) / 1000)) + \
                f".{(t0 + i * 10) % 1000:03d}Z"
            msgs.append(f'{{"type":"track","userId":"user-{u:07d}","event":"{ev}","properties":'
                        f'{{"product_id":"sku-{rnd.randrange(20000):05d}","price":{rnd.randrange(5, 300)}}},'
                        f'"timestamp":"{ts}"}}')
        bodies.append(('{"batch":[' + ",".join(msgs) + ']}').encode())
    return bodies, len(seen)


def segment_incremental(st, customers):
    """With SEG_RULES defined as segments on a copy of the scale store (the
    kept store stays as imported), stream SEG_EVENTS events for existing
    customers into /v1/batch at SEG_RATE, then read the incremental figures
    from /metrics and check each segment's size against a fresh preview of
    its rule (incremental = full). Reference: the segments' computation from
    scratch (the sum of their compute_ms at creation) ÷ customers."""
    src = st["data"]
    data = os.path.join(TMP, "scale-segments")
    shutil.rmtree(data, ignore_errors=True)
    t = time.monotonic()
    subprocess.run(["cp", "-a", "--reflink=auto", src, data], check=True)
    say(f"\n  incremental segment update: {len(SEG_RULES)} segments, {SEG_EVENTS:,} events for existing "
        f"customers into /v1/batch (100 per request, {SEG_CONNS} connections, paced at {SEG_RATE:,} ev/s) "
        f"on a copy of the store (copied in {time.monotonic() - t:.1f} s)")
    token, write = st["creds"]["admin_token"], basic_auth(st["creds"]["write_key"])
    srv = Server(data, "segments")
    try:
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=600)

        def call(method, path, obj=None):
            body = json.dumps(obj).encode() if obj is not None else None
            h = {"Authorization": "Bearer " + token}
            if body is not None:
                h["Content-Type"] = "application/json"
            t0 = time.monotonic()
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            out = r.read()
            ms = (time.monotonic() - t0) * 1000
            if r.status not in (200, 201):
                raise RuntimeError(f"{method} {path}: {r.status} {out[:300]!r}")
            return json.loads(out), ms

        segs = []
        for name, rule in SEG_RULES:
            g, ms = call("POST", "/api/v1/segments", {"name": name, "rule": rule})
            segs.append({"id": g["id"], "name": name, "rule": rule, "size_created": g["size"],
                         "compute_ms": g["compute_ms"], "create_ms": ms})
            say(f"    created {name!r} ({rule}): size {g['size']:,}, compute_ms {g['compute_ms']:.1f} "
                f"(HTTP {ms:.1f} ms)")
        call("GET", "/api/v1/segments")
        full_ms = sum(g["compute_ms"] for g in segs)
        n_cust = customers or srv.logged.get("customers")
        n_cust = int(n_cust) if n_cust else None
        bodies, distinct = seg_bodies(SEG_EVENTS, SCALE_USERS)
        m0 = metrics(srv.port)
        # paced senders: request i leaves at t0 + i x 100 / rate
        lock = threading.Lock()
        nxt = [0]
        bad = [0]
        t_start = time.monotonic() + 0.05

        def sender():
            sc = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=600)
            h = {"Authorization": write, "Content-Type": "application/json"}
            while True:
                with lock:
                    i = nxt[0]
                    nxt[0] += 1
                if i >= len(bodies):
                    break
                d = t_start + i * 100 / SEG_RATE - time.monotonic()
                if d > 0:
                    time.sleep(d)
                sc.request("POST", "/v1/batch", body=bodies[i], headers=h)
                r = sc.getresponse()
                r.read()
                if r.status // 100 != 2:
                    with lock:
                        bad[0] += 1
            sc.close()

        prof = pp = None
        if PROFILE and perf_available():  # the server while the events stream in
            prof = os.path.join(OUT, f"perf-segments-{STAMP}.data")
            pp = subprocess.Popen(["perf", "record", "-F", "997", "-g", "-o", prof, "-p", str(srv.pid)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        ths = [threading.Thread(target=sender) for _ in range(SEG_CONNS)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        send_s = time.monotonic() - t_start
        lst, list_ms = call("GET", "/api/v1/segments")  # evaluates what is left of the change log
        m1 = metrics(srv.port)
        if pp:
            pp.send_signal(signal.SIGINT)
            pp.wait(120)
        d = lambda k: m1.get(k, 0) - m0.get(k, 0)
        evals, secs = d("cxm_segment_evaluations_total"), d("cxm_segment_evaluation_seconds_total")
        full_runs = d("cxm_segment_full_runs_total")
        last_full_s = m1.get("cxm_segment_full_seconds", 0)
        ingested = d("cxm_events_ingested_total")
        changed = evals / len(segs) if segs else 0
        sizes = {g["id"]: g["size"] for g in lst["segments"]}
        for g in segs:
            p, ms = call("POST", "/api/v1/segments/preview", {"rule": g["rule"]})
            g.update(size_after=sizes.get(g["id"]), preview_size=p["size"], preview_ms=p["took_ms"])
            g["match"] = g["size_after"] == g["preview_size"]
        rss = proc_status(srv.pid, "VmRSS")
    finally:
        srv.stop()
        shutil.rmtree(data, ignore_errors=True)
    inc = {"segments": segs, "events": SEG_EVENTS, "events_ingested": ingested, "rate": SEG_RATE,
           "send_s": send_s, "non2xx": bad[0], "evaluations": evals, "evaluation_s": secs,
           "changed_customers": changed, "distinct_customers_sent": distinct,
           "full_runs_during": full_runs,
           "last_full_s": last_full_s, "customers": n_cust,
           "full_ms_all_segments": full_ms, "last_list_ms": list_ms, "server_rss": rss,
           "us_per_event": 1e6 * secs / SEG_EVENTS if SEG_EVENTS else None,
           "us_per_changed_customer": 1e6 * secs / changed if changed else None,
           "us_per_evaluation": 1e6 * secs / evals if evals else None,
           "full_us_per_customer": 1e3 * full_ms / n_cust if n_cust else None}
    say(f"    sent {SEG_EVENTS:,} events in {send_s:.1f} s ({SEG_EVENTS / send_s:,.0f} ev/s, {bad[0]} non-2xx; "
        f"server ingested {ingested:,.0f}; {distinct:,} distinct customers); evaluations {evals:,.0f} "
        f"({changed:,.0f} changed customers × {len(segs)} segments: the change log's entries, "
        f"{changed / SEG_EVENTS:.2f} per event) in {secs:.3f} s; full runs meanwhile {full_runs:.0f}"
        + (f" (the change log of 65,536 entries overflowed between two refreshes; the last run took "
           f"{last_full_s:.3f} s, not in the figures below)" if full_runs else ""))
    say(f"    {inc['us_per_event']:.2f} µs per event sent, "
        + (f"{inc['us_per_changed_customer']:.2f} µs per changed customer (all {len(segs)} segments), "
           f"{inc['us_per_evaluation']:.2f} µs per evaluation" if changed else "no evaluations")
        + (f" | reference: full computation of the {len(segs)} segments {full_ms:.0f} ms ÷ {n_cust:,} "
           f"customers = {inc['full_us_per_customer']:.2f} µs per customer" if n_cust else ""))
    if prof:
        say(f"    perf, cxm serve while the events streamed in (full profile: {prof[:-5]}.txt):")
        for l in perf_report(prof, prof[:-5] + ".txt"):
            say("    " + l)
    for g in segs:
        say(f"    {g['rule']}: size {g['size_created']:,} → {g['size_after']:,}; fresh preview "
            f"{g['preview_size']:,} ({'equal' if g['match'] else 'DIFFER'})")
    return inc


# ---------------------------------------------------------------- 5. dashboard

def part_dashboard():
    """cxm demo (target <= 30 s for 50k customers) beside the SQLite append of
    as many rows; then every API call behind a dashboard page on the demo
    data (target < 100 ms each) beside the nearest plain-SQL query over the
    same file, where there is one."""
    say(f"\n== 5. dashboard: cxm demo --customers {DEMO_CUSTOMERS:,} ({RUNS} runs, fresh data dir "
        f"each; reference: ref_sqlite_append synth of as many rows), then the API calls of each page, "
        f"{API_REPS} times each; reference: the nearest plain SQL over the same file (python sqlite3)")
    data = os.path.join(TMP, "demo")
    runs = []
    creds = None
    for i in range(RUNS):
        shutil.rmtree(data, ignore_errors=True)
        t = time.monotonic()
        out = subprocess.run([CXM, "demo", "--data", data, "--customers", str(DEMO_CUSTOMERS),
                              "--seed", "1"], capture_output=True, text=True, check=True)
        wall = time.monotonic() - t
        creds = json.loads(out.stdout.strip().splitlines()[-1])
        con = sqlite3.connect(f"file:{data}/cxm.db?mode=ro", uri=True)
        events = con.execute("SELECT count(*) FROM events").fetchone()[0]
        con.close()
        ref = run_json([os.path.join(BIN, "ref_sqlite_append"), "synth", "--db",
                        os.path.join(TMP, "ref-demo.db"), "--rows", str(events), "--group", "50000",
                        "--body-bytes", str(round(avg_body(os.path.join(data, "cxm.db")) or 300)),
                        "--users", str(DEMO_CUSTOMERS)])
        runs.append({"wall_s": wall, "events": events, "ref_s": ref["seconds"]})
        say(f"  run {i + 1}: cxm demo {wall:.1f} s for {events:,} events ({events / wall:,.0f} ev/s) | "
            f"ref append of {events:,} rows {ref['seconds']:.1f} s | ratio {ref['seconds'] / wall:.2f}")
    demo_s = med([r["wall_s"] for r in runs])
    ref_s = med([r["ref_s"] for r in runs])
    say(f"  median: cxm demo {demo_s:.1f} s | ref append {ref_s:.1f} s")
    add_summary(f"cxm demo, {DEMO_CUSTOMERS:,} customers (s)", round(demo_s, 1), round(ref_s, 1),
                ref_s / demo_s, "≤ 30 s", demo_s <= 30)
    results["parts"]["dashboard"] = {"demo_runs": runs, "demo_median_s": demo_s}

    srv = Server(data, "dashboard")
    token = creds["admin_token"]
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=600)

    def get(path, auth=True, headers=None):
        h = dict(headers or {})
        if auth:
            h["Authorization"] = "Bearer " + token
        t = time.monotonic()
        c.request("GET", path, headers=h)
        r = c.getresponse()
        body = r.read()
        return r.status, body, (time.monotonic() - t) * 1000

    def timed(path, **kw):
        ms = []
        for _ in range(API_REPS):
            st, body, t = get(path, **kw)
            if st != 200:
                raise RuntimeError(f"GET {path}: {st} {body[:200]!r}")
            ms.append(t)
        return med(ms), sorted(ms)[int(len(ms) * 0.95) - 1], body

    con = sqlite3.connect(f"file:{data}/cxm.db?mode=ro", uri=True)

    def sql_ms(q, args=()):
        ms = []
        for _ in range(max(3, API_REPS // 4)):
            t = time.monotonic()
            con.execute(q, args).fetchall()
            ms.append((time.monotonic() - t) * 1000)
        return med(ms)

    now = int(time.time() * 1000)
    day = 86400000
    from_30 = (now - 29 * day) // day * day
    # pick a customer with orders, and their e-mail
    st, body, _ = get("/api/v1/events?type=track&name=Order%20Completed&limit=1")
    cid = json.loads(body)["events"][0]["customer_id"]
    st, body, _ = get(f"/api/v1/customers/{cid}")
    email = json.loads(body)["traits"].get("email", "x@example.com")
    st, body, _ = get("/api/v1/events?limit=1")
    last = json.loads(body)["last_seq"]
    by_day_source = ("SELECT source_id, ts / 86400000, count(*) FROM events WHERE ts >= ? AND ts < ?"
                     " GROUP BY 1, 2")
    calls = [
        ("sign-in: stats", "/api/v1/stats", None),
        ("overview 30 days", "/api/v1/overview",
         ("events by day and source, 30 days", by_day_source, (from_30, now))),
        ("overview 90 days by week", "/api/v1/overview?interval=week&from="
         + time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime((now - 90 * day) / 1000)),
         ("events by day and source, 90 days", by_day_source, (now - 90 * day, now))),
        ("overview 12 months by month", "/api/v1/overview?interval=month&from="
         + time.strftime("%Y-%m-01T00:00:00Z", time.gmtime((now - 335 * day) / 1000)),
         ("events by day and source, 12 months", by_day_source, (now - 366 * day, now))),
        ("customers: search 'garcia'", "/api/v1/customers?q=garcia&limit=25",
         ("LIKE over identities and traits", "SELECT customer_id FROM identities WHERE value LIKE ?"
          " UNION SELECT customer_id FROM traits WHERE value LIKE ? LIMIT 100000",
          ("%garcia%", "%garcia%"))),
        ("customers: by e-mail", "/api/v1/customers?email=" + email, None),
        ("customer view", f"/api/v1/customers/{cid}", None),
        ("timeline, 50 newest", f"/api/v1/customers/{cid}/events?limit=50",
         ("events of the customer by time, 50, each with its body's block",
          "SELECT e.seq, b.data FROM events e JOIN event_blocks b ON b.first_seq ="
          " (SELECT max(first_seq) FROM event_blocks WHERE first_seq <= e.seq)"
          " WHERE e.customer_id = ? ORDER BY e.ts DESC LIMIT 50", (cid,))),
        ("timeline filtered", f"/api/v1/customers/{cid}/events?type=track&name=Order%20Completed", None),
        ("live: 50 newest", "/api/v1/events?limit=50", None),
        ("live: poll after last", f"/api/v1/events?after={last}", None),
        ("live: store only", "/api/v1/events?source=store&limit=50", None),
        # the listening pages (the demo's surveys: 1 NPS, 2 CSAT, 3 CES, 4 employee pulse)
        ("feedback: NPS by month by channel", "/api/v1/metrics/nps?survey=1&by=channel&interval=month", None),
        ("feedback: CSAT by agent", "/api/v1/metrics/csat?survey=2&by=agent", None),
        ("feedback: NPS by segment", "/api/v1/metrics/nps?survey=1&by=segment", None),
        ("verbatims, 50 newest", "/api/v1/feedback?limit=50", None),
        ("themes of the NPS survey", "/api/v1/feedback/themes?survey=1", None),
        ("eNPS beside CSAT", "/api/v1/metrics/enps-cx?cx=csat", None),
    ]
    rows = []
    for label, path, ref in calls:
        m, p95, _ = timed(path)
        rm = None
        if ref:
            rm = sql_ms(ref[1], ref[2])
        rows.append({"call": label, "path": path, "median_ms": m, "p95_ms": p95,
                     "ref": ref[0] if ref else None, "ref_ms": rm})
        say(f"  {label:32s} median {m:7.2f} ms  p95 {p95:7.2f} ms"
            + (f"   | ref ({ref[0]}): {rm:7.2f} ms" if ref else ""))
    # the page itself
    m, p95, body = timed("/", auth=False, headers={"Accept-Encoding": "gzip"})
    say(f"  {'GET / (index.html)':32s} median {m:7.2f} ms  p95 {p95:7.2f} ms")
    st, plain, _ = get("/", auth=False)
    js = re.findall(rb'/assets/[^"]+\.js', plain)
    for a in js:
        m2, p952, b2 = timed(a.decode(), auth=False, headers={"Accept-Encoding": "gzip"})
        say(f"  {'GET ' + a.decode()[:28]:32s} median {m2:7.2f} ms  p95 {p952:7.2f} ms ({len(b2):,} B gzip)")
    con.close()
    c.close()
    # the page in Chromium: first paint and the Overview on screen, beside
    # the same files from a plain static server (python3 -m http.server)
    paint = None
    if shutil.which("node") and os.path.exists("/usr/bin/chromium"):
        ref_srv = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
                                    "--directory", os.path.join(ROOT, "web", "dist")],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = ref_srv.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N ..."
            ref_port = int(re.search(r"port (\d+)", line).group(1))
            paint = run_json(["node", os.path.join(HERE, "paint.mjs"), f"http://127.0.0.1:{srv.port}",
                              token, str(max(RUNS, 5)), f"http://127.0.0.1:{ref_port}"])
        finally:
            ref_srv.terminate()
            ref_srv.wait()
        say(f"  {'first paint (sign-in page)':32s} median {paint['signin_fcp_ms']:7.1f} ms"
            f"   | ref (same files, python http.server): {paint['ref_fcp_ms']:7.1f} ms")
        say(f"  {'Overview on screen (cold cache)':32s} median {paint['overview_ms']:7.1f} ms")
        results["parts"]["dashboard"]["paint"] = paint
        add_summary("dashboard first paint (ms)", paint["signin_fcp_ms"], paint["ref_fcp_ms"],
                    paint["signin_fcp_ms"] / paint["ref_fcp_ms"], "< 1,000 ms",
                    paint["signin_fcp_ms"] < 1000)
        add_summary("Overview on screen, cold (ms)", paint["overview_ms"], "—", None, "(report)", None)
    else:
        say("  paint: skipped (node or /usr/bin/chromium missing)")
    srv.stop()
    worst = max(r["median_ms"] for r in rows)
    results["parts"]["dashboard"]["api"] = rows
    add_summary("slowest dashboard API call (ms)", round(worst, 1), "—", None, "< 100 ms", worst < 100)
    if not KEEP:
        shutil.rmtree(data, ignore_errors=True)
    try:
        os.unlink(os.path.join(TMP, "ref-demo.db"))
    except OSError:
        pass


# ---------------------------------------------------------------- 7. text

TEXT_DATA = os.path.abspath(os.environ.get(
    "BENCH_TEXT_DATA", os.path.join(ROOT, "..", "shared", "datasets", "sentiment")))


def part_text():
    """lib/text's sentiment on public labelled data and its speed on one
    core (bench/text_bench.c) beside VADER itself, the npm package
    vader-sentiment (bench/text_ref.mjs), on the same sentences in the same
    run. See bench/README.md for how accuracy and correlation are counted."""
    say(f"\n== 7. sentiment: lib/text vs VADER (npm vader-sentiment), data {TEXT_DATA}")
    if not os.path.isdir(os.path.join(TEXT_DATA, "uci-labelled")):
        raise RuntimeError(f"no data in {TEXT_DATA} (set BENCH_TEXT_DATA)")
    cxm = json.loads(subprocess.run([os.path.join(BIN, "text_bench"), TEXT_DATA, str(RUNS)],
                                    check=True, capture_output=True, text=True).stdout)
    try:
        ref = json.loads(subprocess.run(["node", os.path.join(HERE, "text_ref.mjs"), TEXT_DATA,
                                         str(RUNS)], check=True, capture_output=True,
                                        text=True, cwd=HERE).stdout)
    except (OSError, subprocess.CalledProcessError, ValueError) as e:
        say(f"  the reference could not run ({type(e).__name__}); cxm's figures alone")
        ref = None
    rname = ref["engine"] if ref else "VADER (not run)"
    say(f"  accuracy on uci-labelled (>= 0.05 positive, <= -0.05 negative, neutral counts half)")
    say(f"    {'':9} {'cxm':>7} {'strict':>7} {'cover':>7}   {'VADER':>7} {'strict':>7} {'cover':>7}")
    for k in ("amazon", "yelp", "imdb", "overall"):
        c = cxm["accuracy"][k]
        r = ref["accuracy"][k] if ref else None
        say(f"    {k:9} {c['accuracy']:7.4f} {c['strict']:7.4f} {c['coverage']:7.4f}   " +
            (f"{r['accuracy']:7.4f} {r['strict']:7.4f} {r['coverage']:7.4f}" if r else "—"))
        add_summary(f"sentiment accuracy, {k}", f"{c['accuracy']:.4f}",
                    f"{r['accuracy']:.4f}" if r else "—",
                    c["accuracy"] / r["accuracy"] if r else None, "≥ 0.80",
                    c["accuracy"] >= 0.80)
    say("  Pearson r with the human ratings of vader/ground-truth (cxm out of fold: its model "
        "learns from these sentences, each is scored by a model trained on the other 4 of 5 folds)")
    for k in ("amazon_snippets", "tweets"):
        c = cxm["correlation"][k]
        r = ref["correlation"][k] if ref else None
        say(f"    {k:16} cxm {c['pearson']:.4f} (n {c['n']}, skipped {c['skipped']})   " +
            (f"VADER {r['pearson']:.4f}" if r else "VADER —"))
        add_summary(f"sentiment r, {k}", f"{c['pearson']:.4f}", f"{r['pearson']:.4f}" if r else "—",
                    c["pearson"] / r["pearson"] if r else None, "≥ VADER's",
                    (c["pearson"] >= r["pearson"]) if r else None)
    cs, rs = cxm["speed"], ref["speed"] if ref else None
    say(f"  speed, one core, {cs['verbatims']} sentences: cxm runs {cs['runs']} /s, "
        f"median {fmt(cs['median_per_s'])}/s; themes + phrases {fmt(cs['themes_phrases_median_per_s'])}/s")
    if rs:
        say(f"    {rname}: runs {rs['runs']} /s, median {fmt(rs['median_per_s'])}/s")
    add_summary("sentiment verbatims/s, one core", cs["median_per_s"],
                rs["median_per_s"] if rs else "—",
                cs["median_per_s"] / rs["median_per_s"] if rs else None, "≥ 50,000",
                cs["median_per_s"] >= 50000)
    results["parts"]["text"] = {"cxm": cxm, "reference": ref}
# ---------------------------------------------------------------- 8. feedback

def part_feedback():
    """Survey responses in bulk through the API, then NPS by month by
    channel over all of them beside DuckDB and SQLite running the same
    aggregation over the same rows (bench/feedback.mjs)."""
    n = env_int("BENCH_RESPONSES", 100000 if QUICK else 1000000)
    reps = env_int("BENCH_API_REPS", 21)
    say(f"\n== 8. feedback: {n:,} survey responses posted 1,000 per request; NPS by month by channel, "
        f"{reps} times, interleaved with DuckDB (in memory) and SQLite (a table of the same rows); answers checked equal")
    if not os.path.isdir(os.path.join(HERE, "node_modules", "@duckdb", "node-api")):
        raise RuntimeError("bench/node_modules lacks @duckdb/node-api (cd bench && npm ci)")
    d = os.path.join(TMP, "feedback")
    p = subprocess.run(["node", os.path.join(HERE, "feedback.mjs"), "--bin", CXM, "--dir", d,
                        "--responses", str(n), "--reps", str(reps)], capture_output=True, text=True)
    for line in p.stderr.splitlines():
        if line.startswith("feedback:") and "token" not in line:
            say("  " + line[len("feedback: "):])
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    r = json.loads(p.stdout.strip().splitlines()[-1])
    results["parts"]["feedback"] = r
    shutil.rmtree(d, ignore_errors=True)
    ms = r["nps_by_month_by_channel_ms"]
    add_summary(f"NPS by month by channel, {n:,} responses (ms)", ms, r["duckdb_ms"],
                ms / r["duckdb_ms"], "< 20 ms", ms < 20)
    add_summary("  same, vs SQLite (ms)", ms, r["sqlite_ms"], ms / r["sqlite_ms"], "—", None)
    add_summary("survey responses ingested in bulk (per s)", r["ingest_per_s"], "—", None, "—", None)


# ---------------------------------------------------------------- 9. cases

def part_cases():
    """The closed loop's hot path (bench/cases_bench.c): a case rule
    (response.nps <= 6) over new responses, a case opened, routed and
    clocked for each match, through lib/cases' scheduler tick, beside one
    plain INSERT ... SELECT of the same selection on the same file."""
    n = env_int("BENCH_CASE_RESPONSES", 20000 if QUICK else 100000)
    say(f"\n== 9. cases: rule response.nps <= 6 over {n:,} responses (7 in 11 detractors) vs one SQLite INSERT ... SELECT")
    r = json.loads(subprocess.run([os.path.join(BIN, "cases_bench"), str(n), str(RUNS)], check=True,
                                  capture_output=True, text=True).stdout)
    say(f"  cxm: {fmt(r['cxm_responses_per_s'])} responses/s, {fmt(r['cxm_cases_per_s'])} cases/s "
        f"(routing, SLA due times, history, committed per 1,000)")
    say(f"  reference: {fmt(r['ref_responses_per_s'])} responses/s, {fmt(r['ref_cases_per_s'])} rows/s")
    results["parts"]["cases"] = r
    add_summary("cases opened per s (rule over responses)", r["cxm_cases_per_s"], r["ref_cases_per_s"],
                r["cxm_cases_per_s"] / r["ref_cases_per_s"], ">= 10,000", r["cxm_cases_per_s"] >= 10000)
# ---------------------------------------------------------------- 10. scorecard

def part_scorecard():
    """The KPI scorecard (GET /api/v1/scorecard: every target measured
    now) on the demo company with 30 targets at every scope, beside plain
    SQLite computing the same NPS, CSAT and CES figures over the responses
    table of the same file (one query per feedback target, python
    sqlite3); the feedback targets' values are checked equal."""
    reps = env_int("BENCH_API_REPS", 21)
    say(f"\n== 10. scorecard: cxm demo --customers {DEMO_CUSTOMERS:,}, 30 KPI targets (NPS, CSAT and CES at the company, "
        f"units, touchpoints, surveys and a journey; the four rates at the company and a segment); GET /scorecard "
        f"{reps} times; reference: the feedback targets' figures by plain SQL over the same file (python sqlite3)")
    data = os.path.join(TMP, "scorecard")
    shutil.rmtree(data, ignore_errors=True)
    out = subprocess.run([CXM, "demo", "--data", data, "--customers", str(DEMO_CUSTOMERS), "--seed", "1"],
                         capture_output=True, text=True, check=True)
    creds = json.loads(out.stdout.strip().splitlines()[-1])
    srv = Server(data, "scorecard")
    try:
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=600)
        auth = {"Authorization": "Bearer " + creds["admin_token"], "Content-Type": "application/json"}

        def call(method, path, body=None):
            t = time.monotonic()
            c.request(method, path, body=None if body is None else json.dumps(body), headers=auth)
            r = c.getresponse()
            raw = r.read()
            if r.status >= 300:
                raise RuntimeError(f"{method} {path}: {r.status} {raw[:300]!r}")
            return json.loads(raw), (time.monotonic() - t) * 1000

        units = {u["name"]: u["id"] for u in call("GET", "/api/v1/units")[0]["units"]}
        owner = call("GET", "/api/v1/users")[0]["users"][0]["id"]
        segs = call("GET", "/api/v1/segments")[0]["segments"]
        maps = call("GET", "/api/v1/journey-maps")[0]["maps"]
        want = [{"kpi": kpi, "target": 0.2} for kpi in ("activation_rate", "repeat_rate", "loyalty_rate", "churn_rate")]
        want.append({"kpi": "churn_rate", "scope": "segment", "scope_value": segs[0]["id"], "target": 0.2})
        for u in ("Customer care", "Care North", "Care South", "Care West"):
            want.append({"kpi": "csat", "scope": "unit", "scope_value": units[u], "target": 80})
        want.append({"kpi": "ces", "scope": "journey", "scope_value": maps[0]["id"], "target": 5})
        for kpi in ("nps", "csat", "ces"):
            lo = {"nps": 0, "csat": 50, "ces": 4}[kpi]
            want.append({"kpi": kpi, "target": lo})
            for sv in ("1", "2", "3"):
                want.append({"kpi": kpi, "scope": "survey", "scope_value": sv, "target": lo})
            for tp in ("Checkout", "Ticket solved"):
                want.append({"kpi": kpi, "scope": "touchpoint", "scope_value": tp, "target": lo})
        have = len(call("GET", "/api/v1/targets")[0]["targets"])
        for w in want[: max(0, 30 - have)]:
            call("POST", "/api/v1/targets", {"owner": owner, "min_n": 1, "alert": "none", **w})
        card = call("GET", "/api/v1/scorecard")[0]["targets"]
        ms = []
        for _ in range(reps):
            sc, t = call("GET", "/api/v1/scorecard")
            ms.append(t)
        card = sc["targets"]
        cx_ms = med(ms)

        # the reference: each feedback target's figure by SQL over responses
        con = sqlite3.connect(f"file:{data}/cxm.db?mode=ro", uri=True)
        parent = dict(con.execute("SELECT id, parent_id FROM units").fetchall())
        names = dict(con.execute("SELECT id, name FROM units").fetchall())

        def subtree(uid):
            out = []
            for u in names:
                x = u
                while x is not None and x != uid:
                    x = parent.get(x)
                if x == uid:
                    out.append(names[u])
            return out

        def tps_of(map_id):
            doc = json.loads(con.execute("SELECT v.doc FROM journey_maps m JOIN journey_map_versions v ON v.map_id = m.id"
                                         " AND v.version = m.version WHERE m.id = ?", (map_id,)).fetchone()[0])
            return [t["name"] for st in doc["stages"] for t in st.get("touchpoints", [])]

        typ = {"nps": 0, "csat": 1, "ces": 2}
        agg = {"nps": "100.0 * (sum(s >= 9) - sum(s <= 6)) / count(*)", "csat": "100.0 * sum(s >= 4) / count(*)",
               "ces": "avg(s)"}

        def sql_for(t, frm=None, to=None):
            now = int(time.time() * 1000)
            frm = now - t["period_days"] * 86400000 if frm is None else frm
            where, args = ["r.replaced_by IS NULL", "r.submitted_at >= ?"], [frm]
            if to is not None:
                where.append("r.submitted_at < ?"), args.append(to)
            if t["scope"] == "survey":
                where.append("r.survey_id = ?"), args.append(int(t["scope_value"]))
            else:
                where.append("r.survey_id IN (SELECT id FROM surveys WHERE kind = 'customer')")
            if t["scope"] in ("touchpoint", "journey"):
                tps = [t["scope_value"]] if t["scope"] == "touchpoint" else tps_of(int(t["scope_value"]))
                where.append(f"r.touchpoint IN ({','.join('?' * len(tps))})"), args.extend(tps)
            if t["scope"] == "unit":
                us = subtree(int(t["scope_value"]))
                where.append(f"r.unit IN ({','.join('?' * len(us))})"), args.extend(us)
            # scores: "T:qid:score;" per scored answer; the demo's surveys score one question each
            q = (f"SELECT count(*), {agg[t['kpi']]} FROM (SELECT CAST(substr(x, instr(x, ':') + 1) AS INTEGER) AS s FROM"
                 f" (SELECT substr(r.scores, 3, instr(r.scores, ';') - 3) AS x FROM responses r WHERE"
                 f" substr(r.scores, 1, 1) = '{typ[t['kpi']]}' AND {' AND '.join(where)}))")
            return q, args

        fb = [t for t in card if t["kpi"] in typ]
        ref_ms, equal = [], 0
        for _ in range(max(3, reps // 3)):
            t0 = time.monotonic()
            got = [con.execute(*sql_for(t)).fetchone() for t in fb]
            ref_ms.append((time.monotonic() - t0) * 1000)
        for t, (n, v) in zip(fb, got):
            if n == t["n"] and (v is None) == (t["value"] is None) and (v is None or abs(v - t["value"]) < 0.01 * max(1, abs(v))):
                equal += 1
            else:
                say(f"  differs: {t['kpi']} {t['scope']} {t['scope_label']}: cxm {t['value']} n {t['n']}, SQL {v} n {n}")
        sql_ms = med(ref_ms)
        say(f"  {len(card)} targets ({len(fb)} feedback, {len(card) - len(fb)} rates): GET /scorecard median {cx_ms:.1f} ms "
            f"(p95 {sorted(ms)[int(len(ms) * 0.95) - 1]:.1f}); SQLite, the {len(fb)} feedback figures: {sql_ms:.1f} ms; "
            f"{equal}/{len(fb)} equal")
        results["parts"]["scorecard"] = {"targets": len(card), "feedback_targets": len(fb), "scorecard_ms": cx_ms,
                                         "sqlite_feedback_ms": sql_ms, "equal": equal}
        add_summary(f"scorecard, {len(card)} targets, {DEMO_CUSTOMERS:,} customers (ms)", cx_ms, sql_ms, cx_ms / sql_ms,
                    "< 100 ms", cx_ms < 100)

        # the initiatives board (docs/initiatives.md): the demo's six and one
        # per feedback target's KPI and scope, half done 60 days ago (30-day
        # windows), half in progress for 20 days (60-day windows)
        def iso(ms):
            return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + "Z"
        now = int(time.time() * 1000) // 60000 * 60000
        for i, t in enumerate(fb):
            body = {"title": f"bench {i}", "owner": owner, "kpi": t["kpi"], "scope": t["scope"], "reach": 100 + i,
                    "impact": 1, "confidence": 50, "effort": 1, "root_causes": ["6"], "themes": ["Wait time"]}
            if t["scope"] != "company":
                body["scope_value"] = t["scope_value"]
            if i % 2:
                body.update(status="in_progress", started_at=iso(now - 20 * 86400000), measure_days=60)
            else:
                body.update(status="done", started_at=iso(now - 100 * 86400000), done_at=iso(now - 60 * 86400000),
                            measure_days=30)
            call("POST", "/api/v1/initiatives", body)
        ms = []
        for _ in range(reps):
            board, t = call("GET", "/api/v1/initiatives")
            ms.append(t)
        ini_ms = med(ms)
        by_id = {t["id"]: t for t in card}
        mine = [x for x in board["initiatives"] if x["title"].startswith("bench ")]
        ref_ms, equal = [], 0
        for _ in range(max(3, reps // 3)):
            t0 = time.monotonic()
            got = []
            for x in mine:
                m = x["measurement"]
                spec = {"kpi": x["kpi"], "scope": x["scope"], "scope_value": x["scope_value"], "period_days": 0}
                b0, b1 = (int(datetime.datetime.fromisoformat(m["before"][k].replace("Z", "+00:00")).timestamp() * 1000)
                          for k in ("from", "to"))
                a0, a1 = (int(datetime.datetime.fromisoformat(m["after"][k].replace("Z", "+00:00")).timestamp() * 1000)
                          for k in ("from", "to"))
                got.append((con.execute(*sql_for(spec, b0, b1)).fetchone(), con.execute(*sql_for(spec, a0, a1)).fetchone()))
            ref_ms.append((time.monotonic() - t0) * 1000)
        for x, ((bn, bv), (an, av)) in zip(mine, got):
            m = x["measurement"]
            same = lambda n, v, w: n == w["n"] and (v is None) == (w["value"] is None) and (
                v is None or abs(v - w["value"]) < 0.01 * max(1, abs(v)))
            if same(bn, bv, m["before"]) and same(an, av, m["after"]):
                equal += 1
            else:
                say(f"  differs: {x['title']} {x['kpi']} {x['scope']}: cxm {m['before']} {m['after']}, SQL {bn} {bv} / {an} {av}")
        con.close()
        ini_sql_ms = med(ref_ms)
        say(f"  initiatives board: {len(board['initiatives'])} initiatives ({len(mine)} measured on feedback KPIs): "
            f"GET /initiatives median {ini_ms:.1f} ms (p95 {sorted(ms)[int(len(ms) * 0.95) - 1]:.1f}); SQLite, the "
            f"{len(mine)} before/after pairs: {ini_sql_ms:.1f} ms; {equal}/{len(mine)} equal")
        results["parts"]["scorecard"].update({"initiatives": len(board["initiatives"]), "initiatives_ms": ini_ms,
                                              "sqlite_initiative_windows_ms": ini_sql_ms, "initiatives_equal": equal})
        add_summary(f"initiatives board, {len(board['initiatives'])} initiatives, {DEMO_CUSTOMERS:,} customers (ms)", ini_ms,
                    ini_sql_ms, ini_ms / ini_sql_ms, "report", None)
    finally:
        srv.stop()
        shutil.rmtree(data, ignore_errors=True)


def main():
    if not os.access(CXM, os.X_OK):
        say(f"bench: {CXM} is missing; run `make build/cxm` (make bench does)")
        return 1
    os.makedirs(TMP, exist_ok=True)
    ver = subprocess.run([CXM, "--version"], capture_output=True, text=True).stdout.strip()
    try:
        rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                             capture_output=True, text=True).stdout.strip()
    except OSError:
        rev = "?"
    load = open("/proc/loadavg").read().split()[:3]
    say(f"cxm benchmarks {STAMP}: {ver} ({rev}), {os.cpu_count()} cores, {machine_state()}"
        f"{', QUICK' if QUICK else ''}; runs {RUNS}, {DURATION} s each")
    origin = os.environ.get("BENCH_CXM_ORIGIN", CXM)
    say(f"binary: {origin}; repository at {rev}")
    results.update({"version": ver, "git": rev, "binary": origin, "loadavg_start": load})
    parts = [("1", part_batch), ("2", part_latency), ("3", part_import), ("5", part_dashboard)]
    if SCALE:
        parts.append(("4", part_scale))
    if SCALE or "6" in os.environ.get("BENCH_ONLY", ""):
        parts.append(("6", part_analytics))
    parts.append(("7", part_text))
    parts.append(("8", part_feedback))
    parts.append(("9", part_cases))
    parts.append(("10", part_scorecard))
    failed = []
    for key, fn in parts:
        if key not in ONLY:
            continue
        try:
            fn()
            say(f"  machine after part {key}: {machine_state()}")
            results.setdefault("machine", {})[key] = machine_state()
        except Exception as e:  # a broken part must not hide the others
            failed.append(key)
            say(f"  part {key} could not run: {type(e).__name__}: {e}")
    scale_cleanup()
    results["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    say("\n== summary (medians; reference measured in the same run; ratio = cxm / reference)")
    head = ("metric", "cxm", "reference", "ratio", "target", "result")
    rows = [head] + summary
    w = [max(len(str(r[i])) for r in rows) for i in range(len(head))]
    for k, r in enumerate(rows):
        say("  " + "  ".join(str(c).ljust(w[i]) if i == 0 else str(c).rjust(w[i])
                             for i, c in enumerate(r)))
        if k == 0:
            say("  " + "  ".join("-" * x for x in w))
    say(f"  machine at the end: {machine_state()} ({os.cpu_count()} cores, shared: other tenants' "
        "load lowers both cxm and its references)")
    results["summary"] = summary
    path = os.path.join(OUT, f"results-{STAMP}.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1, default=str)
    say(f"  details: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
