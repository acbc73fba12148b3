/*
 * trace_time - times for outguard-trace: a record's "time" as the daemon
 * writes it (the fast path of every line) or in any form the command line
 * takes, --since and --until as given, and times for the output.  See
 * trace_read.h (og_trace_parse_time, og_trace_format_time) and
 * trace_read_internal.h.  Reports nothing: a time that is not one is false.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "trace_read_internal.h"

/* Days from 1970-01-01 to Y-M-D of the proleptic Gregorian calendar (Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* N decimal digits at *S into *V, advancing *S.  false if they are not all digits. */
static bool digits(const char **s, const char *end, int n, int *v)
{
	int x = 0;

	if (end - *s < n)
		return false;
	for (int i = 0; i < n; i++) {
		char c = (*s)[i];

		if (c < '0' || c > '9')
			return false;
		x = x * 10 + (c - '0');
	}
	*s += n;
	*v = x;
	return true;
}

/* "YYYY-MM-DD[(T| )HH:MM[:SS[.F]][Z|(+|-)HH[:]MM]]" at S..END as ms.  false if not that. */
static bool parse_utc(const char *s, const char *end, int64_t *out)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, off = 0;

	if (!digits(&s, end, 4, &y) || s == end || *s++ != '-' || !digits(&s, end, 2, &mo) ||
	    s == end || *s++ != '-' || !digits(&s, end, 2, &d))
		return false;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return false;
	if (s < end) {
		if (*s != 'T' && *s != 't' && *s != ' ')
			return false;
		s++;
		if (!digits(&s, end, 2, &h) || s == end || *s++ != ':' || !digits(&s, end, 2, &mi) ||
		    h > 23 || mi > 59)
			return false;
		if (s < end && *s == ':') {
			s++;
			if (!digits(&s, end, 2, &sec) || sec > 59)
				return false;
			if (s < end && *s == '.') {
				int scale = 100, n = 0;

				for (s++; s < end && *s >= '0' && *s <= '9'; s++, n++) {
					ms += (*s - '0') * scale;
					scale /= 10;
				}
				if (n == 0 || n > 9)
					return false;
			}
		}
		if (s < end && (*s == 'Z' || *s == 'z')) {
			s++;
		} else if (s < end && (*s == '+' || *s == '-')) {
			int sign = *s++ == '-' ? -1 : 1, oh, om;

			if (!digits(&s, end, 2, &oh))
				return false;
			if (s < end && *s == ':')
				s++;
			if (!digits(&s, end, 2, &om) || oh > 23 || om > 59)
				return false;
			off = sign * (oh * 60 + om);
		}
	}
	if (s != end)
		return false;
	*out = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - off * 60) * 1000 + ms;
	return true;
}

bool og_trace_parse_time(const char *text, int64_t now_ms, int64_t *out)
{
	static const struct { char unit; int64_t ms; } units[] = {
		{ 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 }, { 'd', 86400000 },
		{ 'w', 604800000 },
	};
	size_t len = text != NULL ? strlen(text) : 0;
	uint64_t n = 0;
	size_t i;

	if (len == 0)
		return false;
	/* a relative time: digits and one unit */
	for (i = 0; i < len && text[i] >= '0' && text[i] <= '9'; i++)
		if ((n = n * 10 + (uint64_t)(text[i] - '0')) > 1000000000)
			return false;
	if (i > 0 && i == len - 1) {
		for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
			/* at most a century back: no overflow, no time before 1870 */
			if (text[i] == units[u].unit && n <= (uint64_t)(INT64_C(3155760000000) / units[u].ms)) {
				*out = now_ms - (int64_t)n * units[u].ms;
				return true;
			}
		}
		return false;
	}
	return parse_utc(text, text + len, out);
}

/*
 * The time of a record as outguard writes it, "2026-11-23T03:01:02.123Z"
 * (exactly), as ms.  The fast path of every line; false for any other shape.
 */
bool og_trace_record_time(const char *s, size_t len, int64_t *out)
{
	static const int pos[] = { 0, 5, 8, 11, 14, 17, 20 }, width[] = { 4, 2, 2, 2, 2, 2, 3 };
	int v[7];

	if (len != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != '.' || s[23] != 'Z')
		return false;
	for (int i = 0; i < 7; i++) {
		const char *p = s + pos[i];

		if (!digits(&p, s + len, width[i], &v[i]))
			return false;
	}
	if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > days_in_month(v[0], v[1]) ||
	    v[3] > 23 || v[4] > 59 || v[5] > 59)
		return false;
	*out = (days_from_civil(v[0], v[1], v[2]) * 86400 + v[3] * 3600 + v[4] * 60 + v[5]) * 1000 +
	       v[6];
	return true;
}

/* The time of a "time" value in any accepted form. */
bool og_trace_any_time(const char *s, size_t len, int64_t *out)
{
	return og_trace_record_time(s, len, out) || parse_utc(s, s + len, out);
}

void og_trace_format_time(int64_t ms, bool seconds, char *buf, size_t len)
{
	time_t t;
	struct tm tm;

	if (ms == INT64_MIN || ms == INT64_MAX) {
		snprintf(buf, len, "-");       /* no time */
		return;
	}
	t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, seconds ? "%Y-%m-%dT%H:%M:%SZ" :
	                                          "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(buf, len, "?");
}
