/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_CANON_H
#define TILLROLL_CANON_H

/*
 * Canonical JSON text, recognised.  The records between the stages are
 * written canonically (the bytes `jq -cS` prints: compact, members sorted
 * bytewise at every depth).  A stage that adds a few members to a record
 * it was given can then copy the record's text as it is and write only
 * what it adds, instead of printing the whole parsed tree again, provided
 * the text it copies is canonical: canon_object() says whether it is, and
 * where its members are.
 *
 * What counts as canonical is deliberately narrow: what jw and json_emit
 * write for records (integers of at most 15 digits, strings escaped as
 * libjq escapes them, valid UTF-8, names without escapes).  Text outside
 * it, even when canonical in fact, is refused, and the caller takes its
 * slower general path; the answer is never wrong the other way.
 */

#include <stddef.h>

#include "jw.h"

/* The deepest nesting canon_object() follows before refusing. */
#define CANON_DEPTH 64

struct canon_member {
	const char *name;  /* the member's name, borrowed from the text */
	size_t nlen;	   /* its length (names have no escapes) */
	const char *value; /* its value's text, borrowed from the text */
	size_t vlen;	   /* the value's length */
};

/*
 * Check that text (n bytes, no newline) is one canonical JSON object, and
 * list its top-level members in m (room for max) and their number in *count.
 * Returns 0, or -1 when the text is not canonical, not an object, nested
 * deeper than CANON_DEPTH, or has more than max members.
 */
int canon_object(const char *text, size_t n, struct canon_member *m, size_t max,
		 size_t *count);

/*
 * Write to w the canonical object text (n bytes) with k members added:
 * names[i] (in increasing bytewise order) with the canonical value text
 * values[i] (lens[i] bytes).  A member of text with one of these names is
 * replaced.
 * Returns 0, or -1 with nothing written when text is not canonical in
 * canon_object()'s sense (write the parsed record the general way then).
 */
int canon_merge(struct jw *w, const char *text, size_t n,
		const char *const names[], const char *const values[],
		const size_t lens[], size_t k);

#endif
