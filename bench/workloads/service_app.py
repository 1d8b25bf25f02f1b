# SPDX-License-Identifier: GPL-2.0
"""The WSGI application of the service workload (bench/workloads/service.py),
served by Debian's gunicorn with --preload.

At import it builds SERVICE_RECORDS records (default 30000; the shape of
heap.py's: a dict of an int, a string and a list of three ints each). Under
--preload the master imports this module before it forks, so every worker
starts with the same heap, as a pre-fork service's data set, cache or model
is shared. GET /k/KEY (0 <= KEY < SERVICE_KEYS, default 64) reads the KEY-th
of SERVICE_KEYS equal slices of the records and answers
"key=KEY n=RECORDS_READ sum=CHECKSUM\\n"; reading an object in CPython
writes its reference count (up, then back), so a request writes every
heap page of its slice, as a real handler does. GET / answers "ok\\n".

answer() is also what the runner calls, in its own process, for the bodies
wrk's checker (check.lua) expects: a body that differs is memory that
changed under the service.
"""
import os
import zlib

RECORDS = int(os.environ.get("SERVICE_RECORDS", "30000"))
KEYS = int(os.environ.get("SERVICE_KEYS", "64"))


def build(records):
    return [{"k": i, "s": "r%09d" % i, "v": [i, 2 * i, 3 * i]} for i in range(records)]


def answer(data, key):
    """The body for key: a checksum of every field of its slice's records."""
    lo, hi = key * len(data) // KEYS, (key + 1) * len(data) // KEYS
    s = 0
    for d in data[lo:hi]:
        s = (s * 31 + d["k"] + zlib.crc32(d["s"].encode()) + d["v"][0] + d["v"][1] + d["v"][2]) & 0xFFFFFFFF
    return b"key=%d n=%d sum=%d\n" % (key, hi - lo, s)


# Built at import: before the fork under --preload.
DATA = build(RECORDS)


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    status, body = "404 Not Found", b"not found\n"
    if path == "/":
        status, body = "200 OK", b"ok\n"
    elif path.startswith("/k/") and path[3:].isdigit() and int(path[3:]) < KEYS:
        status, body = "200 OK", answer(DATA, int(path[3:]))
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
