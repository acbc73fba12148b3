/*
 * identity - who is accountable for a message, as keys the rate rules count on.
 *
 * Trust order (see outguard(8), IDENTITY): the SASL login; for local
 * submissions the outguard-sendmail stamp, else the uid that PHP's mail()
 * wrote in X-PHP-Originating-Script, else the envelope sender's login;
 * otherwise the client address.  The stamp and the PHP header are read only
 * on local submissions: over SMTP anybody can write them, and a forged
 * header must not move counts onto another customer's key.
 * Logins are folded to lower case so "Alice" and "alice" count as one.
 * Errors: -1 from og_identity_of means out of memory.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "strutil.h"

static const char *const kind_names[OG_KEY__COUNT] = {
	[OG_KEY_ACCOUNT] = "account",
	[OG_KEY_DOMAIN] = "domain",
	[OG_KEY_SCRIPT] = "script",
	[OG_KEY_CLIENT] = "client",
};

const char *og_key_kind_name(enum og_key_kind k)
{
	return (unsigned)k < OG_KEY__COUNT ? kind_names[k] : "unknown";
}

int og_key_kind_from_name(const char *name)
{
	for (int k = 0; k < OG_KEY__COUNT; k++)
		if (name != NULL && strcmp(name, kind_names[k]) == 0)
			return k;
	return -1;
}

const char *og_identity_source_name(enum og_identity_source s)
{
	switch (s) {
	case OG_ID_SASL:   return "sasl";
	case OG_ID_STAMP:  return "stamp";
	case OG_ID_PHP:    return "php";
	case OG_ID_SENDER: return "sender";
	case OG_ID_CLIENT: return "client";
	case OG_ID_WEBMAIL: return "webmail";
	case OG_ID_NONE:   break;
	}
	return "none";
}

/* Parse a uid: decimal, 0 .. 2^31-1, nothing else. */
static bool parse_uid(const char *s, size_t len, long *out)
{
	long v = 0;

	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v > 2147483647L)
		return false;
	*out = v;
	return true;
}

void og_stamp_free(struct og_stamp *s)
{
	free(s->user);
	free(s->cwd);
	s->user = s->cwd = NULL;
	s->uid = -1;
}

/*
 * "uid=1001; user=web1; cwd=/var/www/site one".  cwd comes last and runs to
 * the end of the value, because a directory name may hold "; ".
 */
bool og_stamp_parse(const char *value, struct og_stamp *out)
{
	const char *p = value;

	out->uid = -1;
	out->user = out->cwd = NULL;
	if (value == NULL)
		return false;
	while (*p != '\0') {
		const char *end;
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		if (*p == '\0')
			break;
		if (strncmp(p, "cwd=", 4) == 0) {
			free(out->cwd);
			if ((out->cwd = og_strdup(p + 4)) == NULL)
				goto fail;
			break;
		}
		end = strchr(p, ';');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 4 && strncmp(p, "uid=", 4) == 0) {
			if (!parse_uid(p + 4, len - 4, &out->uid))
				goto fail;
		} else if (len > 5 && strncmp(p, "user=", 5) == 0) {
			free(out->user);
			if ((out->user = og_strndup(p + 5, len - 5)) == NULL)
				goto fail;
		}       /* unknown fields are skipped: newer wrappers may add some */
		p += len;
		if (end == NULL)
			break;
		p = end + 1;
	}
	if (out->uid >= 0)
		return true;
fail:
	og_stamp_free(out);
	return false;
}

bool og_php_script_parse(const char *value, long *uid, char **file)
{
	const char *colon;

	*file = NULL;
	*uid = -1;
	if (value == NULL || (colon = strchr(value, ':')) == NULL || colon[1] == '\0')
		return false;
	if (!parse_uid(value, (size_t)(colon - value), uid))
		return false;
	if ((*file = og_strdup(colon + 1)) == NULL) {
		*uid = -1;
		return false;
	}
	return true;
}

/* "PREFIX" + "REST", lower-cased when FOLD; caller frees. */
static char *make_key(const char *prefix, const char *rest, bool fold)
{
	struct og_buf b;

	og_buf_init(&b);
	if (og_buf_puts(&b, prefix) < 0 || og_buf_puts(&b, rest) < 0) {
		og_buf_free(&b);
		return NULL;
	}
	if (fold)
		og_str_lower(b.data + strlen(prefix));
	return b.data;
}

static bool is_loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
	       strncmp(addr, "::ffff:127.", 11) == 0;
}

/* The account of a local submission: stamp, then PHP header uid, then sender login. */
static int local_account(const struct og_facts *f, struct og_identity *id)
{
	char num[24];

	if (f->stamp != NULL && og_stamp_parse(f->stamp, &id->stamp)) {
		snprintf(num, sizeof(num), "%ld", id->stamp.uid);
		id->source = OG_ID_STAMP;
		return (id->key[OG_KEY_ACCOUNT] = make_key("uid:", num, false)) ? 0 : -1;
	}
	if (id->php_uid >= 0) {
		snprintf(num, sizeof(num), "%ld", id->php_uid);
		id->source = OG_ID_PHP;
		return (id->key[OG_KEY_ACCOUNT] = make_key("uid:", num, false)) ? 0 : -1;
	}
	/* sendmail without -f uses the caller's login; Postfix appends @$myorigin. */
	{
		const char *s = f->sender != NULL && f->sender[0] != '\0' ? f->sender : "MAILER-DAEMON";
		const char *at = strrchr(s, '@');
		char *login = og_strndup(s, at != NULL ? (size_t)(at - s) : strlen(s));

		if (login == NULL)
			return -1;
		id->source = OG_ID_SENDER;
		id->key[OG_KEY_ACCOUNT] = make_key("local:", login, true);
		free(login);
		return id->key[OG_KEY_ACCOUNT] ? 0 : -1;
	}
}

/*
 * Is the local submission F a webmail's?  An entry with a '/' is a
 * directory the outguard-sendmail stamp's cwd must lie in (ST, may be
 * NULL); "UID:FILE" must equal the X-PHP-Originating-Script value (UID,
 * FILE); a bare "FILE" matches that file name of any uid.
 */
static bool is_webmail(const struct og_stamp *st, long uid, const char *file,
                       const struct og_webmail *w)
{
	for (size_t i = 0; w != NULL && i < w->n; i++) {
		const char *e = w->entries[i], *colon = strchr(e, ':');
		size_t len = strlen(e);

		if (strchr(e, '/') != NULL) {
			/* a directory: the cwd is it or lies under it */
			if (st != NULL && st->cwd != NULL && strncmp(st->cwd, e, len) == 0 &&
			    (st->cwd[len] == '\0' || st->cwd[len] == '/' || e[len - 1] == '/'))
				return true;
		} else if (file == NULL) {
			continue;
		} else if (colon != NULL) {
			long euid;

			if (parse_uid(e, (size_t)(colon - e), &euid) && euid == uid &&
			    strcmp(colon + 1, file) == 0)
				return true;
		} else if (strcmp(file, e) == 0) {
			return true;
		}
	}
	return false;
}

/* The keys of a webmail user: "webmail:ADDRESS", "domain:DOMAIN". 1 if set, 0 if no address. */
static int webmail_account(const struct og_facts *f, struct og_identity *id)
{
	const char *domain = og_address_domain(f->sender);

	if (f->sender == NULL || domain == NULL || domain == f->sender + 1)
		return 0;
	id->source = OG_ID_WEBMAIL;
	id->webmail = true;
	if ((id->key[OG_KEY_ACCOUNT] = make_key("webmail:", f->sender, true)) == NULL ||
	    (id->key[OG_KEY_DOMAIN] = make_key("domain:", domain, true)) == NULL)
		return -1;
	return 1;
}

int og_identity_of(const struct og_facts *f, bool local, const struct og_webmail *webmail,
                   struct og_identity *id)
{
	int rc;

	memset(id, 0, sizeof(*id));
	id->stamp.uid = -1;
	id->php_uid = -1;
	id->local = local;

	if (local && f->auth_authen == NULL && (f->php_script != NULL || f->stamp != NULL)) {
		struct og_stamp st;
		bool stamped = f->stamp != NULL && og_stamp_parse(f->stamp, &st);
		long uid = -1;
		char *file = NULL;
		bool yes;

		if (f->php_script != NULL)
			og_php_script_parse(f->php_script, &uid, &file);
		yes = is_webmail(stamped ? &st : NULL, uid, file, webmail);
		free(file);
		if (yes) {
			/* the stamp stays in the evidence: which uid, which folder */
			if (stamped)
				id->stamp = st;
			if ((rc = webmail_account(f, id)) < 0)
				goto oom;
			if (rc > 0)
				return 0;
			/* no sender address: keyed as any other local submission */
			og_stamp_free(&id->stamp);
		} else if (stamped) {
			og_stamp_free(&st);
		}
	}
	if (local && f->php_script != NULL &&
	    og_php_script_parse(f->php_script, &id->php_uid, &id->php_file)) {
		char num[24];
		struct og_buf b;

		snprintf(num, sizeof(num), "%ld", id->php_uid);
		og_buf_init(&b);
		if (og_buf_printf(&b, "php:%s:%s", num, id->php_file) < 0)
			goto oom;
		id->key[OG_KEY_SCRIPT] = b.data;
	}

	if (f->auth_authen != NULL && f->auth_authen[0] != '\0') {
		const char *domain = og_address_domain(f->auth_authen);

		id->source = OG_ID_SASL;
		if ((id->key[OG_KEY_ACCOUNT] = make_key("sasl:", f->auth_authen, true)) == NULL)
			goto oom;
		if (domain != NULL && (id->key[OG_KEY_DOMAIN] = make_key("domain:", domain, true)) == NULL)
			goto oom;
	} else if (local) {
		if (local_account(f, id) < 0)
			goto oom;
	} else if (f->client_addr != NULL) {
		id->source = OG_ID_CLIENT;
		if ((id->key[OG_KEY_ACCOUNT] = make_key("ip:", f->client_addr, true)) == NULL)
			goto oom;
	}

	/* The server itself (webmail, local relays) is no client to rate. */
	if (!local && f->client_addr != NULL && !is_loopback(f->client_addr) &&
	    (id->key[OG_KEY_CLIENT] = make_key("ip:", f->client_addr, true)) == NULL)
		goto oom;
	return 0;
oom:
	og_identity_free(id);
	return -1;
}

void og_identity_free(struct og_identity *id)
{
	for (int k = 0; k < OG_KEY__COUNT; k++) {
		free(id->key[k]);
		id->key[k] = NULL;
	}
	og_stamp_free(&id->stamp);
	free(id->php_file);
	id->php_file = NULL;
	id->php_uid = -1;
}
