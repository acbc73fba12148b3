/* fake_mta - see fake_mta.h. */
#include <stdio.h>
#include <string.h>

#include "fake_mta.h"
#include "mta.h"

void fake_macro(SMFICTX *ctx, const char *name, const char *value)
{
	for (int i = 0; i < ctx->n_macros; i++) {
		if (strcmp(ctx->macro_name[i], name) == 0) {
			if (value == NULL) {
				ctx->n_macros--;
				ctx->macro_name[i] = ctx->macro_name[ctx->n_macros];
				ctx->macro_value[i] = ctx->macro_value[ctx->n_macros];
			} else {
				ctx->macro_value[i] = value;
			}
			return;
		}
	}
	if (value != NULL && ctx->n_macros < FAKE_MAX) {
		ctx->macro_name[ctx->n_macros] = name;
		ctx->macro_value[ctx->n_macros++] = value;
	}
}

void fake_clear_actions(SMFICTX *ctx)
{
	memset(ctx->reply, 0, sizeof(ctx->reply));
	ctx->n_added = ctx->n_deleted = 0;
	ctx->quarantined = false;
	ctx->quarantine_reason[0] = '\0';
}

const char *fake_added(SMFICTX *ctx, const char *name)
{
	for (int i = 0; i < ctx->n_added; i++)
		if (strcmp(ctx->added_name[i], name) == 0)
			return ctx->added_value[i];
	return NULL;
}

const char *og_mta_getsymval(SMFICTX *ctx, const char *name)
{
	for (int i = 0; i < ctx->n_macros; i++)
		if (strcmp(ctx->macro_name[i], name) == 0)
			return ctx->macro_value[i];
	return NULL;
}

int og_mta_setsymlist(SMFICTX *ctx, int stage, const char *macros)
{
	(void)ctx;
	(void)stage;
	(void)macros;
	return MI_SUCCESS;
}

void *og_mta_getpriv(SMFICTX *ctx)
{
	return ctx->priv;
}

int og_mta_setpriv(SMFICTX *ctx, void *priv)
{
	ctx->priv = priv;
	return MI_SUCCESS;
}

int og_mta_setreply(SMFICTX *ctx, const char *rcode, const char *xcode, const char *text)
{
	snprintf(ctx->reply[0], sizeof(ctx->reply[0]), "%s", rcode);
	snprintf(ctx->reply[1], sizeof(ctx->reply[1]), "%s", xcode);
	snprintf(ctx->reply[2], sizeof(ctx->reply[2]), "%s", text);
	return MI_SUCCESS;
}

int og_mta_addheader(SMFICTX *ctx, const char *name, const char *value)
{
	if (ctx->n_added == FAKE_MAX)
		return MI_FAILURE;
	snprintf(ctx->added_name[ctx->n_added], sizeof(ctx->added_name[0]), "%s", name);
	snprintf(ctx->added_value[ctx->n_added], sizeof(ctx->added_value[0]), "%s", value);
	ctx->n_added++;
	return MI_SUCCESS;
}

int og_mta_delheader(SMFICTX *ctx, const char *name, int idx)
{
	if (ctx->n_deleted == FAKE_MAX)
		return MI_FAILURE;
	snprintf(ctx->deleted_name[ctx->n_deleted], sizeof(ctx->deleted_name[0]), "%s", name);
	ctx->deleted_idx[ctx->n_deleted++] = idx;
	return MI_SUCCESS;
}

int og_mta_quarantine(SMFICTX *ctx, const char *reason)
{
	if (ctx->fail_quarantine)
		return MI_FAILURE;
	ctx->quarantined = true;
	snprintf(ctx->quarantine_reason, sizeof(ctx->quarantine_reason), "%s", reason);
	return MI_SUCCESS;
}
