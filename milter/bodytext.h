/*
 * bodytext - the readable text of a message body, for the keyword checks.
 *
 * Only as much MIME as trap words need: the text parts (text/plain,
 * text/html) of a body, followed through nested multiparts, decoded from
 * quoted-printable and base64; attachments and other parts are skipped.
 * HTML tags become a space and the common character references are decoded,
 * so "w&#105;nner" cannot hide a word; a word split by inline tags
 * ("<b>win</b>ner") is read as two ("win ner"), as a browser shows
 * "<p>win</p>ner", which keeps tag-separated words from running together.
 * Charsets are not converted: the text is passed on as its bytes, which
 * the pattern matcher accepts even when they are not valid UTF-8.
 * The body may be cut off anywhere (the MTA hands over only its first
 * bytes) and may be broken in every way: decoding goes as far as it can
 * and never fails on bad input.  Pure: knows nothing of libmilter.
 */
#ifndef OG_BODYTEXT_H
#define OG_BODYTEXT_H

#include <stddef.h>

#include "strutil.h"

#define OG_BODYTEXT_DEPTH 8      /* nested multiparts followed */

/*
 * Append to OUT at most MAX bytes of the decoded text of BODY (LEN bytes,
 * raw as the MTA passed it, CRLF or LF line ends, need not be terminated).
 * CTYPE and CTE are the message's own Content-Type and
 * Content-Transfer-Encoding header values (NULL when absent: text/plain,
 * 7bit).  The text parts are appended in order, each followed by a newline.
 * Returns 0, or -1 if out of memory.
 */
int og_bodytext_extract(const char *body, size_t len, const char *ctype, const char *cte,
                        size_t max, struct og_buf *out);

/*
 * Append the header value VALUE to OUT with its RFC 2047 encoded words
 * ("=?UTF-8?B?...?=", "=?ISO-8859-1?Q?...?=") decoded to their bytes
 * (charsets not converted) and the white space between two adjacent
 * encoded words dropped, as RFC 2047 says.  Broken words stay as written.
 * Returns 0, or -1 if out of memory.
 */
int og_bodytext_decode_words(const char *value, struct og_buf *out);

#endif
