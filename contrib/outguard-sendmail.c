/*
 * outguard-sendmail - sendmail(1) front end that stamps local submissions.
 *
 * Set as PHP's sendmail_path (or put before /usr/sbin/sendmail for any local
 * program).  It adds one header to the top of the message,
 *   X-Outguard-Submitter: uid=1001; user=web1; cwd=/var/www/site1/htdocs
 * with the caller's real uid, login name and working directory (the web
 * site's folder), and passes the message and every argument on to the real
 * sendmail, whose exit status it returns.  Postfix never shows milters its
 * own "from userid N" Received header, so this stamp is how outguard(8)
 * knows which local user submitted a message.  outguard trusts the stamp
 * only on local submissions and removes it before the message leaves.
 *
 * Modes other than submitting a message (-bp, -bs, -bv, -I ...) are passed
 * to sendmail untouched.  See outguard-sendmail(8).
 */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef OG_REAL_SENDMAIL
#define OG_REAL_SENDMAIL "/usr/sbin/sendmail"
#endif
#define STAMP_HEADER "X-Outguard-Submitter"
#define CWD_MAX 800     /* keeps the header line under RFC 5322's 998 bytes */
/* Set before exec: if it is already set, the "real" sendmail is this wrapper again. */
#define LOOP_MARK "OUTGUARD_SENDMAIL_ACTIVE"

static const char *real_sendmail(void)
{
	const char *env = getenv("OUTGUARD_SENDMAIL");

	/* The override only serves tests and odd layouts: the wrapper has no privilege to lend. */
	return env != NULL && env[0] == '/' ? env : OG_REAL_SENDMAIL;
}

/* Does the command line submit a message (no -b mode, or -bm)? */
static int submits_message(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strncmp(argv[i], "-b", 2) == 0 && strcmp(argv[i], "-bm") != 0)
			return 0;
		if (strcmp(argv[i], "-I") == 0 || strcmp(argv[i], "-q") == 0 ||
		    strncmp(argv[i], "-q", 2) == 0)
			return 0;
	}
	return 1;
}

/* Replace bytes that would break a header line (CR, LF, other controls) with '?'. */
static void make_printable(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The stamp header line, terminated by \n. */
static void build_stamp(char *line, size_t len)
{
	uid_t uid = getuid();
	struct passwd *pw = getpwuid(uid);
	char user[64] = "", cwd[CWD_MAX + 1];

	if (pw != NULL)
		snprintf(user, sizeof(user), "%s", pw->pw_name);
	make_printable(user);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		snprintf(cwd, sizeof(cwd), "%s", errno == ERANGE ? "(too long)" : "(unknown)");
	make_printable(cwd);
	if (user[0] != '\0')
		snprintf(line, len, "%s: uid=%ld; user=%s; cwd=%s\n", STAMP_HEADER, (long)uid, user, cwd);
	else
		snprintf(line, len, "%s: uid=%ld; cwd=%s\n", STAMP_HEADER, (long)uid, cwd);
}

/*
 * Copy stdin to FD with the stamp in front.  A leading mbox "From " line
 * stays first, as sendmail expects it there.
 */
static int copy_with_stamp(int fd)
{
	char stamp[1024], buf[65536];
	ssize_t n;
	size_t have = 0;
	int stamped = 0;

	build_stamp(stamp, sizeof(stamp));
	while ((n = read(STDIN_FILENO, buf + have, sizeof(buf) - have)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		have += (size_t)n;
		if (!stamped) {
			char *nl = memchr(buf, '\n', have);

			/* Need the first line to decide; wait for it unless the buffer is full. */
			if (nl == NULL && have < 5 && have < sizeof(buf))
				continue;
			if (have >= 5 && memcmp(buf, "From ", 5) == 0) {
				if (nl == NULL && have < sizeof(buf))
					continue;
				size_t first = nl != NULL ? (size_t)(nl - buf) + 1 : have;
				if (write_all(fd, buf, first) < 0)
					return -1;
				memmove(buf, buf + first, have - first);
				have -= first;
			}
			if (write_all(fd, stamp, strlen(stamp)) < 0)
				return -1;
			stamped = 1;
		}
		if (write_all(fd, buf, have) < 0)
			return -1;
		have = 0;
	}
	if (!stamped && write_all(fd, stamp, strlen(stamp)) < 0)
		return -1;
	return write_all(fd, buf, have);
}

int main(int argc, char **argv)
{
	const char *sendmail = real_sendmail();
	int pipefd[2];
	pid_t pid;

	argv[0] = (char *)"sendmail";
	if (getenv(LOOP_MARK) != NULL) {
		fprintf(stderr, "outguard-sendmail: %s leads back to outguard-sendmail; "
		        "point OUTGUARD_SENDMAIL at the MTA's sendmail\n", sendmail);
		return 75;
	}
	if (setenv(LOOP_MARK, "1", 1) < 0) {
		fprintf(stderr, "outguard-sendmail: cannot set %s: %s\n", LOOP_MARK, strerror(errno));
		return 75;
	}
	if (!submits_message(argc, argv)) {
		execv(sendmail, argv);
		fprintf(stderr, "outguard-sendmail: cannot run %s: %s\n", sendmail, strerror(errno));
		return 75;      /* EX_TEMPFAIL: the caller may retry */
	}
	if (pipe(pipefd) < 0) {
		fprintf(stderr, "outguard-sendmail: cannot create a pipe: %s\n", strerror(errno));
		return 75;
	}
	/* A grandchild copies the message, so init reaps it and it never lingers
	   as a zombie under sendmail; this process becomes sendmail, so the
	   caller sees sendmail's own exit status. */
	if ((pid = fork()) < 0) {
		fprintf(stderr, "outguard-sendmail: cannot fork: %s\n", strerror(errno));
		return 75;
	}
	if (pid == 0) {
		pid_t sendmail_pid = getppid();

		/* If this second fork fails, copy from here: a zombie beats a lost message. */
		if (fork() > 0)
			_exit(0);
		close(pipefd[0]);
		signal(SIGPIPE, SIG_IGN);
		if (copy_with_stamp(pipefd[1]) < 0) {
			/* A cut message must not be sent as if whole: stop sendmail. */
			kill(sendmail_pid, SIGTERM);
			_exit(1);
		}
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	close(pipefd[1]);
	if (dup2(pipefd[0], STDIN_FILENO) < 0) {
		fprintf(stderr, "outguard-sendmail: cannot redirect input: %s\n", strerror(errno));
		return 75;
	}
	close(pipefd[0]);
	execv(sendmail, argv);
	fprintf(stderr, "outguard-sendmail: cannot run %s: %s\n", sendmail, strerror(errno));
	return 75;
}
