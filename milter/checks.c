/*
 * checks - figures of the checks that read the message: trap phrases,
 * header patterns, Message-ID problems, sender/account mismatch, brand
 * display names, PHP scripts and hidden recipients.  See checks.h and
 * outguard.rules(5), CHECKS.
 *
 * A pattern search that reaches its match limit counts what it found so
 * far and marks the result `limited`; it never fails the message.
 * Errors: -1 only when memory runs out.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bodytext.h"
#include "checks.h"
#include "hdrparse.h"
#include "pattern.h"

void og_msgview_init(struct og_msgview *m, const struct og_facts *f, const struct og_identity *id)
{
	memset(m, 0, sizeof(*m));
	m->f = f;
	m->id = id;
	og_buf_init(&m->text);
	og_buf_init(&m->subject);
}

void og_msgview_free(struct og_msgview *m)
{
	free(m->from_addr);
	m->from_addr = NULL;
	og_buf_free(&m->text);
	og_buf_free(&m->subject);
}

const char *og_msgview_from(struct og_msgview *m)
{
	if (!m->from_done) {
		m->from_done = true;
		m->from_addr = og_mailbox_address(m->f->from);
	}
	return m->from_addr;
}

/* The decoded body text, worked out once.  -1 if out of memory. */
static int body_text(struct og_msgview *m, size_t max, const char **text, size_t *len)
{
	if (!m->text_done) {
		const struct og_facts *f = m->f;

		m->text_done = true;
		if (f->body.len > 0 &&
		    og_bodytext_extract(f->body.data, f->body.len, f->content_type,
		                        f->content_encoding, m->text_max, &m->text) < 0)
			return -1;
	}
	*text = m->text.data != NULL ? m->text.data : "";
	*len = m->text.len < max ? m->text.len : max;
	return 0;
}

/* The Subject with RFC 2047 encoded words decoded, worked out once. */
static int subject_text(struct og_msgview *m, const char **text, size_t *len)
{
	if (!m->subject_done) {
		m->subject_done = true;
		if (m->f->subject != NULL && og_bodytext_decode_words(m->f->subject, &m->subject) < 0)
			return -1;
	}
	*text = m->subject.data != NULL ? m->subject.data : "";
	*len = m->subject.len;
	return 0;
}

/* Copy S (LEN bytes) into the hit's detail, non-printable bytes as '?'. */
static void set_detail(struct og_hit *hit, const char *s, size_t len)
{
	size_t n = len < OG_HIT_DETAIL_MAX - 1 ? len : OG_HIT_DETAIL_MAX - 1;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		hit->detail[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	hit->detail[n] = '\0';
}

/* Add the phrases of R->found not yet in HIT. */
static void merge_found(struct og_hit *hit, const size_t *found, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool seen = false;

		for (size_t j = 0; j < hit->n_found && !seen; j++)
			seen = hit->found[j] == found[i];
		if (!seen && hit->n_found < OG_HIT_FOUND_MAX)
			hit->found[hit->n_found++] = found[i];
	}
}

/*
 * Search PART (LEN bytes of TEXT) with P, or take the result of the same
 * search by an earlier rule of this message.  When no room is left to
 * remember it, the result goes to SPARE.  NULL if out of memory.
 */
static const struct og_search *search(struct og_msgview *m, const struct og_pattern *p, int part,
                                      const char *text, size_t len, struct og_search *spare)
{
	struct og_pattern_result pr;
	struct og_search *s = spare;

	for (size_t i = 0; i < m->n_search; i++)
		if (m->search[i].pattern == p && m->search[i].part == part && m->search[i].len == len)
			return &m->search[i];
	if (m->n_search < OG_MSGVIEW_SEARCHES)
		s = &m->search[m->n_search];
	if (og_pattern_search(p, text, len, s->found, OG_MSGVIEW_FOUND, &pr) < 0)
		return NULL;
	s->pattern = p;
	s->part = part;
	s->len = len;
	s->count = pr.count;
	s->limited = pr.limited;
	s->n_found = pr.count < OG_MSGVIEW_FOUND ? pr.count : OG_MSGVIEW_FOUND;
	if (s != spare)
		m->n_search++;
	return s;
}

/* keywords: distinct phrases found in the Subject and the body text. */
static int keywords(const struct og_rule *r, struct og_msgview *m, struct og_result *res,
                    struct og_hit *hit)
{
	const struct og_search *subj = NULL, *body = NULL;
	struct og_search spare[2];
	const char *text;
	size_t len;

	res->figure = 0;
	if (r->in & OG_IN_SUBJECT) {
		if (subject_text(m, &text, &len) < 0 ||
		    (subj = search(m, r->list->pattern, OG_IN_SUBJECT, text, len, &spare[0])) == NULL)
			return -1;
		res->figure = subj->count;
		res->limited |= subj->limited;
		merge_found(hit, subj->found, subj->n_found);
	}
	if (r->in & OG_IN_BODY) {
		size_t overlap = 0;

		if (body_text(m, r->body_bytes, &text, &len) < 0 ||
		    (body = search(m, r->list->pattern, OG_IN_BODY, text, len, &spare[1])) == NULL)
			return -1;
		res->limited |= body->limited;
		/* a phrase in both the Subject and the body counts once */
		for (size_t i = 0; subj != NULL && i < body->n_found; i++)
			for (size_t j = 0; j < subj->n_found; j++)
				overlap += subj->found[j] == body->found[i];
		res->figure += body->count - overlap;
		merge_found(hit, body->found, body->n_found);
	}
	return 1;
}

/* header: the first value of the header matches the pattern. */
static int header(const struct og_rule *r, struct og_msgview *m, struct og_result *res,
                  struct og_hit *hit)
{
	const char *v = og_facts_extra_header(m->f, r->header);
	struct og_pattern_result pr;

	if (v == NULL)
		return 0;
	if (og_pattern_search(r->pattern, v, strlen(v), NULL, 0, &pr) < 0)
		return -1;
	res->figure = pr.count;
	res->limited = pr.limited;
	if (pr.count > 0)
		set_detail(hit, v, strlen(v));
	return 1;
}

/*
 * Did the MTA write this Message-ID?  Postfix's cleanup adds a missing one
 * as <YYYYMMDDhhmmss.QUEUEID@myhostname>, or <QUEUEID@myhostname> with long
 * queue IDs; it comes after the client's headers, so the first Message-ID is
 * the MTA's only when the client sent none.
 */
static bool mta_added(const struct og_facts *f)
{
	const char *lt, *at;
	size_t ql;

	if (f->message_id == NULL || f->queue_id == NULL || (ql = strlen(f->queue_id)) == 0)
		return false;
	if ((lt = strchr(f->message_id, '<')) == NULL || (at = strchr(lt, '@')) == NULL)
		return false;
	lt++;
	if ((size_t)(at - lt) < ql || strncmp(at - ql, f->queue_id, ql) != 0)
		return false;
	return at - ql == lt || at[-(ptrdiff_t)ql - 1] == '.';
}

/*
 * Is DOMAIN (LEN) related to the sender, the From address, the login, the
 * MTA's own host name or a listed domain?
 */
static bool msgid_domain_ours(const struct og_rule *r, struct og_msgview *m, const char *domain,
                              size_t len)
{
	const char *cands[4] = {
		og_address_domain(m->f->sender), og_address_domain(og_msgview_from(m)),
		og_address_domain(m->f->auth_authen), m->f->mta_host,
	};
	size_t bl, cl;
	const char *base = og_domain_base(domain, len, &bl);

	for (size_t i = 0; i < r->n_domains; i++)
		if (og_domain_within(domain, len, r->domains[i]))
			return true;
	for (size_t i = 0; i < 4; i++) {
		const char *c = cands[i], *cbase;

		if (c == NULL)
			continue;
		cbase = og_domain_base(c, strlen(c), &cl);
		/* same organisation: mail.example.com and example.com */
		if (cl == bl && strncasecmp(cbase, base, bl) == 0)
			return true;
	}
	return false;
}

/* message-id: the problem of the message's Message-ID, if it is one the rule looks for. */
static int message_id(const struct og_rule *r, struct og_msgview *m, struct og_result *res,
                      struct og_hit *hit)
{
	const struct og_facts *f = m->f;
	const char *domain;
	size_t len;
	unsigned problem = 0;

	if (f->message_id == NULL || mta_added(f))
		problem = OG_MSGID_MISSING;
	else if (!og_msgid_parse(f->message_id, &domain, &len))
		problem = OG_MSGID_INVALID;
	else if (!msgid_domain_ours(r, m, domain, len))
		problem = OG_MSGID_FOREIGN;
	res->figure = (problem & r->problems) != 0;
	if (res->figure > 0) {
		const char *name = og_msgid_problem_name(problem);

		if (problem == OG_MSGID_MISSING || f->message_id == NULL) {
			set_detail(hit, name, strlen(name));
		} else {
			char d[OG_HIT_DETAIL_MAX];

			snprintf(d, sizeof(d), "%s %s", name, f->message_id);
			set_detail(hit, d, strlen(d));
		}
	}
	return 1;
}

/* The domains account ID may send from, under rule R: NULL when none is known. */
static const struct og_key_limit *account_domains(const struct og_rule *r,
                                                  const struct og_identity *id)
{
	for (size_t i = 0; i < r->n_overrides; i++)
		for (int k = 0; k < OG_KEY__COUNT; k++)
			if (id->key[k] != NULL && strcmp(id->key[k], r->overrides[i].key) == 0)
				return &r->overrides[i];
	return NULL;
}

/* May ADDR be sent by the account with login domain LOGIN_DOMAIN and the listed domains? */
static bool address_allowed(const char *addr, const char *login_domain,
                            const struct og_key_limit *acct, const struct og_rule *r)
{
	const char *d = og_address_domain(addr);
	size_t len;

	if (d == NULL)
		return true;                 /* a bare login: Postfix qualifies it with our domain */
	len = strlen(d);
	if (login_domain != NULL && og_domain_within(d, len, login_domain))
		return true;
	for (size_t i = 0; acct != NULL && i < acct->n_domains; i++)
		if (og_domain_within(d, len, acct->domains[i]))
			return true;
	for (size_t i = 0; i < r->n_domains; i++)
		if (og_domain_within(d, len, r->domains[i]))
			return true;
	return false;
}

/* sender-mismatch: envelope sender and From addresses outside the account's domains. */
static int sender_mismatch(const struct og_rule *r, struct og_msgview *m, struct og_result *res,
                           struct og_hit *hit)
{
	const struct og_facts *f = m->f;
	const char *login_domain = og_address_domain(f->auth_authen);
	const struct og_key_limit *acct = account_domains(r, m->id);
	const char *from = og_msgview_from(m);

	if (m->id->source != OG_ID_SASL)
		return 0;
	if (login_domain == NULL && acct == NULL && r->n_domains == 0)
		return 0;                    /* nothing to compare with */
	res->figure = 0;
	if ((r->addresses & OG_ADDR_ENVELOPE) && f->sender != NULL && f->sender[0] != '\0' &&
	    !address_allowed(f->sender, login_domain, acct, r)) {
		res->figure++;
		set_detail(hit, f->sender, strlen(f->sender));
	}
	if ((r->addresses & OG_ADDR_FROM) && from != NULL &&
	    !address_allowed(from, login_domain, acct, r)) {
		res->figure++;
		if (hit->detail[0] == '\0')
			set_detail(hit, from, strlen(from));
	}
	return 1;
}

/* display-name: a brand named in From's display name, the address not the brand's. */
static int display_name(const struct og_rule *r, struct og_msgview *m, struct og_result *res,
                        struct og_hit *hit)
{
	struct og_pattern_result pr;
	size_t found[8];
	char *name = og_mailbox_display_name(m->f->from);
	const char *from = og_msgview_from(m), *d;
	struct og_buf decoded;
	int rc = 1;

	if (name == NULL)
		return m->f->from == NULL ? 0 : 1;
	/* "=?UTF-8?B?UGF5UGFs?=" is PayPal too */
	og_buf_init(&decoded);
	if (og_bodytext_decode_words(name, &decoded) < 0 ||
	    og_pattern_search(r->brand_pattern, decoded.data != NULL ? decoded.data : "",
	                      decoded.len, found, 8, &pr) < 0) {
		og_buf_free(&decoded);
		free(name);
		return -1;
	}
	og_buf_free(&decoded);
	res->figure = 0;
	res->limited = pr.limited;
	d = og_address_domain(from);
	for (size_t i = 0; i < pr.count && i < 8; i++) {
		const struct og_brand *b = &r->brands[found[i]];
		bool own = false;

		for (size_t j = 0; d != NULL && j < b->n_domains && !own; j++)
			own = og_domain_within(d, strlen(d), b->domains[j]);
		if (!own) {
			res->figure++;
			set_detail(hit, b->name, strlen(b->name));
		}
	}
	free(name);
	return rc;
}

/* script: a PHP script sent it; with paths, its name or the submitter's directory matches one. */
static int script(const struct og_rule *r, struct og_msgview *m, struct og_result *res,
                  struct og_hit *hit)
{
	const struct og_identity *id = m->id;
	const char *where[2] = { id->php_file, id->stamp.cwd };

	if (!id->local || id->webmail || (id->php_file == NULL && id->stamp.cwd == NULL))
		return 0;
	res->figure = 0;
	if (r->n_patterns == 0) {
		if (id->php_file == NULL)
			return 0;
		res->figure = 1;
		set_detail(hit, id->php_file, strlen(id->php_file));
		return 1;
	}
	for (size_t i = 0; i < r->n_patterns; i++) {
		for (size_t w = 0; w < 2; w++) {
			struct og_pattern_result pr;

			if (where[w] == NULL)
				continue;
			if (og_pattern_search(r->patterns[i], where[w], strlen(where[w]), NULL, 0, &pr) < 0)
				return -1;
			res->limited |= pr.limited;
			if (pr.count > 0) {
				if (res->figure++ == 0)
					set_detail(hit, where[w], strlen(where[w]));
				break;
			}
		}
	}
	return 1;
}

/* hidden-recipients: envelope recipients beyond the addresses in To and Cc. */
static int hidden_recipients(const struct og_rule *r, struct og_msgview *m, struct og_result *res,
                             struct og_hit *hit)
{
	const struct og_facts *f = m->f;

	(void)r;
	(void)hit;
	res->figure = f->rcpt_count > f->hdr_rcpt_count ? f->rcpt_count - f->hdr_rcpt_count : 0;
	return 1;
}

int og_check_content(const struct og_rule *r, struct og_msgview *m, struct og_result *res,
                     struct og_hit *hit)
{
	switch (r->check) {
	case OG_CHECK_KEYWORDS:          return keywords(r, m, res, hit);
	case OG_CHECK_HEADER:            return header(r, m, res, hit);
	case OG_CHECK_MESSAGE_ID:        return message_id(r, m, res, hit);
	case OG_CHECK_SENDER_MISMATCH:   return sender_mismatch(r, m, res, hit);
	case OG_CHECK_DISPLAY_NAME:      return display_name(r, m, res, hit);
	case OG_CHECK_SCRIPT:            return script(r, m, res, hit);
	case OG_CHECK_HIDDEN_RECIPIENTS: return hidden_recipients(r, m, res, hit);
	case OG_CHECK_RECIPIENTS:
	case OG_CHECK_RATE:
	case OG_CHECK__COUNT:
		break;
	}
	return 0;
}
