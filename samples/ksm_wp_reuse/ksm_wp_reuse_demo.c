// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_wp_reuse_demo - show a write fault reusing a KSM page that only one
 * PTE maps, instead of copying it.
 *
 * Two anonymous areas with the same contents are merged by ksmd, then one of
 * them is unmapped, so each KSM page is mapped exactly once. One byte is then
 * written to each page and timed:
 *
 *  - switch on  (/sys/kernel/mm/ksm/wp_reuse = 1): the fault reuses the page
 *    in place: the PFN stays and /proc/vmstat ksm_wp_reuse counts the fault;
 *  - switch off (wp_reuse = 0, as upstream): the fault copies the page: a
 *    new PFN, and cow_ksm counts the fault;
 *  - ordinary anon reuse: the same write pass over anonymous pages that were
 *    shared with a forked child which has exited since. The kernel reuses
 *    those pages too; their cost is the floor a KSM reuse can reach.
 *
 * Every page's contents are checked after the write. Needs root, a kernel
 * with CONFIG_KSM and the wp_reuse switch. Every sysfs value the demo
 * changes is restored when it exits, also on errors and on SIGINT/SIGTERM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/kernel-page-flags.h>

#ifndef MADV_MERGEABLE
#define MADV_MERGEABLE		12
#endif
#ifndef MADV_NOHUGEPAGE
#define MADV_NOHUGEPAGE		15
#endif
#ifndef KPF_KSM
#define KPF_KSM			21
#endif

#define __printf(a, b)		__attribute__((format(printf, a, b)))
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

#define KSM_DIR			"/sys/kernel/mm/ksm/"
#define COMPACT_MEMORY		"/proc/sys/vm/compact_memory"

#define PM_PFN_MASK		((1ULL << 55) - 1)
#define PM_PRESENT		(1ULL << 63)

#define DEFAULT_PAGES		2048
#define MAX_PAGES		(1L << 22)
#define MERGE_MIN_SCANS		2	/* checksum pass, then merge pass */
#define MERGE_MAX_SCANS		8
#define MERGE_TIMEOUT_S		120

/* Byte 0 of every page before the write, and the byte the write puts there. */
#define PATTERN_BYTE		0x5a
#define WRITE_MARK		0xa5

/*
 * The sysfs values the demo may change. They are restored in reverse order,
 * so that "run" goes back last, after the scan parameters it runs with.
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
	/* saved[] holds the value to restore; read by the signal handler */
	volatile sig_atomic_t changed;
};

static struct knob knobs[] = {
	[KNOB_RUN]		= { .path = KSM_DIR "run" },
	[KNOB_ADVISOR]		= { .path = KSM_DIR "advisor_mode" },
	[KNOB_PAGES_TO_SCAN]	= { .path = KSM_DIR "pages_to_scan" },
	[KNOB_SLEEP]		= { .path = KSM_DIR "sleep_millisecs" },
	[KNOB_WP_REUSE]		= { .path = KSM_DIR "wp_reuse" },
};

/* What one write pass measured. */
struct result {
	const char *mode;
	long pages;		/* pages written */
	long ksm_pages;		/* of which KSM pages before the write */
	unsigned long long reused;	/* ksm_wp_reuse delta */
	unsigned long long copied;	/* cow_ksm delta */
	long same_pfn;		/* pages still at their PFN after the write */
	long bad;		/* pages with wrong contents after the write */
	double ns_per_fault;
};

static long page_size;
static bool quiet;
static int pagemap_fd = -1;
static int kpageflags_fd = -1;

static void __printf(1, 2) die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("ksm_wp_reuse_demo: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);	/* the atexit handler restores the sysfs values */
}

static void __printf(1, 2) say(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* ---- sysfs and procfs files ------------------------------------------ */

/* Read a small file into buf (NUL-terminated); -1 with errno set on error. */
static ssize_t read_file(const char *path, char *buf, size_t size)
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
static int write_file(const char *path, const char *buf, size_t len)
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

static bool file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static unsigned long ksm_read_ul(const char *name)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	if (read_file(path, buf, sizeof(buf)) < 0)
		die("cannot read %s: %s", path, strerror(errno));
	return strtoul(buf, NULL, 10);
}

/*
 * Copy the current value of a knob to out. A choice knob such as
 * advisor_mode reads "[none] scan-time": keep the word in brackets.
 */
static void knob_read(const struct knob *k, char out[KNOB_LEN])
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

/* Set a knob, saving its old value the first time so that it is restored. */
static void knob_set(enum knob_id id, const char *value)
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

/* Put every changed knob back; returns how many failed. Signal safe. */
static int knobs_restore(void)
{
	int i, failed = 0;

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

static void restore_at_exit(void)
{
	if (knobs_restore())
		fprintf(stderr,
			"ksm_wp_reuse_demo: warning: could not restore every value under %s\n",
			KSM_DIR);
}

static void restore_on_signal(int sig)
{
	knobs_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_restore_handlers(void)
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

/* Value of a /proc/vmstat counter; false if the kernel has no such counter. */
static bool vmstat_read(const char *name, unsigned long long *val)
{
	char key[64];
	unsigned long long v;
	bool found = false;
	FILE *f;

	f = fopen("/proc/vmstat", "r");
	if (!f)
		die("cannot open /proc/vmstat: %s", strerror(errno));
	while (fscanf(f, "%63s %llu", key, &v) == 2) {
		if (!strcmp(key, name)) {
			*val = v;
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

static unsigned long long vmstat_get(const char *name)
{
	unsigned long long v;

	if (!vmstat_read(name, &v))
		die("/proc/vmstat has no %s", name);
	return v;
}

/*
 * Drain every CPU's LRU batches. A batch holds a reference on each folio in
 * it; ksmd's batch on another CPU would make the fault see a second reference
 * and copy. Writing compact_memory calls lru_add_drain_all() first; the
 * compaction after it may migrate our pages, and a migrated page lands in the
 * batch of this CPU, which the fault path drains itself (we stay on it).
 */
static void drain_lru_all(void)
{
	static bool warned;

	if (write_file(COMPACT_MEMORY, "1", 1) == 0 || warned)
		return;
	warned = true;
	say("warning: cannot write %s (%s): other CPUs' LRU batches are not drained, ",
	    COMPACT_MEMORY, strerror(errno));
	say("some faults may copy\n");
}

/* Stay on the current CPU, so that any LRU batch holding our pages is local. */
static int pin_to_this_cpu(void)
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

/* ---- pages, PFNs and flags -------------------------------------------- */

static char *map_area(long n)
{
	size_t len = (size_t)n * page_size;
	char *area;

	area = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		die("mmap of %ld pages: %s", n, strerror(errno));
	/* Small pages only: one fault per page, in every mode. */
	madvise(area, len, MADV_NOHUGEPAGE);
	return area;
}

static void unmap_area(char *area, long n)
{
	if (munmap(area, (size_t)n * page_size))
		die("munmap: %s", strerror(errno));
}

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The contents of page @index: different for every page, never zero. */
static void fill_page(void *page, long index)
{
	uint64_t *word = page;
	size_t j, words = page_size / sizeof(*word);

	for (j = 0; j < words; j++)
		word[j] = mix64(((uint64_t)index << 32) | j);
	*(unsigned char *)page = PATTERN_BYTE;
}

static void fill_area(char *area, long n)
{
	long i;

	for (i = 0; i < n; i++)
		fill_page(area + (size_t)i * page_size, i);
}

/* Count the pages whose contents are not the pattern with byte 0 written. */
static long verify_written(const char *area, long n)
{
	unsigned char *expect;
	long i, bad = 0;

	expect = malloc(page_size);
	if (!expect)
		die("out of memory");
	for (i = 0; i < n; i++) {
		fill_page(expect, i);
		expect[0] = WRITE_MARK;
		if (memcmp(area + (size_t)i * page_size, expect, page_size))
			bad++;
	}
	free(expect);
	return bad;
}

static uint64_t *alloc_pfns(long n)
{
	uint64_t *pfns = calloc(n, sizeof(*pfns));

	if (!pfns)
		die("out of memory");
	return pfns;
}

/* The PFN of each page of the area, 0 for a page not present. */
static void read_pfns(const char *area, long n, uint64_t *pfns)
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

static bool pfn_is_ksm(uint64_t pfn)
{
	uint64_t flags;

	if (!pfn)
		return false;
	if (pread(kpageflags_fd, &flags, sizeof(flags),
		  pfn * sizeof(flags)) != (ssize_t)sizeof(flags))
		die("cannot read /proc/kpageflags: %s", strerror(errno));
	return flags & (1ULL << KPF_KSM);
}

static long count_ksm(const uint64_t *pfns, long n)
{
	long i, count = 0;

	for (i = 0; i < n; i++)
		count += pfn_is_ksm(pfns[i]);
	return count;
}

/* Pages i of both areas share one KSM page. */
static long count_merged(const char *a, const char *b, long n)
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

/* ---- KSM ------------------------------------------------------------------ */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait until full_scans reaches @target; false on reaching @deadline. */
static bool wait_full_scans(unsigned long target, double deadline)
{
	const struct timespec tick = { .tv_nsec = 20 * 1000 * 1000 };

	while (ksm_read_ul("full_scans") < target) {
		if (now_s() > deadline)
			return false;
		nanosleep(&tick, NULL);
	}
	return true;
}

/*
 * Let ksmd merge page i of @a with page i of @b, for every i; stop it again
 * (run=0 leaves merged pages merged). Fails if nothing merged.
 */
static void ksm_merge(const char *mode, char *a, char *b, long n)
{
	size_t len = (size_t)n * page_size;
	double start, deadline;
	unsigned long scans0, scans;
	char value[KNOB_LEN];
	long merged;

	if (madvise(a, len, MADV_MERGEABLE) || madvise(b, len, MADV_MERGEABLE))
		die("madvise(MADV_MERGEABLE): %s", strerror(errno));

	/* The advisor, when on, owns pages_to_scan and refuses writes to it. */
	if (file_exists(knobs[KNOB_ADVISOR].path)) {
		knob_read(&knobs[KNOB_ADVISOR], value);
		if (strcmp(value, "none"))
			knob_set(KNOB_ADVISOR, "none");
	}
	snprintf(value, sizeof(value), "%ld", 2 * n + 256);
	knob_set(KNOB_PAGES_TO_SCAN, value);
	knob_set(KNOB_SLEEP, "0");

	say("%s: merging two areas of %ld identical pages with ksmd...", mode, n);
	start = now_s();
	deadline = start + MERGE_TIMEOUT_S;
	scans0 = ksm_read_ul("full_scans");
	knob_set(KNOB_RUN, "1");

	/* Two full scans merge everything; allow a few more if some lag. */
	scans = MERGE_MIN_SCANS;
	while (wait_full_scans(scans0 + scans, deadline) &&
	       count_merged(a, b, n) < n && scans < MERGE_MAX_SCANS)
		scans++;

	knob_set(KNOB_RUN, "0");
	merged = count_merged(a, b, n);
	say(" %ld of %ld merged after %lu full scans, %.1f s",
	    merged, n, ksm_read_ul("full_scans") - scans0, now_s() - start);
	say(" (pages_shared %lu, pages_sharing %lu)\n",
	    ksm_read_ul("pages_shared"), ksm_read_ul("pages_sharing"));
	if (!merged)
		die("%s: ksmd merged none of the %ld page pairs in %.0f s: nothing to demonstrate",
		    mode, n, now_s() - start);
}

/* ---- the measurement ---------------------------------------------------- */

/*
 * Ready an area for the write pass: no LRU batch may hold its pages, then
 * record each page's PFN. Returns how many of them are KSM pages.
 */
static long prepare_pass(const char *area, long n, uint64_t *pfns)
{
	drain_lru_all();
	read_pfns(area, n, pfns);
	return count_ksm(pfns, n);
}

/*
 * Write one byte to each page of the area and time it; then count the
 * faults the kernel reused and copied, the pages that kept the PFN recorded
 * in @pfns, and the pages whose contents are wrong.
 */
static void measure_pass(struct result *r, char *area, long n,
			 const uint64_t *pfns)
{
	/* one store per page, in order, none merged or left out */
	volatile unsigned char *p = (unsigned char *)area;
	unsigned long long reuse0, cow0;
	struct timespec t0, t1;
	uint64_t *after;
	long i;

	reuse0 = vmstat_get("ksm_wp_reuse");
	cow0 = vmstat_get("cow_ksm");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		p[(size_t)i * page_size] = WRITE_MARK;
	clock_gettime(CLOCK_MONOTONIC, &t1);

	r->reused = vmstat_get("ksm_wp_reuse") - reuse0;
	r->copied = vmstat_get("cow_ksm") - cow0;
	r->pages = n;
	r->ns_per_fault = ((t1.tv_sec - t0.tv_sec) * 1e9 +
			   (t1.tv_nsec - t0.tv_nsec)) / n;

	after = alloc_pfns(n);
	read_pfns(area, n, after);
	r->same_pfn = 0;
	for (i = 0; i < n; i++)
		r->same_pfn += pfns[i] && pfns[i] == after[i];
	free(after);

	r->bad = verify_written(area, n);
}

static void report_pass(const struct result *r)
{
	say("%s: wrote one byte to each of %ld pages: KSM faults %llu reused, %llu copied;",
	    r->mode, r->pages, r->reused, r->copied);
	say(" %ld pages kept their PFN, %s; %.0f ns per fault\n", r->same_pfn,
	    r->bad ? "CONTENTS WRONG" : "contents right", r->ns_per_fault);
	if (r->bad)
		fprintf(stderr,
			"ksm_wp_reuse_demo: error: %s: %ld of %ld pages hold wrong data after the write\n",
			r->mode, r->bad, r->pages);
}

/*
 * A KSM mode: merge two twin areas, unmap one so each KSM page is mapped
 * once, then time the write faults with the switch set to @wp_reuse.
 */
static void run_ksm_mode(struct result *r, const char *wp_reuse, long n)
{
	uint64_t *pfns = alloc_pfns(n);
	char *a = map_area(n), *b = map_area(n);

	fill_area(a, n);
	fill_area(b, n);
	ksm_merge(r->mode, a, b, n);
	unmap_area(b, n);

	r->ksm_pages = prepare_pass(a, n, pfns);
	say("%s: twin area unmapped: %ld KSM pages mapped once each; wp_reuse=%s\n",
	    r->mode, r->ksm_pages, wp_reuse);
	knob_set(KNOB_WP_REUSE, wp_reuse);
	measure_pass(r, a, n, pfns);
	report_pass(r);

	unmap_area(a, n);
	free(pfns);
}

/*
 * The floor: anonymous pages shared with a forked child that has exited, so
 * each is mapped once again, read-only; the write fault reuses them.
 */
static void run_anon_mode(struct result *r, long n)
{
	uint64_t *pfns = alloc_pfns(n);
	char *a = map_area(n);
	int status;
	pid_t pid;

	fill_area(a, n);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid)
		_exit(0);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));

	r->ksm_pages = prepare_pass(a, n, pfns);
	say("%s: %ld anon pages, shared with a child that has exited\n",
	    r->mode, n);
	measure_pass(r, a, n, pfns);
	report_pass(r);

	unmap_area(a, n);
	free(pfns);
}

/* ---- output --------------------------------------------------------------- */

static void print_table(const struct result *res, size_t count)
{
	size_t i;

	if (!quiet)
		putchar('\n');
	printf("%-12s %8s %8s %8s %9s %9s\n",
	       "mode", "pages", "reused", "copied", "same-pfn", "ns/fault");
	for (i = 0; i < count; i++)
		printf("%-12s %8ld %8llu %8llu %9ld %9.0f\n",
		       res[i].mode, res[i].pages, res[i].reused,
		       res[i].copied, res[i].same_pfn, res[i].ns_per_fault);
}

/* "4.6x slower" or "1.3x faster": the switch-off time against the switch-on time. */
static void print_ratio(double off_ns, double on_ns)
{
	if (off_ns <= 0 || on_ns <= 0)
		return;
	if (off_ns >= on_ns)
		say(" (%.1fx slower)", off_ns / on_ns);
	else
		say(" (%.1fx faster)", on_ns / off_ns);
}

static void print_summary(const struct result *on, const struct result *off,
			  const struct result *anon)
{
	say("\nswitch on: %llu of %ld KSM write faults reused the page, %.0f ns/fault; ",
	    on->reused, on->ksm_pages, on->ns_per_fault);
	say("switch off: %llu of %ld copied, %.0f ns/fault",
	    off->copied, off->ksm_pages, off->ns_per_fault);
	print_ratio(off->ns_per_fault, on->ns_per_fault);
	say("; ordinary anon reuse: %.0f ns/fault\n", anon->ns_per_fault);
}

/* ---- setup ---------------------------------------------------------------- */

static void check_interfaces(void)
{
	unsigned long long v;

	if (geteuid())
		die("must run as root (KSM knobs, /proc/kpageflags and PFNs in pagemap)");
	if (!file_exists(KSM_DIR "run"))
		die("this kernel has no KSM (%s missing: CONFIG_KSM=n?)", KSM_DIR "run");
	if (!file_exists(knobs[KNOB_WP_REUSE].path))
		die("this kernel lacks the KSM write-fault reuse feature (%s missing)",
		    knobs[KNOB_WP_REUSE].path);
	if (!vmstat_read("ksm_wp_reuse", &v))
		die("this kernel lacks the KSM write-fault reuse feature (%s)",
		    "no ksm_wp_reuse in /proc/vmstat");
	if (!vmstat_read("cow_ksm", &v))
		die("/proc/vmstat has no cow_ksm counter");

	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap_fd < 0)
		die("cannot open /proc/self/pagemap: %s", strerror(errno));
	kpageflags_fd = open("/proc/kpageflags", O_RDONLY);
	if (kpageflags_fd < 0)
		die("cannot open /proc/kpageflags: %s (CONFIG_PROC_PAGE_MONITOR=n?)",
		    strerror(errno));
}

static void print_usage(FILE *f)
{
	fprintf(f,
		"usage: ksm_wp_reuse_demo [-n PAGES] [-q] [-h]\n"
		"\n"
		"Writes one byte to each of PAGES KSM pages that are mapped once, with\n"
		"/sys/kernel/mm/ksm/wp_reuse on (the fault reuses the page) and off\n"
		"(it copies the page), then to PAGES ordinary anon pages that the\n"
		"kernel reuses, and prints what the kernel did and the time per fault.\n"
		"\n"
		"  -n PAGES  pages per area (default %d)\n"
		"  -q        print only the table\n"
		"  -h        this help\n"
		"\n"
		"Exit status: 0 done (whatever the numbers); 1 a required interface is\n"
		"missing, KSM merged nothing, or a page held wrong data; 2 bad usage.\n",
		DEFAULT_PAGES);
}

static long parse_pages(const char *arg)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(arg, &end, 10);
	if (errno || end == arg || *end || n < 1 || n > MAX_PAGES) {
		fprintf(stderr,
			"ksm_wp_reuse_demo: -n wants a page count from 1 to %ld, not \"%s\"\n",
			MAX_PAGES, arg);
		exit(2);
	}
	return n;
}

int main(int argc, char **argv)
{
	struct result res[] = {
		{ .mode = "switch-on" },
		{ .mode = "switch-off" },
		{ .mode = "anon-reuse" },
	};
	long n = DEFAULT_PAGES, bad = 0;
	size_t i;
	int opt, cpu;

	while ((opt = getopt(argc, argv, "n:qh")) != -1) {
		switch (opt) {
		case 'n':
			n = parse_pages(optarg);
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			print_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		print_usage(stderr);
		return 2;
	}

	page_size = sysconf(_SC_PAGESIZE);
	check_interfaces();
	install_restore_handlers();
	cpu = pin_to_this_cpu();
	say("ksm_wp_reuse_demo: %ld pages of %ld bytes per area, ", n, page_size);
	if (cpu >= 0)
		say("running on CPU %d\n", cpu);
	else
		say("could not pin to one CPU: some faults may copy\n");

	run_ksm_mode(&res[0], "1", n);
	run_ksm_mode(&res[1], "0", n);
	run_anon_mode(&res[2], n);

	print_table(res, ARRAY_SIZE(res));
	print_summary(&res[0], &res[1], &res[2]);

	for (i = 0; i < ARRAY_SIZE(res); i++)
		bad += res[i].bad;
	if (bad)
		die("%ld pages held wrong data after the write (see above)", bad);
	return 0;
}
