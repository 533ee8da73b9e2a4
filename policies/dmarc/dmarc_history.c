/*
 * dmarc_history.c - the aggregate-report history: one JSON object per
 * evaluated message, one line each, appended; rotated by size to PATH.1 ..
 * PATH.keep (PATH.1 the newest).  `gatewarden dmarc-report` reads them.
 *
 * Thread safety: every append and rotation holds h->lock.  Two generations
 * (around a reload) may write the same file for a moment; each line is one
 * write(2) on an O_APPEND descriptor, so lines never interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policies/dmarc/dmarc_int.h"

#define HISTORY_PATH_MAX	4096

/* dmarc_history_open - see dmarc_int.h */
int
dmarc_history_open(struct dmarc_history *h, const char *path,
    long long max_bytes, long long keep, const char **error_r)
{
	static __thread char err[256];

	h->path = path;
	h->max_bytes = max_bytes;
	h->keep = keep;
	h->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (h->fd == -1) {
		snprintf(err, sizeof(err), "history %s: %s", path,
		    strerror(errno));
		*error_r = err;
		return -1;
	}
	pthread_mutex_init(&h->lock, NULL);
	return 0;
}

/* dmarc_history_close - close the file */
void
dmarc_history_close(struct dmarc_history *h)
{
	if (h->fd != -1) {
		close(h->fd);
		pthread_mutex_destroy(&h->lock);
	}
	h->fd = -1;
}

/* rotate - PATH.N-1 -> PATH.N ... PATH -> PATH.1, then a new PATH */
static int
rotate(struct dmarc_history *h)
{
	char from[HISTORY_PATH_MAX], to[HISTORY_PATH_MAX];
	long long i;
	int fd;

	for (i = h->keep; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof(from), "%s", h->path);
		else
			snprintf(from, sizeof(from), "%s.%lld", h->path, i - 1);
		snprintf(to, sizeof(to), "%s.%lld", h->path, i);
		if (rename(from, to) == -1 && errno != ENOENT)
			return -1;
	}
	if (h->keep == 0 && unlink(h->path) == -1 && errno != ENOENT)
		return -1;
	fd = open(h->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	close(h->fd);
	h->fd = fd;
	return 0;
}

/* dmarc_history_append - see dmarc_int.h */
int
dmarc_history_append(struct dmarc_history *h, const json_t *j,
    const char **error_r)
{
	char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_ENSURE_ASCII);
	size_t n;
	ssize_t w;
	struct stat sb;
	off_t before;
	int rc = 0;

	if (line == NULL) {
		*error_r = "history: cannot encode the entry";
		return -1;
	}
	n = strlen(line);
	line[n] = '\n';		/* json_dumps leaves room: the NUL */
	pthread_mutex_lock(&h->lock);
	if (h->max_bytes > 0 && fstat(h->fd, &sb) == 0 &&
	    sb.st_size + (off_t)n + 1 > (off_t)h->max_bytes && sb.st_size > 0 &&
	    rotate(h) == -1) {
		*error_r = "history: rotation failed";
		rc = -1;
	}
	before = fstat(h->fd, &sb) == 0 ? sb.st_size : -1;
	w = write(h->fd, line, n + 1);
	if (w != (ssize_t)(n + 1)) {
		/*
		 * A line cut short (disk full, file size limit) would run into
		 * the next one written once there is room again, and the
		 * report reader would lose both: take the part back.  A line
		 * the other generation appended meanwhile (around a reload)
		 * would go too; that is one line, the torn one is every line
		 * after it.
		 */
		if (w > 0 && before >= 0 && ftruncate(h->fd, before) == -1)
			*error_r = "history: write failed, half a line left";
		else
			*error_r = "history: write failed";
		rc = -1;
	}
	pthread_mutex_unlock(&h->lock);
	free(line);
	return rc;
}
