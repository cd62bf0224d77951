/* See LICENSE file for copyright and license details. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "ndjson.h"

#define CHUNK_SIZE (256 * 1024)

int
ndjson_reader_init(struct ndjson_reader *r, int npaths, char *const *paths)
{
	memset(r, 0, sizeof(*r));
	r->paths = paths;
	r->npaths = npaths;
	r->name = "<stdin>";
	return 0;
}

static int
fail(struct ndjson_reader *r, int status, const char *what)
{
	snprintf(r->err, sizeof(r->err), "%s", what);
	r->status = status;
	return -1;
}

/* Open the next operand.  Returns 1 opened, 0 none left, -1 error. */
static int
open_next(struct ndjson_reader *r)
{
	const char *path;
	int fd;

	if (r->npaths == 0 && r->next == 0)
		path = "-";
	else if (r->next < r->npaths)
		path = r->paths[r->next];
	else
		return 0;
	r->next++;
	r->lineno = 0;
	r->eof = 0;
	r->chunk_len = r->chunk_pos = 0;
	if (strcmp(path, "-") == 0) {
		r->name = "<stdin>";
		/* gzclose closes the fd it was given; keep fd 0 ours. */
		if ((fd = dup(STDIN_FILENO)) < 0 ||
		    (r->gz = gzdopen(fd, "rb")) == NULL) {
			snprintf(r->err, sizeof(r->err), "cannot read '%s': %s",
				 r->name, strerror(errno));
			r->status = EX_IOERR;
			return -1;
		}
	} else {
		r->name = path;
		if ((r->gz = gzopen(path, "rb")) == NULL) {
			snprintf(r->err, sizeof(r->err), "cannot open '%s': %s",
				 path,
				 errno ? strerror(errno) : "out of memory");
			r->status = EX_NOINPUT;
			return -1;
		}
	}
	gzbuffer(r->gz, CHUNK_SIZE);
	return 1;
}

/* Close the current input, reporting a truncated stream as an error. */
static int
close_current(struct ndjson_reader *r)
{
	int errnum = Z_OK, rc;
	const char *zmsg;

	if (r->gz == NULL)
		return 0;
	zmsg = gzerror(r->gz, &errnum);
	if (errnum != Z_OK && errnum != Z_STREAM_END) {
		char what[400];

		snprintf(what, sizeof(what), "'%s': %s", r->name,
			 errnum == Z_BUF_ERROR ? "truncated gzip input"
			 : errnum == Z_ERRNO   ? strerror(errno)
					       : zmsg);
		gzclose(r->gz);
		r->gz = NULL;
		return fail(r, EX_IOERR, what);
	}
	rc = gzclose(r->gz);
	r->gz = NULL;
	if (rc == Z_BUF_ERROR) {
		char what[400];

		snprintf(what, sizeof(what), "'%s': truncated gzip input",
			 r->name);
		return fail(r, EX_IOERR, what);
	}
	if (rc != Z_OK) {
		char what[400];

		snprintf(what, sizeof(what), "cannot read '%s'", r->name);
		return fail(r, EX_IOERR, what);
	}
	return 0;
}

/* Refill chunk from the current input.  Returns bytes read, 0, or -1. */
static int
refill(struct ndjson_reader *r)
{
	int n;

	if (r->chunk == NULL && (r->chunk = malloc(CHUNK_SIZE)) == NULL)
		return fail(r, EX_OSERR, "out of memory");
	n = gzread(r->gz, r->chunk, CHUNK_SIZE);
	if (n < 0) {
		int errnum;
		const char *zmsg = gzerror(r->gz, &errnum);
		char what[400];

		snprintf(what, sizeof(what), "cannot read '%s': %s", r->name,
			 errnum == Z_ERRNO ? strerror(errno) : zmsg);
		gzclose(r->gz);
		r->gz = NULL;
		return fail(r, EX_IOERR, what);
	}
	r->chunk_len = (size_t)n;
	r->chunk_pos = 0;
	if (n == 0)
		r->eof = 1;
	return n;
}

/* Append n bytes to the line being assembled at offset *used. */
static int
append(struct ndjson_reader *r, size_t *used, const char *p, size_t n)
{
	if (*used + n + 1 > r->line_cap) {
		size_t cap = r->line_cap ? r->line_cap : 4096;
		char *grown;

		while (cap < *used + n + 1)
			cap *= 2;
		if ((grown = realloc(r->line, cap)) == NULL)
			return fail(r, EX_OSERR, "out of memory");
		r->line = grown;
		r->line_cap = cap;
	}
	memcpy(r->line + *used, p, n);
	*used += n;
	r->line[*used] = '\0';
	return 0;
}

/*
 * Assemble the next physical line of the current input.  Returns 1 with
 * a line (possibly empty), 0 at the end of this input, -1 on error.
 */
static int
physical_line(struct ndjson_reader *r, size_t *len)
{
	size_t used = 0;
	int any = 0;

	for (;;) {
		char *start, *nl;
		size_t avail;

		if (r->chunk_pos == r->chunk_len) {
			if (r->eof)
				break;
			if (refill(r) < 0)
				return -1;
			if (r->eof)
				break;
		}
		start = r->chunk + r->chunk_pos;
		avail = r->chunk_len - r->chunk_pos;
		nl = memchr(start, '\n', avail);
		any = 1;
		if (nl != NULL) {
			if (append(r, &used, start, (size_t)(nl - start)) < 0)
				return -1;
			r->chunk_pos += (size_t)(nl - start) + 1;
			*len = used;
			return 1;
		}
		if (append(r, &used, start, avail) < 0)
			return -1;
		r->chunk_pos = r->chunk_len;
	}
	if (!any || used == 0)
		return 0;
	/*
	 * A last line without its newline is still a line, unless the
	 * stream was cut: then it is the torn half of a record, and the
	 * error is what the caller must hear about.
	 */
	if (close_current(r) < 0)
		return -1;
	*len = used;
	return 1;
}

static int
blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

int
ndjson_reader_next(struct ndjson_reader *r, const char **line, size_t *len)
{
	int rc;

	for (;;) {
		if (r->gz == NULL) {
			if ((rc = open_next(r)) <= 0)
				return rc;
		}
		rc = physical_line(r, len);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			if (close_current(r) < 0)
				return -1;
			continue;
		}
		r->lineno++;
		if (*len > 0 && r->line[*len - 1] == '\r')
			r->line[--*len] = '\0';
		if (blank(r->line, *len))
			continue;
		*line = r->line;
		return 1;
	}
}

void
ndjson_reader_release(struct ndjson_reader *r)
{
	if (r->gz != NULL)
		gzclose(r->gz);
	free(r->chunk);
	free(r->line);
	r->gz = NULL;
	r->chunk = NULL;
	r->line = NULL;
	r->line_cap = 0;
}
