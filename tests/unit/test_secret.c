/*
 * test_secret.c - the secret-file rule (filter/util/secret.h) on files of
 * every mode, owner and size, with the service set to this process's
 * user and group or to another group.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filter/util/arena.h"
#include "filter/util/secret.h"
#include "tests/unit/t.h"

static char dir[] = "/tmp/gw-test-secret.XXXXXX";

/* has - s holds needle (NULL holds nothing) */
static int
has(const char *s, const char *needle)
{
	return s != NULL && strstr(s, needle) != NULL;
}

/* nz - s, or "(null)" for messages */
static const char *
nz(const char *s)
{
	return s != NULL ? s : "(null)";
}

/* put - a file of content at dir/name with mode; its path */
static const char *
put(struct arena *a, const char *name, const char *content, mode_t mode)
{
	const char *path = arena_printf(a, "%s/%s", dir, name);
	int fd;

	(void)unlink(path); /* a 0400 one cannot be opened for writing */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

	if (fd == -1 ||
	    write(fd, content, strlen(content)) != (ssize_t)strlen(content) ||
	    fchmod(fd, mode) != 0)
		abort();
	close(fd);
	return path;
}

/* rd - secret_read of path: 0 or -1, the error or the content in *out */
static int
rd(struct arena *a, const char *path, size_t max, const char **out)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int r = secret_read(a, "key file", path, max, &buf, &len, out);

	if (r == 0) {
		*out = (const char *)buf;
		T_EQ_INT(len, strlen(*out), "length of %s", path);
	}
	return r;
}

static void
test_modes(struct arena *a)
{
	static const struct {
		mode_t mode;
		int ok;
		const char *why;
	} cases[] = {
		{ 0600, 1, NULL },
		{ 0400, 1, NULL },
		{ 0640, 1, NULL }, /* the group is the service's */
		{ 0440, 1, NULL },
		{ 0644, 0, "readable or writable by others (mode 0644)" },
		{ 0604, 0, "readable or writable by others (mode 0604)" },
		{ 0602, 0, "readable or writable by others (mode 0602)" },
		{ 0620, 0, "writable by its group (mode 0620)" },
		{ 0660, 0, "writable by its group (mode 0660)" },
	};
	const char *path, *out;
	size_t i;

	secret_set_service(geteuid(), getegid());
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		path = put(a, "k", "secret\n", cases[i].mode);
		out = NULL;
		T_EQ_INT(rd(a, path, 64, &out), cases[i].ok ? 0 : -1,
		    "mode %04o", (unsigned)cases[i].mode);
		if (cases[i].ok)
			T_EQ_STR(out, "secret\n", "content, mode %04o",
			    (unsigned)cases[i].mode);
		else
			T_CHECK(has(out, cases[i].why) && has(out, path),
			    "mode %04o: %s", (unsigned)cases[i].mode, nz(out));
	}
}

static void
test_group_owner(struct arena *a)
{
	const char *path, *out = NULL;

	/* group-readable by a group that is not the service's */
	path = put(a, "g", "pw", 0640);
	secret_set_service(geteuid(), getegid() + 1);
	T_EQ_INT(rd(a, path, 64, &out), -1, "0640, another group");
	T_CHECK(has(out, "which is not the service's group"), "other group: %s",
	    nz(out));
	T_EQ_INT(secret_service_gid(), getegid() + 1, "the service gid set");
	out = NULL;
	T_EQ_INT(rd(a, put(a, "g2", "pw", 0600), 64, &out), 0,
	    "0600 whatever the service's group");
	/* owned by neither root nor the service user (only when not root:
	 * a root-owned file is always allowed) */
	secret_set_service(geteuid() + 1, getegid());
	out = NULL;
	if (geteuid() != 0) {
		T_EQ_INT(rd(a, path, 64, &out), -1, "owned by a third user");
		T_CHECK(has(out, "which is neither root nor the service user"),
		    "owner: %s", nz(out));
	} else {
		T_EQ_INT(rd(a, path, 64, &out), 0, "root-owned: allowed");
	}
	secret_set_service(geteuid(), getegid());
}

static void
test_sizes(struct arena *a)
{
	const char *out = NULL;

	T_EQ_INT(rd(a, put(a, "e", "", 0600), 64, &out), -1, "empty");
	T_CHECK(has(out, "size 0 out of range 1..64"), "empty: %s", nz(out));
	T_EQ_INT(
	    rd(a, put(a, "b", "0123456789", 0600), 9, &out), -1, "over max");
	T_EQ_INT(
	    rd(a, put(a, "m", "0123456789", 0600), 10, &out), 0, "exactly max");
	T_EQ_STR(out, "0123456789", "content at max");
	T_EQ_INT(
	    rd(a, arena_printf(a, "%s/none", dir), 64, &out), -1, "missing");
	T_CHECK(has(out, "No such file"), "missing: %s", nz(out));
	T_EQ_INT(rd(a, dir, 64, &out), -1, "a directory");
	T_CHECK(has(out, "not a regular file"), "directory: %s", nz(out));
}

int
main(void)
{
	struct arena *a = arena_create(1 << 20);
	const char *names[] = { "k", "g", "g2", "e", "b", "m" };
	size_t i;

	if (mkdtemp(dir) == NULL)
		return 1;
	test_modes(a);
	test_group_owner(a);
	test_sizes(a);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(arena_printf(a, "%s/%s", dir, names[i]));
	rmdir(dir);
	arena_destroy(&a);
	return t_done("secret");
}
