/*
 * mta - forwards the callbacks' requests to libmilter (see mta.h).
 * libmilter's prototypes predate const; the casts below are safe because
 * libmilter only reads these strings.
 */
#include <stddef.h>

#include "mta.h"

const char *og_mta_getsymval(SMFICTX *ctx, const char *name)
{
	return smfi_getsymval(ctx, (char *)name);
}

int og_mta_setsymlist(SMFICTX *ctx, int stage, const char *macros)
{
	return smfi_setsymlist(ctx, stage, (char *)macros);
}

void *og_mta_getpriv(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

int og_mta_setpriv(SMFICTX *ctx, void *priv)
{
	return smfi_setpriv(ctx, priv);
}

int og_mta_setreply(SMFICTX *ctx, const char *rcode, const char *xcode, const char *text)
{
	return smfi_setreply(ctx, (char *)rcode, (char *)xcode, (char *)text);
}

int og_mta_addheader(SMFICTX *ctx, const char *name, const char *value)
{
	return smfi_addheader(ctx, (char *)name, (char *)value);
}

int og_mta_delheader(SMFICTX *ctx, const char *name, int idx)
{
	return smfi_chgheader(ctx, (char *)name, idx, NULL);
}

int og_mta_quarantine(SMFICTX *ctx, const char *reason)
{
	return smfi_quarantine(ctx, (char *)reason);
}
