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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif /* KSM_WP_REUSE_UTIL_H */
