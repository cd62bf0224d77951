/* See LICENSE file for copyright and license details. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <csv.h>

#include "csvread.h"
#include "utf8.h"

/* libcsv's parser state between rows (ROW_NOT_BEGUN in libcsv.c). */
#define CSV_ROW_NOT_BEGUN 0

#define CHUNK 65536

/* The row being assembled from libcsv's field callbacks. */
struct assembly {
	char *text;	     /* the fields' bytes, each NUL-terminated */
	size_t used, cap;    /* bytes in text, allocated */
	size_t *off, *len;   /* each field's offset in text, length */
	const char **ptr;    /* field pointers built at the row's end */
	size_t n, fcap;	     /* fields in the row, allocated */
	int nomem;	     /* an allocation failed */
	int bad_utf8;	     /* a field was not valid UTF-8 or held NUL */
	unsigned long start; /* line where the row began */
	unsigned long line;  /* line being fed */
	csv_row_fn fn;	     /* the caller's callback */
	void *arg;	     /* and its argument */
	int stopped;	     /* fn's nonzero value */
	struct csv_file *cf; /* counts */
};

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 16;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if ((np = realloc(*p, ncap * size)) == NULL)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

static void
on_field(void *field, size_t n, void *data)
{
	struct assembly *a = data;
	size_t fcap = a->fcap;

	if (a->nomem || a->stopped)
		return;
	if (a->n == 0)
		a->start = a->start ? a->start : a->line;
	if (!utf8_valid(field, n))
		a->bad_utf8 = 1;
	if (grow((void **)&a->text, &a->cap, a->used + n + 1, 1) < 0 ||
	    grow((void **)&a->off, &fcap, a->n + 1, sizeof(size_t)) < 0) {
		a->nomem = 1;
		return;
	}
	if (fcap != a->fcap) {
		size_t lcap = a->fcap, pcap = a->fcap;

		if (grow((void **)&a->len, &lcap, fcap, sizeof(size_t)) < 0 ||
		    grow((void **)&a->ptr, &pcap, fcap, sizeof(char *)) < 0) {
			a->nomem = 1;
			return;
		}
		a->fcap = fcap;
	}
	if (n > 0)
		memcpy(a->text + a->used, field, n);
	a->text[a->used + n] = '\0';
	a->off[a->n] = a->used;
	a->len[a->n] = n;
	a->used += n + 1;
	a->n++;
}

static void
on_row(int term, void *data)
{
	struct assembly *a = data;
	struct csv_row row;
	size_t i;
	int rc;

	(void)term;
	if (a->nomem || a->stopped || a->bad_utf8)
		return;
	for (i = 0; i < a->n; i++)
		a->ptr[i] = a->text + a->off[i];
	a->cf->rows++;
	row.field = a->ptr;
	row.len = a->len;
	row.n = a->n;
	row.row = a->cf->rows;
	row.line = a->start;
	if ((rc = a->fn(&row, a->arg)) != 0)
		a->stopped = rc;
	a->n = 0;
	a->used = 0;
	a->start = 0;
}

static void
set_error(struct csv_file *cf, int status, const char *reason,
	  unsigned long line, const char *what)
{
	cf->status = status;
	cf->reason = reason;
	cf->err_line = line;
	snprintf(cf->err, sizeof(cf->err), "%s", what);
}

/* Feed n bytes that lie within one physical line to the parser. */
static int
feed(struct csv_parser *p, struct assembly *a, const char *s, size_t n,
     int at_line_start)
{
	/* A row can only begin where a line begins. */
	if (at_line_start && p->pstate == CSV_ROW_NOT_BEGUN)
		a->start = a->line;
	if (csv_parse(p, s, n, on_field, on_row, a) != n) {
		if (csv_error(p) == CSV_EPARSE)
			return 1;
		a->nomem = 1;
	}
	return 0;
}

static void
release(struct assembly *a, struct csv_parser *p)
{
	csv_free(p);
	free(a->text);
	free(a->off);
	free(a->len);
	free(a->ptr);
}

static int
space_never(unsigned char c)
{
	(void)c;
	return 0;
}

int
csv_read_stream(FILE *f, csv_row_fn fn, void *arg, struct csv_file *cf)
{
	struct csv_parser p;
	struct assembly a;
	struct sha256 h;
	unsigned char digest[SHA256_LEN];
	char *buf;
	size_t got, pos, i;
	int first = 1, line_start = 1, parse_error = 0, rc = 0;
	unsigned long bad_at = 0;

	memset(cf, 0, sizeof(*cf));
	memset(&a, 0, sizeof(a));
	a.fn = fn;
	a.arg = arg;
	a.cf = cf;
	a.line = 1;
	sha256_init(&h);
	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0 ||
	    (buf = malloc(CHUNK)) == NULL) {
		set_error(cf, EX_OSERR, "no_memory", 0, "out of memory");
		return -1;
	}
	csv_set_space_func(&p, space_never);
	while (!parse_error && !a.stopped && !a.nomem && !a.bad_utf8 &&
	       (got = fread(buf, 1, CHUNK, f)) > 0) {
		sha256_update(&h, buf, got);
		pos = 0;
		if (first && got >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
			pos = 3;
		first = 0;
		while (pos < got) {
			char *nl = memchr(buf + pos, '\n', got - pos);
			size_t end = nl ? (size_t)(nl - buf) + 1 : got;

			if (feed(&p, &a, buf + pos, end - pos, line_start)) {
				parse_error = 1;
				break;
			}
			if (a.stopped || a.nomem || a.bad_utf8)
				break;
			line_start = nl != NULL;
			if (nl != NULL) {
				cf->lines = a.line;
				a.line++;
			}
			pos = end;
		}
	}
	if (!line_start && !parse_error)
		cf->lines = a.line;
	if (!parse_error && !a.stopped && !a.nomem && !a.bad_utf8 &&
	    ferror(f)) {
		set_error(cf, EX_IOERR, "read_error", a.line,
			  strerror(errno ? errno : EIO));
		rc = -1;
	} else if (!parse_error && !a.stopped && !a.nomem && !a.bad_utf8 &&
		   csv_fini(&p, on_field, on_row, &a) != 0) {
		parse_error = 2;
	}
	bad_at = a.start ? a.start : a.line;
	if (rc == 0 && parse_error == 1) {
		char what[200];

		if (bad_at != a.line)
			snprintf(what, sizeof(what),
				 "a quoted field that begins here is malformed "
				 "(a stray or unbalanced quote, seen at line "
				 "%lu)",
				 a.line);
		else
			snprintf(what, sizeof(what),
				 "a field is malformed (a stray or unbalanced "
				 "quote)");
		set_error(cf, EX_DATAERR, "bad_csv", bad_at, what);
		rc = -1;
	} else if (rc == 0 && parse_error == 2) {
		set_error(cf, EX_DATAERR, "bad_csv", bad_at,
			  "a quoted field is not closed before the end of "
			  "the file (an unbalanced quote, or a truncated "
			  "file)");
		rc = -1;
	} else if (rc == 0 && a.bad_utf8) {
		set_error(cf, EX_DATAERR, "bad_encoding", bad_at,
			  "a field is not valid UTF-8 text");
		rc = -1;
	} else if (rc == 0 && a.nomem) {
		set_error(cf, EX_OSERR, "no_memory", bad_at, "out of memory");
		rc = -1;
	} else if (rc == 0 && a.stopped) {
		rc = a.stopped;
	}
	sha256_final(&h, digest);
	for (i = 0; i < SHA256_LEN; i++)
		snprintf(cf->sha256 + 2 * i, 3, "%02x", digest[i]);
	free(buf);
	release(&a, &p);
	return rc;
}
