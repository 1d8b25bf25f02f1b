# SPDX-License-Identifier: GPL-2.0
"""gdb script: count, instruction by instruction, what a write fault executes.

Run by scripts/bench.sh as
  gdb -batch -nx -ex 'target remote :PORT' -x scripts/bench-steps.py
against a guest that QEMU serves on PORT (vm.sh VM_GDB_PORT) and that runs
scripts/guest-bench.sh PARTS=steps. The guest writes its /proc/kallsyms to
STEPS_DIR and waits for STEPS_DIR/armed; then it runs one timed write per
scenario, each right after the benchmark's LRU drain (move_pages()).

Each drain opens a window (lru_cache_disable(), which move_pages() calls to
move a page and nothing else calls here): the next STEPS_FAULTS page faults
taken from user space are single-stepped from the exception's first
instruction until the return to user space, and every
instruction is counted against the kernel symbol it belongs to. QEMU's
gdbstub steps with interrupts and timers masked, so a count is the fault's
own path, and the same path gives the same count. The counts go to
STEPS_DIR/steps.json, one entry per fault with its window (scenario order).
"""
import bisect
import json
import os

import gdb

OUT = os.environ['STEPS_DIR']
FAULTS = int(os.environ.get('STEPS_FAULTS', '16'))
WINDOWS = int(os.environ.get('STEPS_WINDOWS', '2'))
USER_TOP = 0x0000800000000000


def load_kallsyms(path):
    addrs, names = [], []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[1] in 'tTwW':
                addrs.append(int(parts[0], 16))
                names.append(parts[2])
    order = sorted(range(len(addrs)), key=addrs.__getitem__)
    return [addrs[i] for i in order], [names[i] for i in order]


def reg(name):
    return int(gdb.parse_and_eval(f'${name}')) & 0xffffffffffffffff


def read_u64(addr):
    mem = gdb.selected_inferior().read_memory(addr, 8)
    return int.from_bytes(bytes(mem), 'little')


def main():
    gdb.execute('set pagination off')
    gdb.execute('set confirm off')
    # A stepi resumes only the vCPU being stepped: else the other one runs
    # meanwhile, and its faults' instructions land in this fault's count.
    gdb.execute('set scheduler-locking step')
    ksyms = os.path.join(OUT, 'kallsyms')
    addrs, names = load_kallsyms(ksyms)
    where = dict(zip(names, addrs))

    def symbol(pc):
        i = bisect.bisect_right(addrs, pc) - 1
        return names[i] if i >= 0 else hex(pc)

    gate = where['lru_cache_disable']
    entry = where['asm_exc_page_fault']
    gdb.execute(f'break *{gate:#x}')
    gdb.execute(f'break *{entry:#x}')
    gate_bp, entry_bp = gdb.breakpoints()[-2:]
    entry_bp.enabled = False
    open(os.path.join(OUT, 'armed'), 'w').close()

    faults, window, taken = [], 0, 0
    while True:
        gdb.execute('continue')
        pc = reg('pc')
        if pc == gate:
            window += 1
            taken = 0
            entry_bp.enabled = True
            gate_bp.enabled = False
            continue
        if pc != entry:
            continue
        # The hardware frame: error code, then the interrupted RIP.
        rsp = reg('rsp')
        if read_u64(rsp + 8) >= USER_TOP:
            continue            # a fault taken in the kernel
        counts, total = {}, 0
        while True:
            pc = reg('pc')
            if pc < USER_TOP:
                break
            s = symbol(pc)
            counts[s] = counts.get(s, 0) + 1
            total += 1
            gdb.execute('stepi', to_string=True)
        faults.append({'window': window, 'instructions': total, 'by_symbol': counts})
        taken += 1
        if taken == FAULTS:
            if window == WINDOWS:
                break
            entry_bp.enabled = False
            gate_bp.enabled = True
    with open(os.path.join(OUT, 'steps.json'), 'w') as f:
        json.dump(faults, f, indent=1)
        f.write('\n')
    gdb.execute('delete')
    gdb.execute('detach')


main()
