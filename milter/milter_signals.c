/*
 * milter_signals - keep libmilter's signal thread away from our signals.
 *
 * smfi_main starts a thread that waits with sigwait(3) for SIGHUP, SIGTERM
 * and SIGINT and stops the filter on the first of them.  outguard's main
 * thread handles those signals itself (SIGHUP reloads), but a signal sent
 * to the process goes to whichever thread is waiting for it: while the
 * main thread was busy reloading, the next SIGHUP of a burst reached
 * libmilter's thread and stopped the filter, and all mail with it.
 *
 * This definition of sigwait takes the place of the C library's for
 * libmilter (the executable's symbol comes first for the shared library
 * too).  It waits as sigwait does, never for those three signals: they
 * stay blocked in libmilter's thread, which then sleeps for good, and only
 * the main thread (which waits with sigwaitinfo, not with this) takes them.
 * t/signals.sh proves it with bursts of SIGHUP under load.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>

int sigwait(const sigset_t *set, int *sig)
{
	sigset_t wanted = *set;
	int s;

	sigdelset(&wanted, SIGHUP);
	sigdelset(&wanted, SIGTERM);
	sigdelset(&wanted, SIGINT);
	do
		s = sigwaitinfo(&wanted, NULL);
	while (s < 0 && errno == EINTR);
	if (s < 0)
		return errno;
	*sig = s;
	return 0;
}
