#!/bin/sh
# The core library must know nothing of libmilter: only the glue files
# (main.c, callbacks.c, mta.c and their headers, milter_signals.c) may
# include mfapi.h or name libmilter's functions.
srcdir=${top_srcdir:-$(dirname "$0")/..}
glue='main.c callbacks.c callbacks.h mta.c mta.h milter_signals.c'
status=0
for f in "$srcdir"/milter/*.[ch]; do
	name=$(basename "$f")
	case " $glue " in *" $name "*) continue ;; esac
	if grep -n -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](libmilter/)?mf(api|def)\.h' "$f"; then
		echo "not ok - milter/$name includes libmilter: the core must stay pure"
		status=1
	fi
	if grep -n -E '\b(SMFICTX|SMFIS_[A-Z]+|smfi_[a-z]+)\b' "$f" >/dev/null; then
		echo "not ok - milter/$name uses libmilter names:"
		grep -n -E '\b(SMFICTX|SMFIS_[A-Z]+|smfi_[a-z]+)\b' "$f" | head -5
		status=1
	fi
done
[ $status -eq 0 ] && echo "ok - the core library knows nothing of libmilter"
exit $status
