#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The ledger of stress runs (bench/results/stress-ledger.jsonl): record, total.

usage: stress-report.py [--markdown] [--ledger FILE] [--current FINGERPRINT] [--no-recover]
       stress-report.py pending RESULTS_DIR --owner PID --ledger FILE --kernel FLAVOUR ...
       stress-report.py record RESULTS_DIR --ledger FILE --kernel FLAVOUR ...
       stress-report.py recover [--ledger FILE] [--results-root DIR]

Without a command: the totals per kernel flavour and series fingerprint
(runs by result, run time, reuse and swap-cache reuse faults, dmesg), the
current fingerprint marked; --markdown prints them as README's table.
Reuse counts are of the runs that passed ("ok"); those of the others are
shown apart, so a total never holds a failed run's faults.

record (scripts/stress.sh, also when the run failed, died or was stopped):
read what ksm_wp_reuse_stress printed in RESULTS_DIR/SUITE.log, the dmesg
check, the guest's exit status (rc) and console, and append one JSON line to
the ledger in a single write. A run with no final report is counted up to
its last progress line, and its result says what it was: "ok", "failed: ...",
"died: ..." or "stopped: ...".

pending (scripts/stress.sh, as the run starts): keep record's arguments and
the PID of make stress in RESULTS_DIR/pending.json; record removes it. A run
whose make stress was killed outright (SIGKILL, or a session's or machine's
end: no trap runs) leaves it behind, and recover (make stress's start, and
the totals unless --no-recover) records each such run whose make stress and
guest are gone, as stopped, from the output in its RESULTS_DIR.
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import signal
import subprocess
import sys

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEDGER = os.path.join(PROJECT_DIR, 'bench/results/stress-ledger.jsonl')
FLAVOURS = ('test', 'bench', 'kcsan', 'kasan')
PENDING = 'pending.json'

# What ksm_wp_reuse_stress prints (ksft_print_msg: "# " first).
SEED_RE = re.compile(r'^# seed (\d+);')
REPORT_RE = re.compile(r'^# report: ([\d.]+) s,')
FAULTS_RE = re.compile(r'faults: ksm_wp_reuse \+(\d+) \([\d.]+/s\) cow_ksm \+(\d+)')
FLIPS_RE = re.compile(r' wp_reuse flips (\d+)')
SWAP_RE = re.compile(r'^# swap(?: pressure|-cache mix) \(.*\): pswpin (-?\d+), pswpout (-?\d+); '
                     r'.*: reused (-?\d+) \(slot freed[^)]*\), refused (-?\d+)')
PROGRESS_RE = re.compile(r'^# (\d+) s: ksm_wp_reuse \+(\d+), cow_ksm \+(\d+)'
                         r'(?:; swap cache: reused (-?\d+), refused (-?\d+))?')
STORM_RE = re.compile(r'^# flip storm: (\d+) flips')
# scripts/guest-test.sh's count of the decisions by result.
VERDICTS_RE = re.compile(r'^# verdicts: ((?:[a-z_]+ \d+(?:, )?)+)$')
# scripts/guest-test.sh's dmesg check, for a guest that died before it.
DMESG_BAD_RE = re.compile(r'WARNING:|BUG:|Oops|Call Trace:|KCSAN:|list_(add|del) corruption')
UPSTREAM_RACES_RE = re.compile(r'BUG: KCSAN: data-race in all_vm_events\+0x[0-9a-f]+/0x[0-9a-f]+$')


def read_lines(path):
    try:
        with open(path, errors='replace') as f:
            return f.read().splitlines()
    except OSError:
        return None


def first_line(path):
    lines = read_lines(path)
    return lines[0].strip() if lines else None


def stress_counts(lines):
    """The counts the program printed: its final report, else its last
    progress line (a run that died or was stopped)."""
    c = dict(seed=None, duration_s=None, reuses=None, copies=None,
             swapcache_reuses=None, swapcache_refusals=None, flips=None,
             storm_flips=None, pswpin=None, pswpout=None, verdicts=None, counts_from=None)
    for line in lines:
        m = SEED_RE.match(line)
        if m and c['seed'] is None:
            c['seed'] = int(m.group(1))
        m = PROGRESS_RE.match(line)
        if m and c['counts_from'] != 'report':
            c['duration_s'] = float(m.group(1))
            c['reuses'], c['copies'] = int(m.group(2)), int(m.group(3))
            if m.group(4) is not None:
                c['swapcache_reuses'] = int(m.group(4))
                c['swapcache_refusals'] = int(m.group(5))
            c['counts_from'] = f'progress at {m.group(1)} s'
        m = REPORT_RE.match(line)
        if m:
            c['duration_s'] = float(m.group(1))
            f = FAULTS_RE.search(line)
            if f:
                c['reuses'], c['copies'] = int(f.group(1)), int(f.group(2))
            f = FLIPS_RE.search(line)
            if f:
                c['flips'] = int(f.group(1))
            c['counts_from'] = 'report'
        m = SWAP_RE.match(line)
        if m:
            c['pswpin'], c['pswpout'] = int(m.group(1)), int(m.group(2))
            # -1: the tracefs counters could not be set up.
            sc = int(m.group(3)), int(m.group(4))
            c['swapcache_reuses'], c['swapcache_refusals'] = (
                sc if min(sc) >= 0 else (None, None))
        m = VERDICTS_RE.match(line)
        if m:
            c['verdicts'] = {k: int(n) for k, n in
                             (kv.split() for kv in m.group(1).split(', '))}
        m = STORM_RE.match(line)
        if m:
            c['storm_flips'] = int(m.group(1))
    return c


def not_ok(lines):
    """The names of the failed tests and the program's bail-out message."""
    out = []
    for line in lines or []:
        m = re.match(r'^not ok \d+ (.*)', line)
        if m:
            out.append(m.group(1).strip())
        elif line.startswith('Bail out!'):
            out.append(line[len('Bail out!'):].strip())
    return out


def dmesg_clean(results):
    """True/False from the guest's dmesg check; for a guest that died before
    it, False if its console shows a warning or oops, else None (unknown)."""
    lines = read_lines(os.path.join(results, 'dmesg.log')) or []
    for line in lines:
        if re.match(r'^ok \d+ dmesg', line):
            return True
        if re.match(r'^not ok \d+ dmesg', line):
            return False
    for line in read_lines(os.path.join(results, 'console.log')) or []:
        if DMESG_BAD_RE.search(line) and not UPSTREAM_RACES_RE.search(line):
            return False
    return None


def toolchain(kout):
    for line in read_lines(os.path.join(kout, '.config')) or []:
        if line.startswith('CONFIG_CC_VERSION_TEXT='):
            return line.split('=', 1)[1].strip('"')
    for line in read_lines(os.path.join(kout, 'include/generated/compile.h')) or []:
        m = re.match(r'#define LINUX_COMPILER "(.*)"', line)
        if m:
            return m.group(1)
    return None


def file_hash(path):
    try:
        with open(path, 'rb') as f:
            return hashlib.sha1(f.read()).hexdigest()[:16]
    except OSError:
        return None


def number(s):
    """An option or exit status as a number; what is not one, as given."""
    try:
        return int(s, 0) if s else None
    except ValueError:
        return s


def record(a):
    """The ledger record of the run whose output is in a.results."""
    lines = read_lines(os.path.join(a.results, a.suite + '.log'))
    c = stress_counts(lines or [])
    rc = first_line(os.path.join(a.results, 'rc'))
    seed = c['seed'] if c['seed'] is not None else number(a.seed)
    reproduce = a.reproduce.replace('SEED=?', f'SEED={seed}' if seed is not None
                                    else f'SEED=<not printed: see {a.results}>')
    at = f" after {c['duration_s']:.0f} s" if c['duration_s'] is not None else ''
    if a.recovered:
        result = (f'stopped: make stress ended without recording the run (killed outright, '
                  f'or its record failed); recorded from its output by stress-report.py '
                  f'recover on {a.recovered}')
        if c['duration_s'] is not None:
            result += f"; the program's output ends at {c['duration_s']:.0f} s"
        if rc is not None and c['counts_from'] == 'report':
            result += (f'; the guest ran to its end (exit status {rc}), its tests not '
                       f'counted by count-results.py')
    elif a.stopped:
        result = f'stopped: {a.stopped}{at}'
    elif not os.path.exists(os.path.join(a.results, 'started')):
        result = 'died: the guest never started the stress (no kernel, boot failed or timed out; see the output)'
    elif rc is None:
        result = (f'died: the guest did not report an exit status{at} '
                  f'(crashed, hung or timed out; see console.log); {reproduce}')
    elif a.verdict == 'pass':
        result = 'ok'
    else:
        why = not_ok(lines) + not_ok(read_lines(os.path.join(a.results, 'dmesg.log')))
        if lines is None:
            why = [f'no {a.suite}.log'] + why
        elif c['counts_from'] != 'report' and not why:
            why = [f'ended without its report (guest exit status {rc})']
        elif not a.verdict and not why:
            why = ['make stress ended before counting the results']
        result = f"failed: {'; '.join(why) or 'see the results'}; {reproduce}"
    end = datetime.datetime.now(datetime.timezone.utc)
    if a.recovered:  # it ended when its output last changed, not now
        last = last_written(a.results)
        end = last and datetime.datetime.fromtimestamp(last, datetime.timezone.utc)
    started = datetime.datetime.fromisoformat(a.started.replace('Z', '+00:00'))
    rec = {
        'date': a.started,
        'kernel': a.kernel,
        'kernel_release': first_line(os.path.join(a.kout, 'include/config/kernel.release')),
        'toolchain': toolchain(a.kout),
        'series': a.series,
        'stress_program': file_hash(os.path.join(PROJECT_DIR, 'selftests/ksm_wp_reuse_stress.c')),
        'mix': a.mix,
        'options': {'duration': number(a.duration), 'seed': number(a.seed),
                    'reuse_target': number(a.reuse_target),
                    'wp_flip_ms': number(a.wp_flip_ms),
                    'flip_storm': bool(a.flip_storm),
                    'swap_pressure': bool(a.swap_pressure)},
    }
    rec.update(c)
    rec.update({
        'result': result,
        'reproduce': reproduce,
        'dmesg_clean': dmesg_clean(a.results),
        'guest_exit': number(rc),
        'wall_s': round((end - started).total_seconds()) if end else None,
        'results_dir': os.path.basename(os.path.normpath(a.results)),
        'source': 'make stress' + (' (recovered)' if a.recovered else ''),
    })
    return rec


def last_written(results):
    """When the newest file in the results directory was last written; None
    if it holds none but the pending mark."""
    times = [os.path.getmtime(os.path.join(results, f)) for f in os.listdir(results)
             if not f.startswith(PENDING)]
    return max(times) if times else None


def append(ledger, rec):
    """One line, one write(2) with O_APPEND: never half a record, never
    interleaved with another run's."""
    line = json.dumps(rec) + '\n'
    fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if os.lseek(fd, 0, os.SEEK_END) > 0:
            with open(ledger, 'rb') as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b'\n':
                    line = '\n' + line  # an earlier line cut short stays apart
        data = line.encode()
        n = os.write(fd, data)
        if n != len(data):
            raise OSError(f'short write to {ledger}: {n} of {len(data)} bytes')
    finally:
        os.close(fd)


def shown(path):
    """A path relative to the project if it is in it."""
    rel = os.path.relpath(os.path.abspath(path), PROJECT_DIR)
    return path if rel.startswith('..') else rel


def load(ledger):
    runs = []
    with open(ledger) as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                runs.append(json.loads(line))
            except ValueError as e:
                print(f'warning: {ledger}:{i}: not a record ({e}); skipped', file=sys.stderr)
    return runs


def category(result):
    word = (result or 'unknown').split(':', 1)[0].strip()
    return word if word in ('ok', 'failed', 'died', 'stopped') else 'unknown'


def totals(runs):
    groups = {}
    for r in runs:
        key = (r.get('kernel') or '?', r.get('series') or '?')
        g = groups.setdefault(key, dict(runs=0, ok=0, failed=0, died=0, stopped=0,
                                        unknown=0, seconds=0.0, no_time=0, reuses=0,
                                        sc_reuses=0, sc_runs=0, other_reuses=0, clean=0, dirty=0,
                                        unclear=0, first=None, last=None))
        cat = category(r.get('result'))
        g['runs'] += 1
        g[cat] += 1
        if r.get('duration_s') is None:
            g['no_time'] += 1
        else:
            g['seconds'] += r['duration_s']
        if cat == 'ok':
            g['reuses'] += r.get('reuses') or 0
            if r.get('swapcache_reuses') is not None:
                g['sc_reuses'] += r['swapcache_reuses']
                g['sc_runs'] += 1
        else:
            g['other_reuses'] += r.get('reuses') or 0
        d = r.get('dmesg_clean')
        g['clean' if d is True else 'dirty' if d is False else 'unclear'] += 1
        date = r.get('date')
        if date:
            g['first'] = min(g['first'] or date, date)
            g['last'] = max(g['last'] or date, date)
    return groups


def order(groups, current):
    def key(k):
        flavour, series = k
        rank = 0 if series == current else 2 if series == 'pre-ledger' else 1
        fl = FLAVOURS.index(flavour) if flavour in FLAVOURS else len(FLAVOURS)
        return (rank, fl, series)
    return sorted(groups, key=key)


def hours(g):
    sec = g['seconds']
    s = f'{sec / 3600:.1f} h' if sec >= 3600 else f'{sec / 60:.0f} min'
    return s + f" (+{g['no_time']} untimed)" if g['no_time'] else s


def results_text(g):
    parts = [f"{g[k]} {k}" for k in ('ok', 'failed', 'died', 'stopped', 'unknown') if g[k]]
    return ', '.join(parts)


def dmesg_text(g):
    if not g['dirty'] and not g['unclear']:
        return 'all clean'
    parts = [f"{g['clean']} clean"] if g['clean'] else []
    if g['dirty']:
        parts.append(f"{g['dirty']} with warnings")
    if g['unclear']:
        parts.append(f"{g['unclear']} unknown")
    return ', '.join(parts)


def sc_text(g):
    return f"{g['sc_reuses']:,}" if g['sc_runs'] else 'not counted'


def print_markdown(groups, current):
    print('| kernel | series | runs | results | run time | reuse faults (ok runs) '
          '| swap-cache reuses (ok runs) | reuse faults, other runs | dmesg |')
    print('| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | --- |')
    for k in order(groups, current):
        g = groups[k]
        series = f'`{k[1]}` (current)' if k[1] == current else \
            'before the ledger' if k[1] == 'pre-ledger' else f'`{k[1]}`'
        print(f"| {k[0]} | {series} | {g['runs']} | {results_text(g)} | {hours(g)} "
              f"| {g['reuses']:,} | {sc_text(g)} | {g['other_reuses']:,} | {dmesg_text(g)} |")


def print_text(groups, current, ledger):
    print(f'Stress runs in {shown(ledger)}; current series fingerprint {current}')
    hdr = ('kernel', 'series', 'runs', 'results', 'run time', 'reuses(ok)',
           'swapcache(ok)', 'reuses(other)', 'dmesg')
    rows = []
    for k in order(groups, current):
        g = groups[k]
        rows.append((k[0], k[1] + (' *' if k[1] == current else ''), str(g['runs']),
                     results_text(g), hours(g), f"{g['reuses']:,}", sc_text(g),
                     f"{g['other_reuses']:,}", dmesg_text(g)))
    widths = [max(len(r[i]) for r in rows + [hdr]) for i in range(len(hdr))]
    for r in [hdr] + rows:
        print('  '.join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    if not any(k[1] == current for k in groups):
        print(f'(no run on the current series {current} yet)')
    else:
        print('* the current series: the kernel code as laid now (scripts/lib.sh code_fingerprint)')


# Issue 30's totals, on the current series, all runs ok with a clean dmesg.
TARGETS = (
    ('test', 'reuses', 10**7, 'reuse faults on the debug kernel at the default flip rate',
     lambda r: r['options'].get('wp_flip_ms') is None),
    ('test', 'swapcache_reuses', 2 * 10**5, 'swap-cache reuses on the debug kernel',
     lambda r: r.get('swapcache_reuses') is not None),
    ('kasan', 'reuses', 10**6, 'reuse faults on the KASAN kernel', lambda r: True),
)


def print_targets(runs, current):
    print(f'Targets on the current series {current} (what runs ok with dmesg clean add up to):')
    for flavour, key, goal, what, fits in TARGETS:
        mine = [r for r in runs if r.get('series') == current and r.get('kernel') == flavour
                and fits(r)]
        good = sum(r.get(key) or 0 for r in mine
                   if category(r.get('result')) == 'ok' and r.get('dmesg_clean') is True)
        bad = [r for r in mine if category(r.get('result')) != 'ok' or r.get('dmesg_clean') is not True]
        tail = f'; {len(bad)} run(s) not ok or not clean' if bad else ''
        print(f'  {what}: {good:,} of {goal:,} ({100 * good / goal:.1f}%) in {len(mine) - len(bad)} run(s){tail}')


def from_lib_sh(command, what):
    """What a shell command prints with scripts/lib.sh sourced."""
    out = subprocess.run(['bash', '-c', '. "$1/scripts/lib.sh" && ' + command, '-', PROJECT_DIR],
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit(f'error: cannot compute {what}: {out.stderr.strip()}')
    return out.stdout.strip()


def current_fingerprint():
    return from_lib_sh('code_fingerprint', 'the series fingerprint')


def results_root():
    return os.path.join(from_lib_sh('printf %s "$CACHE_DIR"', 'the cache directory'), 'results')


def boot_id():
    return first_line('/proc/sys/kernel/random/boot_id')


def alive(pid):
    try:
        with open(f'/proc/{int(pid)}/cmdline', 'rb') as f:
            return f.read()
    except (OSError, ValueError):
        return None


def running(saved):
    """Whether the run is still going: its make stress (the owner: boot id
    and PID) lives, or a process (the guest's QEMU, vm.sh) names its results
    directory, as make stress gave it or as an absolute path."""
    if saved.get('boot_id') == boot_id() and b'stress.sh' in (alive(saved.get('pid')) or b''):
        return True
    names = {saved['argv'][0].encode(), os.path.abspath(saved['argv'][0]).encode()}
    for pid in os.listdir('/proc'):
        if pid.isdigit():
            cmdline = alive(pid) or b''
            if any(n in cmdline for n in names):
                return True
    return False


def in_ledger(ledger, results, started):
    """Whether the ledger already has the run (a record written before its
    pending mark could be removed)."""
    name = os.path.basename(os.path.normpath(results))
    try:
        return any(r.get('results_dir') == name and r.get('date') == started
                   for r in load(ledger))
    except OSError:
        return False


def warn(msg):
    print(f'warning: {msg}', file=sys.stderr)


def recover(results_root, ledger):
    """Record, into this ledger, every run that make stress left pending for
    it and that has ended. A run is claimed by renaming its mark (of two
    recovers at once, one records it); on failure the mark is put back."""
    try:
        dirs = sorted(d for d in os.listdir(results_root) if d.startswith('stress-'))
    except OSError:
        return
    for d in dirs:
        results = os.path.join(results_root, d)
        try:
            marks = sorted(f for f in os.listdir(results) if f.startswith(PENDING))
        except OSError:
            continue
        for mark in marks:
            # pending.json, or one a recover claimed and did not finish (killed).
            if mark != PENDING and (mark.endswith('.tmp') or alive(mark.rsplit('-', 1)[-1])):
                continue
            path = os.path.join(results, mark)
            try:
                with open(path) as f:
                    saved = json.load(f)
                a = record_parser().parse_args(saved['argv'])
            except (OSError, ValueError, TypeError, KeyError, SystemExit) as e:
                warn(f'{path}: not a pending run make stress could have written ({e!r}); left alone')
                continue
            if os.path.realpath(a.ledger) != os.path.realpath(ledger) or running(saved):
                continue  # another ledger's (a worktree's), or still going
            claimed = os.path.join(results, f'{PENDING}.recovering-{os.getpid()}')
            try:
                os.rename(path, claimed)
            except OSError:
                continue
            try:
                if not in_ledger(ledger, results, a.started):
                    a.recovered = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d')
                    write_record(a, out=sys.stderr)
                os.unlink(claimed)
            except (Exception, SystemExit) as e:
                warn(f'could not record the run in {results} ({e!r}); it stays pending')
                try:
                    os.rename(claimed, os.path.join(results, PENDING))
                except OSError:
                    pass


def record_parser():
    p = argparse.ArgumentParser(prog='stress-report.py record')
    p.add_argument('results')
    p.add_argument('--ledger', default=LEDGER)
    p.add_argument('--suite', required=True)
    p.add_argument('--kernel', required=True, choices=FLAVOURS)
    p.add_argument('--kout', required=True)
    p.add_argument('--series', required=True)
    p.add_argument('--started', required=True, help='UTC ISO date the run started')
    p.add_argument('--mix', required=True)
    p.add_argument('--reproduce', required=True, help='the make command; SEED=? is filled in')
    p.add_argument('--verdict', default='', help='pass or fail (count-results.py), empty: not counted')
    p.add_argument('--stopped', default='', help='the signal that stopped make stress')
    for opt in ('duration', 'seed', 'reuse-target', 'wp-flip-ms', 'flip-storm', 'swap-pressure'):
        p.add_argument('--' + opt, default='')
    p.set_defaults(recovered='')
    return p


def write_record(a, out=sys.stdout):
    """Append the run's record to the ledger, then drop its pending mark."""
    try:
        rec = record(a)
    except Exception as e:  # the run is recorded all the same
        rec = {'date': a.started, 'kernel': a.kernel, 'series': a.series, 'mix': a.mix,
               'reuses': None, 'swapcache_reuses': None,
               'result': f'unknown: the record writer failed ({e!r}); see results_dir',
               'stopped': a.stopped, 'verdict': a.verdict,
               'results_dir': os.path.basename(os.path.normpath(a.results)),
               'source': 'make stress' + (' (recovered)' if a.recovered else '')}
    append(a.ledger, rec)
    try:
        os.unlink(os.path.join(a.results, PENDING))
    except OSError:
        pass
    print(f"    ledger: {os.path.basename(os.path.normpath(a.results))}: {rec['result']}, "
          f"{rec['reuses'] if rec['reuses'] is not None else 'no'} reuses -> {shown(a.ledger)}",
          file=out)


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ''
    if cmd == 'record':
        write_record(record_parser().parse_args(sys.argv[2:]))
        return 0
    if cmd == 'pending':
        argv = sys.argv[2:]
        owner = argv.index('--owner') if '--owner' in argv else -1
        if owner < 0 or owner + 1 >= len(argv):
            sys.exit('error: pending needs --owner PID (the make stress that will record the run)')
        pid = int(argv[owner + 1])
        del argv[owner:owner + 2]
        a = record_parser().parse_args(argv)  # the arguments record will get
        path = os.path.join(a.results, PENDING)
        with open(path + '.tmp', 'w') as f:
            json.dump({'argv': argv, 'pid': pid, 'boot_id': boot_id()}, f)
        os.rename(path + '.tmp', path)
        return 0
    if cmd == 'recover':
        p = argparse.ArgumentParser(prog='stress-report.py recover')
        p.add_argument('--ledger', default=LEDGER)
        p.add_argument('--results-root', help='default: $CACHE_DIR/results')
        a = p.parse_args(sys.argv[2:])
        recover(a.results_root or results_root(), a.ledger)
        return 0
    p = argparse.ArgumentParser(description='Totals of the stress ledger per kernel flavour and series.')
    p.add_argument('--ledger', default=LEDGER)
    p.add_argument('--markdown', action='store_true', help="README's table")
    p.add_argument('--current', help='the current series fingerprint (default: computed)')
    p.add_argument('--no-recover', action='store_true',
                   help='do not first record the runs make stress was killed before recording')
    a = p.parse_args()
    if not a.no_recover:
        recover(results_root(), a.ledger)
    if not os.path.exists(a.ledger):
        sys.exit(f'error: no ledger at {a.ledger}: run make stress first')
    current = a.current or current_fingerprint()
    runs = load(a.ledger)
    groups = totals(runs)
    if a.markdown:
        print_markdown(groups, current)
    else:
        print_text(groups, current, a.ledger)
        print()
        print_targets(runs, current)
    return 0


if __name__ == '__main__':
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # | head
    sys.exit(main())
