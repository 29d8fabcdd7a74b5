#!/usr/bin/env python3
"""Runs a command and writes its wall time, CPU time, peak RSS (and, for a daemon, its RSS at the end) as JSON.

Node cannot read a child's rusage, and GNU time is not on every machine; Python's resource module is.
Usage: rusage.py OUTPUT_JSON_FILE [--stop-after SECONDS --stop-signal NAME [--ready-dir DIR --ready-count N]] -- command args...
With --stop-after, a daemon is sent the signal after that many seconds and waited for; its resident set size is
read from /proc just before the signal ("final_rss_kib", the steady RSS of a long run). With --ready-dir, the
seconds count from the moment DIR holds N files (its first full render; "ready_s"), and a daemon that never
gets there within 120 s is stopped and reported with ready_s null.
"""
import json
import os
import resource
import signal
import subprocess
import sys
import time

out_file = sys.argv[1]
options = sys.argv[2 : sys.argv.index("--")]
command = sys.argv[sys.argv.index("--") + 1 :]


def option(name, default=None):
    return options[options.index(name) + 1] if name in options else default


stop_after = float(option("--stop-after")) if "--stop-after" in options else None
stop_signal = option("--stop-signal", "SIGTERM")
ready_dir = option("--ready-dir")
ready_count = int(option("--ready-count", "1"))


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def files_in(directory):
    try:
        return len(os.listdir(directory))
    except OSError:
        return 0


start = time.perf_counter()
final_rss = None
ready = None
if stop_after is None:
    completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
else:
    # A daemon's logs go to a file, not a pipe nobody reads while it runs.
    with open(out_file + ".stderr", "w+b") as err:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        stop_at = start + stop_after
        if ready_dir is not None:
            give_up = start + 120
            while files_in(ready_dir) < ready_count and process.poll() is None and time.perf_counter() < give_up:
                time.sleep(0.02)
            if files_in(ready_dir) >= ready_count:
                ready = time.perf_counter() - start
                stop_at = time.perf_counter() + stop_after
            else:
                stop_at = time.perf_counter()
        try:
            process.wait(timeout=max(0, stop_at - time.perf_counter()))
        except subprocess.TimeoutExpired:
            final_rss = rss_kib(process.pid)
            process.send_signal(getattr(signal, stop_signal))
            process.wait(timeout=60)
        err.seek(0)
        completed = subprocess.CompletedProcess(command, process.returncode, b"", err.read())
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(out_file, "w") as f:
    json.dump(
        {
            "code": completed.returncode,
            "wall_s": wall,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "max_rss_kib": usage.ru_maxrss,
            "final_rss_kib": final_rss,
            "ready_s": ready,
            "stderr": completed.stderr.decode("utf-8", "replace"),
        },
        f,
    )
