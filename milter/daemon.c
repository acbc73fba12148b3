/*
 * daemon - detach, pid file and privilege drop for outguard(8).
 *
 * Order at start (as Postfix's chroot_uid does): open the socket, the pid
 * file and the logs as root, then look the user up, setgid + initgroups,
 * setuid, and check that root cannot be regained.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

int og_daemon_detach(void)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) < 0) {
		og_error("cannot fork into the background: %m");
		return -1;
	}
	if (pid > 0)
		_exit(0);
	if (setsid() < 0) {
		og_error("cannot start a new session: %m");
		return -1;
	}
	/* A second fork: the daemon can never reacquire a controlling terminal. */
	if ((pid = fork()) < 0) {
		og_error("cannot fork into the background: %m");
		return -1;
	}
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		og_warning("cannot change directory to /: %m");
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}

int og_daemon_write_pidfile(const char *path)
{
	char tmp[PATH_MAX], line[32];
	int fd, n;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		og_error("pid file name too long: %s", path);
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		og_error("cannot create pid file %s: %m", tmp);
		return -1;
	}
	n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (write(fd, line, (size_t)n) != n || close(fd) < 0) {
		og_error("cannot write pid file %s: %m", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		og_error("cannot rename %s to %s: %m", tmp, path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int og_daemon_lookup_user(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		if (errno != 0)
			og_error("cannot look up user \"%s\": %m", user);
		else
			og_error("unknown user \"%s\" (option -u or \"user\" in the config)", user);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int og_daemon_drop_privileges(const char *user, uid_t uid, gid_t gid)
{
	if (setgid(gid) < 0) {
		og_error("cannot set group id %ld: %m", (long)gid);
		return -1;
	}
	if (initgroups(user, gid) < 0) {
		og_error("cannot set the groups of \"%s\": %m", user);
		return -1;
	}
	if (setuid(uid) < 0) {
		og_error("cannot set user id %ld: %m", (long)uid);
		return -1;
	}
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		og_error("could regain root after dropping privileges to \"%s\": refusing to run", user);
		return -1;
	}
	return 0;
}
