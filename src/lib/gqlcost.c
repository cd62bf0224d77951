/* See LICENSE file for copyright and license details. */
#include <ctype.h>
#include <string.h>

#include "gqlcost.h"

/* A cursor over the document; errors are sticky. */
struct scan {
	const char *p;
	jv vars; /* borrowed */
	int bad;
};

static void
skip_space(struct scan *s)
{
	for (;;) {
		while (*s->p != '\0' &&
		       (isspace((unsigned char)*s->p) || *s->p == ','))
			s->p++;
		if (*s->p != '#')
			return;
		while (*s->p != '\0' && *s->p != '\n')
			s->p++;
	}
}

static int
is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* Read a name into buf; returns its length, 0 when there is none. */
static size_t
name(struct scan *s, char *buf, size_t n)
{
	size_t len = 0;

	skip_space(s);
	if (!isalpha((unsigned char)*s->p) && *s->p != '_')
		return 0;
	while (is_name_char(*s->p)) {
		if (len + 1 < n)
			buf[len++] = *s->p;
		s->p++;
	}
	buf[len] = '\0';
	return len;
}

static int
accept(struct scan *s, char c)
{
	skip_space(s);
	if (*s->p != c)
		return 0;
	s->p++;
	return 1;
}

/*
 * Read one argument value.  When want is not NULL, store the integer it
 * stands for (a literal or a variable) in *want, or -1 when it is not an
 * integer.
 */
static void
value(struct scan *s, long *want)
{
	char buf[128];

	skip_space(s);
	if (want != NULL)
		*want = -1;
	if (*s->p == '$') {
		s->p++;
		if (name(s, buf, sizeof(buf)) == 0) {
			s->bad = 1;
			return;
		}
		if (want != NULL) {
			jv v = jv_get_kind(s->vars) == JV_KIND_OBJECT
				   ? jv_object_get(jv_copy(s->vars),
						   jv_string(buf))
				   : jv_invalid();

			if (jv_get_kind(v) == JV_KIND_NUMBER &&
			    jv_number_value(v) >= 0 &&
			    jv_number_value(v) <= 100000)
				*want = (long)jv_number_value(v);
			jv_free(v);
		}
	} else if (*s->p == '"') {
		int triple = strncmp(s->p, "\"\"\"", 3) == 0;

		s->p += triple ? 3 : 1;
		while (*s->p != '\0') {
			if (triple && strncmp(s->p, "\"\"\"", 3) == 0) {
				s->p += 3;
				return;
			}
			if (!triple && *s->p == '"') {
				s->p++;
				return;
			}
			if (*s->p == '\\' && s->p[1] != '\0')
				s->p++;
			s->p++;
		}
		s->bad = 1;
	} else if (*s->p == '[') {
		s->p++;
		while (!s->bad && !accept(s, ']')) {
			if (*s->p == '\0') {
				s->bad = 1;
				return;
			}
			value(s, NULL);
		}
	} else if (*s->p == '-' || isdigit((unsigned char)*s->p)) {
		long n = 0;
		int neg = *s->p == '-';

		if (neg)
			s->p++;
		while (isdigit((unsigned char)*s->p)) {
			if (n < 1000000)
				n = n * 10 + (*s->p - '0');
			s->p++;
		}
		if (*s->p == '.') {
			s->p++;
			while (isdigit((unsigned char)*s->p))
				s->p++;
			n = -1;
		}
		if (want != NULL)
			*want = neg ? -1 : n;
	} else if (name(s, buf, sizeof(buf)) == 0) {
		s->bad = 1;
	}
}

static long selection(struct scan *s, int as_node);

/*
 * One field after its name: arguments, then a selection set.  Returns its
 * cost under the parent's rules.  name_ is the field's name.
 */
static long
field(struct scan *s, const char *fname, int in_connection)
{
	long first = -2, cost = 0;
	char buf[128];

	if (accept(s, '(')) {
		while (!s->bad && !accept(s, ')')) {
			long v;

			if (name(s, buf, sizeof(buf)) == 0 || !accept(s, ':')) {
				s->bad = 1;
				return 0;
			}
			value(s, &v);
			if (strcmp(buf, "first") == 0) {
				if (v < 0)
					s->bad = 1;
				first = v;
			}
		}
	}
	skip_space(s);
	if (*s->p != '{')
		return 0; /* a scalar or an enum */
	if (strcmp(fname, "pageInfo") == 0) {
		selection(s, 0);
		return 0;
	}
	if (in_connection &&
	    (strcmp(fname, "nodes") == 0 || strcmp(fname, "node") == 0))
		return selection(s, 0);
	if (in_connection && strcmp(fname, "edges") == 0)
		return selection(s, 1);
	if (first >= 0) {
		cost = selection(s, 1);
		return 2 + first * (1 + cost);
	}
	return 1 + selection(s, 0);
}

/*
 * A selection set "{ ... }".  as_node: the set is the inside of a
 * connection or list, where nodes, edges and node only pass through.
 */
static long
selection(struct scan *s, int as_node)
{
	char buf[128];
	long cost = 0;

	if (!accept(s, '{')) {
		s->bad = 1;
		return 0;
	}
	while (!s->bad && !accept(s, '}')) {
		skip_space(s);
		if (strncmp(s->p, "...", 3) == 0) {
			s->p += 3;
			if (name(s, buf, sizeof(buf)) == 0 ||
			    strcmp(buf, "on") != 0 ||
			    name(s, buf, sizeof(buf)) == 0) {
				s->bad = 1;
				return 0;
			}
			cost += selection(s, as_node);
			continue;
		}
		if (name(s, buf, sizeof(buf)) == 0) {
			s->bad = 1;
			return 0;
		}
		if (accept(s, ':') && name(s, buf, sizeof(buf)) == 0) {
			s->bad = 1;
			return 0;
		}
		cost += field(s, buf, as_node);
		if (cost > 100000000L)
			cost = 100000000L;
	}
	return cost;
}

long
gql_cost(const char *doc, jv variables)
{
	struct scan s = {doc, variables, 0};
	char buf[128];
	int mutation = 0;
	long cost;

	skip_space(&s);
	if (*s.p != '{') {
		if (name(&s, buf, sizeof(buf)) == 0)
			return -1;
		if (strcmp(buf, "mutation") == 0)
			mutation = 1;
		else if (strcmp(buf, "query") != 0)
			return -1;
		name(&s, buf, sizeof(buf));
		if (accept(&s, '(')) {
			/* Variable definitions: skip to the matching ')'. */
			while (*s.p != '\0' && *s.p != ')')
				s.p++;
			if (!accept(&s, ')'))
				return -1;
		}
	}
	cost = selection(&s, 0);
	skip_space(&s);
	if (s.bad || *s.p != '\0')
		return -1;
	return mutation ? 10 : cost;
}
