#!/usr/bin/env python3
"""Runs a command and prints its wall time, CPU time and peak RSS as JSON on stderr's last line.

Node cannot read a child's rusage, and GNU time is not on every machine; Python's resource module is.
Usage: rusage.py OUTPUT_JSON_FILE -- command args...
"""
import json
import resource
import subprocess
import sys
import time

out_file = sys.argv[1]
command = sys.argv[sys.argv.index("--") + 1 :]
start = time.perf_counter()
completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
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
