/*
 * secret.h - files that hold secrets: DKIM private keys, Redis passwords.
 *
 * One rule for all of them, checked on the open file (fstat), so that
 * what is checked is what is read:
 *   - a regular file of 1..max bytes;
 *   - owned by root or by the service user;
 *   - not writable by its group or by others, not readable by others;
 *   - readable by its group only when that group is the service's own
 *     (the 0640 root:gatewarden layout that `gatewarden keygen` writes:
 *     root owns the key, the dropped-privilege daemon reads it through
 *     its group, and no other account can).
 * The service is who the daemon runs as: milter.user when it is set,
 * else the user running the program.  The configuration loader names it
 * (secret_set_service) before any secret is read, so `-n` as root judges
 * a file as the daemon will after it drops privileges.
 *
 * Errors are one line naming the file, the fault and the fix; a secret's
 * content never appears in one.
 *
 * Thread safety: secret_set_service() is called by the loader while no
 * other thread reads secrets; secret_read() is reentrant.
 */
#ifndef GW_SECRET_H
#define GW_SECRET_H

#include <stddef.h>
#include <sys/types.h>

struct arena;

/* secret_set_service - the uid and gid the daemon serves as */
void secret_set_service(uid_t uid, gid_t gid);
/* secret_service_gid - the gid set last (the running group by default) */
gid_t secret_service_gid(void);
/*
 * secret_read - what (e.g. "key file") at path, checked as above, into a
 * NUL-terminated buffer from a; 0, or -1 with an error from a in
 * *error_r
 */
int secret_read(struct arena *a, const char *what, const char *path, size_t max,
    unsigned char **buf_r, size_t *len_r, const char **error_r);

#endif
