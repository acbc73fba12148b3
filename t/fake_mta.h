/*
 * fake_mta - a stand-in for libmilter behind the mta seam: serves scripted
 * macros and records what the filter asked of the MTA.
 */
#ifndef OG_FAKE_MTA_H
#define OG_FAKE_MTA_H

#include <stdbool.h>

#include <libmilter/mfapi.h>

#define FAKE_MAX 64

struct smfi_str {
	const char *macro_name[FAKE_MAX];
	const char *macro_value[FAKE_MAX];
	int n_macros;
	void *priv;
	char reply[3][512];             /* rcode, xcode, text of the last setreply */
	char added_name[FAKE_MAX][64];
	char added_value[FAKE_MAX][1024];
	int n_added;
	char deleted_name[FAKE_MAX][64];
	int deleted_idx[FAKE_MAX];
	int n_deleted;
	bool quarantined;
	char quarantine_reason[1024];
	bool fail_quarantine;           /* make og_mta_quarantine fail */
};

/* Set (or replace) macro NAME; VALUE NULL removes it. Strings are borrowed. */
void fake_macro(SMFICTX *ctx, const char *name, const char *value);
/* Forget recorded actions (between messages). */
void fake_clear_actions(SMFICTX *ctx);
/* Value of the first added header NAME, or NULL. */
const char *fake_added(SMFICTX *ctx, const char *name);

#endif
