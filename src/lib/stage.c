/* See LICENSE file for copyright and license details. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <jv.h>

#include "json.h"
#include "msg.h"
#include "ndjson.h"
#include "stage.h"

int
stage_init(struct stage *s, const char *name, const char *rejects_path,
	   const char *stats_path)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->stats_path = stats_path;
	s->rejects_path = rejects_path;
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	if (rejects_path != NULL &&
	    (s->rejects = fopen(rejects_path, "w")) == NULL)
		return msg_fail(EX_IOERR, "cannot create '%s':", rejects_path);
	return 0;
}

int
counters_add(struct counters *c, const char *name)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int cmp = strcmp(c->v[mid].name, name);

		if (cmp == 0) {
			c->v[mid].n++;
			return 0;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct counter *v = realloc(c->v, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		c->v = v;
		c->cap = cap;
	}
	memmove(c->v + lo + 1, c->v + lo, (c->n - lo) * sizeof(*c->v));
	if ((c->v[lo].name = strdup(name)) == NULL)
		return -1;
	c->v[lo].n = 1;
	c->n++;
	return 0;
}

static jv
counters_jv(struct counters *c)
{
	jv o = jv_object();
	size_t i;

	for (i = 0; i < c->n; i++)
		o = jv_object_set(o, jv_string(c->v[i].name),
				  jv_number((double)c->v[i].n));
	return o;
}

static void
counters_release(struct counters *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->v[i].name);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

/* Write str as a JSON string to f. */
static void
put_string(FILE *f, const char *str, size_t n)
{
	jv d = jv_dump_string(jv_string_sized(str, (int)n), 0);

	fputs(jv_string_value(d), f);
	jv_free(d);
}

/*
 * One reject, keys in canonical order.  The record is the input line
 * itself, spliced in byte for byte when it is JSON: parsing and printing
 * it again would round any number above 2^53, and the reject must keep
 * exactly what came in.  A line that is not JSON is kept as a string.
 */
static void
write_reject(struct stage *s, const char *file, unsigned long line,
	     const char *raw, size_t rawlen, const char *reason,
	     const char *detail)
{
	jv parsed = jv_parse_sized(raw, (int)rawlen);
	FILE *f = s->rejects;

	fputs("{\"detail\":", f);
	put_string(f, detail, strlen(detail));
	fputs(",\"file\":", f);
	put_string(f, file, strlen(file));
	fprintf(f, ",\"line\":%lu,\"reason\":", line);
	put_string(f, reason, strlen(reason));
	fputs(",\"record\":", f);
	if (jv_is_valid(parsed))
		fwrite(raw, 1, rawlen, f);
	else
		put_string(f, raw, rawlen);
	jv_free(parsed);
	fputs(",\"stage\":", f);
	put_string(f, s->name, strlen(s->name));
	fputs("}\n", f);
	if (ferror(f))
		s->io_failed = 1;
}

void
stage_reject(struct stage *s, const char *file, unsigned long line,
	     const char *raw, size_t rawlen, const char *reason,
	     const char *detail)
{
	s->rejected++;
	counters_add(&s->reasons, reason);
	if (s->rejected <= STAGE_MAX_MESSAGES) {
		if (file != NULL && strcmp(file, "<stdin>") != 0)
			msg_warn("%s: line %lu: %s", file, line, detail);
		else
			msg_warn("line %lu: %s", line, detail);
	}
	if (s->rejects != NULL)
		write_reject(s, file ? file : "<stdin>", line, raw, rawlen,
			     reason, detail);
}

static int
elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int)((now.tv_sec - start->tv_sec) * 1000 +
		     (now.tv_nsec - start->tv_nsec) / 1000000);
}

int
stage_finish(struct stage *s, int status)
{
	FILE *f = stderr;
	jv st;

	if (s->rejected > STAGE_MAX_MESSAGES)
		msg_warn("%lu more rejects not shown%s%s",
			 s->rejected - STAGE_MAX_MESSAGES,
			 s->rejects ? ", see " : "",
			 s->rejects ? s->rejects_path : "");
	if (s->in + s->split != s->out + s->rejected + s->dropped) {
		msg_warn("internal error: %lu in + %lu split != %lu out + "
			 "%lu rejected + %lu dropped",
			 s->in, s->split, s->out, s->rejected, s->dropped);
		status = exit_worst(status, EX_SOFTWARE);
	}
	if (s->rejected > 0)
		status = exit_worst(status, EX_DATAERR);
	if (s->rejects != NULL) {
		if (fclose(s->rejects) != 0 || s->io_failed) {
			msg_warn("cannot write '%s':", s->rejects_path);
			status = exit_worst(status, EX_IOERR);
		}
		s->rejects = NULL;
	}
	st = jv_object();
	st = json_set_str(st, "stage", s->name);
	st = jv_object_set(st, jv_string("in"), jv_number((double)s->in));
	st = jv_object_set(st, jv_string("out"), jv_number((double)s->out));
	st = jv_object_set(st, jv_string("rejected"),
			   jv_number((double)s->rejected));
	st = jv_object_set(st, jv_string("passed"),
			   jv_number((double)s->passed));
	st = jv_object_set(st, jv_string("split"), jv_number((double)s->split));
	st = jv_object_set(st, jv_string("dropped"),
			   jv_number((double)s->dropped));
	st = jv_object_set(st, jv_string("in_by_kind"),
			   counters_jv(&s->in_kind));
	st = jv_object_set(st, jv_string("out_by_kind"),
			   counters_jv(&s->out_kind));
	st = jv_object_set(st, jv_string("rejected_by_reason"),
			   counters_jv(&s->reasons));
	st = jv_object_set(st, jv_string("dropped_by_reason"),
			   counters_jv(&s->drops));
	st = jv_object_set(st, jv_string("wall_ms"),
			   jv_number(elapsed_ms(&s->start)));
	st = jv_object_set(st, jv_string("status"), jv_number(status));
	if (s->stats_path != NULL && (f = fopen(s->stats_path, "w")) == NULL) {
		msg_warn("cannot create '%s':", s->stats_path);
		jv_free(st);
		status = exit_worst(status, EX_IOERR);
	} else {
		if (json_emit(f, st) < 0 || (f != stderr && fclose(f) != 0)) {
			msg_warn("cannot write stats '%s':",
				 s->stats_path ? s->stats_path : "<stderr>");
			status = exit_worst(status, EX_IOERR);
		}
	}
	counters_release(&s->in_kind);
	counters_release(&s->out_kind);
	counters_release(&s->reasons);
	counters_release(&s->drops);
	return status;
}

int
stage_read(struct stage *s, int n, char *const paths[], stage_line_fn *fn)
{
	struct ndjson_reader rd;
	const char *line;
	size_t len;
	int rc, status = 0;

	ndjson_reader_init(&rd, n, paths);
	while ((rc = ndjson_reader_next(&rd, &line, &len)) != 0) {
		if (rc < 0) {
			msg_warn("%s", rd.err);
			status = exit_worst(status, rd.status);
			continue;
		}
		if (fn(s, line, len, rd.name, rd.lineno) < 0) {
			status = exit_worst(status, EX_IOERR);
			break;
		}
	}
	ndjson_reader_release(&rd);
	return status;
}

int
stage_flush_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		msg_warn("write error on standard output:");
		status = exit_worst(status, EX_IOERR);
	}
	return status;
}

int
stage_close_stdout(int status)
{
	if (fclose(stdout) != 0 && status == 0) {
		msg_warn("write error on standard output:");
		status = EX_IOERR;
	}
	return status;
}
