/*
 * config - the main configuration file (JSON), table-driven and strict.
 *
 * One row per option (name, type, default, whether a reload may change it, a
 * line of doc); unknown keys, wrong types and impossible values are errors
 * reported as FILE:LINE:COLUMN with the option name; every error is reported.
 * Relative paths are taken relative to the directory of the config file, so
 * the example in contrib/ runs from the source tree.  See outguard.conf(5).
 */
#ifndef OG_CONFIG_H
#define OG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "scope.h"

enum og_fail_policy { OG_FAIL_TEMPFAIL = 0, OG_FAIL_ACCEPT };
enum og_evidence_mode { OG_EVIDENCE_ALL = 0, OG_EVIDENCE_FLAGGED };
enum og_state_backend { OG_BACKEND_MEMORY = 0, OG_BACKEND_REDIS };

/* Where the shared counts and locks live (state_backend redis). */
struct og_redis_config {
	char *server;               /* "HOST:PORT", "[V6]:PORT", "/path" or "unix:/path" */
	unsigned database;
	char *prefix;               /* of every Redis key: "outguard:" */
	char *user;                 /* ACL user; NULL = default user */
	char *password_file;        /* absolute; NULL = no AUTH */
	unsigned connect_timeout_ms;
	unsigned command_timeout_ms;
};

struct og_config {
	char *path;                 /* the file itself */
	char *socket;               /* libmilter spec: "unix:/run/outguard/outguard.sock" */
	char *rules;                /* rules file, absolute */
	char *evidence_file;        /* absolute; NULL = no evidence file (syslog only) */
	enum og_evidence_mode evidence_mode;
	char *pid_file;             /* NULL = none */
	char *user;                 /* NULL = do not change user */
	char *syslog_facility;      /* "mail" */
	enum og_fail_policy on_error;
	struct og_scope_config scope;
	size_t max_tracked_keys;
	unsigned milter_timeout;    /* seconds libmilter waits on the MTA */
	char *state_file;           /* locks and allows; NULL = memory only */
	char *control_socket;       /* "unix:/run/outguard/control.sock"; NULL = none */
	char *control_mode;         /* octal text, "0660" */
	char *control_group;        /* NULL = the group of the daemon */
	char **hook_command;        /* argv; hook_argc 0 = no hook */
	size_t hook_argc;
	char **hook_events;         /* "lock", "unlock", "quarantine" */
	size_t n_hook_events;
	unsigned hook_timeout;      /* seconds */
	unsigned hook_max_running;
	unsigned hook_quiet;        /* seconds after a notification about an account: no quarantine one */
	enum og_state_backend state_backend;
	struct og_redis_config redis;
};

/* Load PATH. NULL with every problem in DIAG on failure. */
struct og_config *og_config_load(const char *path, struct og_diag *diag);
void og_config_free(struct og_config *c);

/* Name of each option the file accepts, NULL-terminated (for the man page check). */
const char *const *og_config_option_names(void);

/* Options a reload cannot change (socket, user, pid_file, max_tracked_keys ...):
 * if NEW differs from OLD in one, add a warning to DIAG naming it. */
void og_config_reload_warnings(const struct og_config *old, const struct og_config *new_cfg,
                               struct og_diag *diag);

#endif
