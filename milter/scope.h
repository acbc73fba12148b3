/*
 * scope - is this message outbound (ours to judge) or inbound (not ours)?
 *
 * A server's smtpd also receives mail from other MTAs; that must pass
 * untouched and uncounted.  Outbound is what is authenticated, what is
 * submitted locally, what comes from a trusted client network, or what
 * arrives through a daemon named as originating.  Each test can be turned
 * off in the configuration.
 */
#ifndef OG_SCOPE_H
#define OG_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "facts.h"
#include "netaddr.h"

struct og_scope_config {
	bool authenticated;          /* SASL-authenticated mail is outbound */
	bool local;                  /* local submissions (sendmail/pickup) are outbound */
	struct og_cidr *trusted_networks;
	size_t n_trusted_networks;
	char **originating_daemons;  /* {daemon_name} values, e.g. "ORIGINATING" */
	size_t n_originating_daemons;
};

enum og_scope_reason {
	OG_SCOPE_INBOUND = 0,        /* none of the tests matched */
	OG_SCOPE_AUTHENTICATED,
	OG_SCOPE_LOCAL,
	OG_SCOPE_TRUSTED_NETWORK,
	OG_SCOPE_ORIGINATING_DAEMON,
};

/* Is F a local submission (Postfix pickup: client port 0 on loopback)? */
bool og_scope_is_local(const struct og_facts *f);
/* Why F is outbound, or OG_SCOPE_INBOUND. */
enum og_scope_reason og_scope_classify(const struct og_scope_config *cfg, const struct og_facts *f);
/* "authenticated", "local", "trusted-network", "originating-daemon", "inbound". */
const char *og_scope_reason_name(enum og_scope_reason r);

#endif
