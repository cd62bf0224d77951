/* See LICENSE file for copyright and license details. */
#include <string.h>

#include "canon.h"
#include "jw.h"
#include "utf8.h"

/*
 * Each scanner takes the text at p (before end) and returns the first byte
 * after what it recognised, or NULL when that is not canonical.
 */
static const char *value(const char *p, const char *end, int depth);

/* The byte after the UTF-8 sequence led by *p, or NULL when it is bad. */
static const char *
utf8(const char *p, const char *end)
{
	int k = utf8_sequence((const unsigned char *)p, (size_t)(end - p));

	return k > 0 ? p + k : NULL;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* libjq writes lower case only */
}

/*
 * A string as libjq writes it: the escapes it uses and no others, UTF-8
 * as it is.  *escaped says whether any escape was seen.
 */
static const char *
string(const char *p, const char *end, int *escaped)
{
	*escaped = 0;
	for (p++; p < end; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
			continue;
		if (ch == '"')
			return p + 1;
		if (ch >= 0x80) {
			if ((p = utf8(p, end)) == NULL)
				return NULL;
			p--;
			continue;
		}
		if (ch != '\\' || end - p < 2)
			return NULL; /* raw control character or DEL */
		*escaped = 1;
		switch (p[1]) {
		case '"':
		case '\\':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			p++;
			continue;
		case 'u': {
			int hi, lo, c;

			if (end - p < 6 || p[2] != '0' || p[3] != '0' ||
			    (hi = hexval(p[4])) < 0 || (lo = hexval(p[5])) < 0)
				return NULL;
			c = hi * 16 + lo;
			/* Only what has no short escape is written this way. */
			if (!(c < 0x20 || c == 0x7f) || c == '\b' ||
			    c == '\f' || c == '\n' || c == '\r' || c == '\t')
				return NULL;
			p += 5;
			continue;
		}
		default:
			return NULL;
		}
	}
	return NULL;
}

/* An integer as libjq prints it exactly: no sign on zero, no fraction. */
static const char *
number(const char *p, const char *end)
{
	const char *digits;
	int negative = *p == '-';

	digits = p + negative;
	p = digits;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	/*
	 * Up to 15 digits, which a double holds and libjq prints unchanged;
	 * no leading zero, no "-0", no fraction or exponent.
	 */
	if (p == digits || p - digits > 15 ||
	    (*digits == '0' && p - digits > 1))
		return NULL;
	if (negative && *digits == '0')
		return NULL;
	if (p < end && (*p == '.' || *p == 'e' || *p == 'E'))
		return NULL;
	return p;
}

static int
name_before(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = memcmp(a, b, n);

	return c < 0 || (c == 0 && alen < blen);
}

/*
 * An object's members in strictly increasing order of name.  When m is
 * not NULL, its members are listed there.
 */
static const char *
object(const char *p, const char *end, int depth, struct canon_member *m,
       size_t max, size_t *count)
{
	const char *prev = NULL, *name, *v;
	size_t prevlen = 0, n = 0;
	int escaped;

	if (++p < end && *p == '}')
		goto done;
	for (;;) {
		if (p >= end || *p != '"')
			return NULL;
		name = p + 1;
		if ((p = string(p, end, &escaped)) == NULL || escaped)
			return NULL;
		if (prev != NULL &&
		    !name_before(prev, prevlen, name, (size_t)(p - 1 - name)))
			return NULL;
		prev = name;
		prevlen = (size_t)(p - 1 - name);
		if (p >= end || *p++ != ':')
			return NULL;
		v = p;
		if ((p = value(p, end, depth + 1)) == NULL)
			return NULL;
		if (m != NULL) {
			if (n == max)
				return NULL;
			m[n].name = name;
			m[n].nlen = prevlen;
			m[n].value = v;
			m[n].vlen = (size_t)(p - v);
		}
		n++;
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == '}')
			break;
		return NULL;
	}
done:
	if (count != NULL)
		*count = n;
	return p + 1;
}

static const char *
value(const char *p, const char *end, int depth)
{
	int escaped;

	if (p >= end || depth > CANON_DEPTH)
		return NULL;
	switch (*p) {
	case '{':
		return object(p, end, depth, NULL, 0, NULL);
	case '[':
		if (++p < end && *p == ']')
			return p + 1;
		for (;;) {
			if ((p = value(p, end, depth + 1)) == NULL || p >= end)
				return NULL;
			if (*p == ']')
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	case '"':
		return string(p, end, &escaped);
	case 't':
		return end - p >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':
		return end - p >= 5 && memcmp(p, "false", 5) == 0 ? p + 5
								  : NULL;
	case 'n':
		return end - p >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default:
		if (*p == '-' || (*p >= '0' && *p <= '9'))
			return number(p, end);
		return NULL;
	}
}

int
canon_object(const char *text, size_t n, struct canon_member *m, size_t max,
	     size_t *count)
{
	const char *end = text + n, *p;

	if (n == 0 || *text != '{')
		return -1;
	p = object(text, end, 0, m, max, count);
	return p == end ? 0 : -1;
}

/* Room for the members of the widest record (orders have about forty). */
#define CANON_MEMBERS 256

int
canon_merge(struct jw *w, const char *text, size_t n, const char *const names[],
	    const char *const values[], const size_t lens[], size_t k)
{
	struct canon_member m[CANON_MEMBERS];
	size_t count, i = 0, j = 0;

	if (canon_object(text, n, m, CANON_MEMBERS, &count) < 0)
		return -1;
	jw_object(w);
	while (i < count || j < k) {
		size_t len = j < k ? strlen(names[j]) : 0;

		if (j < k && (i == count || !name_before(m[i].name, m[i].nlen,
							 names[j], len))) {
			/* The added member comes first, or replaces m[i]. */
			if (i < count && m[i].nlen == len &&
			    memcmp(m[i].name, names[j], len) == 0)
				i++;
			jw_keyn(w, names[j], len);
			jw_raw(w, values[j], lens[j]);
			j++;
		} else {
			jw_keyn(w, m[i].name, m[i].nlen);
			jw_raw(w, m[i].value, m[i].vlen);
			i++;
		}
	}
	jw_end(w);
	return 0;
}
