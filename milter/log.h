/*
 * log - the one logging API of outguard.
 *
 * Messages go to syslog and, while in the foreground (or before the daemon
 * detaches), to stderr as "outguard: SEVERITY: text".  Attacker-controlled
 * strings must pass through og_sanitize() before they reach a log line.
 * Thread-safe: syslog(3) and single fprintf(3) calls are atomic per line.
 */
#ifndef OG_LOG_H
#define OG_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum og_severity { OG_DEBUG, OG_INFO, OG_NOTICE, OG_WARNING, OG_ERROR, OG_FATAL };

/* Start logging as IDENT; FACILITY is a syslog facility name ("mail"). */
int og_log_open(const char *ident, const char *facility, int to_stderr, int to_syslog);
/* Change where messages go (after daemonising, in -f mode). */
void og_log_set_stderr(int on);
void og_log_set_syslog(int on);
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
 * Copy SRC into DST (size DSTLEN, always terminated) with control bytes and
 * non-ASCII bytes escaped as \xHH, cut at DSTLEN with "..." appended.
 * Returns DST.  For log lines only; evidence keeps the raw value (JSON-escaped).
 */
char *og_sanitize(char *dst, size_t dstlen, const char *src);

#endif
