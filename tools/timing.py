"""Timing for the benchmarks: seconds per call, measured over a budget."""

import time


def seconds_per_call(call, seconds):
    """Call `call()` repeatedly for at least `seconds` of wall time (at
    least once) and return the mean seconds per call."""
    start, calls = time.perf_counter(), 0
    while True:
        call()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / calls
