/* See LICENSE file for copyright and license details. */
/*
 * recdiff: compare two record files by key, for auditors ("tillroll diff").
 *
 * Reads two NDJSON files of tillroll records (a stage's output from two
 * runs of the same day, say) and prints, in key order, the records added,
 * the records removed, and for each changed record the fields that
 * changed, from what to what.  Amounts are shown as money with their
 * currency and the difference.  Exits 0 when the files hold the same
 * records, 1 when they differ, as diff(1) does; other statuses are the
 * sysexits of DESIGN section 3.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <jv.h>

#include "json.h"
#include "money.h"
#include "msg.h"
#include "ndjson.h"
#include "sha256.h"

struct rec {
	char *key;	    /* the record's key, or "(no key) sha256:..." */
	jv value;	    /* the record (owned) */
	unsigned long line; /* where it was, for duplicate messages */
};

struct side {
	const char *path; /* the file (borrowed) */
	struct rec *v;	  /* records, sorted by key after load */
	size_t n, cap;
};

static int json_out;   /* --json: NDJSON instead of text */
static char **ignored; /* --ignore FIELD, top-level fields */
static int nignored;

static int
is_ignored(const char *field)
{
	int i;

	for (i = 0; i < nignored; i++)
		if (strcmp(ignored[i], field) == 0)
			return 1;
	return 0;
}

static int
by_key(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	int cmp = strcmp(x->key, y->key);

	/* Ties by line, so that duplicates are reported the same way. */
	if (cmp == 0)
		return x->line < y->line ? -1 : x->line > y->line;
	return cmp;
}

/* Read every record of path into s.  Returns 0 or a sysexits status. */
static int
load(struct side *s)
{
	struct ndjson_reader rd;
	char *paths[1];
	const char *line;
	size_t len;
	int rc, status = 0;

	paths[0] = (char *)s->path;
	ndjson_reader_init(&rd, 1, paths);
	while ((rc = ndjson_reader_next(&rd, &line, &len)) != 0) {
		struct rec r;
		jv v;
		const char *key;

		if (rc < 0) {
			msg_warn("%s", rd.err);
			status = rd.status;
			break;
		}
		v = jv_parse_sized(line, (int)len);
		if (!jv_is_valid(v)) {
			jv_free(v);
			msg_warn("%s: line %lu: not JSON", s->path, rd.lineno);
			status = EX_DATAERR;
			break;
		}
		if ((key = json_str(v, "key")) != NULL) {
			r.key = strdup(key);
		} else {
			/* Keyless records still count, by their content. */
			char hex[SHA256_HEX_LEN], buf[96];

			sha256_hex(line, len, hex);
			snprintf(buf, sizeof(buf), "(no key) sha256:%s", hex);
			r.key = strdup(buf);
		}
		r.value = v;
		r.line = rd.lineno;
		if (r.key == NULL ||
		    (s->n == s->cap &&
		     (s->v = realloc(s->v, (s->cap = s->cap * 2 + 1024) *
					       sizeof(*s->v))) == NULL)) {
			msg_warn("out of memory");
			jv_free(v);
			status = EX_OSERR;
			break;
		}
		s->v[s->n++] = r;
	}
	ndjson_reader_release(&rd);
	if (status != 0)
		return status;
	qsort(s->v, s->n, sizeof(*s->v), by_key);
	for (size_t i = 1; i < s->n; i++)
		if (strcmp(s->v[i - 1].key, s->v[i].key) == 0 &&
		    strncmp(s->v[i].key, "(no key)", 8) != 0) {
			msg_warn("%s: line %lu: key '%s' appears twice (also "
				 "line %lu)",
				 s->path, s->v[i].line, s->v[i].key,
				 s->v[i - 1].line);
			return EX_DATAERR;
		}
	return 0;
}

/*
 * The exponent of the record's currency when value (borrowed) is one of
 * its amounts: a decimal string with exactly that many fraction digits.
 * Returns -1 when it is not money.
 */
static int
money_exponent(jv rec, jv value)
{
	const char *cur = json_str(rec, "currency"), *s, *dot;
	int e;
	int64_t minor;
	const char *why;

	if (cur == NULL || jv_get_kind(value) != JV_KIND_STRING ||
	    (e = currency_exponent(cur)) <= 0)
		return -1;
	s = jv_string_value(value);
	if ((dot = strchr(s, '.')) == NULL || (int)strlen(dot + 1) != e ||
	    money_parse(s, strlen(s), e, &minor, &why) < 0)
		return -1;
	return e;
}

/* Print value (borrowed) for people: money as money, the rest as JSON. */
static void
show(FILE *f, jv rec, jv value)
{
	jv text;

	if (jv_is_valid(value) && money_exponent(rec, value) >= 0) {
		fprintf(f, "%s %s", jv_string_value(value),
			json_str(rec, "currency"));
		return;
	}
	if (!jv_is_valid(value)) {
		fputs("(absent)", f);
		return;
	}
	text = jv_dump_string(jv_copy(value), JV_PRINT_SORTED);
	fputs(jv_string_value(text), f);
	jv_free(text);
}

struct change_list {
	jv changes;	 /* array of {path, from, to} for --json */
	jv rec_a, rec_b; /* the two records (borrowed), for money */
	int n;		 /* changes found */
};

static void
report_change(struct change_list *cl, const char *path, jv a, jv b)
{
	jv c = jv_object();

	cl->n++;
	c = json_set_str(c, "path", path);
	c = jv_object_set(c, jv_string("from"),
			  jv_is_valid(a) ? jv_copy(a) : jv_null());
	c = jv_object_set(c, jv_string("to"),
			  jv_is_valid(b) ? jv_copy(b) : jv_null());
	if (!jv_is_valid(a))
		c = jv_object_set(c, jv_string("added"), jv_true());
	if (!jv_is_valid(b))
		c = jv_object_set(c, jv_string("removed"), jv_true());
	cl->changes = jv_array_append(cl->changes, c);
}

/* One changed field for people; money with its currency and the delta. */
static void
print_change(struct change_list *cl, jv c)
{
	jv a = json_get(c, "from"), b = json_get(c, "to");

	if (json_has(c, "added")) {
		jv_free(a);
		a = jv_invalid();
	}
	if (json_has(c, "removed")) {
		jv_free(b);
		b = jv_invalid();
	}
	printf("    %s: ", json_str(c, "path"));
	show(stdout, cl->rec_a, a);
	fputs(" -> ", stdout);
	show(stdout, cl->rec_b, b);
	if (jv_is_valid(a) && jv_is_valid(b)) {
		int ea = money_exponent(cl->rec_a, a);
		int eb = money_exponent(cl->rec_b, b);

		if (ea >= 0 && ea == eb &&
		    strcmp(json_str(cl->rec_a, "currency"),
			   json_str(cl->rec_b, "currency")) == 0) {
			int64_t x, y;
			const char *why, *sa = jv_string_value(a),
					 *sb = jv_string_value(b);
			char d[MONEY_TEXT_MAX];

			money_parse(sa, strlen(sa), ea, &x, &why);
			money_parse(sb, strlen(sb), eb, &y, &why);
			money_format(y - x, ea, d);
			printf(" (%s%s)", y - x >= 0 ? "+" : "", d);
		}
	}
	putchar('\n');
	jv_free(a);
	jv_free(b);
}

/* Walk a and b (borrowed) in parallel, reporting differing leaves. */
static void
compare(struct change_list *cl, char *path, size_t plen, size_t cap, jv a, jv b,
	int top)
{
	jv_kind ka = jv_is_valid(a) ? jv_get_kind(a) : JV_KIND_INVALID;
	jv_kind kb = jv_is_valid(b) ? jv_get_kind(b) : JV_KIND_INVALID;

	if (ka == JV_KIND_OBJECT && kb == JV_KIND_OBJECT) {
		jv keys = jv_keys(jv_copy(a)), kb_keys = jv_keys(jv_copy(b));

		/* Union of the keys, in order: a's, then b's own. */
		jv_array_foreach(kb_keys, i, k)
		{
			if (!jv_object_has(jv_copy(a), jv_copy(k)))
				keys = jv_array_append(keys, jv_copy(k));
			jv_free(k);
		}
		jv_free(kb_keys);
		jv_array_foreach(keys, i, k)
		{
			const char *name = jv_string_value(k);
			jv va, vb;

			if (top && is_ignored(name)) {
				jv_free(k);
				continue;
			}
			va = json_get(a, name);
			vb = json_get(b, name);
			snprintf(path + plen, cap - plen, "%s%s",
				 plen ? "." : "", name);
			compare(cl, path, strlen(path), cap, va, vb, 0);
			path[plen] = '\0';
			jv_free(va);
			jv_free(vb);
			jv_free(k);
		}
		jv_free(keys);
		return;
	}
	if (ka == JV_KIND_ARRAY && kb == JV_KIND_ARRAY) {
		int na = jv_array_length(jv_copy(a));
		int nb = jv_array_length(jv_copy(b)), i;

		for (i = 0; i < (na > nb ? na : nb); i++) {
			jv va =
			    i < na ? jv_array_get(jv_copy(a), i) : jv_invalid();
			jv vb =
			    i < nb ? jv_array_get(jv_copy(b), i) : jv_invalid();

			snprintf(path + plen, cap - plen, "[%d]", i);
			compare(cl, path, strlen(path), cap, va, vb, 0);
			path[plen] = '\0';
			jv_free(va);
			jv_free(vb);
		}
		return;
	}
	if (ka == kb &&
	    (ka == JV_KIND_INVALID || jv_equal(jv_copy(a), jv_copy(b))))
		return;
	report_change(cl, plen ? path : "(record)", a, b);
}

static void
added_or_removed(const char *what, const struct rec *r)
{
	const char *kind = json_str(r->value, "kind");

	if (json_out) {
		jv o = jv_object();

		o = json_set_str(o, "key", r->key);
		o = json_set_str(o, "change", what);
		o = jv_object_set(o, jv_string("record"), jv_copy(r->value));
		json_emit(stdout, o);
		return;
	}
	printf("%s %s (%s)\n", what[0] == 'a' ? "+" : "-", r->key,
	       kind ? kind : "?");
}

/* Compare one key's two records; returns 1 when they differ. */
static int
changed(const struct rec *a, const struct rec *b)
{
	struct change_list cl;
	char path[1024] = "";
	int n;

	cl.changes = jv_array();
	cl.rec_a = a->value;
	cl.rec_b = b->value;
	cl.n = 0;
	compare(&cl, path, 0, sizeof(path), a->value, b->value, 1);
	n = cl.n;
	if (n > 0 && json_out) {
		jv o = jv_object();

		o = json_set_str(o, "key", a->key);
		o = json_set_str(o, "change", "changed");
		o = jv_object_set(o, jv_string("fields"), cl.changes);
		json_emit(stdout, o);
		return 1;
	}
	if (n > 0) {
		const char *kind = json_str(b->value, "kind");

		printf("~ %s (%s)\n", a->key, kind ? kind : "?");
		jv_array_foreach(cl.changes, i, c)
		{
			print_change(&cl, c);
			jv_free(c);
		}
	}
	jv_free(cl.changes);
	return n > 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: recdiff [--json] [--ignore FIELD ...] FILE1 FILE2\n"
		"       recdiff --help | --version\n"
		"Compare two record files by key (.gz read transparently).\n"
		"Exit: 0 the same, 1 they differ, 64 usage, 65 a file is not a "
		"record file,\n"
		"      66 cannot open a file, 74 I/O error.\n");
}

static void
release(struct side *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->v[i].key);
		jv_free(s->v[i].value);
	}
	free(s->v);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"ignore", required_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct side a = {0}, b = {0};
	size_t i = 0, j = 0;
	int ch, rc, differ = 0, status;

	msg_init("recdiff");
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json_out = 1;
			break;
		case 'i':
			ignored = realloc(ignored, (size_t)(nignored + 1) *
						       sizeof(*ignored));
			if (ignored == NULL)
				return msg_fail(EX_OSERR, "out of memory");
			ignored[nignored++] = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("recdiff (tillroll) %s\n", TILLROLL_VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2) {
		usage(stderr);
		return EX_USAGE;
	}
	a.path = argv[0];
	b.path = argv[1];
	if ((rc = load(&a)) != 0 || (rc = load(&b)) != 0) {
		release(&a);
		release(&b);
		free(ignored);
		return rc;
	}
	while (i < a.n || j < b.n) {
		int cmp = i == a.n   ? 1
			  : j == b.n ? -1
				     : strcmp(a.v[i].key, b.v[j].key);

		if (cmp < 0) {
			added_or_removed("removed", &a.v[i++]);
			differ = 1;
		} else if (cmp > 0) {
			added_or_removed("added", &b.v[j++]);
			differ = 1;
		} else {
			differ |= changed(&a.v[i++], &b.v[j++]);
		}
	}
	release(&a);
	release(&b);
	free(ignored);
	status = differ;
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
		return msg_fail(EX_IOERR, "write error on standard output:");
	return status;
}
