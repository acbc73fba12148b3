/*
 * daemon - becoming a well-behaved system daemon: detach, pid file,
 * dropping privileges.  Each function logs its own failure (with %m) and
 * returns -1; main decides to exit.
 */
#ifndef OG_DAEMON_H
#define OG_DAEMON_H

#include <sys/types.h>

/* Fork into the background, start a new session, point stdio at /dev/null. */
int og_daemon_detach(void);
/* Write our pid to PATH (created 0644, replaced atomically). */
int og_daemon_write_pidfile(const char *path);
/* Look up USER: fills UID/GID. */
int og_daemon_lookup_user(const char *user, uid_t *uid, gid_t *gid);
/* setgid + initgroups + setuid to USER, in that order; verifies root is gone. */
int og_daemon_drop_privileges(const char *user, uid_t uid, gid_t gid);

#endif
