/* See LICENSE file for copyright and license details. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "config.h"

int
config_load(struct config *cf, const char *path)
{
	FILE *f;
	char *text = NULL, *grown;
	size_t len = 0, cap = 0, n;

	cf->root = jv_invalid();
	cf->err[0] = '\0';
	if ((cf->path = strdup(path)) == NULL) {
		snprintf(cf->err, sizeof(cf->err), "out of memory");
		return EX_OSERR;
	}
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(cf->err, sizeof(cf->err), "cannot open '%s': %s", path,
			 strerror(errno));
		return EX_NOINPUT;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			if ((grown = realloc(text, cap)) == NULL) {
				free(text);
				fclose(f);
				snprintf(cf->err, sizeof(cf->err),
					 "out of memory");
				return EX_OSERR;
			}
			text = grown;
		}
		if ((n = fread(text + len, 1, cap - len - 1, f)) == 0)
			break;
		len += n;
	}
	if (ferror(f)) {
		snprintf(cf->err, sizeof(cf->err), "cannot read '%s': %s", path,
			 strerror(errno));
		free(text);
		fclose(f);
		return EX_NOINPUT;
	}
	fclose(f);
	text[len] = '\0';
	cf->root = jv_parse_sized(text, (int)len);
	free(text);
	if (!jv_is_valid(cf->root)) {
		jv msg = jv_invalid_get_msg(cf->root);

		snprintf(cf->err, sizeof(cf->err), "'%s' is not valid JSON: %s",
			 path,
			 jv_get_kind(msg) == JV_KIND_STRING
			     ? jv_string_value(msg)
			     : "parse error");
		jv_free(msg);
		cf->root = jv_invalid();
		return EX_CONFIG;
	}
	if (jv_get_kind(cf->root) != JV_KIND_OBJECT) {
		snprintf(cf->err, sizeof(cf->err), "'%s' is not a JSON object",
			 path);
		return EX_CONFIG;
	}
	return 0;
}

jv
config_get(const struct config *cf, const char *dotted)
{
	jv at = cf->root;
	char step[128];
	const char *p = dotted, *dot;

	while (jv_get_kind(at) == JV_KIND_OBJECT) {
		size_t n;
		jv next;

		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(step))
			return jv_invalid();
		memcpy(step, p, n);
		step[n] = '\0';
		/* The object keeps its reference: a borrowed view. */
		next = jv_object_get(jv_copy(at), jv_string(step));
		jv_free(next);
		if (!jv_is_valid(next))
			return jv_invalid();
		at = next;
		if (dot == NULL)
			return at;
		p = dot + 1;
	}
	return jv_invalid();
}

const char *
config_str(struct config *cf, const char *dotted)
{
	jv v = config_get(cf, dotted);

	cf->err[0] = '\0';
	if (!jv_is_valid(v) || jv_get_kind(v) == JV_KIND_NULL)
		return NULL;
	if (jv_get_kind(v) != JV_KIND_STRING) {
		snprintf(cf->err, sizeof(cf->err),
			 "'%s' in '%s' is not a string", dotted, cf->path);
		return NULL;
	}
	return jv_string_value(v);
}

int
config_file(struct config *cf, const char *dotted, char *buf, size_t n)
{
	const char *v = config_str(cf, dotted), *slash;
	int len;

	if (v == NULL)
		return cf->err[0] ? -1 : 1;
	slash = strrchr(cf->path, '/');
	if (v[0] == '/' || slash == NULL)
		len = snprintf(buf, n, "%s", v);
	else
		len = snprintf(buf, n, "%.*s/%s", (int)(slash - cf->path),
			       cf->path, v);
	if (len < 0 || (size_t)len >= n) {
		snprintf(cf->err, sizeof(cf->err), "'%s' in '%s' is too long",
			 dotted, cf->path);
		return -1;
	}
	return 0;
}

void
config_release(struct config *cf)
{
	jv_free(cf->root);
	cf->root = jv_invalid();
	free(cf->path);
	cf->path = NULL;
}
