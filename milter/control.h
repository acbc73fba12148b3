/*
 * control - the control socket of the running daemon, for outguard-ctl(8).
 *
 * Protocol: the client connects to the unix socket, writes one request
 * line (at most OG_CONTROL_LINE_MAX bytes, ending in "\n"), reads one JSON
 * object on one line, and the server closes the connection.  Requests:
 *   status | locks | reload | show KEY | unlock KEY | lock KEY [DURATION] |
 *   allow KEY DURATION
 * DURATION: seconds, or a number with s, m, h, d or w ("90m", "2h", "7d"),
 * or "forever" (lock only).  Every reply has "ok": true or false; a refused
 * request has "ok": false and "error" saying why (unknown command, missing
 * or extra argument, bad duration, bad key, line too long, not one line).
 * A client that sends nothing, or stops mid-line, for OG_CONTROL_TIMEOUT
 * seconds is dropped.  Commands run one at a time, in the server's thread,
 * never on a mail thread.
 *
 * og_control_parse and og_control_duration are pure; og_control_handle
 * runs a request line against a runtime (admin.c); the server part opens
 * the socket (mode and group from the configuration, a stale socket file
 * replaced) and runs the accept loop in a thread of its own.
 */
#ifndef OG_CONTROL_H
#define OG_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "runtime.h"

#define OG_CONTROL_LINE_MAX 1024
#define OG_CONTROL_TIMEOUT  5

enum og_control_cmd {
	OG_CTL_STATUS, OG_CTL_LOCKS, OG_CTL_RELOAD, OG_CTL_SHOW, OG_CTL_UNLOCK, OG_CTL_LOCK,
	OG_CTL_ALLOW,
};

struct og_control_request {
	enum og_control_cmd cmd;
	char key[OG_CONTROL_LINE_MAX];     /* SHOW, UNLOCK, LOCK, ALLOW */
	int64_t duration;                  /* LOCK: 0 the rules' default, -1 forever; ALLOW: seconds */
};

/*
 * Parse one request LINE (LEN bytes, without the newline).  0 with *REQ
 * filled, or -1 with ERR saying what is wrong, for the client to show.
 */
int og_control_parse(const char *line, size_t len, struct og_control_request *req,
                     char *err, size_t errlen);

/*
 * TEXT as a duration: "90", "90s", "90m", "2h", "7d", "1w" -> seconds (1 s
 * to 365 d); "forever" -> -1.  Returns 0, or -1 if TEXT is none of these.
 */
int og_control_duration(const char *text, int64_t *seconds);

/*
 * Answer request LINE (LEN bytes) against RT at NOW_MS: a new string (one
 * line of JSON, no newline; caller frees), or NULL if out of memory.
 */
char *og_control_handle(struct og_runtime *rt, const char *line, size_t len, int64_t now_ms);

struct og_control_server;

/*
 * Open SPEC ("unix:/path") with permissions MODE (octal text) and group
 * GROUP (may be NULL) and serve it from a new thread.  NULL with ERR on
 * failure (the daemon logs it and goes on without a control socket).
 */
struct og_control_server *og_control_start(struct og_runtime *rt, const char *spec,
                                           const char *mode, const char *group,
                                           char *err, size_t errlen);
/* Stop serving, remove the socket file, free. */
void og_control_stop(struct og_control_server *s);

#endif
