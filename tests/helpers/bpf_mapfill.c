// SPDX-License-Identifier: GPL-2.0
/*
 * bpf_mapfill: fault injection for tests. Fills a pinned hash map whose keys are __u32 (the
 * daemon's sessions or peers map) with zeroed values under keys FIRST, FIRST+1, ... until COUNT
 * entries were added or the map refuses (full: E2BIG), so that the daemon's next update of that
 * map fails. Keys already present are overwritten: pick a range the daemon does not use. Prints
 * how many entries it added and the error that stopped it ("full" when the map is full). With -d
 * it deletes those keys again (missing ones are skipped).
 *
 *	bpf_mapfill [-d] PINNED_MAP FIRST COUNT
 *	bpf_mapfill -c PINNED_MAP	(prints how many entries the map holds)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

enum mapfill_limits {
	MAPFILL_CHUNK = 16384,
};

/* -c: walk the keys (bpf_map_get_next_key; bpftool's JSON dump of 50,000 entries takes
 * seconds) and print their number. */
static int mapfill_count(const char *path)
{
	unsigned long long n = 0;
	__u32 key, next;
	int fd = bpf_obj_get(path);

	if (fd < 0) {
		fprintf(stderr, "bpf_mapfill: %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* bounded: a hash map of at most 2^32 keys, each visited once */
	for (int r = bpf_map_get_next_key(fd, NULL, &next); r == 0;
	     r = bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		n++;
	}
	close(fd);
	printf("%llu\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_map_info info;
	__u32 *keys;
	void *values;
	__u32 info_len = sizeof(info);
	unsigned long long first, count, i, done = 0;
	int del = 0, fd, err = 0;
	char *end;

	if (argc == 3 && !strcmp(argv[1], "-c"))
		return mapfill_count(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "-d")) {
		del = 1;
		argv++;
		argc--;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: bpf_mapfill [-d] PINNED_MAP FIRST COUNT\n");
		return 2;
	}
	first = strtoull(argv[2], &end, 0);
	if (*end || first > 0xffffffffULL) {
		fprintf(stderr, "bpf_mapfill: bad FIRST %s\n", argv[2]);
		return 2;
	}
	count = strtoull(argv[3], &end, 0);
	if (*end || count > 0x100000000ULL - first) {
		fprintf(stderr, "bpf_mapfill: bad COUNT %s\n", argv[3]);
		return 2;
	}
	fd = bpf_obj_get(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "bpf_mapfill: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &info_len) || info.key_size != sizeof(__u32)) {
		fprintf(stderr, "bpf_mapfill: %s: not a map with __u32 keys\n", argv[1]);
		close(fd);
		return 1;
	}
	keys = calloc(MAPFILL_CHUNK, sizeof(*keys));
	values = calloc(MAPFILL_CHUNK, info.value_size ? info.value_size : 1);
	if (!keys || !values) {
		fprintf(stderr, "bpf_mapfill: out of memory\n");
		close(fd);
		return 1;
	}
	/* in batches (one syscall per chunk); a key already there ends a batch with EEXIST */
	for (i = 0; i < count && !err;) {
		__u32 n = count - i < MAPFILL_CHUNK ? (__u32)(count - i) : MAPFILL_CHUNK, k;

		for (k = 0; k < n; k++)
			keys[k] = (__u32)(first + i + k);
		if (del) {
			/* a missing key ends a delete batch with ENOENT: skip it */
			if (bpf_map_delete_batch(fd, keys, &n, NULL) == 0 || errno == ENOENT) {
				done += n;
				i += n + (n < MAPFILL_CHUNK && i + n < count);
			} else {
				err = errno;
			}
			continue;
		}
		if (bpf_map_update_batch(fd, keys, values, &n, NULL) == 0) {
			done += n;
			i += n;
		} else {
			err = errno;
			done += n;
		}
	}
	free(keys);
	free(values);
	close(fd);
	printf("%llu %s\n", done, err == E2BIG ? "full" : err ? strerror(err) : "ok");
	return err && err != E2BIG ? 1 : 0;
}
