#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn one `make bench` guest run into bench/results/<date>-<kernel>.{json,svg,md}.

usage: bench-report.py RAW_DIR KERNEL_RELEASE RESULTS_DIR

Every figure comes from the same guest boot. The three headline numbers are
ratios within that run (absolute times under TCG mean little):
  reuse_over_floor         median ns/fault, KSM switch on / ordinary anon reuse
  off_over_on              median ns/fault, KSM switch off / switch on
  allocs_per_reused_fault  pgalloc delta per page written, switch on
A missed target is reported as missed; nothing is tuned or dropped.
"""
import csv
import datetime
import json
import os
import sys

SCENARIOS = [('ksm_on', 'KSM, switch on (reuse)'),
             ('ksm_off', 'KSM, switch off (copy)'),
             ('anon_reuse', 'anon reuse (floor)'),
             ('anon_cow', 'anon COW copy')]
TARGETS = {'reuse_over_floor': ('<=', 1.15), 'off_over_on': ('>=', 4.0),
           'allocs_per_reused_fault': ('==', 0.0)}


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


def trace_verdicts(path):
    """'  N result=X' lines from perf script -> {X: N}."""
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[1].startswith('result='):
                    out[parts[1][len('result='):]] = int(parts[0])
    return out


def read_text(path):
    return open(path).read() if os.path.exists(path) else ''


def met(name, value):
    op, target = TARGETS[name]
    return {'<=': value <= target, '>=': value >= target, '==': value == target}[op]


def svg_plot(summary, title):
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
                   f'{d["median_ns"]:.0f} ns</text>')
    out.append(f'<text x="{left}" y="{h - 12}">median ns per write fault (TCG guest; min–max whiskers)</text>')
    out.append('</svg>')
    return '\n'.join(out) + '\n'


def main():
    raw, kernel, results = sys.argv[1], sys.argv[2], sys.argv[3]
    bench = load_json(os.path.join(raw, 'bench.json'))
    summary = bench['summary']
    headline = {k: bench[k] for k in TARGETS}
    report = {
        'date': datetime.date.today().isoformat(),
        'kernel': kernel,
        **headline,
        'targets': {k: {'target': f'{op} {t}', 'met': met(k, headline[k])}
                    for k, (op, t) in TARGETS.items()},
        'bench': bench,
        'perf_stat': {s: perf_stat(os.path.join(raw, f'perfstat-{s}.csv')) for s, _ in SCENARIOS},
        'tracepoint_verdicts': {s: trace_verdicts(os.path.join(raw, f'trace-{s}.txt'))
                                for s in ('ksm_on', 'ksm_off')},
        'perf_profile': {s: read_text(os.path.join(raw, f'perf-{s}.txt')) for s in ('ksm_on', 'ksm_off')},
        'perf_inclusive': {s: read_text(os.path.join(raw, f'perf-{s}-children.txt'))
                           for s in ('ksm_on', 'ksm_off')},
        'churn': {'wp_reuse=1': load_json(os.path.join(raw, 'churn-1.json')),
                  'wp_reuse=0': load_json(os.path.join(raw, 'churn-0.json'))},
    }
    os.makedirs(results, exist_ok=True)
    base = os.path.join(results, f'{report["date"]}-{kernel}')
    with open(base + '.json', 'w') as f:
        json.dump(report, f, indent=1)
        f.write('\n')
    with open(base + '.svg', 'w') as f:
        f.write(svg_plot(summary, f'Write fault cost by path, Linux {kernel}, {bench["pages"]} pages x {bench["rounds"]} rounds'))

    lines = [f'Linux {kernel}, {bench["pages"]} pages per scenario, {bench["rounds"]} interleaved rounds, one guest boot',
             '',
             '| scenario | median ns/fault | min–max | pgalloc/fault | same PFN | cow_ksm | ksm_wp_reuse |',
             '| --- | ---: | ---: | ---: | ---: | ---: | ---: |']
    for s, label in SCENARIOS:
        d = summary[s]
        lines.append(f'| {label} | {d["median_ns"]:.0f} | {d["min_ns"]:.0f}–{d["max_ns"]:.0f} | '
                     f'{d["pgalloc_per_fault_median"]:.2f} | {100 * d["same_pfn_fraction_median"]:.0f}% | '
                     f'{d["cow_ksm_total"]} | {d["ksm_wp_reuse_total"]} |')
    lines.append('')
    for k, (op, t) in TARGETS.items():
        v = headline[k]
        lines.append(f'- `{k}` = {v:.3f} (target {op} {t}: {"met" if met(k, v) else "MISSED"})')
    for s in ('ksm_on', 'ksm_off'):
        v = report['tracepoint_verdicts'][s]
        lines.append(f'- tracepoint ksm:ksm_wp_reuse, {s}: ' +
                     (', '.join(f'{n} {r}' for r, n in sorted(v.items())) or 'no events'))
    for s in ('ksm_on', 'ksm_off'):
        lines.append(f'- perf record -g -e cpu-clock, {s}: share of all samples of the run (with callees):')
        lines += [f'  - {f[0]} (self {f[1]}) {f[3]}'
                  for f in (line.split() for line in report['perf_inclusive'][s].splitlines())
                  if len(f) >= 4]
    for label, c in report['churn'].items():
        lines.append(f'- churn, {label}: ' + ', '.join(f'{k} {v}' for k, v in c.items()
                                                       if not isinstance(v, (dict, list))))
    table = '\n'.join(lines) + '\n'
    with open(base + '.md', 'w') as f:
        f.write(table)
    print(table)
    print(f'written: {base}.json, {base}.svg, {base}.md')


if __name__ == '__main__':
    main()
