/*
 * log - the one logging API of outguard.
 *
 * Messages go to syslog and, while in the foreground (or before the daemon
 * detaches), to stderr as "IDENT: SEVERITY: text" (IDENT is "outguard").
 * SEVERITY is debug, info, notice, warning, error or fatal; syslog gets the
 * matching LOG_* priority (fatal is LOG_CRIT), and its warning/error/fatal
 * lines start with "SEVERITY: " as Postfix's do.  Attacker-controlled
 * strings must pass through og_sanitize() before they reach a log line.
 * Thread-safe: syslog(3) and single fprintf(3) calls are atomic per line.
 * The settings below are process-wide state of this module; og_log_open is
 * called before any thread starts, the toggles may be flipped at any time.
 */
#ifndef OG_LOG_H
#define OG_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum og_severity { OG_DEBUG, OG_INFO, OG_NOTICE, OG_WARNING, OG_ERROR, OG_FATAL };

/* Start logging as IDENT (NULL: "outguard", at most 63 bytes); FACILITY is a
 * syslog facility name: mail, daemon, user, local0..local7 (any case).
 * Returns 0, or -1 (nothing changed) for an unknown facility or bad IDENT. */
int og_log_open(const char *ident, const char *facility, int to_stderr, int to_syslog);
/* Change where messages go (after daemonising, in -f mode). */
void og_log_set_stderr(int on);
void og_log_set_syslog(int on);
/* Let OG_DEBUG messages through (off by default). */
void og_log_set_debug(int on);
/* The program name used in messages ("outguard"). */
const char *og_log_ident(void);

void og_log(enum og_severity sev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void og_vlog(enum og_severity sev, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define og_debug(...)   og_log(OG_DEBUG, __VA_ARGS__)
#define og_info(...)    og_log(OG_INFO, __VA_ARGS__)
#define og_notice(...)  og_log(OG_NOTICE, __VA_ARGS__)
#define og_warning(...) og_log(OG_WARNING, __VA_ARGS__)
#define og_error(...)   og_log(OG_ERROR, __VA_ARGS__)

/*
 * Copy SRC into DST (size DSTLEN, always terminated) with control bytes,
 * DEL and non-ASCII bytes escaped as \xHH (lower-case hex) and a backslash
 * as \\, so the result is printable ASCII and unambiguous.  When it does
 * not fit, it is cut before a whole escape and ends in "..." (within
 * DSTLEN).  SRC NULL reads as "(null)"; DSTLEN 0 writes nothing.
 * Returns DST.  For log lines only; evidence keeps the raw value (JSON-escaped).
 */
char *og_sanitize(char *dst, size_t dstlen, const char *src);

#endif
