/* See LICENSE file for copyright and license details. */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/*
 * Key strings, made once.  Programs ask for the same few hundred member
 * names millions of times; a jv string made anew for each lookup costs a
 * malloc and a hash, while a copy of a kept one costs a reference count
 * (libjq keeps a string's hash once computed).  The cache is keyed by the
 * name's address and checked by content, so a name that is not a literal
 * is still safe, only not cached for long.
 */
#define KEY_CACHE 1024

static struct {
	const char *name; /* the address it was asked for with */
	jv key;		  /* the jv string (owned by the cache) */
} key_cache[KEY_CACHE];

jv
json_key(const char *name)
{
	size_t h = ((uintptr_t)name >> 3) % KEY_CACHE;

	if (key_cache[h].name == name &&
	    strcmp(jv_string_value(key_cache[h].key), name) == 0)
		return jv_copy(key_cache[h].key);
	if (key_cache[h].name != NULL)
		jv_free(key_cache[h].key);
	key_cache[h].name = name;
	key_cache[h].key = jv_string(name);
	return jv_copy(key_cache[h].key);
}

jv
json_get(jv obj, const char *key)
{
	if (jv_get_kind(obj) != JV_KIND_OBJECT)
		return jv_invalid();
	return jv_object_get(jv_copy(obj), json_key(key));
}

const char *
json_str(jv obj, const char *key)
{
	jv v = json_get(obj, key);
	const char *s = NULL;

	/* obj still holds a reference, so the bytes outlive v. */
	if (jv_get_kind(v) == JV_KIND_STRING)
		s = jv_string_value(v);
	jv_free(v);
	return s;
}

int
json_has(jv obj, const char *key)
{
	jv v = json_get(obj, key);
	int has = jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL;

	jv_free(v);
	return has;
}

int
json_number_text(jv v, char *buf, size_t n)
{
	jv text;
	int rc = -1;

	if (jv_get_kind(v) != JV_KIND_NUMBER || !isfinite(jv_number_value(v)))
		return -1;
	text = jv_dump_string(jv_copy(v), 0);
	if ((size_t)jv_string_length_bytes(jv_copy(text)) < n) {
		snprintf(buf, n, "%s", jv_string_value(text));
		rc = 0;
	}
	jv_free(text);
	return rc;
}

static int
all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

int
json_id(jv v, char *buf, size_t n, const char **why)
{
	*why = "is not an identifier";
	if (jv_get_kind(v) == JV_KIND_STRING) {
		const char *s = jv_string_value(v), *slash, *end;
		size_t len;

		if (strncmp(s, "gid://", 6) == 0) {
			if ((slash = strrchr(s, '/')) == NULL)
				return -1;
			s = slash + 1;
		}
		end = strchr(s, '?');
		len = end ? (size_t)(end - s) : strlen(s);
		if (len == 0 || len >= n || len > 20)
			return -1;
		memcpy(buf, s, len);
		buf[len] = '\0';
		return all_digits(buf) ? 0 : -1;
	}
	if (jv_get_kind(v) == JV_KIND_NUMBER) {
		/* 2^53: the first integer a double cannot tell from its
		 * neighbour. */
		if (jv_number_value(v) >= 9007199254740992.0) {
			*why = "is a JSON number above 2^53 whose digits were "
			       "not kept exactly";
			return -1;
		}
		if (json_number_text(v, buf, n) < 0 || !all_digits(buf))
			return -1;
		return 0;
	}
	return -1;
}

/*
 * The canonical writer.  It produces the bytes of libjq's
 * jv_dumpf(v, JV_PRINT_SORTED) (so of `jq -cS .`) but builds each record
 * in one buffer and writes it with one fwrite: jv_dumpf writes every token
 * with its own locked fwrite and sorts keys through a fresh array of jv
 * strings, which together cost more than parsing the input.
 */
struct outbuf {
	char *p;	/* bytes (owned, kept between records) */
	size_t len;	/* bytes used */
	size_t cap;	/* bytes allocated */
	int failed;	/* out of memory */
};

static struct outbuf out;

static void
ob_put(struct outbuf *b, const char *s, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		char *grown;

		while (cap < b->len + n)
			cap *= 2;
		if ((grown = realloc(b->p, cap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = grown;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
ob_string(struct outbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	ob_put(b, "\"", 1);
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
		ob_put(b, s + run, i - run);
		ob_put(b, e, elen);
		run = i + 1;
	}
	ob_put(b, s + run, n - run);
	ob_put(b, "\"", 1);
}

struct member {
	jv key;		/* owned */
	jv value;	/* owned */
	const char *name; /* the key's bytes, borrowed from key */
	size_t len;	/* their length */
};

static int
by_name(const void *x, const void *y)
{
	const struct member *a = x, *b = y;
	size_t n = a->len < b->len ? a->len : b->len;
	int cmp = memcmp(a->name, b->name, n);

	if (cmp != 0)
		return cmp;
	return a->len < b->len ? -1 : a->len > b->len;
}

static void
ob_value(struct outbuf *b, jv v)
{
	switch (jv_get_kind(v)) {
	case JV_KIND_NULL:
		ob_put(b, "null", 4);
		break;
	case JV_KIND_TRUE:
		ob_put(b, "true", 4);
		break;
	case JV_KIND_FALSE:
		ob_put(b, "false", 5);
		break;
	case JV_KIND_NUMBER: {
		double d = jv_number_value(v);
		char buf[32];

		/* Integers as jq prints them; anything else through jq. */
		if (d == (double)(long long)d && d < 1e16 && d > -1e16 &&
		    !(d == 0 && signbit(d))) {
			int n = snprintf(buf, sizeof(buf), "%lld", (long long)d);

			ob_put(b, buf, (size_t)n);
		} else {
			jv text = jv_dump_string(jv_copy(v), 0);

			ob_put(b, jv_string_value(text),
			    (size_t)jv_string_length_bytes(jv_copy(text)));
			jv_free(text);
		}
		break;
	}
	case JV_KIND_STRING:
		ob_string(b, jv_string_value(v),
		    (size_t)jv_string_length_bytes(jv_copy(v)));
		break;
	case JV_KIND_ARRAY: {
		int i, n = jv_array_length(jv_copy(v));

		ob_put(b, "[", 1);
		for (i = 0; i < n; i++) {
			jv x = jv_array_get(jv_copy(v), i);

			if (i > 0)
				ob_put(b, ",", 1);
			ob_value(b, x);
			jv_free(x);
		}
		ob_put(b, "]", 1);
		break;
	}
	case JV_KIND_OBJECT: {
		struct member small[32], *m = small;
		int n = jv_object_length(jv_copy(v)), i = 0, it;

		if (n > 32 && (m = malloc((size_t)n * sizeof(*m))) == NULL) {
			b->failed = 1;
			return;
		}
		for (it = jv_object_iter(v); jv_object_iter_valid(v, it);
		     it = jv_object_iter_next(v, it)) {
			m[i].key = jv_object_iter_key(v, it);
			m[i].value = jv_object_iter_value(v, it);
			m[i].name = jv_string_value(m[i].key);
			m[i].len = (size_t)jv_string_length_bytes(
			    jv_copy(m[i].key));
			i++;
		}
		qsort(m, (size_t)i, sizeof(*m), by_name);
		ob_put(b, "{", 1);
		for (it = 0; it < i; it++) {
			if (it > 0)
				ob_put(b, ",", 1);
			ob_string(b, m[it].name, m[it].len);
			ob_put(b, ":", 1);
			ob_value(b, m[it].value);
			jv_free(m[it].key);
			jv_free(m[it].value);
		}
		ob_put(b, "}", 1);
		if (m != small)
			free(m);
		break;
	}
	default:
		/* An invalid value has no JSON text; callers never pass one. */
		ob_put(b, "null", 4);
	}
}

int
json_emit(FILE *f, jv v)
{
	out.len = 0;
	out.failed = 0;
	ob_value(&out, v);
	ob_put(&out, "\n", 1);
	jv_free(v);
	if (out.failed)
		return -1;
	if (fwrite(out.p, 1, out.len, f) != out.len)
		return -1;
	return ferror(f) ? -1 : 0;
}

jv
json_set_str(jv obj, const char *key, const char *s)
{
	return jv_object_set(obj, json_key(key), jv_string(s));
}
