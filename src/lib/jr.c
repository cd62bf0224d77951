/* See LICENSE file for copyright and license details. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "json.h"
#include "jr.h"
#include "jw.h"
#include "utf8.h"

/*
 * Numbers longer than this are left to libjq: no amount, id or rate is
 * near it, and it keeps jr_number's copy on the stack.
 */
#define NUMBER_MAX 63

/* The most a document keeps from one line to the next. */
#define KEEP_NODES 65536
#define KEEP_BYTES (4u << 20)

/* What the direct reader says of a text it does not take on. */
#define NOT_PLAIN (-1)
#define NO_MEMORY (-2)

struct reader {
	struct jr_doc *d;
	char *p;   /* next byte to read, in d->buf */
	char *end; /* d->buf + the text's length; *end is '\0' */
	int depth;
};

void
jr_init(struct jr_doc *d)
{
	memset(d, 0, sizeof(*d));
}

void
jr_release(struct jr_doc *d)
{
	free(d->buf);
	free(d->nodes);
	jr_init(d);
}

const char *
jr_error(const struct jr_doc *d)
{
	return d->err;
}

static int
reserve_buf(struct jr_doc *d, size_t n)
{
	char *p;
	size_t cap = d->buf_cap ? d->buf_cap : 4096;

	if (n <= d->buf_cap)
		return 0;
	while (cap < n) {
		if (cap > SIZE_MAX / 2)
			return -1;
		cap *= 2;
	}
	if ((p = realloc(d->buf, cap)) == NULL)
		return -1;
	d->buf = p;
	d->buf_cap = cap;
	return 0;
}

/* A new node at the end of d's array; its index, or -1 without memory. */
static long
new_node(struct jr_doc *d, unsigned char kind)
{
	struct jr_node *node;

	if (d->nnodes == d->nodes_cap) {
		size_t cap = d->nodes_cap ? d->nodes_cap * 2 : 256;
		struct jr_node *p;

		if (cap > UINT32_MAX ||
		    (p = realloc(d->nodes, cap * sizeof(*p))) == NULL)
			return -1;
		d->nodes = p;
		d->nodes_cap = cap;
	}
	node = &d->nodes[d->nnodes];
	node->text = NULL;
	node->name = NULL;
	node->len = 0;
	node->span = 1;
	node->nlen = 0;
	node->kind = kind;
	return (long)d->nnodes++;
}

static void
skip_space(struct reader *r)
{
	while (*r->p == ' ' || *r->p == '\n' || *r->p == '\t' || *r->p == '\r')
		r->p++;
}

static int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The string whose opening quote r->p has passed, unescaped where it lies
 * and NUL-terminated; its start and length in *s and *n.  The text is a
 * copy, and unescaping only shortens it, so the bytes can move down in
 * place.
 */
static int
read_string(struct reader *r, char **s, size_t *n)
{
	unsigned char *p = (unsigned char *)r->p, *out;
	const unsigned char *end = (const unsigned char *)r->end;

	*s = r->p;
	/* The common case: no escapes, until the closing quote. */
	for (;;) {
		if (*p == '"') {
			*n = (size_t)((char *)p - *s);
			*p = '\0';
			r->p = (char *)p + 1;
			return 0;
		}
		if (*p == '\\')
			break;
		if (*p < 0x20)
			return NOT_PLAIN; /* also the end of the text */
		if (*p < 0x80) {
			p++;
		} else {
			/* libjq replaces what is not well-formed. */
			int k = utf8_sequence(p, (size_t)(end - p));

			if (k == 0)
				return NOT_PLAIN;
			p += k;
		}
	}
	out = p;
	for (;;) {
		if (*p == '"') {
			*n = (size_t)((char *)out - *s);
			*out = '\0';
			r->p = (char *)p + 1;
			return 0;
		}
		if (*p == '\\') {
			unsigned long cp = 0;
			int i, h;

			switch (p[1]) {
			case '"':
			case '\\':
			case '/':
				*out++ = p[1];
				p += 2;
				continue;
			case 'b':
				*out++ = '\b';
				p += 2;
				continue;
			case 'f':
				*out++ = '\f';
				p += 2;
				continue;
			case 'n':
				*out++ = '\n';
				p += 2;
				continue;
			case 'r':
				*out++ = '\r';
				p += 2;
				continue;
			case 't':
				*out++ = '\t';
				p += 2;
				continue;
			case 'u':
				break;
			default:
				return NOT_PLAIN;
			}
			for (i = 2; i < 6; i++) {
				if ((h = hex_value(p[i])) < 0)
					return NOT_PLAIN;
				cp = cp << 4 | (unsigned long)h;
			}
			/* Surrogates, paired or not, are libjq's to judge. */
			if (cp >= 0xd800 && cp <= 0xdfff)
				return NOT_PLAIN;
			if (cp < 0x80) {
				*out++ = (unsigned char)cp;
			} else if (cp < 0x800) {
				*out++ = (unsigned char)(0xc0 | cp >> 6);
				*out++ = (unsigned char)(0x80 | (cp & 0x3f));
			} else {
				*out++ = (unsigned char)(0xe0 | cp >> 12);
				*out++ =
				    (unsigned char)(0x80 | (cp >> 6 & 0x3f));
				*out++ = (unsigned char)(0x80 | (cp & 0x3f));
			}
			p += 6;
			continue;
		}
		if (*p < 0x20)
			return NOT_PLAIN;
		if (*p < 0x80) {
			*out++ = *p++;
		} else {
			int k = utf8_sequence(p, (size_t)(end - p));

			if (k == 0)
				return NOT_PLAIN;
			while (k-- > 0)
				*out++ = *p++;
		}
	}
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A number as RFC 8259 spells it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
 */
static int
read_number(struct reader *r, struct jr_node *node)
{
	char *p = r->p;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (is_digit(*p))
		while (is_digit(*p))
			p++;
	else
		return NOT_PLAIN;
	if (*p == '.') {
		if (!is_digit(*++p))
			return NOT_PLAIN;
		while (is_digit(*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!is_digit(*p))
			return NOT_PLAIN;
		while (is_digit(*p))
			p++;
	}
	if (p - r->p > NUMBER_MAX)
		return NOT_PLAIN;
	node->text = r->p;
	node->len = (uint32_t)(p - r->p);
	r->p = p;
	return 0;
}

static int
literal(struct reader *r, const char *word, size_t n)
{
	if (strncmp(r->p, word, n) != 0)
		return NOT_PLAIN;
	r->p += n;
	return 0;
}

/*
 * One value at r->p into a new node, and everything inside it after that
 * node.  Returns 0, NOT_PLAIN or NO_MEMORY.
 */
static int
read_value(struct reader *r)
{
	struct jr_doc *d = r->d;
	long at;
	int rc;

	skip_space(r);
	switch (*r->p) {
	case '{':
	case '[': {
		int object = *r->p == '{';
		char close = object ? '}' : ']';
		uint32_t count = 0;

		if (++r->depth > JR_DEPTH)
			return NOT_PLAIN;
		if ((at = new_node(d, object ? JR_OBJECT : JR_ARRAY)) < 0)
			return NO_MEMORY;
		r->p++;
		skip_space(r);
		if (*r->p == close) {
			r->p++;
		} else {
			for (;;) {
				char *name = NULL;
				size_t nlen = 0;
				size_t member;

				if (object) {
					if (*r->p != '"')
						return NOT_PLAIN;
					r->p++;
					if ((rc = read_string(r, &name,
							      &nlen)) < 0)
						return rc;
					skip_space(r);
					if (*r->p != ':')
						return NOT_PLAIN;
					r->p++;
				}
				member = d->nnodes;
				if ((rc = read_value(r)) < 0)
					return rc;
				if (object) {
					if (nlen > UINT32_MAX)
						return NOT_PLAIN;
					d->nodes[member].name = name;
					d->nodes[member].nlen = (uint32_t)nlen;
				}
				count++;
				skip_space(r);
				if (*r->p == ',') {
					r->p++;
					skip_space(r);
					continue;
				}
				if (*r->p != close)
					return NOT_PLAIN;
				r->p++;
				break;
			}
		}
		d->nodes[at].len = count;
		d->nodes[at].span = (uint32_t)(d->nnodes - (size_t)at);
		r->depth--;
		return 0;
	}
	case '"': {
		char *s;
		size_t n;

		if ((at = new_node(d, JR_STRING)) < 0)
			return NO_MEMORY;
		r->p++;
		if ((rc = read_string(r, &s, &n)) < 0)
			return rc;
		if (n > UINT32_MAX)
			return NOT_PLAIN;
		d->nodes[at].text = s;
		d->nodes[at].len = (uint32_t)n;
		return 0;
	}
	case 't':
		if ((at = new_node(d, JR_TRUE)) < 0)
			return NO_MEMORY;
		return literal(r, "true", 4);
	case 'f':
		if ((at = new_node(d, JR_FALSE)) < 0)
			return NO_MEMORY;
		return literal(r, "false", 5);
	case 'n':
		if ((at = new_node(d, JR_NULL)) < 0)
			return NO_MEMORY;
		return literal(r, "null", 4);
	default:
		if ((at = new_node(d, JR_NUMBER)) < 0)
			return NO_MEMORY;
		return read_number(r, &d->nodes[at]);
	}
}

/*
 * Taking a value libjq has read.  Its strings and its numbers' printed
 * text go into d->buf, which is sized first so that pointers into it hold.
 */
static void
measure_jv(jv v, size_t *nodes, size_t *bytes)
{
	(*nodes)++;
	switch (jv_get_kind(v)) {
	case JV_KIND_NUMBER:
		*bytes += 32;
		break;
	case JV_KIND_STRING:
		*bytes += (size_t)jv_string_length_bytes(jv_copy(v)) + 1;
		break;
	case JV_KIND_ARRAY:
		jv_array_foreach(v, i, e)
		{
			measure_jv(e, nodes, bytes);
			jv_free(e);
		}
		break;
	case JV_KIND_OBJECT:
		jv_object_foreach(v, k, e)
		{
			*bytes +=
			    (size_t)jv_string_length_bytes(jv_copy(k)) + 1;
			measure_jv(e, nodes, bytes);
			jv_free(k);
			jv_free(e);
		}
		break;
	default:
		break;
	}
}

static const char *
keep_bytes(struct jr_doc *d, size_t *used, const char *s, size_t n)
{
	char *at = d->buf + *used;

	if (n > 0)
		memcpy(at, s, n);
	at[n] = '\0';
	*used += n + 1;
	return at;
}

static void
take_jv(struct jr_doc *d, jv v, size_t *used)
{
	long at = new_node(d, JR_NULL); /* room was made: cannot fail */
	struct jr_node *node = &d->nodes[at];

	switch (jv_get_kind(v)) {
	case JV_KIND_TRUE:
		node->kind = JR_TRUE;
		break;
	case JV_KIND_FALSE:
		node->kind = JR_FALSE;
		break;
	case JV_KIND_NUMBER: {
		double x = jv_number_value(v);
		char text[32];

		/*
		 * libjq's own spelling, which reads back as the same double;
		 * what it cannot print (NaN, infinities) as strtod reads it.
		 */
		if (json_number_text(v, text, sizeof(text)) < 0)
			snprintf(text, sizeof(text), "%s",
				 isnan(x) ? "nan"
				 : x < 0  ? "-inf"
					  : "inf");
		node->kind = JR_NUMBER;
		node->len = (uint32_t)strlen(text);
		node->text = keep_bytes(d, used, text, node->len);
		break;
	}
	case JV_KIND_STRING:
		node->kind = JR_STRING;
		node->len = (uint32_t)jv_string_length_bytes(jv_copy(v));
		node->text = keep_bytes(d, used, jv_string_value(v), node->len);
		break;
	case JV_KIND_ARRAY:
		node->kind = JR_ARRAY;
		node->len = (uint32_t)jv_array_length(jv_copy(v));
		jv_array_foreach(v, i, e)
		{
			take_jv(d, e, used);
			jv_free(e);
		}
		break;
	case JV_KIND_OBJECT:
		node->kind = JR_OBJECT;
		node->len = (uint32_t)jv_object_length(jv_copy(v));
		jv_object_foreach(v, k, e)
		{
			size_t member = d->nnodes;
			uint32_t n =
			    (uint32_t)jv_string_length_bytes(jv_copy(k));
			const char *name =
			    keep_bytes(d, used, jv_string_value(k), n);

			take_jv(d, e, used);
			d->nodes[member].name = name;
			d->nodes[member].nlen = n;
			jv_free(k);
			jv_free(e);
		}
		break;
	default:
		break;
	}
	/* The array may have moved while the members were added. */
	d->nodes[at].span = (uint32_t)(d->nnodes - (size_t)at);
}

static jr
fail(struct jr_doc *d, const char *why)
{
	snprintf(d->err, sizeof(d->err), "%s", why);
	d->nnodes = 0;
	return NULL;
}

static jr
no_memory(struct jr_doc *d)
{
	d->nomem = 1;
	return fail(d, "out of memory");
}

/* What the direct reader left: libjq reads text, and its values are kept. */
static jr
read_with_libjq(struct jr_doc *d, const char *text, size_t n)
{
	size_t nodes = 0, bytes = 0, used = 0;
	jv v;

	if (n > INT_MAX)
		return fail(d, "the text is too long to be read");
	v = jv_parse_sized(text, (int)n);
	if (!jv_is_valid(v)) {
		jv msg = jv_invalid_get_msg(v);
		char *tail;

		fail(d, jv_get_kind(msg) == JV_KIND_STRING
			    ? jv_string_value(msg)
			    : "not JSON");
		/* libjq quotes the whole text after this: the caller has it. */
		if ((tail = strstr(d->err, " (while parsing")) != NULL)
			*tail = '\0';
		jv_free(msg);
		return NULL;
	}
	measure_jv(v, &nodes, &bytes);
	d->nnodes = 0;
	if (reserve_buf(d, bytes + 1) < 0 || nodes > UINT32_MAX) {
		jv_free(v);
		return no_memory(d);
	}
	if (d->nodes_cap < nodes) {
		struct jr_node *p = realloc(d->nodes, nodes * sizeof(*p));

		if (p == NULL) {
			jv_free(v);
			return no_memory(d);
		}
		d->nodes = p;
		d->nodes_cap = nodes;
	}
	take_jv(d, v, &used);
	jv_free(v);
	return d->nodes;
}

jr
jr_parse(struct jr_doc *d, const char *text, size_t n)
{
	struct reader r;
	int rc;

	d->err[0] = '\0';
	d->nomem = 0;
	d->nnodes = 0;
	/*
	 * What one rare huge line needed is not kept for all the small ones
	 * after it: a run's memory stays that of its usual line.
	 */
	if (d->nodes_cap > KEEP_NODES) {
		free(d->nodes);
		d->nodes = NULL;
		d->nodes_cap = 0;
	}
	if (d->buf_cap > KEEP_BYTES) {
		free(d->buf);
		d->buf = NULL;
		d->buf_cap = 0;
	}
	if (n == SIZE_MAX || reserve_buf(d, n + 1) < 0)
		return no_memory(d);
	if (n > 0)
		memcpy(d->buf, text, n);
	d->buf[n] = '\0';
	r.d = d;
	r.p = d->buf;
	r.end = d->buf + n;
	r.depth = 0;
	rc = read_value(&r);
	if (rc == NO_MEMORY)
		return no_memory(d);
	if (rc == 0) {
		skip_space(&r);
		if (r.p == r.end)
			return d->nodes;
	}
	/* Not plainly one JSON value (or a NUL inside it): libjq decides. */
	d->nnodes = 0;
	return read_with_libjq(d, text, n);
}

enum jr_kind
jr_kind(jr v)
{
	return v == NULL ? JR_ABSENT : (enum jr_kind)v->kind;
}

jr
jr_get(jr obj, const char *name)
{
	jr e, end, found = NULL;
	size_t n;

	if (obj == NULL || obj->kind != JR_OBJECT)
		return NULL;
	n = strlen(name);
	end = obj + obj->span;
	/* To the end: of a name given twice, the last one counts. */
	for (e = obj + 1; e < end; e += e->span)
		if (e->nlen == n && e->name[0] == name[0] &&
		    memcmp(e->name, name, n) == 0)
			found = e;
	return found;
}

const char *
jr_str(jr v)
{
	return v != NULL && v->kind == JR_STRING ? v->text : NULL;
}

const char *
jr_get_str(jr obj, const char *name)
{
	return jr_str(jr_get(obj, name));
}

size_t
jr_len(jr v)
{
	return v != NULL && (v->kind == JR_ARRAY || v->kind == JR_OBJECT)
		   ? v->len
		   : 0;
}

jr
jr_first(jr v)
{
	return jr_len(v) > 0 ? v + 1 : NULL;
}

jr
jr_next(jr container, jr e)
{
	jr next;

	if (container == NULL || e == NULL)
		return NULL;
	next = e + e->span;
	return next < container + container->span ? next : NULL;
}

jr
jr_at(jr arr, size_t i)
{
	jr e;

	if (arr == NULL || arr->kind != JR_ARRAY || i >= arr->len)
		return NULL;
	for (e = arr + 1; i > 0; i--)
		e += e->span;
	return e;
}

double
jr_number(jr v)
{
	char text[NUMBER_MAX + 1];

	if (v == NULL || v->kind != JR_NUMBER || v->len > NUMBER_MAX)
		return 0;
	memcpy(text, v->text, v->len);
	text[v->len] = '\0';
	return strtod(text, NULL);
}

/*
 * An integer of at most 15 digits, which a double holds exactly and
 * libjq prints digit for digit as it was written.
 */
static int
short_integer(jr v)
{
	const char *s = v->text;
	size_t n = v->len;

	if (n > 0 && *s == '-') {
		s++;
		n--;
	}
	if (n == 0 || n > 15)
		return 0;
	while (n-- > 0)
		if (!is_digit(*s++))
			return 0;
	return 1;
}

int
jr_number_text(jr v, char *buf, size_t n)
{
	if (v == NULL || v->kind != JR_NUMBER)
		return -1;
	if (short_integer(v)) {
		if (v->len >= n)
			return -1;
		memcpy(buf, v->text, v->len);
		buf[v->len] = '\0';
		return 0;
	}
	return json_double_text(jr_number(v), buf, n);
}

int
jr_id(jr v, char *buf, size_t n, const char **why)
{
	if (jr_kind(v) == JR_STRING)
		return json_id_text(v->text, buf, n, why);
	if (jr_kind(v) == JR_NUMBER) {
		jv x = jv_number(jr_number(v));
		int rc = json_id(x, buf, n, why);

		jv_free(x);
		return rc;
	}
	*why = "is not an identifier";
	return -1;
}

void
jw_jr(struct jw *w, jr v)
{
	char text[32];

	switch (jr_kind(v)) {
	case JR_ABSENT:
	case JR_NULL:
		jw_null(w);
		break;
	case JR_TRUE:
		jw_bool(w, 1);
		break;
	case JR_FALSE:
		jw_bool(w, 0);
		break;
	case JR_NUMBER:
		if (jr_number_text(v, text, sizeof(text)) == 0) {
			jw_raw(w, text, strlen(text));
		} else {
			/* NaN or an infinity: as libjq writes those. */
			jv x = jv_number(jr_number(v));

			jw_jv(w, x);
			jv_free(x);
		}
		break;
	case JR_STRING:
		jw_stringn(w, v->text, v->len);
		break;
	case JR_ARRAY:
		jw_array(w);
		jr_foreach(v, e) jw_jr(w, e);
		jw_end(w);
		break;
	case JR_OBJECT:
		jw_object(w);
		jw_jr_members(w, v);
		jw_end(w);
		break;
	}
}

void
jw_jr_members(struct jw *w, jr obj)
{
	if (jr_kind(obj) != JR_OBJECT)
		return;
	jr_foreach(obj, e)
	{
		jw_keyn(w, e->name, e->nlen);
		jw_jr(w, e);
	}
}
