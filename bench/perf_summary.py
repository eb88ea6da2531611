#!/usr/bin/env python3
"""perf_summary.py - where a `perf record` of cxm spent its time, per thread.

    perf_summary.py PERF.DATA [--top N]

Reads `perf script` (leaf frame of each sample; no call graphs needed, as
cxm is built without frame pointers) and prints:
  - the share of samples by library (sqlite, kernel, libc, cJSON, cxm, MHD),
  - for each thread with >= 3 % of the samples: its share, its libraries and
    its top symbols. cxm's threads are unnamed, so they are listed by tid in
    creation order; the text says which is which (the writer is the one in
    sqlite3VdbeExec/profile_*, the checkpointer the one in pwrite/fsync,
    HTTP connection threads are in MHD/ingest_parse/cJSON)."""

import collections
import subprocess
import sys


def short_dso(d):
    d = d.strip("()")
    base = d.rsplit("/", 1)[-1]
    for key, name in (("kallsyms", "kernel"), ("libsqlite3", "sqlite"), ("libc.so", "libc"),
                      ("libcjson", "cJSON"), ("libmicrohttpd", "MHD"), ("libz", "zlib"),
                      ("libsodium", "sodium"), ("ld-linux", "ld.so")):
        if key in base:
            return name
    return base or "?"


def samples(path):
    out = subprocess.run(["perf", "script", "-i", path, "-F", "tid,ip,sym,dso"],
                         capture_output=True, text=True, errors="replace").stdout
    tid, leaf_pending = None, False
    for line in out.splitlines():
        if not line.strip():
            continue
        if not line.startswith("\t") and not line.startswith("    " * 3):
            parts = line.split()
            if parts and parts[0].isdigit():
                tid, leaf_pending = int(parts[0]), True
                continue
        if leaf_pending:
            leaf_pending = False
            f = line.strip().split(None, 1)
            rest = f[1] if len(f) > 1 else "[unknown] ([unknown])"
            if rest.endswith(")") and " (" in rest:
                sym, dso = rest.rsplit(" (", 1)
            else:
                sym, dso = rest, "?"
            sym = sym.split("+0x")[0]
            d = short_dso(dso)
            if sym in ("[unknown]", "") or sym.startswith("0x"):
                sym = f"({d}, no symbols)"
            yield tid, sym, d


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 8
    by_tid = collections.defaultdict(collections.Counter)
    dso_tid = collections.defaultdict(collections.Counter)
    dsos = collections.Counter()
    n = 0
    for tid, sym, dso in samples(sys.argv[1]):
        by_tid[tid][(dso, sym)] += 1
        dso_tid[tid][dso] += 1
        dsos[dso] += 1
        n += 1
    if not n:
        print("  (no samples)")
        return 0
    print(f"  {n} samples; by library: " +
          ", ".join(f"{d} {100 * c / n:.0f}%" for d, c in dsos.most_common(8)))
    small = 0
    small_threads = 0
    small_syms = collections.Counter()
    small_dsos = collections.Counter()
    for tid in sorted(by_tid):
        c = sum(by_tid[tid].values())
        if c < 0.03 * n:
            small += c
            small_threads += 1
            small_syms.update(by_tid[tid])
            small_dsos.update(dso_tid[tid])
            continue
        libs = ", ".join(f"{d} {100 * k / c:.0f}%" for d, k in dso_tid[tid].most_common(4))
        print(f"  thread {tid}: {100 * c / n:.0f}% of samples ({libs})")
        syms = ", ".join(f"{s} {100 * k / c:.0f}%" for (d, s), k in by_tid[tid].most_common(top))
        print(f"      top: {syms}")
    if small_threads:
        libs = ", ".join(f"{d} {100 * k / small:.0f}%" for d, k in small_dsos.most_common(4))
        print(f"  {small_threads} other threads (each < 3%): {100 * small / n:.0f}% together ({libs})")
        syms = ", ".join(f"{s} {100 * k / small:.0f}%" for (d, s), k in small_syms.most_common(top))
        print(f"      top: {syms}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
