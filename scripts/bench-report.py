#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn one `make bench` run into bench/results/<date>-<kernel>.{json,svg,md}
(the bench kernel, GCC; the bench-llvm kernel's: <date>-<kernel>-llvm.{json,svg,md};
the bench-c kernel's, the decision in C: <date>-<kernel>-c.{json,svg,md}; and
with bench and any other, <date>-<kernel>-kernels.md, each against bench)
and, for each real program that ran, <date>-<kernel>-workloads-<program>.{json,svg,md}
(the pre-fork service: a report per worker count, <date>-<kernel>-workloads-service-<N>-workers.{json,svg,md};
the identical virtual machines: <date>-<kernel>-workloads-vm.{json,svg,md}, or, for a boot alone
(NESTED_ROUNDS=0), <date>-<kernel>-vm-boot.{json,md}).

usage: bench-report.py RAW_DIR KERNEL_RELEASE RESULTS_DIR
       bench-report.py --headline OUT.md WORKLOADS-PROGRAM.json...

The second form, which the first runs on the day's reports after writing
a program's, joins the real programs' reports, one per program (each
maybe from its own `make bench BENCH_MODES= WORKLOADS=<program>`), into the one
table README and the cover letter lead with: per program, ASLR, ksmd setting
and phase, how many KSM write faults there were with the switch on, the
share of them reused and why the others were copied (a correct copy, the
memcg rule, or a reuse lost), and what the switch changed in pages allocated and in the
time of the unit of work.

RAW_DIR holds a directory per kernel of BENCH_KERNELS, bench, bench-llvm
and bench-c, with its kernel.release and .config (as config), one directory
per guest boot, <mode>-<boot>, and steps/ (the gdb-stepped faults); and
workloads/ and service/, the real programs' and the service's boots (of the
bench kernel). A raw directory of before BENCH_KERNELS has the bench
kernel's <mode>-<boot> and steps/ at its top; KERNEL_RELEASE is then that
kernel's, as it is always the workloads' and the service's. The mode is tcg
(multi-threaded TCG: real memory and atomics costs, noisy) or icount (guest
time counts instructions: deterministic). Every ratio is taken within one
boot (absolute times under TCG mean little); the report gives its median
over a mode's boots and its spread (min-max). The headline numbers are the
icount ones when that mode ran, with the tcg ones beside them:
  reuse_over_floor         median ns/fault, KSM switch on / ordinary anon reuse
  off_over_on              median ns/fault, KSM switch off / switch on
  allocs_per_reused_fault  pgalloc delta per page written, switch on
A missed target is reported as missed; nothing is tuned or dropped.
"""
import csv
import datetime
import glob
import json
import os
import re
import statistics
import sys

SCENARIOS = [('ksm_on', 'KSM, switch on (reuse)'),
             ('ksm_off', 'KSM, switch off (copy)'),
             ('anon_reuse', 'anon reuse (floor)'),
             ('anon_cow', 'anon COW copy')]
TARGETS = {'reuse_over_floor': ('<=', 1.05), 'off_over_on': ('>=', 4.0),
           'allocs_per_reused_fault': ('==', 0.0)}
MODES = ('icount', 'tcg')
# The kernels of BENCH_KERNELS: the raw directory's subdirectory of each,
# what its reports' base name ends with (the GCC one's is <date>-<release>),
# its name in the side-by-side report, and what its config adds to
# bench/config.fragment.
KERNELS = (('bench', '', 'Rust (GCC)', 'nothing'),
           ('bench-llvm', '-llvm', 'Rust (LLVM)',
            'bench/llvm.fragment: EXPERT and RUST_INLINE_HELPERS, the C helpers inlined into the Rust'),
           ('bench-c', '-c', 'C (GCC)',
            'bench/c-variant/: its patch (not part of the series) and KSM_WP_REUSE_C, the decision in C, '
            'mm/ksm_wp_reuse_c.c, instead of mm/ksm_wp_reuse.rs'))
KERNEL_SUFFIX = {k: suffix for k, suffix, _, _ in KERNELS}
# The day the reports carry: main() sets the run's (run_date()).
RUN_DATE = datetime.date.today().isoformat()
KERNEL_LABEL = {k: label for k, _, label, _ in KERNELS}
KERNEL_ADDS = {k: adds for k, _, _, adds in KERNELS}
# The phases: bench/workloads/run.py's (steady, restart, pressure, stopped)
# in their order, bench/workloads/service.py's in issue 27's order, (a)
# to (d) after the warm-up (it runs the recycling last), and
# bench/workloads/vm.py's in the order they run (first: a boot alone).
PHASE_ORDER = ('first', 'warmup', 'steady', 'restart', 'reboot', 'recycle', 'reload', 'pressure', 'stopped',
               'shutdown')
# Refusals that are correct copies: the page has another mapping or swap entry.
CORRECT_COPIES = ('mapped', 'swapcache')



def write_table(out, lines, svg=True):
    """A report's table: OUT.md, and on stdout with the files written."""
    table = '\n'.join(lines) + '\n'
    with open(out + '.md', 'w') as f:
        f.write(table)
    print(table)
    print(f'written: {out}.json, ' + (f'{out}.svg, ' if svg else '') + f'{out}.md')

def load_json(path):
    with open(path) as f:
        return json.load(f)


def perf_stat(path):
    """perf stat -x, output: value,unit,event,... -> {event: value}."""
    out = {}
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for row in csv.reader(line for line in f if line.strip() and not line.startswith('#')):
            if len(row) >= 3:
                try:
                    out[row[2]] = float(row[0])
                except ValueError:
                    out[row[2]] = row[0]
    return out


def uniq_counts(path):
    """`sort | uniq -c` output ('  N text') -> {text: N}; {} if there is no file."""
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.split(None, 1)
                if len(parts) == 2:
                    out[parts[1].strip()] = int(parts[0])
    return out


def trace_verdicts(path):
    """'  N result=X' lines from perf script -> {X: N}."""
    return {k[len('result='):]: n for k, n in uniq_counts(path).items() if k.startswith('result=')}


def read_text(path):
    return open(path).read() if os.path.exists(path) else ''


def ratio(v):
    """A ratio for the tables: three decimals, but a small one that is not
    zero shows its digits (a 0.000 that misses '== 0' would hide why)."""
    return f'{v:.3f}' if v == 0 or abs(v) >= 0.001 else f'{v:.2g}'


def met(name, value):
    op, target = TARGETS[name]
    return {'<=': value <= target, '>=': value >= target, '==': value == target}[op]


def spread(values):
    return {'median': statistics.median(values), 'min': min(values), 'max': max(values),
            'per_boot': values}


def boot_dirs(raw, mode):
    """raw/<mode>-<n> with a bench.json, in boot order."""
    found = []
    for name in os.listdir(raw):
        m = re.fullmatch(re.escape(mode) + r'-(\d+)', name)
        if m and os.path.exists(os.path.join(raw, name, 'bench.json')):
            found.append((int(m.group(1)), os.path.join(raw, name)))
    return [d for _, d in sorted(found)]


def mode_summary(dirs):
    """Per-scenario medians and the ratios over one mode's boots."""
    benches = [load_json(os.path.join(d, 'bench.json')) for d in dirs]
    out = {'boots': len(benches), 'pages': benches[0]['pages'], 'rounds': benches[0]['rounds'],
           'scenarios': {}, 'ratios': {}}
    for s, _ in SCENARIOS:
        per = [b['summary'][s] for b in benches]
        out['scenarios'][s] = {
            'median_ns': statistics.median(p['median_ns'] for p in per),
            'boot_median_ns': [p['median_ns'] for p in per],
            'min_ns': min(p['min_ns'] for p in per), 'max_ns': max(p['max_ns'] for p in per),
            'pgalloc_per_fault_median': statistics.median(p['pgalloc_per_fault_median'] for p in per),
            'same_pfn_fraction_median': statistics.median(p['same_pfn_fraction_median'] for p in per),
            'cow_ksm_total': sum(p['cow_ksm_total'] or 0 for p in per),
            'ksm_wp_reuse_total': sum(p['ksm_wp_reuse_total'] or 0 for p in per)}
    for k in TARGETS:
        out['ratios'][k] = spread([b[k] for b in benches])
    return out, benches


STEP_WINDOWS = ('ksm_on', 'anon_reuse')   # bench-steps.py's windows, in order


def read_steps(path):
    """steps.json of bench-steps.py -> per scenario, its most common fault path."""
    if not os.path.exists(path):
        return None
    faults = load_json(path)
    out = {}
    # A compiler may inline do_wp_page() into its one caller (clang gives a
    # static function's last call site a large bonus): in a kernel where no
    # stepped fault names it, the window's faults that name no copy.
    wp_named = any('do_wp_page' in f['by_symbol'] for f in faults)
    for w, scenario in enumerate(STEP_WINDOWS, 1):
        mine = [f for f in faults if f['window'] == w]
        # The write faults of the timed loop: through do_wp_page(), reused.
        mine = [f for f in mine if ('do_wp_page' in f['by_symbol'] or not wp_named)
                and 'wp_page_copy' not in f['by_symbol']]
        if not mine:
            continue
        counts = {}
        for f in mine:
            counts[f['instructions']] = counts.get(f['instructions'], 0) + 1
        common = max(counts, key=lambda n: (counts[n], -n))
        path_ = next(f for f in mine if f['instructions'] == common)
        out[scenario] = {'instructions': common, 'faults': len(mine), 'same_count': counts[common],
                         'all_counts': sorted(f['instructions'] for f in mine),
                         'by_symbol': path_['by_symbol']}
        if not wp_named:
            out[scenario]['selected_by'] = 'no wp_page_copy (no fault names do_wp_page: inlined)'
    return out


def kernel_dirs(raw):
    """[(flavour, directory)] of the kernels measured in raw, in KERNELS'
    order; a raw directory of before BENCH_KERNELS is the bench kernel's."""
    found = [(k, os.path.join(raw, k)) for k in KERNEL_SUFFIX if os.path.isdir(os.path.join(raw, k))]
    if not found and any(boot_dirs(raw, m) for m in MODES):
        found = [('bench', raw)]
    return found


def read_config(path):
    """A .config's CONFIG_X=value lines -> {X: value}, quotes stripped."""
    out = {}
    for line in read_text(path).splitlines():
        if line.startswith('CONFIG_') and '=' in line:
            k, v = line[len('CONFIG_'):].split('=', 1)
            out[k] = v[1:-1] if len(v) >= 2 and v[0] == v[-1] == '"' else v
    return out


def kernel_info(kdir, flavour, release):
    """What was measured in kdir: the flavour, its release (kdir/kernel.release,
    else the one given), its toolchain and the language of the decision
    (CONFIG_KSM_WP_REUSE_C: C), from the .config bench.sh copied there (None
    where there is none: a raw directory of before BENCH_KERNELS)."""
    cfg = read_config(os.path.join(kdir, 'config'))
    own = read_text(os.path.join(kdir, 'kernel.release')).strip()
    if cfg.get('CC_IS_CLANG') == 'y':
        toolchain = 'llvm'
    elif cfg.get('CC_IS_GCC') == 'y':
        toolchain = 'gcc'
    else:
        toolchain = 'llvm' if flavour.endswith('-llvm') else 'gcc'
    decision = 'c' if cfg.get('KSM_WP_REUSE_C') == 'y' or (not cfg and flavour == 'bench-c') else 'rust'
    return {'kernel_flavour': flavour, 'release': own or release, 'toolchain': toolchain, 'decision': decision,
            'compiler': cfg.get('CC_VERSION_TEXT'), 'rustc': cfg.get('RUSTC_VERSION_TEXT'),
            'rust_inline_helpers': (cfg.get('RUST_INLINE_HELPERS') == 'y') if cfg else None}


def built_with(info):
    """'bench-llvm kernel: clang ..., rustc ..., CONFIG_RUST_INLINE_HELPERS=y'."""
    parts = [p for p in (info['compiler'], info['rustc']) if p]
    if info['rust_inline_helpers']:
        parts.append('CONFIG_RUST_INLINE_HELPERS=y')
    if info.get('decision') == 'c':
        parts.append('the decision in C (CONFIG_KSM_WP_REUSE_C=y)')
    return f'{info["kernel_flavour"]} kernel' + (': ' + ', '.join(parts) if parts else f', {info["toolchain"]}')


def svg_plot(summary, title, unit):
    """Bars: median ns/fault per scenario, whiskers min..max."""
    w, h, left, top, bottom = 640, 320, 190, 40, 40
    vmax = max(summary[s]['max_ns'] for s, _ in SCENARIOS) * 1.1
    bar_h = (h - top - bottom) / len(SCENARIOS)
    scale = (w - left - 30) / vmax
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="sans-serif" font-size="12">',
           f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>']
    for i, (s, label) in enumerate(SCENARIOS):
        d = summary[s]
        y = top + i * bar_h + 8
        bh = bar_h - 16
        out.append(f'<text x="{left - 8}" y="{y + bh / 2 + 4}" text-anchor="end">{label}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{d["median_ns"] * scale:.1f}" '
                   f'height="{bh}" fill="{"#2a7" if s in ("ksm_on", "anon_reuse") else "#c54"}"/>')
        x0, x1 = left + d['min_ns'] * scale, left + d['max_ns'] * scale
        out.append(f'<line x1="{x0:.1f}" x2="{x1:.1f}" y1="{y + bh / 2}" y2="{y + bh / 2}" stroke="black"/>')
        out.append(f'<text x="{x1 + 6:.1f}" y="{y + bh / 2 + 4}">'
                   f'{d["median_ns"]:.0f} {"instr." if unit == "instructions" else "ns"}</text>')
    out.append(f'<text x="{left}" y="{h - 12}">median {unit} per write fault (min–max whiskers)</text>')
    out.append('</svg>')
    return '\n'.join(out) + '\n'


def by_result(verdicts):
    """run.py's verdict counts ("reused", "swapcache memcg", ...) by the
    check's result alone, in the swap cache or not."""
    v = {}
    for w, n in verdicts.items():
        v[w.split()[-1]] = v.get(w.split()[-1], 0) + n
    return v


def reused_share(verdicts):
    """The percentage of the tracepoint's events (every phase) that reused."""
    total = sum(verdicts.values())
    return 100 * by_result(verdicts).get('reused', 0) / total if total else 0


def phase_rank(phase):
    return PHASE_ORDER.index(phase) if phase in PHASE_ORDER else len(PHASE_ORDER)


# svg_panels()' first column: the share of KSM write faults reused, switch on.
REUSED_COLUMN = ('KSM write faults reused, switch on', lambda on, off: [
    (reused_share(on['verdicts_total']), '#2a7', f'% of {sum(on["verdicts_total"].values())}')])


def on_off_column(title, key):
    """An svg_panels() column: the rows' key, switch on (green) against off (red)."""
    return (title, lambda on, off: [(on[key], '#2a7', ''), (off[key], '#c54', '')])


def svg_workloads(rows, title):
    """Per phase (scenario) a panel, per workload/ASLR/ksmd a line: the share
    of KSM write faults reused with the switch on (of the tracepoint's
    events over every phase, as --headline gives it); pages allocated and the
    unit of work's time, switch on (green) against off (red)."""
    return svg_panels(
        rows, title, 'reused: share of every phase\'s tracepoint events; pages and times: medians '
        'over the phases; green: switch on, red: switch off',
        [REUSED_COLUMN,
         on_off_column('pages allocated', 'allocs'),
         on_off_column('unit of work, ms', 'unit_ms')],
        lambda r: (r['workload'], r['aslr'], r['ksmd']), lambda k: f'{k[0]}, ASLR {k[1]}, ksmd {k[2]}')


def svg_panels(rows, title, subtitle, cols, key, label):
    """Per phase a panel, per key(row) a line labelled label(key), per column
    of cols (title, f(on, off) -> bars [(value, colour, unit)]) its bars;
    the first column is a percentage."""
    phases = sorted({r['phase'] for r in rows}, key=phase_rank)
    keys = sorted({key(r) for r in rows})
    by = {key(r) + (r['phase'], r['wp_reuse']): r for r in rows}
    vals = {}
    for ph in phases:
        for k in keys:
            on, off = by.get(k + (ph, 1)), by.get(k + (ph, 0))
            if on and off:
                for c, (_, f) in enumerate(cols):
                    vals[(ph, k, c)] = f(on, off)
    vmax = [max([v for (_, _, c2), bars in vals.items() if c2 == c for v, _, _ in bars] + [1])
            for c in range(len(cols))]
    vmax[0] = 100
    left, colw, line, bar = 250, 230, 26, 9
    w = left + len(cols) * colw + 20
    y, out = 50, []
    for ph in phases:
        out.append(f'<text x="8" y="{y}" font-weight="bold">{ph}</text>')
        for c, (ctitle, _) in enumerate(cols):
            out.append(f'<text x="{left + c * colw}" y="{y}">{ctitle}</text>')
        y += 10
        for k in keys:
            out.append(f'<text x="{left - 8}" y="{y + line / 2 + 4}" text-anchor="end">{label(k)}</text>')
            for c in range(len(cols)):
                for b, (v, color, unit) in enumerate(vals.get((ph, k, c), [])):
                    x, by_ = left + c * colw, y + 3 + b * (bar + 1)
                    length = v / vmax[c] * (colw - (120 if c == 0 else 70))
                    out.append(f'<rect x="{x}" y="{by_}" width="{length:.1f}" height="{bar}" fill="{color}"/>')
                    out.append(f'<text x="{x + length + 4:.1f}" y="{by_ + bar - 1}" font-size="10">'
                               f'{v:.0f}{unit}</text>')
            y += line
        y += 24
    head = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{y}" '
            f'font-family="sans-serif" font-size="12">',
            f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
            f'<text x="{w / 2}" y="36" text-anchor="middle" font-size="11">{subtitle}</text>']
    return '\n'.join(head + out + ['</svg>']) + '\n'


def workloads_summary(runs):
    """Per workload, ASLR, ksmd setting, phase and switch position: medians over
    the phases (one per round; a restart phase per instance and round)."""
    rows, groups = [], {}
    for r in runs:
        for ph in r['phases']:
            key = (r['workload'], r['aslr'], r['ksmd'], ph['phase'], r['wp_reuse'])
            groups.setdefault(key, []).append((r, ph))
    for (w, aslr, ksmd, phase, wp), rs in sorted(
            groups.items(), key=lambda g: (g[0][0], g[0][1], g[0][2], phase_rank(g[0][3]), -g[0][4])):
        verdicts = {}
        for _, ph in rs:
            for i in ph['instances']:
                for k, n in i['verdicts'].items():
                    verdicts[k] = verdicts.get(k, 0) + n
        med = statistics.median
        faults = [ph['cow_ksm'] + ph['ksm_wp_reuse'] for _, ph in rs]
        first = [i['ns'] / 1e6 for _, ph in rs for i in ph['instances'] if i['first']]
        rows.append({
            'workload': w, 'aslr': aslr, 'ksmd': ksmd, 'phase': phase, 'wp_reuse': wp, 'phases': len(rs),
            'first_unit_ms': med(first) if first else None,
            'pages_sharing_merged': med([r['pages_sharing_merged'] for r, _ in rs]),
            'ksm_write_faults': med(faults), 'ksm_write_faults_min': min(faults),
            'ksm_write_faults_max': max(faults),
            'reused': med([ph['ksm_wp_reuse'] for _, ph in rs]),
            'copied': med([ph['cow_ksm'] for _, ph in rs]),
            'allocs': med([sum(i['allocs'] for i in ph['instances']) for _, ph in rs]),
            'pswpin': med([ph['pswpin'] for _, ph in rs]),
            'unit_ms': med([i['ns'] / 1e6 for _, ph in rs for i in ph['instances']]),
            'unit_ms_min': min(i['ns'] / 1e6 for _, ph in rs for i in ph['instances']),
            'unit_ms_max': max(i['ns'] / 1e6 for _, ph in rs for i in ph['instances']),
            'ksmd_ticks': med([r['ksmd_ticks'] for r, _ in rs]),
            'verdicts_total': verdicts,
        })
    checksums = {}
    for r in runs:
        for ph in r['phases']:
            for i in ph['instances']:
                checksums.setdefault(r['workload'], set()).add(i['checksum'])
    return rows, {w: sorted(c) for w, c in checksums.items()}


def fault_report(raw, kernel, base, modes, benches, info=None, run=None):
    """The per-fault scenarios and the workloads of ksm_wp_bench: <base>.{json,svg,md}.
    info (kernel_info()) says which kernel and toolchain, run which bench run's
    raw output it is (its directory's name); the report is returned."""
    info = info or {'kernel_flavour': 'bench', 'toolchain': 'gcc', 'decision': 'rust', 'compiler': None,
                    'rustc': None, 'rust_inline_helpers': None}
    lead = 'icount' if 'icount' in modes else 'tcg'
    headline = {k: modes[lead]['ratios'][k]['median'] for k in TARGETS}
    targets = {k: {'target': f'{op} {t}', 'mode': lead, 'met': met(k, headline[k])}
               for k, (op, t) in TARGETS.items()}
    # off_over_on must hold in both modes.
    targets['off_over_on']['met'] = all(met('off_over_on', m['ratios']['off_over_on']['median'])
                                        for m in modes.values())
    targets['off_over_on']['mode'] = 'all'
    full = os.path.join(raw, 'tcg-1')
    steps = read_steps(os.path.join(raw, 'steps', 'steps.json'))
    report = {
        'date': RUN_DATE,
        'kernel': kernel,
        'run': run,
        **{k: info[k] for k in ('kernel_flavour', 'toolchain', 'decision', 'compiler', 'rustc',
                                'rust_inline_helpers')},
        'headline_mode': lead,
        **headline,
        'targets': targets,
        'modes': modes,
        'bench': benches,
        'stepped_faults': steps,
        'perf_stat': {s: perf_stat(os.path.join(full, f'perfstat-{s}.csv')) for s, _ in SCENARIOS},
        'tracepoint_verdicts': {s: trace_verdicts(os.path.join(full, f'trace-{s}.txt'))
                                for s in ('ksm_on', 'ksm_off')},
        'perf_profile': {s: read_text(os.path.join(full, f'perf-{s}.txt')) for s in ('ksm_on', 'ksm_off')},
        'perf_inclusive': {s: read_text(os.path.join(full, f'perf-{s}-children.txt'))
                           for s in ('ksm_on', 'ksm_off')},
    }
    if os.path.exists(os.path.join(full, 'pressure.json')):
        report['pressure'] = load_json(os.path.join(full, 'pressure.json'))
        report['pressure_verdicts'] = uniq_counts(os.path.join(full, 'trace-pressure.txt'))
    pairs = {mode: os.path.join(raw, f'{mode}-1') for mode in modes}
    pairs = {mode: {**load_json(os.path.join(d, 'pairs.json')),
                    'verdicts': trace_verdicts(os.path.join(d, 'trace-pairs.txt'))}
             for mode, d in pairs.items() if os.path.exists(os.path.join(d, 'pairs.json'))}
    if pairs:
        report['pairs'] = pairs
    if os.path.exists(os.path.join(full, 'churn-1.json')):
        report['churn'] = {'wp_reuse=1': load_json(os.path.join(full, 'churn-1.json')),
                           'wp_reuse=0': load_json(os.path.join(full, 'churn-0.json'))}
    with open(base + '.json', 'w') as f:
        json.dump(report, f, indent=1)
        f.write('\n')
    m = modes[lead]
    unit = 'instructions' if lead == 'icount' else 'ns'
    with open(base + '.svg', 'w') as f:
        f.write(svg_plot(m['scenarios'], f'Write fault cost by path, Linux {kernel}'
                         f'{" (LLVM)" if info["toolchain"] == "llvm" else ""}'
                         f'{" (decision in C)" if info["decision"] == "c" else ""}, {lead}, '
                         f'{m["pages"]} pages x {m["rounds"]} rounds x {m["boots"]} boot(s)', unit))

    built = f' ({built_with(info)})' if info['compiler'] or info['rustc'] else ''
    lines = [f'Linux {kernel}{built}, {m["pages"]} pages per scenario, {m["rounds"]} '
             'interleaved rounds per boot; every ratio is taken within one boot', '']
    for mode, m in modes.items():
        what = ('icount: guest time counts instructions (1 ns = 1 instruction)' if mode == 'icount'
                else 'tcg: multi-threaded TCG, real memory and atomics costs, noisy')
        lines += [f'{what}; {m["boots"]} boot(s)', '',
                  '| scenario | median ns/fault | per boot | min–max (rounds) | pgalloc/fault | same PFN | cow_ksm | ksm_wp_reuse |',
                  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
        for s, label in SCENARIOS:
            d = m['scenarios'][s]
            lines.append(f'| {label} | {d["median_ns"]:.0f} | {" ".join(f"{v:.0f}" for v in d["boot_median_ns"])} | '
                         f'{d["min_ns"]:.0f}–{d["max_ns"]:.0f} | {d["pgalloc_per_fault_median"]:.2f} | '
                         f'{100 * d["same_pfn_fraction_median"]:.0f}% | {d["cow_ksm_total"]} | '
                         f'{d["ksm_wp_reuse_total"]} |')
        lines.append('')
        for k, (op, t) in TARGETS.items():
            r = m['ratios'][k]
            lines.append(f'- {mode} `{k}` = {ratio(r["median"])}, spread over boots {ratio(r["min"])}–{ratio(r["max"])} '
                         f'(target {op} {t}: {"met" if met(k, r["median"]) else "MISSED"})')
        lines.append('')
    if steps and len(steps) == 2:
        on, floor = steps['ksm_on'], steps['anon_reuse']
        lines += ['One write fault stepped in gdb, instruction by instruction, from the exception '
                  'to the return to user space (bench-steps.py; its most common path: '
                  f'ksm_on {on["same_count"]} of {on["faults"]} faults, anon_reuse '
                  f'{floor["same_count"]} of {floor["faults"]}): instructions by kernel symbol, '
                  'each function\'s own (inlined callees included)', '',
                  f'- total: ksm_on {on["instructions"]}, anon_reuse {floor["instructions"]}, '
                  f'difference {on["instructions"] - floor["instructions"]} '
                  f'({on["instructions"] / floor["instructions"]:.3f}x)', '',
                  '| symbol | ksm_on | anon_reuse | difference |', '| --- | ---: | ---: | ---: |']
        a, b = on['by_symbol'], floor['by_symbol']
        for sym in sorted(set(a) | set(b), key=lambda k: (-(a.get(k, 0) - b.get(k, 0)), k)):
            if a.get(sym, 0) != b.get(sym, 0):
                lines.append(f'| {sym} | {a.get(sym, 0)} | {b.get(sym, 0)} | {a.get(sym, 0) - b.get(sym, 0):+d} |')
        same = sum(v for k, v in a.items() if b.get(k) == v)
        lines += [f'| (every other symbol: the same count in both) | {same} | {same} | 0 |', '']
    for s in ('ksm_on', 'ksm_off'):
        v = report['tracepoint_verdicts'][s]
        lines.append(f'- tracepoint ksm:ksm_wp_reuse, {s} (tcg): ' +
                     (', '.join(f'{n} {r}' for r, n in sorted(v.items())) or 'no events'))
    for s in ('ksm_on', 'ksm_off'):
        if not report['perf_inclusive'][s]:
            continue
        lines.append(f'- perf record -g -e cpu-clock, {s} (tcg): share of all samples of the run (with callees):')
        lines += [f'  - {f[0]} (self {f[1]}) {f[3]}'
                  for f in (line.split() for line in report['perf_inclusive'][s].splitlines())
                  if len(f) >= 4]
    if 'pressure' in report:
        p = report['pressure']
        lines += ['', f'Swap pressure (tcg): {p["pages"]} KSM pages mapped once, 1 in {p["out_every"]} swapped out '
                  f'to a loop device, memory.max a quarter of the area above use; {p["rounds"]} rounds', '',
                  '| wp_reuse | median ns/fault | swapped before | pswpin | pswpout | pgalloc | cow_ksm | ksm_wp_reuse |',
                  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
        for w in (1, 0):
            rs = [r for r in p['rounds_data'] if r['wp_reuse'] == w]
            tot = {k: sum(r[k] for r in rs) for k in ('swapped_before_write', 'pswpin', 'pswpout',
                                                      'pgalloc', 'cow_ksm', 'ksm_wp_reuse')}
            lines.append(f'| {w} | {statistics.median(r["ns_per_fault"] for r in rs):.0f} | '
                         f'{tot["swapped_before_write"]} | {tot["pswpin"]} | {tot["pswpout"]} | {tot["pgalloc"]} | '
                         f'{tot["cow_ksm"]} | {tot["ksm_wp_reuse"]} |')
        v = report['pressure_verdicts']
        met_sc = sum(n for k, n in v.items() if k.startswith('swapcache=1'))
        reused_sc = v.get('swapcache=1 result=reused', 0)
        lines += ['', '- tracepoint verdicts, wp_reuse=1 rounds: ' +
                  (', '.join(f'{n} {k}' for k, n in sorted(v.items())) or 'no events'),
                  f'- KSM write faults that met the swap cache: {met_sc} of {sum(v.values())}; '
                  f'reused: {reused_sc} of those {met_sc}']
    for mode, p in sorted(report.get('pairs', {}).items(), key=lambda mp: mp[0] != lead):
        lines += ['', f'Pairs ({mode}): what `ksm_tests -C` times, completed: {p["pairs"]} pairs of equal pages '
                  'of one process merged (each KSM page mapped twice), then a write to the first page of each '
                  '(what ksm_tests times: it must copy), then to the second (its KSM page now mapped once); '
                  f'{p["rounds"]} rounds, medians (min–max)', '',
                  f'| wp_reuse | write | {"instructions" if mode == "icount" else "ns"}/fault | pgalloc/fault | '
                  'same PFN | cow_ksm | ksm_wp_reuse |',
                  '| ---: | --- | ---: | ---: | ---: | ---: | ---: |']
        for w in (1, 0):
            for half in ('first', 'second'):
                d = p['summary'][f'wp_reuse={w} {half}']
                lines.append(f'| {w} | {half} | {d["median_ns"]:.0f} ({d["min_ns"]:.0f}–{d["max_ns"]:.0f}) | '
                             f'{d["pgalloc_per_fault_median"]:.2f} | {100 * d["same_pfn_fraction_median"]:.0f}% | '
                             f'{d["cow_ksm_total"]} | {d["ksm_wp_reuse_total"]} |')
        lines += ['', f'- off/on: first write {p["first_off_over_on"]:.3f}, second write '
                  f'{p["second_off_over_on"]:.3f}',
                  '- tracepoint verdicts, wp_reuse=1 rounds, both writes: ' +
                  (', '.join(f'{n} {r}' for r, n in sorted(p['verdicts'].items())) or 'no events')]
    for label, c in report.get('churn', {}).items():
        lines.append(f'- churn, {label} (tcg): ' + ', '.join(f'{k} {v}' for k, v in c.items()
                                                             if not isinstance(v, (dict, list))))
    table = '\n'.join(lines) + '\n'
    with open(base + '.md', 'w') as f:
        f.write(table)
    print(table)
    print(f'written: {base}.json, {base}.svg, {base}.md')
    return report


def kernels_report(out, reports):
    """The kernels of BENCH_KERNELS side by side, from their fault_report()s:
    <out>.md. reports is [(flavour, report)], bench first, each other kernel
    compared with it. Per mode that bench and another ran, each scenario's
    median per fault on each kernel and its difference and ratio to bench's,
    and the ratios against their targets; the stepped faults' totals, and
    where each other kernel's ksm_on fault's instructions moved, by symbol."""
    base = reports[0][1]
    kernels = [(KERNEL_LABEL[f], f, r) for f, r in reports]
    releases = ', '.join(f'{n}: {r["kernel"]}' for n, _, r in kernels)
    lines = [f'Kernels side by side, Linux {base["kernel"]}'
             + (f' ({releases})' if len({r['kernel'] for _, _, r in kernels}) > 1 else '')
             + ': the same benchmark program, bench/config.fragment and each kernel\'s own additions', '']
    for name, f, r in kernels:
        lines.append(f'- {name}: {built_with(r)}; adds {KERNEL_ADDS[f]}')
    lines.append('')
    for mode in MODES:
        ran = [(n, r) for n, _, r in kernels if mode in r['modes']]
        missing = [n for n, _, r in kernels if mode not in r['modes']]
        if ran and missing:
            lines += [f'{mode}: ran on {", ".join(n for n, _ in ran)} alone, not on {", ".join(missing)}', '']
        if mode not in base['modes'] or len(ran) < 2:
            continue
        ms = [(n, r['modes'][mode]) for n, r in ran]
        (bname, b), rest = ms[0], ms[1:]
        unit = 'instructions' if mode == 'icount' else 'ns'

        def each(k):
            vals = {m[k] for _, m in ms}
            return f'{b[k]}' if len(vals) == 1 else ' and '.join(f'{m[k]} ({n})' for n, m in ms)
        lines += [f'{mode}: median {unit} per fault ({each("boots")} boot(s), '
                  f'{each("pages")} pages x {each("rounds")} rounds)', '',
                  '| scenario | ' + ' | '.join(n for n, _ in ms) + ' | '
                  + ' | '.join(f'{n} − {bname} | {n} / {bname}' for n, _ in rest) + ' |',
                  '| --- |' + ' ---: |' * (len(ms) + 2 * len(rest))]
        for s, label in SCENARIOS:
            a = b['scenarios'][s]['median_ns']
            cells = [f'{m["scenarios"][s]["median_ns"]:.0f}' for _, m in ms]
            for _, m in rest:
                v = m['scenarios'][s]['median_ns']
                cells += [f'{v - a:+.0f}', f'{v / a:.3f}' if a else '–']
            lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
        lines += ['', '| ratio | target | ' + ' | '.join(n for n, _ in ms) + ' |',
                  '| --- | --- |' + ' --- |' * len(ms)]
        for k, (op, t) in TARGETS.items():
            cells = []
            for _, m in ms:
                r = m['ratios'][k]
                cells.append(f'{ratio(r["median"])} ({ratio(r["min"])}–{ratio(r["max"])}): '
                             + ('met' if met(k, r['median']) else '**MISSED**'))
            lines.append(f'| `{k}` | {op} {t} | ' + ' | '.join(cells) + ' |')
        lines.append('')
    steps = {name: r['stepped_faults'] for name, _, r in kernels}
    stepped = {name: st for name, st in steps.items() if st and len(st) == 2}
    if stepped:
        lines += ['One write fault stepped in gdb (bench-steps.py; each kernel\'s most common path), '
                  'instructions from the exception to the return to user space', '',
                  '| kernel | ksm_on | anon_reuse | difference | ksm_on / anon_reuse |',
                  '| --- | ---: | ---: | ---: | ---: |']
        for name, st in stepped.items():
            on, floor = st['ksm_on']['instructions'], st['anon_reuse']['instructions']
            lines.append(f'| {name} | {on} | {floor} | {on - floor:+d} | {on / floor:.3f} |')
        for name in (n for n, _, _ in kernels if n not in stepped):
            lines.append(f'| {name} | – | – | – | no stepped faults |')
        lines.append('')
    bname = kernels[0][0]
    for name, _, _ in kernels[1:]:
        if not (steps[bname] and 'ksm_on' in steps[bname] and steps[name] and 'ksm_on' in steps[name]):
            continue
        a, b = steps[bname]['ksm_on']['by_symbol'], steps[name]['ksm_on']['by_symbol']
        lines += [f'The ksm_on fault by kernel symbol, {name} against {bname}, each function\'s own '
                  f'instructions (inlined callees included): {bname} {steps[bname]["ksm_on"]["instructions"]}, '
                  f'{name} {steps[name]["ksm_on"]["instructions"]}, symbols whose count differs', '',
                  f'| symbol | {bname} | {name} | {name} − {bname} |', '| --- | ---: | ---: | ---: |']
        for sym in sorted(set(a) | set(b), key=lambda k: (b.get(k, 0) - a.get(k, 0), k)):
            if a.get(sym, 0) != b.get(sym, 0):
                lines.append(f'| {sym} | {a.get(sym, 0)} | {b.get(sym, 0)} | {b.get(sym, 0) - a.get(sym, 0):+d} |')
        same = sum(v for k, v in a.items() if b.get(k) == v)
        lines += [f'| (every other symbol: the same count in both) | {same} | {same} | 0 |', '']
    table = '\n'.join(lines) + '\n'
    with open(out + '.md', 'w') as f:
        f.write(table)
    print(table)
    print(f'written: {out}.md')


def workloads_report(path, kernel, base):
    """The real programs (bench/workloads/run.py): <base>-workloads-<program>.{json,svg,md}
    for each program, so that runs of different programs never overwrite each other."""
    wl = load_json(path)
    for program in sorted({r['workload'] for r in wl['runs']}):
        program_report([r for r in wl['runs'] if r['workload'] == program], wl, kernel,
                       f'{base}-workloads-{program}')


def program_report(runs, wl, kernel, out):
    failed = [r for r in runs if 'error' in r]
    runs = [r for r in runs if 'error' not in r]
    if not runs:
        print(f'bench-report.py: every run of {failed[0]["workload"]} failed: {failed[0]["error"]}',
              file=sys.stderr)
        return
    rows, checksums = workloads_summary(runs)
    report = {'date': RUN_DATE, 'kernel': kernel,
              'instances': wl['instances'], 'ksmd': wl['ksmd'], 'summary': rows,
              'checksums': checksums, 'runs': runs, 'failed_runs': failed}
    with open(out + '.json', 'w') as f:
        json.dump(report, f, indent=1)
        f.write('\n')
    with open(out + '.svg', 'w') as f:
        f.write(svg_workloads(rows, f'{runs[0]["workload"]} under KSM, Linux {kernel}, '
                              f'{wl["instances"]} instances'))
    lines = [f'Real programs (tcg): {report["instances"]} instances each, every one launched on its own '
             'with PR_SET_MEMORY_MERGE in a cgroup of its own; steady: every instance does one unit of '
             'its work; restart: one instance SIGKILLed and started again in a new cgroup, then every '
             'instance does one (the new one its first, in brackets); pressure: every cgroup reclaimed '
             'to about half its charge and memory.max an eighth of the charge above that, swap on a loop '
             'device, every instance does one; stopped: one instance SIGKILLed '
             'and its cgroup removed, the survivors do one; medians over the phases (min–max)', '',
             '| workload | ASLR | ksmd | phase | wp_reuse | merged (pages_sharing) | KSM write faults | '
             'reused | copied | pages allocated | swap-ins | unit of work, ms | ksmd CPU per run, ticks | '
             'tracepoint verdicts (all phases) |',
             '| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |']
    for r in rows:
        v = ', '.join(f'{k} {n}' for k, n in sorted(r['verdicts_total'].items())) or '–'
        first = f' [{r["first_unit_ms"]:.0f}]' if r['first_unit_ms'] is not None else ''
        lines.append(f'| {r["workload"]} | {r["aslr"]} | {r["ksmd"]} | {r["phase"]} | '
                     f'{r["wp_reuse"]} | {r["pages_sharing_merged"]:.0f} | {r["ksm_write_faults"]:.0f} '
                     f'({r["ksm_write_faults_min"]}–{r["ksm_write_faults_max"]}) | {r["reused"]:.0f} | '
                     f'{r["copied"]:.0f} | {r["allocs"]:.0f} | {r["pswpin"]:.0f} | {r["unit_ms"]:.0f} '
                     f'({r["unit_ms_min"]:.0f}–{r["unit_ms_max"]:.0f}){first} | {r["ksmd_ticks"]:.0f} | {v} |')
    for w, c in checksums.items():
        lines.append(f'- {w}: every instance\'s output, switch on and off: '
                     + ('the same' if len(c) == 1 else f'DIFFERS ({len(c)} distinct checksums)'))
    for r in failed:
        lines.append(f'- FAILED run, round {r["round"]}, ASLR {r["aslr"]}, ksmd {r["ksmd"]}, '
                     f'wp_reuse={r["wp_reuse"]}: {r["error"]}')
    write_table(out, lines)


def add_verdicts(total, verdicts):
    for k, n in verdicts.items():
        total[k] = total.get(k, 0) + n
    return total


def service_summary(runs):
    """Per worker count, ksmd setting, phase and switch position of the
    service (bench/workloads/service.py): medians over the runs (min-max
    where the spread says something), sums for the checks and the
    tracepoint's verdicts. The keys run.py's rows share (workload, aslr,
    ksmd, phase, wp_reuse, pages_sharing_merged, ksm_write_faults,
    verdicts_total, allocs) mean the same, so that --headline joins them."""
    groups = {}
    for r in runs:
        for ph in r['phases']:
            groups.setdefault((r['workers'], r['ksmd'], ph['phase'], r['wp_reuse']), []).append((r, ph))
    med = statistics.median
    rows = []
    for (n, ksmd, phase, wp), rs in sorted(groups.items(),
                                           key=lambda g: (g[0][0], g[0][1], phase_rank(g[0][2]), -g[0][3])):
        phs = [ph for _, ph in rs]

        def spread_of(f):
            v = [f(ph) for ph in phs]
            return med(v), min(v), max(v)
        rps = spread_of(lambda ph: ph['wrk']['rps'])
        p50 = spread_of(lambda ph: ph['wrk']['latency_us']['p50'] / 1e3)
        p99 = spread_of(lambda ph: ph['wrk']['latency_us']['p99'] / 1e3)
        faults = spread_of(lambda ph: ph['cow_ksm'] + ph['ksm_wp_reuse'])
        # What a write fault meets: the samples taken during the load, not
        # the one before it (the pages as ksmd left them, every worker still
        # mapping them) nor the one after (ksmd merging again).
        samples = [s for ph in phs for s in ph['samples'][1:-1]]
        once = [s['mapped_once'] for s in samples]
        mapped = [sum(int(k) * v for k, v in s['mapcount'].items()) / s['ksm_pages']
                  for s in samples if s['ksm_pages']]
        # Whose the KSM pages are: sampled since 2026-12-04's 8-worker run.
        owned = [s['owners'] for s in samples if 'owners' in s]
        sharers = [s['pages_sharing'] / s['pages_shared'] for s in samples if s['pages_shared']]
        verdicts, master = {}, {}
        for ph in phs:
            add_verdicts(verdicts, ph['service']['verdicts'])
            add_verdicts(master, ph['master']['verdicts'])
        rows.append({
            'workload': f'service, {n} workers', 'workers': n, 'aslr': 'on', 'ksmd': ksmd, 'phase': phase,
            'wp_reuse': wp, 'phases': len(phs),
            'rps': rps[0], 'rps_min': rps[1], 'rps_max': rps[2],
            'p50_ms': p50[0], 'p50_ms_min': p50[1], 'p50_ms_max': p50[2],
            'p99_ms': p99[0], 'p99_ms_min': p99[1], 'p99_ms_max': p99[2],
            'pages_sharing_merged': med([r['pages_sharing_merged'] for r, _ in rs]),
            'ksm_write_faults': faults[0], 'ksm_write_faults_min': faults[1],
            'ksm_write_faults_max': faults[2],
            'reused': med([ph['ksm_wp_reuse'] for ph in phs]), 'copied': med([ph['cow_ksm'] for ph in phs]),
            'verdicts_total': verdicts, 'master_verdicts_total': master,
            'allocs': med([ph['service']['allocs'] for ph in phs]),
            'workers_booted': med([ph['workers_booted'] for ph in phs]),
            'workers_recycled': med([ph['workers_recycled'] for ph in phs]),
            'sharing_over_shared': med(sharers) if sharers else None,
            'mean_mapcount': med(mapped) if mapped else None,
            'ksm_pages_sampled': med([s['ksm_pages'] for s in samples]) if samples else None,
            'mapped_once': med(once) if once else None,
            'mapped_once_min': min(once) if once else None, 'mapped_once_max': max(once) if once else None,
            'owners_sampled': len(owned),
            **{f'{role}_{k}': med([o[role][k] for o in owned]) if owned else None
               for role in ('master', 'workers') for k in ('ksm_pages', 'mapped_once')},
            'ksmd_ticks': med([ph['ksmd_ticks'] for ph in phs]),
            'pswpin': med([ph['pswpin'] for ph in phs]),
            'oom_kills': sum(ph['oom_kills'] for ph in phs),
            'checked': sum(ph['wrk']['checked'] for ph in phs),
            'mismatch': sum(ph['wrk']['mismatch'] for ph in phs),
            'non200': sum(ph['wrk']['non200'] for ph in phs),
            'socket_errors': sum(ph['wrk']['errors'][k] for ph in phs for k in ('connect', 'read', 'write')),
            'timeouts': sum(ph['wrk']['errors']['timeout'] for ph in phs),
        })
    return rows


def service_reports(path, kernel, base):
    """The pre-fork service (bench/workloads/service.py): a report per worker
    count, <base>-workloads-service-<N>-workers.{json,svg,md}, so that runs
    of 4 and of 8 workers made by separate invocations on one day join in
    the headline as the programs' do (a same-day run of the same count
    replaces that count's report)."""
    sv = load_json(path)
    for n in sorted({r['workers'] for r in sv['runs']}):
        service_report(dict(sv, runs=[r for r in sv['runs'] if r['workers'] == n],
                            recycle={k: v for k, v in sv['recycle'].items() if int(k) == n}),
                       kernel, f'{base}-workloads-service-{n}-workers')


def service_report(sv, kernel, out):
    """One worker count's runs of the service: <out>.{json,svg,md}. A run
    whose checks failed is left out of the medians and listed, with its
    figures in the JSON; so is one the service did not survive."""
    errored = [r for r in sv['runs'] if 'error' in r]
    failed = [r for r in sv['runs'] if 'error' not in r and r['failed']]
    runs = [r for r in sv['runs'] if 'error' not in r and not r['failed']]
    rows = service_summary(runs)
    st = sv['settings']
    report = {'date': RUN_DATE, 'kernel': kernel, 'kind': 'service',
              'settings': st, 'ksmd': sv['ksmd'], 'recycle': sv['recycle'], 'summary': rows,
              'runs': runs, 'failed_runs': failed, 'errored_runs': errored}
    with open(out + '.json', 'w') as f:
        json.dump(report, f, indent=1)
        f.write('\n')
    with open(out + '.svg', 'w') as f:
        f.write(svg_panels(
            rows, f'A pre-fork service under KSM (gunicorn, wrk), Linux {kernel}',
            'reused: share of the tracepoint\'s events; requests/s as wrk reports them, p99 latency as service.lua times each request (no correction for coordinated omission), '
            'medians over the runs; green: switch on, red: switch off',
            [REUSED_COLUMN,
             on_off_column('requests/s', 'rps'),
             on_off_column('latency p99, ms', 'p99_ms')],
            lambda r: (r['workers'], r['ksmd']), lambda k: f'{k[0]} workers, ksmd {k[1]}'))

    def rng(r, k, fmt='.0f'):
        return f'{r[k]:{fmt}} ({r[k + "_min"]:{fmt}}–{r[k + "_max"]:{fmt}})'

    def opt(v, fmt):
        return '–' if v is None else f'{v:{fmt}}'
    lines = [f'A pre-fork service (tcg): Debian\'s gunicorn, sync workers, --preload, serving '
             f'bench/workloads/service_app.py ({st["records"]} records built at import, in the master; a '
             f'request reads one of {st["keys"]} slices), launched with PR_SET_MEMORY_MERGE in one cgroup; '
             f'load from Debian\'s wrk, {st["connections"]} connections, {st["seconds"]} s a phase, on '
             'loopback, every response checked. Phases, in the order they ran: warmup (the fresh '
             'workers\' first load); steady; reload (SIGHUP a third into the load: new workers, the old '
             'ones stopped gracefully); pressure (memory.max below the working set, swap on a loop '
             'device); recycle (max_requests with jitter: workers exit and are forked again under load). '
             'ksmd had two full scans before each. Medians over the runs (min–max); KSM write faults: '
             'the guest\'s cow_ksm + ksm_wp_reuse; verdicts: the tracepoint on the master and every '
             'worker, summed over the runs; pages_sharing / pages_shared, the mean mapcount of the KSM pages '
             'and how many are mapped once (mapcount 1; /proc/kpageflags and kpagecount): medians of the '
             f'samples taken during the load ({st["samples"]} a phase); "the master maps": of those KSM '
             'pages, how many the master maps (its /proc/PID/pagemap, read after the walk), and of them '
             'mapped once: a worker\'s write to a page the master maps meets a mapcount above 1', '',
             '| workers | ksmd | phase | wp_reuse | requests/s | p50 ms | p99 ms | KSM write faults | '
             'reused | copied | pages allocated | workers booted (recycled) | pages_sharing / pages_shared '
             '| mean mapcount | KSM pages mapped once | the master maps (of them mapped once) | '
             'ksmd CPU, ticks | swap-ins | tracepoint verdicts (master\'s) |',
             '| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: '
             '| ---: | ---: | ---: | ---: | --- |']
    for r in rows:
        v = ', '.join(f'{k} {n}' for k, n in sorted(r['verdicts_total'].items())) or '–'
        m = ', '.join(f'{k} {n}' for k, n in sorted(r['master_verdicts_total'].items()))
        once = ('–' if r['mapped_once'] is None else
                f'{r["mapped_once"]:.0f} ({r["mapped_once_min"]}–{r["mapped_once_max"]}) of '
                f'{r["ksm_pages_sampled"]:.0f}')
        master = ('–' if not r.get('owners_sampled') else
                  f'{r["master_ksm_pages"]:.0f} ({r["master_mapped_once"]:.0f})')
        lines.append(f'| {r["workers"]} | {r["ksmd"]} | {r["phase"]} | {r["wp_reuse"]} | '
                     f'{rng(r, "rps", ".1f")} | {rng(r, "p50_ms")} | {rng(r, "p99_ms")} | '
                     f'{rng(r, "ksm_write_faults")} | '
                     f'{r["reused"]:.0f} | {r["copied"]:.0f} | {r["allocs"]:.0f} | '
                     f'{r["workers_booted"]:.0f} ({r["workers_recycled"]:.0f}) | '
                     f'{opt(r["sharing_over_shared"], ".2f")} | {opt(r["mean_mapcount"], ".2f")} | {once} | '
                     f'{master} | {r["ksmd_ticks"]:.0f} | {r["pswpin"]:.0f} | {v}' + (f' ({m})' if m else '') + ' |')
    lines.append('')
    for n, rc in sorted(sv['recycle'].items()):
        lines.append(f'- recycle, {n} workers: max_requests {rc["max_requests"]}, jitter '
                     f'{rc["max_requests_jitter"]} ({rc["from"]})')
    checked = sum(r['checked'] for r in rows)
    bad = sum(r['mismatch'] + r['non200'] for r in rows)
    lines.append(f'- responses checked, switch on and off, runs in the medians: {checked}, of which '
                 f'{bad} wrong (body or status); socket errors {sum(r["socket_errors"] for r in rows)}, '
                 f'latencies over wrk\'s {st["wrk_timeout_s"]} s timeout (not in the percentiles) '
                 f'{sum(r["timeouts"] for r in rows)}, OOM kills {sum(r["oom_kills"] for r in rows)}')
    procs = [p for r in runs + failed for p in r['opt_in'].values()]
    lines.append(f'- PR_SET_MEMORY_MERGE (ksm_merge_any in /proc/PID/ksm_stat): '
                 f'{sum(p["merge_any"] for p in procs)} of {len(procs)} processes checked (master and '
                 'workers, those forked during a phase too)')
    for r in failed:
        lines.append(f'- FAILED run, round {r["round"]}, {r["workers"]} workers, ksmd {r["ksmd"]}, '
                     f'wp_reuse={r["wp_reuse"]} (not in the medians): {"; ".join(r["failed"])}')
    for r in errored:
        lines.append(f'- FAILED run, round {r["round"]}, {r["workers"]} workers, ksmd {r["ksmd"]}, '
                     f'wp_reuse={r["wp_reuse"]}: {r["error"]}')
    write_table(out, lines)


def vm_report(path, kernel, out):
    """The identical virtual machines (bench/workloads/vm.py): <out>.{json,svg,md}
    (a boot alone, NESTED_ROUNDS=0: no svg): per ksmd setting, phase and
    switch position, medians over the runs; the boots; every checksum. A run
    whose checks failed is left out of the medians and listed; so is one a
    guest did not survive. The summary rows carry the keys run.py's rows
    share, so that --headline joins them."""
    vm = load_json(path)
    errored = [r for r in vm['runs'] if 'error' in r]
    failed = [r for r in vm['runs'] if 'error' not in r and r['failed']]
    runs = [r for r in vm['runs'] if 'error' not in r and not r['failed']]
    med = statistics.median
    groups = {}
    for r in runs:
        for ph in r['phases']:
            groups.setdefault((r['ksmd'], ph['phase'], r['wp_reuse']), []).append(ph)
    rows = []
    for (ksmd, phase, wp), phs in sorted(groups.items(),
                                         key=lambda g: (g[0][0], phase_rank(g[0][1]), -g[0][2])):
        verdicts = {}
        for ph in phs:
            for g in ph['guests']:
                add_verdicts(verdicts, g['verdicts'])
        samples = [s for ph in phs for s in ph['samples']]
        once = [s['mapped_once'] for s in samples]
        mapped = [sum(int(k) * v for k, v in s['mapcount'].items()) / s['ksm_pages']
                  for s in samples if s['ksm_pages']]
        unit_s = [u['cs'] / 100 for ph in phs for g in ph['guests'] for u in g['units']]
        rows.append({'workload': f'vm, {vm["settings"]["guests"]} guests', 'aslr': '–',
                     'ksmd': ksmd, 'phase': phase, 'wp_reuse': wp, 'phases': len(phs),
                     'pages_sharing_merged': med([r['pages_sharing_merged'] for r in runs
                                                  if 'pages_sharing_merged' in r] or [0]),
                     'ksm_write_faults': med([ph['cow_ksm'] + ph['ksm_wp_reuse'] for ph in phs]),
                     'verdicts_total': verdicts,
                     'allocs': med([sum(g['allocs'] for g in ph['guests']) for ph in phs]),
                     'unit_s': med(unit_s), 'unit_s_min': min(unit_s), 'unit_s_max': max(unit_s),
                     'unit_ms': med(unit_s) * 1000,
                     'pages_sharing': med([ph['pages_sharing'][1] for ph in phs]),
                     'pages_shared': med([ph['pages_shared'][1] for ph in phs]),
                     'mean_mapcount': med(mapped) if mapped else None,
                     'mapped_once': med(once) if once else None,
                     'mapped_once_min': min(once) if once else None,
                     'mapped_once_max': max(once) if once else None,
                     'ksmd_ticks': med([ph['ksmd_ticks'] for ph in phs]),
                     'pswpin': med([ph['pswpin'] for ph in phs])})
    boots = {}
    for r in runs + failed:
        for b in r['boots']:
            boots.setdefault(b['why'], []).append(b['seconds'])
    st = vm['settings']
    report = {'date': RUN_DATE, 'kernel': kernel, 'kind': 'vm',
              'settings': st, 'qemu': vm['qemu'], 'qemu_argv': vm['qemu_argv'], 'ksmd': vm['ksmd'],
              'summary': rows, 'runs': runs, 'failed_runs': failed, 'errored_runs': errored}
    with open(out + '.json', 'w') as f:
        json.dump(report, f, indent=1)
        f.write('\n')
    if not st.get('boot_only'):
        with open(out + '.svg', 'w') as f:
            f.write(svg_panels(
                rows, f'Identical virtual machines under KSM (nested QEMU), Linux {kernel}',
                'reused: share of the tracepoint\'s events on every QEMU thread; pages allocated and '
                'the guests\' unit of work, medians over the runs; green: switch on, red: switch off',
                [REUSED_COLUMN,
                 on_off_column('pages allocated', 'allocs'),
                 on_off_column('unit of work, s', 'unit_s')],
                lambda r: (r['workload'], r['ksmd']), lambda k: f'{k[0]}, ksmd {k[1]}'))
    lines = [f'Identical virtual machines (tcg): {st["guests"]} QEMU guests ({vm["qemu"]}, TCG inside '
             f'the TCG guest, -machine mem-merge=on, {st["mem_mib"]} MiB, one vCPU), each in a cgroup of '
             'its own, booting the same kernel (KBUILD_CONFIG=nested) and initramfs; a unit of work '
             f'writes {st["files"]} files of {st["file_kib"]} KiB to {st["fs"]} and reads them back '
             f'through md5sum, {st["units"]} units a phase in every guest at once. Phases, in the order '
             'they ran: steady; reboot (a guest shut down and booted as a new QEMU process); pressure '
             '(memory.max on the parent below the working set, swap on a loop device); shutdown (a '
             'guest gone). Medians over the runs; KSM write faults: the guest\'s cow_ksm + ksm_wp_reuse; '
             'verdicts: the tracepoint on every thread of every QEMU, summed over the runs; unit s: the '
             'guests\' own times; "mapped once": KSM pages with mapcount 1, sampled before the units '
             'and after each round of them', '',
             '| ksmd | phase | wp_reuse | runs | KSM write faults | pages allocated | unit s | '
             'pages_sharing / pages_shared | mean mapcount | KSM pages mapped once | ksmd CPU, ticks | '
             'swap-ins | tracepoint verdicts |',
             '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |']
    for r in rows:
        v = ', '.join(f'{k} {n}' for k, n in sorted(r['verdicts_total'].items())) or '–'
        once = ('–' if r['mapped_once'] is None else
                f'{r["mapped_once"]:.0f} ({r["mapped_once_min"]}–{r["mapped_once_max"]})')
        mc = '–' if r['mean_mapcount'] is None else f'{r["mean_mapcount"]:.2f}'
        lines.append(f'| {r["ksmd"]} | {r["phase"]} | {r["wp_reuse"]} | {r["phases"]} | '
                     f'{r["ksm_write_faults"]:.0f} | {r["allocs"]:.0f} | '
                     f'{r["unit_s"]:.1f} ({r["unit_s_min"]:.1f}–{r["unit_s_max"]:.1f}) | '
                     f'{r["pages_sharing"]:.0f} / {r["pages_shared"]:.0f} | {mc} | {once} | '
                     f'{r["ksmd_ticks"]:.0f} | {r["pswpin"]:.0f} | {v} |')
    lines.append('')
    for why, secs in sorted(boots.items()):
        lines.append(f'- boot ({why}), seconds from QEMU\'s start to the ready marker: median '
                     f'{med(secs):.0f} ({min(secs):.0f}–{max(secs):.0f}) of {len(secs)} boots')
    sums = {u['checksum'] for r in runs + failed for ph in r['phases'] for g in ph['guests']
            for u in g['units']}
    lines.append('- checksums printed, every guest and unit, switch on and off: '
                 + ('none' if not sums else 'all the expected one' if sums == {vm['expected_checksum']}
                    else f'{len(sums)} distinct, expected {vm["expected_checksum"]}'))
    for r in failed:
        lines.append(f'- FAILED run, round {r["round"]}, ksmd {r["ksmd"]}, wp_reuse={r["wp_reuse"]} '
                     f'(not in the medians): {"; ".join(r["failed"])}')
    for r in errored:
        lines.append(f'- FAILED run, round {r["round"]}, ksmd {r["ksmd"]}, wp_reuse={r["wp_reuse"]}: '
                     f'{r["error"]}')
    write_table(out, lines, svg=not st.get('boot_only'))


def headline(out, paths):
    """One row per program, ASLR, ksmd setting and phase, from the per-program
    reports' summary rows: merged pages and KSM write faults with the switch
    on, medians per phase; the share of each tracepoint verdict in every
    round's events with the switch on; pages allocated and the unit of
    work's time, switch on / off, medians per phase. The service's report
    (service_report()) joins with a row per worker count and phase, its
    requests per second and latencies in the unit of work's place; the
    virtual machines' (vm_report()) with a row per phase, the guests'
    unit of work in ms."""
    reports = [load_json(p) for p in paths]
    by = {}
    for path, rep in zip(paths, reports):
        for r in rep['summary']:
            key = (r['workload'], r['aslr'], r['ksmd'], r['phase'], r['wp_reuse'])
            if key in by:
                sys.exit(f'bench-report.py: {path} repeats {key} of an earlier report: '
                         'give one report per program')
            by[key] = r
    order = ('python', 'node', 'java')  # run.py's, the one whose heap merges most first

    def rank(workload):
        return order.index(workload) if workload in order else len(order)

    def report_rank(rep):
        return (rank(rep['summary'][0]['workload']) if rep['summary'] else len(order),
                ('service', 'vm').index(rep['kind']) + 1 if rep.get('kind') in ('service', 'vm') else 0)
    keys = sorted({k[:4] for k in by}, key=lambda k: (rank(k[0]), k[0],
                                                       k[1] != 'on', k[2] != 'default',
                                                       phase_rank(k[3])))

    def ratio(a, b):
        return f'{a / b:.2f}' if b else '–'

    service = any(rep.get('kind') == 'service' for rep in reports)
    vm = any(rep.get('kind') == 'vm' for rep in reports)
    lines = [f'Real programs (tcg), {len(reports)} report{"s" if len(reports) > 1 else ""} joined '
             '(bench-report.py --headline), switch on unless on / off: merged pages '
             '(pages_sharing at the run\'s start) and KSM write faults (the guest\'s cow_ksm + '
             'ksm_wp_reuse over a phase) are medians per phase (a restart phase per instance and '
             'round), as are pages allocated and the unit of work\'s time; in brackets the '
             'tracepoint\'s events on the instances\' threads over all phases, which the verdict shares split. "mapped" and "swapcache" are correct copies (another mapping or swap entry); '
             '"memcg" is the rule that a page charged to another live cgroup is copied; the rest '
             '(refcount, trylock, freeze, no_stable_node) are reuses lost to a transient reference '
             'or race.' + (
                 ' The service (gunicorn with N workers under wrk, one cgroup, '
                 'bench/workloads/service.py): merged is pages_sharing before its steady phase, the '
                 'brackets count the master\'s and every worker\'s events, and in the last column are '
                 'its requests per second as wrk reports them and latency percentiles as service.lua times them, medians over the '
                 'runs; ASLR is on, and the same layout in every worker (forks of one master).'
                 if service else '') + (
                 ' The virtual machines (N nested QEMU guests of one kernel and image, a cgroup '
                 'each, bench/workloads/vm.py): merged is pages_sharing when the guests have booted '
                 'and merged, the brackets count every QEMU thread\'s events, and the unit of work is '
                 'the guests\' own, timed inside them.' if vm else ''), '',
             '| program | ASLR | ksmd | phase | merged | KSM write faults (all phases) | reused | '
             'copied: correct | copied: memcg rule | copied: reuse lost | '
             'pages allocated, on / off | unit of work ms, on / off'
             + (' (service: requests/s, latency)' if service else '') + ' |',
             '| --- | --- | --- | --- | ---: | ---: | ---: | --- | ---: | --- | ---: | ---: |']
    for k in keys:
        on, off = by.get(k + (1,)), by.get(k + (0,))
        if not on or not off:
            lines.append(f'| {" | ".join(k)} | | switch {"off" if on else "on"} (wp_reuse='
                         f'{0 if on else 1}) missing: every run failed | | | | | | |')
            continue
        # By the check's result alone; the per-program report splits out swapcache=1.
        v = by_result(on['verdicts_total'])
        total = sum(v.values())

        def pct(n):
            x = 100 * n / total
            return ('0%' if not n else '<1%' if x < 1 else '>99%' if x > 99 and n < total
                    else f'{x:.0f}%')

        def share(words):
            part = sorted(((w, n) for w, n in v.items() if w in words), key=lambda x: -x[1])
            return ', '.join(f'{w} {pct(n)}' for w, n in part) or '–'
        lost = set(v) - set(CORRECT_COPIES) - {'reused', 'memcg'}
        first = ''
        if on.get('first_unit_ms') is not None and off.get('first_unit_ms') is not None:
            first = (f'; warm-up {on["first_unit_ms"]:.0f} / {off["first_unit_ms"]:.0f} = '
                     f'{ratio(on["first_unit_ms"], off["first_unit_ms"])}')
        if 'rps' in on:  # the service
            last = (f'{on["rps"]:.1f} / {off["rps"]:.1f} = {ratio(on["rps"], off["rps"])} req/s; '
                    f'p50 {on["p50_ms"]:.0f} / {off["p50_ms"]:.0f} = {ratio(on["p50_ms"], off["p50_ms"])}, '
                    f'p99 {on["p99_ms"]:.0f} / {off["p99_ms"]:.0f} = {ratio(on["p99_ms"], off["p99_ms"])} ms')
        else:
            last = (f'{on["unit_ms"]:.0f} / {off["unit_ms"]:.0f} = {ratio(on["unit_ms"], off["unit_ms"])}'
                    f'{first}')
        lines.append(
            f'| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {on["pages_sharing_merged"]:.0f} | '
            f'{on["ksm_write_faults"]:.0f} ({total}) | '
            + (pct(v.get('reused', 0)) if total else '–') + ' | '
            f'{share(CORRECT_COPIES)} | ' + (pct(v.get('memcg', 0)) if total else '–') + ' | '
            f'{share(lost)} | '
            f'{on["allocs"]:.0f} / {off["allocs"]:.0f} = {ratio(on["allocs"], off["allocs"])} | '
            f'{last} |')
    lines.append('')
    for path, rep in sorted(zip(paths, reports), key=lambda pr: report_rank(pr[1])):
        runs = rep.get('runs', [])
        lines.append(f'- {os.path.basename(path)}: {rep.get("date")}, kernel {rep.get("kernel")}, '
                     f'{len(runs)} runs, {len({r["round"] for r in runs})} rounds')
        if rep.get('kind') == 'service':
            rows = rep['summary']
            lines.append(f'  - every response checked, switch on and off: {sum(r["checked"] for r in rows)}, '
                         f'{sum(r["mismatch"] + r["non200"] for r in rows)} wrong (body or status)')
            for r in rep['failed_runs'] + rep['errored_runs']:
                lines.append(f'  - FAILED run, round {r["round"]}, {r["workers"]} workers, ksmd {r["ksmd"]}, '
                             f'wp_reuse={r["wp_reuse"]}: ' + r.get('error', '; '.join(r.get('failed', []))))
            continue
        if rep.get('kind') == 'vm':
            sums = {u['checksum'] for r in runs + rep['failed_runs'] for ph in r['phases']
                    for g in ph['guests'] for u in g['units']}
            lines.append('  - every guest\'s checksum, switch on and off: '
                         + ('the same' if len(sums) == 1 else f'{len(sums)} distinct'))
            for r in rep['failed_runs'] + rep['errored_runs']:
                lines.append(f'  - FAILED run, round {r["round"]}, ksmd {r["ksmd"]}, '
                             f'wp_reuse={r["wp_reuse"]}: ' + r.get('error', '; '.join(r.get('failed', []))))
            continue
        for w, c in rep.get('checksums', {}).items():
            lines.append(f'  - {w}: every instance\'s output, switch on and off: '
                         + ('the same' if len(c) == 1 else f'DIFFERS ({len(c)} distinct checksums)'))
        for r in rep.get('failed_runs', []):
            lines.append(f'  - FAILED run, round {r["round"]}, ASLR {r["aslr"]}, '
                         f'ksmd {r["ksmd"]}, wp_reuse={r["wp_reuse"]}: {r["error"]}')
    table = '\n'.join(lines) + '\n'
    with open(out, 'w') as f:
        f.write(table)
    print(table)
    print(f'written: {out}')


def newest_workload_reports(results, kernel, until):
    """Of the <date>-<kernel>-workloads-<name>.json reports in results dated
    until (an ISO date) or earlier, the newest of each name (a program, a
    service worker count, vm): a day's headline made again later stays the
    same."""
    newest = {}
    pattern = os.path.join(glob.escape(results), f'*-{glob.escape(kernel)}-workloads-*.json')
    for path in sorted(glob.glob(pattern)):
        m = re.fullmatch(r'(\d{4}-\d{2}-\d{2})-' + re.escape(kernel) + r'-workloads-(.+)\.json',
                         os.path.basename(path))
        if m and m.group(1) <= until:
            newest[m.group(2)] = path  # sorted: a later date comes later
    return sorted(newest.values())


def run_date(raw):
    """The day the bench run started, from its raw directory's name
    (bench-YYYYMMDD-HHMMSS, scripts/bench.sh), so that reports made again
    from the same raw output on a later day keep the run's date; today's
    for a directory named otherwise."""
    m = re.fullmatch(r'bench-(\d{4})(\d{2})(\d{2})-\d{6}', os.path.basename(os.path.normpath(raw)))
    return '-'.join(m.groups()) if m else datetime.date.today().isoformat()


def same_day_run(results, names, run):
    """What the per-fault reports' base names get appended so that an earlier
    bench run of the same day keeps its reports: '' if none of names has a
    report yet, or they are this run's (the report step run again on its raw
    output), else '-2', '-3', ...: the first that is free or this run's."""
    n = 1
    while True:
        again = f'-{n}' if n > 1 else ''
        runs = set()
        for name in names:
            path = os.path.join(results, name + again + '.json')
            if os.path.exists(path):
                try:
                    runs.add(load_json(path).get('run'))
                except (OSError, ValueError):
                    runs.add(None)
        if runs <= {run}:
            return again
        n += 1


def main():
    if len(sys.argv) > 3 and sys.argv[1] == '--headline':
        headline(sys.argv[2], sys.argv[3:])
        return
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    raw, kernel, results = sys.argv[1], sys.argv[2], sys.argv[3]
    measured = []
    for flavour, kdir in kernel_dirs(raw):
        modes, benches = {}, {}
        for mode in MODES:
            dirs = boot_dirs(kdir, mode)
            if dirs:
                modes[mode], benches[mode] = mode_summary(dirs)
        if modes:
            measured.append((flavour, kdir, modes, benches))
    workloads = os.path.join(raw, 'workloads', 'workloads.json')
    service = os.path.join(raw, 'service', 'service.json')
    vm = os.path.join(raw, 'vm', 'vm.json')
    if not measured and not any(os.path.exists(p) for p in (workloads, service, vm)):
        sys.exit(f'bench-report.py: no <kernel>/<mode>-<boot>/bench.json (or <mode>-<boot>/bench.json), '
                 f'workloads/workloads.json, service/service.json nor vm/vm.json under {raw}')
    os.makedirs(results, exist_ok=True)
    global RUN_DATE
    RUN_DATE = date = run_date(raw)
    base = os.path.join(results, f'{date}-{kernel}')
    reports = {}
    run = os.path.basename(os.path.normpath(raw))
    infos = [(flavour, kernel_info(kdir, flavour, kernel)) for flavour, kdir, _, _ in measured]
    names = [f'{date}-{info["release"]}{KERNEL_SUFFIX[flavour]}' for flavour, info in infos]
    again = same_day_run(results, names, run)
    for (flavour, kdir, modes, benches), (_, info), name in zip(measured, infos, names):
        reports[flavour] = fault_report(kdir, info['release'], os.path.join(results, name + again),
                                        modes, benches, info, run)
    if 'bench' in reports and len(reports) > 1:
        kernels_report(os.path.join(results, f'{date}-{reports["bench"]["kernel"]}-kernels{again}'),
                       [(f, reports[f]) for f in KERNEL_SUFFIX if f in reports])
    if os.path.exists(workloads):
        workloads_report(workloads, kernel, base)
    if os.path.exists(service):
        service_reports(service, kernel, base)
    if os.path.exists(vm):
        # A boot alone is not a -workloads- report: the headline joins those.
        boot_only = load_json(vm).get('settings', {}).get('boot_only')
        vm_report(vm, kernel, f'{base}-vm-boot' if boot_only else f'{base}-workloads-vm')
    if os.path.exists(workloads) or os.path.exists(service) or os.path.exists(vm):
        # The programs may have run in separate invocations (WORKLOADS=python,
        # then node, ..., the service and the VMs on other days): join the
        # newest report of each into the one table README and the cover
        # letter lead with; its notes give each report's date.
        headline(f'{base}-workloads.md', newest_workload_reports(results, kernel, date))

if __name__ == '__main__':
    main()
