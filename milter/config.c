/*
 * config - load the main configuration file (outguard.conf(5)).
 *
 * The file is one JSON object, read whole (at most 1 MiB) and parsed by
 * jansson with duplicate keys rejected.  The options[] table below has one
 * row per option: name (nested ones as "scope.local"), type, default (as
 * JSON text, applied through the same checks as the file's values), range,
 * whether a reload may change it, and a line of doc.  Loading, defaults,
 * freeing, the list of names and the reload comparison all walk that table.
 * Relative paths are resolved against the real directory of the config file.
 *
 * Errors, each added to an og_diag as "FILE:LINE:COLUMN: text", all of them
 * (up to 100, see jsondoc.h) in one run:
 *   FILE: cannot read: REASON
 *   FILE: file is too large (N bytes): expected at most 1048576 bytes (1 MiB)
 *   FILE:1:1: empty file: expected a JSON object
 *   FILE:L:C: <jansson's text>                      (syntax, duplicate keys)
 *   FILE:L:C: unknown option "KEY"[; did you mean "NAME"?]   (at the key)
 *   FILE:L:C: OPTION: wrong type: DESCRIPTION: expected TYPE
 *   FILE:L:C: OPTION: N is out of range: expected MIN to MAX
 *   FILE:L:C: OPTION: unknown value "X": expected "a" or "b"
 *   FILE:L:C: socket: "X" is not a milter socket: expected ...
 *   FILE:L:C: scope.trusted_networks[I]: "X" is not a network: REASON
 * Values from the file are quoted with non-printable bytes escaped and long
 * values shortened, so every message is safe to log.
 *
 * Locks: none.  A loaded config is immutable; the runtime shares it between
 * threads by reference to the policy holding it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>

#include "config.h"
#include "redis.h"
#include "jsondoc.h"
#include "strutil.h"

#ifndef OG_SYSCONFDIR
#define OG_SYSCONFDIR "/etc"
#endif

#define QUOTE_MAX       64                  /* bytes of an offending value shown */
#define QBUF            OG_JSONDOC_QBUF(QUOTE_MAX)
#define DBUF            OG_JSONDOC_DBUF(QUOTE_MAX)
#define PATH_DEPTH      4                   /* parts of an option name, one spare */
#define SUGGEST_MAX     2                   /* edit distance of a "did you mean" */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct og_jsondoc_kind config_kind = {
	.max_size = (size_t)1 << 20,
	.max_text = "1 MiB",
	.empty_text = "empty file: expected a JSON object",
	.nul_text = "\\u0000 (a NUL character) is not allowed in a string",
};

enum opt_type {
	T_STRING,       /* text; with `names`, one of them */
	T_PATH,         /* file name, made absolute */
	T_ENUM,         /* one of `names`, stored as its index */
	T_BOOL,
	T_UINT,         /* integer in [min, max] */
	T_CIDR_LIST,    /* array of networks */
	T_STRING_LIST,  /* array of non-empty strings */
};

struct loader;

struct option {
	const char *name;            /* as written in the file; "section.option" when nested */
	enum opt_type type;
	const char *dflt;            /* default, as JSON text */
	uint64_t min, max;           /* T_UINT */
	const char *const *names;    /* T_ENUM, T_STRING: accepted values, NULL-terminated */
	bool nullable;               /* JSON null means "none" (stored as NULL) */
	bool reloadable;             /* a reload may change it */
	/* extra test of a T_STRING value or of each T_STRING_LIST element (the
	   first one by check_first when set); false if it reported a problem */
	bool (*check)(struct loader *L, const char *value);
	bool (*check_first)(struct loader *L, const char *value);
	size_t off, size;            /* the field in struct og_config */
	size_t off_n;                /* lists: the size_t count beside it */
	const char *doc;
};

#define FIELD(m) .off = offsetof(struct og_config, m), .size = sizeof(((struct og_config *)NULL)->m)
#define LIST(m, n) FIELD(m), .off_n = offsetof(struct og_config, n)

/* The enums are stored as unsigned integers of their size (see put_uint). */
_Static_assert(sizeof(enum og_fail_policy) == sizeof(unsigned), "enum size");
_Static_assert(sizeof(enum og_evidence_mode) == sizeof(unsigned), "enum size");
_Static_assert(sizeof(enum og_state_backend) == sizeof(unsigned), "enum size");

static const char *const evidence_modes[] = { "all", "flagged", NULL };      /* enum og_evidence_mode */
static const char *const fail_policies[] = { "tempfail", "accept", NULL };  /* enum og_fail_policy */
static const char *const backends[] = { "memory", "redis", NULL };          /* enum og_state_backend */
static const char *const facilities[] = {
	"mail", "daemon", "user", "local0", "local1", "local2", "local3",
	"local4", "local5", "local6", "local7", NULL,
};

static bool check_socket(struct loader *L, const char *value);
static bool check_control_socket(struct loader *L, const char *value);
static bool check_mode(struct loader *L, const char *value);
static bool check_program(struct loader *L, const char *value);
static bool check_hook_event(struct loader *L, const char *value);
static bool check_no_newline(struct loader *L, const char *value);
static bool check_redis_server(struct loader *L, const char *value);
static bool check_redis_prefix(struct loader *L, const char *value);

/* ---- the options, one row each ---- */

static const struct option options[] = {
	{ .name = "socket", .type = T_STRING, .check = check_socket,
	  .dflt = "\"unix:/run/outguard/outguard.sock\"", FIELD(socket),
	  .doc = "where libmilter listens: unix:/path, inet:PORT@HOST or inet6:PORT@HOST" },
	{ .name = "rules", .type = T_PATH, .reloadable = true,
	  .dflt = "\"" OG_SYSCONFDIR "/outguard/rules.json\"", FIELD(rules),
	  .doc = "the rules file, see outguard.rules(5)" },
	{ .name = "evidence_file", .type = T_PATH, .nullable = true, .reloadable = true,
	  .dflt = "\"/var/log/outguard/evidence.jsonl\"", FIELD(evidence_file),
	  .doc = "JSON Lines evidence records; null for none" },
	{ .name = "evidence_log", .type = T_ENUM, .names = evidence_modes, .reloadable = true,
	  .dflt = "\"all\"", FIELD(evidence_mode),
	  .doc = "which judged messages get a record: all, or flagged (score above 0 or an action)" },
	{ .name = "pid_file", .type = T_PATH, .nullable = true,
	  .dflt = "null", FIELD(pid_file),
	  .doc = "file the daemon writes its process id to; null for none" },
	{ .name = "user", .type = T_STRING, .nullable = true,
	  .dflt = "null", FIELD(user),
	  .doc = "user to run as after opening the socket; null to stay" },
	{ .name = "syslog_facility", .type = T_STRING, .names = facilities,
	  .dflt = "\"mail\"", FIELD(syslog_facility),
	  .doc = "syslog facility of the log lines" },
	{ .name = "on_error", .type = T_ENUM, .names = fail_policies, .reloadable = true,
	  .dflt = "\"tempfail\"", FIELD(on_error),
	  .doc = "what an internal error does to the message: tempfail or accept" },
	{ .name = "max_tracked_keys", .type = T_UINT, .min = 1000, .max = 100000000,
	  .dflt = "8000000", FIELD(max_tracked_keys),
	  .doc = "rate counters held in memory at most (about 20 bytes each)" },
	{ .name = "milter_timeout", .type = T_UINT, .min = 1, .max = 3600,
	  .dflt = "300", FIELD(milter_timeout),
	  .doc = "seconds libmilter waits for the MTA" },
	{ .name = "state_file", .type = T_PATH, .nullable = true,
	  .dflt = "\"/var/lib/outguard/state.json\"", FIELD(state_file),
	  .doc = "where locks and allows are kept across restarts; null to keep them in memory only" },
	{ .name = "control.socket", .type = T_STRING, .nullable = true, .check = check_control_socket,
	  .dflt = "null", FIELD(control_socket),
	  .doc = "unix socket of outguard-ctl, unix:/path; null for none" },
	{ .name = "control.mode", .type = T_STRING, .check = check_mode,
	  .dflt = "\"0660\"", FIELD(control_mode),
	  .doc = "permissions of the control socket, in octal" },
	{ .name = "control.group", .type = T_STRING, .nullable = true,
	  .dflt = "null", FIELD(control_group),
	  .doc = "group owning the control socket (its members may use outguard-ctl); null: root's" },
	{ .name = "hook.command", .type = T_STRING_LIST, .reloadable = true,
	  .check = check_no_newline, .check_first = check_program,
	  .dflt = "[]", LIST(hook_command, hook_argc),
	  .doc = "program and arguments run on events, the event's JSON on its input; [] for none" },
	{ .name = "hook.events", .type = T_STRING_LIST, .reloadable = true, .check = check_hook_event,
	  .dflt = "[\"lock\"]", LIST(hook_events, n_hook_events),
	  .doc = "events that run the hook: lock, unlock, quarantine" },
	{ .name = "hook.timeout", .type = T_UINT, .min = 1, .max = 3600, .reloadable = true,
	  .dflt = "30", FIELD(hook_timeout),
	  .doc = "seconds a hook may run before it is killed" },
	{ .name = "hook.max_running", .type = T_UINT, .min = 1, .max = 64, .reloadable = true,
	  .dflt = "2", FIELD(hook_max_running),
	  .doc = "hooks running at once at most; more events wait, 64 at most" },
	{ .name = "hook.quiet", .type = T_UINT, .min = 60, .max = 604800, .reloadable = true,
	  .dflt = "3600", FIELD(hook_quiet),
	  .doc = "seconds after a notification about an account in which its quarantines send none" },
	{ .name = "state_backend", .type = T_ENUM, .names = backends,
	  .dflt = "\"memory\"", FIELD(state_backend),
	  .doc = "where rate counts and locks are shared: memory (this server only) or redis" },
	{ .name = "redis.server", .type = T_STRING, .check = check_redis_server,
	  .dflt = "\"127.0.0.1:6379\"", FIELD(redis.server),
	  .doc = "the Redis server: HOST:PORT, [IPV6]:PORT, or a unix socket /path" },
	{ .name = "redis.database", .type = T_UINT, .min = 0, .max = 100000,
	  .dflt = "0", FIELD(redis.database),
	  .doc = "Redis database number (SELECT)" },
	{ .name = "redis.prefix", .type = T_STRING, .check = check_redis_prefix,
	  .dflt = "\"outguard:\"", FIELD(redis.prefix),
	  .doc = "prefix of every Redis key outguard writes; servers that share counts share it" },
	{ .name = "redis.user", .type = T_STRING, .nullable = true, .check = check_no_newline,
	  .dflt = "null", FIELD(redis.user),
	  .doc = "Redis ACL user; null for the default user" },
	{ .name = "redis.password_file", .type = T_PATH, .nullable = true,
	  .dflt = "null", FIELD(redis.password_file),
	  .doc = "file holding the Redis password (first line), read at start; null for no AUTH" },
	{ .name = "redis.connect_timeout_ms", .type = T_UINT, .min = 1, .max = 10000,
	  .dflt = "50", FIELD(redis.connect_timeout_ms),
	  .doc = "milliseconds a connection to Redis may take before outguard counts locally" },
	{ .name = "redis.command_timeout_ms", .type = T_UINT, .min = 1, .max = 10000,
	  .dflt = "50", FIELD(redis.command_timeout_ms),
	  .doc = "milliseconds Redis may take to answer before outguard counts locally" },
	{ .name = "scope.authenticated", .type = T_BOOL, .reloadable = true,
	  .dflt = "true", FIELD(scope.authenticated),
	  .doc = "SASL-authenticated mail is outbound" },
	{ .name = "scope.local", .type = T_BOOL, .reloadable = true,
	  .dflt = "true", FIELD(scope.local),
	  .doc = "local submissions (sendmail, pickup) are outbound" },
	{ .name = "scope.trusted_networks", .type = T_CIDR_LIST, .reloadable = true,
	  .dflt = "[]", LIST(scope.trusted_networks, scope.n_trusted_networks),
	  .doc = "mail from these client networks is outbound" },
	{ .name = "scope.originating_daemons", .type = T_STRING_LIST, .reloadable = true,
	  .dflt = "[\"ORIGINATING\"]", LIST(scope.originating_daemons, scope.n_originating_daemons),
	  .doc = "mail through a daemon of one of these {daemon_name}s is outbound" },
};

/* ---- field access ---- */

static void *field(const struct og_config *c, const struct option *o)
{
	return (char *)c + o->off;
}

static size_t *field_n(const struct og_config *c, const struct option *o)
{
	return (size_t *)(void *)((char *)c + o->off_n);
}

/* Store V in an unsigned integer field of SIZE bytes (enums included). */
static void put_uint(void *p, size_t size, uint64_t v)
{
	if (size == sizeof(uint64_t)) {
		uint64_t x = v;
		memcpy(p, &x, sizeof(x));
	} else if (size == sizeof(uint32_t)) {
		uint32_t x = (uint32_t)v;
		memcpy(p, &x, sizeof(x));
	} else if (size == sizeof(uint16_t)) {
		uint16_t x = (uint16_t)v;
		memcpy(p, &x, sizeof(x));
	}
}

static uint64_t get_uint(const void *p, size_t size)
{
	if (size == sizeof(uint64_t)) {
		uint64_t x;
		memcpy(&x, p, sizeof(x));
		return x;
	}
	if (size == sizeof(uint32_t)) {
		uint32_t x;
		memcpy(&x, p, sizeof(x));
		return x;
	}
	if (size == sizeof(uint16_t)) {
		uint16_t x;
		memcpy(&x, p, sizeof(x));
		return x;
	}
	return 0;
}

static void free_strings(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Free the value of option O in C and clear it. */
static void clear_value(struct og_config *c, const struct option *o)
{
	switch (o->type) {
	case T_STRING:
	case T_PATH: {
		char **s = field(c, o);

		free(*s);
		*s = NULL;
		break;
	}
	case T_CIDR_LIST: {
		struct og_cidr **l = field(c, o);

		free(*l);
		*l = NULL;
		*field_n(c, o) = 0;
		break;
	}
	case T_STRING_LIST: {
		char ***l = field(c, o);

		free_strings(*l, *field_n(c, o));
		*l = NULL;
		*field_n(c, o) = 0;
		break;
	}
	case T_ENUM:
	case T_BOOL:
	case T_UINT:
		break;
	}
}

void og_config_free(struct og_config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < COUNT(options); i++)
		clear_value(c, &options[i]);
	free(c->path);
	free(c);
}

/* ---- checking state and messages ---- */

struct loader {
	struct og_jsondoc doc;            /* path, errors; no text while applying defaults */
	const char *dir;                  /* real directory of the file, found when needed */
	char *dir_buf;
	bool dir_failed;
	struct og_config *c;
};

/*
 * Report a problem.  With NAMED the message starts with the current path
 * ("socket: ..."); with AT_KEY the position is that of the last key rather
 * than its value.
 */
static void complain(struct loader *L, bool named, bool at_key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void complain(struct loader *L, bool named, bool at_key, const char *fmt, ...)
{
	char where[128], what[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (named && L->doc.depth > 0) {
		og_jsondoc_path_text(&L->doc, L->doc.depth, where, sizeof(where));
		og_jsondoc_report(&L->doc, at_key, "%s: %s", where, what);
	} else {
		og_jsondoc_report(&L->doc, at_key, "%s", what);
	}
}

static void wrong_type(struct loader *L, const json_t *v, const char *expected)
{
	char d[DBUF];

	og_jsondoc_describe(v, QUOTE_MAX, d, sizeof(d));
	complain(L, true, false, "wrong type: %s: expected %s", d, expected);
}

/* "\"a\", \"b\" or \"c\"" for the NULL-terminated NAMES. */
static void name_list(const char *const *names, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; names[i] != NULL && off < size; i++) {
		int w = snprintf(buf + off, size - off, "%s\"%s\"",
		                 i == 0 ? "" : names[i + 1] == NULL ? " or " : ", ", names[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

/* Index of S (LEN bytes) in NAMES, or -1. */
static int name_index(const char *const *names, const char *s, size_t len)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
			return i;
	return -1;
}

/* The type an option wants, for "expected ..." in messages. */
static void expected_text(const struct option *o, char *buf, size_t size)
{
	char names[256];

	switch (o->type) {
	case T_STRING:
		if (o->names != NULL) {
			name_list(o->names, names, sizeof(names));
			snprintf(buf, size, "%s", names);
		} else {
			snprintf(buf, size, "a string%s", o->nullable ? " or null" : "");
		}
		return;
	case T_PATH:
		snprintf(buf, size, "a file name (string)%s", o->nullable ? " or null" : "");
		return;
	case T_ENUM:
		name_list(o->names, buf, size);
		return;
	case T_BOOL:
		snprintf(buf, size, "true or false");
		return;
	case T_UINT:
		snprintf(buf, size, "an integer from %" PRIu64 " to %" PRIu64, o->min, o->max);
		return;
	case T_CIDR_LIST:
		snprintf(buf, size, "an array of networks such as \"192.0.2.0/24\"");
		return;
	case T_STRING_LIST:
		snprintf(buf, size, "an array of strings");
		return;
	}
	buf[0] = '\0';
}

/* ---- values ---- */

/*
 * check_socket: the libmilter connection spec.  "unix:/path" or
 * "local:/path" (absolute, so it does not depend on the daemon's working
 * directory), "inet:PORT", "inet:PORT@HOST", the same with inet6.
 */
static bool check_control_socket(struct loader *L, const char *value)
{
	char q[QBUF];

	og_jsondoc_quote(value, strlen(value), QUOTE_MAX, q, sizeof(q));
	if (strncmp(value, "unix:", 5) != 0 || value[5] != '/') {
		complain(L, true, false, "%s is not a control socket: expected unix:/path", q);
		return false;
	}
	if (strlen(value + 5) >= 108) {
		complain(L, true, false, "%s: the path is too long for a unix socket: expected at most "
		         "107 bytes", q);
		return false;
	}
	return true;
}

static bool check_mode(struct loader *L, const char *value)
{
	char q[QBUF], *end;
	unsigned long m = strtoul(value, &end, 8);

	if (*value < '0' || *value > '7' || *end != '\0' || m > 0777 || strlen(value) > 4) {
		og_jsondoc_quote(value, strlen(value), QUOTE_MAX, q, sizeof(q));
		complain(L, true, false, "%s is not a file mode: expected octal digits such as "
		         "\"0660\"", q);
		return false;
	}
	return true;
}

static bool check_no_newline(struct loader *L, const char *value)
{
	if (strchr(value, '\n') != NULL || strchr(value, '\r') != NULL) {
		complain(L, true, false, "line break in an argument: expected one line");
		return false;
	}
	return true;
}

static bool check_program(struct loader *L, const char *value)
{
	char q[QBUF];

	if (!check_no_newline(L, value))
		return false;
	if (value[0] != '/') {
		og_jsondoc_quote(value, strlen(value), QUOTE_MAX, q, sizeof(q));
		complain(L, true, false, "%s is not an absolute path: expected the program's full "
		         "file name (it is run directly, without a shell or PATH)", q);
		return false;
	}
	return true;
}

static bool check_hook_event(struct loader *L, const char *value)
{
	static const char *const events[] = { "lock", "unlock", "quarantine" };
	char q[QBUF];

	for (size_t i = 0; i < COUNT(events); i++)
		if (strcmp(value, events[i]) == 0)
			return true;
	og_jsondoc_quote(value, strlen(value), QUOTE_MAX, q, sizeof(q));
	complain(L, true, false, "unknown event %s: expected \"lock\", \"unlock\" or "
	         "\"quarantine\"", q);
	return false;
}

static bool check_redis_server(struct loader *L, const char *value)
{
	struct og_redis_addr a;
	char q[QBUF], why[160];

	if (og_redis_parse_server(value, &a, why, sizeof(why)) == 0)
		return true;
	og_jsondoc_quote(value, strlen(value), QUOTE_MAX, q, sizeof(q));
	complain(L, true, false, "%s is not a Redis server: %s", q, why);
	return false;
}

static bool check_redis_prefix(struct loader *L, const char *value)
{
	for (const char *p = value; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
			complain(L, true, false, "a space or control byte in the prefix: expected "
			         "printable ASCII such as \"outguard:\"");
			return false;
		}
	}
	return true;
}

static bool check_socket(struct loader *L, const char *value)
{
	char q[QBUF];
	const char *rest, *at, *proto;
	uint64_t port;
	char digits[8];
	size_t n;

	og_jsondoc_quote(value, strlen(value), QUOTE_MAX, q, sizeof(q));
	if (strncmp(value, "unix:", 5) == 0 || strncmp(value, "local:", 6) == 0) {
		proto = value[0] == 'u' ? "unix" : "local";
		rest = strchr(value, ':') + 1;
		if (rest[0] != '/') {
			complain(L, true, false, "%s is not a milter socket: expected an absolute path "
			         "after %s:", q, proto);
			return false;
		}
		return true;
	}
	if (strncmp(value, "inet:", 5) == 0 || strncmp(value, "inet6:", 6) == 0) {
		proto = value[4] == '6' ? "inet6" : "inet";
		rest = strchr(value, ':') + 1;
		at = strchr(rest, '@');
		n = at != NULL ? (size_t)(at - rest) : strlen(rest);
		if (n == 0 || n >= sizeof(digits)) {
			port = 0;
		} else {
			memcpy(digits, rest, n);
			digits[n] = '\0';
			if (!og_parse_u64(digits, 1, 65535, &port))
				port = 0;
		}
		if (port == 0) {
			complain(L, true, false, "%s is not a milter socket: expected a port from 1 to "
			         "65535 after %s:", q, proto);
			return false;
		}
		if (at != NULL && at[1] == '\0') {
			complain(L, true, false, "%s is not a milter socket: expected a host after \"@\"", q);
			return false;
		}
		return true;
	}
	complain(L, true, false, "%s is not a milter socket: expected unix:/path, inet:PORT@HOST "
	         "or inet6:PORT@HOST", q);
	return false;
}

/* The real directory of the config file, found once; NULL if reported. */
static const char *base_dir(struct loader *L)
{
	const char *slash;
	char *dir, *real;

	if (L->dir != NULL || L->dir_failed)
		return L->dir;
	slash = strrchr(L->doc.label, '/');
	if (slash == NULL)
		dir = og_strdup(".");
	else if (slash == L->doc.label)
		dir = og_strdup("/");
	else
		dir = og_strndup(L->doc.label, (size_t)(slash - L->doc.label));
	if (dir == NULL)
		return og_jsondoc_oom(&L->doc);
	real = realpath(dir, NULL);
	if (real == NULL) {
		og_diag_add(L->doc.diag, L->doc.label, 0, 0, "cannot find the directory of the file (%s) "
		            "to resolve relative paths: %s", dir, strerror(errno));
		L->doc.errors++;
		L->dir_failed = true;
		free(dir);
		return NULL;
	}
	free(dir);
	L->dir = L->dir_buf = real;
	return L->dir;
}

/*
 * REL made absolute against the config file's directory; leading "./" and
 * "../" are folded into the directory (which realpath has freed of
 * symlinks, so this is what the kernel would do).  Caller frees; NULL if
 * reported or out of memory.
 */
static char *resolve_path(struct loader *L, const char *rel)
{
	const char *dir;
	size_t dlen;
	struct og_buf b;

	if (rel[0] == '/') {
		char *copy = og_strdup(rel);

		return copy != NULL ? copy : og_jsondoc_oom(&L->doc);
	}
	if ((dir = base_dir(L)) == NULL)
		return NULL;
	dlen = strlen(dir);
	for (;;) {
		if (strncmp(rel, "./", 2) == 0) {
			rel += 2;
		} else if (strncmp(rel, "../", 3) == 0) {
			while (dlen > 1 && dir[dlen - 1] != '/')
				dlen--;
			if (dlen > 1)
				dlen--;       /* the slash itself, unless it is the root */
			rel += 3;
		} else if (rel[0] == '/') {
			rel++;
		} else {
			break;
		}
	}
	og_buf_init(&b);
	if (og_buf_append(&b, dir, dlen) != 0 ||
	    (dlen == 0 || dir[dlen - 1] != '/' ? og_buf_puts(&b, "/") : 0) != 0 ||
	    og_buf_puts(&b, rel) != 0) {
		og_buf_free(&b);
		return og_jsondoc_oom(&L->doc);
	}
	return b.data;
}

/* A non-empty string of option O (the path is current); NULL if reported. */
static const char *get_string(struct loader *L, const struct option *o, const json_t *v)
{
	char expected[320];

	if (!json_is_string(v)) {
		expected_text(o, expected, sizeof(expected));
		wrong_type(L, v, expected);
		return NULL;
	}
	if (json_string_length(v) == 0 || json_string_length(v) != strlen(json_string_value(v))) {
		expected_text(o, expected, sizeof(expected));
		complain(L, true, false, "empty string: expected %s", expected);
		return NULL;
	}
	return json_string_value(v);
}

/* trusted networks: every element checked; stored only if all are good. */
static void set_cidr_list(struct loader *L, const struct option *o, const json_t *v)
{
	struct og_cidr *nets = NULL;
	size_t n = json_array_size(v), i;
	unsigned errors = L->doc.errors;
	json_t *e;

	if (n > 0 && (nets = calloc(n, sizeof(*nets))) == NULL) {
		og_jsondoc_oom(&L->doc);
		return;
	}
	json_array_foreach(v, i, e) {
		char err[128], q[QBUF], d[DBUF];

		og_jsondoc_push_index(&L->doc, i);
		if (!json_is_string(e)) {
			og_jsondoc_describe(e, QUOTE_MAX, d, sizeof(d));
			complain(L, true, false, "wrong type: %s: expected a network such as "
			         "\"192.0.2.0/24\" or \"2001:db8::/32\"", d);
		} else if (json_string_length(e) != strlen(json_string_value(e)) ||
		           !og_cidr_parse(json_string_value(e), &nets[i], err, sizeof(err))) {
			if (json_string_length(e) != strlen(json_string_value(e)))
				snprintf(err, sizeof(err), "it contains a NUL byte");
			og_jsondoc_quote(json_string_value(e), json_string_length(e), QUOTE_MAX,
			                 q, sizeof(q));
			complain(L, true, false, "%s is not a network: %s", q, err);
		}
		og_jsondoc_pop(&L->doc);
	}
	if (L->doc.errors != errors) {
		free(nets);
		return;
	}
	clear_value(L->c, o);
	*(struct og_cidr **)field(L->c, o) = nets;
	*field_n(L->c, o) = n;
}

/* originating daemons: non-empty strings, every element checked. */
static void set_string_list(struct loader *L, const struct option *o, const json_t *v)
{
	size_t n = json_array_size(v), i, got = 0;
	unsigned errors = L->doc.errors;
	char **list = NULL;
	json_t *e;

	if (n > 0 && (list = calloc(n, sizeof(*list))) == NULL) {
		og_jsondoc_oom(&L->doc);
		return;
	}
	json_array_foreach(v, i, e) {
		char d[DBUF];

		og_jsondoc_push_index(&L->doc, i);
		if (!json_is_string(e)) {
			og_jsondoc_describe(e, QUOTE_MAX, d, sizeof(d));
			complain(L, true, false, "wrong type: %s: expected a string", d);
		} else if (json_string_length(e) == 0 ||
		           json_string_length(e) != strlen(json_string_value(e))) {
			complain(L, true, false, "empty string: expected a name");
		} else if (o->check != NULL && (i > 0 || o->check_first == NULL) &&
		           !o->check(L, json_string_value(e))) {
			;       /* reported */
		} else if (i == 0 && o->check_first != NULL && !o->check_first(L, json_string_value(e))) {
			;       /* reported */
		} else if ((list[got] = og_strdup(json_string_value(e))) == NULL) {
			og_jsondoc_oom(&L->doc);
		} else {
			got++;
		}
		og_jsondoc_pop(&L->doc);
	}
	if (L->doc.errors != errors || L->doc.oom) {
		free_strings(list, got);
		return;
	}
	clear_value(L->c, o);
	*(char ***)field(L->c, o) = list;
	*field_n(L->c, o) = n;
}

/* Check V as the value of option O (the path is current) and store it. */
static void set_value(struct loader *L, const struct option *o, const json_t *v)
{
	char expected[320], q[QBUF], d[DBUF];
	const char *s;
	char *copy;
	int idx;

	expected_text(o, expected, sizeof(expected));
	if (json_is_null(v) && o->nullable) {
		clear_value(L->c, o);
		return;
	}
	switch (o->type) {
	case T_STRING:
	case T_PATH:
		if ((s = get_string(L, o, v)) == NULL)
			return;
		if (o->names != NULL && name_index(o->names, s, strlen(s)) < 0) {
			og_jsondoc_quote(s, strlen(s), QUOTE_MAX, q, sizeof(q));
			complain(L, true, false, "unknown value %s: expected %s", q, expected);
			return;
		}
		if (o->check != NULL && !o->check(L, s))
			return;
		copy = o->type == T_PATH ? resolve_path(L, s) : og_strdup(s);
		if (copy == NULL) {
			if (o->type != T_PATH)
				og_jsondoc_oom(&L->doc);
			return;
		}
		clear_value(L->c, o);
		*(char **)field(L->c, o) = copy;
		return;
	case T_ENUM:
		if (!json_is_string(v)) {
			wrong_type(L, v, expected);
			return;
		}
		if ((idx = name_index(o->names, json_string_value(v), json_string_length(v))) < 0) {
			og_jsondoc_quote(json_string_value(v), json_string_length(v), QUOTE_MAX,
			                 q, sizeof(q));
			complain(L, true, false, "unknown value %s: expected %s", q, expected);
			return;
		}
		put_uint(field(L->c, o), o->size, (uint64_t)idx);
		return;
	case T_BOOL:
		if (!json_is_boolean(v)) {
			wrong_type(L, v, expected);
			return;
		}
		*(bool *)field(L->c, o) = json_is_true(v);
		return;
	case T_UINT:
		if (!json_is_integer(v)) {
			wrong_type(L, v, expected);
			return;
		}
		if (json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < o->min ||
		    (uint64_t)json_integer_value(v) > o->max) {
			complain(L, true, false, "%" JSON_INTEGER_FORMAT " is out of range: expected "
			         "%" PRIu64 " to %" PRIu64, json_integer_value(v), o->min, o->max);
			return;
		}
		put_uint(field(L->c, o), o->size, (uint64_t)json_integer_value(v));
		return;
	case T_CIDR_LIST:
	case T_STRING_LIST:
		if (!json_is_array(v)) {
			og_jsondoc_describe(v, QUOTE_MAX, d, sizeof(d));
			complain(L, true, false, "wrong type: %s: expected %s", d, expected);
			return;
		}
		if (o->type == T_CIDR_LIST)
			set_cidr_list(L, o, v);
		else
			set_string_list(L, o, v);
		return;
	}
}

/* Push the steps of option name NAME ("scope.local" -> scope, local). */
static size_t push_name(struct loader *L, const char *name, char parts[][64])
{
	size_t n = 0;

	while (n < PATH_DEPTH) {
		const char *dot = strchr(name, '.');
		size_t len = dot != NULL ? (size_t)(dot - name) : strlen(name);

		if (len >= 64)
			len = 63;
		memcpy(parts[n], name, len);
		parts[n][len] = '\0';
		og_jsondoc_push_key(&L->doc, parts[n]);
		n++;
		if (dot == NULL)
			break;
		name = dot + 1;
	}
	return n;
}

/*
 * Every option to its default (the table's JSON text, through set_value);
 * done before the file's text is attached, so a message has no position.
 */
static void apply_defaults(struct loader *L)
{
	for (size_t i = 0; i < COUNT(options); i++) {
		const struct option *o = &options[i];
		char parts[PATH_DEPTH][64];
		json_t *v = json_loads(o->dflt, JSON_DECODE_ANY, NULL);
		size_t n;

		if (v == NULL) {
			og_jsondoc_oom(&L->doc);
			continue;
		}
		n = push_name(L, o->name, parts);
		set_value(L, o, v);
		while (n-- > 0)
			og_jsondoc_pop(&L->doc);
		json_decref(v);
	}
}

/* ---- walking the file ---- */

/* Edit distance of A and B (adjacent transpositions count as one), capped at CAP + 1. */
static size_t distance(const char *a, const char *b, size_t cap)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[3][66];        /* rows i-2, i-1, i of the matrix; names are short */
	size_t best = cap + 1;

	if (la > 64 || lb > 64)
		return cap + 1;
	if ((la > lb ? la - lb : lb - la) > cap)
		return cap + 1;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *cur = d[i % 3], *prev = d[(i - 1) % 3], *prev2 = d[(i + 1) % 3];

		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = prev[j - 1] + cost;

			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
		}
	}
	best = d[la % 3][lb];
	return best > cap ? cap + 1 : best;
}

/*
 * KEY is not an option in section PREFIX ("" or "scope."): report it at the
 * key, with the nearest name of that section when one is close.
 */
static void unknown_option(struct loader *L, const char *prefix, const char *key)
{
	size_t plen = strlen(prefix), best = SUGGEST_MAX + 1;
	char suggest[128] = "", q[QBUF];
	const char *nested = NULL;
	struct og_buf b;

	for (size_t i = 0; i < COUNT(options); i++) {
		const char *name = options[i].name, *dot;
		char member[64];
		size_t len, dist;

		if (strncmp(name, prefix, plen) != 0)
			continue;
		if (plen == 0 && strcmp(name, key) == 0)
			nested = name;           /* "scope.local" written at the top level */
		name += plen;
		dot = strchr(name, '.');
		len = dot != NULL ? (size_t)(dot - name) : strlen(name);
		if (len >= sizeof(member))
			continue;
		memcpy(member, name, len);
		member[len] = '\0';
		/* the name of this section's member: an option, or a section */
		if ((dist = distance(key, member, SUGGEST_MAX)) < best) {
			best = dist;
			snprintf(suggest, sizeof(suggest), "%s%s", prefix, member);
		}
	}
	og_buf_init(&b);
	if (og_buf_puts(&b, prefix) != 0 || og_buf_puts(&b, key) != 0) {
		og_buf_free(&b);
		og_jsondoc_oom(&L->doc);
		return;
	}
	og_jsondoc_quote(b.data, b.len, QUOTE_MAX, q, sizeof(q));
	og_buf_free(&b);
	og_jsondoc_push_key(&L->doc, key);
	if (nested != NULL) {
		int slen = (int)(strchr(nested, '.') - nested);

		complain(L, false, true, "unknown option %s: options of \"%.*s\" go inside it, "
		         "as \"%.*s\": { \"%s\": ... }", q, slen, nested, slen, nested,
		         nested + slen + 1);
	} else if (suggest[0] != '\0') {
		complain(L, false, true, "unknown option %s; did you mean \"%s\"?", q, suggest);
	} else {
		complain(L, false, true, "unknown option %s", q);
	}
	og_jsondoc_pop(&L->doc);
}

/* Check the members of object OBJ, the section PREFIX ("" or "scope."). */
static void check_object(struct loader *L, const char *prefix, const json_t *obj)
{
	size_t plen = strlen(prefix);
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		const struct option *o = NULL;
		bool section = false;

		/* a dot would reach into a section: "scope.local" belongs inside "scope" */
		for (size_t i = 0; i < COUNT(options) && o == NULL && !section &&
		                   strchr(key, '.') == NULL; i++) {
			const char *name = options[i].name;
			size_t klen = strlen(key);

			if (strncmp(name, prefix, plen) != 0 || strncmp(name + plen, key, klen) != 0)
				continue;
			if (name[plen + klen] == '\0')
				o = &options[i];
			else if (name[plen + klen] == '.')
				section = true;
		}
		if (o == NULL && !section) {
			unknown_option(L, prefix, key);
			continue;
		}
		og_jsondoc_push_key(&L->doc, key);
		if (section) {
			if (!json_is_object(v)) {
				wrong_type(L, v, "an object");
			} else {
				struct og_buf b;

				og_buf_init(&b);
				if (og_buf_puts(&b, prefix) == 0 && og_buf_puts(&b, key) == 0 &&
				    og_buf_puts(&b, ".") == 0)
					check_object(L, b.data, v);
				else
					og_jsondoc_oom(&L->doc);
				og_buf_free(&b);
			}
		} else {
			set_value(L, o, v);
		}
		og_jsondoc_pop(&L->doc);
	}
}

struct og_config *og_config_load(const char *path, struct og_diag *diag)
{
	struct loader L = { .doc = { .label = path, .diag = diag } };
	struct og_config *c;
	json_t *root;
	char *text;
	size_t len;

	if ((text = og_jsondoc_read(path, &config_kind, &len, diag)) == NULL)
		return NULL;
	if ((root = og_jsondoc_parse(text, len, path, &config_kind, diag)) == NULL) {
		free(text);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->path = og_strdup(path)) == NULL) {
		og_diag_add(diag, path, 0, 0, "out of memory");
		free(c);
		json_decref(root);
		free(text);
		return NULL;
	}
	L.c = c;
	apply_defaults(&L);
	L.doc.text = text;
	L.doc.len = len;
	if (!json_is_object(root)) {
		char d[DBUF];

		og_jsondoc_describe(root, QUOTE_MAX, d, sizeof(d));
		complain(&L, false, false, "wrong type at the top level: %s: expected an object "
		         "of options", d);
	} else {
		check_object(&L, "", root);
	}
	json_decref(root);
	free(text);
	free(L.dir_buf);
	if (!og_jsondoc_finish(&L.doc)) {
		og_config_free(c);
		return NULL;
	}
	return c;
}

/* ---- names and reload ---- */

static const char *option_names[COUNT(options) + 1];
static pthread_once_t option_names_once = PTHREAD_ONCE_INIT;

static void fill_option_names(void)
{
	for (size_t i = 0; i < COUNT(options); i++)
		option_names[i] = options[i].name;
	option_names[COUNT(options)] = NULL;
}

const char *const *og_config_option_names(void)
{
	pthread_once(&option_names_once, fill_option_names);
	return option_names;
}

/* Option O of C as text for messages, into B: "\"unix:/x\"", "300", "none". 0 or -1. */
static int show_value(const struct og_config *c, const struct option *o, struct og_buf *b)
{
	char q[QBUF];
	int rc = 0;

	switch (o->type) {
	case T_STRING:
	case T_PATH: {
		const char *s = *(char *const *)field(c, o);

		if (s == NULL)
			return og_buf_puts(b, "none");
		og_jsondoc_quote(s, strlen(s), QUOTE_MAX, q, sizeof(q));
		return og_buf_puts(b, q);
	}
	case T_ENUM:
		return og_buf_printf(b, "\"%s\"", o->names[get_uint(field(c, o), o->size)]);
	case T_BOOL:
		return og_buf_puts(b, *(const bool *)field(c, o) ? "true" : "false");
	case T_UINT:
		return og_buf_printf(b, "%" PRIu64, get_uint(field(c, o), o->size));
	case T_STRING_LIST: {
		char *const *l = *(char **const *)field(c, o);
		size_t n = *field_n(c, o);

		rc |= og_buf_puts(b, "[");
		for (size_t i = 0; i < n; i++) {
			og_jsondoc_quote(l[i], strlen(l[i]), QUOTE_MAX, q, sizeof(q));
			rc |= og_buf_printf(b, "%s%s", i > 0 ? ", " : "", q);
		}
		return rc | og_buf_puts(b, "]");
	}
	case T_CIDR_LIST: {
		const struct og_cidr *l = *(struct og_cidr *const *)field(c, o);
		size_t n = *field_n(c, o);

		rc |= og_buf_puts(b, "[");
		for (size_t i = 0; i < n; i++) {
			char a[INET6_ADDRSTRLEN];

			if (inet_ntop(l[i].family, l[i].addr, a, sizeof(a)) == NULL)
				snprintf(a, sizeof(a), "?");
			rc |= og_buf_printf(b, "%s\"%s/%u\"", i > 0 ? ", " : "", a, l[i].prefix);
		}
		return rc | og_buf_puts(b, "]");
	}
	}
	return -1;
}

void og_config_reload_warnings(const struct og_config *old, const struct og_config *new_cfg,
                               struct og_diag *diag)
{
	if (old == NULL || new_cfg == NULL)
		return;
	for (size_t i = 0; i < COUNT(options); i++) {
		const struct option *o = &options[i];
		struct og_buf a, b;

		if (o->reloadable)
			continue;
		og_buf_init(&a);
		og_buf_init(&b);
		if (show_value(old, o, &a) != 0 || show_value(new_cfg, o, &b) != 0) {
			diag->oom = 1;
		} else if (strcmp(a.data, b.data) != 0) {
			og_diag_add(diag, new_cfg->path, 0, 0, "%s changed from %s to %s: takes effect "
			            "only after a restart", o->name, a.data, b.data);
		}
		og_buf_free(&a);
		og_buf_free(&b);
	}
}
