/* See LICENSE file for copyright and license details. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jw.h"
#include "money.h"

/* Grow *buf (of *cap bytes) to hold need bytes.  Returns 0 or -1. */
static int
grow(char **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 4096;
	char *p;

	while (n < need)
		n *= 2;
	if ((p = realloc(*buf, n)) == NULL)
		return -1;
	*buf = p;
	*cap = n;
	return 0;
}

static void
put(struct jw *w, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (w->len + n > w->cap && grow(&w->p, &w->cap, w->len + n) < 0) {
		w->failed = 1;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void
putc1(struct jw *w, char ch)
{
	if (w->len + 1 > w->cap && grow(&w->p, &w->cap, w->len + 1) < 0) {
		w->failed = 1;
		return;
	}
	w->p[w->len++] = ch;
}

/* A JSON string, escaped as libjq escapes it (so as `jq -c` prints it). */
static void
put_string(struct jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	putc1(w, '"');
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		char esc[6];
		const char *e = NULL;
		size_t elen = 2;

		if (ch >= 0x20 && ch != '"' && ch != '\\' && ch != 0x7f)
			continue;
		switch (ch) {
		case '"':
			e = "\\\"";
			break;
		case '\\':
			e = "\\\\";
			break;
		case '\b':
			e = "\\b";
			break;
		case '\f':
			e = "\\f";
			break;
		case '\n':
			e = "\\n";
			break;
		case '\r':
			e = "\\r";
			break;
		case '\t':
			e = "\\t";
			break;
		default:
			esc[0] = '\\';
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			e = esc;
			elen = 6;
		}
		put(w, s + run, i - run);
		put(w, e, elen);
		run = i + 1;
	}
	put(w, s + run, n - run);
	putc1(w, '"');
}

/* Before a value: the comma between array elements. */
static void
before_value(struct jw *w)
{
	struct jw_frame *f;

	if (w->depth == 0)
		return;
	f = &w->frames[w->depth - 1];
	if (!f->object && f->count++ > 0)
		putc1(w, ',');
}

void
jw_init(struct jw *w)
{
	memset(w, 0, sizeof(*w));
}

void
jw_reset(struct jw *w)
{
	w->len = 0;
	w->names_len = 0;
	w->nmembers = 0;
	w->depth = 0;
	w->failed = 0;
}

void
jw_release(struct jw *w)
{
	free(w->p);
	free(w->names);
	free(w->members);
	free(w->scratch);
	jw_init(w);
}

const char *
jw_text(const struct jw *w, size_t *len)
{
	*len = w->len;
	return w->p ? w->p : "";
}

int
jw_failed(const struct jw *w)
{
	return w->failed;
}

static void
open_container(struct jw *w, int object)
{
	struct jw_frame *f;

	before_value(w);
	if (w->depth == JW_DEPTH) {
		w->failed = 1;
		return;
	}
	putc1(w, object ? '{' : '[');
	f = &w->frames[w->depth++];
	f->object = object;
	f->open = w->len;
	f->first = w->nmembers;
	f->count = 0;
	f->unsorted = 0;
}

void
jw_object(struct jw *w)
{
	open_container(w, 1);
}

void
jw_array(struct jw *w)
{
	open_container(w, 0);
}

static int
name_cmp(const struct jw *w, const struct jw_member *a,
	 const struct jw_member *b)
{
	size_t n = a->nlen < b->nlen ? a->nlen : b->nlen;
	int c = memcmp(w->names + a->name, w->names + b->name, n);

	if (c != 0)
		return c;
	return a->nlen < b->nlen ? -1 : a->nlen > b->nlen;
}

/*
 * Put the members of f in order of name, the last of equal names kept.
 * Insertion sort: objects are small and most arrive nearly in order; it
 * is also stable, which keeps "the last written wins" simple.
 */
static void
order_members(struct jw *w, struct jw_frame *f)
{
	struct jw_member *m = w->members + f->first, tmp;
	size_t n = w->nmembers - f->first, i, j, at = 0,
	       span = w->len - f->open;

	for (i = 1; i < n; i++) {
		tmp = m[i];
		for (j = i; j > 0 && name_cmp(w, &m[j - 1], &tmp) > 0; j--)
			m[j] = m[j - 1];
		m[j] = tmp;
	}
	if (span > w->scratch_cap &&
	    grow(&w->scratch, &w->scratch_cap, span) < 0) {
		w->failed = 1;
		return;
	}
	for (i = 0; i < n; i++) {
		size_t len = m[i].end - m[i].start;

		if (i + 1 < n && name_cmp(w, &m[i], &m[i + 1]) == 0)
			continue; /* written again later: that one counts */
		if (at > 0)
			w->scratch[at++] = ',';
		memcpy(w->scratch + at, w->p + m[i].start, len);
		at += len;
	}
	memcpy(w->p + f->open, w->scratch, at);
	w->len = f->open + at;
}

void
jw_end(struct jw *w)
{
	struct jw_frame *f;

	if (w->depth == 0) {
		w->failed = 1;
		return;
	}
	f = &w->frames[w->depth - 1];
	if (f->object && f->count > 0) {
		size_t names_mark = w->members[f->first].name;

		w->members[w->nmembers - 1].end = w->len;
		if (f->unsorted && !w->failed)
			order_members(w, f);
		w->nmembers = f->first;
		w->names_len = names_mark;
	}
	w->depth--;
	putc1(w, f->object ? '}' : ']');
}

void
jw_keyn(struct jw *w, const char *name, size_t n)
{
	struct jw_frame *f;
	struct jw_member *m;

	if (w->depth == 0 || !w->frames[w->depth - 1].object) {
		w->failed = 1;
		return;
	}
	f = &w->frames[w->depth - 1];
	if (w->nmembers == w->members_cap) {
		size_t cap = w->members_cap ? w->members_cap * 2 : 64;
		struct jw_member *grown;

		if ((grown = realloc(w->members, cap * sizeof(*grown))) ==
		    NULL) {
			w->failed = 1;
			return;
		}
		w->members = grown;
		w->members_cap = cap;
	}
	if (w->names_len + n > w->names_cap &&
	    grow(&w->names, &w->names_cap, w->names_len + n) < 0) {
		w->failed = 1;
		return;
	}
	if (f->count > 0) {
		w->members[w->nmembers - 1].end = w->len;
		putc1(w, ',');
	}
	m = &w->members[w->nmembers++];
	if (n > 0)
		memcpy(w->names + w->names_len, name, n);
	m->name = w->names_len;
	m->nlen = n;
	w->names_len += n;
	m->start = w->len;
	m->end = w->len;
	if (f->count > 0 && name_cmp(w, m - 1, m) >= 0)
		f->unsorted = 1;
	f->count++;
	put_string(w, name, n);
	putc1(w, ':');
}

void
jw_key(struct jw *w, const char *name)
{
	jw_keyn(w, name, strlen(name));
}

void
jw_null(struct jw *w)
{
	before_value(w);
	put(w, "null", 4);
}

void
jw_bool(struct jw *w, int b)
{
	before_value(w);
	if (b)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void
jw_int(struct jw *w, long long n)
{
	char buf[24];
	int len = snprintf(buf, sizeof(buf), "%lld", n);

	before_value(w);
	put(w, buf, (size_t)len);
}

void
jw_stringn(struct jw *w, const char *s, size_t n)
{
	before_value(w);
	put_string(w, s, n);
}

void
jw_string(struct jw *w, const char *s)
{
	if (s == NULL)
		jw_null(w);
	else
		jw_stringn(w, s, strlen(s));
}

void
jw_money(struct jw *w, int64_t minor, int e)
{
	char buf[MONEY_TEXT_MAX];

	money_format(minor, e, buf);
	before_value(w);
	putc1(w, '"');
	put(w, buf, strlen(buf));
	putc1(w, '"');
}

void
jw_raw(struct jw *w, const char *text, size_t n)
{
	before_value(w);
	put(w, text, n);
}

void
jw_put_string(struct jw *w, const char *name, const char *s)
{
	jw_key(w, name);
	jw_string(w, s);
}

void
jw_put_money(struct jw *w, const char *name, int64_t minor, int e)
{
	jw_key(w, name);
	jw_money(w, minor, e);
}

void
jw_put_int(struct jw *w, const char *name, long long n)
{
	jw_key(w, name);
	jw_int(w, n);
}

void
jw_put_bool(struct jw *w, const char *name, int b)
{
	jw_key(w, name);
	jw_bool(w, b);
}

void
jw_put_null(struct jw *w, const char *name)
{
	jw_key(w, name);
	jw_null(w);
}

void
jw_newline(struct jw *w)
{
	putc1(w, '\n');
}

struct jv_member {
	jv key;		  /* owned */
	jv value;	  /* owned */
	const char *name; /* the key's bytes, borrowed from key */
	size_t len;	  /* their length */
};

static int
by_name(const void *x, const void *y)
{
	const struct jv_member *a = x, *b = y;
	size_t n = a->len < b->len ? a->len : b->len;
	int cmp = memcmp(a->name, b->name, n);

	if (cmp != 0)
		return cmp;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* v (borrowed) as jv_dumpf(v, JV_PRINT_SORTED) spells it. */
static void
put_jv(struct jw *w, jv v)
{
	switch (jv_get_kind(v)) {
	case JV_KIND_TRUE:
		put(w, "true", 4);
		break;
	case JV_KIND_FALSE:
		put(w, "false", 5);
		break;
	case JV_KIND_NUMBER: {
		char buf[32];

		if (json_double_text(jv_number_value(v), buf, sizeof(buf)) ==
		    0) {
			put(w, buf, strlen(buf));
		} else {
			/* NaN and the infinities, as libjq writes them. */
			jv text = jv_dump_string(jv_copy(v), 0);

			put(w, jv_string_value(text),
			    (size_t)jv_string_length_bytes(jv_copy(text)));
			jv_free(text);
		}
		break;
	}
	case JV_KIND_STRING:
		put_string(w, jv_string_value(v),
			   (size_t)jv_string_length_bytes(jv_copy(v)));
		break;
	case JV_KIND_ARRAY: {
		int i, n = jv_array_length(jv_copy(v));

		putc1(w, '[');
		for (i = 0; i < n; i++) {
			jv x = jv_array_get(jv_copy(v), i);

			if (i > 0)
				putc1(w, ',');
			put_jv(w, x);
			jv_free(x);
		}
		putc1(w, ']');
		break;
	}
	case JV_KIND_OBJECT: {
		struct jv_member small[32], *m = small;
		int n = jv_object_length(jv_copy(v)), i = 0, it;

		if (n > 32 && (m = malloc((size_t)n * sizeof(*m))) == NULL) {
			w->failed = 1;
			return;
		}
		for (it = jv_object_iter(v); jv_object_iter_valid(v, it);
		     it = jv_object_iter_next(v, it)) {
			m[i].key = jv_object_iter_key(v, it);
			m[i].value = jv_object_iter_value(v, it);
			m[i].name = jv_string_value(m[i].key);
			m[i].len =
			    (size_t)jv_string_length_bytes(jv_copy(m[i].key));
			i++;
		}
		qsort(m, (size_t)i, sizeof(*m), by_name);
		putc1(w, '{');
		for (it = 0; it < i; it++) {
			if (it > 0)
				putc1(w, ',');
			put_string(w, m[it].name, m[it].len);
			putc1(w, ':');
			put_jv(w, m[it].value);
			jv_free(m[it].key);
			jv_free(m[it].value);
		}
		putc1(w, '}');
		if (m != small)
			free(m);
		break;
	}
	default:
		/* null, and an invalid value, which has no JSON text. */
		put(w, "null", 4);
	}
}

void
jw_jv(struct jw *w, jv v)
{
	before_value(w);
	put_jv(w, v);
}
