// SPDX-License-Identifier: GPL-2.0
/*
 * launch CGROUP PROGRAM [ARG...]: run PROGRAM in the cgroup directory CGROUP,
 * opted in to KSM the way production does it: PR_SET_MEMORY_MERGE set before
 * exec, as systemd's MemoryKSM= does (the flag survives exec since 6.10).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif

int main(int argc, char **argv)
{
	char path[4096];
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: %s CGROUP PROGRAM [ARG...]\n", argv[0]);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/cgroup.procs", argv[1]);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, "0", 1) != 1) {
		fprintf(stderr, "launch: joining %s: %s\n", path, strerror(errno));
		return 1;
	}
	close(fd);
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0)) {
		fprintf(stderr, "launch: PR_SET_MEMORY_MERGE: %s\n", strerror(errno));
		return 1;
	}
	execvp(argv[2], argv + 2);
	fprintf(stderr, "launch: exec %s: %s\n", argv[2], strerror(errno));
	return 1;
}
