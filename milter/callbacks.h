/*
 * callbacks - the libmilter callbacks (see callbacks.c).
 */
#ifndef OG_CALLBACKS_H
#define OG_CALLBACKS_H

#include <libmilter/mfapi.h>

#include "runtime.h"

/* Give the callbacks the runtime they judge with; call once before smfi_main. */
void og_callbacks_init(struct og_runtime *rt);
/* Fill DESC for smfi_register. */
void og_callbacks_describe(struct smfiDesc *desc);

#endif
