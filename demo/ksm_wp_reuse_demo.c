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
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROG			"ksm_wp_reuse_demo"
#include "ksm_wp_util.h"

#define DEFAULT_PAGES		2048
#define MAX_PAGES		(1L << 22)
#define MERGE_MAX_SCANS		8
#define MERGE_TIMEOUT_S		120

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

static bool quiet;

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

/* ---- procfs files ----------------------------------------------------- */

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
 * Drain every CPU's LRU batches (drain_lru_move_pages() says why and how).
 * After a failure of move_pages() (no CONFIG_NUMA_MIGRATION, or no memory
 * for its page), drop_caches drains them for the rest of the run (and drops
 * the page cache); with neither, warn once: faults may then copy.
 */
static void drain_lru_all(void)
{
	static bool no_move_pages, warned;

	if (!no_move_pages && drain_lru_move_pages() == 0)
		return;
	if (!no_move_pages) {
		no_move_pages = true;
		fprintf(stderr, PROG ": warning: move_pages() cannot drain the LRU batches (%s): draining with %s\n",
			strerror(errno), DROP_CACHES);
	}
	if (write_file(DROP_CACHES, "1", 1) == 0 || warned)
		return;
	warned = true;
	fprintf(stderr, PROG ": warning: no LRU drain: %s: %s; faults may copy\n",
		DROP_CACHES, strerror(errno));
}

/* ---- page contents ---------------------------------------------------- */

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

/* ---- KSM ------------------------------------------------------------------ */

/*
 * Let ksmd merge page i of @a with page i of @b, for every i; stop it again
 * (run=0 leaves merged pages merged). Fails if nothing merged.
 */
static void ksm_merge(const char *mode, char *a, char *b, long n)
{
	size_t len = (size_t)n * page_size;
	unsigned long scans0;
	double start;
	long merged;

	if (madvise(a, len, MADV_MERGEABLE) || madvise(b, len, MADV_MERGEABLE))
		die("madvise(MADV_MERGEABLE): %s", strerror(errno));
	ksmd_full_speed(2 * n + 256);

	say("%s: merging two areas of %ld identical pages with ksmd...", mode, n);
	start = now_s();
	scans0 = ksm_read_ul("full_scans");
	ksm_run_until_merged(a, b, n, scans0, MERGE_MAX_SCANS,
			     start + MERGE_TIMEOUT_S);
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
	unsigned long long reuse0, cow0;
	uint64_t *after;
	long i;

	reuse0 = vmstat_get("ksm_wp_reuse");
	cow0 = vmstat_get("cow_ksm");
	r->ns_per_fault = timed_write(area, n);
	r->reused = vmstat_get("ksm_wp_reuse") - reuse0;
	r->copied = vmstat_get("cow_ksm") - cow0;
	r->pages = n;

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

	open_pagemap();
	open_kpageflags();
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
	owner_pid = getpid();
	check_interfaces();
	install_restore_handlers();
	cpu = pin_to_this_cpu();
	say("ksm_wp_reuse_demo: %ld pages of %ld bytes per area, ", n, page_size);
	if (cpu >= 0)
		say("running on CPU %d\n", cpu);
	else
		say("could not pin to one CPU: faults may run on several\n");

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
