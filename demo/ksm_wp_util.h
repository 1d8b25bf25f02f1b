/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for ksm_wp_reuse_demo and for other programs that time KSM write
 * faults (a benchmark includes it too): errors, small sysfs and
 * procfs files, the KSM knobs that are restored on exit, anonymous areas,
 * their PFNs and KSM flags, merging twin areas with ksmd, the timed write.
 *
 * Header only, with its state in static variables: a program includes it
 * once, after defining _GNU_SOURCE and PROG (the name its messages start
 * with), and sets page_size and owner_pid before calling anything here.
 */
#ifndef KSM_WP_UTIL_H
#define KSM_WP_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/kernel-page-flags.h>

#ifndef PROG
#error "define PROG, the program name for messages, before including ksm_wp_util.h"
#endif

/* Older uapi headers may lack some of these. */
#ifndef MADV_MERGEABLE
#define MADV_MERGEABLE		12
#endif
#ifndef MADV_NOHUGEPAGE
#define MADV_NOHUGEPAGE		15
#endif
#ifndef KPF_KSM
#define KPF_KSM			21
#endif
#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE		(1 << 1)
#endif

#define __printf(a, b)		__attribute__((format(printf, a, b)))
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

#define KSM_DIR			"/sys/kernel/mm/ksm/"
#define COMPACT_MEMORY		"/proc/sys/vm/compact_memory"
#define DROP_CACHES		"/proc/sys/vm/drop_caches"

#define PM_PFN_MASK		((1ULL << 55) - 1)
#define PM_PRESENT		(1ULL << 63)

#define MERGE_MIN_SCANS		2	/* checksum pass, then merge pass */

/* Byte 0 of every page before the timed write, and the byte written. */
#define PATTERN_BYTE		0x5a
#define WRITE_MARK		0xa5

static long page_size;
static pid_t owner_pid;		/* the process that restores the knobs */
static int pagemap_fd = -1;
static int kpageflags_fd = -1;

/* "PROG: @kind: message" on stderr, after what stdout holds so far. */
static inline void __printf(2, 0)
vmessage(const char *kind, const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, PROG ": %s: ", kind);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/*
 * Print an error and exit 1; the atexit handler restores the knobs. In a
 * forked child, _exit(): only the parent owns the knobs and that handler.
 */
static inline void __printf(1, 2) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("error", fmt, ap);
	va_end(ap);
	if (getpid() != owner_pid)
		_exit(1);
	exit(1);
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- small files ------------------------------------------------------- */

/* Read a small file into buf (NUL-terminated); -1 with errno set on error. */
static inline ssize_t read_file(const char *path, char *buf, size_t size)
{
	ssize_t len;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	len = read(fd, buf, size - 1);
	close(fd);
	if (len < 0)
		return -1;
	buf[len] = '\0';
	return len;
}

/* Write a string to a file; -1 with errno set on error. Signal safe. */
static inline int write_file(const char *path, const char *buf, size_t len)
{
	ssize_t ret;
	int fd, err;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ret = write(fd, buf, len);
	err = errno;
	close(fd);
	errno = err;
	return ret == (ssize_t)len ? 0 : -1;
}

static inline bool file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static inline unsigned long ksm_read_ul(const char *name)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	if (read_file(path, buf, sizeof(buf)) < 0)
		die("cannot read %s: %s", path, strerror(errno));
	return strtoul(buf, NULL, 10);
}

/* ---- KSM knobs, restored on exit --------------------------------------- */

/*
 * The sysfs values a program may change. They are restored in reverse order:
 * wp_reuse and the scan parameters first, the advisor after pages_to_scan (it
 * refuses writes to it), and "run" last, after the parameters it runs with.
 */
enum knob_id {
	KNOB_RUN,
	KNOB_ADVISOR,
	KNOB_PAGES_TO_SCAN,
	KNOB_SLEEP,
	KNOB_WP_REUSE,
};

#define KNOB_LEN		64

struct knob {
	const char *path;
	char saved[KNOB_LEN];	/* value to write back */
	size_t len;
	volatile sig_atomic_t changed;	/* saved[] is valid; read by handlers */
};

static struct knob knobs[] = {
	[KNOB_RUN]		= { .path = KSM_DIR "run" },
	[KNOB_ADVISOR]		= { .path = KSM_DIR "advisor_mode" },
	[KNOB_PAGES_TO_SCAN]	= { .path = KSM_DIR "pages_to_scan" },
	[KNOB_SLEEP]		= { .path = KSM_DIR "sleep_millisecs" },
	[KNOB_WP_REUSE]		= { .path = KSM_DIR "wp_reuse" },
};

/* A knob's value; for a choice such as "[none] scan-time", the bracketed word. */
static inline void knob_read(const struct knob *k, char out[KNOB_LEN])
{
	char buf[KNOB_LEN], *open_br, *close_br;

	if (read_file(k->path, buf, sizeof(buf)) < 0)
		die("cannot read %s: %s", k->path, strerror(errno));
	buf[strcspn(buf, "\n")] = '\0';
	open_br = strchr(buf, '[');
	close_br = open_br ? strchr(open_br, ']') : NULL;
	if (close_br) {
		*close_br = '\0';
		memmove(buf, open_br + 1, strlen(open_br + 1) + 1);
	}
	snprintf(out, KNOB_LEN, "%s", buf);
}

/* Set a knob; the first time, save its old value so that it is restored. */
static inline void knob_set(enum knob_id id, const char *value)
{
	struct knob *k = &knobs[id];

	if (!k->changed) {
		knob_read(k, k->saved);
		k->len = strlen(k->saved);
		k->changed = 1;
	}
	if (write_file(k->path, value, strlen(value)) < 0)
		die("cannot write \"%s\" to %s: %s", value, k->path,
		    strerror(errno));
}

/*
 * Put every changed knob back; returns how many failed. Signal safe. A forked
 * child inherits the handlers, but only the parent restores.
 */
static inline int knobs_restore(void)
{
	int i, failed = 0;

	if (getpid() != owner_pid)
		return 0;
	for (i = ARRAY_SIZE(knobs) - 1; i >= 0; i--) {
		struct knob *k = &knobs[i];

		if (!k->changed)
			continue;
		if (write_file(k->path, k->saved, k->len) < 0)
			failed++;
		k->changed = 0;
	}
	return failed;
}

static inline void restore_at_exit(void)
{
	if (knobs_restore())
		fprintf(stderr, PROG ": warning: could not restore every value under %s\n",
			KSM_DIR);
}

static inline void restore_on_signal(int sig)
{
	knobs_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static inline void install_restore_handlers(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE };
	struct sigaction sa = { .sa_handler = restore_on_signal };
	size_t i;

	if (atexit(restore_at_exit))
		die("atexit failed");
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* ksmd as fast as it goes: no advisor, @pages per wakeup, no sleep. */
static inline void ksmd_full_speed(unsigned long pages)
{
	char value[KNOB_LEN];

	/* The advisor, when on, owns pages_to_scan and refuses writes to it. */
	if (file_exists(knobs[KNOB_ADVISOR].path)) {
		knob_read(&knobs[KNOB_ADVISOR], value);
		if (strcmp(value, "none"))
			knob_set(KNOB_ADVISOR, "none");
	}
	snprintf(value, sizeof(value), "%lu", pages);
	knob_set(KNOB_PAGES_TO_SCAN, value);
	knob_set(KNOB_SLEEP, "0");
}

/* ---- memory, PFNs, KSM flags ------------------------------------------- */

/* Stay on the current CPU: every fault of a measurement runs on one CPU. */
static inline int pin_to_this_cpu(void)
{
	int cpu = sched_getcpu();
	cpu_set_t set;

	if (cpu < 0)
		return -1;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -1;
	return cpu;
}

/*
 * Empty every CPU's LRU batches. A batch holds a reference on each folio in
 * it, and the KSM write fault does not drain (the anon one drains its own
 * CPU's): a KSM page still in a batch, ksmd's or ours, is seen with a second
 * reference and copied, verdict refcount. move_pages() with a target node
 * drains every CPU's batches before it looks at a page (do_pages_move() ->
 * lru_cache_disable() -> __lru_add_drain_all(true)); moving a page of our
 * own to the node it is on changes nothing else. Writing compact_memory
 * drains too, but compaction then migrates pages, and each migrated folio
 * lands in this CPU's batch (migrate_folio_move() -> folio_add_lru()) with
 * its reference: the KSM faults that copied in the benchmark's timed rounds.
 * Returns 0, or -1 with errno set (ENOSYS: no CONFIG_NUMA_MIGRATION).
 */
static inline int drain_lru_move_pages(void)
{
	static char *page;
	int status = -1, node;
	void *p;

	if (!page) {
		p = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return -1;
		page = p;
	}
	page[0] = 1;		/* present: move_pages() reports its node */
	p = page;
	if (syscall(__NR_move_pages, 0, 1UL, &p, NULL, &status, 0))
		return -1;
	if (status < 0) {
		errno = -status;
		return -1;
	}
	node = status;
	/* > 0: the page moved after all; the batches were drained anyway. */
	return syscall(__NR_move_pages, 0, 1UL, &p, &node, &status, MPOL_MF_MOVE) < 0 ? -1 : 0;
}

static inline char *map_area(long n)
{
	size_t len = (size_t)n * page_size;
	char *area;

	area = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		die("mmap of %ld pages: %s", n, strerror(errno));
	/* Small pages only: one fault per page. EINVAL: a kernel without THP. */
	if (madvise(area, len, MADV_NOHUGEPAGE) && errno != EINVAL)
		die("madvise(MADV_NOHUGEPAGE): %s", strerror(errno));
	return area;
}

static inline void unmap_area(char *area, long n)
{
	if (munmap(area, (size_t)n * page_size))
		die("munmap: %s", strerror(errno));
}

/* splitmix64's finaliser: every input bit reaches every output bit. */
static inline uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static inline void open_pagemap(void)
{
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap_fd < 0)
		die("cannot open /proc/self/pagemap: %s", strerror(errno));
}

static inline void open_kpageflags(void)
{
	kpageflags_fd = open("/proc/kpageflags", O_RDONLY);
	if (kpageflags_fd < 0)
		die("cannot open /proc/kpageflags: %s (CONFIG_PROC_PAGE_MONITOR=n?)",
		    strerror(errno));
}

static inline uint64_t *alloc_pfns(long n)
{
	uint64_t *pfns = calloc(n, sizeof(*pfns));

	if (!pfns)
		die("out of memory");
	return pfns;
}

/* The PFN of each page of the area, 0 for a page not present. */
static inline void read_pfns(const char *area, long n, uint64_t *pfns)
{
	off_t off = (uintptr_t)area / page_size * sizeof(uint64_t);
	size_t len = (size_t)n * sizeof(uint64_t), done = 0;
	long i;

	while (done < len) {
		ssize_t ret = pread(pagemap_fd, (char *)pfns + done,
				    len - done, off + done);

		if (ret <= 0)
			die("cannot read /proc/self/pagemap: %s",
			    ret ? strerror(errno) : "short read");
		done += ret;
	}
	for (i = 0; i < n; i++)
		pfns[i] = (pfns[i] & PM_PRESENT) ? pfns[i] & PM_PFN_MASK : 0;
}

static inline bool pfn_is_ksm(uint64_t pfn)
{
	uint64_t flags;

	if (!pfn)
		return false;
	if (pread(kpageflags_fd, &flags, sizeof(flags),
		  pfn * sizeof(flags)) != (ssize_t)sizeof(flags))
		die("cannot read /proc/kpageflags: %s", strerror(errno));
	return flags & (1ULL << KPF_KSM);
}

static inline long count_ksm(const uint64_t *pfns, long n)
{
	long i, count = 0;

	for (i = 0; i < n; i++)
		count += pfn_is_ksm(pfns[i]);
	return count;
}

/* Twins merged: page i of @a and of @b are one KSM page. */
static inline long count_merged(const char *a, const char *b, long n)
{
	uint64_t *pa = alloc_pfns(n), *pb = alloc_pfns(n);
	long i, merged = 0;

	read_pfns(a, n, pa);
	read_pfns(b, n, pb);
	for (i = 0; i < n; i++)
		merged += pa[i] && pa[i] == pb[i] && pfn_is_ksm(pa[i]);
	free(pa);
	free(pb);
	return merged;
}

/* ---- merging, the timed write ------------------------------------------ */

/* Wait until full_scans reaches @target; false on reaching @deadline. */
static inline bool wait_full_scans(unsigned long target, double deadline)
{
	while (ksm_read_ul("full_scans") < target) {
		if (now_s() > deadline)
			return false;
		sleep_s(0.02);
	}
	return true;
}

/*
 * Run ksmd until page i of @a and of @b are one KSM page for every i, for at
 * most @max_scans full scans after @scans0 (full_scans just before) or until
 * @deadline, then stop it: run=0 leaves merged pages merged, and nothing of
 * ksmd runs during the timed write.
 */
static inline void ksm_run_until_merged(const char *a, const char *b, long n,
					unsigned long scans0,
					unsigned long max_scans,
					double deadline)
{
	unsigned long target;

	knob_set(KNOB_RUN, "1");
	/* Two full scans merge everything; allow a few more if some lag. */
	for (target = scans0 + MERGE_MIN_SCANS;
	     wait_full_scans(target, deadline) && target - scans0 < max_scans;
	     target++)
		if (count_merged(a, b, n) == n)
			break;
	knob_set(KNOB_RUN, "0");
}

/* Write WRITE_MARK to byte 0 of each page; the time per page in ns. */
static inline double timed_write(char *area, long n)
{
	/* one store per page, in order, none merged or left out */
	volatile unsigned char *p = (volatile unsigned char *)area;
	struct timespec t0, t1;
	long i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		p[(size_t)i * page_size] = WRITE_MARK;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n;
}

#endif /* KSM_WP_UTIL_H */
