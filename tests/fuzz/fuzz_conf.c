/*
 * fuzz_conf.c - the configuration loader on hostile files: jansson, then
 * our walker, the key tables, every policy's config() and the locator
 * that gives errors their line and column.
 *
 * The input is the file, handed over as an anonymous memory file
 * (memfd), so nothing is written to disk.  Inputs that name a file
 * ("file" anywhere: lists, key_file, history_file, psl_file,
 * trust_anchor_file) or hold a backslash (which could spell "file" in a
 * JSON escape) are skipped: the loader would read those paths, and a
 * fuzzer must not read the machine's files.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "filter/conf/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c;
	char path[64];
	int fd, n = 0;

	if (memmem(data, size, "file", 4) != NULL ||
	    memchr(data, '\\', size) != NULL)
		return 0;
	fd = memfd_create("fuzz_conf", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		c = conf_load(path, NULL, &n);
		if (c != NULL)
			conf_unref(&c);
	}
	close(fd);
	return 0;
}
