/*
 * mta - the one seam over every libmilter call the callbacks make.
 *
 * The callbacks call og_mta_* only; mta.c forwards to smfi_*, and the unit
 * tests link a fake that serves scripted macros and records what the
 * filter asked the MTA to do, so the callbacks are tested without a socket.
 */
#ifndef OG_MTA_H
#define OG_MTA_H

#include <libmilter/mfapi.h>

/* Macro NAME ("i", "{auth_authen}") or NULL. Owned by the MTA layer. */
const char *og_mta_getsymval(SMFICTX *ctx, const char *name);
int og_mta_setsymlist(SMFICTX *ctx, int stage, const char *macros);
void *og_mta_getpriv(SMFICTX *ctx);
int og_mta_setpriv(SMFICTX *ctx, void *priv);
int og_mta_setreply(SMFICTX *ctx, const char *rcode, const char *xcode, const char *text);
int og_mta_addheader(SMFICTX *ctx, const char *name, const char *value);
/* Delete the IDX-th (1-based) header called NAME. */
int og_mta_delheader(SMFICTX *ctx, const char *name, int idx);
int og_mta_quarantine(SMFICTX *ctx, const char *reason);

#endif
