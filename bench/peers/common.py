"""Shared helpers of the Python peers: timing and the JSON line protocol.

Every peer prints one JSON object per result line to stdout:
{"row": name, "secs": seconds, "units": work units, "solves": solves, "note": text}
`downhill-bench` runs the scripts inside its interleaved rounds and pools the
lines with its own samples. Only the kernel is timed: imports, data set-up
and JIT compilation are outside the timed part.
"""
import json
import time


def emit(row, secs, units, solves=1, note="", extra=None):
    line = {"row": row, "secs": secs, "units": units, "solves": solves, "note": note}
    if extra:
        line["extra"] = extra
    print(json.dumps(line), flush=True)


def timed(fn):
    """Seconds of one call of fn() and its result."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def repeat_for(min_secs, fn):
    """Calls fn() until min_secs have passed; returns (seconds, calls, last result)."""
    start = time.perf_counter()
    calls = 0
    while True:
        out = fn()
        calls += 1
        secs = time.perf_counter() - start
        if secs >= min_secs:
            return secs, calls, out


def blas_note():
    """The BLAS kernels numpy/scipy run (threadpoolctl), if it is installed."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    parts = []
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            parts.append("%s %s kernel=%s threads=%s" % (
                pool.get("internal_api"), pool.get("version"),
                pool.get("architecture"), pool.get("num_threads")))
    return "; ".join(parts) or "no BLAS pool found"
