/*
 * secret.c - files that hold secrets (secret.h has the rule and why).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filter/util/arena.h"
#include "filter/util/secret.h"

/* -1 until set: the running uid and gid then */
static atomic_llong service_uid = -1;
static atomic_llong service_gid = -1;

void
secret_set_service(uid_t uid, gid_t gid)
{
	atomic_store(&service_uid, (long long)uid);
	atomic_store(&service_gid, (long long)gid);
}

static uid_t
service_uid_now(void)
{
	long long u = atomic_load(&service_uid);

	return u < 0 ? geteuid() : (uid_t)u;
}

gid_t
secret_service_gid(void)
{
	long long g = atomic_load(&service_gid);

	return g < 0 ? getegid() : (gid_t)g;
}

/* group_name - "NAME (GID)" or "GID" for messages */
static const char *
group_name(struct arena *a, gid_t gid)
{
	struct group gr, *res = NULL;
	char buf[1024];

	if (getgrgid_r(gid, &gr, buf, sizeof(buf), &res) == 0 && res != NULL)
		return arena_printf(
		    a, "%s (%lu)", gr.gr_name, (unsigned long)gid);
	return arena_printf(a, "%lu", (unsigned long)gid);
}

/* secret_unsafe - why st may not hold a secret, or NULL */
static const char *
secret_unsafe(struct arena *a, const struct stat *st)
{
	unsigned mode = (unsigned)(st->st_mode & 07777);
	uid_t uid = service_uid_now();
	gid_t gid = secret_service_gid();

	if (st->st_uid != 0 && st->st_uid != uid)
		return arena_printf(a,
		    "owned by uid %lu, which is neither root nor the service "
		    "user (uid %lu); chown it",
		    (unsigned long)st->st_uid, (unsigned long)uid);
	if ((st->st_mode & (S_IROTH | S_IWOTH)) != 0)
		return arena_printf(a,
		    "readable or writable by others (mode %04o); chmod 0600 "
		    "or 0640 it",
		    mode);
	if ((st->st_mode & S_IWGRP) != 0)
		return arena_printf(a,
		    "writable by its group (mode %04o); chmod 0600 or 0640 it",
		    mode);
	if ((st->st_mode & S_IRGRP) != 0 && st->st_gid != gid)
		return arena_printf(a,
		    "readable by group %s, which is not the service's group "
		    "%s (mode %04o); chmod 0600 it, or chgrp it to the "
		    "service's group",
		    group_name(a, st->st_gid), group_name(a, gid), mode);
	return NULL;
}

int
secret_read(struct arena *a, const char *what, const char *path, size_t max,
    unsigned char **buf_r, size_t *len_r, const char **error_r)
{
	struct stat st;
	unsigned char *buf;
	const char *why;
	size_t len = 0;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd == -1) {
		*error_r = arena_printf(
		    a, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*error_r = arena_printf(
		    a, "%s %s: not a regular file", what, path);
		goto out_close;
	}
	if ((why = secret_unsafe(a, &st)) != NULL) {
		*error_r = arena_printf(a, "%s %s: %s", what, path, why);
		goto out_close;
	}
	if (st.st_size <= 0 || (unsigned long long)st.st_size > max) {
		*error_r = arena_printf(a,
		    "%s %s: size %lld out of range 1..%zu", what, path,
		    (long long)st.st_size, max);
		goto out_close;
	}
	buf = arena_alloc(a, (size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		r = read(fd, buf + len, (size_t)st.st_size - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			*error_r = arena_printf(a, "%s %s: read: %s", what,
			    path, r == 0 ? "short read" : strerror(errno));
			goto out_close;
		}
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	*buf_r = buf;
	*len_r = len;
	return 0;
out_close:
	close(fd);
	return -1;
}
