/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_JW_H
#define TILLROLL_JW_H

/*
 * jw: a writer of canonical JSON text.  It produces the bytes `jq -cS`
 * would print for the same value (compact, members sorted bytewise by
 * name at every depth) without building a jv tree first: a program writes
 * members in whatever order its logic finds them, and each object is put
 * in order when it is closed.  Members written in order already (the
 * common case) cost nothing more; the others are moved once.
 *
 * A struct jw OWNS its buffers.  Strings handed to it are copied; nothing
 * it is given is kept or freed.  jv values given to jw_jv() are BORROWED.
 * Functions never fail one by one: running out of memory (or nesting
 * deeper than JW_DEPTH) sets a flag that jw_failed() reports, and the
 * text is then not to be used.
 *
 * A member written twice under one name keeps the value written last, as
 * jv_object_set would.
 *
 *	struct jw w;
 *	jw_init(&w);
 *	jw_object(&w);
 *	jw_key(&w, "kind"); jw_string(&w, "order");
 *	jw_key(&w, "id");   jw_string(&w, "1");
 *	jw_end(&w);
 *	fwrite(jw_text(&w, &len), 1, len, stdout);	//
 *{"id":"1","kind":"order"} jw_release(&w);
 */

#include <stddef.h>
#include <stdint.h>
#include <jv.h>

/* Deeper than anything libjq reads: its parser stops at 256. */
#define JW_DEPTH 260

struct jw_member {
	size_t name;  /* offset of the member's name in names */
	size_t nlen;  /* the name's length in bytes (unescaped) */
	size_t start; /* offset of the member's text ("name":value) */
	size_t end;   /* offset just after its value */
};

struct jw_frame {
	int object;   /* 1 for an object, 0 for an array */
	size_t open;  /* offset just after the '{' or '[' */
	size_t first; /* index of its first member in members */
	size_t count; /* members or elements written so far */
	int unsorted; /* a name came out of order, or twice */
};

struct jw {
	char *p;	 /* the text (owned) */
	size_t len, cap; /* bytes used, allocated */
	char *names;	 /* member names, unescaped (owned) */
	size_t names_len, names_cap;
	struct jw_member *members; /* members of the open objects (owned) */
	size_t nmembers, members_cap;
	char *scratch; /* room to reorder members (owned) */
	size_t scratch_cap;
	struct jw_frame frames[JW_DEPTH];
	int depth;  /* open containers */
	int failed; /* out of memory or too deep */
};

/* Start an empty writer.  Allocates nothing until text is written. */
void jw_init(struct jw *w);

/* Forget the text written, keep the memory for the next value. */
void jw_reset(struct jw *w);

/* Free everything w owns; w may be jw_init'ed again. */
void jw_release(struct jw *w);

/*
 * The text written so far, borrowed (valid until the next call that
 * writes); its length in *len.  Complete JSON once every container
 * opened is closed.
 */
const char *jw_text(const struct jw *w, size_t *len);

/* 1 when memory ran out or containers nested too deep, else 0. */
int jw_failed(const struct jw *w);

/* Open an object or an array; jw_end closes the innermost one. */
void jw_object(struct jw *w);
void jw_array(struct jw *w);
void jw_end(struct jw *w);

/*
 * The name of the next member of the open object (copied).  Each value
 * written inside an object must follow a jw_key.
 */
void jw_key(struct jw *w, const char *name);
void jw_keyn(struct jw *w, const char *name, size_t n);

/* Values. */
void jw_null(struct jw *w);
void jw_bool(struct jw *w, int b);
void jw_int(struct jw *w, long long n);
void jw_string(struct jw *w, const char *s); /* NULL writes null */
void jw_stringn(struct jw *w, const char *s, size_t n);

/*
 * An amount of minor units in a currency of exponent e as a decimal
 * string ("-41.90" for -4190 at 2), the way money_format spells it.
 */
void jw_money(struct jw *w, int64_t minor, int e);

/*
 * text (n bytes), which the caller vouches is one canonical JSON value,
 * as it is.
 */
void jw_raw(struct jw *w, const char *text, size_t n);

/* The canonical text of v (borrowed); an invalid v writes null. */
void jw_jv(struct jw *w, jv v);

/*
 * A member in one call: jw_key(w, name) and then the value.  A NULL s
 * writes null.
 */
void jw_put_string(struct jw *w, const char *name, const char *s);
void jw_put_money(struct jw *w, const char *name, int64_t minor, int e);
void jw_put_int(struct jw *w, const char *name, long long n);
void jw_put_bool(struct jw *w, const char *name, int b);
void jw_put_null(struct jw *w, const char *name);

/* "\n", between values at the top level (NDJSON). */
void jw_newline(struct jw *w);

#endif
