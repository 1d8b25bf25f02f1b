// SPDX-License-Identifier: GPL-2.0
/*
 * Stress test for KSM write-fault reuse (CONFIG_KSM_WP_REUSE).
 *
 * A write (or unshare) fault on a KSM page that only the faulting PTE maps
 * may reuse the page instead of copying it. That is the COW path: a bug
 * there loses a write or leaks data between processes. This program runs a
 * hostile mix of concurrent mm operations over merged memory for a while and
 * checks that every process always reads exactly what it last wrote.
 *
 * Method. Worker processes (odd ones with two threads) each map the same
 * number of pages, in chunks that are alternately anonymous and MAP_PRIVATE
 * of a memfd (written, so they hold anon COW copies), all MADV_MERGEABLE.
 * Every page starts with content that depends only on its index: the same
 * page of every worker is identical, so ksmd (running flat out) merges it
 * across workers. A write gives the page a new version signed with the
 * writer's id, (owner, index, version) in the first words and a body derived
 * from them; or it restores the shared content, so the page can merge again.
 * Each worker keeps the expected state of its pages in private memory and
 * checks pages after its own operations, periodically and at the end. A
 * lost write, a stale page or another process's data is reported with the
 * seed, worker, page, expected and found signature and the command line.
 *
 * Around the writes, seeded at random: fork() (the child checks it sees
 * what its parent had, writes its own signatures and exits), munmap() and
 * re-map with fresh shared content, mremap() of chunks, MADV_UNMERGEABLE and
 * MADV_MERGEABLE, MADV_PAGEOUT to swap, R/O long-term pins through gup_test
 * read back through the pin, and, from the controlling process, move_pages()
 * between NUMA nodes, compact_memory, flipping /sys/kernel/mm/ksm/wp_reuse,
 * and KSM phases that unmerge everything (run=2, itself a storm of unshare
 * faults) and switch max_page_sharing between its default and 2 (stable
 * node chains). merge_across_nodes can only change while nothing is merged:
 * -m 0|1 holds it for the whole run (set at start, after run=2 if it must
 * change), -m a alternates 1 and 0 at the phase changes. Workers are spread
 * over two memory cgroups. At the end all load stops, every page of every
 * worker is checked, and with everything unmapped KSM's counters must come
 * back to their values at start (taken after two full scans) once ksmd's
 * full_scans rose by two.
 *
 * The reuse-heavy mix (-r) adds twin pairs to the same load: pages 2k and
 * 2k+1 get identical content of their own, which merges only with each
 * other. Once ksmd merged a pair, the worker zaps one twin (MADV_DONTNEED)
 * or writes it (a copy), then writes the other, which is then the only
 * mapping of the KSM page: a reuse fault. Both get the next version, so the
 * pair merges again two scans later. Reuse faults then come at ksmd's merge
 * rate, and in that mix the switch is only flipped off for short moments.
 * A pair swapped out while merged (both twins hold one swap entry) counts as
 * merged: its writes fault the KSM folio in from the swap cache, if reclaim
 * has not freed it yet, and the last one reuses it and frees its slot.
 *
 * The swap-cache mix (-c) is -r with the KSM page taken through the swap
 * cache: once a pair merged, the even twin is zapped, the KSM page, now
 * mapped once, is paged out to a loop device (disk-like: the folio stays in
 * the swap cache after writeback), and the writes fault it back in from
 * there: the odd twin's is a reuse that frees the slot, while ksmd's stable
 * tree lookups (flat out) meet the folio as it leaves the swap cache.
 *
 * With -S, swap pressure: the workers' cgroups get a memory.max below their
 * working set and we swap to a loop device (disk-like), so swap-ins of KSM
 * pages are routine. The report counts the KSM faults that met the swap
 * cache, reused and refused (tracefs instances that count without reading).
 *
 * Results (TAP): no content mismatch, KSM counters converge, guest
 * responsive. The caller checks dmesg.
 *
 * All of it changes the whole machine: every KSM page of it is unmerged
 * (run=2), ksmd runs flat out, merge_across_nodes and max_page_sharing
 * change, memory is compacted and, with -S, swapped to a device of the
 * test's own. So it runs only with KSM_WP_REUSE_INTRUSIVE=1, on a machine of
 * its own (a throwaway VM), and otherwise skips, saying so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "kselftest.h"
#include "vm_util.h"
#include "ksm_wp_reuse_util.h"
#include "../../../../mm/gup_test.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000
#endif
#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE		(1 << 1)
#endif
#ifndef MPOL_MF_MOVE_ALL
#define MPOL_MF_MOVE_ALL	(1 << 2)
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC	0x63677270
#endif

/* include/uapi/linux/kernel-page-flags.h: KPF_KSM */
#define STRESS_KPF_KSM		BIT_ULL(21)

#define KSM_SYSFS		"/sys/kernel/mm/ksm/"
#define CG_ROOT			"/sys/fs/cgroup"
#define GUP_TEST		"/sys/kernel/debug/gup_test"
#define COMPACT_MEMORY		"/proc/sys/vm/compact_memory"
#define TRACEFS			"/sys/kernel/tracing"

#define CHUNK_PAGES	64	/* unit of locking, mremap() and file offsets */
#define MAX_RANGE	16	/* pages per write, madvise, pin or migration */
#define MAX_WORKERS	64
#define MAX_NODES	64
#define MIN_PAGES	(2 * CHUNK_PAGES)	/* one anon and one file chunk */
#define MAX_PAGES	(1UL << 16)	/* keeps VMAs below vm.max_map_count */
#define FILE_SKEW	7	/* a chunk's file offset is not its anon offset */
#define MAX_REPORTS	8	/* mismatch reports printed per process */
#define KSM_PAGES_TO_SCAN "5000"
#define DEADLINE_S	300	/* for workers to set up, quiesce, verify */
#define CONVERGE_S	180
#define RESPONSIVE_S	10

/* First words of every page: its signature. The rest derives from it. */
enum { S_MAGIC, S_OWNER, S_INDEX, S_VERSION, SIG_WORDS };

#define MAGIC_SHARED	0x4b534d5f53484152ULL	/* "KSM_SHAR" */
#define MAGIC_OWNED	0x4b534d5f4f574e44ULL	/* "KSM_OWND" */
#define MAGIC_FILE	0x4b534d5f46494c45ULL	/* "KSM_FILE" */
#define MAGIC_KEEP	0x4b534d5f4b454550ULL	/* "KSM_KEEP" */
#define MAGIC_TWIN	0x4b534d5f5457494eULL	/* "KSM_TWIN" */
#define GOLDEN		0x9e3779b97f4a7c15ULL

struct sig {
	uint64_t w[SIG_WORDS];
};

/* What a worker expects in one page. */
struct pexp {
	uint32_t owner;		/* 0: the shared content */
	uint32_t version;	/* of the last signed write */
	bool twin;		/* content of its twin pair, see write_twins() */
};

struct opts {
	unsigned int duration;
	uint64_t seed;
	unsigned int workers;
	size_t pages;
	int man;		/* merge_across_nodes 0 or 1; -1: alternate */
	bool reuse_mix;		/* -r: twin pairs, see op_twins() */
	long reuse_target;	/* -n: stop after this many reuse faults */
	unsigned int flip_ms;	/* -w: mean pause before each wp_reuse flip */
	bool swap_pressure;	/* -S: memory.max below the working set */
	bool swapcache_mix;	/* -c: -r through the swap cache, see op_twins() */
};

/* --- state shared between the controller and the workers ----------------- */

enum wop_id {
	WOP_WRITE, WOP_VERIFY, WOP_REMAP, WOP_MREMAP, WOP_UNMERGE, WOP_PAGEOUT,
	WOP_PIN, WOP_FORK, WOP_TWINS, NR_WOPS
};

enum wstate { W_FAILED = -1, W_INIT, W_RUNNING, W_QUIESCED, W_DONE };

/* Per worker, updated by it, its threads and its children. */
struct wshm {
	int state;
	pid_t child_pid;
	long ops[NR_WOPS];
	long written[2];	/* pages: [0] signed, [1] shared content */
	long twins_made;	/* pairs given twin content */
	long twins_cycled;	/* merged pairs written again (-r) */
	long twins_moved;	/* pairs brought onto one node */
	long twins_swapped;	/* -c: merged pairs found swapped out after pageout */
	long ksm_seen;		/* KSM pages seen by verify */
	long swapped_seen;	/* pages seen swapped out after MADV_PAGEOUT */
	long pin_failed;	/* PIN_LONGTERM_TEST_START refused */
	long mismatches;
	long errors;		/* the test could not do what it must */
	long child_failures;
};

struct shm {
	int stop;		/* workers leave their loop */
	int verify;		/* workers run the final check */
	struct wshm w[MAX_WORKERS];
	uintptr_t addr[];	/* [worker * nchunks + chunk]: for move_pages() */
};

enum cop_id {
	COP_MIGRATE, COP_MIGRATED, COP_COMPACT, COP_WP_TOGGLE, COP_KSM_PHASE,
	NR_COPS
};

static const char * const cop_name[NR_COPS] = {
	"move_pages", "pages on target node", "compact_memory",
	"wp_reuse flips", "ksm phases",
};

static struct opts opt = { .duration = 60, .workers = 4, .pages = 2048,
			   .man = 1, .flip_ms = 800 };
static size_t pagesize, npages, nchunks;
static uint64_t run_salt;
static char cmdline[256];
static pid_t ctl_pid;
static struct shm *shm;
static volatile sig_atomic_t interrupted;
static pid_t wpid[MAX_WORKERS];
static long cops[NR_COPS];
static long ksmd_pages;		/* pages ksmd scanned during the load */
static long pswp[2];		/* pswpin, pswpout during the load */
static long lost_workers;

static struct env {
	int nodes[MAX_NODES];
	int nr_nodes;
	bool gup;
	bool swap;
	bool compact;
	bool cg_root_memory;	/* we enabled +memory in the root */
	char cg_dir[128];	/* our cgroup, "" if memcgs are not used */
	char cg_why[256];	/* why not */
	char swap_dev[32];	/* -S, -c: our loop device, "" if none */
	bool sc_counting;	/* -S, -c: the swap-cache counters are set up */
} env;

/* --- small helpers ----------------------------------------------------- */

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* splitmix64: every agent has its own stream, derived from the seed. */
static uint64_t rnd(uint64_t *state)
{
	*state += GOLDEN;
	return mix64(*state);
}

static uint64_t rnd_below(uint64_t *state, uint64_t n)
{
	return n ? rnd(state) % n : 0;
}

static uint64_t stream(uint64_t tag)
{
	return mix64(opt.seed ^ mix64(tag + GOLDEN));
}

/* --- page content -------------------------------------------------------- */

static void shared_sig(struct sig *s, size_t idx)
{
	*s = (struct sig){ { MAGIC_SHARED, 0, idx, 0 } };
}

static void expected_sig(const struct pexp *e, size_t idx, struct sig *s)
{
	if (e->twin)
		*s = (struct sig){ { MAGIC_TWIN, e->owner, idx & ~1UL,
				     e->version } };
	else if (!e->owner)
		shared_sig(s, idx);
	else
		*s = (struct sig){ { MAGIC_OWNED, e->owner, idx, e->version } };
}

static uint64_t sig_key(const struct sig *s)
{
	uint64_t key = run_salt;
	int i;

	for (i = 0; i < SIG_WORDS; i++)
		key = mix64(key ^ s->w[i]);
	return key;
}

static uint64_t want_word(const struct sig *s, uint64_t key, size_t w)
{
	return w < SIG_WORDS ? s->w[w] : key ^ (w * GOLDEN);
}

/*
 * Pages are accessed with relaxed atomics: the compiler must really load
 * what the memory holds, not what it knows was stored there.
 */
static uint64_t load_word(const char *page, size_t w)
{
	return __atomic_load_n((const uint64_t *)page + w, __ATOMIC_RELAXED);
}

/* Signature first: the first store takes the write fault. */
static void page_fill(char *page, const struct sig *s)
{
	uint64_t *p = (uint64_t *)page, key = sig_key(s);
	size_t w;

	for (w = 0; w < pagesize / sizeof(*p); w++)
		__atomic_store_n(&p[w], want_word(s, key, w), __ATOMIC_RELAXED);
}

/* Index of the first word of @page that differs from @s's content, or -1. */
static long page_diff(const char *page, const struct sig *s)
{
	uint64_t key = sig_key(s);
	size_t w;

	for (w = 0; w < pagesize / sizeof(uint64_t); w++)
		if (load_word(page, w) != want_word(s, key, w))
			return w;
	return -1;
}

static void sig_str(const struct sig *s, char *buf, size_t len)
{
	unsigned long long owner = s->w[S_OWNER], idx = s->w[S_INDEX];
	unsigned long long ver = s->w[S_VERSION], magic = s->w[S_MAGIC];

	if (magic == MAGIC_SHARED)
		snprintf(buf, len, "{shared content of page %llu}", idx);
	else if (magic == MAGIC_OWNED)
		snprintf(buf, len, "{owner %#llx page %llu version %llu}",
			 owner, idx, ver);
	else if (magic == MAGIC_FILE)
		snprintf(buf, len, "{file page %llu: private copy lost}", idx);
	else
		snprintf(buf, len, "{unknown %#llx %#llx %#llx %#llx}",
			 magic, owner, idx, ver);
}

/* --- worker --------------------------------------------------------------- */

struct chunk {
	char *addr;		/* where it is mapped now */
	bool file;		/* MAP_PRIVATE of the memfd, else anonymous */
	bool alt;		/* in its alternate slot (moved by mremap()) */
	int lock;
};

struct worker {
	unsigned int id;
	uint32_t owner;		/* signature of our writes */
	bool child;
	unsigned int forks;
	pid_t child_pid;
	struct chunk *chunks;
	struct pexp *exp;	/* private, never mergeable */
	char *reserve;		/* two slots of address space per chunk */
	int memfd;
	int pagemap_fd;
	int kpageflags_fd;
	int reports;
	struct wshm *shm;
};

struct wthread {
	struct worker *w;
	unsigned int tid;
	uint64_t rng;
	int gup_fd;		/* -1: no pins */
	char *buf;		/* MAX_RANGE pages */
	bool waiting;		/* op_twins() found no merged pair */
	pthread_t thread;
};

/* Pages [k, k + n) of chunk ci. */
struct range {
	size_t ci, k, n;
};

/* Counters updated by several threads or processes. */
static void stat_add(long *counter, long v)
{
	__atomic_add_fetch(counter, v, __ATOMIC_RELAXED);
}

static bool stopping(void)
{
	return __atomic_load_n(&shm->stop, __ATOMIC_ACQUIRE);
}

static void chunk_lock(struct chunk *c)
{
	while (__atomic_exchange_n(&c->lock, 1, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void chunk_unlock(struct chunk *c)
{
	__atomic_store_n(&c->lock, 0, __ATOMIC_RELEASE);
}

static size_t range_idx(const struct range *r)
{
	return r->ci * CHUNK_PAGES + r->k;
}

static char *range_addr(const struct worker *w, const struct range *r)
{
	return w->chunks[r->ci].addr + r->k * pagesize;
}

static char *slot(const struct worker *w, size_t ci, bool alt)
{
	return w->reserve + ((alt ? npages : 0) + ci * CHUNK_PAGES) * pagesize;
}

static void publish(const struct worker *w, size_t ci)
{
	if (!w->child)
		__atomic_store_n(&shm->addr[w->id * nchunks + ci],
				 (uintptr_t)w->chunks[ci].addr, __ATOMIC_RELAXED);
}

static const char *whoami(const struct worker *w, char *buf, size_t len)
{
	if (w->child)
		snprintf(buf, len, "worker %u child %d (owner %#x)", w->id,
			 getpid(), w->owner);
	else
		snprintf(buf, len, "worker %u (owner %#x)", w->id, w->owner);
	return buf;
}

/* The test itself cannot go on: counted as a failure, the worker exits. */
static void __noreturn worker_fatal(struct worker *w, const char *what, int err)
{
	char who[64];

	ksft_print_msg("%s: %s: %s; seed %llu; reproduce: %s\n",
		       whoami(w, who, sizeof(who)), what, strerror(err),
		       (unsigned long long)opt.seed, cmdline);
	stat_add(&w->shm->errors, 1);
	_exit(4);
}

static void report_mismatch(struct worker *w, const char *what, size_t idx,
			    const char *page, const struct sig *want, long word)
{
	char who[64], exp_s[96], got_s[96];
	struct sig got;
	int i;

	if (__atomic_fetch_add(&w->reports, 1, __ATOMIC_RELAXED) >= MAX_REPORTS)
		return;
	for (i = 0; i < SIG_WORDS; i++)
		got.w[i] = load_word(page, i);
	sig_str(want, exp_s, sizeof(exp_s));
	sig_str(&got, got_s, sizeof(got_s));
	ksft_print_msg(
		"MISMATCH seed %llu %s, %s: page %zu (%s chunk %zu, at %p): expected %s found %s (word %ld is %#llx, expected %#llx); reproduce: %s\n",
		(unsigned long long)opt.seed, whoami(w, who, sizeof(who)),
		what, idx,
		w->chunks[idx / CHUNK_PAGES].file ? "file" : "anon",
		idx / CHUNK_PAGES, (const void *)page, exp_s, got_s,
		word, (unsigned long long)load_word(page, word),
		(unsigned long long)want_word(want, sig_key(want), word),
		cmdline);
}

static char *page_addr(const struct worker *w, size_t idx)
{
	return w->chunks[idx / CHUNK_PAGES].addr +
	       (idx % CHUNK_PAGES) * pagesize;
}

/* Page @idx gets a new version signed by us, or the shared content. */
static void write_page(struct worker *w, size_t idx, bool shared)
{
	struct pexp *e = &w->exp[idx];
	struct sig s;

	e->twin = false;
	if (shared) {
		e->owner = 0;
	} else {
		e->owner = w->owner;
		e->version++;
	}
	expected_sig(e, idx, &s);
	page_fill(page_addr(w, idx), &s);
	stat_add(&w->shm->written[shared], 1);
}

/*
 * Pages @idx (even) and @idx + 1 get the same new version of content that
 * is theirs alone, so they merge with each other and nothing else. The odd
 * twin is written first: after a zap of the even one, or while both still
 * map one KSM page, the write that reuses is the second one.
 */
static void write_twins(struct worker *w, size_t idx)
{
	struct pexp *e = &w->exp[idx];
	struct sig s;

	e->version = (e->version > e[1].version ? e->version : e[1].version) + 1;
	e->owner = w->owner;
	e->twin = true;
	e[1] = e[0];
	expected_sig(e, idx, &s);
	page_fill(page_addr(w, idx + 1), &s);
	page_fill(page_addr(w, idx), &s);
	stat_add(&w->shm->written[0], 2);
}

/*
 * Check @n pages, page @idx on, against what the worker expects; @mem is
 * the mapping of page @idx or a copy read through a pin. A bad page in the
 * mapping gets a new version: each mismatch counted is a new one.
 */
static long check_pages(struct worker *w, const char *what, const char *mem,
			size_t idx, size_t n)
{
	long bad = 0, word;
	struct sig want;
	size_t i;

	for (i = 0; i < n; i++) {
		expected_sig(&w->exp[idx + i], idx + i, &want);
		word = page_diff(mem + i * pagesize, &want);
		if (word < 0)
			continue;
		bad++;
		report_mismatch(w, what, idx + i, mem + i * pagesize, &want,
				word);
		if (mem + i * pagesize == page_addr(w, idx + i))
			write_page(w, idx + i, false);
	}
	if (bad)
		stat_add(&w->shm->mismatches, bad);
	return bad;
}

static void check_all(struct worker *w, const char *what)
{
	size_t ci;

	for (ci = 0; ci < nchunks; ci++)
		check_pages(w, what, w->chunks[ci].addr, ci * CHUNK_PAGES,
			    CHUNK_PAGES);
}

/*
 * Map range @r afresh (@fixed: MAP_FIXED replaces what is there,
 * MAP_FIXED_NOREPLACE fills a hole), give it the shared content, so it
 * merges with the other workers' pages again, and make it mergeable.
 */
static int map_fresh(struct worker *w, const struct range *r, int fixed)
{
	const struct chunk *c = &w->chunks[r->ci];
	size_t len = r->n * pagesize, i;
	char *addr = range_addr(w, r), *p;
	int flags = MAP_PRIVATE | fixed, fd = -1;
	off_t off = 0;

	if (c->file) {
		fd = w->memfd;
		off = (range_idx(r) + FILE_SKEW) * pagesize;
	} else {
		flags |= MAP_ANONYMOUS;
	}
	p = mmap(addr, len, PROT_READ | PROT_WRITE, flags, fd, off);
	if (p == MAP_FAILED)
		return -errno;
	if (p != addr)
		return -EEXIST;
	/* Order-0 pages only; EINVAL: no THP in this kernel. */
	madvise(p, len, MADV_NOHUGEPAGE);
	for (i = 0; i < r->n; i++)
		write_page(w, range_idx(r) + i, true);
	return madvise(p, len, MADV_MERGEABLE) ? -errno : 0;
}

/* Count the KSM pages and the swapped out pages of @n pages at @addr. */
static void census(struct worker *w, const char *addr, size_t n, long *ksm,
		   long *swapped)
{
	uint64_t pme[CHUNK_PAGES], flags;
	off_t off = (uintptr_t)addr / pagesize * sizeof(pme[0]);
	ssize_t len = n * sizeof(pme[0]);
	size_t i;

	*ksm = *swapped = 0;
	if (w->pagemap_fd < 0 || pread(w->pagemap_fd, pme, len, off) != len)
		return;
	for (i = 0; i < n; i++) {
		if (pme[i] & PM_SWAP)
			(*swapped)++;
		if (!(pme[i] & PM_PRESENT) || w->kpageflags_fd < 0)
			continue;
		off = PAGEMAP_PFN(pme[i]) * sizeof(flags);
		if (pread(w->kpageflags_fd, &flags, sizeof(flags), off) ==
		    sizeof(flags) && (flags & STRESS_KPF_KSM))
			(*ksm)++;
	}
}

/* --- worker operations: each runs with its chunk locked ------------------ */

static void op_write(struct wthread *t, const struct range *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		write_page(t->w, range_idx(r) + i, rnd_below(&t->rng, 100) < 35);
	if (rnd_below(&t->rng, 2))
		check_pages(t->w, "read after write", range_addr(t->w, r),
			    range_idx(r), r->n);
}

static void op_verify(struct wthread *t, const struct range *r)
{
	struct worker *w = t->w;
	char *addr = w->chunks[r->ci].addr;
	long ksm, swapped;

	check_pages(w, "verify", addr, r->ci * CHUNK_PAGES, CHUNK_PAGES);
	census(w, addr, CHUNK_PAGES, &ksm, &swapped);
	stat_add(&w->shm->ksm_seen, ksm);
}

/* munmap() and map again, or map over in one go, with the shared content. */
static void op_remap(struct wthread *t, const struct range *r)
{
	struct worker *w = t->w;
	char *addr = range_addr(w, r);
	int err;

	if (rnd_below(&t->rng, 2))
		err = map_fresh(w, r, MAP_FIXED);
	else if (munmap(addr, r->n * pagesize))
		err = -errno;
	else	/* Nothing else maps into our holes: see worker_setup(). */
		err = map_fresh(w, r, MAP_FIXED_NOREPLACE);
	if (err)
		worker_fatal(w, "re-mapping", -err);
	check_pages(w, "after re-map", addr, range_idx(r), r->n);
}

/* Move the whole chunk to its other slot; the old one is reserved again. */
static void op_mremap(struct wthread *t, const struct range *r)
{
	struct worker *w = t->w;
	struct chunk *c = &w->chunks[r->ci];
	const size_t len = CHUNK_PAGES * pagesize;
	char *old = c->addr, *dst = slot(w, r->ci, !c->alt), *p;

	p = mremap(old, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (p != dst)
		worker_fatal(w, "mremap", p == MAP_FAILED ? errno : EFAULT);
	c->addr = dst;
	c->alt = !c->alt;
	publish(w, r->ci);
	p = mmap(old, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != old)
		worker_fatal(w, "reserving the old slot",
			     p == MAP_FAILED ? errno : EEXIST);
	check_pages(w, "after mremap", dst, r->ci * CHUNK_PAGES, CHUNK_PAGES);
}

/* MADV_UNMERGEABLE (unshare faults on KSM pages), check, MADV_MERGEABLE. */
static void op_unmerge(struct wthread *t, const struct range *r)
{
	char *addr = range_addr(t->w, r);
	size_t len = r->n * pagesize;

	madvise(addr, len, MADV_UNMERGEABLE);
	check_pages(t->w, "after MADV_UNMERGEABLE", addr, range_idx(r), r->n);
	if (madvise(addr, len, MADV_MERGEABLE))
		worker_fatal(t->w, "MADV_MERGEABLE", errno);
}

static void op_pageout(struct wthread *t, const struct range *r)
{
	char *addr = range_addr(t->w, r);
	long ksm, swapped;

	madvise(addr, r->n * pagesize, MADV_PAGEOUT);
	census(t->w, addr, r->n, &ksm, &swapped);
	stat_add(&t->w->shm->swapped_seen, swapped);
	if (rnd_below(&t->rng, 2))
		check_pages(t->w, "after MADV_PAGEOUT", addr, range_idx(r),
			    r->n);
}

static void pin_check(struct wthread *t, const char *what, const struct range *r)
{
	__u64 buf = (uintptr_t)t->buf;

	if (ioctl(t->gup_fd, PIN_LONGTERM_TEST_READ, &buf)) {
		ksft_print_msg("worker %u: PIN_LONGTERM_TEST_READ: %s\n",
			       t->w->id, strerror(errno));
		stat_add(&t->w->shm->errors, 1);
		return;
	}
	check_pages(t->w, what, t->buf, range_idx(r), r->n);
}

/*
 * A R/O long-term pin (gup_test) unshares the KSM pages of the range: each
 * is reused or copied. Reading through the pin must give what the mapping
 * holds, before and after writes to the range: the pinned page must stay
 * the mapped page (no COW of an exclusive pinned page).
 */
static void op_pin(struct wthread *t, const struct range *r)
{
	struct worker *w = t->w;
	struct pin_longterm_test args = {
		.addr = (uintptr_t)range_addr(w, r),
		.size = r->n * pagesize,
		.flags = rnd_below(&t->rng, 2) ? PIN_LONGTERM_TEST_FLAG_USE_FAST : 0,
	};
	size_t i;

	if (ioctl(t->gup_fd, PIN_LONGTERM_TEST_START, &args)) {
		stat_add(&w->shm->pin_failed, 1);
		return;
	}
	pin_check(t, "read through R/O pin", r);
	for (i = 0; i < r->n; i++)
		if (rnd_below(&t->rng, 2))
			write_page(w, range_idx(r) + i, false);
	pin_check(t, "read through R/O pin after write", r);
	check_pages(w, "pinned mapping", range_addr(w, r), range_idx(r), r->n);
	if (ioctl(t->gup_fd, PIN_LONGTERM_TEST_STOP))
		worker_fatal(w, "PIN_LONGTERM_TEST_STOP", errno);
}

/* Both twins at @pme map one KSM page: ksmd merged them. */
/*
 * Whether a twin pair is one KSM page: mapped at one KSM pfn, or swapped out
 * to one swap entry (only a KSM page was both pages at once), which the
 * writes fault in from the swap cache or the swap device.
 */
static bool twins_merged(const struct worker *w, const uint64_t *pme)
{
	const uint64_t entry = (1ULL << 55) - 1;	/* swap type and offset */
	uint64_t flags;

	if ((pme[0] & PM_SWAP) && (pme[1] & PM_SWAP))
		return (pme[0] & entry) == (pme[1] & entry);
	return (pme[0] & PM_PRESENT) && (pme[1] & PM_PRESENT) &&
	       PAGEMAP_PFN(pme[0]) == PAGEMAP_PFN(pme[1]) &&
	       pread(w->kpageflags_fd, &flags, sizeof(flags),
		     PAGEMAP_PFN(pme[0]) * sizeof(flags)) == sizeof(flags) &&
	       (flags & STRESS_KPF_KSM);
}

/*
 * With merge_across_nodes=0 ksmd merges pages only within a node, and twins
 * drift apart (faults allocate on the CPU's node, the migrate agent moves
 * pages): move the even twin of each of the @n pairs at @even to the node of
 * the odd one.
 */
static void twins_colocate(struct worker *w, char **even, unsigned int n)
{
	void *pages[CHUNK_PAGES];
	int status[CHUNK_PAGES], nodes[CHUNK_PAGES / 2];
	unsigned int i, moves = 0;

	if (env.nr_nodes < 2 || !n)
		return;
	for (i = 0; i < n; i++) {
		pages[2 * i] = even[i];
		pages[2 * i + 1] = even[i] + pagesize;
	}
	if (syscall(__NR_move_pages, 0, 2 * n, pages, NULL, status, 0))
		return;
	for (i = 0; i < n; i++) {
		if (status[2 * i] < 0 || status[2 * i + 1] < 0 ||
		    status[2 * i] == status[2 * i + 1])
			continue;
		pages[moves] = even[i];
		nodes[moves++] = status[2 * i + 1];
	}
	if (moves && !syscall(__NR_move_pages, 0, moves, pages, nodes, status,
			      MPOL_MF_MOVE))
		stat_add(&w->shm->twins_moved, moves);
}

/* Until no page is under writeback, for at most @ms milliseconds. */
static void writeback_wait(unsigned int ms)
{
	char line[128];
	long kb = 0;
	FILE *f;

	do {
		f = fopen("/proc/meminfo", "r");
		if (!f)
			return;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "Writeback: %ld kB", &kb) == 1)
				break;
		fclose(f);
		if (kb)
			sleep_ms(1);
	} while (kb && ms--);
}

/*
 * -c: the @n merged pairs at @pairs (offsets in the chunk at @addr, page
 * @idx on) have their even twin zapped: the odd one maps the KSM page alone.
 * Page the odd twins out, wait for the writeback to end (a folio under
 * writeback keeps its slot: a `swapcache` refusal), and write both twins:
 * the odd one's write maps the KSM folio from the swap cache and reuses it.
 */
static void twins_through_swap_cache(struct wthread *t, size_t idx,
				     char *addr, const unsigned int *pairs,
				     unsigned int n)
{
	struct worker *w = t->w;
	long swapped = 0;
	unsigned int i;
	uint64_t pme;
	off_t off;

	for (i = 0; i < n; i++)
		madvise(addr + (pairs[i] + 1) * pagesize, pagesize, MADV_PAGEOUT);
	writeback_wait(50);
	for (i = 0; i < n; i++) {
		off = ((uintptr_t)addr / pagesize + pairs[i] + 1) * sizeof(pme);
		if (pread(w->pagemap_fd, &pme, sizeof(pme), off) == sizeof(pme) &&
		    (pme & PM_SWAP))
			swapped++;
		write_twins(w, idx + pairs[i]);
		if (rnd_below(&t->rng, 2))
			check_pages(w, "twins after swap-in",
				    addr + pairs[i] * pagesize, idx + pairs[i], 2);
	}
	stat_add(&w->shm->twins_swapped, swapped);
}

/*
 * The reuse-heavy part of -r, over the whole chunk: a pair that is not twins
 * (any other operation may have written it) becomes twins; a merged pair is
 * cycled: the even twin is zapped (3 in 4) or left mapped, then both are
 * written (write_twins()). The write that finds the KSM page mapped once
 * reuses it; the other gets a fresh page or a copy. With -c the even twin
 * is always zapped and the pair goes through the swap cache
 * (twins_through_swap_cache()). Pairs not merged yet are left to ksmd, only
 * brought onto one node.
 */
static void op_twins(struct wthread *t, const struct range *r)
{
	struct worker *w = t->w;
	size_t idx = r->ci * CHUNK_PAGES, i;
	char *addr = w->chunks[r->ci].addr, *pending[CHUNK_PAGES / 2];
	unsigned int parked[CHUNK_PAGES / 2], nparked = 0, npending = 0;
	uint64_t pme[CHUNK_PAGES];
	ssize_t len = sizeof(pme);
	long cycled = 0;
	struct pexp *e;

	if (w->kpageflags_fd < 0 || pread(w->pagemap_fd, pme, len,
			(uintptr_t)addr / pagesize * sizeof(pme[0])) != len)
		worker_fatal(w, "reading pagemap and kpageflags", errno);
	for (i = 0; i < CHUNK_PAGES; i += 2) {
		e = &w->exp[idx + i];
		if (!e[0].twin || !e[1].twin || e[0].owner != e[1].owner ||
		    e[0].version != e[1].version) {
			write_twins(w, idx + i);
			stat_add(&w->shm->twins_made, 1);
			continue;
		}
		if (!twins_merged(w, &pme[i])) {
			pending[npending++] = addr + i * pagesize;
			continue;
		}
		if ((opt.swapcache_mix || rnd_below(&t->rng, 4)) &&
		    madvise(addr + i * pagesize, pagesize, MADV_DONTNEED))
			worker_fatal(w, "MADV_DONTNEED", errno);
		cycled++;
		if (opt.swapcache_mix) {
			parked[nparked++] = i;
			continue;
		}
		write_twins(w, idx + i);
		if (rnd_below(&t->rng, 2))
			check_pages(w, "twins after write", addr + i * pagesize,
				    idx + i, 2);
	}
	if (nparked)
		twins_through_swap_cache(t, idx, addr, parked, nparked);
	stat_add(&w->shm->twins_cycled, cycled);
	t->waiting = !cycled;
	twins_colocate(w, pending, npending);
}

static void run_ops(struct wthread *t, unsigned long max_ops);

/*
 * A child of a worker: it sees its parent's memory and expectations as at
 * fork() time (the parent holds every chunk lock then), checks them, does
 * its own operations with its own signature while the parent goes on, checks
 * again and exits.
 */
static void __noreturn child_main(struct wthread *t)
{
	struct worker *w = t->w;
	size_t ci;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (ci = 0; ci < nchunks; ci++)
		w->chunks[ci].lock = 0;
	w->child = true;
	w->owner = (w->forks + 1) << 8 | (w->id + 1);
	w->child_pid = 0;
	w->reports = 0;
	t->tid = 0;
	t->rng = stream((uint64_t)w->owner << 8);
	if (t->gup_fd >= 0)
		close(t->gup_fd);
	t->gup_fd = -1;
	/* The inherited descriptor shows the parent's page tables. */
	close(w->pagemap_fd);
	w->pagemap_fd = open("/proc/self/pagemap", O_RDONLY);

	check_all(w, "child after fork");
	run_ops(t, 16 + rnd_below(&t->rng, 112));
	check_all(w, "child at exit");
	_exit(0);
}

static void op_fork(struct wthread *t, const struct range *r __maybe_unused)
{
	struct worker *w = t->w;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (!pid)
		child_main(t);
	if (pid < 0)
		worker_fatal(w, "fork", errno);
	w->forks++;
	w->child_pid = pid;
	w->shm->child_pid = pid;
}

static const struct wop {
	const char *name;
	unsigned int weight;
	bool all_chunks;	/* takes every chunk lock */
	void (*fn)(struct wthread *t, const struct range *r);
} wops[NR_WOPS] = {
	[WOP_WRITE]	= { "write", 40, false, op_write },
	[WOP_VERIFY]	= { "verify", 10, false, op_verify },
	[WOP_REMAP]	= { "munmap/remap", 4, false, op_remap },
	[WOP_MREMAP]	= { "mremap", 3, false, op_mremap },
	[WOP_UNMERGE]	= { "unmergeable", 5, false, op_unmerge },
	[WOP_PAGEOUT]	= { "pageout", 6, false, op_pageout },
	[WOP_PIN]	= { "ro_pin", 4, false, op_pin },
	[WOP_FORK]	= { "fork", 2, true, op_fork },
	[WOP_TWINS]	= { "twins", 0, false, op_twins },	/* -r: 1000 */
};

/*
 * The reuse-heavy mix gives 93% of the operations to twin pairs: every other
 * operation breaks pairs, which then wait two more scans of ksmd.
 */
static unsigned int op_weight(enum wop_id id)
{
	return id == WOP_TWINS && opt.reuse_mix ? 1000 : wops[id].weight;
}

static bool op_allowed(const struct wthread *t, enum wop_id id)
{
	if (id == WOP_PIN)
		return t->gup_fd >= 0;
	if (id == WOP_FORK)
		return !t->w->child && !t->tid && !t->w->child_pid;
	return true;
}

static enum wop_id pick_op(struct wthread *t)
{
	unsigned int total = 0, r;
	int id;

	for (id = 0; id < NR_WOPS; id++)
		total += op_weight(id);
	r = rnd_below(&t->rng, total);
	for (id = 0; r >= op_weight(id); id++)
		r -= op_weight(id);
	return id;
}

static void pick_range(struct wthread *t, struct range *r)
{
	r->ci = rnd_below(&t->rng, nchunks);
	r->n = 1 + rnd_below(&t->rng, MAX_RANGE);
	r->k = rnd_below(&t->rng, CHUNK_PAGES - r->n + 1);
}

static void lock_chunks(struct worker *w, const struct wop *op, size_t ci,
			bool lock)
{
	size_t first = op->all_chunks ? 0 : ci;
	size_t last = op->all_chunks ? nchunks - 1 : ci;

	for (; first <= last; first++) {
		if (lock)
			chunk_lock(&w->chunks[first]);
		else
			chunk_unlock(&w->chunks[first]);
	}
}

/* Reap the child if it exited (or wait for it); a failed child is counted. */
static void reap_child(struct worker *w, bool wait)
{
	int status;

	if (!w->child_pid ||
	    waitpid(w->child_pid, &status, wait ? 0 : WNOHANG) != w->child_pid)
		return;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("worker %u: child %d %s %d; seed %llu; reproduce: %s\n",
			       w->id, w->child_pid,
			       WIFEXITED(status) ? "exited with" : "killed by signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) :
						   WTERMSIG(status),
			       (unsigned long long)opt.seed, cmdline);
		stat_add(&w->shm->child_failures, 1);
	}
	w->child_pid = 0;
	w->shm->child_pid = 0;
}

static void run_ops(struct wthread *t, unsigned long max_ops)
{
	struct worker *w = t->w;
	const struct wop *op;
	enum wop_id id;
	struct range r;

	while (max_ops-- && !stopping()) {
		if (!t->tid)
			reap_child(w, false);
		id = pick_op(t);
		if (!op_allowed(t, id))
			continue;
		op = &wops[id];
		pick_range(t, &r);
		lock_chunks(w, op, r.ci, true);
		op->fn(t, &r);
		lock_chunks(w, op, r.ci, false);
		stat_add(&w->shm->ops[id], 1);
		/* Leave ksmd some CPU to merge what we wrote. */
		if (t->waiting)
			usleep(1000 + rnd_below(&t->rng, 4000));
		else if (rnd_below(&t->rng, 2))
			usleep(rnd_below(&t->rng, 1000));
		t->waiting = false;
	}
}

static void *worker_thread(void *arg)
{
	run_ops(arg, ULONG_MAX);
	return NULL;
}

static int thread_init(struct wthread *t, struct worker *w, unsigned int tid)
{
	t->w = w;
	t->tid = tid;
	t->rng = stream((uint64_t)w->id << 8 | tid);
	t->gup_fd = env.gup ? open(GUP_TEST, O_RDWR) : -1;
	t->buf = mmap(NULL, MAX_RANGE * pagesize, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return t->buf == MAP_FAILED ? -errno : 0;
}

static int cg_join(unsigned int id)
{
	char path[256], pid[32];

	if (!env.cg_dir[0])
		return 0;
	snprintf(path, sizeof(path), "%s/%c/cgroup.procs", env.cg_dir,
		 id % 2 ? 'b' : 'a');
	snprintf(pid, sizeof(pid), "%d", getpid());
	return write_str(path, pid);
}

/*
 * The memfd holds its own pattern, so a private page that falls back to the
 * file page is reported as such. All mappings are made here, inside one
 * PROT_NONE reservation with two slots per chunk; later only MAP_FIXED
 * mappings and mremap() into our own slots follow, so nothing else ever
 * lands in a hole we leave.
 */
static int worker_setup(struct worker *w, struct wthread *t)
{
	size_t i, len = 2 * npages * pagesize;
	struct range r = { .k = 0, .n = CHUNK_PAGES };
	struct sig s;
	int err;

	w->exp = calloc(npages, sizeof(*w->exp));
	w->chunks = calloc(nchunks, sizeof(*w->chunks));
	w->reserve = mmap(NULL, len, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	w->memfd = memfd_create("ksm_wp_reuse_stress", 0);
	if (!w->exp || !w->chunks || w->reserve == MAP_FAILED || w->memfd < 0 ||
	    ftruncate(w->memfd, (npages + FILE_SKEW) * pagesize))
		return -errno;
	for (i = 0; i < npages; i++) {
		s = (struct sig){ { MAGIC_FILE, 0, i, 0 } };
		page_fill(t->buf, &s);
		if (pwrite(w->memfd, t->buf, pagesize,
			   (i + FILE_SKEW) * pagesize) != (ssize_t)pagesize)
			return -EIO;
	}
	for (r.ci = 0; r.ci < nchunks; r.ci++) {
		w->chunks[r.ci].file = r.ci % 2;
		w->chunks[r.ci].addr = slot(w, r.ci, false);
		err = map_fresh(w, &r, MAP_FIXED);
		if (err)
			return err;
		publish(w, r.ci);
	}
	w->pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	w->kpageflags_fd = open("/proc/kpageflags", O_RDONLY);
	return 0;
}

static void wait_for(const int *flag)
{
	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE))
		sleep_ms(10);
}

static void __noreturn worker_main(unsigned int id)
{
	static struct wthread th[2];
	static struct worker w;
	unsigned int nthreads = id % 2 ? 2 : 1, i;
	int err;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != ctl_pid)
		_exit(3);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	w.id = id;
	w.owner = id + 1;
	w.shm = &shm->w[id];

	err = cg_join(id);
	for (i = 0; !err && i < nthreads; i++)
		err = thread_init(&th[i], &w, i);
	if (!err)
		err = worker_setup(&w, &th[0]);
	if (err) {
		ksft_print_msg("worker %u: setup: %s\n", id, strerror(-err));
		__atomic_store_n(&w.shm->state, W_FAILED, __ATOMIC_RELEASE);
		_exit(2);
	}
	/* The reuse faults come at ksmd's merge rate: leave it the CPU. */
	if (opt.reuse_mix && nice(10) == -1)
		ksft_print_msg("worker %u: nice: %s\n", id, strerror(errno));
	__atomic_store_n(&w.shm->state, W_RUNNING, __ATOMIC_RELEASE);
	if (nthreads > 1 &&
	    pthread_create(&th[1].thread, NULL, worker_thread, &th[1]))
		nthreads = 1;
	worker_thread(&th[0]);
	if (nthreads > 1)
		pthread_join(th[1].thread, NULL);
	reap_child(&w, true);

	__atomic_store_n(&w.shm->state, W_QUIESCED, __ATOMIC_RELEASE);
	wait_for(&shm->verify);
	check_all(&w, "final check");
	__atomic_store_n(&w.shm->state, W_DONE, __ATOMIC_RELEASE);
	_exit(0);
}

/* --- KSM knobs ------------------------------------------------------------- */

enum knob_id {
	K_ADVISOR, K_SMART, K_PAGES, K_SLEEP, K_MPS, K_MAN, K_RUN, K_WP,
	NR_KNOBS
};

static struct knob {
	const char *path;
	bool optional;
	bool have;		/* saved[] holds its value at start */
	bool changed;		/* we wrote it: restore it */
	char saved[64];
} knobs[NR_KNOBS] = {
	/* advisor_mode must be "none" for pages_to_scan to be writable. */
	[K_ADVISOR]	= { KSM_SYSFS "advisor_mode", true },
	[K_SMART]	= { KSM_SYSFS "smart_scan", true },
	[K_PAGES]	= { KSM_SYSFS "pages_to_scan", false },
	[K_SLEEP]	= { KSM_SYSFS "sleep_millisecs", false },
	[K_MPS]		= { KSM_SYSFS "max_page_sharing", false },
	[K_MAN]		= { KSM_SYSFS "merge_across_nodes", true },	/* NUMA */
	[K_RUN]		= { KSM_SYSFS "run", false },
	[K_WP]		= { KSM_SYSFS "wp_reuse", false },
};

static int knob_set(enum knob_id k, const char *val)
{
	if (!knobs[k].have || !val)
		return 0;
	knobs[k].changed = true;
	return write_str(knobs[k].path, val);
}

static bool knob_differs(enum knob_id k, const char *val)
{
	char cur[64];

	if (!knobs[k].have || !val)
		return false;
	return read_str(knobs[k].path, cur, sizeof(cur)) || strcmp(cur, val);
}

static int knobs_save(void)
{
	int k;

	for (k = 0; k < NR_KNOBS; k++) {
		if (!read_str(knobs[k].path, knobs[k].saved,
			      sizeof(knobs[k].saved)))
			knobs[k].have = true;
		else if (!knobs[k].optional)
			return -1;
	}
	return 0;
}

/*
 * max_page_sharing and merge_across_nodes can only change while no page is
 * merged: if either must change, unmerge everything first (run=2, which
 * also unshares every KSM page of the workers under their feet). Then set
 * run to @run.
 */
static int ksm_reconfigure(const char *mps, const char *man, const char *run)
{
	int err = 0, ret, i;

	if (knob_differs(K_MPS, mps) || knob_differs(K_MAN, man)) {
		for (i = 0; i < 10; i++) {
			err = knob_set(K_RUN, "2");
			if (!err)
				err = knob_set(K_MPS, mps);
			if (!err)
				err = knob_set(K_MAN, man);
			if (err != -EBUSY)
				break;
			sleep_ms(100);
		}
	}
	ret = knob_set(K_RUN, run);
	return err ? err : ret;
}

/* max_page_sharing: the default, or 2 (stable node chains) in odd phases. */
static const char *phase_mps(unsigned int phase)
{
	if (phase % 2)
		return "2";
	return strcmp(knobs[K_MPS].saved, "2") ? knobs[K_MPS].saved : "256";
}

static const char *phase_man(unsigned int phase)
{
	if (opt.man < 0)
		return phase / 2 % 2 ? "0" : "1";
	return opt.man ? "1" : "0";
}

static int ksm_setup(void)
{
	int err;

	err = knob_set(K_ADVISOR, "none");
	if (!err)
		err = knob_set(K_SMART, "0");
	if (!err)
		err = knob_set(K_PAGES, KSM_PAGES_TO_SCAN);
	if (!err)
		err = knob_set(K_SLEEP, "0");
	if (!err)
		err = ksm_reconfigure(phase_mps(0), phase_man(0), "1");
	if (!err)
		err = knob_set(K_WP, "1");
	return err;
}

static void knob_restore(enum knob_id k)
{
	int err;

	if (!knobs[k].changed)
		return;
	err = write_str(knobs[k].path, knobs[k].saved);
	if (err)
		ksft_print_msg("could not restore %s to %s: %s\n",
			       knobs[k].path, knobs[k].saved, strerror(-err));
}

/* In the reverse order of ksm_setup(). */
static void knobs_restore(void)
{
	int err, k;

	knob_restore(K_WP);
	if (knobs[K_MPS].changed || knobs[K_MAN].changed) {
		err = ksm_reconfigure(knobs[K_MPS].saved,
				      knobs[K_MAN].have ? knobs[K_MAN].saved : NULL,
				      knobs[K_RUN].saved);
		if (err)
			ksft_print_msg(
				"could not restore max_page_sharing/merge_across_nodes: %s\n",
				strerror(-err));
	} else {
		knob_restore(K_RUN);
	}
	knob_restore(K_SLEEP);
	knob_restore(K_PAGES);
	knob_restore(K_SMART);
	knob_restore(K_ADVISOR);
	for (k = 0; k < NR_KNOBS; k++)
		knobs[k].changed = false;
}

/* --- environment: memcgs, NUMA nodes, gup_test, swap ------------------------ */

/* Kill what is left in our cgroups, remove them, undo +memory in the root. */
static void cg_remove(void)
{
	static const char * const sub[] = { "/a", "/b", "" };
	char path[256];
	int i, j;

	if (!env.cg_dir[0])
		goto root;
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s/cgroup.kill", env.cg_dir,
			 sub[i]);
		write_str(path, "1");
	}
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", env.cg_dir, sub[i]);
		/* Killed processes take a moment to leave. */
		for (j = 0; j < 250; j++) {
			if (!rmdir(path) || errno == ENOENT)
				break;
			sleep_ms(20);
		}
		if (j == 250)
			ksft_print_msg("rmdir %s: %s\n", path, strerror(errno));
	}
	env.cg_dir[0] = '\0';
root:
	if (env.cg_root_memory)
		write_str(CG_ROOT "/cgroup.subtree_control", "-memory");
	env.cg_root_memory = false;
}

static void cg_setup(void)
{
	static const char * const sub[] = { "a", "b" };
	char buf[512], path[256];
	struct statfs sfs;
	int i, err;

	if (statfs(CG_ROOT, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(env.cg_why, sizeof(env.cg_why), "no cgroup2 at " CG_ROOT);
		return;
	}
	if (read_str(CG_ROOT "/cgroup.controllers", buf, sizeof(buf)) ||
	    !has_word(buf, "memory")) {
		snprintf(env.cg_why, sizeof(env.cg_why), "no memory controller");
		return;
	}
	if (read_str(CG_ROOT "/cgroup.subtree_control", buf, sizeof(buf)))
		buf[0] = '\0';
	if (!has_word(buf, "memory")) {
		err = write_str(CG_ROOT "/cgroup.subtree_control", "+memory");
		if (err) {
			snprintf(env.cg_why, sizeof(env.cg_why),
				 "enabling +memory: %s", strerror(-err));
			return;
		}
		env.cg_root_memory = true;
	}
	snprintf(env.cg_dir, sizeof(env.cg_dir),
		 CG_ROOT "/ksm_wp_reuse_stress.%d", getpid());
	err = mkdir(env.cg_dir, 0755) ? -errno : 0;
	if (!err) {
		snprintf(path, sizeof(path), "%s/cgroup.subtree_control",
			 env.cg_dir);
		err = write_str(path, "+memory");
	}
	for (i = 0; !err && i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", env.cg_dir, sub[i]);
		err = mkdir(path, 0755) ? -errno : 0;
	}
	if (err) {
		snprintf(env.cg_why, sizeof(env.cg_why), "%s: %s", env.cg_dir,
			 strerror(-err));
		cg_remove();
	}
}

static void nodes_setup(void)
{
	char buf[256], *p = buf, *end;
	long lo, hi;

	if (read_str("/sys/devices/system/node/has_memory", buf, sizeof(buf)) &&
	    read_str("/sys/devices/system/node/online", buf, sizeof(buf)))
		return;
	while (*p && env.nr_nodes < MAX_NODES) {
		lo = strtol(p, &end, 10);
		if (end == p)
			break;
		hi = lo;
		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		for (; lo <= hi && env.nr_nodes < MAX_NODES; lo++)
			env.nodes[env.nr_nodes++] = lo;
		p = *end == ',' ? end + 1 : end;
		if (p == end)
			break;
	}
}

static bool swap_present(void)
{
	char line[128];
	long total = 0;
	FILE *f;

	f = fopen("/proc/meminfo", "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SwapTotal: %ld kB", &total) == 1)
			break;
	fclose(f);
	return total > 0;
}

/* --- swap pressure (-S) and the swap-cache mix (-c) -------------------------- */

/*
 * The decisions that met the swap cache, counted by two tracefs instances
 * that nobody reads: one takes the reuses of folios that were in the swap
 * cache (their slot freed), the other the `swapcache` refusals (another swap
 * entry still referred to the slot: a copy). In overwrite mode a ring buffer
 * counts every event it took: entries plus overrun.
 */
static const char * const sc_instance[2] = {
	"ksm_wp_reuse_stress_sc_reused", "ksm_wp_reuse_stress_sc_refused",
};

/* The value of result @name in the event format's __print_symbolic(), or -1. */
static long result_value(const char *fmt, const char *name)
{
	char needle[64];
	const char *p;

	snprintf(needle, sizeof(needle), "\"%s\" }", name);
	p = strstr(fmt, needle);
	while (p && p > fmt && *p != '{')
		p--;
	return p && *p == '{' ? strtol(p + 1, NULL, 0) : -1;
}

static int sc_instance_write(int i, const char *file, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), TRACEFS "/instances/%s/%s", sc_instance[i],
		 file);
	return write_str(path, val);
}

static void sc_counters_setup(void)
{
	const char *fmt_path = TRACEFS "/events/ksm/ksm_wp_reuse/format";
	char fmt[8192], path[256], filter[96];
	long value[2];
	ssize_t len = -1;
	int fd, i;

	fd = open(fmt_path, O_RDONLY);
	if (fd >= 0) {
		len = read(fd, fmt, sizeof(fmt) - 1);
		close(fd);
	}
	if (len <= 0) {
		ksft_print_msg("note: %s: %s; swap-cache decisions not counted\n",
			       fmt_path, strerror(errno));
		return;
	}
	fmt[len] = '\0';
	value[0] = result_value(fmt, "reused");
	value[1] = result_value(fmt, "swapcache");
	if (value[0] < 0 || value[1] < 0) {
		ksft_print_msg("note: %s lists no reused or swapcache result\n",
			       fmt_path);
		return;
	}
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), TRACEFS "/instances/%s", sc_instance[i]);
		if (mkdir(path, 0755) && errno != EEXIST) {
			ksft_print_msg("note: mkdir %s: %s; swap-cache decisions not counted\n",
				       path, strerror(errno));
			return;
		}
		snprintf(filter, sizeof(filter), i ? "result==%ld" :
			 "swapcache==1 && result==%ld", value[i]);
		if (sc_instance_write(i, "buffer_size_kb", "8") ||
		    sc_instance_write(i, "events/ksm/ksm_wp_reuse/filter", filter) ||
		    sc_instance_write(i, "events/ksm/ksm_wp_reuse/enable", "1"))
			ksft_exit_fail_msg("setting up tracefs instance %s\n",
					   sc_instance[i]);
	}
	env.sc_counting = true;
}

/* Events instance @i took so far, or -1 if not counting. */
static long sc_count(int i)
{
	long sum = 0, v, cpus = sysconf(_SC_NPROCESSORS_CONF);
	char path[256], line[128];
	FILE *f;
	int cpu;

	if (!env.sc_counting)
		return -1;
	for (cpu = 0; cpu < cpus; cpu++) {
		snprintf(path, sizeof(path),
			 TRACEFS "/instances/%s/per_cpu/cpu%d/stats",
			 sc_instance[i], cpu);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "entries: %ld", &v) == 1 ||
			    sscanf(line, "overrun: %ld", &v) == 1)
				sum += v;
		fclose(f);
	}
	return sum;
}

/* A /proc/vmstat counter, or -1. */
static long vmstat_read(const char *name)
{
	char key[64];
	long val, ret = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2)
		if (!strcmp(key, name))
			ret = val;
	fclose(f);
	return ret;
}

/*
 * -S and -c: swap to a loop device of our own at the highest priority
 * (disk-like: a KSM folio written out stays in the swap cache until reclaim
 * comes back for it, and a fault before then maps it from there), and count
 * the decisions that met the swap cache.
 */
static void swap_device_setup(const char *flag)
{
	size_t pages = 2 * opt.workers * npages + 1; /* and the header */
	char why[256];
	int fd, err;

	fd = loop_swap_attach(pagesize, pages, env.swap_dev,
			      sizeof(env.swap_dev), why, sizeof(why));
	if (fd < 0) {
		env.swap_dev[0] = '\0';
		ksft_exit_skip("%s needs a loop device to swap on: %s\n", flag, why);
	}
	err = swapon(env.swap_dev, SWAP_FLAG_PREFER | SWAP_FLAG_PRIO_MASK) ? errno : 0;
	close(fd);
	if (err) {
		ksft_print_msg("swapon %s: %s\n", env.swap_dev, strerror(err));
		env.swap_dev[0] = '\0';
		ksft_exit_fail_msg("%s: cannot swap on a loop device\n", flag);
	}
	env.swap = true;
	sc_counters_setup();
}

/*
 * -S: swap to our loop device and give each worker cgroup a memory.max of
 * 3/4 of its workers' pages, so that reclaim swaps all the time and swap-ins
 * of KSM pages are routine.
 */
static void swap_pressure_setup(void)
{
	char path[256], val[32];
	unsigned int i, members;
	int err;

	if (!env.cg_dir[0])
		ksft_exit_skip("-S needs memory cgroups: %s\n", env.cg_why);
	swap_device_setup("-S");
	for (i = 0; i < 2; i++) {
		/* Workers alternate: even ids in a, odd ones in b (cg_join()). */
		members = (opt.workers + 1 - i) / 2;
		if (!members)
			continue;
		snprintf(path, sizeof(path), "%s/%c/memory.max", env.cg_dir,
			 'a' + i);
		snprintf(val, sizeof(val), "%zu",
			 members * npages * pagesize / 4 * 3);
		err = write_str(path, val);
		if (err)
			ksft_exit_fail_msg("%s: %s\n", path, strerror(-err));
	}
}

static void swap_device_end(void)
{
	char path[256];
	int i;

	for (i = 0; env.sc_counting && i < 2; i++) {
		sc_instance_write(i, "events/ksm/ksm_wp_reuse/enable", "0");
		snprintf(path, sizeof(path), TRACEFS "/instances/%s", sc_instance[i]);
		if (rmdir(path))
			ksft_print_msg("rmdir %s: %s\n", path, strerror(errno));
	}
	env.sc_counting = false;
	/* With the workers gone, this reads back little. */
	if (env.swap_dev[0] && swapoff(env.swap_dev))
		ksft_print_msg("swapoff %s: %s\n", env.swap_dev, strerror(errno));
	env.swap_dev[0] = '\0';
}

static void env_setup(void)
{
	int fd = open(GUP_TEST, O_RDWR);

	env.gup = fd >= 0;
	if (fd >= 0)
		close(fd);
	env.swap = swap_present();
	env.compact = !access(COMPACT_MEMORY, W_OK);
	nodes_setup();
	cg_setup();
	if (opt.swap_pressure)
		swap_pressure_setup();
	else if (opt.swapcache_mix)
		swap_device_setup("-c");
}

/* --- chaos agents: threads of the controller -------------------------------- */

struct agent {
	const char *name;
	void (*step)(struct agent *a);
	unsigned int min_ms, max_ms;	/* pause before each step */
	bool enabled;
	bool started;
	uint64_t rng;
	unsigned int state;
	pthread_t thread;
};

static int chaos_stop;

/* Sleep @ms in small steps; false if the agents must stop. */
static bool chaos_sleep(unsigned int ms)
{
	for (;;) {
		if (__atomic_load_n(&chaos_stop, __ATOMIC_ACQUIRE))
			return false;
		if (!ms)
			return true;
		sleep_ms(ms < 50 ? ms : 50);
		ms -= ms < 50 ? ms : 50;
	}
}

/* move_pages() of random pages of a random worker to random nodes. */
static void step_migrate(struct agent *a)
{
	int nodes[MAX_RANGE], status[MAX_RANGE], flags;
	unsigned int w = rnd_below(&a->rng, opt.workers), i, n, placed = 0;
	size_t ci = rnd_below(&a->rng, nchunks);
	pid_t pid = __atomic_load_n(&wpid[w], __ATOMIC_RELAXED);
	uintptr_t base;
	void *pages[MAX_RANGE];

	base = __atomic_load_n(&shm->addr[w * nchunks + ci], __ATOMIC_RELAXED);
	if (pid <= 0 || !base)
		return;
	n = 1 + rnd_below(&a->rng, MAX_RANGE);
	for (i = 0; i < n; i++) {
		pages[i] = (char *)base +
			   rnd_below(&a->rng, CHUNK_PAGES) * pagesize;
		nodes[i] = env.nodes[rnd_below(&a->rng, env.nr_nodes)];
	}
	/* MOVE_ALL also moves pages mapped by others: KSM pages. */
	flags = rnd_below(&a->rng, 2) ? MPOL_MF_MOVE_ALL : MPOL_MF_MOVE;
	if (syscall(__NR_move_pages, pid, n, pages, nodes, status, flags) < 0)
		return;
	for (i = 0; i < n; i++)
		placed += status[i] == nodes[i];
	stat_add(&cops[COP_MIGRATE], 1);
	stat_add(&cops[COP_MIGRATED], placed);
}

static void step_compact(struct agent *a __maybe_unused)
{
	if (!write_str(COMPACT_MEMORY, "1"))
		stat_add(&cops[COP_COMPACT], 1);
}

/* In the reuse-heavy mix the switch is off for 20..200 ms at a time. */
static void step_wp_toggle(struct agent *a)
{
	a->state = !a->state;
	if (!knob_set(K_WP, a->state ? "0" : "1"))
		stat_add(&cops[COP_WP_TOGGLE], 1);
	if (opt.reuse_mix && a->state && chaos_sleep(20 + rnd_below(&a->rng, 181)))
		step_wp_toggle(a);
}

/* Unmerge all, switch max_page_sharing (and merge_across_nodes), run. */
static void step_ksm_phase(struct agent *a)
{
	unsigned int phase = ++a->state;
	int err;

	err = ksm_reconfigure(phase_mps(phase), phase_man(phase), "1");
	ksft_print_msg("ksm phase %u: max_page_sharing=%s merge_across_nodes=%s%s%s\n",
		       phase, phase_mps(phase),
		       knobs[K_MAN].have ? phase_man(phase) : "-",
		       err ? ": " : "", err ? strerror(-err) : "");
	if (!err)
		stat_add(&cops[COP_KSM_PHASE], 1);
}

enum { A_MIGRATE, A_COMPACT, A_WP_REUSE, A_KSM_PHASE, NR_AGENTS };

static struct agent agents[NR_AGENTS] = {
	[A_MIGRATE]	= { "migrate", step_migrate, 1, 10 },
	[A_COMPACT]	= { "compact", step_compact, 500, 3000 },
	[A_WP_REUSE]	= { "wp_reuse", step_wp_toggle },	/* from -w */
	[A_KSM_PHASE]	= { "ksm_phase", step_ksm_phase },	/* from -d */
};

static void *agent_thread(void *arg)
{
	struct agent *a = arg;

	while (chaos_sleep(a->min_ms +
			   rnd_below(&a->rng, a->max_ms - a->min_ms + 1)))
		a->step(a);
	return NULL;
}

static void chaos_start(void)
{
	struct agent *ph = &agents[A_KSM_PHASE];
	int i;

	/*
	 * After an unmerge ksmd needs a few full scans to merge again: phases
	 * last a fifth of the run, clamped to 5..30 s, up to twice that.
	 */
	ph->min_ms = opt.duration * 1000 / 5;
	if (ph->min_ms < 5000)
		ph->min_ms = 5000;
	if (ph->min_ms > 30000)
		ph->min_ms = 30000;
	ph->max_ms = 2 * ph->min_ms;
	agents[A_MIGRATE].enabled = env.nr_nodes > 1;
	agents[A_COMPACT].enabled = env.compact;
	agents[A_WP_REUSE].enabled = true;
	/* Each flip is off for a while: -w sets how often, for the mix wanted. */
	agents[A_WP_REUSE].min_ms = opt.flip_ms / 8;
	agents[A_WP_REUSE].max_ms = opt.flip_ms * 15 / 8;
	ph->enabled = true;
	for (i = 0; i < NR_AGENTS; i++) {
		agents[i].rng = stream(0xc0ffee00 + i);
		if (agents[i].enabled)
			agents[i].started = !pthread_create(&agents[i].thread,
							    NULL, agent_thread,
							    &agents[i]);
	}
}

static void chaos_end(void)
{
	int i;

	__atomic_store_n(&chaos_stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < NR_AGENTS; i++) {
		if (agents[i].started)
			pthread_join(agents[i].thread, NULL);
		agents[i].started = false;
	}
}

/* --- controller: workers ---------------------------------------------------- */

static int start_workers(void)
{
	unsigned int i;
	pid_t pid;

	for (i = 0; i < opt.workers; i++) {
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			return -errno;
		if (!pid)
			worker_main(i);
		wpid[i] = pid;
	}
	return 0;
}

static void status_str(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	else
		snprintf(buf, len, "signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
}

/* Reap workers that exited; one that exited before its job was done is lost. */
static void check_workers(void)
{
	char how[64];
	unsigned int i;
	int status;

	for (i = 0; i < opt.workers; i++) {
		if (wpid[i] <= 0 || waitpid(wpid[i], &status, WNOHANG) != wpid[i])
			continue;
		__atomic_store_n(&wpid[i], 0, __ATOMIC_RELAXED);
		if (shm->w[i].state == W_DONE && WIFEXITED(status) &&
		    !WEXITSTATUS(status))
			continue;
		lost_workers++;
		status_str(status, how, sizeof(how));
		ksft_print_msg("worker %u ended early: %s; seed %llu; reproduce: %s\n",
			       i, how, (unsigned long long)opt.seed, cmdline);
	}
}

/* Wait until each worker reached @state (or is gone). */
static bool wait_workers(enum wstate state, bool reaped)
{
	double deadline = now_s() + DEADLINE_S;
	unsigned int i, pending;

	do {
		check_workers();
		for (i = pending = 0; i < opt.workers; i++) {
			if (wpid[i] <= 0)
				continue;
			if (reaped || __atomic_load_n(&shm->w[i].state,
						      __ATOMIC_ACQUIRE) < state)
				pending++;
		}
		if (!pending)
			return true;
		sleep_ms(20);
	} while (now_s() < deadline && !interrupted);
	return false;
}

static bool setup_failed(void)
{
	unsigned int i;

	for (i = 0; i < opt.workers; i++)
		if (shm->w[i].state == W_FAILED)
			return true;
	return false;
}

/*
 * Until @end, or until -n reuse faults since @reuse0: watch the workers and
 * print progress every minute. Returns the largest pages_sharing seen.
 */
static long monitor(double end, long reuse0, long cow0)
{
	double start = now_s(), next = start + 60;
	long sharing, max_sharing = 0, reuse = reuse0, cow = cow0;

	while (now_s() < end && !interrupted) {
		sleep_ms(100);
		check_workers();
		sharing = read_long(KSM_SYSFS "pages_sharing");
		if (sharing > max_sharing)
			max_sharing = sharing;
		read_ksm_fault_counts(&reuse, &cow);
		if (opt.reuse_target && reuse - reuse0 >= opt.reuse_target)
			break;
		if (now_s() >= next) {
			char sc[96] = "";

			if (env.sc_counting)
				snprintf(sc, sizeof(sc),
					 "; swap cache: reused %ld, refused %ld",
					 sc_count(0), sc_count(1));
			ksft_print_msg("%.0f s: ksm_wp_reuse +%ld, cow_ksm +%ld%s\n",
				       now_s() - start, reuse - reuse0, cow - cow0,
				       sc);
			next += 60;
		}
	}
	return max_sharing;
}

/* Stop the load, let every worker check every page, reap them. */
static bool finish_workers(void)
{
	bool ok;

	__atomic_store_n(&shm->stop, 1, __ATOMIC_RELEASE);
	ok = wait_workers(W_QUIESCED, false);
	__atomic_store_n(&shm->verify, 1, __ATOMIC_RELEASE);
	return wait_workers(W_DONE, true) && ok;
}

/* Kill what is left: workers, and (by PDEATHSIG, cgroup.kill) their children. */
static void kill_workers(void)
{
	double deadline = now_s() + 10;
	unsigned int i;

	for (i = 0; i < opt.workers; i++)
		if (wpid[i] > 0)
			kill(wpid[i], SIGKILL);
	/* We are the subreaper of orphaned grandchildren: reap them all. */
	while (now_s() < deadline) {
		pid_t pid = waitpid(-1, NULL, WNOHANG);

		if (pid < 0 && errno == ECHILD)
			break;
		if (!pid)
			sleep_ms(10);
	}
	for (i = 0; i < opt.workers; i++)
		wpid[i] = 0;
}

static void cleanup(void)
{
	if (getpid() != ctl_pid)
		return;
	chaos_end();
	kill_workers();
	cg_remove();
	swap_device_end();
	knobs_restore();
}

/* --- results ---------------------------------------------------------------- */

static long sum_stat(size_t offset)
{
	long sum = 0;
	unsigned int i;

	for (i = 0; i < opt.workers; i++)
		sum += *(long *)((char *)&shm->w[i] + offset);
	return sum;
}

#define SUM(field) sum_stat(offsetof(struct wshm, field))

static void result_content(bool finished)
{
	long bad = SUM(mismatches), errors = SUM(errors);
	long children = SUM(child_failures);

	if (finished && !bad && !errors && !children && !lost_workers) {
		ksft_test_result_pass("no content mismatch\n");
		return;
	}
	ksft_print_msg(
		"%ld mismatching pages, %ld test errors, %ld failed children, %ld lost workers%s; seed %llu; reproduce: %s\n",
		bad, errors, children, lost_workers,
		finished ? "" : ", final check incomplete",
		(unsigned long long)opt.seed, cmdline);
	ksft_test_result_fail("no content mismatch\n");
}

struct kcounts {
	long shared, sharing;
};

static void read_kcounts(struct kcounts *c)
{
	c->shared = read_long(KSM_SYSFS "pages_shared");
	c->sharing = read_long(KSM_SYSFS "pages_sharing");
}

/*
 * Run ksmd until full_scans rose by 2 and, with @want, until the counters
 * equal it; ksmd drops stale stable nodes as it scans. Returns the number of
 * full scans seen, the counters in @c. ksmd only scans while some mm is
 * registered: the controller's keep page, which merges with nothing, is.
 */
static long ksm_settle(struct kcounts *c, const struct kcounts *want)
{
	double deadline = now_s() + CONVERGE_S;
	long start, scans = 0;

	knob_set(K_RUN, "1");
	start = read_long(KSM_SYSFS "full_scans");
	while (now_s() < deadline && !interrupted) {
		scans = read_long(KSM_SYSFS "full_scans") - start;
		read_kcounts(c);
		if (scans >= 2 && (!want || (c->shared == want->shared &&
					     c->sharing == want->sharing)))
			break;
		sleep_ms(100);
	}
	return scans;
}

static int map_keep_page(void)
{
	struct sig s = { { MAGIC_KEEP, 0, 0, opt.seed } };
	char *keep;

	keep = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (keep == MAP_FAILED)
		return -errno;
	page_fill(keep, &s);
	/* Not inherited: the workers' pages are all checked ones. */
	if (madvise(keep, pagesize, MADV_DONTFORK) ||
	    madvise(keep, pagesize, MADV_MERGEABLE))
		return -errno;
	return 0;
}

/*
 * With every worker gone, once ksmd ran two more full scans, pages_shared
 * and pages_sharing must be back at their values from before the run.
 */
static void result_converge(const struct kcounts *base)
{
	struct kcounts c = { -1, -1 };
	long scans;

	scans = ksm_settle(&c, base);
	ksft_print_msg(
		"after %ld full scans: pages_shared %ld (at start %ld), pages_sharing %ld (at start %ld)\n",
		scans, c.shared, base->shared, c.sharing, base->sharing);
	ksft_test_result(scans >= 2 && c.shared == base->shared &&
			 c.sharing == base->sharing, "KSM counters converge\n");
}

/* A fork() and exec() of /bin/true must complete within the deadline. */
static void result_responsive(void)
{
	double start = now_s();
	int status = -1;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (!pid) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	while (pid > 0 && now_s() < start + RESPONSIVE_S) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		sleep_ms(5);
	}
	if (pid > 0 && status == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	ksft_print_msg("fork+exec of /bin/true: %.3f s\n", now_s() - start);
	ksft_test_result(pid > 0 && status == 0, "guest responsive\n");
}

static __printf(3, 4) void append(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

static void print_report(double duration, long reuse, long cow, long max_sharing)
{
	char buf[1536] = "";
	int i;

	append(buf, sizeof(buf), "report: %.1f s, %u workers x %zu pages; ops:",
	       duration, opt.workers, npages);
	for (i = 0; i < NR_WOPS; i++)
		append(buf, sizeof(buf), " %s %ld", wops[i].name,
		       sum_stat(offsetof(struct wshm, ops) + i * sizeof(long)));
	append(buf, sizeof(buf),
	       " (pages written: %ld signed, %ld shared; R/O pins refused %ld;"
	       " twin pairs made %ld, cycled %ld, moved onto one node %ld, swapped out by -c %ld);",
	       SUM(written[0]), SUM(written[1]), SUM(pin_failed),
	       SUM(twins_made), SUM(twins_cycled), SUM(twins_moved),
	       SUM(twins_swapped));
	for (i = 0; i < NR_COPS; i++)
		append(buf, sizeof(buf), " %s %ld", cop_name[i], cops[i]);
	append(buf, sizeof(buf),
	       "; seen: KSM pages %ld, swapped out %ld, max pages_sharing %ld; ksmd scanned %ld pages; faults: ksm_wp_reuse +%ld (%.0f/s) cow_ksm +%ld\n",
	       SUM(ksm_seen), SUM(swapped_seen), max_sharing, ksmd_pages,
	       reuse, reuse / duration, cow);
	ksft_print_msg("%s", buf);
	if (opt.swap_pressure || opt.swapcache_mix)
		ksft_print_msg(
			"%s (%s, %s): pswpin %ld, pswpout %ld; KSM faults on folios in the swap cache: reused %ld (slot freed; %.0f/s), refused %ld (swapcache: the slot still referred to, or under writeback)\n",
			       opt.swap_pressure ? "swap pressure" : "swap-cache mix",
			       opt.swap_pressure ? "-S" : "-c", env.swap_dev,
			       pswp[0], pswp[1], sc_count(0), sc_count(0) / duration,
			       sc_count(1));
	if (!reuse)
		ksft_print_msg("note: no KSM fault was reused\n");
	if (!cow)
		ksft_print_msg("note: no KSM fault was copied\n");
}

/* --- main ------------------------------------------------------------------- */

static void __noreturn print_usage(const char *prog, int status)
{
	printf("usage: %s [-d seconds] [-s seed] [-j workers] [-p pages] [-m 0|1|a]\n"
	       "       [-r | -c] [-n faults] [-w ms] [-S]\n"
	       "  -d  run the load this long (default 60)\n"
	       "  -s  seed of every random choice (default: from the clock)\n"
	       "  -j  worker processes, 1..%d (default 4; odd ones have 2 threads)\n"
	       "  -p  pages per worker, rounded up to %d, %d..%lu (default 2048)\n"
	       "  -m  merge_across_nodes for the whole run: 0 or 1 (default 1),\n"
	       "      or a: alternate 1 and 0 at KSM phase changes\n"
	       "  -r  reuse-heavy mix: most operations cycle merged twin pairs\n"
	       "  -c  swap-cache mix: -r with each merged pair's KSM page paged\n"
	       "      out to a loop device and faulted back from the swap cache\n"
	       "  -n  stop the load early once this many faults were reused\n"
	       "  -w  mean pause before each flip of wp_reuse, in ms (default 800;\n"
	       "      with -r a flip is off, and on again 20..200 ms later)\n"
	       "  -S  swap pressure: swap on a loop device, the workers' cgroups\n"
	       "      at memory.max 3/4 of their pages; count the KSM faults that\n"
	       "      met the swap cache\n",
	       prog, MAX_WORKERS, CHUNK_PAGES, MIN_PAGES, MAX_PAGES);
	exit(status);
}

static void parse_opts(int argc, char **argv)
{
	bool seeded = false;
	int c;

	while ((c = getopt(argc, argv, "d:s:j:p:m:rcn:w:Sh")) != -1) {
		switch (c) {
		case 'd':
			opt.duration = strtoul(optarg, NULL, 0);
			break;
		case 's':
			opt.seed = strtoull(optarg, NULL, 0);
			seeded = true;
			break;
		case 'j':
			opt.workers = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			opt.pages = strtoul(optarg, NULL, 0);
			break;
		case 'm':
			if (!strcmp(optarg, "a"))
				opt.man = -1;
			else if (!strcmp(optarg, "0") || !strcmp(optarg, "1"))
				opt.man = atoi(optarg);
			else
				print_usage(argv[0], KSFT_FAIL);
			break;
		case 'r':
			opt.reuse_mix = true;
			break;
		case 'c':
			opt.reuse_mix = true;
			opt.swapcache_mix = true;
			break;
		case 'n':
			opt.reuse_target = strtol(optarg, NULL, 0);
			break;
		case 'w':
			opt.flip_ms = strtoul(optarg, NULL, 0);
			break;
		case 'S':
			opt.swap_pressure = true;
			break;
		case 'h':
			print_usage(argv[0], 0);
		default:
			print_usage(argv[0], KSFT_FAIL);
		}
	}
	if (!opt.workers || opt.workers > MAX_WORKERS ||
	    opt.pages > MAX_PAGES || opt.reuse_target < 0 ||
	    opt.flip_ms < 8 || opt.flip_ms > 3600000 || optind != argc)
		print_usage(argv[0], KSFT_FAIL);
	if (!seeded)
		opt.seed = mix64((uint64_t)time(NULL) << 20 ^
				 (uint64_t)(now_s() * 1e9)) ^ getpid();
	npages = (opt.pages + CHUNK_PAGES - 1) / CHUNK_PAGES * CHUNK_PAGES;
	if (npages < MIN_PAGES)
		npages = MIN_PAGES;
	nchunks = npages / CHUNK_PAGES;
	run_salt = mix64(opt.seed);
	snprintf(cmdline, sizeof(cmdline), "%s -d %u -s %llu -j %u -p %zu -m %s%s -n %ld -w %u%s",
		 argv[0], opt.duration, (unsigned long long)opt.seed,
		 opt.workers, npages,
		 opt.man < 0 ? "a" : opt.man ? "1" : "0",
		 opt.swapcache_mix ? " -c" : opt.reuse_mix ? " -r" : "",
		 opt.reuse_target, opt.flip_ms,
		 opt.swap_pressure ? " -S" : "");
}

static void on_signal(int sig)
{
	interrupted = sig;
}

static void signals_setup(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void check_requirements(void)
{
	long reuse, cow;

	if (geteuid())
		ksft_exit_skip("must run as root\n");
	if (access(KSM_SYSFS "run", W_OK))
		ksft_exit_skip("KSM not available (" KSM_SYSFS "run)\n");
	if (access(KSM_SYSFS "wp_reuse", F_OK))
		ksft_exit_skip(KSM_SYSFS "wp_reuse missing: kernel without CONFIG_KSM_WP_REUSE\n");
	if (read_ksm_fault_counts(&reuse, &cow))
		ksft_exit_fail_msg("/proc/vmstat lacks ksm_wp_reuse or cow_ksm\n");
}

static void print_settings(void)
{
	ksft_print_msg("seed %llu; reproduce: %s\n",
		       (unsigned long long)opt.seed, cmdline);
	ksft_print_msg(
		"%s mix; %u workers x %zu pages in %zu chunks (anon and private file), 2 threads in odd workers; merge_across_nodes %s; max_page_sharing %s and 2 in alternate phases\n",
		opt.swapcache_mix ? "swap-cache" : opt.reuse_mix ? "reuse-heavy" :
		"hostile",
		opt.workers, npages, nchunks,
		!knobs[K_MAN].have ? "absent" :
		opt.man < 0 ? "1 and 0 in alternate phase pairs" :
		phase_man(0), phase_mps(0));
	ksft_print_msg("NUMA nodes with memory: %d%s; gup_test: %s; swap: %s; memcgs: %s%s\n",
		       env.nr_nodes, env.nr_nodes > 1 ? "" : " (move_pages skipped)",
		       env.gup ? "yes" : "no (R/O pins skipped)",
		       !env.swap ? "no (MADV_PAGEOUT cannot swap)" :
		       env.swap_dev[0] ? env.swap_dev : "yes",
		       env.cg_dir[0] ? "2 (workers alternate)" : "not used: ",
		       env.cg_dir[0] ? "" : env.cg_why);
	if (opt.swap_pressure)
		ksft_print_msg(
			"swap pressure: swapping to %s at the highest priority; each worker cgroup's memory.max is 3/4 of its workers' pages\n",
			       env.swap_dev);
	else if (opt.swapcache_mix)
		ksft_print_msg("swap-cache mix: swapping to %s, no memory.max\n",
			       env.swap_dev);
}

/* Everything before the load; exits (restoring what it changed) on failure. */
static void setup(struct kcounts *base, long *reuse, long *cow)
{
	ctl_pid = getpid();
	shm = mmap(NULL, sizeof(*shm) + opt.workers * nchunks * sizeof(uintptr_t),
		   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		ksft_exit_fail_perror("mmap");
	if (knobs_save())
		ksft_exit_fail_msg("cannot read the KSM knobs in " KSM_SYSFS "\n");
	atexit(cleanup);
	signals_setup();
	/* Orphaned children of workers are ours to reap. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	env_setup();
	print_settings();

	if (ksm_setup())
		ksft_exit_fail_msg("cannot set up KSM (" KSM_SYSFS ")\n");
	if (map_keep_page())
		ksft_exit_fail_perror("keep page");
	/* Start from settled counters: no stale nodes from earlier tests. */
	if (ksm_settle(base, NULL) < 2)
		ksft_print_msg("note: ksmd did not complete 2 full scans before the run\n");
	read_ksm_fault_counts(reuse, cow);
}

/* The load itself; true if every worker checked every page at the end. */
static bool run_load(double *duration, long *max_sharing, long reuse0,
		     long cow0)
{
	double start;

	if (start_workers())
		ksft_exit_fail_perror("fork");
	if (!wait_workers(W_RUNNING, false) || setup_failed())
		ksft_exit_fail_msg("workers did not start\n");
	chaos_start();
	start = now_s();
	ksmd_pages = -read_long(KSM_SYSFS "pages_scanned");
	pswp[0] = -vmstat_read("pswpin");
	pswp[1] = -vmstat_read("pswpout");
	*max_sharing = monitor(start + opt.duration, reuse0, cow0);
	ksmd_pages += read_long(KSM_SYSFS "pages_scanned");
	pswp[0] += vmstat_read("pswpin");
	pswp[1] += vmstat_read("pswpout");
	chaos_end();
	*duration = now_s() - start;
	return !interrupted && finish_workers();
}

int main(int argc, char **argv)
{
	long reuse0 = 0, cow0 = 0, reuse1 = 0, cow1 = 0, max_sharing;
	struct kcounts base;
	double duration;
	bool finished;

	pagesize = getpagesize();
	parse_opts(argc, argv);
	ksft_print_header();
	if (!intrusive())
		ksft_exit_skip("it changes the whole machine's KSM" INTRUSIVE_ONLY "\n");
	check_requirements();
	ksft_set_plan(3);
	setup(&base, &reuse0, &cow0);

	finished = run_load(&duration, &max_sharing, reuse0, cow0);
	read_ksm_fault_counts(&reuse1, &cow1);
	if (interrupted)
		ksft_exit_fail_msg("interrupted by signal %d\n", interrupted);

	result_content(finished);
	kill_workers();
	result_converge(&base);
	result_responsive();
	print_report(duration, reuse1 - reuse0, cow1 - cow0, max_sharing);
	cleanup();
	ksft_finished();
}
