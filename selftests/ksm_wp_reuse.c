// SPDX-License-Identifier: GPL-2.0
/*
 * KSM write-fault reuse tests (CONFIG_KSM_WP_REUSE).
 *
 * A write (or unshare) fault on a KSM page that only the faulting PTE maps
 * may reuse the page instead of copying it (the idea of v5.1's commit
 * 52d1e606 "mm: reuse only-pte-mapped KSM page in do_wp_page()"). The
 * behaviour is switched by /sys/kernel/mm/ksm/wp_reuse and counted in
 * /proc/vmstat: ksm_wp_reuse counts reuses, cow_ksm keeps counting copies.
 *
 * Reuse saves a copy, but it must never hand out a page that somebody else
 * can still observe or that is billed to somebody else. So besides checking
 * that single-mapped KSM pages are reused (same PFN, data intact, exact
 * counters), these tests check that KSM pages still mapped twice, shared with
 * a child, referenced by a pipe, in the swap cache or charged to another
 * memcg are copied; that uffd-wp is still honoured first; that a R/O
 * long-term pin stays coherent; that the switch works and rejects bad input;
 * that KSM's counters converge; and that a reused page is an ordinary anon
 * page afterwards (migration, swap-out, re-merge), also in private file
 * mappings and mremap()ed VMAs, where the page index differs from the one
 * the faulting address suggests.
 *
 * Method: twin pages with identical content (unique per page and test) are
 * merged by ksmd, which is then stopped with run=0 (keeping them merged, and
 * keeping ksmd's lookups from taking references during the writes). Every
 * CPU's LRU batches are drained before writing, because ksmd's activation of
 * each new KSM page leaves a reference in some CPU's batch, which makes a
 * fault copy (result=refcount): move_pages() of a page of our own drains them
 * all (lru_cache_disable()). A page was reused if its PFN did not change, its
 * data is right and the ksm:ksm_wp_reuse tracepoint, in a tracefs instance of
 * our own that records only the writing task (set_event_pid), says "reused"
 * for it; copied if its PFN changed, the tracepoint names the refusal and the
 * writer allocated a page for it (kmem:mm_page_alloc, same instance).
 * /proc/vmstat's ksm_wp_reuse and cow_ksm count every process's faults: they
 * are checked to have risen at least by ours, and exactly by ours in the
 * intrusive mode, which assumes a machine of its own.
 *
 * Safe by default on a real machine: the default run restores every knob it
 * changes (ksmd's, wp_reuse, NUMA balancing, proactive compaction), removes
 * its tracefs instance, cgroups and mounts, and touches nothing else. Cases
 * that must do more run only with KSM_WP_REUSE_INTRUSIVE=1 (a throwaway VM:
 * make test sets it) and otherwise skip, saying so: adding a swap device of
 * their own (which the whole machine's reclaim then prefers), unmerging every
 * KSM page of the machine (run=2, also how max_page_sharing is changed and
 * restored), poisoning pages (MADV_SOFT_OFFLINE, MADV_HWPOISON), enabling the
 * memory controller in the root cgroup when it is not, dropping caches when
 * move_pages() cannot drain, driving DAMON, and checking exact deltas of
 * machine-wide counters.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/magic.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "vm_util.h"
#include "ksm_wp_reuse_util.h"
#include "../../../../mm/gup_test.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif
#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE		(1 << 1)
#endif
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#define PR_GET_MEMORY_MERGE	68
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE		25
#endif
#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE	101
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC		0x0001U
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC	0x63677270
#endif
#ifndef DEBUGFS_MAGIC
#define DEBUGFS_MAGIC		0x64626720
#endif
#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC		0x74726163
#endif
#ifndef MADV_HWPOISON
#define MADV_HWPOISON		100
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC	BIT(15)
#endif
#ifndef BUS_MCEERR_AR
#define BUS_MCEERR_AR		4
#endif

/* include/uapi/linux/kernel-page-flags.h (bit numbers) */
#define KWR_KPF_LRU		BIT_ULL(5)
#define KWR_KPF_WRITEBACK	BIT_ULL(8)
#define KWR_KPF_ANON		BIT_ULL(12)
#define KWR_KPF_SWAPCACHE	BIT_ULL(13)
#define KWR_KPF_HWPOISON	BIT_ULL(19)
#define KWR_KPF_KSM		BIT_ULL(21)
#define KWR_KPF_THP		BIT_ULL(22)

#define KSM_SYSFS		"/sys/kernel/mm/ksm/"
#define WP_REUSE		KSM_SYSFS "wp_reuse"
#define CG_ROOT			"/sys/fs/cgroup"
#define TRACEFS			"/sys/kernel/tracing"
#define DEBUGFS			"/sys/kernel/debug"
#define TRACE_EVENT_DIR		"events/ksm/ksm_wp_reuse"
#define ALLOC_EVENT_DIR		"events/kmem/mm_page_alloc"

/*
 * SKIP() from a helper returns from the helper only: this ends the whole
 * case (the parent runs the teardown), as a skip unless it failed already.
 */
static void __noreturn __printf(2, 3)
skip_case(struct __test_metadata *_metadata, const char *fmt, ...)
{
	va_list ap;

	fflush(NULL);
	if (_metadata->exit_code == KSFT_FAIL)
		_exit(KSFT_FAIL);
	va_start(ap, fmt);
	vsnprintf(_metadata->results->reason,
		  sizeof(_metadata->results->reason), fmt, ap);
	va_end(ap);
	fprintf(TH_LOG_STREAM, "#      SKIP      %s\n", _metadata->results->reason);
	_metadata->exit_code = KSFT_SKIP;
	_exit(KSFT_SKIP);
}

/* ksmd gets this long to merge what a test expects to be merged. */
#define MERGE_TIMEOUT_S		180
/* The word of each page that a test's write changes. */
#define MARK_WORD		1

/* Content tags: pages only merge with their twin of the same test. */
enum {
	TAG_SINGLE = 0x101,
	TAG_TWICE,
	TAG_CHILD,
	TAG_SWITCH,
	TAG_VMSPLICE,
	TAG_SWAPCACHE,
	TAG_UFFD,
	TAG_FILE,
	TAG_MREMAP,
	TAG_MEMCG,	/* + round number */
	TAG_PIN = TAG_MEMCG + 16,
	TAG_MANY,
	TAG_CONVERGE,
	TAG_REPARENT,
	TAG_RFORK,
	TAG_PINFORK,
	TAG_ORPHAN,
	TAG_UNMERGE_REUSED,
	TAG_UNMERGE_MADV,
	TAG_UNMERGE_PRCTL,
	TAG_UNMERGE_RUN,
	TAG_SMART,
	TAG_GUPFAST,
	TAG_CHAIN,
	TAG_FORCE,
	TAG_COLLAPSE,
	TAG_SOFTOFF,
	TAG_REMOTE,
	TAG_REMOTE_MEMCG,	/* + round number */
	TAG_UFFD_ASYNC = TAG_REMOTE_MEMCG + 8,
	TAG_HWPOISON,
	TAG_PRIME,
	TAG_RACE,	/* + batch number */
	TAG_UNIQUE = TAG_RACE + 64,	/* merges with nothing */
};

/*
 * What the tests need set, saved in setup and restored in teardown (in
 * reverse order). advisor_mode must be "none" for pages_to_scan to be
 * writable; smart_scan off keeps ksmd from skipping pages that did not merge
 * at once; NUMA balancing and proactive compaction would move pages between
 * our PFN reads and writes. A knob without a value is only saved and
 * restored: a test changes it. max_page_sharing can only change while no KSM
 * pages exist (EBUSY): restoring it unmerges everything first (run=2; run
 * itself is restored after it). Only the intrusive max_page_sharing_chain
 * changes it.
 */
static const struct knob {
	const char *path;
	const char *value;	/* NULL: save and restore only */
	bool optional;
	bool unmerge;		/* writable only without KSM pages */
} knobs[] = {
	{ KSM_SYSFS "advisor_mode", "none", true },
	{ KSM_SYSFS "run", "0", false },
	{ KSM_SYSFS "pages_to_scan", "20000", false },
	{ KSM_SYSFS "sleep_millisecs", "0", false },
	{ KSM_SYSFS "smart_scan", "0", true },
	{ KSM_SYSFS "max_page_sharing", NULL, true, true },
	{ WP_REUSE, "1", false },
	{ "/proc/sys/kernel/numa_balancing", "0", true },
	{ "/proc/sys/vm/compaction_proactiveness", "0", true },
};

#define NR_PIDS	4

/* What teardown must undo; shared with the parent that runs teardown. */
struct kwr_state {
	char saved[ARRAY_SIZE(knobs)][64];
	bool restore[ARRAY_SIZE(knobs)];
	pid_t pids[NR_PIDS];		/* helper processes to kill */
	char cg_dir[128];		/* our parent cgroup, "" if none */
	bool cg_root_memory;		/* we enabled +memory in the root */
	char trace_dir[128];		/* our tracefs instance, "" if none */
	char swap_dev[32];		/* our swap device, "" if none */
	int swap_zram;			/* its zram number + 1, 0 if not zram */
	long swap_base_kb;		/* in use on it by the primed pages */
	bool damon;			/* we set up a kdamond */
	bool mounted_debugfs;
	bool mounted_tracefs;
};

FIXTURE(ksm_wp_reuse)
{
	struct kwr_state st;
};

static size_t pagesize;
static int pagemap_fd = -1;
static int kpageflags_fd = -1;

/* --- /proc/vmstat --------------------------------------------------------- */

struct ksm_cnt {
	long reuse;	/* ksm_wp_reuse */
	long cow;	/* cow_ksm */
};

static int read_cnt(struct ksm_cnt *c)
{
	/* A counter that is missing reads as 0 (and read_cnt() fails). */
	c->reuse = 0;
	c->cow = 0;
	return read_ksm_fault_counts(&c->reuse, &c->cow);
}

/* --- page content --------------------------------------------------------- */

/* Word @w of page @idx: word 0 makes every (tag, idx) unique. */
static uint64_t pat(unsigned int tag, size_t idx, size_t w)
{
	if (!w)
		return ((uint64_t)tag << 32) | idx;
	return (((uint64_t)tag << 40) ^ ((uint64_t)idx << 16) ^ w) *
		0x9e3779b97f4a7c15ULL;
}

static uint64_t mark(unsigned int tag, size_t idx)
{
	return ~pat(tag, idx, MARK_WORD);
}

static void fill(char *area, size_t n, unsigned int tag)
{
	size_t i, w;

	for (i = 0; i < n; i++) {
		uint64_t *p = (uint64_t *)(area + i * pagesize);

		for (w = 0; w < pagesize / sizeof(*p); w++)
			p[w] = pat(tag, i, w);
	}
}

/*
 * One 8-byte store per page: exactly one write fault per page. Atomic
 * accesses here and in page_ok() make sure the compiler really accesses
 * the memory instead of using what it knows was stored there.
 */
static void mark_pages(char *area, size_t first, size_t n, unsigned int tag)
{
	size_t i;

	for (i = first; i < first + n; i++) {
		uint64_t *p = (uint64_t *)(area + i * pagesize);

		__atomic_store_n(&p[MARK_WORD], mark(tag, i), __ATOMIC_RELAXED);
	}
}

/* Is @page page @idx of @tag, with the mark if @marked? */
static bool page_ok(const char *page, unsigned int tag, size_t idx, bool marked)
{
	const uint64_t *p = (const uint64_t *)page;
	size_t w;

	for (w = 0; w < pagesize / sizeof(*p); w++) {
		uint64_t want = (marked && w == MARK_WORD) ? mark(tag, idx) :
							      pat(tag, idx, w);

		if (__atomic_load_n(&p[w], __ATOMIC_RELAXED) != want)
			return false;
	}
	return true;
}

static long bad_pages(const char *area, size_t first, size_t n,
		      unsigned int tag, bool marked)
{
	long bad = 0;
	size_t i;

	for (i = first; i < first + n; i++)
		bad += !page_ok(area + i * pagesize, tag, i, marked);
	return bad;
}

/* --- pagemap / kpageflags --------------------------------------------------- */

struct pg {
	uint64_t pme;		/* pagemap entry, 0 if unreadable */
	unsigned long pfn;	/* 0 if not present */
	uint64_t kpf;		/* kpageflags, 0 if not present */
};

/*
 * Read @n pages from the pipe @fd: how many do not hold the old (unmarked)
 * data of @tag, or -1 if the pipe did not give n pages.
 */
static long pipe_bad_pages(int fd, size_t n, unsigned int tag)
{
	ssize_t got, total = 0;
	char *buf = malloc(n * pagesize);
	long bad = -1;

	if (!buf)
		return -1;
	while (total < (ssize_t)(n * pagesize)) {
		got = read(fd, buf + total, n * pagesize - total);
		if (got <= 0)
			break;
		total += got;
	}
	if (total == (ssize_t)(n * pagesize))
		bad = bad_pages(buf, 0, n, tag, false);
	free(buf);
	return bad;
}

static struct pg pg_info(int pm_fd, const char *addr)
{
	struct pg pg = { 0 };
	off_t off = (uintptr_t)addr / pagesize * sizeof(uint64_t);

	if (pread(pm_fd, &pg.pme, sizeof(pg.pme), off) != sizeof(pg.pme))
		pg.pme = 0;
	if (pg.pme & PM_PRESENT)
		pg.pfn = PAGEMAP_PFN(pg.pme);
	if (pg.pfn && pread(kpageflags_fd, &pg.kpf, sizeof(pg.kpf),
			    pg.pfn * sizeof(pg.kpf)) != sizeof(pg.kpf))
		pg.kpf = 0;
	return pg;
}

/* --- mappings, LRU drain, ksmd --------------------------------------------- */

static char *map_area(size_t n)
{
	char *p = mmap(NULL, n * pagesize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* Order-0 pages only (EINVAL: no THP in this kernel). */
	if (madvise(p, n * pagesize, MADV_NOHUGEPAGE) && errno != EINVAL) {
		munmap(p, n * pagesize);
		return NULL;
	}
	return p;
}

/*
 * Drain every CPU's LRU batches. move_pages() with a target node drains them
 * all before it looks at a page (do_pages_move() -> lru_cache_disable() ->
 * __lru_add_drain_all(true)); moving a page of our own to the node it is on
 * changes nothing else. Without move_pages() (no CONFIG_NUMA) drop_caches=1
 * drains them too (lru_add_drain_all() first thing), but it also drops the
 * machine's clean page cache: only in the intrusive mode. compact_memory
 * would drain too, but compaction then migrates pages and puts each migrated
 * folio into this CPU's lru_add batch, where it is off the LRU (MADV_PAGEOUT
 * skips it) and holds a reference.
 */
static char *drain_page;

static int drain_lru(void)
{
	int node, status = -1;
	void *p;

	if (!drain_page) {
		drain_page = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (drain_page == MAP_FAILED) {
			drain_page = NULL;
			return -ENOMEM;
		}
	}
	drain_page[0] = 1;
	p = drain_page;
	if (!syscall(__NR_move_pages, 0, 1, &p, NULL, &status, 0) &&
	    status >= 0) {
		node = status;
		if (!syscall(__NR_move_pages, 0, 1, &p, &node, &status,
			     MPOL_MF_MOVE))
			return 0;
	}
	if (intrusive())
		return write_str("/proc/sys/vm/drop_caches", "1");
	return -EOPNOTSUPP;
}

static bool swap_available(void)
{
	long total = -1, avail = -1;
	char line[128];
	FILE *f;

	f = fopen("/proc/meminfo", "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "SwapTotal: %ld kB", &total) == 1)
			continue;
		if (sscanf(line, "SwapFree: %ld kB", &avail) == 1)
			continue;
	}
	fclose(f);
	return total > 0 && avail > 1024;
}

/* --- swap devices of our own ------------------------------------------------ */

/*
 * The swap-cache tests swap to a device of their own, the preferred one while
 * they run, so that our pages go there and its use in /proc/swaps is ours: a loop
 * device (disk-like: its I/O completes asynchronously) or a zram device
 * (SWP_SYNCHRONOUS_IO). Teardown swaps it off and removes it.
 */
#define SWAP_DEV_PAGES	4096	/* 16 MiB of 4 KiB pages */

enum swap_kind { SWAP_LOOP, SWAP_ZRAM };

/*
 * Add a zram device of SWAP_DEV_PAGES pages with a swap header, recorded in
 * @st for teardown; its path in @path. 0 ok, 1 no zram here, -1 failed.
 */
static int zram_add(struct kwr_state *st, char *path, size_t len, char *why,
		    size_t wlen)
{
	char buf[32], attr[64];
	int nr, fd, err;

	if (read_str("/sys/class/zram-control/hot_add", buf, sizeof(buf))) {
		snprintf(why, wlen, "no zram (/sys/class/zram-control/hot_add)");
		return 1;
	}
	nr = atoi(buf);
	st->swap_zram = nr + 1;
	snprintf(attr, sizeof(attr), "/sys/block/zram%d/disksize", nr);
	snprintf(buf, sizeof(buf), "%zu", SWAP_DEV_PAGES * pagesize);
	err = write_str(attr, buf);
	if (err) {
		snprintf(why, wlen, "%s: %s", attr, strerror(-err));
		return -1;
	}
	snprintf(path, len, "/dev/zram%d", nr);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || write_swap_header(fd, pagesize, SWAP_DEV_PAGES)) {
		snprintf(why, wlen, "swap header on %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Our device gets the highest priority, and the machine's own swap devices
 * stay on as they are: swapping them off for the test and on again would
 * lose their discard flags, which /proc/swaps does not show. Priority alone
 * does not steer our pages to our device: 7.3's swap allocator first takes
 * the cluster this CPU last allocated from (swap_alloc_fast(),
 * percpu_swap_cluster), on whichever device, and looks at priorities only
 * once that cluster is used up (swap_alloc_slow()). So we prime this CPU (we
 * are pinned to it): page out pages of our own, a chunk at a time, until one
 * lands on our device. From then on this CPU allocates from our device's
 * cluster, and from our device again when a cluster is used up, it being the
 * highest priority. The primed pages stay swapped out until the case ends,
 * so the slots in use on our device start from a constant base, which every
 * check subtracts (our_swap_kb()).
 *
 * Do the swap-cache cases' assertions survive this? (1) That our pages went
 * to our device is checked, not assumed: its slots in use rise by exactly
 * ours after MADV_PAGEOUT. (2) Its slots are ours alone only while nobody
 * else swaps: another task on this CPU would allocate from our cluster, and
 * reclaim anywhere prefers our device. That, and adding a swap device the
 * machine's reclaim uses at all, is why these cases are intrusive: on the
 * machine of their own nothing else swaps. (3) The kind of device the case
 * is about (loop: I/O completes asynchronously; zram: SWP_SYNCHRONOUS_IO) is
 * the kind our pages meet, since they are on our device.
 */
#define PRIME_CHUNK	32
#define PRIME_PAGES	2048	/* more than a cluster (512 pages) of another device */

static int swap_prime(struct kwr_state *st, char *why, size_t wlen)
{
	char *p = map_area(PRIME_PAGES);
	long used = 0;
	size_t i;

	if (!p) {
		snprintf(why, wlen, "mmap of %d pages to prime the swap cluster",
			 PRIME_PAGES);
		return -1;
	}
	fill(p, PRIME_PAGES, TAG_PRIME);
	if (drain_lru()) {
		snprintf(why, wlen, "cannot drain the LRU batches");
		return -1;
	}
	for (i = 0; i < PRIME_PAGES && used <= 0; i += PRIME_CHUNK) {
		if (madvise(p + i * pagesize, PRIME_CHUNK * pagesize,
			    MADV_PAGEOUT)) {
			snprintf(why, wlen, "MADV_PAGEOUT: %s", strerror(errno));
			return -1;
		}
		used = swap_used_kb(st->swap_dev);
	}
	if (used <= 0) {
		snprintf(why, wlen, "%d pages paged out, none to %s", PRIME_PAGES,
			 st->swap_dev);
		return -1;
	}
	/* The primed pages stay mapped, swapped out, until we exit. */
	st->swap_base_kb = used;
	return 0;
}

/* KiB in use on our swap device beyond the primed pages', or -1. */
static long our_swap_kb(struct kwr_state *st)
{
	long used = swap_used_kb(st->swap_dev);

	return used < 0 ? -1 : used - st->swap_base_kb;
}

/*
 * Swap on a new device of @kind, the machine's preferred one while the case
 * runs. 0 ok, 1 not possible here (@why: skip), -1 failed (@why).
 */
static int swap_setup(struct kwr_state *st, enum swap_kind kind, char *why,
		      size_t wlen)
{
	char path[sizeof(st->swap_dev)];
	int fd = -1, ret;

	if (kind == SWAP_LOOP) {
		if (access("/dev/loop-control", F_OK)) {
			snprintf(why, wlen, "no loop devices (/dev/loop-control)");
			return 1;
		}
		fd = loop_swap_attach(pagesize, SWAP_DEV_PAGES, path, sizeof(path),
				      why, wlen);
		if (fd < 0)
			return -1;
	} else {
		ret = zram_add(st, path, sizeof(path), why, wlen);
		if (ret)
			return ret;
	}
	ret = swapon(path, SWAP_FLAG_PREFER | SWAP_FLAG_PRIO_MASK);
	if (ret)
		snprintf(why, wlen, "swapon %s: %s", path, strerror(errno));
	else
		snprintf(st->swap_dev, sizeof(st->swap_dev), "%s", path);
	if (fd >= 0)
		close(fd);
	if (ret)
		return -1;
	return swap_prime(st, why, wlen);
}

static void swap_teardown(struct kwr_state *st)
{
	char attr[64], buf[16];

	/* Helpers holding swap entries were killed: swapoff reads theirs in. */
	if (st->swap_dev[0] && swapoff(st->swap_dev))
		ksft_print_msg("swapoff %s: %s\n", st->swap_dev, strerror(errno));
	if (st->swap_zram) {
		snprintf(attr, sizeof(attr), "/sys/block/zram%d/reset",
			 st->swap_zram - 1);
		if (write_str(attr, "1"))
			ksft_print_msg("%s failed\n", attr);
		snprintf(buf, sizeof(buf), "%d", st->swap_zram - 1);
		if (write_str("/sys/class/zram-control/hot_remove", buf))
			ksft_print_msg("zram hot_remove %s failed\n", buf);
	}
}

/*
 * A /proc/meminfo value in kB, e.g. meminfo_kb("SwapCached"), or -1; with
 * the per-CPU deltas of the counters behind it folded in first.
 */
static long meminfo_kb(const char *key)
{
	char line[128];
	size_t len = strlen(key);
	long val = -1;
	FILE *f;

	write_str("/proc/sys/vm/stat_refresh", "1");
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':')
			val = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return val;
}

struct twin {
	int pm_fd;	/* pagemap of the process mapping @addr */
	char *addr;
};

static bool merged(const struct twin *x, const struct twin *y, size_t n,
		   bool log)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct pg a = pg_info(x->pm_fd, x->addr + i * pagesize);
		struct pg b = pg_info(y->pm_fd, y->addr + i * pagesize);

		if (a.pfn && a.pfn == b.pfn && (a.kpf & KWR_KPF_KSM))
			continue;
		if (log)
			ksft_print_msg("page %zu: pfn %#lx/%#lx flags %#llx, not one KSM page\n",
				       i, a.pfn, b.pfn, (unsigned long long)a.kpf);
		return false;
	}
	return true;
}

/*
 * Run ksmd until full_scans rose by at least @scans and, if @x is given,
 * until each of the @n pages of @x shares one KSM page with its twin in @y;
 * then stop ksmd with run=0, which keeps merged pages merged.
 */
static int ksm_scan(long scans, const struct twin *x, const struct twin *y,
		    size_t n)
{
	double deadline = now_s() + MERGE_TIMEOUT_S;
	long start = ksm_get_full_scans(), cur = start;
	int ret = -1;

	if (start < 0 || write_str(KSM_SYSFS "run", "1"))
		return -1;
	while (now_s() < deadline) {
		cur = ksm_get_full_scans();
		if (cur < 0)
			break;
		if (cur >= start + scans && (!x || merged(x, y, n, false))) {
			ret = 0;
			break;
		}
		usleep(10000);
	}
	if (write_str(KSM_SYSFS "run", "0"))
		ret = -1;
	if (!ret && x && !merged(x, y, n, true))
		ret = -1;
	if (ret)
		ksft_print_msg("ksmd: full_scans %ld -> %ld, %s\n", start, cur,
			       x ? "pages not merged" : "timeout");
	return ret;
}

/*
 * Map @n pages at *a and a twin at *b with the same content, merge each page
 * with its twin and stop ksmd. With @unmap_twin the twin is unmapped, which
 * leaves *a with single-mapped KSM pages.
 */
static int make_ksm_pages(char **a, char **b, size_t n, unsigned int tag,
			  bool unmap_twin)
{
	struct twin x, y;

	*a = map_area(n);
	*b = map_area(n);
	if (!*a || !*b)
		return -1;
	fill(*a, n, tag);
	fill(*b, n, tag);
	if (madvise(*a, n * pagesize, MADV_MERGEABLE) ||
	    madvise(*b, n * pagesize, MADV_MERGEABLE))
		return -1;
	x = (struct twin){ pagemap_fd, *a };
	y = (struct twin){ pagemap_fd, *b };
	if (ksm_scan(2, &x, &y, n))
		return -1;
	if (unmap_twin) {
		munmap(*b, n * pagesize);
		*b = NULL;
	}
	return 0;
}

/* --- counting per process: our tracefs instance ------------------------------ */

/*
 * 1: our instance is ready, 0: no tracefs (the reason in @why), -1: tracefs
 * has no ksm:ksm_wp_reuse event. The instance records only the tasks a
 * counting window names (set_event_pid), in a buffer of its own that
 * teardown removes with it.
 */
static int trace_prepare(struct kwr_state *st, char *why, size_t wlen)
{
	struct statfs sfs;

	if (statfs(TRACEFS, &sfs) || sfs.f_type != TRACEFS_MAGIC) {
		if (mount("tracefs", TRACEFS, "tracefs", 0, NULL)) {
			snprintf(why, wlen, "no tracefs at " TRACEFS ": %s",
				 strerror(errno));
			return 0;
		}
		st->mounted_tracefs = true;
	}
	if (access(TRACEFS "/" TRACE_EVENT_DIR, F_OK))
		return -1;
	snprintf(st->trace_dir, sizeof(st->trace_dir),
		 TRACEFS "/instances/ksm_wp_reuse.%d", getpid());
	if (mkdir(st->trace_dir, 0755)) {
		snprintf(why, wlen, "mkdir %s: %s", st->trace_dir, strerror(errno));
		st->trace_dir[0] = '\0';
		return 0;
	}
	/*
	 * Its buffer has the default size, room for some 20000 events per
	 * CPU; the largest window records about 4096: a full buffer is
	 * detected (trace_overrun()), never miscounted.
	 */
	return 1;
}

/* Open @name of our instance with O_TRUNC and write @s (may be ""). */
static int trace_write(struct kwr_state *st, const char *name, const char *s)
{
	char path[PATH_MAX];
	ssize_t len = strlen(s);
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", st->trace_dir, name);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -errno;
	if (len && write(fd, s, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

static char *trace_read(struct kwr_state *st)
{
	size_t size = 1 << 16, len = 0;
	char path[PATH_MAX], *buf, *nbuf;
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "%s/trace", st->trace_dir);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	buf = malloc(size);
	while (buf) {
		got = read(fd, buf + len, size - len - 1);
		if (got <= 0)
			break;
		len += got;
		if (size - len < 4096) {
			size *= 2;
			nbuf = realloc(buf, size);
			if (!nbuf)
				free(buf);
			buf = nbuf;
		}
	}
	close(fd);
	if (buf)
		buf[len] = '\0';
	return buf;
}

/* Events our instance lost to a full buffer (overrun), summed over CPUs. */
static long trace_overrun(struct kwr_state *st)
{
	char path[PATH_MAX], line[128];
	long sum = 0, val;
	int cpu, ncpu = sysconf(_SC_NPROCESSORS_CONF);
	FILE *f;

	for (cpu = 0; cpu < ncpu; cpu++) {
		snprintf(path, sizeof(path), "%s/per_cpu/cpu%d/stats",
			 st->trace_dir, cpu);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "overrun: %ld", &val) == 1 ||
			    sscanf(line, "dropped events: %ld", &val) == 1)
				sum += val;
		fclose(f);
	}
	return sum;
}

/* A ksm_wp_reuse event: which decision on which pfn, in which order. */
struct kwr_event {
	unsigned long pfn;
	size_t seq;
	int swapcache;	/* -1: not in the line */
	char res[32];
};

static int event_cmp(const void *x, const void *y)
{
	const struct kwr_event *a = x, *b = y;

	if (a->pfn != b->pfn)
		return a->pfn < b->pfn ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/*
 * A counting window: the KSM fault decisions and page allocations of up to
 * two tasks, from our instance (set_event_pid: other processes' faults, and
 * our own helper threads', are not recorded), and /proc/vmstat's
 * machine-wide ksm_wp_reuse and cow_ksm around it.
 */
struct kwr_count {
	struct ksm_cnt g0;
	long reused;	/* result=reused */
	long refused;	/* any other result: the fault copied */
	long results[10];	/* by result, see result_names[] */
	long allocs;	/* pages allocated (kmem:mm_page_alloc) */
	long g_reuse;	/* /proc/vmstat ksm_wp_reuse delta: everybody's */
	long g_cow;	/* /proc/vmstat cow_ksm delta: everybody's */
	char *log;	/* the window's trace */
	struct kwr_event *ev;	/* its ksm_wp_reuse events, by pfn */
	size_t nr_ev;
};

static const char * const result_names[] = {
	"reused", "mapped", "swapcache", "no_stable_node", "memcg",
	"refcount", "trylock", "freeze", "invalid",
};

/* Record the event of @line (one line) with result @res. */
static int add_event(struct kwr_count *c, const char *line, const char *res)
{
	const char *p = strstr(line, "pfn=0x"), *q;
	struct kwr_event *ev;

	if (!p)
		return -EINVAL;
	if (!(c->nr_ev & (c->nr_ev + 1))) {	/* 0, 1, 3, 7...: grow */
		ev = realloc(c->ev, (2 * c->nr_ev + 2) * sizeof(*ev));
		if (!ev)
			return -ENOMEM;
		c->ev = ev;
	}
	ev = &c->ev[c->nr_ev];
	ev->pfn = strtoul(p + strlen("pfn=0x"), NULL, 16);
	ev->seq = c->nr_ev++;
	q = strstr(p, "swapcache=");
	ev->swapcache = q ? atoi(q + strlen("swapcache=")) : -1;
	snprintf(ev->res, sizeof(ev->res), "%s", res);
	return 0;
}

static void count_free(struct kwr_count *c)
{
	free(c->log);
	c->log = NULL;
	free(c->ev);
	c->ev = NULL;
	c->nr_ev = 0;
}

/*
 * The result of the last ksm_wp_reuse event for @pfn in the window, or "",
 * and its swapcache field in *@swapcache (-1 if none).
 */
static void count_result(const struct kwr_count *c, unsigned long pfn,
			 char *res, size_t len, int *swapcache)
{
	size_t lo = 0, hi = c->nr_ev, mid;

	/* The first event after every one for @pfn. */
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (c->ev[mid].pfn <= pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	res[0] = '\0';
	*swapcache = -1;
	if (lo && c->ev[lo - 1].pfn == pfn) {
		snprintf(res, len, "%s", c->ev[lo - 1].res);
		*swapcache = c->ev[lo - 1].swapcache;
	}
}

static int events_enable(struct kwr_state *st, bool on)
{
	int ret = trace_write(st, TRACE_EVENT_DIR "/enable", on ? "1" : "0");

	return ret ? ret : trace_write(st, ALLOC_EVENT_DIR "/enable", on ? "1" : "0");
}

/*
 * Start counting what @pid (and @pid2 unless 0) do. Skips the case without
 * tracefs, fails it if the kernel has no ksm:ksm_wp_reuse event.
 */
static void count_start(struct __test_metadata *_metadata, struct kwr_state *st,
			struct kwr_count *c, pid_t pid, pid_t pid2)
{
	char why[256], pids[32];
	int ret = 1;

	memset(c, 0, sizeof(*c));
	if (!st->trace_dir[0])
		ret = trace_prepare(st, why, sizeof(why));
	ASSERT_LE(0, ret) TH_LOG("tracefs has no ksm:ksm_wp_reuse event");
	if (!ret)
		skip_case(_metadata, "per-process counts need tracefs: %s", why);
	snprintf(pids, sizeof(pids), pid2 ? "%d %d" : "%d", pid, pid2);
	ASSERT_EQ(0, trace_write(st, "set_event_pid", pids))
		TH_LOG("set_event_pid in %s", st->trace_dir);
	ASSERT_EQ(0, trace_write(st, "trace", ""));
	ASSERT_EQ(0, read_cnt(&c->g0));
	ASSERT_EQ(0, events_enable(st, true))
		TH_LOG("enabling ksm:ksm_wp_reuse and kmem:mm_page_alloc in %s",
		       st->trace_dir);
}

static void count_end(struct __test_metadata *_metadata, struct kwr_state *st,
		      struct kwr_count *c)
{
	char *line, *eol, *p, res[32];
	struct ksm_cnt g1;
	size_t i;

	ASSERT_EQ(0, events_enable(st, false));
	ASSERT_EQ(0, read_cnt(&g1));
	count_free(c);
	c->g_reuse = g1.reuse - c->g0.reuse;
	c->g_cow = g1.cow - c->g0.cow;
	ASSERT_EQ(0, trace_overrun(st))
		TH_LOG("%s lost events: a full buffer", st->trace_dir);
	c->log = trace_read(st);
	ASSERT_NE(NULL, c->log);
	/* One line at a time: a search must not run on into the next ones. */
	for (line = c->log; *line; line = eol ? eol + 1 : "") {
		eol = strchr(line, '\n');
		if (eol)
			*eol = '\0';
		p = strstr(line, " mm_page_alloc: ");
		if (p) {
			p = strstr(p, " order=");
			if (p)
				c->allocs += 1L << atoi(p + strlen(" order="));
		} else if (strstr(line, " ksm_wp_reuse: ")) {
			p = strstr(strstr(line, " ksm_wp_reuse: "), "result=");
			ASSERT_NE(NULL, p)
				TH_LOG("ksm_wp_reuse event without result: %s", line);
			p += strlen("result=");
			snprintf(res, sizeof(res), "%.*s", (int)strcspn(p, "\t "), p);
			ASSERT_EQ(0, add_event(c, line, res));
			if (!strcmp(res, "reused"))
				c->reused++;
			else
				c->refused++;
			for (i = 0; i < ARRAY_SIZE(result_names); i++)
				if (!strcmp(res, result_names[i]))
					c->results[i]++;
		}
		if (eol)
			*eol = '\n';
	}
	qsort(c->ev, c->nr_ev, sizeof(*c->ev), event_cmp);
}

/*
 * Machine-wide counters: others' faults add to them, so they must have risen
 * at least by our @reuse and @cow; exactly by them on a machine of its own.
 */
static void expect_global(struct __test_metadata *_metadata, const char *what,
			  const struct kwr_count *c, long reuse, long cow)
{
	if (intrusive()) {
		EXPECT_EQ(reuse, c->g_reuse) TH_LOG("%s: /proc/vmstat ksm_wp_reuse delta", what);
		EXPECT_EQ(cow, c->g_cow) TH_LOG("%s: /proc/vmstat cow_ksm delta", what);
	} else {
		EXPECT_LE(reuse, c->g_reuse) TH_LOG("%s: /proc/vmstat ksm_wp_reuse delta", what);
		EXPECT_LE(cow, c->g_cow) TH_LOG("%s: /proc/vmstat cow_ksm delta", what);
	}
}

/* The counted tasks' KSM faults: @n, all reused. */
static void expect_reused(struct __test_metadata *_metadata, const char *what,
			  const struct kwr_count *c, long n)
{
	EXPECT_EQ(n, c->reused) TH_LOG("%s: KSM faults that reused (tracepoint)", what);
	EXPECT_EQ(0, c->refused) TH_LOG("%s: KSM faults that copied (tracepoint)", what);
	expect_global(_metadata, what, c, n, 0);
}

/*
 * The counted tasks' KSM faults: @n, all copied, each allocating a page;
 * @decided: the switch was on, so each fault traced its refusal.
 */
static void expect_copied(struct __test_metadata *_metadata, const char *what,
			  const struct kwr_count *c, long n, bool decided)
{
	EXPECT_EQ(0, c->reused) TH_LOG("%s: KSM faults that reused (tracepoint)", what);
	EXPECT_EQ(decided ? n : 0, c->refused)
		TH_LOG("%s: KSM faults that copied (tracepoint)", what);
	EXPECT_LE(n, c->allocs) TH_LOG("%s: pages the writer allocated", what);
	expect_global(_metadata, what, c, 0, n);
}

/* No KSM fault by the counted tasks. */
static void expect_no_ksm_fault(struct __test_metadata *_metadata,
				const char *what, const struct kwr_count *c)
{
	EXPECT_EQ(0, c->reused + c->refused) TH_LOG("%s: KSM faults (tracepoint)", what);
	expect_global(_metadata, what, c, 0, 0);
}

/*
 * Expect the last decision on each of the @n pfns in the window to be @want:
 * "reused" or the reason of a refusal ("" for none); and, unless @swapcache
 * is -1, its swapcache field to be @swapcache.
 */
static void expect_results_sc(struct __test_metadata *_metadata,
			      const struct kwr_count *c, const unsigned long *pfn,
			      size_t n, const char *want, int swapcache)
{
	long wrong = 0;
	char res[32];
	size_t i;
	int sc;

	ASSERT_NE(NULL, c->log);
	for (i = 0; i < n; i++) {
		count_result(c, pfn[i], res, sizeof(res), &sc);
		if ((strcmp(res, want) || (swapcache >= 0 && sc != swapcache)) &&
		    wrong++ < 4)
			TH_LOG("pfn %#lx: trace result \"%s\" swapcache=%d, expected %s%s",
			       pfn[i], res, sc, want,
			       swapcache < 0 ? "" : swapcache ? " swapcache=1" : " swapcache=0");
	}
	EXPECT_EQ(0, wrong) TH_LOG("trace results");
}

static void expect_results(struct __test_metadata *_metadata,
			   const struct kwr_count *c, const unsigned long *pfn,
			   size_t n, const char *want)
{
	expect_results_sc(_metadata, c, pfn, n, want, -1);
}

/* --- writing KSM pages ------------------------------------------------------ */

/*
 * Drain all LRU batches, then record the PFNs of pages [first, first + n)
 * of @area (PFNs are read after the drain) and check that each is a KSM page
 * mapped by this PTE only if @exclusive, or mapped elsewhere too if not.
 */
static void prepare_write(struct __test_metadata *_metadata, char *area,
			  size_t first, size_t n, unsigned long *pfn,
			  bool exclusive)
{
	size_t i;

	ASSERT_EQ(0, drain_lru());
	for (i = first; i < first + n; i++) {
		struct pg pg = pg_info(pagemap_fd, area + i * pagesize);

		ASSERT_TRUE(pg.pfn && (pg.kpf & KWR_KPF_KSM))
			TH_LOG("page %zu not KSM before the write: pme %#llx kpageflags %#llx",
			       i, (unsigned long long)pg.pme,
			       (unsigned long long)pg.kpf);
		ASSERT_EQ((int)exclusive, !!(pg.pme & PM_MMAP_EXCLUSIVE))
			TH_LOG("page %zu: expected it mapped %s", i,
			       exclusive ? "once" : "more than once");
		if (!(pg.kpf & KWR_KPF_LRU))
			TH_LOG("note: page %zu is not on an LRU list after the drain", i);
		pfn[i] = pg.pfn;
	}
}

/*
 * After a write (@marked) or an unshare fault (!@marked) on pages
 * [first, first + n) of @area, counted in @c, check the data and that every
 * page was reused (same PFN, n faults reused, trace "reused" for each pfn)
 * or copied (new PFN, n faults copied, a page allocated for each; the reason
 * is the caller's to check). Either way no page is KSM any more. A copy is
 * traced only while the switch is on.
 */
static void check_outcome(struct __test_metadata *_metadata, const char *what,
			  char *area, size_t first, size_t n, unsigned int tag,
			  bool marked, const unsigned long *pfn,
			  const struct kwr_count *c, bool reused)
{
	long same = 0, ksm = 0, bad;
	size_t i;

	bad = bad_pages(area, first, n, tag, marked);
	for (i = first; i < first + n; i++) {
		struct pg pg = pg_info(pagemap_fd, area + i * pagesize);

		same += pg.pfn == pfn[i];
		ksm += !!(pg.kpf & KWR_KPF_KSM);
	}
	EXPECT_EQ(0, bad)
		TH_LOG("%s: %ld of %zu pages hold wrong data", what, bad, n);
	EXPECT_EQ(0, ksm)
		TH_LOG("%s: %ld of %zu pages are still KSM pages", what, ksm, n);
	if (reused) {
		EXPECT_EQ((long)n, same)
			TH_LOG("%s: only %ld of %zu pages kept their PFN (expected reuse)",
			       what, same, n);
		expect_reused(_metadata, what, c, n);
		expect_results(_metadata, c, pfn + first, n, "reused");
	} else {
		EXPECT_EQ(0, same)
			TH_LOG("%s: %ld of %zu pages kept their PFN (expected copy)",
			       what, same, n);
		expect_copied(_metadata, what, c, n, read_long(WP_REUSE) == 1);
	}
}

/*
 * Write pages [first, first + n) of @area, KSM pages mapped once if
 * @exclusive, and check they were all reused (@reused) or all copied: see
 * check_outcome(). The window's trace is left in @c for the caller
 * (count_free() it).
 */
static void write_counted(struct __test_metadata *_metadata,
			  struct kwr_state *st, const char *what, char *area,
			  size_t first, size_t n, unsigned int tag,
			  unsigned long *pfn, bool exclusive, bool reused,
			  struct kwr_count *c)
{
	prepare_write(_metadata, area, first, n, pfn, exclusive);
	count_start(_metadata, st, c, getpid(), 0);
	mark_pages(area, first, n, tag);
	count_end(_metadata, st, c);
	check_outcome(_metadata, what, area, first, n, tag, true, pfn, c,
		      reused);
}

static void write_and_check(struct __test_metadata *_metadata,
			    struct kwr_state *st, const char *what, char *area,
			    size_t first, size_t n, unsigned int tag,
			    unsigned long *pfn, bool reused)
{
	struct kwr_count c;

	write_counted(_metadata, st, what, area, first, n, tag, pfn, true,
		      reused, &c);
	count_free(&c);
}

/* --- helper processes ------------------------------------------------------ */

static void track_pid(struct kwr_state *st, int slot, pid_t pid)
{
	st->pids[slot] = pid;
}

/* Reap a helper; returns its exit status, or -1 if it did not exit. */
static int reap(struct kwr_state *st, int slot)
{
	int status;
	pid_t pid = st->pids[slot];

	st->pids[slot] = 0;
	if (pid <= 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * Body of a child that shares @n pages of @area with its parent: wait for
 * the parent's go (a count, then that many PFNs), then check the child
 * still sees the old data (marked if @marked) and, if PFNs were sent, the
 * old PFNs.
 * Exit: 0 ok, 1 data changed, 2 PFN changed, 3 protocol error.
 */
static int old_data_child(char *area, size_t n, unsigned int tag, bool marked,
			  int rfd)
{
	unsigned long pfn;
	size_t i, cnt;
	int pm_fd;

	if (read(rfd, &cnt, sizeof(cnt)) != sizeof(cnt) || (cnt && cnt != n))
		return 3;
	pm_fd = open("/proc/self/pagemap", O_RDONLY);
	if (pm_fd < 0)
		return 3;
	for (i = 0; i < n; i++) {
		if (!page_ok(area + i * pagesize, tag, i, marked))
			return 1;
		if (!cnt)
			continue;
		if (read(rfd, &pfn, sizeof(pfn)) != sizeof(pfn))
			return 3;
		if (pg_info(pm_fd, area + i * pagesize).pfn != pfn)
			return 2;
	}
	return 0;
}

/* Fork an old_data_child() for pages with the old data marked if @marked. */
static pid_t fork_data_child(char *area, size_t n, unsigned int tag,
			     bool marked, int *wfd)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (!pid) {
		close(fds[1]);
		_exit(old_data_child(area, n, tag, marked, fds[0]));
	}
	close(fds[0]);
	*wfd = fds[1];
	return pid;
}

static pid_t fork_old_data_child(char *area, size_t n, unsigned int tag,
				 int *wfd)
{
	return fork_data_child(area, n, tag, false, wfd);
}

static int release_old_data_child(int wfd, size_t n, const unsigned long *pfn)
{
	const ssize_t len = n * sizeof(*pfn);
	size_t cnt = pfn ? n : 0;
	int ret = 0;

	if (write(wfd, &cnt, sizeof(cnt)) != sizeof(cnt))
		ret = -1;
	else if (pfn && write(wfd, pfn, len) != len)
		ret = -1;
	close(wfd);
	return ret;
}

/* --- fixture ----------------------------------------------------------------- */

static void restore_knobs(struct kwr_state *st)
{
	char cur[64];
	int i;

	for (i = ARRAY_SIZE(knobs) - 1; i >= 0; i--) {
		if (!st->restore[i])
			continue;
		if (knobs[i].unmerge && !read_str(knobs[i].path, cur, sizeof(cur)) &&
		    strcmp(cur, st->saved[i]))
			write_str(KSM_SYSFS "run", "2");
		if (write_str(knobs[i].path, st->saved[i]))
			ksft_print_msg("could not restore %s to \"%s\"\n",
				       knobs[i].path, st->saved[i]);
		st->restore[i] = false;
	}
}

FIXTURE_SETUP(ksm_wp_reuse)
{
	struct kwr_state *st = &self->st;
	struct ksm_cnt c;
	cpu_set_t cpus;
	struct pg pg;
	size_t i;
	char *p;
	int cpu;

	pagesize = getpagesize();
	if (geteuid())
		SKIP(return, "must run as root");
	if (access(KSM_SYSFS "run", W_OK))
		SKIP(return, "KSM not available (" KSM_SYSFS "run)");
	if (access(WP_REUSE, F_OK))
		SKIP(return, WP_REUSE " missing: kernel without CONFIG_KSM_WP_REUSE");
	ASSERT_EQ(0, read_cnt(&c))
		TH_LOG("/proc/vmstat lacks ksm_wp_reuse or cow_ksm");

	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	ASSERT_GE(pagemap_fd, 0);
	kpageflags_fd = open("/proc/kpageflags", O_RDONLY);
	if (kpageflags_fd < 0)
		SKIP(return, "/proc/kpageflags: %s", strerror(errno));
	p = map_area(1);
	ASSERT_NE(NULL, p);
	p[0] = 1;
	pg = pg_info(pagemap_fd, p);
	munmap(p, pagesize);
	if (!pg.pfn)
		SKIP(return, "pagemap does not show PFNs");

	/*
	 * Run here only: the faulting CPU is then the one whose LRU batch
	 * holds anything we just put there.
	 */
	cpu = sched_getcpu();
	if (cpu >= 0) {
		CPU_ZERO(&cpus);
		CPU_SET(cpu, &cpus);
		if (sched_setaffinity(0, sizeof(cpus), &cpus))
			TH_LOG("note: cannot pin to CPU %d", cpu);
	}

	if (drain_lru())
		SKIP(return,
		     "no way to drain every CPU's LRU batches but dropping caches (move_pages(): %s)"
		     INTRUSIVE_ONLY, strerror(errno));

	/* Save everything first: a failing setup gets no teardown. */
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		int err = read_str(knobs[i].path, st->saved[i],
				   sizeof(st->saved[i]));

		if (err && knobs[i].optional)
			continue;
		ASSERT_EQ(0, err) TH_LOG("reading %s", knobs[i].path);
		st->restore[i] = true;
	}
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		int err;

		if (!st->restore[i] || !knobs[i].value ||
		    !strcmp(st->saved[i], knobs[i].value))
			continue;
		err = write_str(knobs[i].path, knobs[i].value);
		if (err) {
			restore_knobs(st);
			ASSERT_EQ(0, err)
				TH_LOG("writing %s to %s", knobs[i].value, knobs[i].path);
		}
	}
}

static void damon_stop(struct kwr_state *st);

FIXTURE_TEARDOWN_PARENT(ksm_wp_reuse)
{
	struct kwr_state *st = &self->st;
	char path[PATH_MAX];
	int i, j;

	for (i = 0; i < NR_PIDS; i++)
		if (st->pids[i] > 0)
			kill(st->pids[i], SIGKILL);
	damon_stop(st);
	swap_teardown(st);
	if (st->trace_dir[0] && rmdir(st->trace_dir))
		ksft_print_msg("rmdir %s: %s\n", st->trace_dir, strerror(errno));
	if (st->cg_dir[0]) {
		static const char * const sub[] = { "/a", "/b", "" };

		for (i = 0; i < 3; i++) {
			snprintf(path, sizeof(path), "%s%s", st->cg_dir, sub[i]);
			/* Killed helpers may take a moment to leave. */
			for (j = 0; j < 100; j++) {
				if (!rmdir(path) || errno == ENOENT)
					break;
				usleep(20000);
			}
		}
	}
	if (st->cg_root_memory)
		write_str(CG_ROOT "/cgroup.subtree_control", "-memory");
	if (st->mounted_debugfs)
		umount(DEBUGFS);
	if (st->mounted_tracefs)
		umount(TRACEFS);
	restore_knobs(st);
}

/* --- the tests ----------------------------------------------------------------- */

/* A KSM page that only the faulting PTE maps is reused. */
TEST_F_TIMEOUT(ksm_wp_reuse, single_mapped_reused, 300)
{
	const size_t n = 8;
	unsigned long pfn[8];
	char *a, *b;

	ASSERT_EQ(0, make_ksm_pages(&a, &b, n, TAG_SINGLE, true));
	write_and_check(_metadata, &self->st, "single-mapped", a, 0, n,
			TAG_SINGLE, pfn, true);
	munmap(a, n * pagesize);
}

/* A KSM page still mapped by its twin is copied; the twin keeps the page. */
TEST_F_TIMEOUT(ksm_wp_reuse, mapped_twice_copied, 300)
{
	const size_t n = 8;
	unsigned long pfn[8];
	struct kwr_count c;
	long twin_bad = 0;
	char *a, *b;
	size_t i;

	ASSERT_EQ(0, make_ksm_pages(&a, &b, n, TAG_TWICE, false));
	write_counted(_metadata, &self->st, "mapped twice", a, 0, n, TAG_TWICE,
		      pfn, false, false, &c);
	expect_results(_metadata, &c, pfn, n, "mapped");
	count_free(&c);

	for (i = 0; i < n; i++) {
		struct pg pg = pg_info(pagemap_fd, b + i * pagesize);

		twin_bad += pg.pfn != pfn[i] || !(pg.kpf & KWR_KPF_KSM);
	}
	EXPECT_EQ(0, twin_bad) TH_LOG("twin pages lost their KSM page");
	EXPECT_EQ(0, bad_pages(b, 0, n, TAG_TWICE, false))
		TH_LOG("the twin sees the write");
	munmap(a, n * pagesize);
	munmap(b, n * pagesize);
}

/*
 * A KSM page whose twin is gone but which a forked child maps too is copied;
 * the child keeps the old page and data.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, shared_with_child_copied, 300)
{
	const size_t n = 8;
	unsigned long pfn[8];
	struct kwr_count c;
	char *a, *b;
	pid_t pid;
	int wfd;

	ASSERT_EQ(0, make_ksm_pages(&a, &b, n, TAG_CHILD, true));
	pid = fork_old_data_child(a, n, TAG_CHILD, &wfd);
	ASSERT_GT(pid, 0);
	track_pid(&self->st, 0, pid);

	write_counted(_metadata, &self->st, "shared with child", a, 0, n,
		      TAG_CHILD, pfn, false, false, &c);
	expect_results(_metadata, &c, pfn, n, "mapped");
	count_free(&c);

	ASSERT_EQ(0, release_old_data_child(wfd, n, pfn));
	EXPECT_EQ(0, reap(&self->st, 0))
		TH_LOG("child: 1 = saw new data, 2 = its PFN changed, 3 = error");
	munmap(a, n * pagesize);
}

/* With wp_reuse=0 single-mapped KSM pages are copied; with 1 reused again. */
TEST_F_TIMEOUT(ksm_wp_reuse, switch_off_copies_on_reuses, 300)
{
	const size_t n = 8, half = n / 2;
	unsigned long pfn[8];
	struct kwr_count c;
	char val[16];
	char *a, *b;

	ASSERT_EQ(0, make_ksm_pages(&a, &b, n, TAG_SWITCH, true));

	ASSERT_EQ(0, write_str(WP_REUSE, "0"));
	ASSERT_EQ(0, read_str(WP_REUSE, val, sizeof(val)));
	ASSERT_STREQ("0", val);
	/*
	 * Switched off, the fault does not even ask: no decision is traced,
	 * but each copy allocates a page (check_outcome()).
	 */
	write_counted(_metadata, &self->st, "wp_reuse=0", a, 0, half,
		      TAG_SWITCH, pfn, true, false, &c);
	expect_results(_metadata, &c, pfn, half, "");
	count_free(&c);

	ASSERT_EQ(0, write_str(WP_REUSE, "1"));
	ASSERT_EQ(0, read_str(WP_REUSE, val, sizeof(val)));
	ASSERT_STREQ("1", val);
	write_and_check(_metadata, &self->st, "wp_reuse=1", a, half, n - half,
			TAG_SWITCH, pfn, true);
	munmap(a, n * pagesize);
}

/*
 * A single-mapped KSM page with a reference held by a pipe (vmsplice(), as
 * in cow.c) is copied; reading the pipe yields the old data.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, vmsplice_ref_copied, 300)
{
	const size_t n = 8;
	unsigned long pfn[8];
	struct kwr_count c;
	struct iovec iov;
	char *a, *b;
	int fds[2];

	ASSERT_EQ(0, make_ksm_pages(&a, &b, n, TAG_VMSPLICE, true));
	ASSERT_EQ(0, pipe(fds));
	iov.iov_base = a;
	iov.iov_len = n * pagesize;
	ASSERT_EQ((ssize_t)(n * pagesize), vmsplice(fds[1], &iov, 1, 0));

	/* Mapped once, with one more reference: the refcount refusal. */
	write_counted(_metadata, &self->st, "vmspliced", a, 0, n, TAG_VMSPLICE,
		      pfn, true, false, &c);
	expect_results(_metadata, &c, pfn, n, "refcount");
	count_free(&c);

	EXPECT_EQ(0, pipe_bad_pages(fds[0], n, TAG_VMSPLICE))
		TH_LOG("the pipe sees the write");
	close(fds[0]);
	close(fds[1]);
	munmap(a, n * pagesize);
}

struct uffd_ctx {
	int uffd;
	char *area;
	size_t len;
	bool stop;		/* __atomic */
	int events;
	unsigned long addr;
	int err;
};

/* Record each uffd-wp fault, then un-protect the page, waking the writer. */
static void *uffd_wp_handler(void *arg)
{
	struct uffd_ctx *ctx = arg;
	struct pollfd pfd = { .fd = ctx->uffd, .events = POLLIN };
	struct uffdio_writeprotect wp;
	struct uffd_msg msg;
	int ret;

	while (!__atomic_load_n(&ctx->stop, __ATOMIC_ACQUIRE)) {
		ret = poll(&pfd, 1, 100);
		if (!ret || (ret < 0 && errno == EINTR))
			continue;
		if (ret < 0) {
			ctx->err = errno;
			break;
		}
		if (read(ctx->uffd, &msg, sizeof(msg)) != sizeof(msg)) {
			if (errno == EAGAIN)
				continue;
			ctx->err = errno;
			break;
		}
		if (msg.event != UFFD_EVENT_PAGEFAULT ||
		    !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP)) {
			ctx->err = EPROTO;
			break;
		}
		ctx->events++;
		ctx->addr = msg.arg.pagefault.address;
		wp.range.start = ctx->addr & ~(pagesize - 1);
		wp.range.len = pagesize;
		wp.mode = 0;
		if (ioctl(ctx->uffd, UFFDIO_WRITEPROTECT, &wp)) {
			ctx->err = errno;
			break;
		}
	}
	/* Never leave the writer blocked. */
	wp.range.start = (uintptr_t)ctx->area;
	wp.range.len = ctx->len;
	wp.mode = 0;
	ioctl(ctx->uffd, UFFDIO_WRITEPROTECT, &wp);
	return NULL;
}

/*
 * A write to a uffd-wp protected single-mapped KSM page raises the uffd-wp
 * fault first; once the handler un-protects it, the write completes (and,
 * the page being single-mapped, reuses it).
 */
TEST_F_TIMEOUT(ksm_wp_reuse, uffd_wp_fault_first, 300)
{
	struct uffd_ctx ctx = { 0 };
	struct uffdio_writeprotect wp;
	struct uffdio_api api;
	struct kwr_count c;
	unsigned long pfn[1];
	pthread_t thread;
	char *a, *b;
	int uffd;

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		SKIP(return, "userfaultfd: %s", strerror(errno));
	api.api = UFFD_API;
	api.features = 0;
	if (ioctl(uffd, UFFDIO_API, &api))
		SKIP(return, "UFFDIO_API: %s", strerror(errno));
	if (!(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP))
		SKIP(return, "UFFD_FEATURE_PAGEFAULT_FLAG_WP not supported");
	/* UFFDIO_API enables features once: use a new uffd for WP. */
	close(uffd);
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	ASSERT_GE(uffd, 0);
	api.api = UFFD_API;
	api.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));

	ASSERT_EQ(0, make_ksm_pages(&a, &b, 1, TAG_UFFD, true));
	ASSERT_EQ(0, uffd_register(uffd, a, pagesize, false, true, false));
	wp.range.start = (uintptr_t)a;
	wp.range.len = pagesize;
	wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_WRITEPROTECT, &wp));
	ASSERT_TRUE(!!(pg_info(pagemap_fd, a).pme & PM_UFFD_WP))
		TH_LOG("page not uffd-wp protected");

	prepare_write(_metadata, a, 0, 1, pfn, true);
	ctx.uffd = uffd;
	ctx.area = a;
	ctx.len = pagesize;
	ASSERT_EQ(0, pthread_create(&thread, NULL, uffd_wp_handler, &ctx));
	count_start(_metadata, &self->st, &c, getpid(), 0);
	mark_pages(a, 0, 1, TAG_UFFD);
	count_end(_metadata, &self->st, &c);
	__atomic_store_n(&ctx.stop, true, __ATOMIC_RELEASE);
	ASSERT_EQ(0, pthread_join(thread, NULL));

	EXPECT_EQ(0, ctx.err) TH_LOG("uffd handler: %s", strerror(ctx.err));
	EXPECT_EQ(1, ctx.events) TH_LOG("uffd-wp faults seen");
	EXPECT_EQ((uintptr_t)a, ctx.addr & ~(pagesize - 1));
	check_outcome(_metadata, "uffd-wp", a, 0, 1, TAG_UFFD, true, pfn,
		      &c, true);
	count_free(&c);
	close(uffd);
	munmap(a, pagesize);
}

static int online_nodes(int *nodes, int max)
{
	char buf[256], *p = buf, *end;
	long lo, hi;
	int nr = 0;

	if (read_str("/sys/devices/system/node/online", buf, sizeof(buf)))
		return 0;
	while (*p && nr < max) {
		lo = strtol(p, &end, 10);
		if (end == p)
			break;
		hi = lo;
		if (*end == '-') {
			p = end + 1;
			hi = strtol(p, &end, 10);
		}
		for (; lo <= hi && nr < max; lo++)
			nodes[nr++] = lo;
		p = end;
		if (*p != ',')
			break;
		p++;
	}
	return nr;
}

/*
 * After reuse, the pages at @area (content: @tag, marked) must behave as
 * ordinary anon pages. Each step walks the rmap, which finds a page only
 * if its index is right: move_pages() to another node, MADV_PAGEOUT and
 * read back, and a new KSM merge with a fresh twin.
 */
static void check_ordinary_anon(struct __test_metadata *_metadata,
				const char *what, char *area, size_t n,
				unsigned int tag)
{
	int nodes[64], nr_nodes, target[16], status[16];
	unsigned long pfn[16];
	struct twin x, y;
	void *pages[16];
	long moved = 0, swapped = 0;
	size_t i;
	char *c;
	int j;

	ASSERT_LE(n, (size_t)16);
	/* The caller skipped the test without two nodes and swap. */
	nr_nodes = online_nodes(nodes, 64);
	ASSERT_LE(2, nr_nodes);
	ASSERT_TRUE(swap_available());
	for (i = 0; i < n; i++) {
		pages[i] = area + i * pagesize;
		pfn[i] = pg_info(pagemap_fd, pages[i]).pfn;
	}
	ASSERT_EQ(0, syscall(__NR_move_pages, 0, n, pages, NULL,
			     status, 0));
	for (i = 0; i < n; i++) {
		ASSERT_GE(status[i], 0);
		for (j = 0; nodes[j] == status[i]; j++)
			;
		target[i] = nodes[j];
	}
	EXPECT_EQ(0, syscall(__NR_move_pages, 0, n, pages, target,
			     status, MPOL_MF_MOVE))
		TH_LOG("%s: move_pages: %s", what, strerror(errno));
	for (i = 0; i < n; i++) {
		struct pg pg = pg_info(pagemap_fd, pages[i]);

		moved += status[i] == target[i] && pg.pfn &&
			 pg.pfn != pfn[i];
	}
	EXPECT_EQ((long)n, moved)
		TH_LOG("%s: %ld of %zu pages migrated to the other node",
		       what, moved, n);
	EXPECT_EQ(0, bad_pages(area, 0, n, tag, true))
		TH_LOG("%s: data changed by migration", what);

	/* Migrated folios sit in an LRU batch; pageout needs them on the LRU. */
	ASSERT_EQ(0, drain_lru());
	ASSERT_EQ(0, madvise(area, n * pagesize, MADV_PAGEOUT));
	for (i = 0; i < n; i++) {
		uint64_t pme = pg_info(pagemap_fd, area + i * pagesize).pme;

		swapped += (pme & PM_SWAP) && !(pme & PM_PRESENT);
	}
	EXPECT_EQ((long)n, swapped)
		TH_LOG("%s: %ld of %zu pages swapped out", what, swapped, n);
	EXPECT_EQ(0, bad_pages(area, 0, n, tag, true))
		TH_LOG("%s: data changed by swap-out and swap-in", what);

	c = map_area(n);
	ASSERT_NE(NULL, c);
	memcpy(c, area, n * pagesize);
	ASSERT_EQ(0, madvise(c, n * pagesize, MADV_MERGEABLE));
	x = (struct twin){ pagemap_fd, area };
	y = (struct twin){ pagemap_fd, c };
	EXPECT_EQ(0, ksm_scan(2, &x, &y, n))
		TH_LOG("%s: ksmd did not merge the reused pages again", what);
	munmap(c, n * pagesize);
}

/*
 * Merge the @n pages at @area, filled with @tag, with a new twin, unmap the
 * twin, write @area: every page must be reused, and be an ordinary anon page
 * afterwards.
 */
static void reuse_as_anon(struct __test_metadata *_metadata,
			  struct kwr_state *st, const char *what,
			  char *area, size_t n, unsigned int tag)
{
	const size_t len = n * pagesize;
	unsigned long pfn[8];
	struct twin x, y;
	char *b;

	ASSERT_GE(ARRAY_SIZE(pfn), n);
	b = map_area(n);
	ASSERT_NE(NULL, b);
	fill(b, n, tag);
	ASSERT_EQ(0, madvise(area, len, MADV_MERGEABLE));
	ASSERT_EQ(0, madvise(b, len, MADV_MERGEABLE));
	x = (struct twin){ pagemap_fd, area };
	y = (struct twin){ pagemap_fd, b };
	ASSERT_EQ(0, ksm_scan(2, &x, &y, n));
	munmap(b, len);
	write_and_check(_metadata, st, what, area, 0, n, tag, pfn, true);
	check_ordinary_anon(_metadata, what, area, n, tag);
}

/*
 * Single-mapped KSM pages are reused in a MAP_PRIVATE file mapping (anon COW
 * copies of file pages) and in an mremap()ed anonymous VMA, and afterwards
 * are ordinary anon pages: their index must be the anon page offset
 * (linear_anon_page_index()), or rmap walks miss them. The file mapping sits
 * at a file offset other than its anon offset, so it tells the anon offset
 * from the file offset (linear_page_index()); the mremap()ed VMA keeps its
 * offsets at a new address, so it tells either from one derived from the
 * current address. Without two NUMA nodes (migration) and swap (pageout)
 * the test cannot check that and skips.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, private_file_and_mremap_reused, 600)
{
	const size_t n = 8, len = 8 * pagesize;
	const off_t file_off = 16 * pagesize;
	char *f, *m0, *m, *dst;
	int fd, nodes[2];
	size_t i;

	if (online_nodes(nodes, 2) < 2)
		SKIP(return, "needs two NUMA nodes for move_pages()");
	if (!swap_available())
		SKIP(return, "needs free swap (e.g. on zram) for MADV_PAGEOUT");

	/* MAP_PRIVATE file mapping, at a file offset != its anon offset. */
	fd = memfd_create("ksm_wp_reuse", MFD_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ftruncate(fd, file_off + len));
	f = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, file_off);
	ASSERT_NE(MAP_FAILED, f);
	if (madvise(f, len, MADV_NOHUGEPAGE))
		ASSERT_EQ(EINVAL, errno);
	fill(f, n, TAG_FILE);
	for (i = 0; i < n; i++) {
		struct pg pg = pg_info(pagemap_fd, f + i * pagesize);

		ASSERT_TRUE((pg.kpf & KWR_KPF_ANON) && !(pg.pme & PM_FILE))
			TH_LOG("page %zu of the private file mapping is no anon page", i);
	}
	reuse_as_anon(_metadata, &self->st, "private file", f, n, TAG_FILE);
	munmap(f, len);
	close(fd);

	/* Anonymous VMA moved by mremap() after its pages were faulted in. */
	m0 = map_area(n);
	ASSERT_NE(NULL, m0);
	fill(m0, n, TAG_MREMAP);
	dst = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, dst);
	m = mremap(m0, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_EQ(dst, m);
	reuse_as_anon(_metadata, &self->st, "mremap()ed", m, n, TAG_MREMAP);
	munmap(m, len);
}

/* --- memcg ----------------------------------------------------------------- */

/*
 * Our cgroup P under the root, with children a and b, for the memory
 * controller; teardown removes them. Only the intrusive mode enables the
 * controller in the root if it is not. 1: skip (reason in @why), 0: ready,
 * -1: error (reason in @why).
 */
static int cg_prepare(struct kwr_state *st, char *why, size_t len)
{
	static const char * const sub[] = { "/a", "/b" };
	char buf[512], path[PATH_MAX];
	struct statfs sfs;
	int i, err;

	if (statfs(CG_ROOT, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(why, len, "no cgroup2 mounted at " CG_ROOT);
		return 1;
	}
	if (read_str(CG_ROOT "/cgroup.controllers", buf, sizeof(buf)) ||
	    !has_word(buf, "memory")) {
		snprintf(why, len, "cgroup2 memory controller not available");
		return 1;
	}
	if (access("/proc/kpagecgroup", R_OK)) {
		snprintf(why, len, "/proc/kpagecgroup: %s", strerror(errno));
		return 1;
	}
	if (read_str(CG_ROOT "/cgroup.subtree_control", buf, sizeof(buf)))
		buf[0] = '\0';
	if (!has_word(buf, "memory")) {
		/* It would charge every cgroup of the machine from now on. */
		if (!intrusive()) {
			snprintf(why, len,
				 "the memory controller is not enabled in " CG_ROOT
				 "/cgroup.subtree_control, which would charge every cgroup"
				 INTRUSIVE_ONLY);
			return 1;
		}
		err = write_str(CG_ROOT "/cgroup.subtree_control", "+memory");
		if (err) {
			snprintf(why, len, "enabling +memory in " CG_ROOT ": %s",
				 strerror(-err));
			return -1;
		}
		st->cg_root_memory = true;
	}
	snprintf(st->cg_dir, sizeof(st->cg_dir), CG_ROOT "/ksm_wp_reuse.%d",
		 getpid());
	if (mkdir(st->cg_dir, 0755)) {
		snprintf(why, len, "mkdir %s: %s", st->cg_dir, strerror(errno));
		st->cg_dir[0] = '\0';
		return -1;
	}
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", st->cg_dir);
	err = write_str(path, "+memory");
	if (err) {
		snprintf(why, len, "%.200s: %s", path, strerror(-err));
		return -1;
	}
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s%s", st->cg_dir, sub[i]);
		if (mkdir(path, 0755)) {
			snprintf(why, len, "mkdir %.200s: %s", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Where a remote write goes: another process's pages. */
struct remote_target {
	pid_t pid;
	unsigned long long addr;
};

/*
 * Write the mark of pages [0, n) of @tag into process @pid at @addr: even
 * pages through process_vm_writev(), odd ones through /proc/@pid/mem. Both
 * fault in @pid's mm from our task (GUP with FAULT_FLAG_REMOTE). 0 ok, else
 * an errno.
 */
static int remote_mark(pid_t pid, char *addr, size_t n, unsigned int tag)
{
	struct iovec local, remote;
	char path[64], *p;
	int fd, err = 0;
	unsigned long long val;
	size_t i;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return errno;
	for (i = 0; i < n && !err; i++) {
		p = addr + i * pagesize + MARK_WORD * sizeof(val);
		val = mark(tag, i);
		errno = EIO;
		if (i % 2 == 0) {
			local.iov_base = &val;
			local.iov_len = sizeof(val);
			remote.iov_base = p;
			remote.iov_len = sizeof(val);
			if (process_vm_writev(pid, &local, 1, &remote, 1, 0) !=
			    sizeof(val))
				err = errno;
		} else if (pwrite(fd, &val, sizeof(val), (uintptr_t)p) !=
			   sizeof(val)) {
			err = errno;
		}
	}
	close(fd);
	return err;
}

/*
 * A memcg test member: joins its cgroup, then maps @n pages (charged there),
 * fills and registers them with KSM, sends their address and serves
 * commands: 'u' unmap, 'w' write every page and reply the number of pages
 * with wrong data, 'c' reply that number without writing, 'r' followed by a
 * struct remote_target: remote_mark() into that process and reply its
 * result, 'q' (or anything else, or EOF): exit.
 */
static void memcg_member(const char *procs, size_t n, unsigned int tag,
			 int cmd, int reply)
{
	struct remote_target target;
	uint64_t msg = 0;
	char *area = NULL;
	char buf[32], c;

	snprintf(buf, sizeof(buf), "%d", getpid());
	if (write_str(procs, buf))
		goto out;
	area = map_area(n);
	if (!area)
		goto out;
	fill(area, n, tag);
	if (madvise(area, n * pagesize, MADV_MERGEABLE))
		goto out;
	msg = (uintptr_t)area;
out:
	if (write(reply, &msg, sizeof(msg)) != sizeof(msg) || !msg)
		_exit(1);
	while (read(cmd, &c, 1) == 1) {
		if (c == 'u') {
			msg = munmap(area, n * pagesize) ? 1 : 0;
		} else if (c == 'w') {
			mark_pages(area, 0, n, tag);
			msg = bad_pages(area, 0, n, tag, true);
		} else if (c == 'c') {
			msg = bad_pages(area, 0, n, tag, true);
		} else if (c == 'r') {
			if (read(cmd, &target, sizeof(target)) != sizeof(target))
				break;
			msg = remote_mark(target.pid,
					  (char *)(uintptr_t)target.addr, n, tag);
		} else {
			break;
		}
		if (write(reply, &msg, sizeof(msg)) != sizeof(msg))
			break;
	}
	_exit(0);
}

struct member {
	int cmd, reply, pm_fd;
	char *addr;
	ino_t ino;	/* of its cgroup directory */
};

static int member_start(struct kwr_state *st, int slot,
			struct member *m, const char *group, size_t n,
			unsigned int tag)
{
	char dir[256], path[PATH_MAX];
	int cmd[2], reply[2];
	struct stat sb;
	uint64_t msg;
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s/%s", st->cg_dir, group);
	if (stat(dir, &sb))
		return -1;
	m->ino = sb.st_ino;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	if (pipe(cmd) || pipe(reply))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		close(cmd[1]);
		close(reply[0]);
		memcg_member(path, n, tag, cmd[0], reply[1]);
	}
	track_pid(st, slot, pid);
	close(cmd[0]);
	close(reply[1]);
	m->cmd = cmd[1];
	m->reply = reply[0];
	if (read(m->reply, &msg, sizeof(msg)) != sizeof(msg) || !msg)
		return -1;
	m->addr = (char *)(uintptr_t)msg;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	m->pm_fd = open(path, O_RDONLY);
	return m->pm_fd < 0 ? -1 : 0;
}

static int member_cmd(struct member *m, char c, uint64_t *res)
{
	if (write(m->cmd, &c, 1) != 1)
		return -1;
	return read(m->reply, res, sizeof(*res)) == sizeof(*res) ? 0 : -1;
}

static int member_stop(struct kwr_state *st, int slot,
		       struct member *m)
{
	char quit = 'q';
	int ret;

	/*
	 * Tell it to quit: a later member inherited our end of this pipe, so
	 * closing it here would not give this member an EOF.
	 */
	if (write(m->cmd, &quit, 1) != 1)
		kill(st->pids[slot], SIGKILL);
	close(m->cmd);
	ret = reap(st, slot);
	close(m->reply);
	close(m->pm_fd);
	return ret;
}

/*
 * One round: members A (cgroup a) and B (cgroup b) map the same content,
 * ksmd merges it, the other member unmaps its area and every page of
 * @target's (0: A, 1: B) is written: by @target itself, or with @remote by
 * the other member, through process_vm_writev() and /proc/PID/mem. Each KSM
 * page must be reused if it is charged to the target's cgroup and copied
 * (result=memcg) if charged to the other: the check is against the memcg of
 * the mm that faults, the target's, not the writing task's, whose own
 * cgroup the copied pages are charged to in the remote case.
 */
static void memcg_round(struct __test_metadata *_metadata,
			struct kwr_state *st, int target, bool remote,
			unsigned int tag, long *reused, long *copied)
{
	static const char * const name[] = { "A", "B" };
	static const char * const group[] = { "a", "b" };
	const size_t n = 32;
	long own = 0, other = 0, wrong = 0, trace_wrong = 0;
	unsigned long pfn[32];
	bool mine[32];
	struct member m[2], *t, *o, *w;
	struct remote_target rt;
	struct kwr_count c;
	struct twin x, y;
	uint64_t cg, ret;
	int kpagecg_fd, i, sc;
	char res[32];
	size_t k;

	ASSERT_EQ(0, member_start(st, 0, &m[0], group[0], n, tag));
	ASSERT_EQ(0, member_start(st, 1, &m[1], group[1], n, tag));
	x = (struct twin){ m[0].pm_fd, m[0].addr };
	y = (struct twin){ m[1].pm_fd, m[1].addr };
	ASSERT_EQ(0, ksm_scan(2, &x, &y, n));

	t = &m[target];
	o = &m[!target];
	w = remote ? o : t;
	ASSERT_EQ(0, member_cmd(o, 'u', &ret));
	ASSERT_EQ((uint64_t)0, ret) TH_LOG("munmap in the other member");
	ASSERT_EQ(0, drain_lru());

	kpagecg_fd = open("/proc/kpagecgroup", O_RDONLY);
	ASSERT_GE(kpagecg_fd, 0);
	for (k = 0; k < n; k++) {
		struct pg pg = pg_info(t->pm_fd, t->addr + k * pagesize);

		ASSERT_TRUE(pg.pfn && (pg.kpf & KWR_KPF_KSM) &&
			    (pg.pme & PM_MMAP_EXCLUSIVE))
			TH_LOG("page %zu is no single-mapped KSM page", k);
		ASSERT_EQ((ssize_t)sizeof(cg),
			  pread(kpagecg_fd, &cg, sizeof(cg), pg.pfn * sizeof(cg)));
		ASSERT_TRUE(cg == m[0].ino || cg == m[1].ino)
			TH_LOG("page %zu charged to memcg inode %llu, neither a nor b",
			       k, (unsigned long long)cg);
		pfn[k] = pg.pfn;
		mine[k] = cg == t->ino;
		own += mine[k];
		other += !mine[k];
	}
	close(kpagecg_fd);

	/* The writing task is counted; the target, if another, must make none. */
	count_start(_metadata, st, &c, st->pids[w - m], 0);
	if (remote) {
		rt.pid = st->pids[t - m];
		rt.addr = (uintptr_t)t->addr;
		ASSERT_EQ(1, write(w->cmd, "r", 1));
		ASSERT_EQ((ssize_t)sizeof(rt), write(w->cmd, &rt, sizeof(rt)));
		ASSERT_EQ((ssize_t)sizeof(ret), read(w->reply, &ret, sizeof(ret)));
		EXPECT_EQ((uint64_t)0, ret)
			TH_LOG("%s's remote write into %s: %s", name[!target],
			       name[target], strerror((int)ret));
		count_end(_metadata, st, &c);
		ASSERT_EQ(0, member_cmd(t, 'c', &ret));
	} else {
		ASSERT_EQ(0, member_cmd(w, 'w', &ret));
		count_end(_metadata, st, &c);
	}
	EXPECT_EQ((uint64_t)0, ret)
		TH_LOG("%s: pages with wrong data", name[target]);

	for (k = 0; k < n; k++) {
		unsigned long now = pg_info(t->pm_fd, t->addr + k * pagesize).pfn;

		wrong += mine[k] != (now == pfn[k]);
		count_result(&c, pfn[k], res, sizeof(res), &sc);
		if (strcmp(res, mine[k] ? "reused" : "memcg")) {
			if (trace_wrong++ < 4)
				TH_LOG("pfn %#lx: trace result \"%s\", expected %s",
				       pfn[k], res, mine[k] ? "reused" : "memcg");
		}
	}
	TH_LOG("%s%s writes %s's pages: %ld charged to %s's cgroup, %ld to the other",
	       name[w - m], remote ? " remotely" : "", name[target], own,
	       name[target], other);
	EXPECT_EQ(0, wrong)
		TH_LOG("pages not reused iff charged to the target's cgroup");
	EXPECT_EQ(own, c.reused) TH_LOG("reused faults of the writing task");
	EXPECT_EQ(other, c.refused) TH_LOG("refused faults of the writing task");
	EXPECT_LE(other, c.allocs) TH_LOG("pages the writing task allocated");
	expect_global(_metadata, "memcg", &c, own, other);
	EXPECT_EQ(0, trace_wrong) TH_LOG("trace results");
	count_free(&c);

	for (i = 0; i < 2; i++)
		EXPECT_EQ(0, member_stop(st, i, &m[i]));
	*reused += own;
	*copied += other;
}

/*
 * Up to @rounds of memcg_round(), the target alternating, until both
 * outcomes, reuse and copy, were seen.
 */
static void memcg_rounds(struct __test_metadata *_metadata,
			 struct kwr_state *st, bool remote, unsigned int tag,
			 int rounds, long *reused, long *copied)
{
	int round;

	for (round = 0; round < rounds && (!*reused || !*copied); round++)
		memcg_round(_metadata, st, round % 2, remote, tag + round,
			    reused, copied);
}

/*
 * A single-mapped KSM page charged to a sibling memcg of the faulting
 * process's, whose tenant is alive, is copied (reuse would bill the writer's
 * private memory to the other tenant); one charged to the writer's memcg is
 * reused. Which side a merged page is charged to is up to ksmd, so rounds
 * alternate the writer until both outcomes were seen.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, memcg_other_group_copied, 900)
{
	long reused = 0, copied = 0;
	char why[256];
	int ret;

	ret = cg_prepare(&self->st, why, sizeof(why));
	if (ret > 0)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, ret) TH_LOG("%s", why);

	memcg_rounds(_metadata, &self->st, false, TAG_MEMCG, 4, &reused, &copied);
	EXPECT_LT(0, reused) TH_LOG("reuse in the own memcg never observed");
	EXPECT_LT(0, copied) TH_LOG("copy for another memcg never observed");
}

/*
 * A remote write (process_vm_writev(), /proc/PID/mem) into KSM pages that
 * only the target maps: the writing process faults in the target's mm, and
 * the memcg check is the target mm's. The writer sits in the sibling cgroup:
 * pages charged to the target's cgroup are reused, those charged to the
 * writer's own cgroup are copied (result=memcg), as for the target's own
 * write. Rounds alternate the target until both outcomes were seen.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, remote_write_follows_target_memcg, 900)
{
	long reused = 0, copied = 0;
	char why[256];
	int ret;

	ret = cg_prepare(&self->st, why, sizeof(why));
	if (ret > 0)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, ret) TH_LOG("%s", why);

	memcg_rounds(_metadata, &self->st, true, TAG_REMOTE_MEMCG, 8, &reused,
		     &copied);
	EXPECT_LT(0, reused)
		TH_LOG("reuse of pages charged to the target's memcg never observed");
	EXPECT_LT(0, copied)
		TH_LOG("copy of pages charged to the writer's memcg never observed");
}

/* The memcg of @pfn as /proc/kpagecgroup shows it (its online ancestor's inode). */
static uint64_t pfn_memcg(int kpagecg_fd, unsigned long pfn)
{
	uint64_t ino;

	if (pread(kpagecg_fd, &ino, sizeof(ino), pfn * sizeof(ino)) != sizeof(ino))
		return 0;
	return ino;
}

/*
 * Tenants A and B run in sibling cgroups a and b of our cgroup P and share
 * pages through KSM; the tenant whose cgroup more of the KSM pages are
 * charged to stops and its cgroup is removed, which reparents its folios to
 * P, an ancestor of the other tenant's cgroup. That tenant's write then
 * reuses every page: same PFN, ksm_wp_reuse +n, trace "reused", right data,
 * no page allocated and P's memory.current unchanged (a copy would charge n
 * more pages to the writer's cgroup, inside P). While the other tenant is
 * alive, the pages charged to it are copied: memcg_other_group_copied.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, memcg_removed_group_reused, 600)
{
	static const char * const group[] = { "a", "b" };
	const size_t n = 256;
	long count[2] = { 0, 0 }, same = 0, at_p, cur0, cur1, allocs;
	char why[256], path[PATH_MAX], cur_path[PATH_MAX];
	int kpagecg_fd, victim, writer, ret;
	struct member m[2];
	struct kwr_count c;
	unsigned long *pfn;
	struct twin x, y;
	struct stat sb;
	double deadline;
	uint64_t cg, res;
	size_t k;

	ret = cg_prepare(&self->st, why, sizeof(why));
	if (ret > 0)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, ret) TH_LOG("%s", why);
	ASSERT_EQ(0, stat(self->st.cg_dir, &sb));
	snprintf(cur_path, sizeof(cur_path), "%s/memory.current", self->st.cg_dir);
	pfn = calloc(n, sizeof(*pfn));
	ASSERT_NE(NULL, pfn);

	ASSERT_EQ(0, member_start(&self->st, 0, &m[0], group[0], n, TAG_REPARENT));
	ASSERT_EQ(0, member_start(&self->st, 1, &m[1], group[1], n, TAG_REPARENT));
	x = (struct twin){ m[0].pm_fd, m[0].addr };
	y = (struct twin){ m[1].pm_fd, m[1].addr };
	ASSERT_EQ(0, ksm_scan(2, &x, &y, n));

	kpagecg_fd = open("/proc/kpagecgroup", O_RDONLY);
	ASSERT_GE(kpagecg_fd, 0);
	for (k = 0; k < n; k++) {
		pfn[k] = pg_info(m[0].pm_fd, m[0].addr + k * pagesize).pfn;
		cg = pfn_memcg(kpagecg_fd, pfn[k]);
		ASSERT_TRUE(cg == m[0].ino || cg == m[1].ino)
			TH_LOG("page %zu charged to memcg inode %llu, neither a nor b",
			       k, (unsigned long long)cg);
		count[cg == m[1].ino]++;
	}
	victim = count[1] > count[0];
	writer = !victim;
	TH_LOG("%ld pages charged to a, %ld to b: %s stops, %s writes",
	       count[0], count[1], group[victim], group[writer]);

	ASSERT_EQ(0, member_stop(&self->st, victim, &m[victim]));
	snprintf(path, sizeof(path), "%s/%s", self->st.cg_dir, group[victim]);
	deadline = now_s() + 10;
	while (rmdir(path) && errno == EBUSY && now_s() < deadline)
		usleep(20000);
	ASSERT_NE(0, access(path, F_OK)) TH_LOG("%s not removed", path);

	/*
	 * kpagecgroup shows a removed memcg's online ancestor only once the
	 * memcg went offline, which reparents its folios first
	 * (mem_cgroup_css_offline()).
	 */
	deadline = now_s() + 30;
	do {
		at_p = 0;
		for (k = 0; k < n; k++) {
			cg = pfn_memcg(kpagecg_fd, pfn[k]);
			at_p += cg == sb.st_ino || cg == m[writer].ino;
		}
		if (at_p == (long)n)
			break;
		usleep(20000);
	} while (now_s() < deadline);
	close(kpagecg_fd);
	ASSERT_EQ((long)n, at_p)
		TH_LOG("30 s after removing %s, only %ld of %zu pages are charged to P or %s",
		       path, at_p, n, group[writer]);

	ASSERT_EQ(0, drain_lru());
	for (k = 0; k < n; k++) {
		struct pg pg = pg_info(m[writer].pm_fd, m[writer].addr + k * pagesize);

		ASSERT_TRUE(pg.pfn == pfn[k] && (pg.kpf & KWR_KPF_KSM) &&
			    (pg.pme & PM_MMAP_EXCLUSIVE))
			TH_LOG("page %zu is no longer the single-mapped KSM page", k);
	}

	cur0 = read_long(cur_path);
	count_start(_metadata, &self->st, &c, self->st.pids[writer], 0);
	ASSERT_EQ(0, member_cmd(&m[writer], 'w', &res));
	count_end(_metadata, &self->st, &c);
	cur1 = read_long(cur_path);
	allocs = c.allocs;
	expect_results(_metadata, &c, pfn, n, "reused");
	EXPECT_EQ((uint64_t)0, res) TH_LOG("%s: pages with wrong data", group[writer]);
	for (k = 0; k < n; k++)
		same += pg_info(m[writer].pm_fd, m[writer].addr + k * pagesize).pfn == pfn[k];
	EXPECT_EQ((long)n, same) TH_LOG("pages that kept their PFN");
	expect_reused(_metadata, "reparented", &c, n);
	count_free(&c);
	/* Charges move in per-CPU batches of up to 64 pages: allow n / 4. */
	ASSERT_TRUE(cur0 >= 0 && cur1 >= 0 && allocs >= 0);
	TH_LOG("P's memory.current %+ld bytes, %ld pages allocated by the writer during the writes",
	       cur1 - cur0, allocs);
	EXPECT_GT((long)(n / 4 * pagesize), labs(cur1 - cur0));
	/* Its pipe reply and page tables may allocate, never a page per write. */
	EXPECT_GT((long)n / 4, allocs);
	EXPECT_EQ(0, member_stop(&self->st, writer, &m[writer]));
	free(pfn);
}

/*
 * A KSM folio that only we map, faulted back in from the swap cache, then
 * written: the write frees its swap slot and reuses it if no other swap entry
 * refers to the slot, and copies it if one does.
 *
 * Getting there: MADV_PAGEOUT of single-mapped KSM pages adds them to the
 * swap cache of our device, unmaps them and writes them out. On the loop
 * device the write completes asynchronously and the clean folio stays in the
 * swap cache until reclaim comes back for it, as on a disk. zram's write is
 * synchronous and reclaim frees the folio at once (the page read back is then
 * a new, ordinary anon page, which upstream reuses): there a pipe reference
 * (vmsplice) keeps it, as pageout() keeps a folio with an extra reference in
 * the swap cache, unwritten. Unless @entry is ENTRY_NONE, fork() then
 * duplicates the swap entries, so another page table refers to each slot.
 * Our read fault
 * finds the KSM folio in the swap cache and maps it, with its stable node
 * (ksm_might_need_to_copy()). On the loop device the folio stays in the swap
 * cache (do_swap_page() frees it on a write to an exclusive page only, and a
 * KSM page never is one); on zram do_swap_page() frees it at swap-in unless
 * another swap entry refers to the slot. The state is checked via kpageflags
 * before the write; if it was not reached, the test says so and skips.
 *
 * With ENTRY_DROPPED the child is killed after that: its exit drops its
 * swap entries and leaves the folio in the swap cache, since we map it
 * (__try_to_reclaim_swap() with TTRS_UNMAPPED), on zram too.
 *
 * Then the write reuses the folio and frees its slot: same PFN, right data,
 * no longer KSM nor in the swap cache, no slot left in use on the device,
 * SwapCached down by n pages, no page allocated, trace "reused" with
 * swapcache=1 (swapcache=0 on zram without another entry: freed at swap-in
 * already). With ENTRY_KEPT it copies (trace "swapcache"), the slot stays,
 * and the child reads its own unchanged data. With @memcg it all runs in a
 * cgroup of our own, whose memory.swap.current must lose the n pages' swap
 * charge.
 */
enum other_entry {
	ENTRY_NONE,	/* no other swap entry refers to the slots */
	ENTRY_KEPT,	/* a forked child's do, through the write */
	ENTRY_DROPPED,	/* they did at our swap-in; the child is gone */
};

static void swapcache_round(struct __test_metadata *_metadata,
			    struct kwr_state *st, enum swap_kind kind,
			    enum other_entry entry, bool memcg)
{
	static const char * const whats[] = {
		[ENTRY_NONE] = "swapped, no other swap entry",
		[ENTRY_KEPT] = "swapped, another swap entry",
		[ENTRY_DROPPED] = "swapped, other swap entry gone after swap-in",
	};
	const size_t n = 256, kb = n * pagesize / 1024;
	const bool pin = kind == SWAP_ZRAM, copied = entry == ENTRY_KEPT;
	const char *what = whats[entry];
	long used0, used1, cached0, cached1, allocs;
	long swc_before = 0, swc0 = 0, swc1 = 0;
	char why[256], path[PATH_MAX], cg_swap[PATH_MAX], *a, *b;
	int fds[2] = { -1, -1 }, wfd = -1, ret;
	unsigned long pfn[256];
	struct kwr_count c;
	double deadline;
	struct iovec iov;
	bool in_sc = true;
	size_t i;
	pid_t pid = 0;

	if (!intrusive())
		SKIP(return, "adds a swap device the machine's reclaim prefers"
		     INTRUSIVE_ONLY);
	if (memcg) {
		ret = cg_prepare(st, why, sizeof(why));
		if (ret > 0)
			SKIP(return, "%s", why);
		ASSERT_EQ(0, ret) TH_LOG("%s", why);
		snprintf(cg_swap, sizeof(cg_swap), "%s/a/memory.swap.current",
			 st->cg_dir);
		if (access(cg_swap, R_OK))
			SKIP(return, "no swap accounting (%.200s)", cg_swap);
		/* From here on what we map, and its swap, is charged to P/a. */
		snprintf(path, sizeof(path), "%s/a/cgroup.procs", st->cg_dir);
		ASSERT_EQ(0, write_str(path, "0"));
	}
	ret = swap_setup(st, kind, why, sizeof(why));
	if (ret > 0)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, ret) TH_LOG("%s", why);
	/* After the primed pages' swap-out, charged to P/a too. */
	if (memcg)
		swc_before = read_long(cg_swap);

	ASSERT_EQ(0, make_ksm_pages(&a, &b, n, TAG_SWAPCACHE, true));
	if (pin) {
		ASSERT_EQ(0, pipe(fds));
		ASSERT_LE((int)(n * pagesize), fcntl(fds[1], F_SETPIPE_SZ, n * pagesize));
		iov.iov_base = a;
		iov.iov_len = n * pagesize;
		ASSERT_EQ((ssize_t)(n * pagesize), vmsplice(fds[1], &iov, 1, 0));
	}
	/* MADV_PAGEOUT only takes folios that are on an LRU list. */
	ASSERT_EQ(0, drain_lru());
	for (i = 0; i < n; i++)
		pfn[i] = pg_info(pagemap_fd, a + i * pagesize).pfn;
	ASSERT_EQ(0, madvise(a, n * pagesize, MADV_PAGEOUT));
	for (i = 0; i < n; i++) {
		uint64_t pme = pg_info(pagemap_fd, a + i * pagesize).pme;

		if (!(pme & PM_SWAP) || (pme & PM_PRESENT))
			SKIP(return,
			     "state not reached: MADV_PAGEOUT left page %zu mapped (pme %#llx)",
			     i, (unsigned long long)pme);
	}
	ASSERT_EQ((long)kb, our_swap_kb(st))
		TH_LOG("the pages are not all on %s", st->swap_dev);
	/* The loop device's writes complete in its worker, a little later. */
	deadline = now_s() + 30;
	for (i = 0; i < n && now_s() < deadline;) {
		uint64_t kpf = 0;

		if (pread(kpageflags_fd, &kpf, sizeof(kpf),
			  pfn[i] * sizeof(kpf)) != sizeof(kpf))
			break;
		if (kpf & KWR_KPF_WRITEBACK)
			usleep(10000);
		else
			i++;
	}
	if (memcg)
		EXPECT_EQ(swc_before + (long)(n * pagesize), read_long(cg_swap))
			TH_LOG("P/a's memory.swap.current after the swap-out");

	if (entry != ENTRY_NONE) {
		pid = fork_old_data_child(a, n, TAG_SWAPCACHE, &wfd);
		ASSERT_GT(pid, 0);
		track_pid(st, 0, pid);
	}

	/* Fault the KSM folio back in from the swap cache. */
	force_read_pages(a, n, pagesize);

	if (pin) {
		/* Drop the pipe's references; it must still hold the old data. */
		EXPECT_EQ(0, pipe_bad_pages(fds[0], n, TAG_SWAPCACHE));
		close(fds[0]);
		close(fds[1]);
	}
	if (entry == ENTRY_DROPPED) {
		ASSERT_EQ(0, kill(pid, SIGKILL));
		ASSERT_EQ(pid, waitpid(pid, NULL, 0));
		track_pid(st, 0, 0);
		close(wfd);
	}

	/*
	 * 7.3's do_swap_page() frees the swap cache of a SWP_SYNCHRONOUS_IO
	 * device at swap-in when no other swap entry refers to the slot: on
	 * zram the write then meets a KSM folio out of the swap cache.
	 */
	if (kind == SWAP_ZRAM && entry == ENTRY_NONE)
		in_sc = pg_info(pagemap_fd, a).kpf & KWR_KPF_SWAPCACHE;
	ASSERT_EQ(0, drain_lru());
	for (i = 0; i < n; i++) {
		struct pg pg = pg_info(pagemap_fd, a + i * pagesize);

		if (pg.pfn != pfn[i] || !(pg.kpf & KWR_KPF_KSM) ||
		    !(pg.pme & PM_MMAP_EXCLUSIVE) ||
		    in_sc != !!(pg.kpf & KWR_KPF_SWAPCACHE))
			SKIP(return,
			     "state not reached: page %zu is not the KSM folio, mapped once, %s the swap cache (pfn %#lx, was %#lx; pme %#llx kpageflags %#llx)",
			     i, in_sc ? "in" : "out of", pg.pfn, pfn[i],
			     (unsigned long long)pg.pme,
			     (unsigned long long)pg.kpf);
	}
	TH_LOG("%s: before the write, the KSM folios are %s the swap cache",
	       st->swap_dev, in_sc ? "in" : "out of");

	used0 = our_swap_kb(st);
	cached0 = meminfo_kb("SwapCached");
	if (memcg)
		swc0 = read_long(cg_swap);
	count_start(_metadata, st, &c, getpid(), 0);
	mark_pages(a, 0, n, TAG_SWAPCACHE);
	count_end(_metadata, st, &c);
	allocs = c.allocs;
	used1 = our_swap_kb(st);
	cached1 = meminfo_kb("SwapCached");
	if (memcg)
		swc1 = read_long(cg_swap);

	check_outcome(_metadata, what, a, 0, n, TAG_SWAPCACHE, true, pfn, &c,
		      !copied);
	expect_results_sc(_metadata, &c, pfn, n,
			  copied ? "swapcache" : "reused", in_sc);
	count_free(&c);
	ASSERT_TRUE(used0 >= 0 && used1 >= 0 && cached0 >= 0 && cached1 >= 0 &&
		    allocs >= 0);
	TH_LOG("%s: %s used %ld -> %ld KiB, SwapCached %ld -> %ld kB, %ld pages allocated",
	       what, st->swap_dev, used0, used1, cached0, cached1, allocs);
	if (copied) {
		EXPECT_EQ(used0, used1) TH_LOG("the child's entries keep the slots");
		EXPECT_LE((long)n, allocs) TH_LOG("pages allocated");
		ASSERT_EQ(0, release_old_data_child(wfd, n, NULL));
		EXPECT_EQ(0, reap(st, 0)) TH_LOG("child saw the parent's write");
	} else {
		for (i = 0; i < n; i++)
			EXPECT_FALSE(pg_info(pagemap_fd, a + i * pagesize).kpf &
				     KWR_KPF_SWAPCACHE)
				TH_LOG("page %zu is still in the swap cache", i);
		EXPECT_EQ(in_sc ? (long)kb : 0, used0) TH_LOG("slots before");
		EXPECT_EQ(0, used1) TH_LOG("slots after: all freed");
		/* Others may add to SwapCached meanwhile, never to our slots. */
		EXPECT_GE(cached0 - (in_sc ? (long)kb : 0), cached1)
			TH_LOG("SwapCached");
		/* Page tables, the trace files' buffers: never a page per write. */
		EXPECT_GT((long)n / 4, allocs) TH_LOG("pages allocated");
		if (memcg) {
			TH_LOG("P/a's memory.swap.current %ld -> %ld bytes", swc0, swc1);
			EXPECT_EQ(swc0 - (long)(n * pagesize), swc1)
				TH_LOG("the swap charge of the reused pages");
		}
	}
	munmap(a, n * pagesize);
}

TEST_F_TIMEOUT(ksm_wp_reuse, swapcache_reused_loop, 300)
{
	swapcache_round(_metadata, &self->st, SWAP_LOOP, ENTRY_NONE, false);
}

TEST_F_TIMEOUT(ksm_wp_reuse, swapcache_other_entry_copied_loop, 300)
{
	swapcache_round(_metadata, &self->st, SWAP_LOOP, ENTRY_KEPT, false);
}

TEST_F_TIMEOUT(ksm_wp_reuse, swapcache_reused_zram, 300)
{
	swapcache_round(_metadata, &self->st, SWAP_ZRAM, ENTRY_NONE, false);
}

TEST_F_TIMEOUT(ksm_wp_reuse, swapcache_other_entry_copied_zram, 300)
{
	swapcache_round(_metadata, &self->st, SWAP_ZRAM, ENTRY_KEPT, false);
}

TEST_F_TIMEOUT(ksm_wp_reuse, swapcache_other_entry_gone_reused_zram, 300)
{
	swapcache_round(_metadata, &self->st, SWAP_ZRAM, ENTRY_DROPPED, false);
}

TEST_F_TIMEOUT(ksm_wp_reuse, swapcache_reused_swap_uncharged, 300)
{
	swapcache_round(_metadata, &self->st, SWAP_LOOP, ENTRY_NONE, true);
}

/*
 * Open gup_test's debugfs file, mounting debugfs if needed (teardown
 * unmounts it). Returns the fd, or -1 with errno set.
 */
static int gup_test_open(struct kwr_state *st)
{
	struct statfs sfs;
	int fd;

	fd = open(DEBUGFS "/gup_test", O_RDWR);
	if (fd < 0 && (statfs(DEBUGFS, &sfs) || sfs.f_type != DEBUGFS_MAGIC) &&
	    !mount("debugfs", DEBUGFS, "debugfs", 0, NULL)) {
		st->mounted_debugfs = true;
		fd = open(DEBUGFS "/gup_test", O_RDWR);
	}
	return fd;
}

/*
 * Take a R/O long-term pin (gup_test; @flags: PIN_LONGTERM_TEST_FLAG_*) on
 * the @n single-mapped KSM pages at @a, whose PFNs go to @pfn: the unshare
 * fault must reuse every page. A pinned page cannot be KSM, so a pin that
 * succeeded without an unshare fault would show as an unchanged counter.
 */
static void ro_pin_reuse(struct __test_metadata *_metadata,
			 struct kwr_state *st, int gup_fd, const char *what,
			 char *a, size_t n, unsigned int tag,
			 unsigned long *pfn, __u32 flags)
{
	struct pin_longterm_test args;
	struct kwr_count c;

	prepare_write(_metadata, a, 0, n, pfn, true);
	count_start(_metadata, st, &c, getpid(), 0);
	args.addr = (uintptr_t)a;
	args.size = n * pagesize;
	args.flags = flags;
	ASSERT_EQ(0, ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args))
		TH_LOG("%s: PIN_LONGTERM_TEST_START: %s", what, strerror(errno));
	count_end(_metadata, st, &c);
	check_outcome(_metadata, what, a, 0, n, tag, false, pfn, &c, true);
	count_free(&c);
}

/*
 * R/O long-term pin (@flags as for ro_pin_reuse()) on single-mapped KSM
 * pages: reused by the unshare fault; later writes keep the pinned pages
 * (no KSM event any more) and the pin sees them.
 */
static void ro_pin_test(struct __test_metadata *_metadata,
			struct kwr_state *st, const char *what,
			unsigned int tag, __u32 flags)
{
	const size_t n = 4;
	unsigned long pfn[4];
	struct kwr_count c;
	long same = 0;
	char *a, *b, *tmp;
	__u64 tmp_addr;
	int gup_fd;
	size_t i;

	gup_fd = gup_test_open(st);
	if (gup_fd < 0)
		SKIP(return, DEBUGFS "/gup_test: %s (CONFIG_GUP_TEST?)",
		     strerror(errno));

	ASSERT_EQ(0, make_ksm_pages(&a, &b, n, tag, true));
	ro_pin_reuse(_metadata, st, gup_fd, what, a, n, tag, pfn, flags);

	/* Now an ordinary exclusive anon page: no more KSM events. */
	count_start(_metadata, st, &c, getpid(), 0);
	mark_pages(a, 0, n, tag);
	count_end(_metadata, st, &c);
	expect_no_ksm_fault(_metadata, what, &c);
	count_free(&c);
	for (i = 0; i < n; i++)
		same += pg_info(pagemap_fd, a + i * pagesize).pfn == pfn[i];
	EXPECT_EQ((long)n, same) TH_LOG("%s: pinned pages replaced on write", what);

	tmp = malloc(n * pagesize);
	ASSERT_NE(NULL, tmp);
	tmp_addr = (uintptr_t)tmp;
	EXPECT_EQ(0, ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &tmp_addr))
		TH_LOG("PIN_LONGTERM_TEST_READ: %s", strerror(errno));
	EXPECT_EQ(0, bad_pages(tmp, 0, n, tag, true))
		TH_LOG("%s: the pin does not see the write", what);
	EXPECT_EQ(0, ioctl(gup_fd, PIN_LONGTERM_TEST_STOP));
	free(tmp);
	close(gup_fd);
	munmap(a, n * pagesize);
}

/*
 * A R/O long-term pin (gup_test) on a single-mapped KSM page triggers an
 * unshare fault, which reuses the page; the pin then sees later writes.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, ro_longterm_pin_unshare_reused, 300)
{
	/* R/O, not GUP-fast */
	ro_pin_test(_metadata, &self->st, "R/O long-term pin", TAG_PIN, 0);
}

/* Merge @n twins, unmap the twins, write all: every page must be reused. */
static char *reuse_many(struct __test_metadata *_metadata,
			struct kwr_state *st, size_t n, unsigned int tag,
			long *shared, long *sharing, long *self_merging)
{
	unsigned long *pfn;
	char *a, *b;

	pfn = calloc(n, sizeof(*pfn));
	if (!pfn)
		return NULL;
	if (make_ksm_pages(&a, &b, n, tag, false)) {
		free(pfn);
		return NULL;
	}
	if (shared) {
		*shared = read_long(KSM_SYSFS "pages_shared");
		*sharing = read_long(KSM_SYSFS "pages_sharing");
		*self_merging = ksm_get_self_merging_pages();
	}
	munmap(b, n * pagesize);
	write_and_check(_metadata, st, "many", a, 0, n, tag, pfn, true);
	free(pfn);
	return a;
}

/* After draining the LRU batches, all of 4096 single-mapped pages are reused. */
TEST_F_TIMEOUT(ksm_wp_reuse, many_pages_all_reused, 600)
{
	const size_t n = 4096;
	char *a;

	a = reuse_many(_metadata, &self->st, n, TAG_MANY, NULL, NULL, NULL);
	ASSERT_NE(NULL, a);
	munmap(a, n * pagesize);
}

/*
 * KSM's counters go stale after reuse exactly as after a copy: unchanged
 * while ksmd is stopped; once ksmd has run two more full scans, this
 * process's ksm_merging_pages and, on a machine of its own (intrusive mode:
 * other processes' KSM pages move them), pages_shared and pages_sharing are
 * back at their values from before the merge.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, ksm_counters_converge, 600)
{
	const size_t n = 1024;
	long base_shared, base_sharing, base_self;
	long shared, sharing, self_merging;
	const bool global = intrusive();
	char *a, *keep;

	/*
	 * Let ksmd drop stale nodes left by earlier tests first. ksmd only
	 * scans while some mm is registered with KSM: register this one with
	 * a page that merges with nothing.
	 */
	keep = map_area(1);
	ASSERT_NE(NULL, keep);
	fill(keep, 1, TAG_UNIQUE);
	ASSERT_EQ(0, madvise(keep, pagesize, MADV_MERGEABLE));
	ASSERT_EQ(0, ksm_scan(2, NULL, NULL, 0));
	base_shared = read_long(KSM_SYSFS "pages_shared");
	base_sharing = read_long(KSM_SYSFS "pages_sharing");
	base_self = ksm_get_self_merging_pages();
	ASSERT_LE(0, base_shared);
	ASSERT_LE(0, base_sharing);
	ASSERT_LE(0, base_self) TH_LOG("/proc/self/ksm_merging_pages");

	a = reuse_many(_metadata, &self->st, n, TAG_CONVERGE, &shared,
		       &sharing, &self_merging);
	ASSERT_NE(NULL, a);
	EXPECT_EQ(base_self + 2 * (long)n, self_merging);
	if (global) {
		EXPECT_EQ(base_shared + (long)n, shared);
		EXPECT_EQ(base_sharing + (long)n, sharing);
	}

	/* ksmd stopped: stale, as after copies. */
	EXPECT_EQ(self_merging, ksm_get_self_merging_pages());
	if (global) {
		EXPECT_EQ(shared, read_long(KSM_SYSFS "pages_shared"));
		EXPECT_EQ(sharing, read_long(KSM_SYSFS "pages_sharing"));
	}

	ASSERT_EQ(0, ksm_scan(2, NULL, NULL, 0));
	EXPECT_EQ(base_self, ksm_get_self_merging_pages());
	if (global) {
		EXPECT_EQ(base_shared, read_long(KSM_SYSFS "pages_shared"));
		EXPECT_EQ(base_sharing, read_long(KSM_SYSFS "pages_sharing"));
	} else {
		TH_LOG("pages_shared and pages_sharing not checked: machine-wide"
		       INTRUSIVE_ONLY);
	}
	munmap(a, n * pagesize);
	munmap(keep, pagesize);
}

/* write() @len bytes of @s to @path; returns write()'s result, errno in *err. */
static ssize_t write_raw(const char *path, const char *s, size_t len, int *err)
{
	ssize_t ret;
	int fd;

	*err = 0;
	fd = open(path, O_WRONLY);
	if (fd < 0) {
		*err = errno;
		return -2;
	}
	ret = write(fd, s, len);
	if (ret < 0)
		*err = errno;
	close(fd);
	return ret;
}

/*
 * The switch takes what kstrtobool() takes, as its neighbours do: a first
 * character of 1, y, Y, t, T, e or E (on) or 0, n, N, f, F, d or D (off),
 * or "on"/"off" in any case, whatever follows (a newline, "yes", "10"); it
 * reads back as 1 or 0. Anything else is refused with EINVAL and the value
 * stays: "2", "-1", "+1", "x", "o", " 1", a lone newline. An empty write
 * never reaches the store function (sysfs_kf_write() returns 0 for it), so
 * it returns 0 (EINVAL is accepted too) and must not change the value.
 */
TEST_F(ksm_wp_reuse, switch_takes_kstrtobool_values)
{
	static const char * const on[] = {
		"1", "1\n", "y", "Y", "yes", "t", "true", "T", "e", "E", "on",
		"ON", "oN\n", "10",
	};
	static const char * const off[] = {
		"0", "0\n", "n", "N", "no", "f", "false", "F", "d", "D", "off",
		"OFF", "oF\n", "01",
	};
	static const char * const bad[] = {
		"2", "-1", "+1", "x", "abc", "o", "ox", " 1", "\t0", "\n", "-",
	};
	static const char * const start[] = { "1", "0" };
	char val[16];
	struct stat sb;
	size_t i, s;
	ssize_t ret;
	int err;

	ASSERT_EQ(0, stat(WP_REUSE, &sb));
	EXPECT_EQ(0644, (int)(sb.st_mode & 0777));

	for (s = 0; s < 2; s++) {
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			ASSERT_EQ(0, write_str(WP_REUSE, start[s]));
			ret = write_raw(WP_REUSE, bad[i], strlen(bad[i]), &err);
			EXPECT_EQ(-1, ret) TH_LOG("write of \"%s\"", bad[i]);
			EXPECT_EQ(EINVAL, err) TH_LOG("write of \"%s\"", bad[i]);
			ASSERT_EQ(0, read_str(WP_REUSE, val, sizeof(val)));
			EXPECT_STREQ(start[s], val) TH_LOG("after \"%s\"", bad[i]);
		}
		ASSERT_EQ(0, write_str(WP_REUSE, start[s]));
		ret = write_raw(WP_REUSE, "", 0, &err);
		EXPECT_TRUE(ret == 0 || (ret == -1 && err == EINVAL))
			TH_LOG("empty write: %zd, %s", ret, strerror(err));
		ASSERT_EQ(0, read_str(WP_REUSE, val, sizeof(val)));
		EXPECT_STREQ(start[s], val);
	}

	for (i = 0; i < ARRAY_SIZE(on) + ARRAY_SIZE(off); i++) {
		bool is_on = i < ARRAY_SIZE(on);
		const char *str = is_on ? on[i] : off[i - ARRAY_SIZE(on)];

		/* From the other value, so that each write must change it. */
		ASSERT_EQ(0, write_str(WP_REUSE, is_on ? "0" : "1"));
		ret = write_raw(WP_REUSE, str, strlen(str), &err);
		EXPECT_EQ((ssize_t)strlen(str), ret)
			TH_LOG("write of \"%s\": %s", str, strerror(err));
		ASSERT_EQ(0, read_str(WP_REUSE, val, sizeof(val)));
		EXPECT_STREQ(is_on ? "1" : "0", val) TH_LOG("after \"%s\"", str);
	}
	ASSERT_EQ(0, write_str(WP_REUSE, "1"));
}

/* --- fork, pins, unmerging, knobs, FOLL_FORCE ------------------------------ */

/* Store the original word MARK_WORD back into pages [first, first + n). */
static void unmark_pages(char *area, size_t first, size_t n, unsigned int tag)
{
	size_t i;

	for (i = first; i < first + n; i++) {
		uint64_t *p = (uint64_t *)(area + i * pagesize);

		__atomic_store_n(&p[MARK_WORD], pat(tag, i, MARK_WORD),
				 __ATOMIC_RELAXED);
	}
}

/* What a helper process reports about its @n pages. */
struct kwr_report {
	long err;	/* 0, or the step that failed */
	long same;	/* pages that kept their PFN */
	long bad;	/* pages with wrong data */
	long ksm;	/* pages that are KSM pages */
	long excl;	/* pages mapped by one PTE only */
};

static void survey(int pm_fd, const char *area, size_t n, unsigned int tag,
		   bool marked, const unsigned long *pfn, struct kwr_report *r)
{
	size_t i;

	r->bad = bad_pages(area, 0, n, tag, marked);
	r->same = 0;
	r->ksm = 0;
	r->excl = 0;
	for (i = 0; i < n; i++) {
		struct pg pg = pg_info(pm_fd, area + i * pagesize);

		r->same += pg.pfn && pg.pfn == pfn[i];
		r->ksm += !!(pg.kpf & KWR_KPF_KSM);
		r->excl += !!(pg.pme & PM_MMAP_EXCLUSIVE);
	}
}

/*
 * A reused page is an ordinary exclusive anon page: fork() shares it with
 * the child like any anon page. The child sees the data written before the
 * fork and keeps the page; the parent's next write copies the page as an
 * ordinary anon COW (neither KSM counter moves: the page is no KSM page any
 * more), and the child does not see that write.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, reuse_then_fork, 300)
{
	const size_t n = 8;
	struct kwr_report r;
	unsigned long pfn[8];
	struct kwr_count c;
	char *a, *b;
	pid_t pid;
	int wfd;

	ASSERT_EQ(0, make_ksm_pages(&a, &b, n, TAG_RFORK, true));
	write_and_check(_metadata, &self->st, "before fork", a, 0, n, TAG_RFORK, pfn,
			true);
	count_start(_metadata, &self->st, &c, getpid(), 0);

	pid = fork_data_child(a, n, TAG_RFORK, true, &wfd);
	ASSERT_GT(pid, 0);
	track_pid(&self->st, 0, pid);
	survey(pagemap_fd, a, n, TAG_RFORK, true, pfn, &r);
	EXPECT_EQ((long)n, r.same) TH_LOG("fork changed the parent's PFNs");
	EXPECT_EQ(0, r.excl) TH_LOG("pages not shared with the child");

	/* Back to the old word: a change of data that the child must not see. */
	unmark_pages(a, 0, n, TAG_RFORK);
	count_end(_metadata, &self->st, &c);
	survey(pagemap_fd, a, n, TAG_RFORK, false, pfn, &r);
	EXPECT_EQ(0, r.bad) TH_LOG("parent: wrong data after its write");
	EXPECT_EQ(0, r.same) TH_LOG("parent's write after fork did not copy");
	EXPECT_EQ(0, r.ksm) TH_LOG("parent's pages are KSM pages");
	EXPECT_EQ((long)n, r.excl) TH_LOG("parent's copies not exclusive");
	expect_no_ksm_fault(_metadata, "write after fork", &c);
	count_free(&c);

	ASSERT_EQ(0, release_old_data_child(wfd, n, pfn));
	EXPECT_EQ(0, reap(&self->st, 0))
		TH_LOG("child: 1 = saw the parent's write, 2 = its PFN changed, 3 = error");
	munmap(a, n * pagesize);
}

/*
 * A page reused by a R/O long-term pin stays with the parent on fork():
 * fork() copies a pinned exclusive anon page for the child at once
 * (folio_try_dup_anon_rmap_pte() refuses to share it), so the parent keeps
 * the pinned PFN, exclusive, and the child gets a copy with the same data.
 * The parent's later write reuses its page (no copy, no KSM event) and is
 * visible through the pin, not to the child.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, ro_pin_then_fork, 300)
{
	const size_t n = 4;
	unsigned long pfn[4], cpfn[4];
	struct kwr_report r, cr;
	struct kwr_count c;
	char path[64], *a, *b, *tmp;
	int gup_fd, child_pm, wfd;
	__u64 tmp_addr;
	size_t i;
	pid_t pid;

	gup_fd = gup_test_open(&self->st);
	if (gup_fd < 0)
		SKIP(return, DEBUGFS "/gup_test: %s (CONFIG_GUP_TEST?)",
		     strerror(errno));
	ASSERT_EQ(0, make_ksm_pages(&a, &b, n, TAG_PINFORK, true));
	ro_pin_reuse(_metadata, &self->st, gup_fd, "R/O pin before fork", a, n,
		     TAG_PINFORK, pfn, 0);
	count_start(_metadata, &self->st, &c, getpid(), 0);

	pid = fork_data_child(a, n, TAG_PINFORK, false, &wfd);
	ASSERT_GT(pid, 0);
	track_pid(&self->st, 0, pid);
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	child_pm = open(path, O_RDONLY);
	ASSERT_GE(child_pm, 0);
	survey(pagemap_fd, a, n, TAG_PINFORK, false, pfn, &r);
	EXPECT_EQ((long)n, r.same) TH_LOG("the pinned pages left the parent");
	EXPECT_EQ((long)n, r.excl) TH_LOG("pinned pages shared with the child");
	for (i = 0; i < n; i++)
		cpfn[i] = pg_info(child_pm, a + i * pagesize).pfn;
	/* Only cr's PFN and mapping counts describe the child. */
	survey(child_pm, a, n, TAG_PINFORK, false, pfn, &cr);
	EXPECT_EQ(0, cr.same) TH_LOG("child maps the pinned pages");
	EXPECT_EQ((long)n, cr.excl) TH_LOG("child's copies not exclusive");
	close(child_pm);

	mark_pages(a, 0, n, TAG_PINFORK);
	count_end(_metadata, &self->st, &c);
	survey(pagemap_fd, a, n, TAG_PINFORK, true, pfn, &r);
	EXPECT_EQ(0, r.bad) TH_LOG("parent: wrong data after its write");
	EXPECT_EQ((long)n, r.same) TH_LOG("pinned pages replaced on write");
	EXPECT_EQ(0, r.ksm);
	expect_no_ksm_fault(_metadata, "write after fork", &c);
	count_free(&c);

	tmp = malloc(n * pagesize);
	ASSERT_NE(NULL, tmp);
	tmp_addr = (uintptr_t)tmp;
	EXPECT_EQ(0, ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &tmp_addr))
		TH_LOG("PIN_LONGTERM_TEST_READ: %s", strerror(errno));
	EXPECT_EQ(0, bad_pages(tmp, 0, n, TAG_PINFORK, true))
		TH_LOG("the pin does not see the parent's write");
	free(tmp);

	/* The child: old data, and the PFNs it had right after fork(). */
	ASSERT_EQ(0, release_old_data_child(wfd, n, cpfn));
	EXPECT_EQ(0, reap(&self->st, 0))
		TH_LOG("child: 1 = saw the parent's write, 2 = its PFN changed, 3 = error");
	EXPECT_EQ(0, ioctl(gup_fd, PIN_LONGTERM_TEST_STOP));
	close(gup_fd);
	munmap(a, n * pagesize);
}

/*
 * Body of the child C of orphan_parent(): once the test says its parent is
 * gone, report on the pages (KSM, mapped once, same PFNs as in the parent),
 * then on the test's go write them and report again.
 */
static void orphan_child(char *a, size_t n, unsigned int tag,
			 const unsigned long *pfn, int up, int down)
{
	struct kwr_report r = { 0 };
	char c;

	if (read(down, &c, 1) != 1)
		_exit(3);
	/* The inherited fd shows the parent's mm. */
	close(pagemap_fd);
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap_fd < 0)
		r.err = 1;
	else if (drain_lru())
		r.err = 2;
	else
		survey(pagemap_fd, a, n, tag, false, pfn, &r);
	if (write(up, &r, sizeof(r)) != sizeof(r) || r.err)
		_exit(3);
	if (read(down, &c, 1) != 1)
		_exit(3);
	mark_pages(a, 0, n, tag);
	survey(pagemap_fd, a, n, tag, true, pfn, &r);
	_exit(write(up, &r, sizeof(r)) == sizeof(r) ? 0 : 3);
}

/*
 * Body of helper P: make @n single-mapped KSM pages, fork C (which maps
 * them too), send C's pid (-1 on failure) and exit.
 */
static void orphan_parent(size_t n, unsigned int tag, int up, int down)
{
	unsigned long pfn[8];
	pid_t pid = -1;
	char *a, *b;
	size_t i;

	close(pagemap_fd);
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	if (n > ARRAY_SIZE(pfn) || pagemap_fd < 0 ||
	    make_ksm_pages(&a, &b, n, tag, true))
		goto out;
	for (i = 0; i < n; i++)
		pfn[i] = pg_info(pagemap_fd, a + i * pagesize).pfn;
	pid = fork();
	if (!pid)
		orphan_child(a, n, tag, pfn, up, down);
out:
	if (write(up, &pid, sizeof(pid)) != sizeof(pid))
		_exit(2);
	_exit(pid > 0 ? 0 : 1);
}

/*
 * KSM pages that a process P and its child C share become single-mapped
 * when P exits: C's write then reuses them (same PFNs as P had, right data,
 * ksm_wp_reuse +n, cow_ksm +0). The counters are global: the test reads
 * them around C's write phase, sequenced through pipes. The test is C's
 * subreaper, so it can reap C after P is gone.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, reuse_in_child_after_parent_exits, 300)
{
	const size_t n = 8;
	struct kwr_count cnt;
	int up[2], down[2];
	struct kwr_report r;
	pid_t p, c;

	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	ASSERT_EQ(0, pipe(up));
	ASSERT_EQ(0, pipe(down));
	p = fork();
	ASSERT_LE(0, p);
	if (!p) {
		close(up[0]);
		close(down[1]);
		orphan_parent(n, TAG_ORPHAN, up[1], down[0]);
	}
	track_pid(&self->st, 0, p);
	close(up[1]);
	close(down[0]);
	ASSERT_EQ((ssize_t)sizeof(c), read(up[0], &c, sizeof(c)));
	ASSERT_LT(0, c) TH_LOG("P could not make single-mapped KSM pages");
	track_pid(&self->st, 1, c);
	/* P's mm is gone once it can be reaped: C is the only mapper. */
	ASSERT_EQ(0, reap(&self->st, 0));

	ASSERT_EQ(1, write(down[1], "p", 1));
	ASSERT_EQ((ssize_t)sizeof(r), read(up[0], &r, sizeof(r)));
	ASSERT_EQ(0, r.err) TH_LOG("C: setup step %ld failed", r.err);
	ASSERT_EQ((long)n, r.same) TH_LOG("C does not map P's pages");
	ASSERT_EQ((long)n, r.ksm) TH_LOG("C's pages are not KSM pages");
	ASSERT_EQ((long)n, r.excl) TH_LOG("C's pages not mapped once after P exited");
	ASSERT_EQ(0, r.bad) TH_LOG("C: wrong data before its write");

	count_start(_metadata, &self->st, &cnt, c, 0);
	ASSERT_EQ(1, write(down[1], "w", 1));
	ASSERT_EQ((ssize_t)sizeof(r), read(up[0], &r, sizeof(r)));
	count_end(_metadata, &self->st, &cnt);
	EXPECT_EQ(0, r.bad) TH_LOG("C: wrong data after its write");
	EXPECT_EQ((long)n, r.same)
		TH_LOG("C: only %ld of %zu pages kept their PFN", r.same, n);
	EXPECT_EQ(0, r.ksm) TH_LOG("C: pages still KSM after the write");
	expect_reused(_metadata, "C", &cnt, n);
	count_free(&cnt);
	EXPECT_EQ(0, reap(&self->st, 1));
	close(up[0]);
	close(down[1]);
}

/*
 * MADV_UNMERGEABLE over pages that were already reused finds no KSM page
 * (break_ksm() only faults on KSM pages): nothing changes, no KSM event.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, unmergeable_over_reused_noop, 300)
{
	const size_t n = 8;
	unsigned long pfn[8];
	struct kwr_report r;
	struct kwr_count c;
	char *a, *b;

	ASSERT_EQ(0, make_ksm_pages(&a, &b, n, TAG_UNMERGE_REUSED, true));
	write_and_check(_metadata, &self->st, "write", a, 0, n, TAG_UNMERGE_REUSED, pfn,
			true);
	count_start(_metadata, &self->st, &c, getpid(), 0);
	ASSERT_EQ(0, madvise(a, n * pagesize, MADV_UNMERGEABLE));
	count_end(_metadata, &self->st, &c);
	survey(pagemap_fd, a, n, TAG_UNMERGE_REUSED, true, pfn, &r);
	EXPECT_EQ(0, r.bad);
	EXPECT_EQ((long)n, r.same) TH_LOG("MADV_UNMERGEABLE moved reused pages");
	EXPECT_EQ(0, r.ksm);
	expect_no_ksm_fault(_metadata, "MADV_UNMERGEABLE", &c);
	count_free(&c);
	munmap(a, n * pagesize);
}

enum unmerge_how { UNMERGE_MADV, UNMERGE_PRCTL, UNMERGE_RUN };

/*
 * Unmerge @n single-mapped KSM pages by @how; break_ksm() triggers an
 * unshare fault on each (handle_mm_fault() with FAULT_FLAG_UNSHARE |
 * FAULT_FLAG_REMOTE, no FAULT_FLAG_WRITE), which do_wp_page() handles like
 * a write fault up to the reuse decision: every page must be reused (same
 * PFN, data unchanged, ksm_wp_reuse +n, cow_ksm +0) and no KSM page any more.
 */
static void unmerge_reuses(struct __test_metadata *_metadata,
			   struct kwr_state *st, const char *what,
			   enum unmerge_how how, unsigned int tag)
{
	const size_t n = 8;
	unsigned long pfn[8];
	struct kwr_count c;
	char *a, *b;
	int ret;

	ASSERT_EQ(0, make_ksm_pages(&a, &b, n, tag, true));
	if (how == UNMERGE_PRCTL) {
		/* ksmd is stopped: this only marks every VMA mergeable. */
		ret = prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0);
		if (ret && errno == EINVAL)
			SKIP(return, "PR_SET_MEMORY_MERGE not supported");
		ASSERT_EQ(0, ret) TH_LOG("PR_SET_MEMORY_MERGE: %s", strerror(errno));
		ASSERT_EQ(1, prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0));
	}
	prepare_write(_metadata, a, 0, n, pfn, true);
	count_start(_metadata, st, &c, getpid(), 0);
	switch (how) {
	case UNMERGE_MADV:
		ASSERT_EQ(0, madvise(a, n * pagesize, MADV_UNMERGEABLE));
		break;
	case UNMERGE_PRCTL:
		ASSERT_EQ(0, prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0));
		break;
	case UNMERGE_RUN:
		ASSERT_EQ(0, write_str(KSM_SYSFS "run", "2"));
		break;
	}
	count_end(_metadata, st, &c);
	if (how == UNMERGE_RUN)
		ASSERT_EQ(0, write_str(KSM_SYSFS "run", "0"));
	check_outcome(_metadata, what, a, 0, n, tag, false, pfn, &c, true);
	count_free(&c);
	munmap(a, n * pagesize);
}

/* MADV_UNMERGEABLE (ksm_madvise() -> break_ksm()) reuses single-mapped pages. */
TEST_F_TIMEOUT(ksm_wp_reuse, unmergeable_reuses_single_mapped, 300)
{
	unmerge_reuses(_metadata, &self->st, "MADV_UNMERGEABLE", UNMERGE_MADV,
		       TAG_UNMERGE_MADV);
}

/*
 * prctl(PR_SET_MEMORY_MERGE, 0) after prctl(PR_SET_MEMORY_MERGE, 1):
 * ksm_disable_merge_any() -> ksm_del_vmas() -> break_ksm() on every
 * mergeable VMA reuses single-mapped pages. The pages are merged with
 * MADV_MERGEABLE and prctl(1) is set with ksmd stopped: had ksmd merged
 * with prctl(1) on, it would have merged this process's other identical
 * pages too (zero-filled heap and stack pages), which prctl(0) would then
 * unshare as well, and the counter deltas would not be ours alone.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, prctl_unmerge_reuses_single_mapped, 300)
{
	unmerge_reuses(_metadata, &self->st, "PR_SET_MEMORY_MERGE 0", UNMERGE_PRCTL,
		       TAG_UNMERGE_PRCTL);
}

/*
 * run=2 (unmerge_and_remove_all_rmap_items() -> break_ksm()) reuses
 * single-mapped pages. It unmerges every process's KSM pages, in our task
 * (the faults are counted as ours): intrusive, and the exact counts assume
 * no other process has any (a test VM).
 */
TEST_F_TIMEOUT(ksm_wp_reuse, run2_unmerge_reuses_single_mapped, 300)
{
	if (!intrusive())
		SKIP(return, "run=2 unmerges every KSM page of the machine"
		     INTRUSIVE_ONLY);
	unmerge_reuses(_metadata, &self->st, "run=2", UNMERGE_RUN, TAG_UNMERGE_RUN);
}

/*
 * With smart_scan=1 (the fixture turns it off) ksmd still merges pages that
 * merge on their first chance, and single-mapped ones are reused.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, smart_scan_on_reuse, 300)
{
	const size_t n = 8;
	unsigned long pfn[8];
	char val[16];
	char *a, *b;

	if (access(KSM_SYSFS "smart_scan", W_OK))
		SKIP(return, KSM_SYSFS "smart_scan: %s", strerror(errno));
	/* Restored by teardown (knobs[]). */
	ASSERT_EQ(0, write_str(KSM_SYSFS "smart_scan", "1"));
	ASSERT_EQ(0, read_str(KSM_SYSFS "smart_scan", val, sizeof(val)));
	ASSERT_STREQ("1", val);
	ASSERT_EQ(0, make_ksm_pages(&a, &b, n, TAG_SMART, true));
	write_and_check(_metadata, &self->st, "smart_scan=1", a, 0, n, TAG_SMART, pfn,
			true);
	munmap(a, n * pagesize);
}

/*
 * A R/O long-term pin taken with GUP-fast: GUP-fast cannot pin a KSM page
 * R/O (gup_must_unshare()) and cannot fault, so it falls back to the slow
 * path, whose unshare fault reuses the page: ksm_wp_reuse +n proves it.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, gup_fast_ro_pin_reused, 300)
{
	ro_pin_test(_metadata, &self->st, "R/O long-term pin, GUP-fast",
		    TAG_GUPFAST, PIN_LONGTERM_TEST_FLAG_USE_FAST);
}

/*
 * Page @i of the four @area: its PFN in each goes to @pfn; true if they are
 * two KSM pages of two mappings each (with max_page_sharing=2: two dups of
 * one stable node chain).
 */
static bool two_dups(char * const *area, size_t i, unsigned long *pfn)
{
	int j, k, same;

	for (j = 0; j < 4; j++) {
		struct pg pg = pg_info(pagemap_fd, area[j] + i * pagesize);

		if (!pg.pfn || !(pg.kpf & KWR_KPF_KSM))
			return false;
		pfn[j] = pg.pfn;
	}
	for (j = 0; j < 4; j++) {
		for (same = 0, k = 0; k < 4; k++)
			same += pfn[k] == pfn[j];
		if (same != 2)
			return false;
	}
	return true;
}

/*
 * With max_page_sharing=2, four identical copies of a page form a stable
 * node chain of two dups, each a KSM page mapped twice. Zap one mapping of
 * the dup that area 0 maps: area 0's write reuses its dup. A write to one
 * mapping of the other dup, still mapped twice, copies it; its other
 * mapping keeps the dup and the old data.
 *
 * max_page_sharing only changes while no KSM page exists: run=2 unmerges
 * everything first; the old value is restored the same way (and by
 * teardown, from knobs[], if the test stops early).
 */
TEST_F_TIMEOUT(ksm_wp_reuse, max_page_sharing_chain, 600)
{
	const size_t n = 4;
	unsigned long pfn[4], pa[4], py[4];
	int partner[4], y1[4], y2[4];
	long chains, dups, wrong = 0;
	struct kwr_count c;
	char saved[16], *area[4];
	bool all = false;
	size_t i;
	int j, round, err;

	if (!intrusive())
		SKIP(return, "max_page_sharing changes only once run=2 unmerged every KSM page"
		     INTRUSIVE_ONLY);
	if (read_str(KSM_SYSFS "max_page_sharing", saved, sizeof(saved)))
		SKIP(return, KSM_SYSFS "max_page_sharing missing");
	ASSERT_EQ(0, write_str(KSM_SYSFS "run", "2"));
	ASSERT_EQ(0, write_str(KSM_SYSFS "run", "0"));
	err = write_str(KSM_SYSFS "max_page_sharing", "2");
	ASSERT_EQ(0, err) TH_LOG("max_page_sharing=2: %s", strerror(-err));

	for (j = 0; j < 4; j++) {
		area[j] = map_area(n);
		ASSERT_NE(NULL, area[j]);
		fill(area[j], n, TAG_CHAIN);
		ASSERT_EQ(0, madvise(area[j], n * pagesize, MADV_MERGEABLE));
	}
	for (round = 0; round < 10 && !all; round++) {
		ASSERT_EQ(0, ksm_scan(1, NULL, NULL, 0));
		for (all = true, i = 0; i < n && all; i++)
			all = two_dups(area, i, pfn);
	}
	ASSERT_TRUE(all) TH_LOG("page %zu: not two KSM pages mapped twice each", i - 1);
	chains = read_long(KSM_SYSFS "stable_node_chains");
	dups = read_long(KSM_SYSFS "stable_node_dups");
	EXPECT_LE((long)n, chains) TH_LOG("stable_node_chains");
	EXPECT_LE(2 * (long)n, dups) TH_LOG("stable_node_dups");

	for (i = 0; i < n; i++) {
		ASSERT_TRUE(two_dups(area, i, pfn));
		partner[i] = -1;
		y1[i] = -1;
		y2[i] = -1;
		for (j = 1; j < 4; j++) {
			if (pfn[j] == pfn[0])
				partner[i] = j;
			else if (y1[i] < 0)
				y1[i] = j;
			else
				y2[i] = j;
		}
		ASSERT_EQ(0, madvise(area[partner[i]] + i * pagesize, pagesize,
				     MADV_DONTNEED));
	}
	write_and_check(_metadata, &self->st, "dup mapped once", area[0], 0, n, TAG_CHAIN,
			pa, true);

	for (i = 0; i < n; i++)
		prepare_write(_metadata, area[y1[i]], i, 1, py, false);
	count_start(_metadata, &self->st, &c, getpid(), 0);
	for (i = 0; i < n; i++)
		mark_pages(area[y1[i]], i, 1, TAG_CHAIN);
	count_end(_metadata, &self->st, &c);
	for (i = 0; i < n; i++) {
		struct pg w = pg_info(pagemap_fd, area[y1[i]] + i * pagesize);
		struct pg o = pg_info(pagemap_fd, area[y2[i]] + i * pagesize);

		wrong += w.pfn == py[i] || (w.kpf & KWR_KPF_KSM) ||
			 !page_ok(area[y1[i]] + i * pagesize, TAG_CHAIN, i, true);
		wrong += o.pfn != py[i] || !(o.kpf & KWR_KPF_KSM) ||
			 !page_ok(area[y2[i]] + i * pagesize, TAG_CHAIN, i, false);
	}
	EXPECT_EQ(0, wrong) TH_LOG("dup mapped twice: not copied, or its other mapping changed");
	expect_copied(_metadata, "dup mapped twice", &c, n, true);
	expect_results(_metadata, &c, py, n, "mapped");
	count_free(&c);

	for (j = 0; j < 4; j++)
		munmap(area[j], n * pagesize);
	ASSERT_EQ(0, write_str(KSM_SYSFS "run", "2"));
	EXPECT_EQ(0, write_str(KSM_SYSFS "max_page_sharing", saved));
	ASSERT_EQ(0, write_str(KSM_SYSFS "run", "0"));
}

/*
 * A FOLL_FORCE write (pwrite() to /proc/self/mem) into a PROT_READ private
 * mapping of single-mapped KSM pages. GUP faults with FAULT_FLAG_WRITE on
 * the VMA without VM_WRITE (a COW mapping: private, VM_MAYWRITE), and
 * do_wp_page() decides as for any write fault: the KSM page is reused (same
 * PFN, ksm_wp_reuse +n, cow_ksm +0), wp_page_reuse() leaves the PTE
 * read-only (maybe_mkwrite() without VM_WRITE) and GUP then writes the
 * exclusive anon page (can_follow_write_pte()). A second FOLL_FORCE write
 * hits an exclusive anon page: no KSM event, same PFN.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, foll_force_proc_mem_write, 300)
{
	const size_t n = 4;
	unsigned long pfn[4];
	struct kwr_report r;
	struct kwr_count c;
	uint64_t val, *probe;
	char *a, *b, *p;
	ssize_t ret;
	size_t i;
	int fd;

	fd = open("/proc/self/mem", O_RDWR);
	if (fd < 0)
		SKIP(return, "/proc/self/mem: %s", strerror(errno));
	/* Does this kernel allow FOLL_FORCE writes through /proc/pid/mem? */
	probe = (uint64_t *)map_area(1);
	ASSERT_NE(NULL, probe);
	probe[0] = 1;
	ASSERT_EQ(0, mprotect(probe, pagesize, PROT_READ));
	val = 2;
	ret = pwrite(fd, &val, sizeof(val), (uintptr_t)probe);
	if (ret < 0 && (errno == EIO || errno == EPERM))
		SKIP(return, "FOLL_FORCE write to /proc/self/mem refused: %s",
		     strerror(errno));
	ASSERT_EQ((ssize_t)sizeof(val), ret);
	ASSERT_EQ((uint64_t)2, probe[0]);
	munmap(probe, pagesize);

	ASSERT_EQ(0, make_ksm_pages(&a, &b, n, TAG_FORCE, true));
	ASSERT_EQ(0, mprotect(a, n * pagesize, PROT_READ));
	prepare_write(_metadata, a, 0, n, pfn, true);
	count_start(_metadata, &self->st, &c, getpid(), 0);
	for (i = 0; i < n; i++) {
		p = a + i * pagesize + MARK_WORD * sizeof(val);
		val = mark(TAG_FORCE, i);
		ASSERT_EQ((ssize_t)sizeof(val),
			  pwrite(fd, &val, sizeof(val), (uintptr_t)p))
			TH_LOG("page %zu: %s", i, strerror(errno));
	}
	count_end(_metadata, &self->st, &c);
	check_outcome(_metadata, "FOLL_FORCE", a, 0, n, TAG_FORCE, true, pfn,
		      &c, true);
	count_free(&c);

	count_start(_metadata, &self->st, &c, getpid(), 0);

	for (i = 0; i < n; i++) {
		p = a + i * pagesize + MARK_WORD * sizeof(val);
		val = pat(TAG_FORCE, i, MARK_WORD);
		ASSERT_EQ((ssize_t)sizeof(val),
			  pwrite(fd, &val, sizeof(val), (uintptr_t)p));
	}
	count_end(_metadata, &self->st, &c);
	survey(pagemap_fd, a, n, TAG_FORCE, false, pfn, &r);
	EXPECT_EQ(0, r.bad) TH_LOG("second FOLL_FORCE write: wrong data");
	EXPECT_EQ((long)n, r.same) TH_LOG("second FOLL_FORCE write moved pages");
	expect_no_ksm_fault(_metadata, "second FOLL_FORCE write", &c);
	count_free(&c);
	close(fd);
	munmap(a, n * pagesize);
}

/*
 * MADV_COLLAPSE over a PMD-aligned range of reused pages: they are ordinary
 * exclusive anon pages now, so the collapse into a THP succeeds, the data
 * stays intact and no KSM event happens (the collapse copies without a
 * fault).
 */
TEST_F_TIMEOUT(ksm_wp_reuse, madv_collapse_over_reused, 600)
{
	struct kwr_count c;
	size_t n, len, i, hsize;
	unsigned long *pfn;
	struct twin x, y;
	long thp = 0;
	char val[32], *raw, *a, *b;
	int ret;

	if (read_str("/sys/kernel/mm/transparent_hugepage/enabled", val,
		     sizeof(val)))
		SKIP(return, "no THP (/sys/kernel/mm/transparent_hugepage/enabled)");
	if (!strcmp(val, "never"))
		SKIP(return, "THP enabled=never");
	hsize = read_long("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
	if ((long)hsize <= 0)
		SKIP(return, "hpage_pmd_size unreadable");
	n = hsize / pagesize;
	len = hsize;
	pfn = calloc(n, sizeof(*pfn));
	ASSERT_NE(NULL, pfn);

	/* A PMD-aligned range, order-0 pages only until the collapse. */
	raw = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, raw);
	a = (char *)(((uintptr_t)raw + len - 1) & ~(uintptr_t)(len - 1));
	if (a > raw)
		munmap(raw, a - raw);
	munmap(a + len, raw + len - a);
	ASSERT_EQ(0, madvise(a, len, MADV_NOHUGEPAGE));
	b = map_area(n);
	ASSERT_NE(NULL, b);
	fill(a, n, TAG_COLLAPSE);
	fill(b, n, TAG_COLLAPSE);
	ASSERT_EQ(0, madvise(a, len, MADV_MERGEABLE));
	ASSERT_EQ(0, madvise(b, len, MADV_MERGEABLE));
	x = (struct twin){ pagemap_fd, a };
	y = (struct twin){ pagemap_fd, b };
	ASSERT_EQ(0, ksm_scan(2, &x, &y, n));
	munmap(b, len);
	write_and_check(_metadata, &self->st, "before collapse", a, 0, n, TAG_COLLAPSE,
			pfn, true);

	/* VM_NOHUGEPAGE would refuse the collapse. */
	ASSERT_EQ(0, madvise(a, len, MADV_HUGEPAGE));
	ASSERT_EQ(0, drain_lru());
	count_start(_metadata, &self->st, &c, getpid(), 0);
	ret = madvise(a, len, MADV_COLLAPSE);
	if (ret && errno == EINVAL)
		SKIP(return, "MADV_COLLAPSE: EINVAL (not supported here)");
	if (ret && errno == ENOMEM)
		SKIP(return, "MADV_COLLAPSE: no huge page could be allocated");
	ASSERT_EQ(0, ret) TH_LOG("MADV_COLLAPSE: %s", strerror(errno));
	count_end(_metadata, &self->st, &c);
	for (i = 0; i < n; i++)
		thp += !!(pg_info(pagemap_fd, a + i * pagesize).kpf &
			  KWR_KPF_THP);
	EXPECT_EQ((long)n, thp) TH_LOG("pages not in a THP after MADV_COLLAPSE");
	EXPECT_EQ(0, bad_pages(a, 0, n, TAG_COLLAPSE, true))
		TH_LOG("data changed by the collapse");
	expect_no_ksm_fault(_metadata, "MADV_COLLAPSE", &c);
	count_free(&c);
	free(pfn);
	munmap(a, len);
}

/*
 * MADV_SOFT_OFFLINE on a single-mapped KSM page migrates it
 * (soft_offline_in_use_page() -> migrate_pages()): the new folio takes
 * over the stable node (folio_migrate_ksm()), so it is a KSM page at a new
 * PFN, still mapped once, with the same data. A write then reuses the new
 * folio. Each run poisons @n pages of the test machine (a VM).
 */
TEST_F_TIMEOUT(ksm_wp_reuse, soft_offline_then_write, 300)
{
	const size_t n = 2;
	unsigned long old[2], pfn[2];
	long moved = 0;
	char *a, *b;
	size_t i;
	int ret;

	if (!intrusive())
		SKIP(return, "MADV_SOFT_OFFLINE takes pages of the machine out of use"
		     INTRUSIVE_ONLY);
	ASSERT_EQ(0, make_ksm_pages(&a, &b, n, TAG_SOFTOFF, true));
	for (i = 0; i < n; i++)
		old[i] = pg_info(pagemap_fd, a + i * pagesize).pfn;
	/* isolate_folio_to_list() needs the folio on an LRU list. */
	ASSERT_EQ(0, drain_lru());
	ret = madvise(a, n * pagesize, MADV_SOFT_OFFLINE);
	if (ret && (errno == EINVAL || errno == EPERM || errno == EOPNOTSUPP))
		SKIP(return, "MADV_SOFT_OFFLINE: %s (no CONFIG_MEMORY_FAILURE?)",
		     strerror(errno));
	ASSERT_EQ(0, ret) TH_LOG("MADV_SOFT_OFFLINE: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		struct pg pg = pg_info(pagemap_fd, a + i * pagesize);

		moved += pg.pfn && pg.pfn != old[i];
	}
	EXPECT_EQ((long)n, moved) TH_LOG("soft offline did not migrate the pages");
	EXPECT_EQ(0, bad_pages(a, 0, n, TAG_SOFTOFF, false))
		TH_LOG("data changed by soft offline");
	/* prepare_write() checks: still KSM, still mapped once. */
	write_and_check(_metadata, &self->st, "after soft offline", a, 0, n, TAG_SOFTOFF,
			pfn, true);
	for (i = 0; i < n; i++)
		EXPECT_NE(old[i], pfn[i]);
	munmap(a, n * pagesize);
}

/* --- remote faults ------------------------------------------------------------- */

/*
 * Another process writes into KSM pages that only we map, half of them with
 * process_vm_writev(), half through /proc/PID/mem: GUP faults in our mm
 * from the writer's task (FAULT_FLAG_REMOTE), and do_wp_page() reuses every
 * page, as for our own write: same PFN in our page tables, the data we see
 * is the writer's, and the decisions are the writer's task's (our instance
 * records only the writer: n reused), with none of ours. Which memcg the
 * decision is checked against: remote_write_follows_target_memcg.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, remote_write_reused, 300)
{
	const size_t n = 8;
	unsigned long pfn[8];
	struct kwr_count c;
	int go[2], status;
	char *a, *b, x;
	pid_t pid;

	ASSERT_EQ(0, make_ksm_pages(&a, &b, n, TAG_REMOTE, true));
	prepare_write(_metadata, a, 0, n, pfn, true);
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* fork() mapped the pages here too: unmap them first. */
		close(go[1]);
		if (munmap(a, n * pagesize) || read(go[0], &x, 1) != 1)
			_exit(255);
		_exit(remote_mark(getppid(), a, n, TAG_REMOTE));
	}
	track_pid(&self->st, 0, pid);
	close(go[0]);
	count_start(_metadata, &self->st, &c, pid, 0);
	ASSERT_EQ(1, write(go[1], "w", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	track_pid(&self->st, 0, 0);
	count_end(_metadata, &self->st, &c);
	close(go[1]);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("remote write: %s", strerror(WEXITSTATUS(status)));
	check_outcome(_metadata, "remote write", a, 0, n, TAG_REMOTE, true, pfn,
		      &c, true);
	count_free(&c);

	/* Our own task made no KSM fault: the faults were the writer's. */
	count_start(_metadata, &self->st, &c, getpid(), 0);
	EXPECT_EQ(0, bad_pages(a, 0, n, TAG_REMOTE, true));
	count_end(_metadata, &self->st, &c);
	expect_no_ksm_fault(_metadata, "reading back", &c);
	count_free(&c);
	munmap(a, n * pagesize);
}

/* --- userfaultfd write-protect, async mode ------------------------------------ */

/*
 * uffd-wp in async mode (UFFD_FEATURE_WP_ASYNC): a write to a protected page
 * raises no message. do_wp_page() clears the PTE's uffd-wp bit itself and
 * goes on as for any write fault, so a single-mapped KSM page is reused
 * (same PFN, result=reused) and the written page's PTE no longer has the
 * uffd-wp bit (pagemap bit 57): the page reads as written, which is what the
 * async mode is for (PAGEMAP_SCAN's PAGE_IS_WRITTEN is that bit, inverted).
 * Pages still mapped twice are copied (result=mapped) and lose the bit too,
 * while the twin keeps its page, its data and its own bit.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, uffd_wp_async_reused, 300)
{
	const size_t n = 4;
	struct uffdio_writeprotect wp;
	struct uffdio_api api;
	unsigned long pfn[4];
	struct kwr_count c;
	struct uffd_msg msg;
	struct pollfd pfd;
	long wp_bits, twin_bad;
	char *a, *b, *t, *u;
	int uffd, round;
	size_t i;

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		SKIP(return, "userfaultfd: %s", strerror(errno));
	api.api = UFFD_API;
	api.features = 0;
	if (ioctl(uffd, UFFDIO_API, &api))
		SKIP(return, "UFFDIO_API: %s", strerror(errno));
	close(uffd);
	if (!(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP) ||
	    !(api.features & UFFD_FEATURE_WP_ASYNC))
		SKIP(return, "UFFD_FEATURE_WP_ASYNC not supported");
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	ASSERT_GE(uffd, 0);
	api.api = UFFD_API;
	api.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_WP_ASYNC;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));

	/* Round 0: mapped once, reused; round 1: mapped twice, copied. */
	for (round = 0; round < 2; round++) {
		const bool once = !round;

		ASSERT_EQ(0, make_ksm_pages(&a, &b, n, TAG_UFFD_ASYNC + round,
					    once));
		t = once ? a : b;
		u = once ? NULL : a;
		ASSERT_EQ(0, uffd_register(uffd, a, n * pagesize, false, true,
					   false));
		if (u)
			ASSERT_EQ(0, uffd_register(uffd, t, n * pagesize, false,
						   true, false));
		for (i = 0; i < (once ? 1U : 2U); i++) {
			wp.range.start = (uintptr_t)(i ? t : a);
			wp.range.len = n * pagesize;
			wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
			ASSERT_EQ(0, ioctl(uffd, UFFDIO_WRITEPROTECT, &wp));
		}
		for (i = 0; i < n; i++)
			ASSERT_TRUE(!!(pg_info(pagemap_fd, a + i * pagesize).pme &
				       PM_UFFD_WP))
				TH_LOG("page %zu not uffd-wp protected", i);

		write_counted(_metadata, &self->st, once ? "uffd-wp async, mapped once" :
			      "uffd-wp async, mapped twice", a, 0, n,
			      TAG_UFFD_ASYNC + round, pfn, once, once, &c);
		if (!once)
			expect_results(_metadata, &c, pfn, n, "mapped");
		count_free(&c);
		wp_bits = 0;
		twin_bad = 0;
		for (i = 0; i < n; i++)
			wp_bits += !!(pg_info(pagemap_fd, a + i * pagesize).pme &
				      PM_UFFD_WP);
		EXPECT_EQ(0, wp_bits)
			TH_LOG("written pages still uffd-wp protected (bit 57)");
		for (i = 0; u && i < n; i++) {
			struct pg pg = pg_info(pagemap_fd, t + i * pagesize);

			twin_bad += pg.pfn != pfn[i] || !(pg.kpf & KWR_KPF_KSM) ||
				    !(pg.pme & PM_UFFD_WP) ||
				    !page_ok(t + i * pagesize,
					     TAG_UFFD_ASYNC + round, i, false);
		}
		EXPECT_EQ(0, twin_bad)
			TH_LOG("twin lost its page, its data or its uffd-wp bit");
		pfd.fd = uffd;
		pfd.events = POLLIN;
		EXPECT_EQ(0, poll(&pfd, 1, 0)) TH_LOG("a uffd message is queued");
		EXPECT_EQ(-1, read(uffd, &msg, sizeof(msg)));
		EXPECT_EQ(EAGAIN, errno);
		munmap(a, n * pagesize);
		if (u)
			munmap(t, n * pagesize);
	}
	close(uffd);
}

/* --- hardware poison ------------------------------------------------------------ */

static sigjmp_buf sigbus_jmp;
static siginfo_t sigbus_info;

static void sigbus_handler(int sig, siginfo_t *si, void *uc)
{
	sigbus_info = *si;
	siglongjmp(sigbus_jmp, 1);
}

/*
 * MADV_HWPOISON on a page a write reused: memory_failure() must find its
 * one mapping through the rmap, which it does only if the reuse moved the
 * page's anon rmap and index to our VMA, unmap it and send us SIGBUS
 * (BUS_MCEERR_AR, at that address), as for any dirty anon page (see
 * memory-failure.c's anon case). We catch it and survive; the PTE is a
 * hwpoison entry (pagemap: swap, not present), the old pfn is HWPoison,
 * HardwareCorrupted grew by a page, the next page kept its PFN and data.
 * Intrusive: the pfn is gone until reboot unless hwpoison_inject's
 * unpoison-pfn (debugfs) gives it back, which is tried.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, hwpoison_reused_page, 300)
{
	const size_t n = 2;
	struct sigaction sa = { 0 }, old;
	unsigned long pfn[2], hc0, hc1;
	unsigned long long kpf = 0, pme;
	char *a, *b;
	int ret;

	if (!intrusive())
		SKIP(return, "MADV_HWPOISON takes a page of the machine out of use"
		     INTRUSIVE_ONLY);
	if (get_hardware_corrupted_size(&hc0))
		SKIP(return, "no HardwareCorrupted in /proc/meminfo (CONFIG_MEMORY_FAILURE?)");
	ASSERT_EQ(0, make_ksm_pages(&a, &b, n, TAG_HWPOISON, true));
	write_and_check(_metadata, &self->st, "before MADV_HWPOISON", a, 0, n,
			TAG_HWPOISON, pfn, true);

	sa.sa_sigaction = sigbus_handler;
	sa.sa_flags = SA_SIGINFO;
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, &old));
	memset(&sigbus_info, 0, sizeof(sigbus_info));
	if (!sigsetjmp(sigbus_jmp, 1)) {
		ret = madvise(a, pagesize, MADV_HWPOISON);
		if (ret) {
			int err = errno;

			sigaction(SIGBUS, &old, NULL);
			if (err == EINVAL || err == EPERM)
				SKIP(return, "MADV_HWPOISON: %s", strerror(err));
			ASSERT_EQ(0, ret) TH_LOG("MADV_HWPOISON: %s", strerror(err));
		}
		FORCE_READ(*a);
	}
	sigaction(SIGBUS, &old, NULL);

	ASSERT_EQ(SIGBUS, sigbus_info.si_signo) TH_LOG("no SIGBUS");
	EXPECT_EQ(BUS_MCEERR_AR, sigbus_info.si_code);
	EXPECT_EQ((void *)a, sigbus_info.si_addr);
	pme = pg_info(pagemap_fd, a).pme;
	EXPECT_TRUE((pme & PM_SWAP) && !(pme & PM_PRESENT))
		TH_LOG("no hwpoison entry in the PTE: pme %#llx",
		       (unsigned long long)pme);
	ASSERT_EQ((ssize_t)sizeof(kpf), pread(kpageflags_fd, &kpf, sizeof(kpf),
					      pfn[0] * sizeof(kpf)));
	EXPECT_TRUE(kpf & KWR_KPF_HWPOISON) TH_LOG("pfn %#lx not HWPoison", pfn[0]);
	ASSERT_EQ(0, get_hardware_corrupted_size(&hc1));
	EXPECT_EQ(hc0 + pagesize / 1024, hc1) TH_LOG("HardwareCorrupted, kB");
	EXPECT_EQ(pfn[1], pg_info(pagemap_fd, a + pagesize).pfn);
	EXPECT_TRUE(page_ok(a + pagesize, TAG_HWPOISON, 1, true));

	munmap(a, n * pagesize);
	ret = unpoison_memory(pfn[0]);
	if (ret)
		TH_LOG("note: pfn %#lx stays poisoned (unpoison-pfn: %s)", pfn[0],
		       strerror(-ret));
}

/* --- provoking the trylock and freeze refusals ----------------------------------- */

/*
 * Between the refcount check and the freeze the fault holds our page table
 * lock, and nothing that takes its reference under that lock can come in:
 * MADV_PAGEOUT and move_pages() isolate the page under it, so their
 * reference is there before the count is read (result=refcount), and
 * mincore() takes neither a reference nor the lock of an anon page. What
 * can take a reference meanwhile is what finds the page without our page
 * table lock:
 * GUP-fast (vmsplice() of the page into a pipe takes a reference locklessly
 * and holds it until the pipe is read: a reference that arrives after the
 * count was read makes the freeze fail) and walkers by pfn that then lock
 * the folio: page_idle's bitmap and DAMON's physical address monitoring
 * take a reference and trylock it for their rmap walk (which then waits for
 * our page table lock): if they lock it after the count was read and before
 * our trylock, it fails. A racer thread on another CPU does one of these on
 * the page being written, over and over, while we write each page of a
 * batch of single-mapped KSM pages once; batches go on until the verdict we
 * want showed or the attempts ran out (then skip, with the counts).
 *
 * Whatever the race gave, each page must be right: reused iff its PFN
 * stayed, copied (new PFN) for refcount, trylock and freeze, its data ours,
 * one decision per write, and the racer must only ever have read the page's
 * old or new data. A pipe read copies the page with copy_to_user(), which
 * need not be atomic per word (x86: rep movsb): if the racer spliced the
 * page our store goes to (the reused page, or a refusal's copy) after the
 * fault mapped it and reads it while the store lands, the marked word reads
 * as a mix of its old and new bytes; such reads are counted apart. (A pipe
 * holding the old KSM page only ever reads its old data; a store landing
 * there instead of in the copy would leave the copy unmarked: bad_pages().)
 */
enum racer_kind { RACE_VMSPLICE, RACE_PAGE_IDLE, RACE_DAMON };

struct racer {
	enum racer_kind kind;
	int cpu;
	char *area;
	const unsigned long *pfn;
	unsigned int tag;
	long cur;	/* __atomic: page raced on; -1 none, -2 stop */
	long laps;	/* __atomic: the racer's rounds */
	long bad;	/* pipe reads neither the old nor the new data */
	long bad_word;	/* the first such read: a word that differed, */
	uint64_t bad_got, bad_want;	/* what it held, and its old data */
	long torn;	/* pipe reads of the marked word partly written */
	int fds[2];
	int idle_fd;
	int err;
};

/*
 * Is @page page @idx of @tag with the marked word partly written: every
 * other word as it was, each byte of the marked word old or new (mark() is
 * ~pat(): every byte differs), some of each?
 */
static bool mark_torn(const char *page, unsigned int tag, size_t idx)
{
	const uint64_t *p = (const uint64_t *)page;
	uint64_t got = p[MARK_WORD], was = pat(tag, idx, MARK_WORD);
	uint64_t marked = mark(tag, idx), mask;
	size_t w, b;

	for (w = 0; w < pagesize / sizeof(*p); w++) {
		if (w != MARK_WORD && p[w] != pat(tag, idx, w))
			return false;
	}
	for (b = 0; b < sizeof(got); b++) {
		mask = 0xffULL << (8 * b);
		if ((got & mask) != (was & mask) && (got & mask) != (marked & mask))
			return false;
	}
	return got != was && got != marked;
}

/* The first word of @page that is not page @idx of @tag's old data. */
static void first_bad_word(const char *page, unsigned int tag, size_t idx,
			   long *word, uint64_t *got, uint64_t *want)
{
	const uint64_t *p = (const uint64_t *)page;
	size_t w;

	for (w = 0; w < pagesize / sizeof(*p); w++) {
		if (w != MARK_WORD && p[w] != pat(tag, idx, w))
			break;
	}
	if (w == pagesize / sizeof(*p))
		w = MARK_WORD;
	*word = w;
	*got = p[w];
	*want = pat(tag, idx, w);
}

static void *racer_fn(void *arg)
{
	struct racer *r = arg;
	struct iovec iov;
	cpu_set_t cpus;
	unsigned long long bits;
	char *buf;
	long i;

	CPU_ZERO(&cpus);
	CPU_SET(r->cpu, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	buf = malloc(pagesize);
	if (!buf) {
		r->err = ENOMEM;
		return NULL;
	}
	while ((i = __atomic_load_n(&r->cur, __ATOMIC_ACQUIRE)) != -2) {
		if (i >= 0 && r->kind == RACE_VMSPLICE) {
			iov.iov_base = r->area + i * pagesize;
			iov.iov_len = pagesize;
			if (vmsplice(r->fds[1], &iov, 1, 0) != (ssize_t)pagesize ||
			    read(r->fds[0], buf, pagesize) != (ssize_t)pagesize) {
				r->err = errno;
				break;
			}
			if (!page_ok(buf, r->tag, i, false) &&
			    !page_ok(buf, r->tag, i, true)) {
				if (mark_torn(buf, r->tag, i)) {
					r->torn++;
				} else {
					if (!r->bad)
						first_bad_word(buf, r->tag, i, &r->bad_word,
							       &r->bad_got, &r->bad_want);
					r->bad++;
				}
			}
		} else if (i >= 0 && r->kind == RACE_PAGE_IDLE) {
			bits = 1ULL << (r->pfn[i] % 64);
			if (pwrite(r->idle_fd, &bits, sizeof(bits),
				   r->pfn[i] / 64 * sizeof(bits)) != sizeof(bits)) {
				r->err = errno;
				break;
			}
		}
		__atomic_add_fetch(&r->laps, 1, __ATOMIC_RELEASE);
	}
	free(buf);
	return NULL;
}

/* Wait until the racer did @laps more rounds; false if it stopped. */
static bool racer_wait(struct racer *r, long laps)
{
	long start = __atomic_load_n(&r->laps, __ATOMIC_ACQUIRE);
	double deadline = now_s() + 10;

	while (__atomic_load_n(&r->laps, __ATOMIC_ACQUIRE) - start < laps) {
		if (r->err || now_s() > deadline)
			return false;
		sched_yield();
	}
	return true;
}

#define DAMON_ADMIN	"/sys/kernel/mm/damon/admin/kdamonds"

static int damon_write(const char *rel, const char *val)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), DAMON_ADMIN "/%s", rel);
	return write_str(path, val);
}

/* Point our kdamond's only region at @pfn's page. */
static int damon_target(unsigned long pfn, bool commit)
{
	char buf[32];
	int ret;

	snprintf(buf, sizeof(buf), "%lu", pfn * pagesize);
	ret = damon_write("0/contexts/0/targets/0/regions/0/start", buf);
	snprintf(buf, sizeof(buf), "%lu", (pfn + 1) * pagesize);
	if (!ret)
		ret = damon_write("0/contexts/0/targets/0/regions/0/end", buf);
	if (!ret && commit)
		ret = damon_write("0/state", "commit");
	return ret;
}

/*
 * A kdamond of our own, monitoring physical addresses, sampling @pfn's page
 * every 20 us (teardown stops and removes it). 0: running, 1: not possible
 * here (@why), -1: failed (@why).
 */
static int damon_start(struct kwr_state *st, unsigned long pfn, char *why,
		       size_t wlen)
{
	static const char * const steps[][2] = {
		{ "0/contexts/nr_contexts", "1" },
		{ "0/contexts/0/operations", "paddr" },
		{ "0/contexts/0/monitoring_attrs/intervals/sample_us", "20" },
		{ "0/contexts/0/monitoring_attrs/intervals/aggr_us", "2000" },
		{ "0/contexts/0/targets/nr_targets", "1" },
		{ "0/contexts/0/targets/0/regions/nr_regions", "1" },
	};
	long nr = read_long(DAMON_ADMIN "/nr_kdamonds");
	size_t i;
	int err;

	if (nr < 0) {
		snprintf(why, wlen, "no DAMON sysfs (" DAMON_ADMIN ")");
		return 1;
	}
	if (nr > 0) {
		snprintf(why, wlen, "DAMON is in use here (nr_kdamonds %ld)", nr);
		return 1;
	}
	err = damon_write("nr_kdamonds", "1");
	if (err) {
		snprintf(why, wlen, "nr_kdamonds: %s", strerror(-err));
		return -1;
	}
	st->damon = true;
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		err = damon_write(steps[i][0], steps[i][1]);
		if (err) {
			snprintf(why, wlen, "%s: %s", steps[i][0], strerror(-err));
			return i == 1 ? 1 : -1;
		}
	}
	err = damon_target(pfn, false);
	if (!err)
		err = damon_write("0/state", "on");
	if (err) {
		snprintf(why, wlen, "starting the kdamond: %s", strerror(-err));
		return -1;
	}
	return 0;
}

static void damon_stop(struct kwr_state *st)
{
	if (!st->damon)
		return;
	damon_write("0/state", "off");
	if (damon_write("nr_kdamonds", "0"))
		ksft_print_msg("could not remove our kdamond\n");
	st->damon = false;
}

#define RACE_PAGES	128
#define RACE_BATCHES	8

/*
 * Race @kind against writes to batches of single-mapped KSM pages until
 * the tracepoint shows @want (a result name) for one of them.
 */
static void race_until(struct __test_metadata *_metadata, struct kwr_state *st,
		       enum racer_kind kind, const char *want)
{
	long counts[ARRAY_SIZE(result_names)] = { 0 }, attempts = 0, wrong;
	const size_t n = RACE_PAGES;
	unsigned long pfn[RACE_PAGES];
	struct racer r = { 0 };
	struct kwr_count c;
	pthread_t tid;
	char why[256], res[32], *a, *b;
	const bool thread = kind != RACE_DAMON;
	int batch, ret, sc, self_cpu, w;
	size_t i, k;

	/* We are pinned to one CPU (setup); the racer runs on another. */
	self_cpu = sched_getcpu();
	r.cpu = -1;
	for (i = 0; i < (size_t)sysconf(_SC_NPROCESSORS_ONLN) && r.cpu < 0; i++)
		if ((int)i != self_cpu)
			r.cpu = i;
	if (r.cpu < 0)
		skip_case(_metadata, "needs a second CPU for the racer");
	for (w = 0; w < (int)ARRAY_SIZE(result_names); w++)
		if (!strcmp(result_names[w], want))
			break;
	ASSERT_GT((int)ARRAY_SIZE(result_names), w);
	r.kind = kind;
	r.idle_fd = -1;
	if (kind == RACE_VMSPLICE)
		ASSERT_EQ(0, pipe(r.fds));
	if (kind == RACE_PAGE_IDLE) {
		r.idle_fd = open("/sys/kernel/mm/page_idle/bitmap", O_WRONLY);
		ASSERT_LE(0, r.idle_fd);
	}

	for (batch = 0; batch < RACE_BATCHES && !counts[w]; batch++) {
		r.tag = TAG_RACE + batch;
		ASSERT_EQ(0, make_ksm_pages(&a, &b, n, r.tag, true));
		prepare_write(_metadata, a, 0, n, pfn, true);
		r.area = a;
		r.pfn = pfn;
		if (kind == RACE_DAMON) {
			ret = damon_start(st, pfn[0], why, sizeof(why));
			if (ret > 0)
				skip_case(_metadata, "%s", why);
			ASSERT_EQ(0, ret) TH_LOG("%s", why);
		}
		r.cur = -1;
		if (thread)
			ASSERT_EQ(0, pthread_create(&tid, NULL, racer_fn, &r));
		count_start(_metadata, st, &c, getpid(), 0);
		for (i = 0; i < n; i++) {
			if (!thread) {
				/* The kdamond samples the page every 20 us. */
				ASSERT_EQ(0, damon_target(pfn[i], true));
				usleep(100 + (i % 7) * 10);
				mark_pages(a, i, 1, r.tag);
				continue;
			}
			__atomic_store_n(&r.cur, i, __ATOMIC_RELEASE);
			/* Let it get going on this page. */
			ASSERT_TRUE(racer_wait(&r, 2)) TH_LOG("racer: %s", strerror(r.err));
			mark_pages(a, i, 1, r.tag);
			__atomic_store_n(&r.cur, -1, __ATOMIC_RELEASE);
			/* Done with the page, which may be freed now. */
			ASSERT_TRUE(racer_wait(&r, 2)) TH_LOG("racer: %s", strerror(r.err));
		}
		__atomic_store_n(&r.cur, -2, __ATOMIC_RELEASE);
		if (thread)
			ASSERT_EQ(0, pthread_join(tid, NULL));
		count_end(_metadata, st, &c);
		damon_stop(st);
		EXPECT_EQ(0, r.err) TH_LOG("racer: %s", strerror(r.err));
		EXPECT_EQ(0, r.bad)
			TH_LOG("racer read data neither old nor new: word %ld is %#llx, old %#llx",
			       r.bad_word, (unsigned long long)r.bad_got,
			       (unsigned long long)r.bad_want);

		wrong = 0;
		for (i = 0; i < n; i++) {
			unsigned long now = pg_info(pagemap_fd, a + i * pagesize).pfn;
			bool same = now == pfn[i];

			count_result(&c, pfn[i], res, sizeof(res), &sc);
			for (k = 0; k < ARRAY_SIZE(result_names); k++)
				if (!strcmp(res, result_names[k]))
					counts[k]++;
			if (!strcmp(res, "reused") ? same :
			    (!same && (!strcmp(res, "refcount") ||
				       !strcmp(res, "trylock") ||
				       !strcmp(res, "freeze"))))
				continue;
			if (wrong++ < 4)
				TH_LOG("page %zu: result \"%s\", pfn %#lx -> %#lx",
				       i, res, pfn[i], now);
		}
		attempts += n;
		EXPECT_EQ(0, wrong) TH_LOG("decision and PFN disagree");
		/*
		 * page_idle and DAMON clear the PTE's young bit, which can make
		 * a copy's pte_same() check fail: the write faults again and
		 * decides again (the last decision stands).
		 */
		if (kind == RACE_VMSPLICE) {
			EXPECT_EQ((long)n, c.reused + c.refused)
				TH_LOG("one decision per write");
		} else {
			EXPECT_LE((long)n, c.reused + c.refused)
				TH_LOG("a decision per write");
		}
		EXPECT_LE((long)c.refused, c.allocs) TH_LOG("a page per copy");
		expect_global(_metadata, "race", &c, c.reused, c.refused);
		EXPECT_EQ(0, bad_pages(a, 0, n, r.tag, true))
			TH_LOG("pages with wrong data");
		count_free(&c);
		munmap(a, n * pagesize);
	}
	if (kind == RACE_VMSPLICE) {
		close(r.fds[0]);
		close(r.fds[1]);
	}
	if (r.idle_fd >= 0)
		close(r.idle_fd);
	TH_LOG("%ld writes: %ld reused, %ld refcount, %ld trylock, %ld freeze, %ld other",
	       attempts, counts[0], counts[5], counts[6], counts[7],
	       attempts - counts[0] - counts[5] - counts[6] - counts[7]);
	if (r.torn)
		TH_LOG("%ld pipe reads of a page while our store landed", r.torn);
	if (!counts[w])
		skip_case(_metadata, "no %s refusal in %ld racing writes", want, attempts);
}

/*
 * A reference taken by GUP-fast (vmsplice()) between the refcount check and
 * the freeze: result=freeze, and the page is copied.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, race_freeze_copied, 900)
{
	race_until(_metadata, &self->st, RACE_VMSPLICE, "freeze");
}

/*
 * The folio locked by a walker by pfn between the refcount check and our
 * trylock: result=trylock, and the page is copied. page_idle is that walker
 * where the kernel has it (CONFIG_IDLE_PAGE_TRACKING); else DAMON's physical
 * address monitoring, which needs a kdamond of the machine's: intrusive.
 */
TEST_F_TIMEOUT(ksm_wp_reuse, race_trylock_copied, 900)
{
	if (!access("/sys/kernel/mm/page_idle/bitmap", W_OK)) {
		race_until(_metadata, &self->st, RACE_PAGE_IDLE, "trylock");
		return;
	}
	if (!intrusive())
		SKIP(return, "no page_idle here; DAMON would do, with a kdamond of its own"
		     INTRUSIVE_ONLY);
	race_until(_metadata, &self->st, RACE_DAMON, "trylock");
}

TEST_HARNESS_MAIN
