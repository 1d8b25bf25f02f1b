#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""A real pre-fork service under KSM, in the guest (make bench WORKLOADS=service).

service.py OUTDIR LAUNCH_DIR ROUNDS WORKERS [KSMD]

Debian's gunicorn (sync workers, --preload) serves service_app.py, whose
data set is built at import, in the master, before it forks its workers;
each request reads a slice of it (CPython writes the reference counts).
gunicorn rather than uWSGI: its master and workers are all CPython, so the
heap KSM sees is the interpreter's own, as in the python workload of
run.py; max_requests with jitter and a graceful reload on SIGHUP that
re-reads its configuration file are what the phases need (uWSGI has
both too, but its master is C, and its Python a plugin package,
uwsgi-plugin-python3). The master is started by LAUNCH_DIR/launch, which
joins the service's cgroup and sets PR_SET_MEMORY_MERGE before exec, as
systemd's MemoryKSM= does; the run checks that the master and every worker,
including those forked during a phase, have it (ksm_merge_any in
/proc/PID/ksm_stat), and records a run where one lacks it as failed.
ASLR plays no part: every worker is a fork of the one master, with its
layout.

Load: Debian's wrk at a fixed concurrency on loopback, its Lua script
(service.lua) checking every response's status and body against the
bodies this runner computes in its own process (service_app.answer()).

For each round, each worker count of WORKERS ("4 8"), each ksmd setting
of KSMD (run.py's; default "default", as the kernel boots) and each switch
position (wp_reuse 1 then 0, interleaved), a new service, then:
  warmup    the first load on the fresh workers (their first writes to the
            data set break fork's COW sharing: copies, not KSM);
  steady    load, after ksmd had two full scans to merge the workers' copies;
  reload    load, and a SIGHUP a third into it: gunicorn re-reads its
            configuration, forks a new set of workers and stops the old
            ones gracefully (what a deployment does to change them);
  pressure  swap on a loop device alone (scripts/guest-loop-swap.sh), the
            cgroup reclaimed to about half its charge and memory.max an
            eighth of the charge above that (run.py's squeeze()), load;
            then the limit lifted and swapoff;
  recycle   load with max_requests (and jitter) on, so workers exit and are
            forked again under load. Switching it on takes a reload (the
            setting is read when a worker is forked), done before the phase,
            not in it; last, so that no other phase has recycling on.
ksmd gets at least three full scans between phases, with no load, and
more while it still merges (wait_merged(): a service's load comes in
bursts; and a phase starts from merged pages, not from ksmd's pace). Each phase records wrk's requests per second and latency
percentiles, the checks' counts, the tracepoint's verdicts and the pages
allocated by the master and the workers (the verdicts of every task, each
given to its process, ksmd's apart; the allocations of every thread, and
of every worker forked during the phase: set_event_pid with event-fork),
the workers
booted and recycled (gunicorn's log), ksm's pages_shared and
pages_sharing, ksmd's CPU time and full scans, the swap counters, OOM
kills, and SERVICE_SAMPLES times during the phase every KSM page's
mapcount from /proc/kpageflags and /proc/kpagecount (no counter tells how
many are mapped once), and how many of them the master maps, and the
workers (/proc/PID/pagemap). A run whose responses were not all 200 with the
expected body, or where a process lacked the opt-in, is recorded with its
reasons in "failed"; a run where the service died or did not start, with
the error instead. Output: OUTDIR/service.json, a line per phase and per
run.

Sizes (environment): SERVICE_SECONDS of wrk per phase (25),
SERVICE_RECORDS in the data set (30000), SERVICE_KEYS slices of it (64),
SERVICE_CONNECTIONS (8, a wrk thread each: service.lua times every
request, without wrk's correction for coordinated omission),
SERVICE_WRK_TIMEOUT (30 s; a longer latency is counted as a timeout, not
in the percentiles), SERVICE_SAMPLES per phase (1, besides the samples just
before and just after the load), SERVICE_WORKER_LIFE
(10 s) or SERVICE_MAX_REQUESTS for the recycling (below), SERVICE_PORT
(8321).
"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # HERE is the host's tree, shared into the guest
from run import (CG, KSM, KSMD, cgroup_parent, ksm_counts, ksm_stat, ksmd_ticks, loop_swap,  # noqa: E402
                 mapcount_sample, oom_kills, read, record_run, remove_cgroup, set_ksmd, squeeze,
                 trace_create, trace_off, trace_on, trace_remove, trace_total, wait_merged, write)

HERE = os.path.dirname(os.path.abspath(__file__))
SECONDS = int(os.environ.get("SERVICE_SECONDS", "25"))
RECORDS = int(os.environ.get("SERVICE_RECORDS", "30000"))
KEYS = int(os.environ.get("SERVICE_KEYS", "64"))
CONNECTIONS = int(os.environ.get("SERVICE_CONNECTIONS", "8"))
# One connection per wrk thread: service.lua times each request itself.
WRK_THREADS = CONNECTIONS
WRK_TIMEOUT = int(os.environ.get("SERVICE_WRK_TIMEOUT", "30"))
SAMPLES = int(os.environ.get("SERVICE_SAMPLES", "1"))
PORT = int(os.environ.get("SERVICE_PORT", "8321"))
# Worker recycling is set as a worker's lifetime, not a request count.
# Deployments set max_requests in the hundreds to thousands (gunicorn's
# documentation's example: 1000, jitter 50), which at the tens to hundreds
# of requests a second a worker serves there is a life of seconds to
# minutes. This guest serves about 10 requests a second in all on the
# debug kernel (issue 27's first look), a few times that at most on the
# bench kernel: a production count would never recycle within a phase.
# What KSM sees depends on the lifetime against ksmd's full scan (seconds
# in this guest, minutes on a host with gigabytes to scan): with 10 s, the
# short end, every worker is replaced about twice in a 25 s phase, and
# lives for about one full scan here (each phase records its full scans),
# so both kinds are met: workers that exit after ksmd merged their copies,
# and workers that exit before. max_requests is the steady phase's
# requests per second per worker, of the first run with that worker count,
# times the lifetime (at least 10), then fixed for every run with that
# count, so that switch on and off recycle after the same requests;
# max_requests_jitter is a quarter of it (gunicorn adds 0..jitter per
# worker, so that workers forked together do not all exit together).
WORKER_LIFE = float(os.environ.get("SERVICE_WORKER_LIFE", "10"))
MAX_REQUESTS = os.environ.get("SERVICE_MAX_REQUESTS")
GUNICORN = "/usr/bin/gunicorn"
WRK = "/usr/bin/wrk"
TMP = "/tmp/ksm_service"  # guest-local: not the 9p share

os.environ["SERVICE_RECORDS"], os.environ["SERVICE_KEYS"] = str(RECORDS), str(KEYS)
import service_app  # noqa: E402  (builds the data set: with the sizes just set)


class ServiceFailed(Exception):
    """The service died, or did not start or reload: the run is recorded with
    the error, and the next one goes on."""


class Service:
    """One gunicorn master with n workers in cgroup cg, started by launch."""

    def __init__(self, launch, n, cg, log):
        self.n, self.cg, self.log = n, cg, log
        self.conf = os.path.join(TMP, "gunicorn.conf.py")
        self.configure(0, 0)
        os.mkdir(cg)
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        with open(log, "ab") as f:
            self.p = subprocess.Popen(
                [launch, cg, GUNICORN, "-c", self.conf, "--pythonpath", HERE,
                 "service_app:application"],
                stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, env=env)
        self.master = self.p.pid  # launch execs gunicorn
        self.opt_in = {}

    def configure(self, max_requests, jitter):
        """gunicorn's configuration file: re-read on SIGHUP, so the setting
        that changes (max_requests) is here, not on the command line."""
        with open(self.conf, "w") as f:
            f.write(f'bind = "127.0.0.1:{PORT}"\n'
                    f"workers = {self.n}\n"
                    'worker_class = "sync"\n'
                    "preload_app = True\n"
                    # A worker silent this long is killed: TCG and the
                    # pressure phase are slow, and no request takes this long.
                    "timeout = 120\n"
                    "graceful_timeout = 120\n"
                    f"max_requests = {max_requests}\n"
                    f"max_requests_jitter = {jitter}\n"
                    'loglevel = "info"\n')

    def alive(self):
        if self.p.poll() is not None:
            raise ServiceFailed(f"the gunicorn master exited with status {self.p.returncode}; "
                                f"the end of its log: {self.log_tail()}")

    def log_tail(self):
        with open(self.log, errors="replace") as f:
            return " | ".join(f.read().splitlines()[-8:])

    def workers(self):
        """The master's children in the service's cgroup, zombies aside
        (/proc/PID/task/*/children needs CONFIG_PROC_CHILDREN, which the
        test and bench kernels lack: the parent pid of each process of the
        cgroup instead)."""
        out = []
        for pid in read(self.cg + "/cgroup.procs").split():
            try:
                f = read(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()
            except OSError:
                continue
            if f[0] != "Z" and int(f[1]) == self.master:
                out.append(int(pid))
        return sorted(out)

    def sample(self, t0):
        """A mapcount_sample() with whose the KSM pages are: the master's
        mapping keeps a page's mapcount above 1 for as long as it lives, so
        a worker's write to a page the master maps cannot reuse it."""
        workers = self.workers()
        return mapcount_sample(self.cg, t0, owners={"master": [self.master], "workers": workers},
                               workers=len(workers))

    def wait_workers(self, old, timeout=300):
        """Until n workers run, none of them in old, and one answers."""
        t0 = time.time()
        while True:
            self.alive()
            w = self.workers()
            if len(w) == self.n and not set(w) & old:
                break
            if time.time() - t0 > timeout:
                raise ServiceFailed(f"no {self.n} new workers after {timeout} s (have {w}, old "
                                    f"{sorted(old)}); the end of gunicorn's log: {self.log_tail()}")
            time.sleep(0.5)
        while True:
            # http.client, not urllib: no proxy from the environment.
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
            try:
                c.request("GET", "/")
                r = c.getresponse()
                if r.status == 200 and r.read() == b"ok\n":
                    return
            except (OSError, http.client.HTTPException):  # not listening yet
                pass
            finally:
                c.close()
            self.alive()
            if time.time() - t0 > timeout:
                raise ServiceFailed(f"the service did not answer GET / in {timeout} s; "
                                    f"the end of gunicorn's log: {self.log_tail()}")
            time.sleep(0.5)

    def check_opt_in(self, pids):
        """Record the opt-in of pids not seen yet: the launcher set it on the
        master, and fork passes it on."""
        for pid in pids:
            if pid not in self.opt_in:
                s = ksm_stat(pid)
                if s is not None:
                    self.opt_in[pid] = {"merge_any": s.get("ksm_merge_any") == "yes",
                                        "merging_pages": int(s.get("ksm_merging_pages", 0)),
                                        "role": "master" if pid == self.master else "worker"}

    def reload(self, max_requests=None, jitter=0):
        """SIGHUP: gunicorn re-reads its configuration (max_requests, if
        given), forks n new workers and stops the old ones gracefully."""
        if max_requests is not None:
            self.configure(max_requests, jitter)
        os.kill(self.master, signal.SIGHUP)

    def stop(self):
        """SIGTERM (a graceful stop), then whatever is left is killed, and
        the cgroup removed."""
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(150)
            except subprocess.TimeoutExpired:
                pass
        remove_cgroup(self.cg, reap=self.p.poll)


class Sampler(threading.Thread):
    """During a phase: the opt-in of every worker as it appears (every half
    second), and SAMPLES times, evenly spread, a mapcount_sample() (its walk
    takes a vCPU for a while: the same in both switch positions)."""

    def __init__(self, svc, seconds, t0):
        super().__init__(daemon=True)
        self.svc, self.seconds, self.t0 = svc, seconds, t0
        self.samples, self.error, self.stop = [], None, threading.Event()

    def run(self):
        try:
            due = [self.seconds * (i + 1) / (SAMPLES + 1) for i in range(SAMPLES)]
            while not self.stop.wait(0.5):
                self.svc.check_opt_in(self.svc.workers())
                if due and time.time() - self.t0 >= due[0]:
                    due.pop(0)
                    self.samples.append(self.svc.sample(self.t0))
        except Exception as e:  # noqa: BLE001 -- raised again in the main thread
            self.error = e


def expected_bodies(path):
    """What every key's response must be, as the Lua table service.lua loads:
    computed here, from service_app's own data set built in this process."""
    with open(path, "w") as f:
        f.write("return {\n")
        for k in range(KEYS):
            f.write(f'[{k}] = "{service_app.answer(service_app.DATA, k).decode().strip()}\\n",\n')
        f.write("}\n")


def wrk(seconds):
    return subprocess.Popen(
        [WRK, "-t", str(WRK_THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s",
         "--timeout", f"{WRK_TIMEOUT}s", "-s", os.path.join(HERE, "service.lua"),
         f"http://127.0.0.1:{PORT}/"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, SERVICE_EXPECTED=os.path.join(TMP, "expected.lua")))


def wrk_result(out):
    for line in out.splitlines():
        if line.startswith("service-wrk: "):
            r = json.loads(line[len("service-wrk: "):])
            r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
            return r
    raise ServiceFailed(f"wrk gave no result line (service.lua's done()): {out.strip()[-400:]}")


def phase(svc, name, during=None):
    """SECONDS of wrk against svc, and what it cost. during(): called once
    wrk runs (the reload's SIGHUP)."""
    svc.alive()
    start_workers = svc.workers()
    pids = [svc.master] + start_workers
    svc.check_opt_in(pids)
    counters = ("cow_ksm", "ksm_wp_reuse", "pswpin", "pswpout")
    k0, ticks0, oom0 = ksm_counts(), ksmd_ticks(), oom_kills(svc.cg)
    log0 = os.path.getsize(svc.log)
    t0 = time.time()
    before = svc.sample(t0)
    v0 = trace_on(pids, counters)
    load = wrk(SECONDS)
    sampler = Sampler(svc, SECONDS, time.time())
    sampler.start()
    try:
        if during:
            during()
        out, _ = load.communicate(timeout=SECONDS + 300)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
        sampler.stop.set()
        sampler.join()
        per, v1 = trace_off(counters)
    k1, ticks1 = ksm_counts(), ksmd_ticks()
    after = svc.sample(t0)
    if sampler.error:
        raise sampler.error
    with open(svc.log, errors="replace") as f:
        f.seek(log0)
        log = f.read()
    svc.alive()
    empty = {"verdicts": {}, "allocs": 0}
    # Only the service opted in to KSM: a process with verdicts but the
    # master, ksmd and 0 (its process not recorded) is a worker.
    workers = [d for pid, d in per.items() if pid not in (svc.master, 0, "ksmd")]
    ph = {"phase": name, "wrk": wrk_result(out),
          "service": trace_total(d for pid, d in per.items() if pid != "ksmd"), "master": per.get(svc.master, empty),
          "workers": trace_total(workers), "unattributed": per.get(0, empty),
          "ksmd": per.get("ksmd", empty),
          "workers_at_start": len(start_workers), "workers_traced": len(workers),
          "workers_forked": len(set(per) - set(pids) - {0, "ksmd"}),
          "workers_booted": log.count("Booting worker with pid"),
          "workers_recycled": log.count("Autorestarting worker"),
          "pages_shared": [k0["pages_shared"], k1["pages_shared"]],
          "pages_sharing": [k0["pages_sharing"], k1["pages_sharing"]],
          "full_scans": k1["full_scans"] - k0["full_scans"],
          "ksmd_ticks": ticks1 - ticks0, "oom_kills": oom_kills(svc.cg) - oom0,
          "samples": [before] + sampler.samples + [after]}
    ph.update({k: v1[k] - v0[k] for k in counters})
    return ph


def summary(ph):
    w, v = ph["wrk"], ph["service"]["verdicts"]
    once = "/".join(str(s["mapped_once"]) for s in ph["samples"]) or "-"
    return (f"{ph['phase']}: {w['rps']:.1f} req/s p50 {w['latency_us']['p50'] / 1e3:.0f} ms "
            f"p99 {w['latency_us']['p99'] / 1e3:.0f} ms, {w['checked']} checked "
            f"({w['mismatch']} mismatched, {w['non200']} not 200, errors "
            f"{sum(w['errors'].values()) - w['errors']['status']}); KSM write faults "
            + (" ".join(f"{k}={n}" for k, n in sorted(v.items())) or "none")
            + f"; allocs {ph['service']['allocs']}; workers booted {ph['workers_booted']} "
            f"(recycled {ph['workers_recycled']}; {ph['workers_forked']} new ones faulted, traced); "
            f"sharing/shared {ph['pages_sharing'][1]}/{ph['pages_shared'][1]}; mapped once {once}; "
            f"ksmd {ph['ksmd_ticks']} ticks")


def failures(ph):
    w = ph["wrk"]
    out = []
    if w["mismatch"] or w["non200"]:
        out.append(f"{ph['phase']}: {w['mismatch']} responses with a wrong body and {w['non200']} "
                   f"not 200 of {w['checked']} (first: {w['example']})")
    errors = sum(n for k, n in w["errors"].items() if k != "status")
    if errors:
        out.append(f"{ph['phase']}: socket errors {w['errors']} (a graceful reload or a "
                   "recycled worker drops no connection)")
    if w["checked"] != w["requests"]:
        out.append(f"{ph['phase']}: wrk completed {w['requests']} requests but its script "
                   f"checked {w['checked']}")
    return out


def one_run(launch, n, wp, ksmd, recycle, tag, logs):
    write(KSM + "wp_reuse", wp)
    set_ksmd(ksmd)
    run = {"workers": n, "wp_reuse": wp, "ksmd": ksmd, "phases": []}
    t0 = time.time()
    svc = Service(launch, n, f"{CG}/service", os.path.join(logs, tag.replace(" ", "-") + ".log"))

    def add(ph):
        run["phases"].append(ph)
        print(f"{tag}: {summary(ph)}", flush=True)
    try:
        svc.wait_workers(set())
        ticks0 = ksmd_ticks()
        wait_merged()
        add(phase(svc, "warmup"))
        wait_merged()
        run["pages_sharing_merged"] = int(read(KSM + "pages_sharing"))
        add(phase(svc, "steady"))
        if n not in recycle:
            per_worker = run["phases"][-1]["wrk"]["rps"] / n
            r = int(MAX_REQUESTS) if MAX_REQUESTS else max(10, round(per_worker * WORKER_LIFE))
            recycle[n] = {"max_requests": r, "max_requests_jitter": r // 4,
                          "from": "SERVICE_MAX_REQUESTS" if MAX_REQUESTS else
                          f"{per_worker:.2f} requests/s per worker in {tag}'s steady phase "
                          f"x {WORKER_LIFE:g} s"}
        wait_merged()
        old = set(svc.workers())

        def hup():
            time.sleep(SECONDS / 3)
            svc.reload()
        add(phase(svc, "reload", during=hup))
        svc.wait_workers(old)
        wait_merged()
        try:
            # Room for everything charged, whatever reclaim picks, and for
            # every KSM page the load breaks (sparse: unused room is free).
            loop_swap((int(read(svc.cg + "/memory.current"))
                       + int(read(KSM + "pages_sharing")) * 4096) // 2**20 + 256)
            squeezed = squeeze(svc.cg, "the service")
            ph = phase(svc, "pressure")
        finally:
            if os.path.isdir(svc.cg):
                write(svc.cg + "/memory.max", "max")
            # swapoff reads every swapped page back in.
            loop_swap(0)
        ph.update(squeezed)
        add(ph)
        wait_merged()
        old = set(svc.workers())
        svc.reload(recycle[n]["max_requests"], recycle[n]["max_requests_jitter"])
        svc.wait_workers(old)
        wait_merged()
        add(phase(svc, "recycle"))
        run["recycle"] = recycle[n]
        run["ksmd_ticks"] = ksmd_ticks() - ticks0
    finally:
        run["opt_in"] = {str(pid): v for pid, v in svc.opt_in.items()}
        svc.stop()
    run["seconds"] = round(time.time() - t0, 1)
    run["failed"] = [f for ph in run["phases"] for f in failures(ph)]
    lacking = [pid for pid, v in run["opt_in"].items() if not v["merge_any"]]
    if lacking:
        run["failed"].append(f"PR_SET_MEMORY_MERGE missing in {', '.join(lacking)} "
                             "(ksm_merge_any: no in /proc/PID/ksm_stat)")
    return run


def main():
    if len(sys.argv) not in (5, 6):
        raise SystemExit(__doc__)
    out, launch_dir, rounds, counts = sys.argv[1:5]
    ksmds = sys.argv[5].split() if len(sys.argv) > 5 else ["default"]
    for k in ksmds:
        if k not in KSMD:
            raise SystemExit(f"service.py: no ksmd setting {k} (have: {' '.join(KSMD)})")
    counts = [int(n) for n in counts.split()]
    launch = os.path.join(launch_dir, "launch")
    for prog in (GUNICORN, WRK, launch):
        if not os.access(prog, os.X_OK):
            raise SystemExit(f"service.py: no {prog}: install Debian's gunicorn and wrk "
                             "(scripts/setup.sh), and build the launcher (scripts/bench.sh)")
    os.makedirs(TMP, exist_ok=True)
    # gunicorn's logs, one per run: master and workers append to it, in a
    # guest-local file; copied to OUTDIR at the end.
    logs = os.path.join(TMP, "service-logs")
    os.makedirs(logs, exist_ok=True)
    expected_bodies(os.path.join(TMP, "expected.lua"))
    # Loopback may be down in a minimal guest.
    if not int(read("/sys/class/net/lo/flags"), 16) & 1:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    write(KSM + "run", 1)
    cgroup_parent()
    # The pressure phase's swap-ins and the forks of recycling allocate
    # many pages: room for every event of a phase.
    trace_create(32768)
    runs, recycle = [], {}
    try:
        for r in range(int(rounds)):
            for n in counts:
                for ksmd in ksmds:
                    # Alternate which position goes first: drift within a
                    # pair favours neither. Round 0 measures 1 first, so
                    # that recycle[n] comes from a run with the switch on.
                    for wp in ((1, 0) if r % 2 == 0 else (0, 1)):
                        tag = f"round {r} workers={n} ksmd={ksmd} wp_reuse={wp}"
                        record_run(runs, tag, {"workers": n, "wp_reuse": wp, "ksmd": ksmd, "round": r},
                                   lambda: one_run(launch, n, wp, ksmd, recycle, tag, logs),
                                   (ServiceFailed, OSError, subprocess.SubprocessError))
    finally:
        write(KSM + "wp_reuse", 1)
        set_ksmd("default")
        with open(os.path.join(out, "service.json"), "w") as f:
            json.dump({"kind": "service", "ksmd": KSMD, "recycle": recycle,
                       "settings": {"seconds": SECONDS, "records": RECORDS, "keys": KEYS,
                                    "connections": CONNECTIONS, "wrk_threads": WRK_THREADS,
                                    "wrk_timeout_s": WRK_TIMEOUT, "samples": SAMPLES,
                                    "worker_life_s": WORKER_LIFE},
                       "runs": runs}, f, indent=1)
        trace_remove()
        shutil.copytree(logs, os.path.join(out, "service-logs"), dirs_exist_ok=True)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    main()
