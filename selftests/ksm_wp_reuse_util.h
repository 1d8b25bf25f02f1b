/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers shared by ksm_wp_reuse and ksm_wp_reuse_stress. Unlike
 * vm_util's read_file()/write_file(), they return -errno instead of exiting:
 * the tests check that bad values written to wp_reuse fail with EINVAL.
 */
#ifndef KSM_WP_REUSE_UTIL_H
#define KSM_WP_REUSE_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/loop.h>

/*
 * Opt-in for what changes the machine beyond the tests' own processes and
 * the knobs they restore: KSM_WP_REUSE_INTRUSIVE=1, on a machine of the
 * tests' own (a throwaway VM).
 */
#define INTRUSIVE_ENV		"KSM_WP_REUSE_INTRUSIVE"

static inline bool intrusive(void)
{
	const char *v = getenv(INTRUSIVE_ENV);

	return v && !strcmp(v, "1");
}

/* Ends the reason a case skips for not being in the intrusive mode. */
#define INTRUSIVE_ONLY	": run with " INTRUSIVE_ENV "=1 (on a machine of its own)"

static inline int write_str(const char *path, const char *s)
{
	ssize_t len = strlen(s), ret;
	int fd, err;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ret = write(fd, s, len);
	err = errno;
	close(fd);
	if (ret < 0)
		return -err;
	return ret == len ? 0 : -EIO;
}

/* Reads the first line of @path; "[x]" selections are reduced to "x". */
static inline int read_str(const char *path, char *buf, size_t len)
{
	char *open_br, *close_br;
	ssize_t ret;
	int fd, err;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	ret = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (ret < 0)
		return -err;
	buf[ret] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	open_br = strchr(buf, '[');
	close_br = open_br ? strchr(open_br, ']') : NULL;
	if (close_br) {
		*close_br = '\0';
		memmove(buf, open_br + 1, strlen(open_br + 1) + 1);
	}
	return 0;
}

static inline long read_long(const char *path)
{
	char buf[64];

	if (read_str(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

static inline bool has_word(const char *list, const char *word)
{
	size_t len = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word))) {
		if ((p == list || p[-1] == ' ') && (p[len] == ' ' || !p[len]))
			return true;
		p += len;
	}
	return false;
}

/*
 * The KSM fault counters of /proc/vmstat: ksm_wp_reuse (faults that reused a
 * KSM page) and cow_ksm (faults that copied one). -ENOENT if either is
 * missing; each one found is stored all the same.
 */
static inline int read_ksm_fault_counts(long *reuse, long *cow)
{
	char name[64];
	int found = 0;
	long val;
	FILE *f;

	f = fopen("/proc/vmstat", "r");
	if (!f)
		return -errno;
	while (fscanf(f, "%63s %ld", name, &val) == 2) {
		if (!strcmp(name, "ksm_wp_reuse")) {
			*reuse = val;
			found++;
		} else if (!strcmp(name, "cow_ksm")) {
			*cow = val;
			found++;
		}
	}
	fclose(f);
	return found == 2 ? 0 : -ENOENT;
}

/* Write mkswap's header (version 1, no bad pages) to page 0 of @fd. */
static inline int write_swap_header(int fd, size_t pagesize, size_t pages)
{
	const uint32_t info[3] = { 1, pages - 1, 0 }; /* version, last_page, nr_badpages */
	char *hdr = calloc(1, pagesize);
	int ret = -1;

	if (!hdr)
		return -1;
	memcpy(hdr + 1024, info, sizeof(info));
	memcpy(hdr + pagesize - 10, "SWAPSPACE2", 10);
	if (pwrite(fd, hdr, pagesize, 0) == (ssize_t)pagesize && !fsync(fd))
		ret = 0;
	free(hdr);
	return ret;
}

/*
 * Attach a memfd of @pages pages with a swap header to a free loop device,
 * to swap on: disk-like, its I/O completes asynchronously, in the loop
 * worker. Its path goes to @path. The device detaches itself (autoclear)
 * when the last opener lets go: the swapon() that follows, or our close()
 * if that fails. Returns an fd of the device to close after swapon(), or -1
 * with the reason in @why.
 */
static inline int loop_swap_attach(size_t pagesize, size_t pages, char *path,
				   size_t len, char *why, size_t wlen)
{
	struct loop_config cfg = { 0 };
	int ctl, nr, mfd, fd = -1;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		snprintf(why, wlen, "/dev/loop-control: %s", strerror(errno));
		return -1;
	}
	nr = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (nr < 0) {
		snprintf(why, wlen, "LOOP_CTL_GET_FREE: %s", strerror(errno));
		return -1;
	}
	snprintf(path, len, "/dev/loop%d", nr);
	mfd = memfd_create("ksm_wp_reuse_swap", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, pages * pagesize) ||
	    write_swap_header(mfd, pagesize, pages)) {
		snprintf(why, wlen, "memfd for %s: %s", path, strerror(errno));
		goto out;
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	cfg.fd = mfd;
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
	if (fd < 0 || ioctl(fd, LOOP_CONFIGURE, &cfg)) {
		snprintf(why, wlen, "LOOP_CONFIGURE %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
out:
	if (mfd >= 0)
		close(mfd);
	return fd;
}

/* KiB in use on @dev (/proc/swaps: slots held by swap entries or the swap cache), or -1. */
static inline long swap_used_kb(const char *dev)
{
	char line[256], name[128];
	long size, used, ret = -1;
	FILE *f = fopen("/proc/swaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %*s %ld %ld", name, &size, &used) == 3 &&
		    !strcmp(name, dev))
			ret = used;
	fclose(f);
	return ret;
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif /* KSM_WP_REUSE_UTIL_H */
