/*
 * hook - run the admin's notification command on events (an account
 * locked, a message quarantined), without ever holding up mail.
 *
 * Events are queued (at most OG_HOOK_QUEUE waiting) and run by a thread of
 * the hook's own: the command is executed directly (execve, never a
 * shell) with the event's JSON on its standard input, a small fixed
 * environment (PATH, plus OUTGUARD_EVENT and the caller's OUTGUARD_*
 * variables), standard output and error sent to /dev/null, the default
 * signal mask and dispositions, and its own process group.  At most
 * max_running commands run at once; one that runs longer than timeout
 * seconds is killed (SIGTERM, then SIGKILL two seconds later).  A full
 * queue drops the event.  Every outcome is counted and logged (og_log):
 * started, exited non-zero or by a signal, timed out, could not start,
 * dropped.  Nothing here blocks the caller beyond a mutex and a copy.
 * Pure: knows nothing of libmilter.
 */
#ifndef OG_HOOK_H
#define OG_HOOK_H

#include <stddef.h>
#include <stdint.h>

#define OG_HOOK_QUEUE 64

struct og_hook_config {
	char *const *argv;        /* the command and its arguments; argv[0] an absolute path */
	size_t argc;
	unsigned timeout;         /* seconds, 1 .. 3600 */
	unsigned max_running;     /* 1 .. 64 */
};

struct og_hook_stats {
	uint64_t queued;          /* events accepted into the queue */
	uint64_t started;         /* commands started */
	uint64_t succeeded;       /* exited 0 */
	uint64_t failed;          /* exited non-zero, or killed by a signal other than ours */
	uint64_t timed_out;       /* killed for running too long */
	uint64_t spawn_errors;    /* could not be started */
	uint64_t dropped;         /* not queued: queue full, or out of memory */
};

struct og_hook;

/* Start the hook thread with a copy of CFG.  NULL if out of memory or the thread cannot start. */
struct og_hook *og_hook_start(const struct og_hook_config *cfg);

/* Use CFG (copied) for the events started from now on.  0, or -1 if out of memory (old kept). */
int og_hook_reconfigure(struct og_hook *h, const struct og_hook_config *cfg);

/*
 * Queue one event named EVENT ("lock", "unlock", "quarantine") with ENV, a
 * NULL-terminated list of "OUTGUARD_NAME=value" strings (may be NULL), and
 * STDIN_TEXT (the JSON, a newline is added).  All are copied.  Returns 0, or
 * -1 if the event was dropped (counted and logged).
 */
int og_hook_submit(struct og_hook *h, const char *event, const char *const *env,
                   const char *stdin_text);

void og_hook_stats(struct og_hook *h, struct og_hook_stats *out);

/*
 * Stop the thread: events still queued are dropped (and counted), running
 * commands get until their timeout, then are killed.  Frees H.
 */
void og_hook_stop(struct og_hook *h);

#endif
