/*
 * log - the one logging API of outguard (after Postfix msg(3)).
 *
 * A message goes to stderr as "IDENT: SEVERITY: text" (one fputs per line,
 * so lines from libmilter's threads do not interleave) and to syslog with
 * the matching priority.  In syslog, warning/error/fatal lines carry the
 * same "SEVERITY: " prefix as Postfix's, so `grep warning: mail.log` works;
 * info and notice lines are bare because syslog already stamps them.
 * Debug messages are dropped unless og_log_set_debug(1).
 *
 * og_sanitize makes attacker-controlled text safe for a log line.
 *
 * Errors: og_log_open returns -1 for an unknown facility or an unusable
 * ident; logging itself never fails (a line too long for memory is cut).
 * See also: log.h, syslog(3).
 */
#include "log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

/* Lines up to this size are formatted without touching the heap. */
#define LOG_STACK_LINE 1024
/* Longest ident kept; openlog(3) keeps a pointer, so it needs static storage. */
#define LOG_IDENT_MAX 64

/*
 * Process-wide logging state (log.h: one logging API).  The ident and
 * facility are written only by og_log_open, which runs before libmilter
 * starts threads; the toggles are atomics because signal handlers and
 * threads may flip or read them at any time.
 */
static char log_ident[LOG_IDENT_MAX] = "outguard";
static atomic_int log_to_stderr = 1;
static atomic_int log_to_syslog = 0;
static atomic_int log_debug = 0;

static const struct {
	const char *name;
	int facility;
} facilities[] = {
	{ "mail", LOG_MAIL },
	{ "daemon", LOG_DAEMON },
	{ "user", LOG_USER },
	{ "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
};

static const struct {
	const char *name;
	int priority;
	int syslog_prefix;      /* repeat "name: " inside the syslog line */
} severities[] = {
	[OG_DEBUG] = { "debug", LOG_DEBUG, 0 },
	[OG_INFO] = { "info", LOG_INFO, 0 },
	[OG_NOTICE] = { "notice", LOG_NOTICE, 0 },
	[OG_WARNING] = { "warning", LOG_WARNING, 1 },
	[OG_ERROR] = { "error", LOG_ERR, 1 },
	[OG_FATAL] = { "fatal", LOG_CRIT, 1 },
};

/* Facility names are matched case-insensitively ("MAIL" works too). */
int og_log_open(const char *ident, const char *facility, int to_stderr, int to_syslog)
{
	int fac = -1;
	size_t len;

	if (facility == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcasecmp(facility, facilities[i].name) == 0)
			fac = facilities[i].facility;
	if (fac < 0)
		return -1;
	if (ident == NULL)
		ident = "outguard";
	len = strlen(ident);
	if (len == 0 || len >= sizeof(log_ident))
		return -1;
	if (strcmp(log_ident, ident) != 0)
		memcpy(log_ident, ident, len + 1);
	/* NDELAY: connect now, before a chroot hides /dev/log. */
	openlog(log_ident, LOG_PID | LOG_NDELAY, fac);
	atomic_store(&log_to_stderr, to_stderr != 0);
	atomic_store(&log_to_syslog, to_syslog != 0);
	return 0;
}

void og_log_set_stderr(int on)
{
	atomic_store(&log_to_stderr, on != 0);
}

void og_log_set_syslog(int on)
{
	atomic_store(&log_to_syslog, on != 0);
}

void og_log_set_debug(int on)
{
	atomic_store(&log_debug, on != 0);
}

const char *og_log_ident(void)
{
	return log_ident;
}

void og_log(enum og_severity sev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	og_vlog(sev, fmt, ap);
	va_end(ap);
}

/*
 * Format once into a stack buffer; only a longer line costs a malloc, and
 * if that fails the line is cut rather than lost.  errno is preserved so a
 * caller can log and then still report errno.
 */
void og_vlog(enum og_severity sev, const char *fmt, va_list ap)
{
	char stack[LOG_STACK_LINE];
	char *text = stack, *heap = NULL;
	int saved = errno, n, to_err, to_sys;
	va_list ap2;

	if ((unsigned)sev > OG_FATAL)
		sev = OG_ERROR;
	if (sev == OG_DEBUG && !atomic_load(&log_debug))
		return;
	to_err = atomic_load(&log_to_stderr);
	to_sys = atomic_load(&log_to_syslog);
	if (!to_err && !to_sys)
		return;
	if (fmt == NULL)
		fmt = "(null)";

	va_copy(ap2, ap);
	n = vsnprintf(stack, sizeof(stack), fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		snprintf(stack, sizeof(stack), "(unformattable message: %s)", fmt);
	} else if ((size_t)n >= sizeof(stack)) {
		heap = malloc((size_t)n + 1);
		if (heap != NULL) {
			va_copy(ap2, ap);
			vsnprintf(heap, (size_t)n + 1, fmt, ap2);
			va_end(ap2);
			text = heap;
		} else {
			memcpy(stack + sizeof(stack) - 4, "...", 4);
		}
	}

	if (to_err) {
		/* One call per line: stdio locks the stream for its duration. */
		fprintf(stderr, "%s: %s: %s\n", log_ident, severities[sev].name, text);
		fflush(stderr);
	}
	if (to_sys) {
		if (severities[sev].syslog_prefix)
			syslog(severities[sev].priority, "%s: %s", severities[sev].name, text);
		else
			syslog(severities[sev].priority, "%s", text);
	}
	free(heap);
	errno = saved;
}

/* Bytes one source byte takes once escaped. */
static size_t escaped_len(unsigned char c)
{
	if (c == '\\')
		return 2;
	if (c < 0x20 || c == 0x7f || c >= 0x80)
		return 4;
	return 1;
}

/* Write the escaped form of C at P (room already checked). */
static void put_escaped(char *p, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	switch (escaped_len(c)) {
	case 1:
		p[0] = (char)c;
		break;
	case 2:
		p[0] = '\\';
		p[1] = '\\';
		break;
	default:
		p[0] = '\\';
		p[1] = 'x';
		p[2] = hex[c >> 4];
		p[3] = hex[c & 0x0f];
		break;
	}
}

/*
 * Escapes are never split: when the rest does not fit, output goes back to
 * the last whole escape that leaves room for "...".  With DSTLEN < 4 only
 * the part of "..." that fits is written, so a cut is still visible.
 */
char *og_sanitize(char *dst, size_t dstlen, const char *src)
{
	const unsigned char *s;
	size_t room, pos = 0, mark = 0;

	if (dst == NULL || dstlen == 0)
		return dst;
	if (src == NULL)
		src = "(null)";
	room = dstlen - 1;
	for (s = (const unsigned char *)src; *s != '\0'; s++) {
		size_t w = escaped_len(*s);

		if (w > room - pos) {
			size_t dots = room < 3 ? room : 3;

			pos = room < 3 ? 0 : mark;
			memcpy(dst + pos, "...", dots);
			dst[pos + dots] = '\0';
			return dst;
		}
		put_escaped(dst + pos, *s);
		pos += w;
		if (room >= 3 && pos <= room - 3)
			mark = pos;
	}
	dst[pos] = '\0';
	return dst;
}
