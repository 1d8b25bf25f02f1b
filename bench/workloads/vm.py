#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Identical virtual machines under KSM, in the guest (make bench WORKLOADS=vm).

vm.py OUTDIR ROUNDS [KSMD]

KSM's first deployment: one host, many guests of the same kernel and image.
NESTED_GUESTS QEMU processes (Debian's qemu-system-x86_64 under TCG: this
guest has no KVM), each in a cgroup of its own under one parent, as libvirt
puts each machine in machine.slice/machine-qemu-N.scope. QEMU's -machine
mem-merge=on (its default, stated) marks each guest's RAM MADV_MERGEABLE:
that is how such a host opts in, not PR_SET_MEMORY_MERGE, which would also
offer QEMU's own heap and translation cache to ksmd. Every guest boots the
same kernel (NESTED_KERNEL: KBUILD_CONFIG=nested, nested/config.fragment)
and the same initramfs (NESTED_INITRD: scripts/nested-initramfs.sh), whose
/init (nested/init) is driven over the serial console: QEMU's stdin, and
its stdout, a log file per guest. A unit of work writes NESTED_FILES files
of NESTED_FILE_KIB KiB, copied from the initramfs' data (NESTED_DATA) at
offsets STRIDE bytes apart, to tmpfs (NESTED_FS=ext2: an ext2 on a RAM
disk, through the page cache), and reads them back through md5sum. Every
guest writes the same bytes, so ksmd finds the same pages in each, and
every guest's checksum must be the one this runner computes from
NESTED_DATA.

For each round, each ksmd setting of KSMD (run.py's; default "default")
and each switch position (wp_reuse 1 then 0, the other way round in odd
rounds), all guests boot at once, ksmd merges them (wait_merged()), then:
  steady    every guest does NESTED_UNITS units, a unit in each at once;
  reboot    the first guest shuts down (its QEMU exits, its cgroup goes)
            and boots again as a new QEMU process in a new cgroup, as a
            host restarts a machine; then the units, the new guest's its
            first;
  pressure  swap on a loop device alone (scripts/guest-loop-swap.sh), the
            parent cgroup reclaimed to about half its charge and memory.max
            an eighth of that charge above what is left, below the guests'
            working set (run.py's squeeze()); the units; then the limit
            lifted and swapoff;
  shutdown  the last guest shuts down and its cgroup is removed; the others
            do their units.
ksmd merges again between phases. The shutdown comes last so that every
other phase has all the guests (as in run.py, where the stopped phase is
last).
Each phase records, per guest: the tracepoint's verdicts (every task's,
each given to its process; ksmd's and any other's apart) and the pages
allocated by every thread of its QEMU process (vCPU, I/O and RCU threads,
and those QEMU starts during the phase: set_event_pid with event-fork), the
units' checksums and times (centiseconds of the guest's own uptime, as it
printed them; TCG's guest clock follows the host's), its cgroup's charge
and OOM kills, its /proc/PID/ksm_stat; for the whole guest the cow_ksm,
ksm_wp_reuse, pswpin and pswpout counters, ksm's pages_shared and
pages_sharing, ksmd's CPU time and full scans, and, before the units and
after each round of them, every KSM page's mapcount (/proc/kpageflags and
/proc/kpagecount: the sharers per page, and how many are mapped once).
Each boot records, in seconds after its QEMU started, when its serial
console first showed anything, SeaBIOS, "Booting from ROM", the
decompressor, the kernel, /init and the ready marker. A run where a
checksum differs, or where QEMU's memory is not mergeable, is recorded
with its reasons in "failed"; one where a guest died, did not boot or did
not answer in time, with the error instead, and the next run goes on.
ROUNDS=0: one boot of the guests, measured, their units once, and nothing
else (how long a nested boot takes, before whole runs are sized).
Output: OUTDIR/vm.json, the guests' serial logs in OUTDIR/vm-logs, a line
per boot, phase and run.

Environment: NESTED_KERNEL, NESTED_INITRD, NESTED_DATA (paths, required);
NESTED_GUESTS (3); NESTED_MEM_MIB per guest (160); NESTED_FILES (4) and
NESTED_FILE_KIB (4096), a unit's files; NESTED_FS (tmpfs or ext2);
NESTED_UNITS per phase (2); NESTED_TB_MIB, each QEMU's translation cache
(64: QEMU's default is 1 GiB a process, an eighth of the memory on a small
machine, filled as code is translated); NESTED_BOOT_TIMEOUT (900 s, for a
boot) and NESTED_UNIT_TIMEOUT (900 s, for a round of units);
NESTED_APPEND, added to the guests' kernel command line (e.g. "quiet");
NESTED_QEMU (/usr/bin/qemu-system-x86_64).
"""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # HERE is the host's tree, shared into the guest
from run import (CG, KSM, KSMD, cgroup_parent, ksm_counts, ksm_stat, ksmd_ticks, loop_swap,  # noqa: E402
                 mapcount_sample, oom_kills, read, record_run, remove_cgroup, set_ksmd, squeeze,
                 trace_create, trace_off, trace_on, trace_remove, trace_total, wait_merged, write)

KERNEL = os.environ.get("NESTED_KERNEL", "")
INITRD = os.environ.get("NESTED_INITRD", "")
DATA = os.environ.get("NESTED_DATA", "")
QEMU = os.environ.get("NESTED_QEMU", "/usr/bin/qemu-system-x86_64")
GUESTS = int(os.environ.get("NESTED_GUESTS", "3"))
MEM_MIB = int(os.environ.get("NESTED_MEM_MIB", "160"))
FILES = int(os.environ.get("NESTED_FILES", "4"))
FILE_KIB = int(os.environ.get("NESTED_FILE_KIB", "4096"))
FS = os.environ.get("NESTED_FS", "tmpfs")
UNITS = int(os.environ.get("NESTED_UNITS", "2"))
TB_MIB = int(os.environ.get("NESTED_TB_MIB", "64"))
BOOT_TIMEOUT = int(os.environ.get("NESTED_BOOT_TIMEOUT", "900"))
UNIT_TIMEOUT = int(os.environ.get("NESTED_UNIT_TIMEOUT", "900"))
APPEND = os.environ.get("NESTED_APPEND", "")
# File i starts STRIDE * i bytes into the data: 3 bytes past a page more
# each time, so that no two files hold a page of the same bytes (they
# would merge within one guest, and the pages per guest would not be what
# the sizes say).
STRIDE = 4099
TMP = "/tmp/ksm_vm"  # guest-local: the logs are polled, not the 9p share
# What a nested boot shows on its serial console, in the order it comes:
# seconds after QEMU started are recorded at each first sight.
MILESTONES = (("seabios", "SeaBIOS"), ("booting_rom", "Booting from ROM"),
              ("early_console", "early console in extract_kernel"),
              ("decompressing", "Decompressing Linux"), ("kernel", "Linux version"),
              ("init", "Run /init as init process"), ("ready", "NESTED-READY"))


class GuestFailed(Exception):
    """A guest died, did not boot or did not answer in time: the run is
    recorded with the error, and the next one goes on."""


def cmdline():
    c = (f"console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1 "
         f"nested.files={FILES} nested.kib={FILE_KIB} nested.stride={STRIDE} nested.fs={FS}")
    if FS == "ext2":
        # The RAM disk holds the files and the file system's own blocks.
        c += f" brd.rd_size={FILES * FILE_KIB * 9 // 8 + 4096}"
    return c + (" " + APPEND if APPEND else "")


def qemu_argv():
    # -nic none: no NIC, so no iPXE option ROM for SeaBIOS to run first.
    # -no-reboot: a reset (nested/init's stop, a panic with panic=-1) ends
    # QEMU, as the shutdown of a machine.
    return [QEMU, "-accel", f"tcg,tb-size={TB_MIB}", "-machine", "pc,mem-merge=on",
            "-m", str(MEM_MIB), "-smp", "1", "-nographic", "-nic", "none", "-no-user-config",
            "-no-reboot", "-kernel", KERNEL, "-initrd", INITRD, "-append", cmdline()]


class Guest:
    """One QEMU process in cgroup CG/machine-qemu-INDEX[-GEN].scope, its
    serial console on stdin and in a log file."""

    def __init__(self, index, gen, tag, logs):
        self.index, self.gen = index, gen
        self.name = f"machine-qemu-{index}" + (f"-{gen}" if gen else "")
        self.cg = f"{CG}/{self.name}.scope"
        self.log = os.path.join(logs, f"{tag.replace(' ', '_')}-{self.name}.log")
        os.mkdir(self.cg)
        with open(self.log, "wb") as f:
            # The shell joins the cgroup and execs QEMU: every thread QEMU
            # starts is charged there from the first page on.
            self.p = subprocess.Popen(
                ["/bin/sh", "-c", 'echo $$ >"$0/cgroup.procs" && exec "$@"', self.cg] + qemu_argv(),
                stdin=subprocess.PIPE, stdout=f, stderr=subprocess.STDOUT)
        self.pid = self.p.pid
        self.t0 = time.monotonic()
        self.reader = open(self.log, "rb")
        self.partial, self.said, self.milestones = b"", [], {}
        self.stopped = None

    def poll(self):
        """Read what the console printed since: the milestones, and the
        lines of nested/init ("NESTED-..."), kept for take()."""
        data = self.reader.read()
        if not data:
            return
        now = round(time.monotonic() - self.t0, 1)
        self.milestones.setdefault("first_output", now)
        *lines, self.partial = (self.partial + data).split(b"\n")
        # A marker may still lack its newline (SeaBIOS' "Booting from ROM...").
        for raw in lines + [self.partial]:
            line = raw.decode(errors="replace").strip()
            for key, text in MILESTONES:
                if key not in self.milestones and text in line:
                    self.milestones[key] = now
        for raw in lines:
            line = raw.decode(errors="replace").strip()
            # A kernel message may have begun the line before init's echo.
            i = line.find("NESTED-")
            if i >= 0:
                self.said.append(line[i:])

    def take(self, prefix):
        """The first line of nested/init starting with prefix, taken; an
        error it reported raises."""
        for i, line in enumerate(self.said):
            if line.startswith("NESTED-ERROR"):
                raise GuestFailed(f"{self.name}: {line}")
            if line.startswith(prefix):
                return self.said.pop(i)
        return None

    def tail(self, n=8):
        with open(self.log, errors="replace") as f:
            return " | ".join(line.strip() for line in f.read().splitlines()[-n:])

    def alive(self):
        if self.p.poll() is not None:
            raise GuestFailed(f"{self.name}: QEMU exited with status {self.p.returncode}; "
                              f"the end of its console: {self.tail()}")

    def send(self, line):
        try:
            self.p.stdin.write(line.encode() + b"\n")
            self.p.stdin.flush()
        except OSError as e:  # BrokenPipeError: QEMU is gone
            raise GuestFailed(f"{self.name}: cannot write to its console: {e}") from e

    def stop(self, timeout=120):
        """Shut the guest down (nested/init syncs and resets, and QEMU
        exits); SIGTERM, then SIGKILL if it does not; then its cgroup is
        removed. Says how, once; again, does nothing."""
        if self.stopped:
            return self.stopped
        t = time.monotonic()
        how = "exited before"
        if self.p.poll() is None:
            how = "clean"
            try:
                self.send("stop")
                self.p.wait(timeout)
            except (GuestFailed, subprocess.TimeoutExpired):
                how = "terminated"
                self.p.terminate()
                try:
                    self.p.wait(30)
                except subprocess.TimeoutExpired:
                    how = "killed"
                    self.p.kill()
                    self.p.wait()
        try:
            self.p.stdin.close()
        except OSError:
            pass
        self.poll()
        self.reader.close()
        remove_cgroup(self.cg)
        self.stopped = {"guest": self.index, "gen": self.gen, "how": how,
                        "exit_status": self.p.returncode, "seconds": round(time.monotonic() - t, 1)}
        return self.stopped


def wait_said(guests, prefix, timeout, what):
    """Until every guest said a line starting with prefix: {guest: line}."""
    deadline, got = time.monotonic() + timeout, {}
    while True:
        for g in guests:
            if g not in got:
                g.poll()
                line = g.take(prefix)
                if line:
                    got[g] = line
                else:
                    g.alive()
        if len(got) == len(guests):
            return got
        if time.monotonic() > deadline:
            late = [g for g in guests if g not in got]
            raise GuestFailed(f"{what}: no '{prefix}' from {', '.join(g.name for g in late)} in "
                              f"{timeout} s; the end of their consoles: "
                              + "; ".join(f"{g.name}: {g.tail()}" for g in late))
        time.sleep(0.2)


def numeric(stat):
    return {k: int(v) if v.lstrip("-").isdigit() else v for k, v in (stat or {}).items()}


def boot(guests, why):
    """Until every guest is ready; what each boot took."""
    got = wait_said(guests, "NESTED-READY", BOOT_TIMEOUT, f"boot ({why})")
    out = []
    for g in guests:
        stat = numeric(ksm_stat(g.pid))
        out.append({"guest": g.index, "gen": g.gen, "name": g.name, "why": why,
                    "seconds": g.milestones["ready"],
                    "uptime_s": float(got[g].split()[1]), "milestones": dict(g.milestones),
                    "ksm_mergeable": stat.get("ksm_mergeable"), "ksm_merge_any": stat.get("ksm_merge_any")})
    return out


def units(guests, name, k):
    """A unit of work in every guest at once: {guest: its result}."""
    for g in guests:
        g.send(f"unit {name} {k}")
    got = wait_said(guests, f"NESTED-UNIT {name} {k} ", UNIT_TIMEOUT, f"{name}: unit {k}")
    out = {}
    for g, line in got.items():
        _, _, _, checksum, cs, write_cs = line.split()
        out[g] = {"checksum": checksum, "cs": int(cs), "write_cs": int(write_cs)}
    return out


def phase(name, guests, fresh=None):
    """NESTED_UNITS units in each of guests, and what they cost (fresh: the
    guest just booted, whose first units these are)."""
    for g in guests:
        g.alive()
    counters = ("cow_ksm", "ksm_wp_reuse", "pswpin", "pswpout")
    k0, ticks0 = ksm_counts(), ksmd_ticks()
    oom0 = {g: oom_kills(g.cg) for g in guests}
    t0 = time.time()
    # Whose the KSM pages are: how many each guest's QEMU maps (its RAM is
    # its own), and of them mapped once, the pages a write of that guest
    # can reuse.
    owners = {f"guest{g.index}": [g.pid] for g in guests}
    samples = [mapcount_sample(CG, t0, owners)]
    done = {g: [] for g in guests}
    v0 = trace_on([g.pid for g in guests], counters)
    try:
        for k in range(UNITS):
            for g, u in units(guests, name, k).items():
                done[g].append(u)
            # Between rounds of units, so that the walk delays none.
            samples.append(mapcount_sample(CG, t0, owners))
    finally:
        per, v1 = trace_off(counters)
    k1, ticks1 = ksm_counts(), ksmd_ticks()
    empty = {"verdicts": {}, "allocs": 0}
    others = trace_total(d for pid, d in per.items() if pid not in {g.pid for g in guests} | {"ksmd"})
    ph = {"phase": name, "unattributed": others, "ksmd": per.get("ksmd", empty),
          "guests": [dict(per.get(g.pid, empty), guest=g.index, gen=g.gen, pid=g.pid,
                          first=g is fresh, units=done[g],
                          memory_current=int(read(g.cg + "/memory.current")),
                          oom_kills=oom_kills(g.cg) - oom0[g], ksm_stat=numeric(ksm_stat(g.pid)))
                     for g in guests],
          "pages_shared": [k0["pages_shared"], k1["pages_shared"]],
          "pages_sharing": [k0["pages_sharing"], k1["pages_sharing"]],
          "full_scans": k1["full_scans"] - k0["full_scans"], "ksmd_ticks": ticks1 - ticks0,
          "seconds": round(time.time() - t0, 1), "samples": samples}
    ph.update({k: v1[k] - v0[k] for k in counters})
    return ph


def summary(ph):
    v = {}
    for g in ph["guests"]:
        for k, n in g["verdicts"].items():
            v[k] = v.get(k, 0) + n
    once = "/".join(str(s["mapped_once"]) for s in ph["samples"])
    return (f"{ph['phase']}: KSM write faults "
            + (" ".join(f"{k}={n}" for k, n in sorted(v.items())) or "none")
            + f"; allocs {sum(g['allocs'] for g in ph['guests'])}; unit s "
            + " ".join("/".join(f"{u['cs'] / 100:.1f}" for u in g["units"]) for g in ph["guests"])
            + f"; sharing/shared {ph['pages_sharing'][1]}/{ph['pages_shared'][1]}; mapped once {once}; "
            f"swap-ins {ph['pswpin']}; ksmd {ph['ksmd_ticks']} ticks")


def failures(run, expected):
    out = []
    for ph in run["phases"]:
        for g in ph["guests"]:
            bad = sorted({u["checksum"] for u in g["units"]} - {expected})
            if bad:
                out.append(f"{ph['phase']}: guest {g['guest']} printed checksum {', '.join(bad)}, "
                           f"not {expected}")
    for b in run["boots"]:
        if b["ksm_mergeable"] != "yes":
            out.append(f"guest {b['guest']} ({b['why']}): no mergeable memory in its QEMU "
                       f"(ksm_mergeable: {b['ksm_mergeable']} in /proc/PID/ksm_stat): mem-merge=on did not take")
    return out


def one_run(ksmd, wp, tag, logs, expected, boot_only=False):
    # A guest's cgroup that an earlier run could not remove (its last exits
    # still being accounted then) would hold its name in this one.
    for d in os.listdir(CG):
        if os.path.isdir(f"{CG}/{d}"):
            try:
                os.rmdir(f"{CG}/{d}")
            except OSError:
                pass
    write(KSM + "wp_reuse", wp)
    set_ksmd(ksmd)
    run = {"ksmd": ksmd, "wp_reuse": wp, "boots": [], "stops": [], "phases": []}
    t0, guests = time.time(), []

    def add(ph):
        run["phases"].append(ph)
        print(f"{tag}: {summary(ph)}", flush=True)

    def booted(bs):
        run["boots"] += bs
        print(f"{tag}: booted ({bs[0]['why']}) " + ", ".join(
            f"{b['name']} in {b['seconds']} s" for b in bs), flush=True)
    try:
        for i in range(GUESTS):
            guests.append(Guest(i, 0, tag, logs))
        booted(boot(guests, "start"))
        if boot_only:
            add(phase("first", guests))
            return run
        ticks0 = ksmd_ticks()
        wait_merged()
        run["pages_sharing_merged"] = int(read(KSM + "pages_sharing"))
        add(phase("steady", guests))
        wait_merged()
        run["stops"].append(guests[0].stop())
        guests[0] = Guest(0, 1, tag, logs)
        booted(boot([guests[0]], "reboot"))
        add(phase("reboot", guests, fresh=guests[0]))
        wait_merged()
        try:
            # Room for everything charged, whatever reclaim picks, and for
            # every KSM page the units break (sparse: unused room is free).
            loop_swap((int(read(CG + "/memory.current"))
                       + int(read(KSM + "pages_sharing")) * 4096) // 2**20 + 256)
            squeezed = squeeze(CG, "the guests")
            ph = phase("pressure", guests)
        finally:
            write(CG + "/memory.max", "max")
            # swapoff reads every swapped page back in.
            loop_swap(0)
        ph.update(squeezed)
        add(ph)
        wait_merged()
        run["pages_sharing_before_shutdown"] = int(read(KSM + "pages_sharing"))
        run["stops"].append(guests.pop().stop())
        add(phase("shutdown", guests))
        run["ksmd_ticks"] = ksmd_ticks() - ticks0
    finally:
        for g in guests:
            s = g.stop()
            if s not in run["stops"]:
                run["stops"].append(s)
        run["seconds"] = round(time.time() - t0, 1)
        run["failed"] = failures(run, expected)
    return run


def expected_checksum(data):
    """What nested/init's unit must print: the md5 of its files in order."""
    h = hashlib.md5()
    for i in range(FILES):
        h.update(data[i * STRIDE:i * STRIDE + FILE_KIB * 1024])
    return h.hexdigest()


def main():
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__)
    out, rounds = sys.argv[1], int(sys.argv[2])
    ksmds = sys.argv[3].split() if len(sys.argv) > 3 else ["default"]
    for k in ksmds:
        if k not in KSMD:
            raise SystemExit(f"vm.py: no ksmd setting {k} (have: {' '.join(KSMD)})")
    for what, path in (("NESTED_KERNEL", KERNEL), ("NESTED_INITRD", INITRD), ("NESTED_DATA", DATA)):
        if not os.path.isfile(path):
            raise SystemExit(f"vm.py: {what}={path!r} is no file: scripts/bench.sh builds the nested "
                             "kernel and initramfs and passes them")
    if not os.access(QEMU, os.X_OK):
        raise SystemExit(f"vm.py: no {QEMU}: install Debian's qemu-system-x86 (scripts/setup.sh)")
    if FS not in ("tmpfs", "ext2"):
        raise SystemExit(f"vm.py: NESTED_FS={FS}: use tmpfs or ext2")
    with open(DATA, "rb") as f:
        data = f.read()
    if (FILES - 1) * STRIDE + FILE_KIB * 1024 > len(data):
        raise SystemExit(f"vm.py: {FILES} files of {FILE_KIB} KiB, {STRIDE} bytes apart, need "
                         f"{((FILES - 1) * STRIDE + FILE_KIB * 1024) >> 10} KiB of data; {DATA} has "
                         f"{len(data) >> 10} (NESTED_DATA_KIB of scripts/nested-initramfs.sh)")
    expected = expected_checksum(data)
    qemu_version = subprocess.run([QEMU, "--version"], stdout=subprocess.PIPE, text=True,
                                  check=True).stdout.splitlines()[0]
    logs = os.path.join(TMP, "vm-logs")
    os.makedirs(logs, exist_ok=True)
    write(KSM + "run", 1)
    cgroup_parent()
    # The guests' RAM is allocated as they touch it, and each KSM copy is a
    # page: room for every event of a phase.
    trace_create(32768)
    runs = []
    try:
        plan = ([(0, ksmds[0], 1, "boot")] if rounds == 0 else
                [(r, k, wp, f"round {r} ksmd={k} wp_reuse={wp}")
                 for r in range(rounds) for k in ksmds
                 # Alternate which position goes first: drift within a
                 # pair favours neither.
                 for wp in ((1, 0) if r % 2 == 0 else (0, 1))])
        for r, ksmd, wp, tag in plan:
            record_run(runs, tag, {"ksmd": ksmd, "wp_reuse": wp, "round": r},
                       lambda: one_run(ksmd, wp, tag, logs, expected, boot_only=rounds == 0),
                       (GuestFailed, OSError, subprocess.SubprocessError))
    finally:
        write(KSM + "wp_reuse", 1)
        set_ksmd("default")
        with open(os.path.join(out, "vm.json"), "w") as f:
            json.dump({"kind": "vm", "ksmd": KSMD, "qemu": qemu_version, "qemu_argv": qemu_argv(),
                       "expected_checksum": expected,
                       "settings": {"guests": GUESTS, "mem_mib": MEM_MIB, "files": FILES,
                                    "file_kib": FILE_KIB, "stride": STRIDE, "fs": FS, "units": UNITS,
                                    "tb_mib": TB_MIB, "boot_timeout_s": BOOT_TIMEOUT,
                                    "unit_timeout_s": UNIT_TIMEOUT, "boot_only": rounds == 0},
                       "runs": runs}, f, indent=1)
        trace_remove()
        shutil.copytree(logs, os.path.join(out, "vm-logs"), dirs_exist_ok=True)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    main()
