/*
 * identity - who is accountable for a message.
 *
 * In order of trust: the SASL login; for local submissions the stamp of
 * outguard-sendmail (uid, login, working directory), else the uid in
 * X-PHP-Originating-Script, else a bare-login envelope sender; otherwise the
 * client address.  A message carries several keys, one per kind, and each
 * rate rule says which kind it counts on.  Keys are strings with a prefix:
 *   account: "sasl:alice@example.com", "uid:1001", "local:www-data", "ip:192.0.2.7",
 *            "webmail:bob@example.com"
 *   domain:  "domain:example.com"      (domain of a SASL or webmail login with an '@')
 *   script:  "php:1001:contact.php"    (X-PHP-Originating-Script)
 *   client:  "ip:192.0.2.7"
 */
#ifndef OG_IDENTITY_H
#define OG_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#include "facts.h"

enum og_key_kind {
	OG_KEY_ACCOUNT = 0,
	OG_KEY_DOMAIN,
	OG_KEY_SCRIPT,
	OG_KEY_CLIENT,
	OG_KEY__COUNT
};

/* What the account key was derived from. */
enum og_identity_source {
	OG_ID_NONE = 0,
	OG_ID_SASL,        /* {auth_authen} */
	OG_ID_STAMP,       /* X-Outguard-Submitter on a local submission */
	OG_ID_PHP,         /* uid from X-PHP-Originating-Script on a local submission */
	OG_ID_SENDER,      /* bare login envelope sender of a local submission */
	OG_ID_CLIENT,      /* client address */
	OG_ID_WEBMAIL,     /* envelope sender of a local submission by a webmail script */
};

/* Parsed outguard-sendmail stamp: "uid=1001; user=web1; cwd=/var/www/site1". */
struct og_stamp {
	long uid;          /* -1 if absent */
	char *user;        /* NULL if absent */
	char *cwd;         /* NULL if absent */
};

struct og_identity {
	char *key[OG_KEY__COUNT];   /* NULL where the kind does not apply */
	enum og_identity_source source;
	struct og_stamp stamp;      /* filled when source is OG_ID_STAMP */
	long php_uid;               /* -1 if no X-PHP-Originating-Script */
	char *php_file;
	bool local;                 /* local submission */
	bool webmail;               /* the script is a webmail's: no script key */
};

/* Webmail scripts: "UID:FILE" as in X-PHP-Originating-Script ("33:rcube.php"),
   a bare file name of any uid ("rcube.php"), or a directory (with a '/')
   the outguard-sendmail stamp's cwd lies in ("/usr/share/roundcube/"). */
struct og_webmail {
	const char *const *entries;
	size_t n;
};

/* Work out the keys of F. LOCAL says whether F is a local submission
 * (og_scope_is_local).  A local submission by a WEBMAIL script (may be NULL)
 * is keyed by its envelope sender, the webmail user, as
 * "webmail:ADDRESS" with "domain:DOMAIN", and gets no script key.
 * Returns 0, or -1 if out of memory. */
int og_identity_of(const struct og_facts *f, bool local, const struct og_webmail *webmail,
                   struct og_identity *out);
void og_identity_free(struct og_identity *id);

/* "account", "domain", "script", "client"; and the reverse (-1 if unknown). */
const char *og_key_kind_name(enum og_key_kind k);
int og_key_kind_from_name(const char *name);
/* "sasl", "stamp", "php", "sender", "client", "none". */
const char *og_identity_source_name(enum og_identity_source s);

/* Parse a stamp header value. Returns false if it is not one. Caller frees with og_stamp_free. */
bool og_stamp_parse(const char *value, struct og_stamp *out);
void og_stamp_free(struct og_stamp *s);
/* Parse "1001:contact.php" → uid, file (caller frees *file). */
bool og_php_script_parse(const char *value, long *uid, char **file);

#endif
