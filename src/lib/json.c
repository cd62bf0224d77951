/* See LICENSE file for copyright and license details. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

jv
json_get(jv obj, const char *key)
{
	if (jv_get_kind(obj) != JV_KIND_OBJECT)
		return jv_invalid();
	return jv_object_get(jv_copy(obj), jv_string(key));
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

int
json_emit(FILE *f, jv v)
{
	jv_dumpf(v, f, JV_PRINT_SORTED);
	putc('\n', f);
	return ferror(f) ? -1 : 0;
}

jv
json_set_str(jv obj, const char *key, const char *s)
{
	return jv_object_set(obj, jv_string(key), jv_string(s));
}
