// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_wp_bench - what a write fault on a KSM page costs when the kernel
 * reuses the page instead of copying it.
 *
 * Linux 5.1 (52d1e606, "mm: reuse only-pte-mapped KSM page in do_wp_page()")
 * let a write fault reuse a KSM page that only one PTE still maps. 5.9
 * removed that while simplifying COW, and Linus asked for numbers showing
 * the reuse was worth having before it came back. None came; these are
 * those numbers, for a kernel with /sys/kernel/mm/ksm/wp_reuse.
 *
 * Four scenarios time one write (one byte) to each of N pages, and count
 * what the kernel did for it:
 *
 *   ksm_on      N KSM pages, each mapped once: merged by ksmd with a twin
 *               area that is then unmapped; wp_reuse=1, so every fault
 *               should reuse the page in place (same PFN, no allocation).
 *   ksm_off     the same with wp_reuse=0, as upstream: every fault copies.
 *   anon_reuse  the floor: anon pages shared with a forked child that has
 *               exited; every fault reuses an exclusive-again anon page.
 *   anon_cow    anon pages shared with a child that is still alive: every
 *               fault copies; the child checks afterwards that it kept its
 *               data.
 *
 * By default the four run once per round, in that order, for several rounds
 * (interleaved, so drift hits every scenario alike). For each round: ns per
 * fault (the write loop only), page allocations during it (pgalloc_*),
 * cow_ksm and ksm_wp_reuse from /proc/vmstat, the fraction of pages that kept
 * their PFN, and a full check of every page's contents (a wrong page is a
 * hard error). Before the write, every CPU's LRU batches are drained (a
 * batch holds a reference, which makes the fault copy), with move_pages(),
 * which migrates nothing; the process stays on one CPU, so that every
 * fault of a round is timed on the same CPU and its caches.
 *
 * The pressure workload (-p) is ksm_on and ksm_off on a host short of memory:
 * half of the KSM pages are swapped out before the write, and the cgroup's
 * memory.max leaves no headroom, so the write fault meets KSM folios read
 * back from swap (see struct pressure_result).
 *
 * The churn workload (-c) is the same question under a moving load: worker
 * processes that opted in to KSM with PR_SET_MEMORY_MERGE share most of
 * their contents, keep writing to them while ksmd merges at full speed, and
 * die and restart at random, so that survivors' KSM pages lose their sharers
 * and become mapped once. It reports how many faults reused and copied and
 * checks every worker's memory when it ends.
 *
 * The pairs workload (-C) completes upstream's peer benchmark: "ksm_tests -C"
 * merges pairs of equal pages and times a write to one page of each pair,
 * which must copy; -C times that, then the write to the other page, which
 * finds its KSM page mapped once.
 *
 * Needs root, CONFIG_KSM and the wp_reuse switch (except -s anon_reuse and
 * -s anon_cow). Every sysfs value it changes is restored on exit, on errors
 * and on SIGINT/SIGTERM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROG			"ksm_wp_bench"
#include "ksm_wp_util.h"

/* Older uapi headers (e.g. Linux 6.1's) lack it. */
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#endif

#define __noreturn		__attribute__((noreturn))

#define DEFAULT_PAGES		16384
#define DEFAULT_ROUNDS		5
#define MAX_PAGES		(1L << 22)
#define MAX_ROUNDS		1000

#define MERGE_MAX_SCANS		10
#define MERGE_TIMEOUT_S		120.0
#define MERGE_REQUIRED		0.99	/* fraction of twins that must merge */

/* Churn workload defaults and pacing. */
#define CHURN_PAGES		4096
#define CHURN_PROCS		4
#define CHURN_MAX_PROCS		64
#define CHURN_SECONDS		20
#define CHURN_MAX_SECONDS	3600
#define CHURN_PASS_MS		50	/* one write pass this often */
#define CHURN_PRIVATE_EVERY	10	/* one page in 10 is private */
#define CHURN_WRITE_EVERY	10	/* a pass writes n/10 random pages */
#define CHURN_VERSIONS		4	/* contents a shared page cycles through */
#define CHURN_LIFE_MIN_MS	1000
#define CHURN_LIFE_MAX_MS	3000
#define CHURN_STAGGER_MS	250	/* first start of worker k at k * this */
#define CHURN_MIN_LIFE_MS	300	/* do not start a worker with less left */
#define CHURN_TICK_MS		20	/* supervisor poll interval */

#define GOLDEN			0x9e3779b97f4a7c15ULL
#define TAG_SHARED		0x5348415245444b53ULL
#define TAG_PRIVATE		0x5052495641544521ULL
#define TAG_VERSION		0x56455253494f4e73ULL
#define TAG_RNG			0x524e47736565642eULL
#define TAG_PRESSURE		0x5052455353555245ULL

/* ---- messages ------------------------------------------------------- */

static bool quiet;

static void __printf(1, 2) warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("warning", fmt, ap);
	va_end(ap);
}

/* Progress, to stderr so that stdout carries only the results; -q mutes it. */
static void __printf(1, 2) progress(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* ---- /proc/vmstat ------------------------------------------------------ */

struct counts {
	uint64_t pgalloc;	/* sum of every pgalloc_* line */
	uint64_t cow_ksm;
	uint64_t ksm_wp_reuse;
	uint64_t pswpin, pswpout;
	bool have_cow_ksm;	/* the kernel has the counter */
	bool have_ksm_wp_reuse;
};

static void vmstat_read(struct counts *c)
{
	unsigned long long v;
	char line[256], key[128];
	FILE *f;

	memset(c, 0, sizeof(*c));
	f = fopen("/proc/vmstat", "r");
	if (!f)
		die("cannot open /proc/vmstat: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%127s %llu", key, &v) != 2)
			continue;
		if (!strncmp(key, "pgalloc_", 8)) {
			c->pgalloc += v;
		} else if (!strcmp(key, "cow_ksm")) {
			c->cow_ksm = v;
			c->have_cow_ksm = true;
		} else if (!strcmp(key, "ksm_wp_reuse")) {
			c->ksm_wp_reuse = v;
			c->have_ksm_wp_reuse = true;
		} else if (!strcmp(key, "pswpin")) {
			c->pswpin = v;
		} else if (!strcmp(key, "pswpout")) {
			c->pswpout = v;
		}
	}
	fclose(f);
}

static struct counts counts_delta(const struct counts *before,
				  const struct counts *after)
{
	struct counts d = {
		.pgalloc = after->pgalloc - before->pgalloc,
		.cow_ksm = after->cow_ksm - before->cow_ksm,
		.ksm_wp_reuse = after->ksm_wp_reuse - before->ksm_wp_reuse,
		.pswpin = after->pswpin - before->pswpin,
		.pswpout = after->pswpout - before->pswpout,
		.have_cow_ksm = before->have_cow_ksm && after->have_cow_ksm,
		.have_ksm_wp_reuse = before->have_ksm_wp_reuse &&
				     after->have_ksm_wp_reuse,
	};

	return d;
}

/* ---- page contents ------------------------------------------------------ */

static uint64_t rng_next(uint64_t *state)
{
	return mix64(++*state);
}

/*
 * A page is word[0], which the benchmark writes, then words base + j * GOLDEN
 * for j >= 1: different in every page and every position, so that a page
 * holding another page's data, or shifted data, is caught; cheap to make.
 */
static uint64_t page_base(uint64_t key, long index)
{
	return mix64(key ^ mix64((uint64_t)index));
}

static void page_fill(uint64_t *word, uint64_t base, uint64_t word0)
{
	size_t j, words = page_size / sizeof(*word);

	word[0] = word0;
	for (j = 1; j < words; j++)
		word[j] = base + j * GOLDEN;
}

static bool page_matches(const uint64_t *word, uint64_t base, uint64_t word0)
{
	size_t j, words = page_size / sizeof(*word);

	if (word[0] != word0)
		return false;
	for (j = 1; j < words; j++)
		if (word[j] != base + j * GOLDEN)
			return false;
	return true;
}

/* @word with the byte at its lowest address replaced by @byte. */
static uint64_t with_byte0(uint64_t word, unsigned char byte)
{
	memcpy(&word, &byte, 1);
	return word;
}

static uint64_t *page_at(char *area, long i)
{
	return (uint64_t *)(area + (size_t)i * page_size);
}

/* Scenario pages: page_base(key, i) with byte 0 = PATTERN_BYTE. */
static void scenario_fill(char *area, long n, uint64_t key)
{
	long i;

	for (i = 0; i < n; i++) {
		uint64_t base = page_base(key, i);

		page_fill(page_at(area, i), base, with_byte0(base, PATTERN_BYTE));
	}
}

/* Pages whose contents are not the scenario's with byte 0 = @byte0. */
static long scenario_verify(char *area, long n, uint64_t key,
			    unsigned char byte0, long *first_bad)
{
	long i, bad = 0;

	*first_bad = -1;
	for (i = 0; i < n; i++) {
		uint64_t base = page_base(key, i);

		if (page_matches(page_at(area, i), base, with_byte0(base, byte0)))
			continue;
		if (!bad++)
			*first_bad = i;
	}
	return bad;
}

/* ---- LRU batches -------------------------------------------------------- */

enum drain_method { DRAIN_MOVE_PAGES, DRAIN_COMPACT, DRAIN_DROP_CACHES, DRAIN_NONE };
static const char *const drain_names[] = {
	[DRAIN_MOVE_PAGES]	= "move_pages",
	[DRAIN_COMPACT]		= "compact_memory",
	[DRAIN_DROP_CACHES]	= "drop_caches",
	[DRAIN_NONE]		= "none",
};

static enum drain_method drain = DRAIN_MOVE_PAGES;
static bool drain_asked;	/* -D given: no fallback to another method */

/*
 * Empty every CPU's LRU batches before the write; drain_lru_move_pages()
 * says why. compact_memory and drop_caches call lru_add_drain_all() too;
 * they stay as options to compare with: compaction then migrates pages into
 * this CPU's batch, where a KSM page copies (the copies earlier runs counted
 * in allocs_per_reused_fault), and drop_caches drops the page cache.
 */
static void drain_lru_all(void)
{
	const char *path;

	switch (drain) {
	case DRAIN_MOVE_PAGES:
		if (drain_lru_move_pages())
			die("move_pages() to drain the LRU batches: %s (-D drop_caches does without)",
			    strerror(errno));
		return;
	case DRAIN_COMPACT:
		path = COMPACT_MEMORY;
		break;
	case DRAIN_DROP_CACHES:
		path = DROP_CACHES;
		break;
	default:
		return;
	}
	if (write_file(path, "1", 1))
		die("cannot write 1 to %s to drain the LRU batches: %s (-D none skips it)",
		    path, strerror(errno));
}

/* ---- KSM merging ---------------------------------------------------------- */

/*
 * Let ksmd merge page i of @a with page i of @b, for every i, then stop it
 * (ksm_run_until_merged()). Returns how many pairs merged.
 */
static long ksm_merge(char *a, char *b, long n, double *seconds)
{
	size_t len = (size_t)n * page_size;
	double start;

	if (madvise(a, len, MADV_MERGEABLE) || madvise(b, len, MADV_MERGEABLE))
		die("madvise(MADV_MERGEABLE): %s", strerror(errno));

	start = now_s();
	ksm_run_until_merged(a, b, n, ksm_read_ul("full_scans"), MERGE_MAX_SCANS,
			     start + MERGE_TIMEOUT_S);
	*seconds = now_s() - start;
	return count_merged(a, b, n);
}

/*
 * Fill @a with the pages of @key, copy them to @b, set the switch and let
 * ksmd merge the twins; dies (naming @what and @round) unless nearly all
 * merged. Returns how many pairs merged.
 */
static long merge_twins(char *a, char *b, long n, uint64_t key, bool wp_reuse,
			const char *what, int round, double *seconds)
{
	long merged;

	scenario_fill(a, n, key);
	memcpy(b, a, (size_t)n * page_size);
	knob_set(KNOB_WP_REUSE, wp_reuse ? "1" : "0");
	merged = ksm_merge(a, b, n, seconds);
	if (merged < MERGE_REQUIRED * n)
		die("%s round %d: ksmd merged only %ld of %ld page pairs in %.1f s (need %.0f%%)",
		    what, round, merged, n, *seconds, MERGE_REQUIRED * 100);
	return merged;
}

/* ---- the scenarios ---------------------------------------------------------- */

enum scenario { SC_KSM_ON, SC_KSM_OFF, SC_ANON_REUSE, SC_ANON_COW, NR_SCENARIOS };

static const char *const scenario_names[NR_SCENARIOS] = {
	[SC_KSM_ON]	= "ksm_on",
	[SC_KSM_OFF]	= "ksm_off",
	[SC_ANON_REUSE]	= "anon_reuse",
	[SC_ANON_COW]	= "anon_cow",
};

static bool scenario_is_ksm(enum scenario s)
{
	return s == SC_KSM_ON || s == SC_KSM_OFF;
}

/* What one scenario measured in one round. */
struct round_result {
	double ns_per_fault;	/* write loop time / pages */
	long pages;
	long merged;		/* KSM: twin pairs merged; anon: -1 */
	double merge_s;		/* KSM: time ksmd took */
	long ksm_pages;		/* KSM pages just before the write; anon: -1 */
	long same_pfn;		/* pages that kept their PFN across the write */
	struct counts delta;	/* over the write loop */
};

/*
 * The common part: drain, record PFNs, time the write with the vmstat
 * counters around it, compare PFNs and check every page.
 */
static void measure(struct round_result *r, const char *name, bool ksm, int round,
		    char *area, long n, uint64_t key)
{
	struct counts before, after;
	uint64_t *pfns = alloc_pfns(n), *pfns_after = alloc_pfns(n);
	long i, bad, first_bad;

	drain_lru_all();
	read_pfns(area, n, pfns);
	if (ksm) {
		r->ksm_pages = count_ksm(pfns, n);
		if (r->ksm_pages < MERGE_REQUIRED * n)
			die("%s round %d: only %ld of %ld pages are KSM pages before the write",
			    name, round, r->ksm_pages, n);
	}

	vmstat_read(&before);
	r->ns_per_fault = timed_write(area, n);
	vmstat_read(&after);
	r->delta = counts_delta(&before, &after);
	r->pages = n;

	read_pfns(area, n, pfns_after);
	r->same_pfn = 0;
	for (i = 0; i < n; i++)
		r->same_pfn += pfns[i] && pfns[i] == pfns_after[i];
	free(pfns);
	free(pfns_after);

	bad = scenario_verify(area, n, key, WRITE_MARK, &first_bad);
	if (bad)
		die("%s round %d: %ld of %ld pages hold wrong data after the write (first: page %ld)",
		    name, round, bad, n, first_bad);
}

/* Different contents in every scenario and round: nothing merges with leftovers. */
static uint64_t round_key(uint64_t seed, enum scenario s, int round)
{
	return mix64(seed ^ mix64((uint64_t)round * NR_SCENARIOS + s));
}

/*
 * ksm_on / ksm_off: merge two twin areas, unmap one so that each KSM page is
 * mapped exactly once, then time the write with wp_reuse set as given.
 */
static void run_ksm(struct round_result *r, enum scenario s, int round,
		    long n, uint64_t seed)
{
	uint64_t key = round_key(seed, s, round);
	char *a = map_area(n), *b = map_area(n);

	r->merged = merge_twins(a, b, n, key, s == SC_KSM_ON, scenario_names[s], round,
				&r->merge_s);
	unmap_area(b, n);

	measure(r, scenario_names[s], true, round, a, n, key);
	unmap_area(a, n);
}

static void wait_child(pid_t pid, const char *what)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	if (WIFSIGNALED(status))
		die("%s: killed by signal %d", what, WTERMSIG(status));
	if (WEXITSTATUS(status) == 3)
		die("%s: its pages changed under it: the parent's write leaked into the child",
		    what);
	if (WEXITSTATUS(status))
		die("%s: exited with status %d", what, WEXITSTATUS(status));
}

/*
 * anon_reuse / anon_cow: anon pages shared with a forked child. For
 * anon_reuse the child has exited before the write, so each page is mapped
 * once again and the fault reuses it: the floor. For anon_cow the child waits
 * on a pipe during the write, so each fault copies; then it checks that its
 * own pages still hold the original data.
 */
static void run_anon(struct round_result *r, enum scenario s, int round,
		     long n, uint64_t seed)
{
	uint64_t key = round_key(seed, s, round);
	char *a = map_area(n), what[64];
	int pipefd[2] = { -1, -1 };
	pid_t pid;

	snprintf(what, sizeof(what), "%s round %d: child", scenario_names[s], round);
	r->merged = -1;
	r->merge_s = 0;
	r->ksm_pages = -1;
	scenario_fill(a, n, key);
	if (s == SC_ANON_COW && pipe(pipefd))
		die("pipe: %s", strerror(errno));

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		char c;
		long first_bad;

		if (s == SC_ANON_REUSE)
			_exit(0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(pipefd[1]);
		/* Blocks until the parent has written; EOF if it died. */
		while (read(pipefd[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(scenario_verify(a, n, key, PATTERN_BYTE, &first_bad) ? 3 : 0);
	}

	if (s == SC_ANON_REUSE) {
		wait_child(pid, what);
		measure(r, scenario_names[s], false, round, a, n, key);
	} else {
		close(pipefd[0]);
		measure(r, scenario_names[s], false, round, a, n, key);
		close(pipefd[1]);	/* releases the child */
		wait_child(pid, what);
	}
	unmap_area(a, n);
}

static void run_scenario(struct round_result *r, enum scenario s, int round,
			 long n, uint64_t seed)
{
	if (scenario_is_ksm(s))
		run_ksm(r, s, round, n, seed);
	else
		run_anon(r, s, round, n, seed);
}

/* ---- statistics and output --------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v, int count)
{
	double *s, m;

	if (count <= 0)
		return NAN;
	s = malloc(count * sizeof(*s));
	if (!s)
		die("out of memory");
	memcpy(s, v, count * sizeof(*s));
	qsort(s, count, sizeof(*s), cmp_double);
	m = count % 2 ? s[count / 2] : (s[count / 2 - 1] + s[count / 2]) / 2;
	free(s);
	return m;
}

struct summary {
	double median_ns, min_ns, max_ns;
	double pgalloc_per_fault_median;
	double same_pfn_fraction_median;
	uint64_t cow_ksm_total, ksm_wp_reuse_total;
	bool have_cow_ksm, have_ksm_wp_reuse;
};

static void summarize(struct summary *sum, const struct round_result *res, int rounds)
{
	double ns[MAX_ROUNDS], alloc[MAX_ROUNDS], same[MAX_ROUNDS];
	int i;

	memset(sum, 0, sizeof(*sum));
	sum->have_cow_ksm = true;
	sum->have_ksm_wp_reuse = true;
	sum->min_ns = INFINITY;
	sum->max_ns = -INFINITY;
	for (i = 0; i < rounds; i++) {
		const struct round_result *r = &res[i];

		ns[i] = r->ns_per_fault;
		alloc[i] = (double)r->delta.pgalloc / r->pages;
		same[i] = (double)r->same_pfn / r->pages;
		if (ns[i] < sum->min_ns)
			sum->min_ns = ns[i];
		if (ns[i] > sum->max_ns)
			sum->max_ns = ns[i];
		sum->cow_ksm_total += r->delta.cow_ksm;
		sum->ksm_wp_reuse_total += r->delta.ksm_wp_reuse;
		sum->have_cow_ksm &= r->delta.have_cow_ksm;
		sum->have_ksm_wp_reuse &= r->delta.have_ksm_wp_reuse;
	}
	sum->median_ns = median(ns, rounds);
	sum->pgalloc_per_fault_median = median(alloc, rounds);
	sum->same_pfn_fraction_median = median(same, rounds);
}

static double ratio(double a, double b)
{
	return isnan(a) || isnan(b) || b <= 0 ? NAN : a / b;
}

/*
 * Small formatted numbers for one printf call: a few rotating buffers, so
 * that several can be arguments of the same call.
 */
static char *fmt_buf(void)
{
	static char bufs[16][32];
	static unsigned int next;

	return bufs[next++ % ARRAY_SIZE(bufs)];
}

/* A number for JSON, null if it is not finite. */
static const char *jnum(double v)
{
	char *buf;

	if (!isfinite(v))
		return "null";
	buf = fmt_buf();
	snprintf(buf, 32, "%.10g", v);
	return buf;
}

/* A counter for JSON, null if the kernel has none; @none for the table. */
static const char *fmt_count(bool have, uint64_t v, const char *none)
{
	char *buf;

	if (!have)
		return none;
	buf = fmt_buf();
	snprintf(buf, 32, "%llu", (unsigned long long)v);
	return buf;
}

#define JCOUNT(h, v)	fmt_count((h), (v), "null")
#define TCOUNT(h, v)	fmt_count((h), (v), "-")

struct bench {
	long pages;
	int rounds;
	int cpu;
	uint64_t seed;
	bool run[NR_SCENARIOS];
	struct round_result *res[NR_SCENARIOS];
	struct summary sum[NR_SCENARIOS];
	double reuse_over_floor, off_over_on, allocs_per_reused_fault;
};

static void bench_ratios(struct bench *b)
{
	double on = b->run[SC_KSM_ON] ? b->sum[SC_KSM_ON].median_ns : NAN;
	double off = b->run[SC_KSM_OFF] ? b->sum[SC_KSM_OFF].median_ns : NAN;
	double floor = b->run[SC_ANON_REUSE] ? b->sum[SC_ANON_REUSE].median_ns : NAN;

	b->reuse_over_floor = ratio(on, floor);
	b->off_over_on = ratio(off, on);
	b->allocs_per_reused_fault = b->run[SC_KSM_ON] ?
		b->sum[SC_KSM_ON].pgalloc_per_fault_median : NAN;
}

static void print_round(const struct round_result *r, enum scenario s,
			int round, int rounds)
{
	progress("round %d/%d %-10s %8.0f ns/fault, pgalloc %llu, same PFN %5.1f%%, ",
		 round, rounds, scenario_names[s], r->ns_per_fault,
		 (unsigned long long)r->delta.pgalloc,
		 100.0 * r->same_pfn / r->pages);
	progress("cow_ksm %s, ksm_wp_reuse %s",
		 TCOUNT(r->delta.have_cow_ksm, r->delta.cow_ksm),
		 TCOUNT(r->delta.have_ksm_wp_reuse, r->delta.ksm_wp_reuse));
	if (r->merged >= 0)
		progress(" (merged %ld/%ld in %.1f s)", r->merged, r->pages, r->merge_s);
	progress("\n");
}

static void print_ratio(const char *name, const char *what, double v)
{
	if (isfinite(v))
		printf("%-24s %8.3f  %s\n", name, v, what);
	else
		printf("%-24s %8s  %s\n", name, "n/a", what);
}

static void print_table(const struct bench *b)
{
	int s;

	printf("%ld pages, %d round%s, drain: %s\n", b->pages, b->rounds,
	       b->rounds == 1 ? "" : "s", drain_names[drain]);
	printf("%-11s %15s %15s %13s %10s %10s %12s\n", "scenario",
	       "median ns/fault", "min-max ns", "pgalloc/fault", "same-PFN %",
	       "cow_ksm", "ksm_wp_reuse");
	for (s = 0; s < NR_SCENARIOS; s++) {
		const struct summary *sum = &b->sum[s];
		char range[32];

		if (!b->run[s])
			continue;
		snprintf(range, sizeof(range), "%.0f-%.0f", sum->min_ns, sum->max_ns);
		printf("%-11s %15.0f %15s %13.3f %10.1f %10s %12s\n",
		       scenario_names[s], sum->median_ns, range,
		       sum->pgalloc_per_fault_median,
		       100 * sum->same_pfn_fraction_median,
		       TCOUNT(sum->have_cow_ksm, sum->cow_ksm_total),
		       TCOUNT(sum->have_ksm_wp_reuse, sum->ksm_wp_reuse_total));
	}
	putchar('\n');
	print_ratio("reuse_over_floor", "median ksm_on / median anon_reuse",
		    b->reuse_over_floor);
	print_ratio("off_over_on", "median ksm_off / median ksm_on",
		    b->off_over_on);
	print_ratio("allocs_per_reused_fault", "median pgalloc per page in ksm_on",
		    b->allocs_per_reused_fault);
}

static const char *kernel_release(void)
{
	static struct utsname u;

	return uname(&u) ? "unknown" : u.release;
}

/* Close a JSON output file, dying if anything failed to reach it. */
static void json_close(FILE *f, const char *path)
{
	if (ferror(f) | fclose(f))
		die("cannot write %s: %s", path, strerror(errno));
}

static FILE *json_open(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die("cannot create %s: %s", path, strerror(errno));
	return f;
}

/* A workload's JSON file, opened with its first members written. */
static FILE *json_open_mode(const char *path, const char *mode)
{
	FILE *f = json_open(path);

	fprintf(f, "{\n  \"benchmark\": \"ksm_wp_bench\",\n  \"mode\": \"%s\",\n", mode);
	fprintf(f, "  \"kernel\": \"%s\",\n  \"page_size\": %ld,\n", kernel_release(), page_size);
	return f;
}

/* A struct summary as a JSON object. */
static void json_summary(FILE *f, const struct summary *sum)
{
	fprintf(f, "{\"median_ns\": %s, \"min_ns\": %s, \"max_ns\": %s, ",
		jnum(sum->median_ns), jnum(sum->min_ns), jnum(sum->max_ns));
	fprintf(f, "\"pgalloc_per_fault_median\": %s, \"same_pfn_fraction_median\": %s, ",
		jnum(sum->pgalloc_per_fault_median), jnum(sum->same_pfn_fraction_median));
	fprintf(f, "\"cow_ksm_total\": %s, \"ksm_wp_reuse_total\": %s}",
		JCOUNT(sum->have_cow_ksm, sum->cow_ksm_total),
		JCOUNT(sum->have_ksm_wp_reuse, sum->ksm_wp_reuse_total));
}

static void write_bench_json(const struct bench *b, const char *path)
{
	FILE *f = json_open(path);
	bool first = true;
	int s, i;

	fprintf(f, "{\n  \"benchmark\": \"ksm_wp_bench\",\n");
	fprintf(f, "  \"kernel\": \"%s\",\n", kernel_release());
	fprintf(f, "  \"page_size\": %ld,\n", page_size);
	fprintf(f, "  \"pages\": %ld,\n  \"rounds\": %d,\n", b->pages, b->rounds);
	fprintf(f, "  \"seed\": %llu,\n", (unsigned long long)b->seed);
	fprintf(f, "  \"cpu\": %d,\n  \"drain\": \"%s\",\n", b->cpu, drain_names[drain]);

	fprintf(f, "  \"scenarios\": {");
	for (s = 0; s < NR_SCENARIOS; s++) {
		if (!b->run[s])
			continue;
		fprintf(f, "%s\n    \"%s\": [", first ? "" : ",", scenario_names[s]);
		first = false;
		for (i = 0; i < b->rounds; i++) {
			const struct round_result *r = &b->res[s][i];
			bool ksm = scenario_is_ksm(s);

			fprintf(f, "%s\n      {\"round\": %d, ", i ? "," : "", i + 1);
			fprintf(f, "\"ns_per_fault\": %s, \"pages\": %ld, ", jnum(r->ns_per_fault), r->pages);
			fprintf(f, "\"merged\": %s, \"merge_seconds\": %s, \"ksm_pages\": %s, ",
				ksm ? JCOUNT(true, r->merged) : "null",
				ksm ? jnum(r->merge_s) : "null",
				ksm ? JCOUNT(true, r->ksm_pages) : "null");
			fprintf(f, "\"pgalloc\": %llu, \"pgalloc_per_fault\": %s, ",
				(unsigned long long)r->delta.pgalloc,
				jnum((double)r->delta.pgalloc / r->pages));
			fprintf(f, "\"cow_ksm\": %s, \"ksm_wp_reuse\": %s, ",
				JCOUNT(r->delta.have_cow_ksm, r->delta.cow_ksm),
				JCOUNT(r->delta.have_ksm_wp_reuse, r->delta.ksm_wp_reuse));
			fprintf(f, "\"same_pfn\": %ld, \"same_pfn_fraction\": %s, ",
				r->same_pfn, jnum((double)r->same_pfn / r->pages));
			fprintf(f, "\"content_ok\": true}");
		}
		fprintf(f, "\n    ]");
	}
	fprintf(f, "\n  },\n");

	first = true;
	fprintf(f, "  \"summary\": {");
	for (s = 0; s < NR_SCENARIOS; s++) {
		const struct summary *sum = &b->sum[s];

		if (!b->run[s])
			continue;
		fprintf(f, "%s\n    \"%s\": ", first ? "" : ",", scenario_names[s]);
		first = false;
		json_summary(f, sum);
	}
	fprintf(f, "\n  },\n");
	fprintf(f, "  \"reuse_over_floor\": %s,\n", jnum(b->reuse_over_floor));
	fprintf(f, "  \"off_over_on\": %s,\n", jnum(b->off_over_on));
	fprintf(f, "  \"allocs_per_reused_fault\": %s\n}\n",
		jnum(b->allocs_per_reused_fault));
	json_close(f, path);
}

/* ---- the benchmark ----------------------------------------------------------- */

static void run_bench(struct bench *b, const char *json_path)
{
	int s, i;

	b->cpu = pin_to_this_cpu();
	if (b->cpu < 0)
		warn("cannot pin to one CPU (%s): faults may be timed on several", strerror(errno));
	if (b->run[SC_KSM_ON] || b->run[SC_KSM_OFF])
		ksmd_full_speed(2 * b->pages + 256);

	for (s = 0; s < NR_SCENARIOS; s++) {
		if (!b->run[s])
			continue;
		b->res[s] = calloc(b->rounds, sizeof(*b->res[s]));
		if (!b->res[s])
			die("out of memory");
	}

	progress(PROG ": %ld pages of %ld bytes, %d round%s, CPU %d, drain %s\n",
		 b->pages, page_size, b->rounds, b->rounds == 1 ? "" : "s",
		 b->cpu, drain_names[drain]);
	for (i = 0; i < b->rounds; i++) {
		for (s = 0; s < NR_SCENARIOS; s++) {
			if (!b->run[s])
				continue;
			run_scenario(&b->res[s][i], s, i + 1, b->pages, b->seed);
			print_round(&b->res[s][i], s, i + 1, b->rounds);
		}
	}

	for (s = 0; s < NR_SCENARIOS; s++)
		if (b->run[s])
			summarize(&b->sum[s], b->res[s], b->rounds);
	bench_ratios(b);
	print_table(b);
	if (json_path)
		write_bench_json(b, json_path);
}

/* ---- the swap-pressure workload ---------------------------------------------- */

#define CGROUP_ROOT		"/sys/fs/cgroup"
#define PRESSURE_CGROUP		CGROUP_ROOT "/" PROG
#define PRESSURE_OUT_EVERY	2	/* 1 page in 2 is swapped out */
#define PRESSURE_HEADROOM	4	/* memory.max: 1/4 of the area above use */

/*
 * -p: ksm_on and ksm_off under memory pressure. This process runs in a
 * cgroup of its own; once ksmd has merged the twins and one twin is unmapped,
 * every other KSM page is swapped out (MADV_PAGEOUT: lowering memory.max
 * instead got the cgroup OOM-killed, reclaim finding the just-merged pages
 * referenced), reclaim is asked to free half of those folios from the swap
 * cache, and memory.max is set a quarter of the area above what the cgroup
 * then uses. The write faults every page. One whose folio is still in the
 * swap cache is a KSM folio there: the case this measures. One read back
 * from the device comes back as a new, ordinary anon folio, which the anon
 * path reuses whatever the switch says. Once the headroom is used up, every page
 * a fault allocates, a swap-in or a copy, makes reclaim push another page
 * out. Each round runs with the switch on, then off. Swap must be on:
 * guest-bench.sh gives it a loop device (disk-like, not synchronous) and
 * nothing else.
 */
struct pressure_result {
	int wp_reuse;
	long pages, merged;
	long swapped;		/* pages not present just before the write */
	double merge_s, ns_per_fault;
	struct counts delta;	/* over the write loop */
};

static bool cgroup_made;

static void cgroup_write(const char *file, const char *value)
{
	char path[256];

	snprintf(path, sizeof(path), PRESSURE_CGROUP "/%s", file);
	if (write_file(path, value, strlen(value)) < 0)
		die("cannot write \"%s\" to %s: %s", value, path, strerror(errno));
}

static long cgroup_read_l(const char *file)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), PRESSURE_CGROUP "/%s", file);
	if (read_file(path, buf, sizeof(buf)) < 0)
		die("cannot read %s: %s", path, strerror(errno));
	return strtol(buf, NULL, 10);
}

/* Back to the root cgroup, and remove ours (at exit and on errors too). */
static void cgroup_leave(void)
{
	char pid[32];

	if (!cgroup_made || getpid() != owner_pid)
		return;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (write_file(CGROUP_ROOT "/cgroup.procs", pid, strlen(pid)) ||
	    rmdir(PRESSURE_CGROUP))
		fprintf(stderr, PROG ": warning: cannot remove %s: %s\n",
			PRESSURE_CGROUP, strerror(errno));
	cgroup_made = false;
}

static void cgroup_enter(void)
{
	char buf[256], pid[32];

	if (read_file(CGROUP_ROOT "/cgroup.subtree_control", buf, sizeof(buf)) < 0)
		die("cannot read %s: %s (no cgroup v2 there?)",
		    CGROUP_ROOT "/cgroup.subtree_control", strerror(errno));
	if (!strstr(buf, "memory") &&
	    write_file(CGROUP_ROOT "/cgroup.subtree_control", "+memory", 7))
		die("cannot enable the memory controller in %s: %s", CGROUP_ROOT,
		    strerror(errno));
	/* An empty one left by a killed run. */
	if (rmdir(PRESSURE_CGROUP) && errno != ENOENT)
		die("cannot remove %s, left over from an earlier run: %s",
		    PRESSURE_CGROUP, strerror(errno));
	if (mkdir(PRESSURE_CGROUP, 0755))
		die("cannot create %s: %s", PRESSURE_CGROUP, strerror(errno));
	cgroup_made = true;
	if (atexit(cgroup_leave))
		die("atexit failed");
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	cgroup_write("cgroup.procs", pid);
}

/* A "Key:  N kB" line of /proc/meminfo, in kB; -1 if there is none. */
static long meminfo_kb(const char *key)
{
	size_t len = strlen(key);
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		die("cannot open /proc/meminfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':' &&
		    sscanf(line + len + 1, "%ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Until no page is under writeback, for at most 10 s. */
static void wait_writeback(void)
{
	double deadline = now_s() + 10;
	long kb;

	while ((kb = meminfo_kb("Writeback")) > 0) {
		if (now_s() > deadline) {
			warn("%ld kB still under writeback after 10 s", kb);
			return;
		}
		sleep_s(0.01);
	}
}

static void pressure_round(struct pressure_result *r, int wp_reuse, int round,
			   long n, uint64_t seed)
{
	uint64_t key = mix64(seed ^ mix64(TAG_PRESSURE + 2 * (uint64_t)round + wp_reuse));
	char *a = map_area(n), *b = map_area(n), limit[32];
	uint64_t *pfns = alloc_pfns(n);
	struct counts before, after;
	long i, bad, first_bad;

	r->wp_reuse = wp_reuse;
	r->pages = n;
	cgroup_write("memory.max", "max");
	r->merged = merge_twins(a, b, n, key, wp_reuse, "pressure", round, &r->merge_s);
	unmap_area(b, n);

	/* Batched pages are off the LRU, out of MADV_PAGEOUT's reach. */
	drain_lru_all();
	for (i = 0; i < n; i += PRESSURE_OUT_EVERY)
		if (madvise(page_at(a, i), page_size, MADV_PAGEOUT))
			die("madvise(MADV_PAGEOUT): %s", strerror(errno));
	/*
	 * Written out, the folios stay in the swap cache until reclaim frees
	 * them: have it free about half of them (EAGAIN when it got less than
	 * asked), as pressure would have by the time of the write, so that
	 * the write reads those back from the device and finds the others in
	 * the swap cache.
	 */
	wait_writeback();
	snprintf(limit, sizeof(limit), "%ld", n / PRESSURE_OUT_EVERY / 2 * page_size);
	if (write_file(PRESSURE_CGROUP "/memory.reclaim", limit, strlen(limit)) &&
	    errno != EAGAIN)
		die("cannot write %s to %s: %s", limit, PRESSURE_CGROUP "/memory.reclaim",
		    strerror(errno));
	/*
	 * Headroom for a quarter of the area: the swap-ins alone outgrow it,
	 * and past it every page a fault allocates reclaims another.
	 */
	snprintf(limit, sizeof(limit), "%ld",
		 cgroup_read_l("memory.current") + n / PRESSURE_HEADROOM * page_size);
	cgroup_write("memory.max", limit);
	read_pfns(a, n, pfns);
	r->swapped = 0;
	for (i = 0; i < n; i++)
		r->swapped += !pfns[i];

	vmstat_read(&before);
	r->ns_per_fault = timed_write(a, n);
	vmstat_read(&after);
	r->delta = counts_delta(&before, &after);

	cgroup_write("memory.max", "max");
	bad = scenario_verify(a, n, key, WRITE_MARK, &first_bad);
	if (bad)
		die("pressure round %d: %ld of %ld pages hold wrong data after the write (first: page %ld)",
		    round, bad, n, first_bad);
	free(pfns);
	unmap_area(a, n);
}

static void pressure_json_round(FILE *f, const struct pressure_result *r, bool first)
{
	fprintf(f, "%s\n    {\"wp_reuse\": %d, \"pages\": %ld, \"merged\": %ld, ",
		first ? "" : ",", r->wp_reuse, r->pages, r->merged);
	fprintf(f, "\"merge_seconds\": %s, \"swapped_before_write\": %ld, ",
		jnum(r->merge_s), r->swapped);
	fprintf(f, "\"ns_per_fault\": %s, \"pgalloc\": %llu, \"pswpin\": %llu, \"pswpout\": %llu, ",
		jnum(r->ns_per_fault), (unsigned long long)r->delta.pgalloc,
		(unsigned long long)r->delta.pswpin, (unsigned long long)r->delta.pswpout);
	fprintf(f, "\"cow_ksm\": %llu, \"ksm_wp_reuse\": %llu, \"content_ok\": true}",
		(unsigned long long)r->delta.cow_ksm,
		(unsigned long long)r->delta.ksm_wp_reuse);
}

static void run_pressure(long n, int rounds, uint64_t seed, const char *json_path)
{
	struct pressure_result *res = calloc(2 * rounds, sizeof(*res));
	double ns[2][MAX_ROUNDS];
	long swap_kb = meminfo_kb("SwapTotal");
	int i, w, cpu;

	if (!res)
		die("out of memory");
	if (swap_kb <= 0)
		die("no swap is on (SwapTotal in /proc/meminfo): the pressure workload swaps; turn some on");
	if (swap_kb < 2 * n * (page_size / 1024))
		die("%ld kB of swap is too little for -n %ld: it needs at least %ld kB",
		    swap_kb, n, 2 * n * (page_size / 1024));
	cpu = pin_to_this_cpu();
	if (cpu < 0)
		warn("cannot pin to one CPU (%s): faults may be timed on several", strerror(errno));
	ksmd_full_speed(2 * n + 256);
	cgroup_enter();

	progress(PROG ": pressure, %ld pages, %d round%s, CPU %d, 1 page in %d swapped out\n",
		 n, rounds, rounds == 1 ? "" : "s", cpu, PRESSURE_OUT_EVERY);
	for (i = 0; i < rounds; i++) {
		for (w = 1; w >= 0; w--) {
			struct pressure_result *r = &res[2 * i + (1 - w)];

			pressure_round(r, w, i + 1, n, seed);
			ns[1 - w][i] = r->ns_per_fault;
			progress("round %d/%d wp_reuse=%d %8.0f ns/fault, swapped out %ld, pswpin %llu, pswpout %llu, pgalloc %llu, cow_ksm %llu, ksm_wp_reuse %llu\n",
				 i + 1, rounds, w, r->ns_per_fault, r->swapped,
				 (unsigned long long)r->delta.pswpin,
				 (unsigned long long)r->delta.pswpout,
				 (unsigned long long)r->delta.pgalloc,
				 (unsigned long long)r->delta.cow_ksm,
				 (unsigned long long)r->delta.ksm_wp_reuse);
		}
	}
	cgroup_leave();

	printf("pressure: %ld pages, %d round%s, 1 page in %d swapped out\n",
	       n, rounds, rounds == 1 ? "" : "s", PRESSURE_OUT_EVERY);
	printf("%-10s %15s %10s %10s %10s %10s %10s %12s\n", "wp_reuse",
	       "median ns/fault", "swapped", "pswpin", "pswpout", "pgalloc",
	       "cow_ksm", "ksm_wp_reuse");
	for (w = 1; w >= 0; w--) {
		struct counts t = { 0 };
		long swapped = 0;

		for (i = 0; i < rounds; i++) {
			const struct pressure_result *r = &res[2 * i + (1 - w)];

			swapped += r->swapped;
			t.pswpin += r->delta.pswpin;
			t.pswpout += r->delta.pswpout;
			t.pgalloc += r->delta.pgalloc;
			t.cow_ksm += r->delta.cow_ksm;
			t.ksm_wp_reuse += r->delta.ksm_wp_reuse;
		}
		printf("%-10d %15.0f %10ld %10llu %10llu %10llu %10llu %12llu\n", w,
		       median(ns[1 - w], rounds), swapped,
		       (unsigned long long)t.pswpin, (unsigned long long)t.pswpout,
		       (unsigned long long)t.pgalloc, (unsigned long long)t.cow_ksm,
		       (unsigned long long)t.ksm_wp_reuse);
	}
	print_ratio("off_over_on", "median wp_reuse=0 / median wp_reuse=1",
		    ratio(median(ns[1], rounds), median(ns[0], rounds)));

	if (json_path) {
		FILE *f = json_open_mode(json_path, "pressure");

		fprintf(f, "  \"pages\": %ld,\n  \"rounds\": %d,\n  \"seed\": %llu,\n", n, rounds,
			(unsigned long long)seed);
		fprintf(f, "  \"out_every\": %d,\n  \"swap_total_kb\": %ld,\n", PRESSURE_OUT_EVERY, swap_kb);
		fprintf(f, "  \"median_ns_on\": %s,\n  \"median_ns_off\": %s,\n",
			jnum(median(ns[0], rounds)), jnum(median(ns[1], rounds)));
		fprintf(f, "  \"rounds_data\": [");
		for (i = 0; i < 2 * rounds; i++)
			pressure_json_round(f, &res[i], !i);
		fprintf(f, "\n  ]\n}\n");
		json_close(f, json_path);
	}
	free(res);
}

/* ---- the pairs workload: ksm_tests -C, completed ----------------------------- */

#define TAG_PAIRS		0x5041495253706169ULL

/*
 * -C: what "ksm_tests -C" measures, and its second half. ksm_tests merges
 * pairs of equal pages of one process (every KSM page mapped twice), then
 * times a write to the first page of each pair: every fault copies, whatever
 * the kernel does with a KSM page mapped once, because none is. It stops
 * there. The write left the other page of each pair the only mapping of its
 * KSM page: this writes those too. Page i of area a and of area b are the
 * pair (one process, two PTEs, as ksm_tests' neighbouring pages are); each
 * round, with the switch on then off: merge, write a (first), write b
 * (second), each write timed and counted as in ksm_on.
 */
struct pairs_result {
	int wp_reuse;
	long merged;
	double merge_s;
	struct round_result half[2];	/* the first writes, the second */
};

static void pairs_round(struct pairs_result *r, int wp_reuse, int round,
			long n, uint64_t seed)
{
	uint64_t key = mix64(seed ^ mix64(TAG_PAIRS + 2 * (uint64_t)round + wp_reuse));
	char *a = map_area(n), *b = map_area(n), name[32];
	long bad, first_bad;
	int h;

	r->wp_reuse = wp_reuse;
	r->merged = merge_twins(a, b, n, key, wp_reuse, "pairs", round, &r->merge_s);
	for (h = 0; h < 2; h++) {
		snprintf(name, sizeof(name), "pairs %s write", h ? "second" : "first");
		measure(&r->half[h], name, true, round, h ? b : a, n, key);
		r->half[h].merged = r->merged;
		r->half[h].merge_s = r->merge_s;
		/*
		 * The first write must have copied: a page it reused while both
		 * pages mapped it would show its mark in the other page of the
		 * pair, which the second write then hides.
		 */
		if (!h && (bad = scenario_verify(b, n, key, PATTERN_BYTE, &first_bad)))
			die("pairs round %d: %ld of %ld second pages changed with the first write (first: page %ld)",
			    round, bad, n, first_bad);
	}
	unmap_area(a, n);
	unmap_area(b, n);
}

static void run_pairs(long n, int rounds, uint64_t seed, const char *json_path)
{
	static const char *const half_names[2] = { "first", "second" };
	struct round_result *res[2][2];	/* [wp_reuse][half] */
	struct summary sum[2][2];
	struct pairs_result r;
	int i, w, h, cpu;

	for (w = 0; w < 2; w++)
		for (h = 0; h < 2; h++)
			if (!(res[w][h] = calloc(rounds, sizeof(*res[w][h]))))
				die("out of memory");
	cpu = pin_to_this_cpu();
	if (cpu < 0)
		warn("cannot pin to one CPU (%s): faults may be timed on several", strerror(errno));
	ksmd_full_speed(2 * n + 256);

	progress(PROG ": pairs, %ld pairs, %d round%s, CPU %d\n",
		 n, rounds, rounds == 1 ? "" : "s", cpu);
	/*
	 * A warm-up round of a few pairs, not counted: under TCG the first
	 * run of a kernel path pays for its translation, and the switch-on
	 * first write would always be that first run.
	 */
	for (w = 1; w >= 0; w--)
		pairs_round(&r, w, 0, n < 256 ? n : 256, seed);
	for (i = 0; i < rounds; i++) {
		for (w = 1; w >= 0; w--) {
			pairs_round(&r, w, i + 1, n, seed);
			for (h = 0; h < 2; h++) {
				res[w][h][i] = r.half[h];
				const struct counts *d = &r.half[h].delta;

				progress("round %d/%d wp_reuse=%d %-6s write: %8.0f ns/fault, pgalloc %llu, same PFN %5.1f%%, cow_ksm %s, ksm_wp_reuse %s\n",
					 i + 1, rounds, w, half_names[h], r.half[h].ns_per_fault,
					 (unsigned long long)d->pgalloc, 100.0 * r.half[h].same_pfn / n,
					 TCOUNT(d->have_cow_ksm, d->cow_ksm),
					 TCOUNT(d->have_ksm_wp_reuse, d->ksm_wp_reuse));
			}
		}
	}
	for (w = 0; w < 2; w++)
		for (h = 0; h < 2; h++)
			summarize(&sum[w][h], res[w][h], rounds);

	printf("pairs: %ld pairs of equal pages merged, %d round%s; the first write (ksm_tests -C), then the second\n",
	       n, rounds, rounds == 1 ? "" : "s");
	printf("%-8s %-7s %15s %15s %13s %10s %10s %12s\n", "wp_reuse", "write",
	       "median ns/fault", "min-max ns", "pgalloc/fault", "same-PFN %",
	       "cow_ksm", "ksm_wp_reuse");
	for (w = 1; w >= 0; w--) {
		for (h = 0; h < 2; h++) {
			const struct summary *m = &sum[w][h];
			char range[32];

			snprintf(range, sizeof(range), "%.0f-%.0f", m->min_ns, m->max_ns);
			printf("%-8d %-7s %15.0f %15s %13.3f %10.1f %10s %12s\n", w,
			       half_names[h], m->median_ns, range, m->pgalloc_per_fault_median,
			       100 * m->same_pfn_fraction_median,
			       TCOUNT(m->have_cow_ksm, m->cow_ksm_total),
			       TCOUNT(m->have_ksm_wp_reuse, m->ksm_wp_reuse_total));
		}
	}
	putchar('\n');
	print_ratio("first_off_over_on", "first write: median wp_reuse=0 / wp_reuse=1",
		    ratio(sum[0][0].median_ns, sum[1][0].median_ns));
	print_ratio("second_off_over_on", "second write: median wp_reuse=0 / wp_reuse=1",
		    ratio(sum[0][1].median_ns, sum[1][1].median_ns));

	if (json_path) {
		FILE *f = json_open_mode(json_path, "pairs");

		fprintf(f, "  \"pairs\": %ld,\n  \"rounds\": %d,\n  \"seed\": %llu,\n", n, rounds,
			(unsigned long long)seed);
		fprintf(f, "  \"cpu\": %d,\n  \"drain\": \"%s\",\n  \"rounds_data\": [", cpu,
			drain_names[drain]);
		for (i = 0; i < rounds; i++) {
			for (w = 1; w >= 0; w--) {
				for (h = 0; h < 2; h++) {
					const struct round_result *x = &res[w][h][i];

					fprintf(f, "%s\n    {\"round\": %d, \"wp_reuse\": %d, \"write\": \"%s\", ",
						i || w != 1 || h ? "," : "", i + 1, w, half_names[h]);
					fprintf(f, "\"merged\": %ld, \"merge_seconds\": %s, \"ksm_pages\": %ld, ",
						x->merged, jnum(x->merge_s), x->ksm_pages);
					fprintf(f, "\"ns_per_fault\": %s, \"pgalloc\": %llu, ",
						jnum(x->ns_per_fault), (unsigned long long)x->delta.pgalloc);
					fprintf(f, "\"cow_ksm\": %s, \"ksm_wp_reuse\": %s, ",
						JCOUNT(x->delta.have_cow_ksm, x->delta.cow_ksm),
						JCOUNT(x->delta.have_ksm_wp_reuse, x->delta.ksm_wp_reuse));
					fprintf(f, "\"same_pfn\": %ld, \"content_ok\": true}", x->same_pfn);
				}
			}
		}
		fprintf(f, "\n  ],\n  \"summary\": {");
		for (w = 1; w >= 0; w--) {
			for (h = 0; h < 2; h++) {
				const struct summary *m = &sum[w][h];

				fprintf(f, "%s\n    \"wp_reuse=%d %s\": ", w != 1 || h ? "," : "",
					w, half_names[h]);
				json_summary(f, m);
			}
		}
		fprintf(f, "\n  },\n  \"first_off_over_on\": %s,\n  \"second_off_over_on\": %s\n}\n",
			jnum(ratio(sum[0][0].median_ns, sum[1][0].median_ns)),
			jnum(ratio(sum[0][1].median_ns, sum[1][1].median_ns)));
		json_close(f, json_path);
	}
	for (w = 0; w < 2; w++)
		for (h = 0; h < 2; h++)
			free(res[w][h]);
}

/* ---- the churn workload ------------------------------------------------------- */

struct churn_opts {
	long pages;
	int procs;
	int seconds;
	int wp_reuse;		/* -1: leave the switch as it is */
	uint64_t seed;
};

/* What a worker reports: one per slot, in memory shared with the parent. */
struct worker_stats {
	uint64_t pages_written;
	uint64_t passes;
	uint64_t pages_verified;
	uint64_t bad_pages;
	long first_bad;
};

struct churn_totals {
	uint64_t lifetimes;
	uint64_t pages_written;
	uint64_t passes;
	uint64_t pages_verified;
	uint64_t bad_pages;
	unsigned long full_scans;
	unsigned long pages_sharing_max;
	double wall_s;
	struct counts delta;
	char wp_reuse[KNOB_LEN];
};

/* Shared pages hold the same data in every worker; one in ten is private. */
static bool churn_page_private(uint64_t seed, long i)
{
	return mix64(seed ^ TAG_PRIVATE ^ mix64((uint64_t)i)) % CHURN_PRIVATE_EVERY == 0;
}

/* word[0] of page @i at version @v: what a write stores, one 64-bit word. */
static uint64_t churn_word0(uint64_t key, long i, unsigned int v)
{
	return mix64(key ^ TAG_VERSION ^ mix64((uint64_t)i * CHURN_VERSIONS + v));
}

/*
 * One worker's life: opt in to KSM, fill its pages, then every
 * CHURN_PASS_MS write to a random tenth of them until @deadline, each write
 * moving the page to its next version (CHURN_VERSIONS contents per page, so
 * that workers often agree again and ksmd merges again); finally check every
 * page against the version the worker recorded. Exits 0, or 3 on wrong data.
 */
static void __noreturn
churn_worker(struct worker_stats *st, const struct churn_opts *o,
	     uint64_t life, double deadline)
{
	uint64_t shared_key = mix64(o->seed ^ TAG_SHARED);
	uint64_t private_key = mix64(o->seed ^ TAG_PRIVATE ^ mix64(life));
	uint64_t rng = mix64(o->seed ^ TAG_RNG ^ life);
	long i, n = o->pages, picks = n / CHURN_WRITE_EVERY;
	unsigned char *version;
	uint64_t *keys;
	double next;
	char *area;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != owner_pid)
		_exit(1);
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
		die("worker: prctl(PR_SET_MEMORY_MERGE): %s (needs Linux 6.4+)",
		    strerror(errno));

	version = calloc(n, sizeof(*version));
	keys = calloc(n, sizeof(*keys));
	if (!version || !keys)
		die("worker: out of memory");
	area = map_area(n);
	for (i = 0; i < n; i++) {
		keys[i] = churn_page_private(o->seed, i) ? private_key : shared_key;
		page_fill(page_at(area, i), page_base(keys[i], i),
			  churn_word0(keys[i], i, 0));
	}

	if (picks < 1)
		picks = 1;
	next = now_s();
	while (now_s() < deadline) {
		long k;

		for (k = 0; k < picks; k++) {
			volatile uint64_t *word;

			i = rng_next(&rng) % n;
			version[i] = (version[i] + 1) % CHURN_VERSIONS;
			word = page_at(area, i);
			*word = churn_word0(keys[i], i, version[i]);
		}
		st->pages_written += picks;
		st->passes++;
		next += CHURN_PASS_MS / 1000.0;
		if (next < now_s())
			next = now_s();
		sleep_s((next < deadline ? next : deadline) - now_s());
	}

	st->first_bad = -1;
	for (i = 0; i < n; i++) {
		if (page_matches(page_at(area, i), page_base(keys[i], i),
				 churn_word0(keys[i], i, version[i])))
			continue;
		if (!st->bad_pages++)
			st->first_bad = i;
	}
	st->pages_verified = n;
	_exit(st->bad_pages ? 3 : 0);
}

struct churn_slot {
	pid_t pid;		/* 0: not running */
	double next_start;
	uint64_t life;		/* the running worker's lifetime number */
};

static void churn_account(struct churn_totals *t, struct worker_stats *st,
			  const struct churn_slot *slot, int status)
{
	if (WIFSIGNALED(status))
		die("churn: worker %llu was killed by signal %d",
		    (unsigned long long)slot->life, WTERMSIG(status));
	if (WEXITSTATUS(status) && WEXITSTATUS(status) != 3)
		die("churn: worker %llu exited with status %d (see above)",
		    (unsigned long long)slot->life, WEXITSTATUS(status));
	if (st->bad_pages)
		fprintf(stderr, PROG ": churn: worker %llu: %llu of %llu pages hold wrong data (first: page %ld)\n",
			(unsigned long long)slot->life,
			(unsigned long long)st->bad_pages,
			(unsigned long long)st->pages_verified, st->first_bad);
	t->lifetimes++;
	t->pages_written += st->pages_written;
	t->passes += st->passes;
	t->pages_verified += st->pages_verified;
	t->bad_pages += st->bad_pages;
	memset(st, 0, sizeof(*st));
}

static void churn_start(struct churn_slot *slot, struct worker_stats *st,
			const struct churn_opts *o, uint64_t *rng,
			uint64_t *lives, double now, double end)
{
	double life_s = (CHURN_LIFE_MIN_MS +
			 rng_next(rng) % (CHURN_LIFE_MAX_MS - CHURN_LIFE_MIN_MS + 1)) / 1000.0;
	double deadline = now + life_s < end ? now + life_s : end;
	pid_t pid;

	slot->life = (*lives)++;
	memset(st, 0, sizeof(*st));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid)
		churn_worker(st, o, slot->life, deadline);
	slot->pid = pid;
}

static void run_churn(const struct churn_opts *o, const char *json_path)
{
	struct churn_slot slots[CHURN_MAX_PROCS] = { 0 };
	struct churn_totals t = { 0 };
	struct worker_stats *stats;
	struct counts before, after;
	unsigned long scans0;
	double start, end, now;
	uint64_t rng = mix64(o->seed ^ TAG_RNG), lives = 0;
	unsigned long sharing;
	int k, live = 0, status;
	pid_t pid;

	stats = mmap(NULL, sizeof(*stats) * o->procs, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (stats == MAP_FAILED)
		die("mmap: %s", strerror(errno));

	if (o->wp_reuse >= 0)
		knob_set(KNOB_WP_REUSE, o->wp_reuse ? "1" : "0");
	knob_read(&knobs[KNOB_WP_REUSE], t.wp_reuse);
	ksmd_full_speed((unsigned long)o->procs * o->pages + 256);
	knob_set(KNOB_RUN, "1");

	progress(PROG ": churn: %d workers x %ld pages for %d s, wp_reuse=%s, seed %llu\n",
		 o->procs, o->pages, o->seconds, t.wp_reuse,
		 (unsigned long long)o->seed);
	vmstat_read(&before);
	scans0 = ksm_read_ul("full_scans");
	start = now_s();
	end = start + o->seconds;
	for (k = 0; k < o->procs; k++)
		slots[k].next_start = start + k * CHURN_STAGGER_MS / 1000.0;

	for (;;) {
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (k = 0; k < o->procs && slots[k].pid != pid; k++)
				;
			if (k == o->procs)
				continue;
			churn_account(&t, &stats[k], &slots[k], status);
			slots[k].pid = 0;
			slots[k].next_start = now_s();
			live--;
		}
		if (pid < 0 && errno != ECHILD && errno != EINTR)
			die("waitpid: %s", strerror(errno));

		now = now_s();
		for (k = 0; k < o->procs; k++) {
			if (slots[k].pid || slots[k].next_start > now ||
			    end - now < CHURN_MIN_LIFE_MS / 1000.0)
				continue;
			churn_start(&slots[k], &stats[k], o, &rng, &lives, now, end);
			live++;
		}
		if (!live && end - now < CHURN_MIN_LIFE_MS / 1000.0)
			break;

		sharing = ksm_read_ul("pages_sharing");
		if (sharing > t.pages_sharing_max)
			t.pages_sharing_max = sharing;
		sleep_s(CHURN_TICK_MS / 1000.0);
	}

	t.wall_s = now_s() - start;
	vmstat_read(&after);
	t.delta = counts_delta(&before, &after);
	t.full_scans = ksm_read_ul("full_scans") - scans0;
	munmap(stats, sizeof(*stats) * o->procs);

	printf("churn: %d workers x %ld pages, %d s, seed %llu, wp_reuse=%s\n",
	       o->procs, o->pages, o->seconds, (unsigned long long)o->seed,
	       t.wp_reuse);
	printf("  %-22s %.1f s\n", "wall time", t.wall_s);
	printf("  %-22s %llu\n", "worker lifetimes", (unsigned long long)t.lifetimes);
	printf("  %-22s %llu\n", "write passes", (unsigned long long)t.passes);
	printf("  %-22s %llu\n", "pages written", (unsigned long long)t.pages_written);
	printf("  %-22s %s\n", "cow_ksm",
	       TCOUNT(t.delta.have_cow_ksm, t.delta.cow_ksm));
	printf("  %-22s %s\n", "ksm_wp_reuse",
	       TCOUNT(t.delta.have_ksm_wp_reuse, t.delta.ksm_wp_reuse));
	printf("  %-22s %llu\n", "pgalloc", (unsigned long long)t.delta.pgalloc);
	printf("  %-22s %lu\n", "ksmd full scans", t.full_scans);
	printf("  %-22s %lu\n", "pages_sharing max", t.pages_sharing_max);
	printf("  %-22s %llu pages, %s\n", "verified",
	       (unsigned long long)t.pages_verified,
	       t.bad_pages ? "SOME WRONG" : "all right");

	if (json_path) {
		FILE *f = json_open_mode(json_path, "churn");

		fprintf(f, "  \"procs\": %d,\n  \"pages\": %ld,\n  \"seconds\": %d,\n",
			o->procs, o->pages, o->seconds);
		fprintf(f, "  \"seed\": %llu,\n  \"wp_reuse\": %d,\n",
			(unsigned long long)o->seed, atoi(t.wp_reuse));
		fprintf(f, "  \"wall_s\": %s,\n  \"lifetimes\": %llu,\n",
			jnum(t.wall_s), (unsigned long long)t.lifetimes);
		fprintf(f, "  \"write_passes\": %llu,\n  \"pages_written\": %llu,\n",
			(unsigned long long)t.passes,
			(unsigned long long)t.pages_written);
		fprintf(f, "  \"cow_ksm\": %s,\n  \"ksm_wp_reuse\": %s,\n",
			JCOUNT(t.delta.have_cow_ksm, t.delta.cow_ksm),
			JCOUNT(t.delta.have_ksm_wp_reuse, t.delta.ksm_wp_reuse));
		fprintf(f, "  \"pgalloc\": %llu,\n  \"full_scans\": %lu,\n",
			(unsigned long long)t.delta.pgalloc, t.full_scans);
		fprintf(f, "  \"pages_sharing_max\": %lu,\n", t.pages_sharing_max);
		fprintf(f, "  \"pages_verified\": %llu,\n  \"bad_pages\": %llu,\n",
			(unsigned long long)t.pages_verified,
			(unsigned long long)t.bad_pages);
		fprintf(f, "  \"verified\": %s\n}\n", t.bad_pages ? "false" : "true");
		json_close(f, json_path);
	}
	if (t.bad_pages)
		die("churn: %llu pages held wrong data when their worker ended",
		    (unsigned long long)t.bad_pages);
}

/* ---- command line --------------------------------------------------------- */

static void check_interfaces(bool need_ksm, bool need_kpageflags)
{
	struct counts c;

	if (geteuid())
		die("must run as root (PFNs in /proc/self/pagemap, KSM knobs, LRU drain)");
	open_pagemap();

	/*
	 * Zero pages: is there a move_pages()? (no drain: see bench-steps.py).
	 * Asked for by name (-D move_pages, as the stepped run does: its gdb
	 * waits for the drain's lru_cache_disable()), there is no fallback.
	 */
	if (drain == DRAIN_MOVE_PAGES && syscall(__NR_move_pages, 0, 0UL, NULL, NULL, NULL, 0)) {
		if (drain_asked)
			die("-D move_pages: move_pages() cannot drain the LRU batches: %s",
			    strerror(errno));
		warn("move_pages() cannot drain the LRU batches (%s): draining with %s",
		     strerror(errno), DROP_CACHES);
		drain = DRAIN_DROP_CACHES;
	}
	if (!need_ksm)
		return;

	if (!file_exists(KSM_DIR "run"))
		die("this kernel has no KSM (%s missing: CONFIG_KSM=n?)", KSM_DIR "run");
	if (!file_exists(knobs[KNOB_WP_REUSE].path))
		die("this kernel lacks KSM write-fault reuse (%s missing); only -s anon_reuse and -s anon_cow run without it",
		    knobs[KNOB_WP_REUSE].path);
	vmstat_read(&c);
	if (!c.have_ksm_wp_reuse || !c.have_cow_ksm)
		die("/proc/vmstat lacks %s", c.have_cow_ksm ? "ksm_wp_reuse" : "cow_ksm");
	if (need_kpageflags)
		open_kpageflags();
}

static void print_help(FILE *f)
{
	fprintf(f,
		"usage: %1$s [-n PAGES] [-r ROUNDS] [-o FILE.json] [-D METHOD] [-S SEED] [-q]\n"
		"       %1$s -s SCENARIO [-n PAGES] [-r ROUNDS] [-o FILE.json] [-D METHOD] [-q]\n"
		"       %1$s -c [-t SECONDS] [-P PROCS] [-n PAGES] [-w 0|1] [-S SEED] [-o FILE.json]\n"
		"       %1$s -p [-n PAGES] [-r ROUNDS] [-D METHOD] [-S SEED] [-o FILE.json]\n"
		"       %1$s -C [-n PAIRS] [-r ROUNDS] [-D METHOD] [-S SEED] [-o FILE.json]\n"
		"\n"
		"Times write faults on KSM pages mapped once, with /sys/kernel/mm/ksm/wp_reuse\n"
		"on (the fault reuses the page) and off (it copies it, as upstream), against\n"
		"anon pages the kernel reuses (the floor) or copies. Each round runs ksm_on,\n"
		"ksm_off, anon_reuse and anon_cow, in that order. Results go to stdout (a\n"
		"table of medians over the rounds, then three ratios), progress to stderr.\n"
		"\n"
		"  -n, --pages PAGES     pages per scenario (default %2$d); with -c, per\n"
		"                        worker (default %3$d); with -C, pairs\n"
		"  -r, --rounds ROUNDS   rounds (default %4$d)\n"
		"  -s, --scenario NAME   run only ksm_on, ksm_off, anon_reuse or anon_cow\n"
		"  -o, --output FILE     also write the results to FILE as JSON\n"
		"  -D, --drain METHOD    how every CPU's LRU batches are emptied before the\n"
		"                        write: move_pages (default: a page of ours to its\n"
		"                        own node; drop_caches where it cannot, unless\n"
		"                        named), compact_memory (migrated KSM pages then\n"
		"                        sit in a batch and copy), drop_caches (drops the\n"
		"                        page cache too) or none (KSM faults may copy)\n"
		"  -S, --seed SEED       seeds page contents and the churn (default 1)\n"
		"  -c, --churn           run the churn workload instead: workers sharing most\n"
		"                        of their pages write, die and restart while ksmd\n"
		"                        merges at full speed\n"
		"  -p, --pressure        run the swap-pressure workload instead: ksm_on and\n"
		"                        ksm_off with half of the KSM pages swapped out, in\n"
		"                        a cgroup whose memory.max leaves no headroom\n"
		"                        (needs swap and cgroup v2)\n"
		"  -C, --pairs           run the pairs workload instead: what ksm_tests -C\n"
		"                        times (merge pairs of equal pages, write the first\n"
		"                        page of each), then the write to the second page\n"
		"  -t, --time SECONDS    churn duration (default %5$d)\n"
		"  -P, --procs PROCS     churn worker processes (default %6$d)\n"
		"  -w, --wp-reuse 0|1    set the switch before the churn (default: leave it)\n"
		"  -q, --quiet           no progress on stderr\n"
		"  -h, --help            this help\n"
		"\n"
		"Under perf (-s runs one scenario): perf stat and perf record see this\n"
		"process for the whole run, setup included; there is no separate window for\n"
		"the write loop. The setup is light for this process: ksmd merges in its own\n"
		"thread while we sleep. Besides the timed loop (one fault per page), this\n"
		"process fills the pages (one fault per page; twice as many for the KSM\n"
		"twins), reads PFNs, checks contents and drains the LRU batches (in this\n"
		"process's kernel context, visible as such in perf record). So\n"
		"task-clock and page-faults mostly reflect the write loop and the fills:\n"
		"compare scenarios with each other, and use larger -n or -r to dilute setup.\n"
		"\n"
		"Needs root, and KSM with the wp_reuse switch except for -s anon_reuse and\n"
		"-s anon_cow. Every KSM sysfs value changed is restored on exit and on\n"
		"SIGINT/SIGTERM. Exit status: 0 done; 1 error (a missing interface, fewer\n"
		"than %7$.0f%% of pages merged, wrong page contents: the message says which);\n"
		"2 bad usage.\n",
		PROG, DEFAULT_PAGES, CHURN_PAGES, DEFAULT_ROUNDS, CHURN_SECONDS,
		CHURN_PROCS, MERGE_REQUIRED * 100);
}

static void __noreturn usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(-h for help)\n", stderr);
	exit(2);
}

static long parse_num(const char *opt, const char *arg, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max)
		usage_error("%s wants a number from %ld to %ld, not \"%s\"",
			    opt, min, max, arg);
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pages",	required_argument,	NULL, 'n' },
		{ "rounds",	required_argument,	NULL, 'r' },
		{ "scenario",	required_argument,	NULL, 's' },
		{ "output",	required_argument,	NULL, 'o' },
		{ "drain",	required_argument,	NULL, 'D' },
		{ "seed",	required_argument,	NULL, 'S' },
		{ "churn",	no_argument,		NULL, 'c' },
		{ "pressure",	no_argument,		NULL, 'p' },
		{ "pairs",	no_argument,		NULL, 'C' },
		{ "time",	required_argument,	NULL, 't' },
		{ "procs",	required_argument,	NULL, 'P' },
		{ "wp-reuse",	required_argument,	NULL, 'w' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct churn_opts co = {
		.pages = CHURN_PAGES, .procs = CHURN_PROCS,
		.seconds = CHURN_SECONDS, .wp_reuse = -1, .seed = 1,
	};
	struct bench b = { .pages = DEFAULT_PAGES, .rounds = DEFAULT_ROUNDS, .seed = 1 };
	bool churn = false, pressure = false, pairs = false, pages_set = false;
	bool churn_opt = false;
	bool bench_opt = false;
	const char *json_path = NULL, *scenario = NULL;
	int opt, s;
	size_t i;

	while ((opt = getopt_long(argc, argv, "n:r:s:o:D:S:cpCt:P:w:qh",
				  longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			b.pages = parse_num("-n", optarg, 1, MAX_PAGES);
			co.pages = b.pages;
			pages_set = true;
			break;
		case 'r':
			b.rounds = parse_num("-r", optarg, 1, MAX_ROUNDS);
			bench_opt = true;
			break;
		case 's':
			scenario = optarg;
			bench_opt = true;
			break;
		case 'o':
			json_path = optarg;
			break;
		case 'D':
			for (i = 0; i < ARRAY_SIZE(drain_names); i++)
				if (!strcmp(optarg, drain_names[i]))
					break;
			if (i == ARRAY_SIZE(drain_names))
				usage_error("-D wants move_pages, compact_memory, drop_caches or none, not \"%s\"",
					    optarg);
			drain = i;
			drain_asked = true;
			bench_opt = true;
			break;
		case 'S':
			b.seed = parse_num("-S", optarg, 0, LONG_MAX);
			co.seed = b.seed;
			break;
		case 'c':
			churn = true;
			break;
		case 'p':
			pressure = true;
			break;
		case 'C':
			pairs = true;
			break;
		case 't':
			co.seconds = parse_num("-t", optarg, 1, CHURN_MAX_SECONDS);
			churn_opt = true;
			break;
		case 'P':
			co.procs = parse_num("-P", optarg, 1, CHURN_MAX_PROCS);
			churn_opt = true;
			break;
		case 'w':
			co.wp_reuse = parse_num("-w", optarg, 0, 1);
			churn_opt = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			print_help(stdout);
			return 0;
		default:
			fputs("(-h for help)\n", stderr);
			return 2;
		}
	}
	if (optind < argc)
		usage_error("unexpected argument \"%s\"", argv[optind]);
	if (churn && bench_opt)
		usage_error("-r, -s and -D do not apply to the churn workload (-c)");
	if (churn + pressure + pairs > 1)
		usage_error("-c, -p and -C are three workloads: choose one");
	if (pressure && scenario)
		usage_error("-s does not apply to the pressure workload (-p): it runs ksm_on and ksm_off");
	if (pairs && scenario)
		usage_error("-s does not apply to the pairs workload (-C): it has its own two writes");
	if (!churn && churn_opt)
		usage_error("-t, -P and -w apply only to the churn workload (-c)");
	if (churn && !pages_set)
		co.pages = CHURN_PAGES;

	for (s = 0; s < NR_SCENARIOS; s++)
		b.run[s] = !scenario || !strcmp(scenario, scenario_names[s]);
	if (scenario) {
		for (s = 0; s < NR_SCENARIOS && !b.run[s]; s++)
			;
		if (s == NR_SCENARIOS)
			usage_error("unknown scenario \"%s\" (ksm_on, ksm_off, anon_reuse, anon_cow)",
				    scenario);
	}

	page_size = sysconf(_SC_PAGESIZE);
	owner_pid = getpid();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (churn) {
		check_interfaces(true, false);
		install_restore_handlers();
		run_churn(&co, json_path);
	} else if (pressure) {
		check_interfaces(true, true);
		install_restore_handlers();
		run_pressure(b.pages, b.rounds, b.seed, json_path);
	} else if (pairs) {
		check_interfaces(true, true);
		install_restore_handlers();
		run_pairs(b.pages, b.rounds, b.seed, json_path);
	} else {
		bool ksm = b.run[SC_KSM_ON] || b.run[SC_KSM_OFF];

		check_interfaces(ksm, ksm);
		install_restore_handlers();
		run_bench(&b, json_path);
	}
	return 0;
}
