/*
 * facts - everything outguard learns about one message, as plain data.
 *
 * The milter glue fills a struct og_facts from the MTA's callbacks; the
 * offline tools fill it from a saved message.  Nothing here knows libmilter.
 * All strings are owned by the struct (freed by og_facts_reset/og_facts_free)
 * and bounded: over-long values are cut to OG_FACT_MAXLEN bytes and the cut
 * is recorded in `truncated`, never silently.
 */
#ifndef OG_FACTS_H
#define OG_FACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strutil.h"

#define OG_FACT_MAXLEN      998   /* RFC 5322 line limit: enough for any value we keep */
#define OG_RCPT_SAMPLE_MAX  10    /* recipients kept verbatim for the evidence */
#define OG_RCPT_DOMAINS_MAX 64    /* distinct recipient domains tracked per message */
#define OG_EXTRA_HEADERS_MAX 16   /* headers kept for header rules */

/* The header outguard-sendmail adds to local submissions. */
#define OG_STAMP_HEADER "X-Outguard-Submitter"

struct og_facts {
	/* connection (CONNECT / HELO) */
	char *client_addr;      /* textual IP, "127.0.0.1"; NULL if unknown */
	char *client_name;      /* reverse name as the MTA reports it */
	unsigned client_port;   /* 0 for Postfix local (pickup) submissions */
	bool client_port_known;
	char *helo;
	char *daemon_name;      /* {daemon_name}: "ORIGINATING" on submission ports */
	char *mta_host;         /* j: the MTA's own host name ($myhostname) */

	/* envelope (MAIL / RCPT) */
	char *auth_authen;      /* {auth_authen}: SASL login, NULL when not authenticated */
	char *auth_type;
	char *sender;           /* envelope sender without <>; "" for the null sender */
	bool sender_bracketed;  /* smtpd sends "<a@b>", Postfix pickup sends "a@b" */
	size_t rcpt_count;
	char *rcpt_sample[OG_RCPT_SAMPLE_MAX];
	size_t rcpt_sample_len;
	char *rcpt_domains[OG_RCPT_DOMAINS_MAX]; /* lower-cased, distinct */
	size_t rcpt_domains_len;
	bool rcpt_domains_overflow;             /* more distinct domains than kept */

	/* headers (first occurrence unless said otherwise) */
	char *from;             /* raw From: value */
	char *message_id;
	char *subject;
	char *php_script;       /* raw X-PHP-Originating-Script: "1001:contact.php" */
	char *stamp;            /* raw first X-Outguard-Submitter value */
	unsigned stamp_count;   /* how many stamp headers (all are removed from the message) */
	char *content_type;     /* the message's own Content-Type */
	char *content_encoding; /* and Content-Transfer-Encoding */
	size_t hdr_rcpt_count;  /* addresses in every To: and Cc: header */
	size_t header_count;
	/* headers a header rule reads: the names are borrowed from the rules
	   (og_facts_want_headers), the first value of each is kept */
	const char *const *want_headers;
	size_t n_want_headers;
	char *extra_value[OG_EXTRA_HEADERS_MAX];

	/* the first body_max bytes of the body, raw, when a rule reads the body */
	struct og_buf body;
	size_t body_max;        /* 0: the body is not kept */
	bool body_cut;          /* the body was longer than body_max */

	/* the MTA's queue ID; Postfix may only give it at DATA, so it is re-read */
	char *queue_id;

	bool truncated;         /* some value was longer than OG_FACT_MAXLEN and was cut */
};

void og_facts_init(struct og_facts *f);
/* Forget the per-message part (envelope, headers, queue ID); keep the connection. */
void og_facts_reset_message(struct og_facts *f);
/* Free everything. */
void og_facts_free(struct og_facts *f);

/* Set a string field (copying, bounded); VALUE may be NULL. Returns 0 or -1 (no memory). */
int og_facts_set(struct og_facts *f, char **field, const char *value);
/* MAIL FROM argument as the MTA gives it ("<a@b>", "a@b", "<>"). */
int og_facts_set_sender(struct og_facts *f, const char *arg);
/* One RCPT TO argument. Counts it, samples it, notes its domain. */
int og_facts_add_rcpt(struct og_facts *f, const char *arg);
/* One header; keeps those outguard uses. NAME is matched case-insensitively. */
int og_facts_add_header(struct og_facts *f, const char *name, const char *value);

/*
 * Keep the first value of each of the N headers NAMES (borrowed: they must
 * outlive the message; at most OG_EXTRA_HEADERS_MAX are kept) and the first
 * MAX_BODY bytes of the body.  Called at MAIL FROM; og_facts_reset_message
 * forgets both.
 */
void og_facts_want(struct og_facts *f, const char *const *names, size_t n, size_t max_body);
/* A chunk of the body; what goes beyond body_max is dropped and noted. 0 or -1 (no memory). */
int og_facts_add_body(struct og_facts *f, const void *chunk, size_t len);
/* The kept value of header NAME (one of the wanted ones), or NULL. */
const char *og_facts_extra_header(const struct og_facts *f, const char *name);

/* Strip <> and surrounding space from an address argument into a new string. */
char *og_address_unbracket(const char *arg);
/* Pointer to the domain part of ADDR (after the last '@'), or NULL. */
const char *og_address_domain(const char *addr);

#endif
