/*
 * scope - decide whether a message is outbound (judged) or inbound (passed
 * untouched and uncounted).  Pure: reads the facts and the scope settings.
 *
 * Local submissions are recognised the way Postfix presents them to
 * non_smtpd_milters: cleanup simulates a connection from 127.0.0.1 with
 * client port 0, which no real TCP client can have.
 */
#include <string.h>

#include "scope.h"
#include "strutil.h"

bool og_scope_is_local(const struct og_facts *f)
{
	if (!f->client_port_known || f->client_port != 0 || f->client_addr == NULL)
		return false;
	return strcmp(f->client_addr, "127.0.0.1") == 0 || strcmp(f->client_addr, "::1") == 0;
}

enum og_scope_reason og_scope_classify(const struct og_scope_config *cfg, const struct og_facts *f)
{
	if (cfg->authenticated && f->auth_authen != NULL && f->auth_authen[0] != '\0')
		return OG_SCOPE_AUTHENTICATED;
	if (cfg->local && og_scope_is_local(f))
		return OG_SCOPE_LOCAL;
	if (f->daemon_name != NULL)
		for (size_t i = 0; i < cfg->n_originating_daemons; i++)
			if (strcmp(cfg->originating_daemons[i], f->daemon_name) == 0)
				return OG_SCOPE_ORIGINATING_DAEMON;
	if (f->client_addr != NULL &&
	    og_cidr_list_contains(cfg->trusted_networks, cfg->n_trusted_networks, f->client_addr))
		return OG_SCOPE_TRUSTED_NETWORK;
	return OG_SCOPE_INBOUND;
}

const char *og_scope_reason_name(enum og_scope_reason r)
{
	switch (r) {
	case OG_SCOPE_AUTHENTICATED:      return "authenticated";
	case OG_SCOPE_LOCAL:              return "local";
	case OG_SCOPE_TRUSTED_NETWORK:    return "trusted-network";
	case OG_SCOPE_ORIGINATING_DAEMON: return "originating-daemon";
	case OG_SCOPE_INBOUND:            break;
	}
	return "inbound";
}
