#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Real programs under KSM, in the guest (make bench).

run.py OUTDIR LAUNCH_DIR ROUNDS WORKLOADS ASLR [KSMD]

Each instance of a workload is its own process, started from scratch by
LAUNCH_DIR/launch (PR_SET_MEMORY_MERGE before exec), in its own cgroup
under one parent, as a container or a VM scope is. Per round and switch
position (wp_reuse 1 then 0, interleaved), for each ASLR setting in ASLR
("on", "off": setarch -R), each ksmd setting in KSMD ("default",
"aggressive"; default "default") and each workload in WORKLOADS (python,
node, java):
  start INSTANCES instances, wait until ksmd has merged them (three full
  scans after the last is ready), then
  steady   every instance does one unit of its own work at once;
  restart  after two more full scans, each instance in turn is SIGKILLed
           and started again in a new cgroup; then every instance does a
           unit of work at once, the new one its first; two full scans
           follow each restart;
  pressure swap goes to a loop device alone (scripts/guest-loop-swap.sh);
           each instance's cgroup is reclaimed to about half of its
           charge, and memory.max set an eighth of the charge above that,
           below the working set; every instance does a unit of work at
           once. Then memory.max is lifted and swapoff reads everything
           back, and ksmd gets two full scans;
  stopped  the last instance is SIGKILLed and its cgroup removed; the
           survivors do one unit of work.
Each phase records, per instance: the tracepoint's verdicts
(ksm:ksm_wp_reuse, every task's, each given to its process; ksmd's and
any other process's apart, as "ksmd" and "unattributed"), the pages it
allocated (kmem:mm_page_alloc, of its threads and of those it starts
during the phase: set_event_pid with event-fork), the
unit's time and its checksum; for the whole guest, the cow_ksm,
ksm_wp_reuse, pswpin and pswpout counters. The run also records ksmd's CPU time and
pages_sharing. A run in which an instance dies (an OOM kill under the
pressure phase's limit, a crash) is recorded with the error instead, and
the next run goes on. Output: OUTDIR/workloads.json, and a line per run.

The helpers up to start() are shared with service.py (the pre-fork
service) and vm.py (identical virtual machines), which import them.
"""
import errno
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time

KSM = "/sys/kernel/mm/ksm/"
KSMD = {
    # as the kernel boots it (set again: an earlier part may have changed it)
    "default": {"pages_to_scan": 100, "sleep_millisecs": 20},
    # as a tuning daemon (ksmtuned's npages_max) sets it under pressure
    "aggressive": {"pages_to_scan": 1250, "sleep_millisecs": 10},
}
CG = "/sys/fs/cgroup/ksm_workloads"
TRACE = "/sys/kernel/tracing/instances/ksm_workloads"
# The verdicts' own instance, with no pid list: see trace_on().
VERDICTS = TRACE + "_verdicts"
HERE = os.path.dirname(os.path.abspath(__file__))
LOOP_SWAP = os.path.join(HERE, "..", "..", "scripts", "guest-loop-swap.sh")
# Heap.java's class, compiled by main() with the JRE's jdk.compiler module:
# guest-local, so that the JVM loads it from tmpfs rather than the 9p share.
JAVA_CLASSES = "/tmp/ksm_workloads-java"
INSTANCES = int(os.environ.get("WORKLOAD_INSTANCES", "2"))
RECORDS = os.environ.get("WORKLOAD_RECORDS", "60000")
WORKLOADS = {
    # name: the program's argv; each says "ready", then does a unit of work
    # per "pass" line and prints "pass CHECKSUM NS".
    "python": ["/usr/bin/python3", os.path.join(HERE, "heap.py"), RECORDS],
    "node": ["/usr/bin/node", "--expose-gc", os.path.join(HERE, "heap.js"), RECORDS],
    "java": ["/usr/bin/java", "-cp", JAVA_CLASSES, "Heap", RECORDS],
}
# A trace line with options/record-tgid: "comm-TID (TGID) [CPU] ... event: fields".
EVENT = re.compile(r"-\d+\s+\(\s*(\d+|-+)\)\s+\[\d+\].*?\s(ksm_wp_reuse|mm_page_alloc): (.*)$")
PROG = os.path.basename(sys.argv[0])  # run.py, service.py or vm.py, for messages
# include/uapi/linux/kernel-page-flags.h
KPF_SLAB, KPF_COMPOUND_HEAD, KPF_COMPOUND_TAIL, KPF_KSM, KPF_PGTABLE = 7, 15, 16, 21, 26
# /proc/kpageflags holds a little-endian u64 per PFN. Its third byte holds
# KPF_COMPOUND_TAIL (bit 0) and KPF_KSM (bit 5): translated through this,
# it is 1 where KSM is set on a page that is not a tail.
KSM_BYTE = bytes(1 if b >> (KPF_KSM - 16) & 1 and not b >> (KPF_COMPOUND_TAIL - 16) & 1 else 0
                 for b in range(256))
# KPF_KSM is "anon, and the KSM bit in ->mapping" (stable_page_flags()):
# slab pages, whose struct slab reuses that word, show both (9627 in a 6.18
# host, none of them KSM; 7.3 computes it the same way). A KSM page is a
# small folio, never slab nor page table.
NOT_KSM = 1 << KPF_SLAB | 1 << KPF_COMPOUND_HEAD | 1 << KPF_PGTABLE
# Documentation/admin-guide/mm/pagemap.rst
PM_PRESENT, PM_PFN = 1 << 63, (1 << 55) - 1


class InstanceDied(Exception):
    """An instance died during its unit of work (an OOM kill, a crash): the
    run is recorded as failed and the next one goes on."""


def write(path, value):
    with open(path, "w") as f:
        f.write(str(value))


def read(path):
    with open(path) as f:
        return f.read().strip()


def vmstat(*keys):
    vals = dict(line.split() for line in open("/proc/vmstat"))
    return {k: int(vals.get(k, 0)) for k in keys}


def ksmd_pid():
    """ksmd's pid, or None (no KSM)."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if read(f"/proc/{pid}/comm") == "ksmd":
                    return int(pid)
            except OSError:
                pass
    return None


def ksmd_ticks():
    pid = ksmd_pid()
    if pid is None:
        return 0
    f = read(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])  # utime + stime


def wait_scans(n, timeout=600):
    """Wait for n more full scans of ksmd."""
    start, t0 = int(read(KSM + "full_scans")), time.time()
    while int(read(KSM + "full_scans")) < start + n:
        if time.time() - t0 > timeout:
            raise SystemExit(f"{PROG}: ksmd did not finish {n} full scans in {timeout} s")
        time.sleep(0.2)


def set_ksmd(setting):
    for k, v in KSMD[setting].items():
        write(KSM + k, v)


def cgroup_parent():
    """CG, new and empty (a stale one from an aborted run removed), with
    the memory controller on for its children."""
    write("/sys/fs/cgroup/cgroup.subtree_control", "+memory")
    if os.path.isdir(CG):
        for d in os.listdir(CG):
            if os.path.isdir(f"{CG}/{d}"):
                os.rmdir(f"{CG}/{d}")
        os.rmdir(CG)
    os.mkdir(CG)
    write(CG + "/cgroup.subtree_control", "+memory")


def loop_swap(mib=0):
    """Swap on a loop device of mib MiB, alone; 0: back to the swap before."""
    subprocess.run([LOOP_SWAP, "on", str(mib)] if mib else [LOOP_SWAP, "off"], check=True)


def squeeze(cg, what):
    """Put cgroup cg (named what in a warning) under memory pressure:
    reclaim to about half its charge, then memory.max an eighth of the
    charge above what is left, below its working set. Returns the charge
    before, what reclaim left, and the limit; memory.max stays set."""
    charged = int(read(cg + "/memory.current"))
    # Reclaim first, then the limit: a limit far below the charge makes the
    # write to memory.max reclaim all at once, and can OOM-kill when it
    # finds the pages just merged still referenced.
    try:
        write(cg + "/memory.reclaim", charged // 2)
    except OSError as e:
        if e.errno != errno.EAGAIN:  # reclaimed less than asked
            raise
    left = int(read(cg + "/memory.current"))
    limit = left + charged // 8
    if limit >= charged:
        print(f"{PROG}: warning: pressure: reclaim left {what} at {left} of {charged} bytes: "
              "its limit is no pressure", file=sys.stderr)
    write(cg + "/memory.max", limit)
    return {"charged_before": charged, "after_reclaim": left, "memory_max": limit}


def trace_create(buffer_kb):
    """The tracefs instance TRACE, each CPU's buffer buffer_kb KiB."""
    try:
        for t, kb in ((TRACE, buffer_kb), (VERDICTS, 4096)):  # one event per KSM write fault
            if not os.path.isdir(t):
                os.mkdir(t)
            write(t + "/buffer_size_kb", kb)
    except OSError:
        trace_remove()
        raise


def trace_remove():
    for t in (TRACE, VERDICTS):
        if os.path.isdir(t):
            os.rmdir(t)


def trace_on(pids, counters):
    """Trace the page allocations of the threads of the processes pids, and
    of every thread and process they create while the phase runs (a runtime
    starts GC and JIT threads on demand, a pre-fork server its workers):
    set_event_pid with event-fork, each event tagged with its process. The
    verdicts are traced in an instance of their own, of every task: with the
    pid list, a JVM's phases lost 1-5% of them (51 of 1082 in one), where a
    run with none had every one; and ksmd takes KSM write faults too (an
    unshare fault in the instance's mm to unmerge a page it cannot keep
    merged, break_ksm()), which the counters count. Only the workload's
    processes have KSM pages. Returns the vmstat counters read as the events
    start: trace_off() reads them as they stop, so that the counters and the
    trace cover the same window."""
    for t in (TRACE, VERDICTS):
        write(t + "/trace", "")
        write(t + "/options/record-tgid", 1)
    write(TRACE + "/options/event-fork", 1)
    tids = []
    for p in pids:
        try:
            tids += os.listdir(f"/proc/{p}/task")
        except FileNotFoundError:  # exited since it was listed
            pass
    if not tids:  # an empty list would trace every task
        raise ProcessLookupError(f"{PROG}: none of the processes {pids} is left to trace")
    write(TRACE + "/set_event_pid", " ".join(tids))
    write(TRACE + "/events/kmem/mm_page_alloc/filter", "0")  # the pid list filters
    write(TRACE + "/events/kmem/mm_page_alloc/enable", 1)
    write(VERDICTS + "/events/ksm/ksm_wp_reuse/enable", 1)
    return vmstat(*counters)


def trace_off(counters):
    """What the traced tasks did, by process ("ksmd": ksmd's unshare faults,
    0: events whose process the trace did not record), and the vmstat
    counters read as the events stop, before the trace is read: a runtime's
    own threads (a JVM's GC and JIT) go on faulting while it is, which
    counters read after it would count and the trace would not."""
    write(VERDICTS + "/events/ksm/ksm_wp_reuse/enable", 0)
    write(TRACE + "/events/kmem/mm_page_alloc/enable", 0)
    v = vmstat(*counters)
    ksmd = ksmd_pid()
    per = {}
    for t in (TRACE, VERDICTS):
        with open(t + "/trace") as f:
            for line in f:
                m = EVENT.search(line)
                if not m:
                    continue
                tgid, event, rest = int(m.group(1)) if m.group(1).isdigit() else 0, m.group(2), m.group(3)
                if tgid == ksmd:
                    tgid = "ksmd"
                d = per.setdefault(tgid, {"verdicts": {}, "allocs": 0})
                if event == "mm_page_alloc":
                    order = re.search(r"order=(\d+)", rest)
                    d["allocs"] += 1 << int(order.group(1)) if order else 1
                else:
                    res = re.search(r"swapcache=(\d) result=(\w+)", rest)
                    key = ("swapcache " if res.group(1) == "1" else "") + res.group(2)
                    d["verdicts"][key] = d["verdicts"].get(key, 0) + 1
        for cpu in os.listdir(t + "/per_cpu"):
            stats = read(f"{t}/per_cpu/{cpu}/stats")
            if int(stats.split("overrun: ")[1].split()[0]):
                raise SystemExit(f"{PROG}: the trace buffer of {cpu} ({t}) overran: enlarge buffer_size_kb")
    write(TRACE + "/set_event_pid", "")
    return per, v


def trace_total(ds):
    """The events of several processes of trace_off()'s, added up."""
    t = {"verdicts": {}, "allocs": 0}
    for d in ds:
        t["allocs"] += d["allocs"]
        for k, n in d["verdicts"].items():
            t["verdicts"][k] = t["verdicts"].get(k, 0) + n
    return t


def ksm_pages():
    """Every KSM page of the machine (the workload's: nothing else in the
    guest opts in) and how many times it is mapped: {pfn: mapcount}. Walks
    /proc/kpageflags in large reads, and reads /proc/kpagecount at the KSM
    pages alone."""
    pages = {}
    with open("/proc/kpageflags", "rb", buffering=0) as flags, \
            open("/proc/kpagecount", "rb", buffering=0) as counts:
        pfn = 0
        while True:
            chunk = flags.read(1 << 20)
            if not chunk:
                break
            ksm = chunk[2::8].translate(KSM_BYTE)
            i = ksm.find(1)
            while i >= 0:
                if not int.from_bytes(chunk[8 * i:8 * i + 8], "little") & NOT_KSM:
                    pages[pfn + i] = int.from_bytes(os.pread(counts.fileno(), 8, (pfn + i) * 8), "little")
                i = ksm.find(1, i + 1)
            pfn += len(chunk) // 8
    return pages


def mapped_pfns(pid):
    """The page frames process pid maps now, as a set: its /proc/PID/pagemap
    (present bit 63, the PFN in bits 0-54, which root sees) over the ranges
    of /proc/PID/maps. Empty if it exited meanwhile."""
    pfns = set()
    try:
        with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb", buffering=0) as pm:
            for line in maps:
                lo, hi = (int(a, 16) // 4096 for a in line.split(None, 1)[0].split("-"))
                if lo >= 1 << 35:  # [vsyscall], above user space: pagemap reads it as empty
                    continue
                data = os.pread(pm.fileno(), (hi - lo) * 8, lo * 8)
                pfns.update(e & PM_PFN for (e,) in struct.iter_unpack("<Q", data) if e & PM_PRESENT)
    except (FileNotFoundError, ProcessLookupError):
        return set()
    return pfns


def ksm_owners(pages, owners):
    """Whose KSM pages are (pages: ksm_pages()): per role of owners
    ({role: [pid, ...]}), how many of them its processes map, and how many
    of those are mapped once. Read process by process after the walk of
    kpageflags, while the workload runs: a count to explain a verdict with,
    not an exact snapshot."""
    out = {}
    for role, pids in owners.items():
        mine = set().union(*(mapped_pfns(pid) for pid in pids)) & pages.keys()
        out[role] = {"ksm_pages": len(mine), "mapped_once": sum(pages[pfn] == 1 for pfn in mine)}
    return out


def mapcount_sample(cg, t0, owners=None, **extra):
    """The KSM pages by mapcount, ksm's counters and cgroup cg's charge, now,
    with what the caller adds (extra) and, given owners, ksm_owners(); t is
    seconds since t0, walk_s what the walk of /proc/kpageflags took."""
    t = time.time()
    pages = ksm_pages()
    hist = {}
    for n in pages.values():
        hist[n] = hist.get(n, 0) + 1
    walk_s = round(time.time() - t, 2)
    if owners:
        extra["owners"] = ksm_owners(pages, owners)
    return dict(t=round(t - t0, 1), walk_s=walk_s,
                ksm_pages=len(pages), mapped_once=hist.get(1, 0),
                mapcount={str(k): v for k, v in sorted(hist.items())},
                memory_current=int(read(cg + "/memory.current")), **extra, **ksm_counts())


def wait_merged(most=8):
    """Until ksmd merged what the last load changed (service.py's, vm.py's): three full scans end
    (the first began under load; a changed page merges on its second visit
    after the write), then more while pages_sharing still grows by more
    than 1% a scan (smart_scan, on by default, skips a page that did not
    merge on its last visits for up to 8 scans), at most most in all."""
    wait_scans(3)
    prev = int(read(KSM + "pages_sharing"))
    for _ in range(most - 3):
        wait_scans(1)
        cur = int(read(KSM + "pages_sharing"))
        if cur <= prev * 1.01:
            break
        prev = cur


def ksm_stat(pid):
    """/proc/PID/ksm_stat as a dict ("ksm_merge_any: yes" and "ksm_rmap_items
    0" alike); None once the process has exited."""
    try:
        text = read(f"/proc/{pid}/ksm_stat")
    except OSError:
        return None
    stat = dict(line.replace(":", "").split(None, 1) for line in text.splitlines())
    return stat or None


def ksm_counts():
    return {k: int(read(KSM + k)) for k in ("pages_shared", "pages_sharing", "full_scans")}


def oom_kills(cg):
    events = dict(line.split() for line in read(cg + "/memory.events").splitlines())
    return int(events.get("oom_kill", 0))


def start(launch, workload, aslr, i, gen=0):
    """Start instance @i of @workload with @launch (bench/workloads/launch.c)
    in a new cgroup of its own."""
    cg = f"{CG}/i{i}" + (f"g{gen}" if gen else "")
    os.mkdir(cg)
    argv = [launch, cg]
    if aslr == "off":
        argv += ["setarch", os.uname().machine, "-R"]
    p = subprocess.Popen(argv + WORKLOADS[workload], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    p.cg, p.index = cg, i
    if p.stdout.readline().strip() != "ready":
        stop(p)
        raise SystemExit(f"run.py: {workload} instance {i} did not start")
    return p


def phase(name, procs, fresh=None):
    """One unit of work in each of procs, at once; what it cost, per instance
    (fresh: the one just started, whose unit is its first)."""
    counters = ("cow_ksm", "ksm_wp_reuse", "pswpin", "pswpout")
    v0 = trace_on([p.pid for p in procs], counters)
    for p in procs:
        p.stdin.write("pass\n")
        p.stdin.flush()
    out = {}
    for p in procs:
        line = p.stdout.readline()
        if not line:
            events = read(p.cg + "/memory.events").replace("\n", ", ")
            raise InstanceDied(f"{name}: instance {p.index} died during its unit of work "
                               f"(exit status {p.wait()}; its cgroup's memory.events: {events})")
        _, checksum, ns = line.split()
        out[p.pid] = {"checksum": int(checksum), "ns": int(ns)}
    per, v1 = trace_off(counters)
    inst = [dict(out[p.pid], **per.get(p.pid, {"verdicts": {}, "allocs": 0}),
                 instance=p.index, first=p is fresh)
            for p in procs]
    # Traced, but of no instance: a process an instance created, or (0) one
    # whose tgid the trace did not record.
    others = trace_total(d for pid, d in per.items() if pid not in {p.pid for p in procs} | {"ksmd"})
    return dict({"phase": name, "instances": inst, "unattributed": others,
                 "ksmd": per.get("ksmd", {"verdicts": {}, "allocs": 0})},
                **{k: v1[k] - v0[k] for k in counters})


def pressure(procs):
    """The pressure phase: memory.max below each instance's working set,
    swap on a loop device alone; then everything back."""
    squeezed = {}
    try:
        # Room for everything charged, whatever reclaim picks.
        loop_swap(sum(int(read(p.cg + "/memory.current")) for p in procs) // 2**20 + 64)
        for p in procs:
            squeezed[p.index] = squeeze(p.cg, f"instance {p.index}")
        ph = phase("pressure", procs)
    finally:
        for p in procs:
            if os.path.isdir(p.cg):
                write(p.cg + "/memory.max", "max")
        # swapoff reads every swapped page back in.
        loop_swap(0)
    for i in ph["instances"]:
        i.update(squeezed[i["instance"]])
    return ph


def remove_cgroup(cg, reap=None):
    """Kill what is left in cg, wait until it is empty, reap() our own child
    if given (its zombie keeps the cgroup busy), and remove it: rmdir fails
    with EBUSY while the last exits are accounted."""
    if not os.path.isdir(cg):
        return
    if read(cg + "/cgroup.procs"):
        write(cg + "/cgroup.kill", 1)
    for _ in range(600):
        if not read(cg + "/cgroup.procs"):
            break
        time.sleep(0.1)
    if reap:
        reap()
    for _ in range(50):
        try:
            os.rmdir(cg)
            return
        except OSError:
            time.sleep(0.2)
    os.rmdir(cg)


def record_run(runs, tag, keys, one, failures):
    """One run of a service's or VMs' plan: one() returns its record, which
    gets keys' round and goes to runs; one that raised one of failures is
    recorded as keys and the error. Either way a line says how it went."""
    try:
        run = one()
    except failures as e:
        runs.append({**keys, "error": str(e)})
        print(f"{tag}: FAILED: {e}", flush=True)
        return
    run["round"] = keys["round"]
    runs.append(run)
    print(f"{tag}: {'FAILED: ' + '; '.join(run['failed']) if run['failed'] else 'ok'}; "
          f"merged {run.get('pages_sharing_merged', '-')} sharing; "
          f"ksmd {run.get('ksmd_ticks', '-')} ticks; {run['seconds']} s", flush=True)


def stop(p):
    if p.poll() is None:
        p.kill()
        p.wait()
    if os.path.isdir(p.cg):
        os.rmdir(p.cg)


def one_run(launch, workload, aslr, ksmd, wp):
    write(KSM + "wp_reuse", wp)
    set_ksmd(ksmd)
    procs, t0 = [], time.time()
    try:
        for i in range(INSTANCES):
            procs.append(start(launch, workload, aslr, i))
        ticks0 = ksmd_ticks()
        wait_scans(3)
        run = {"workload": workload, "aslr": aslr, "ksmd": ksmd, "wp_reuse": wp,
               "pages_sharing_merged": int(read(KSM + "pages_sharing")), "phases": []}
        run["phases"].append(phase("steady", procs))
        wait_scans(2)
        # Rolling restart: each instance in turn is killed and started
        # again in a new cgroup; then all do a unit of work at once, the
        # restarted one its first (its warm-up), the others theirs with
        # the pages they shared with it; ksmd merges it in before the next.
        for i in range(INSTANCES):
            stop(procs[i])
            procs[i] = start(launch, workload, aslr, i, gen=1)
            run["phases"].append(phase("restart", procs, fresh=procs[i]))
            wait_scans(2)
        run["phases"].append(pressure(procs))
        wait_scans(2)
        run["pages_sharing_before_stop"] = int(read(KSM + "pages_sharing"))
        stop(procs.pop())
        run["phases"].append(phase("stopped", procs))
        run["ksmd_ticks"] = ksmd_ticks() - ticks0
        run["seconds"] = round(time.time() - t0, 1)
    finally:
        for p in procs:
            stop(p)
    return run


def summary(run):
    s = []
    for ph in run["phases"]:
        v = {}
        for i in ph["instances"]:
            for k, n in i["verdicts"].items():
                v[k] = v.get(k, 0) + n
        kv = ph["ksmd"]["verdicts"]
        s.append("%s: cow_ksm %d ksm_wp_reuse %d pswpin %d allocs %d verdicts %s%s ms %s" % (
            ph["phase"], ph["cow_ksm"], ph["ksm_wp_reuse"], ph["pswpin"],
            sum(i["allocs"] for i in ph["instances"]),
            " ".join(f"{k}={n}" for k, n in sorted(v.items())) or "-",
            "".join(f" ksmd:{k}={n}" for k, n in sorted(kv.items())),
            "/".join("%.0f" % (i["ns"] / 1e6) for i in ph["instances"])))
    return "; ".join(s)


def main():
    out, launch_dir, rounds, workloads, aslrs = sys.argv[1:6]
    ksmds = sys.argv[6] if len(sys.argv) > 6 else "default"
    for k in ksmds.split():
        if k not in KSMD:
            raise SystemExit(f"run.py: no ksmd setting {k} (have: {' '.join(KSMD)})")
    launch = os.path.join(launch_dir, "launch")
    for w in workloads.split():
        if w not in WORKLOADS:
            raise SystemExit(f"run.py: no workload {w} (have: {' '.join(WORKLOADS)})")
    if "java" in workloads.split():
        subprocess.run(["/usr/bin/java", "-m", "jdk.compiler/com.sun.tools.javac.Main",
                        "-d", JAVA_CLASSES, os.path.join(HERE, "Heap.java")],
                       check=True)
    write(KSM + "run", 1)
    cgroup_parent()
    trace_create(16384)
    runs = []
    try:
        for r in range(int(rounds)):
            for w in workloads.split():
                for aslr in aslrs.split():
                    for ksmd in ksmds.split():
                        for wp in (1, 0):
                            try:
                                run = one_run(launch, w, aslr, ksmd, wp)
                            except InstanceDied as e:
                                runs.append({"workload": w, "aslr": aslr, "ksmd": ksmd, "wp_reuse": wp,
                                             "round": r, "error": str(e)})
                                print(f"round {r} {w} aslr={aslr} ksmd={ksmd} wp_reuse={wp}: "
                                      f"FAILED: {e}", flush=True)
                                continue
                            run["round"] = r
                            runs.append(run)
                            print(f"round {r} {w} aslr={aslr} ksmd={ksmd} wp_reuse={wp}: "
                                  f"merged {run['pages_sharing_merged']} sharing; "
                                  f"{summary(run)}; ksmd {run['ksmd_ticks']} ticks; {run['seconds']} s",
                                  flush=True)
    finally:
        write(KSM + "wp_reuse", 1)
        set_ksmd("default")
        with open(os.path.join(out, "workloads.json"), "w") as f:
            json.dump({"instances": INSTANCES, "ksmd": KSMD, "runs": runs}, f, indent=1)
        trace_remove()


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
