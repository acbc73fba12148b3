/*
 * callbacks - the libmilter callbacks: gather facts, judge at end of
 * message, apply the verdict.  Each callback fetches the connection's
 * context, hands plain values to the core and maps the result to SMFIS_*
 * through the mta seam; no decision is made here.
 *
 * Per-connection state lives in the smfi_setpriv context, never in
 * thread-local storage: Debian's libmilter serves one connection from
 * several worker threads.  A message retains the policy current at MAIL FROM
 * and releases it at end of message, abort or close, so it finishes on the
 * rules it started with while a reload swaps in new ones.
 *
 * Errors: an allocation failure or a failed MTA request follows the
 * configured fail policy (tempfail or accept) and is logged; mail is never
 * dropped silently.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "callbacks.h"
#include "facts.h"
#include "log.h"
#include "mta.h"
#include "runtime.h"

/* Set once before smfi_main starts, read-only afterwards. */
static struct og_runtime *runtime;

struct conn {
	struct og_facts facts;
	struct og_policy *policy;   /* retained from MAIL FROM to the end of the message */
	bool skip_ok;               /* the MTA agreed to SMFIS_SKIP from the body callback */
	unsigned long noreply;      /* SMFIP_NR_* agreed: those stages get no reply */
	const char *deferred;       /* a failure in such a stage, answered at the next reply */
};

/* The stages that need no answer: outguard decides at MAIL FROM and end of message only. */
#define NOREPLY_STEPS (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_EOH)

/* X-Outguard: carries the verdict; for quarantine it is the reason Postfix drops. */
#define VERDICT_HEADER "X-Outguard"

void og_callbacks_init(struct og_runtime *rt)
{
	runtime = rt;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *qid(const struct conn *c)
{
	return c != NULL && c->facts.queue_id != NULL ? c->facts.queue_id : "NOQUEUE";
}

/* The fail policy as a return code, with a reply the client can read. */
static sfsistat fail(SMFICTX *ctx, struct conn *c, const char *what)
{
	struct og_policy *p = og_runtime_policy(runtime);
	bool accept = p != NULL && p->config->on_error == OG_FAIL_ACCEPT;

	atomic_fetch_add(&runtime->counters.internal_errors, 1);
	og_error("%s: internal error: %s: %s", qid(c), what,
	         accept ? "accepting the message (on_error accept)"
	                : "answering tempfail (on_error tempfail)");
	og_policy_release(p);
	if (accept)
		return SMFIS_ACCEPT;
	og_mta_setreply(ctx, "451", "4.3.0", "Temporary local problem in the outbound filter; try again later");
	return SMFIS_TEMPFAIL;
}

/*
 * The answer of a stage that may have negotiated no reply: SMFIS_NOREPLY
 * then, with a failure (WHAT, not NULL) kept for the next stage that answers.
 */
static sfsistat answer(SMFICTX *ctx, struct conn *c, unsigned long step, const char *what)
{
	if (c != NULL && (c->noreply & step)) {
		if (what != NULL && c->deferred == NULL)
			c->deferred = what;
		return SMFIS_NOREPLY;
	}
	return what != NULL ? fail(ctx, c, what) : SMFIS_CONTINUE;
}

/* A failure of a stage that had no reply, answered now (MAIL FROM or end of message). */
static bool answer_deferred(SMFICTX *ctx, struct conn *c, sfsistat *rc)
{
	const char *what = c->deferred;

	if (what == NULL)
		return false;
	c->deferred = NULL;
	*rc = fail(ctx, c, what);
	return true;
}

/* End the message: forget its facts and drop its policy reference. */
static void end_message(struct conn *c)
{
	og_facts_reset_message(&c->facts);
	og_policy_release(c->policy);
	c->policy = NULL;
}

/* Store macro NAME into FIELD if the MTA sent it. */
static int take_macro(SMFICTX *ctx, struct conn *c, char **field, const char *name)
{
	const char *v = og_mta_getsymval(ctx, name);

	return v != NULL ? og_facts_set(&c->facts, field, v) : 0;
}

static sfsistat mlfi_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                               unsigned long f2, unsigned long f3, unsigned long *pf0,
                               unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	const unsigned long want = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST;
	/* unknown commands tell us nothing; the body only when a rule reads it,
	   and then only its first bytes (SKIP ends the chunks early) */
	unsigned long steps = SMFIP_NOUNKNOWN;
	struct og_policy *p = og_runtime_policy(runtime);
	/* the context is made here, before CONNECT, to remember what was agreed */
	struct conn *c = calloc(1, sizeof(*c));

	if (p == NULL || p->rules->body_bytes == 0)
		steps |= SMFIP_NOBODY;
	else
		steps |= SMFIP_SKIP;
	og_policy_release(p);
	/*
	 * Over a unix socket, stages without a decision need no reply, which
	 * saves a round trip each.  Not over TCP: Postfix does not disable
	 * Nagle there, and a command that gets no reply waits ~40 ms for the
	 * delayed ACK before the next one is sent.
	 */
	if (runtime->milter_unix && c != NULL)
		steps |= NOREPLY_STEPS;     /* without a context a failure could not wait */
	/*
	 * DATA tells us nothing either, but over TCP it must be answered: Postfix
	 * flushes the DATA command when smtpd hands over to cleanup, and a command
	 * without an answer leaves cleanup's next small write waiting ~40 ms in
	 * Nagle's algorithm for the delayed ACK.
	 */
	if (runtime->milter_unix)
		steps |= SMFIP_NODATA;
	(void)f2;
	(void)f3;
	if ((f0 & want) != want)
		og_warning("the MTA does not offer every action outguard uses (offered 0x%lx, "
		           "wanted 0x%lx): quarantine becomes tempfail", f0, want);
	*pf0 = f0 & want;
	*pf1 = f1 & steps;
	if (c != NULL) {
		og_facts_init(&c->facts);
		c->skip_ok = (*pf1 & SMFIP_SKIP) != 0;
		c->noreply = *pf1 & NOREPLY_STEPS;
		og_mta_setpriv(ctx, c);
	}
	*pf2 = *pf3 = 0;
	if (f0 & SMFIF_SETSYMLIST) {
		/* A list given here replaces the MTA's: keep {auth_authen} and i. */
		og_mta_setsymlist(ctx, SMFIM_CONNECT, "j {daemon_name} {client_addr} {client_name}");
		og_mta_setsymlist(ctx, SMFIM_ENVFROM, "i {auth_authen} {auth_type}");
		og_mta_setsymlist(ctx, SMFIM_EOH, "i");
		og_mta_setsymlist(ctx, SMFIM_EOM, "i");
	}
	return SMFIS_CONTINUE;
}

/* Client address and port from the connect callback's sockaddr. */
static int set_client(struct conn *c, const struct sockaddr *sa)
{
	char text[INET6_ADDRSTRLEN];
	const void *addr = NULL;
	unsigned port = 0;

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		addr = &in->sin_addr;
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		addr = &in6->sin6_addr;
		port = ntohs(in6->sin6_port);
	}
	if (addr == NULL || inet_ntop(sa->sa_family, addr, text, sizeof(text)) == NULL)
		return 0;
	c->facts.client_port = port;
	c->facts.client_port_known = true;
	return og_facts_set(&c->facts, &c->facts.client_addr, text);
}

static sfsistat mlfi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct conn *c = og_mta_getpriv(ctx);

	if (c == NULL) {
		/* no negotiation (an old MTA), or out of memory there */
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return fail(ctx, NULL, "out of memory at connect");   /* no context: no NR either */
		og_facts_init(&c->facts);
		og_mta_setpriv(ctx, c);
	}
	if (set_client(c, hostaddr) < 0 ||
	    og_facts_set(&c->facts, &c->facts.client_name, hostname) < 0 ||
	    take_macro(ctx, c, &c->facts.daemon_name, "{daemon_name}") < 0 ||
	    take_macro(ctx, c, &c->facts.mta_host, "j") < 0)
		return answer(ctx, c, SMFIP_NR_CONN, "out of memory at connect");
	return answer(ctx, c, SMFIP_NR_CONN, NULL);
}

static sfsistat mlfi_helo(SMFICTX *ctx, char *helo)
{
	struct conn *c = og_mta_getpriv(ctx);

	if (c == NULL)
		return fail(ctx, NULL, "no connection context at HELO");
	if (og_facts_set(&c->facts, &c->facts.helo, helo) < 0)
		return answer(ctx, c, SMFIP_NR_HELO, "out of memory at HELO");
	return answer(ctx, c, SMFIP_NR_HELO, NULL);
}

static sfsistat mlfi_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn *c = og_mta_getpriv(ctx);
	sfsistat rc;

	if (c == NULL)
		return fail(ctx, NULL, "no connection context at MAIL FROM");
	end_message(c);     /* a new MAIL without EOM/abort before it */
	if (answer_deferred(ctx, c, &rc))
		return rc;
	c->policy = og_runtime_policy(runtime);
	if (c->policy != NULL)
		og_facts_want(&c->facts, (const char *const *)c->policy->rules->want_headers,
		              c->policy->rules->n_want_headers, c->policy->rules->body_bytes);
	if (og_facts_set_sender(&c->facts, argv != NULL ? argv[0] : NULL) < 0 ||
	    take_macro(ctx, c, &c->facts.auth_authen, "{auth_authen}") < 0 ||
	    take_macro(ctx, c, &c->facts.auth_type, "{auth_type}") < 0 ||
	    take_macro(ctx, c, &c->facts.queue_id, "i") < 0)
		return fail(ctx, c, "out of memory at MAIL FROM");
	/* a locked account is refused before it sends any data */
	if (c->policy != NULL) {
		const char *reply;

		if (og_runtime_mail_refused(runtime, c->policy, &c->facts, now_ms(), &reply)) {
			og_mta_setreply(ctx, "451", "4.7.1", reply);
			end_message(c);
			return SMFIS_TEMPFAIL;
		}
	}
	return SMFIS_CONTINUE;
}

static sfsistat mlfi_envrcpt(SMFICTX *ctx, char **argv)
{
	struct conn *c = og_mta_getpriv(ctx);

	if (c == NULL)
		return fail(ctx, NULL, "no connection context at RCPT TO");
	if (og_facts_add_rcpt(&c->facts, argv != NULL ? argv[0] : NULL) < 0)
		return answer(ctx, c, SMFIP_NR_RCPT, "out of memory at RCPT TO");
	return answer(ctx, c, SMFIP_NR_RCPT, NULL);
}

static sfsistat mlfi_header(SMFICTX *ctx, char *name, char *value)
{
	struct conn *c = og_mta_getpriv(ctx);

	if (c == NULL)
		return fail(ctx, NULL, "no connection context at header");
	if (og_facts_add_header(&c->facts, name, value) < 0)
		return answer(ctx, c, SMFIP_NR_HDR, "out of memory at header");
	return answer(ctx, c, SMFIP_NR_HDR, NULL);
}

/* The first bytes of the body: a keyword rule reads them.  Skip the rest. */
static sfsistat mlfi_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct conn *c = og_mta_getpriv(ctx);

	if (c == NULL)
		return fail(ctx, NULL, "no connection context at body");
	if (og_facts_add_body(&c->facts, chunk, len) < 0)
		return fail(ctx, c, "out of memory at body");
	if (c->facts.body_cut && c->skip_ok)
		return SMFIS_SKIP;
	return SMFIS_CONTINUE;
}

static sfsistat mlfi_eoh(SMFICTX *ctx)
{
	struct conn *c = og_mta_getpriv(ctx);

	/* Postfix may give the queue ID only from DATA on: read it again. */
	if (c != NULL && take_macro(ctx, c, &c->facts.queue_id, "i") < 0)
		return answer(ctx, c, SMFIP_NR_EOH, "out of memory at end of headers");
	return answer(ctx, c, SMFIP_NR_EOH, NULL);
}

/* The verdict header value: "quarantine; score=20 rule=41/30; account=sasl:alice". */
static void verdict_header(const struct og_verdict *v, const struct og_identity *id,
                           char *buf, size_t len)
{
	char summary[512], account[256];

	og_verdict_summary(v, summary, sizeof(summary));
	og_sanitize(account, sizeof(account),
	            id->key[OG_KEY_ACCOUNT] != NULL ? id->key[OG_KEY_ACCOUNT] : "-");
	snprintf(buf, len, "%s; %s; account=%s", og_action_name(v->applied), summary, account);
}

/* Remove every stamp header: forged over SMTP, private on local mail. */
static int remove_stamps(SMFICTX *ctx, struct conn *c)
{
	for (unsigned i = c->facts.stamp_count; i > 0; i--)
		if (og_mta_delheader(ctx, OG_STAMP_HEADER, (int)i) != MI_SUCCESS)
			return -1;
	return 0;
}

/* Carry out V; returns the SMFIS_* code for end of message. */
static sfsistat apply(SMFICTX *ctx, struct conn *c, const struct og_verdict *v,
                      const struct og_identity *id)
{
	const struct og_rules *r = c->policy->rules;
	char header[1024];

	if (v->scope == OG_SCOPE_INBOUND)
		return SMFIS_ACCEPT;            /* not ours: untouched */
	if (c->facts.stamp_count > 0 && remove_stamps(ctx, c) < 0)
		og_warning("%s: could not remove the %s header", qid(c), OG_STAMP_HEADER);

	switch (v->applied) {
	case OG_ACT_ACCEPT:
		return SMFIS_ACCEPT;
	case OG_ACT_TAG:
		verdict_header(v, id, header, sizeof(header));
		if (og_mta_addheader(ctx, VERDICT_HEADER, header) != MI_SUCCESS)
			og_warning("%s: could not add the %s header", qid(c), VERDICT_HEADER);
		return SMFIS_ACCEPT;
	case OG_ACT_QUARANTINE:
		verdict_header(v, id, header, sizeof(header));
		og_mta_addheader(ctx, VERDICT_HEADER, header);
		if (og_mta_quarantine(ctx, header) == MI_SUCCESS)
			return SMFIS_ACCEPT;
		og_error("%s: the MTA refused to quarantine: answering tempfail instead", qid(c));
		og_mta_setreply(ctx, "451", "4.7.1", r->tempfail_text);
		return SMFIS_TEMPFAIL;
	case OG_ACT_TEMPFAIL:
		og_mta_setreply(ctx, "451", "4.7.1", v->locked_key != NULL && r->lock.reply != NULL ?
		                r->lock.reply : r->tempfail_text);
		return SMFIS_TEMPFAIL;
	case OG_ACT_REJECT:
		og_mta_setreply(ctx, "550", "5.7.1", r->reject_text);
		return SMFIS_REJECT;
	case OG_ACT__COUNT:
		break;
	}
	return SMFIS_ACCEPT;
}

static sfsistat mlfi_eom(SMFICTX *ctx)
{
	struct conn *c = og_mta_getpriv(ctx);
	struct og_identity id;
	struct og_verdict *v;
	sfsistat rc;

	if (c == NULL)
		return fail(ctx, NULL, "no connection context at end of message");
	if (answer_deferred(ctx, c, &rc)) {
		end_message(c);
		return rc;
	}
	if (c->policy == NULL)
		c->policy = og_runtime_policy(runtime);
	if (take_macro(ctx, c, &c->facts.queue_id, "i") < 0)
		return fail(ctx, c, "out of memory at end of message");
	/* The verdict holds one slot per rule: too large for a worker's stack. */
	if ((v = malloc(sizeof(*v))) == NULL) {
		rc = fail(ctx, c, "out of memory at end of message");
		end_message(c);
		return rc;
	}
	if (og_runtime_judge(runtime, c->policy, &c->facts, now_ms(), &id, v) < 0 &&
	    v->applied == OG_ACT_TEMPFAIL) {
		og_mta_setreply(ctx, "451", "4.3.0",
		                "Temporary local problem in the outbound filter; try again later");
		rc = SMFIS_TEMPFAIL;
	} else {
		rc = apply(ctx, c, v, &id);
	}
	og_identity_free(&id);
	free(v);
	end_message(c);
	return rc;
}

static sfsistat mlfi_abort(SMFICTX *ctx)
{
	struct conn *c = og_mta_getpriv(ctx);

	if (c != NULL) {
		/* a failure kept from this message's RCPT or headers goes with it:
		   the next message must not be tempfailed for it (a failure at
		   CONNECT or HELO was answered at MAIL FROM, before any abort) */
		c->deferred = NULL;
		end_message(c);
	}
	return SMFIS_CONTINUE;
}

static sfsistat mlfi_close(SMFICTX *ctx)
{
	struct conn *c = og_mta_getpriv(ctx);

	if (c != NULL) {
		end_message(c);
		og_facts_free(&c->facts);
		free(c);
		og_mta_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

void og_callbacks_describe(struct smfiDesc *desc)
{
	memset(desc, 0, sizeof(*desc));
	desc->xxfi_name = (char *)"outguard";
	desc->xxfi_version = SMFI_VERSION;
	desc->xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST;
	desc->xxfi_connect = mlfi_connect;
	desc->xxfi_helo = mlfi_helo;
	desc->xxfi_envfrom = mlfi_envfrom;
	desc->xxfi_envrcpt = mlfi_envrcpt;
	desc->xxfi_header = mlfi_header;
	desc->xxfi_eoh = mlfi_eoh;
	desc->xxfi_body = mlfi_body;
	desc->xxfi_eom = mlfi_eom;
	desc->xxfi_abort = mlfi_abort;
	desc->xxfi_close = mlfi_close;
	desc->xxfi_negotiate = mlfi_negotiate;
}
