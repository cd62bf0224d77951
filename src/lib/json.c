/* See LICENSE file for copyright and license details. */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jw.h"

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
json_double_text(double d, char *buf, size_t n)
{
	jv x, text;
	int rc = -1, len;

	if (!isfinite(d))
		return -1;
	/*
	 * A whole number below 10^16 is printed by libjq digit for digit
	 * (it turns to exponents only above); -0 keeps its sign.
	 */
	if (d < 1e16 && d > -1e16 && d == (double)(long long)d &&
	    !(d == 0 && signbit(d))) {
		len = snprintf(buf, n, "%lld", (long long)d);
		return len >= 0 && (size_t)len < n ? 0 : -1;
	}
	x = jv_number(d);
	text = jv_dump_string(x, 0);
	if ((size_t)jv_string_length_bytes(jv_copy(text)) < n) {
		snprintf(buf, n, "%s", jv_string_value(text));
		rc = 0;
	}
	jv_free(text);
	return rc;
}

int
json_number_text(jv v, char *buf, size_t n)
{
	if (jv_get_kind(v) != JV_KIND_NUMBER)
		return -1;
	return json_double_text(jv_number_value(v), buf, n);
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
json_id_text(const char *s, char *buf, size_t n, const char **why)
{
	const char *slash, *end;
	size_t len;

	*why = "is not an identifier";
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

int
json_id(jv v, char *buf, size_t n, const char **why)
{
	*why = "is not an identifier";
	if (jv_get_kind(v) == JV_KIND_STRING)
		return json_id_text(jv_string_value(v), buf, n, why);
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
 * The canonical writer: the bytes of libjq's jv_dumpf(v, JV_PRINT_SORTED)
 * (so of `jq -cS .`), built in one buffer and written with one fwrite.
 * jv_dumpf writes every token with its own locked fwrite and sorts keys
 * through a fresh array of jv strings, which together cost more than
 * parsing the input.
 */
static struct jw out;

int
json_emit(FILE *f, jv v)
{
	const char *text;
	size_t len;

	jw_reset(&out);
	jw_jv(&out, v);
	jw_newline(&out);
	jv_free(v);
	text = jw_text(&out, &len);
	if (jw_failed(&out))
		return -1;
	if (fwrite(text, 1, len, f) != len)
		return -1;
	return ferror(f) ? -1 : 0;
}

jv
json_set_str(jv obj, const char *key, const char *s)
{
	return jv_object_set(obj, json_key(key), jv_string(s));
}
