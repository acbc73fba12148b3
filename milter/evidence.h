/*
 * evidence - one JSON Lines record per judged message, for security staff.
 *
 * og_evidence_format() writes the record (pure; the bytes jansson's compact
 * dump would give); og_evidence_append() writes it as one whole line with a
 * single writev(2) on an O_APPEND file under a mutex, so lines of many
 * threads never interleave.  A failed write
 * is counted and logged once per burst, never fatal: filtering goes on.
 * og_evidence_request_reopen() (async-signal-safe, for SIGUSR1 after
 * logrotate) makes the next append reopen the file by name.
 *
 * Record fields, in this order (see outguard(8) and outguard.conf(5), EVIDENCE):
 *   time ("2026-11-23T03:01:02.123Z"), queue_id, action, applied, score,
 *   observe (only when the rule set observes), would{score,action} (only when
 *   observing rules hit: what enforcing them would do), scope,
 *   keys{account,domain,script,client}, identity_source, stamp{uid,user,cwd} (only
 *   when present), client{addr,name,helo,port}, auth{login,mechanism} or null,
 *   sender, from, message_id, subject, rcpt_count, rcpt_sample[], rcpt_domains[],
 *   hits[{rule,check,count (rate only),key,window (rate only),figure,limit,score,
 *   observe (only when true), matched (phrases found, or what matched)}],
 *   exempt (key or null), allowed (only when an admin's allow made it exempt),
 *   locked{key,style,until} (only when a key is locked), rules (digest),
 *   truncated and internal_error (only when true).
 * Absent values are null.  Bytes that are not UTF-8 are replaced by U+FFFD.
 */
#ifndef OG_EVIDENCE_H
#define OG_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "facts.h"
#include "identity.h"

struct og_evidence;

/*
 * Open PATH for appending (created 0640), one reference.  NULL with a
 * reason in ERR on failure.
 */
struct og_evidence *og_evidence_open(const char *path, char *err, size_t errlen);
/* One more reference to E (NULL stays NULL); each one is dropped by og_evidence_close. */
struct og_evidence *og_evidence_retain(struct og_evidence *e);
/* Drop a reference; the last one closes the file. */
void og_evidence_close(struct og_evidence *e);
/* The file E writes to. */
const char *og_evidence_path(const struct og_evidence *e);

/*
 * The record as a JSON object text without the newline; caller frees.
 * NOW_MS is the time in milliseconds since the epoch.  NULL if out of memory.
 */
char *og_evidence_format(const struct og_facts *f, const struct og_identity *id,
                         const struct og_verdict *v, const char *rules_digest,
                         int64_t now_ms);

/* S as a JSON string, invalid UTF-8 as U+FFFD; null for NULL.  New reference or NULL. */
struct json_t *og_evidence_str(const char *s);

/* MS (milliseconds since the epoch) as "2026-11-23T03:01:02.123Z" into BUF. */
void og_evidence_time(int64_t ms, char *buf, size_t len);
/* The same of SEC seconds since the epoch, for any SEC (no overflow). */
void og_evidence_time_sec(int64_t sec, char *buf, size_t len);

/* Append LINE (no newline; one is added) as one write. 0 or -1 (counted). */
int og_evidence_append(struct og_evidence *e, const char *line);

/* Ask for a reopen at the next append. Safe to call from a signal handler. */
void og_evidence_request_reopen(void);
/* Writes that failed since start. */
uint64_t og_evidence_errors(const struct og_evidence *e);

#endif
