#!/usr/bin/env python3
"""Runs a command and prints its wall time, CPU time and peak RSS as JSON on stderr's last line.

Node cannot read a child's rusage, and GNU time is not on every machine; Python's resource module is.
Usage: rusage.py OUTPUT_JSON_FILE [--stop-after SECONDS --stop-signal NAME] -- command args...
With --stop-after, a daemon is sent the signal after that many seconds and waited for.
"""
import json
import resource
import signal
import subprocess
import sys
import time

out_file = sys.argv[1]
options = sys.argv[2 : sys.argv.index("--")]
command = sys.argv[sys.argv.index("--") + 1 :]
stop_after = float(options[options.index("--stop-after") + 1]) if "--stop-after" in options else None
stop_signal = options[options.index("--stop-signal") + 1] if "--stop-signal" in options else "SIGTERM"
start = time.perf_counter()
if stop_after is None:
    completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
else:
    # A daemon's logs go to a file, not a pipe nobody reads while it runs.
    with open(out_file + ".stderr", "w+b") as err:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        try:
            process.wait(timeout=stop_after)
        except subprocess.TimeoutExpired:
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
            "stderr": completed.stderr.decode("utf-8", "replace"),
        },
        f,
    )
