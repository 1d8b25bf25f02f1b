#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The CPython workload: heap.py RECORDS.

Builds RECORDS records (a dict of an int, a string and a list of three ints
each), says "ready", then for each "pass" line on stdin walks every record
and prints "pass CHECKSUM NS": the checksum of what it read and the pass's
time. Reading an object in CPython writes its reference count (up, then
back), so a pass writes every heap page it reads, and leaves each as it
found it: the program's own work, not a write of ours.
"""
import sys
import time


def main():
    records = int(sys.argv[1])
    data = [{"k": i, "s": "r%09d" % i, "v": [i, 2 * i, 3 * i]} for i in range(records)]
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "pass":
            break
        start = time.perf_counter_ns()
        s = 0
        for d in data:
            s = (s * 31 + d["k"] + len(d["s"]) + d["v"][2]) & 0xFFFFFFFF
        print("pass", s, time.perf_counter_ns() - start, flush=True)


if __name__ == "__main__":
    main()
