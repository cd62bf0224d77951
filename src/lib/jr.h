/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_JR_H
#define TILLROLL_JR_H

/*
 * jr: a reader of one JSON text at a time, for the programs' hot loops.
 * It reads a line into a flat array of nodes in one pass and answers
 * questions about it without reference counting or a malloc per value:
 * the cost of libjq's jv trees (a node and a hash table for every object,
 * a reference count touched by every lookup) was most of a filter's time.
 *
 * It answers exactly as libjq would for the same line.  Text that is
 * plainly JSON (RFC 8259 with well-formed UTF-8, no raw control bytes in
 * strings, no \u escape of a surrogate, nesting of at most JR_DEPTH) is
 * read directly.  Anything else is handed to libjq: when libjq refuses
 * it, jr_parse fails with libjq's own message; when libjq reads it (it is
 * lenient: "nan", "01", lone surrogates, bad UTF-8 replaced), its values
 * are what jr reads, by way of libjq's printing.  Numbers keep their text
 * and are spelled, when asked, as libjq prints them.
 *
 * Ownership: a struct jr_doc OWNS its memory and a copy of the text; a
 * jr value (const struct jr_node *) is BORROWED from its document and
 * valid until the next jr_parse or jr_release on it.  NULL is a valid jr
 * value meaning "absent": every function accepts it.  Nothing here
 * exits or prints.
 *
 *	struct jr_doc d;
 *	jr root;
 *
 *	jr_init(&d);
 *	if ((root = jr_parse(&d, line, len)) == NULL)
 *		warn("%s", jr_error(&d));
 *	else
 *		puts(jr_str(jr_get(root, "kind")));	// NULL-safe
 *	jr_release(&d);
 */

#include <stddef.h>
#include <stdint.h>

#define JR_DEPTH 64

enum jr_kind {
	JR_ABSENT = 0, /* NULL: no such member, element or value */
	JR_NULL,
	JR_FALSE,
	JR_TRUE,
	JR_NUMBER,
	JR_STRING,
	JR_ARRAY,
	JR_OBJECT,
};

/*
 * One value.  Nodes of a document sit in one array in the order their
 * values begin in the text, so the values inside an array or object
 * follow it, and a value's subtree is span nodes long, itself included.
 */
struct jr_node {
	const char *text; /* string: its bytes, unescaped, NUL-terminated;
			     number: its text as written (not terminated) */
	const char *name; /* member name, unescaped, NUL-terminated; NULL
			     for an array element or the root */
	uint32_t len;	  /* string or number: bytes; array or object:
			     elements or members */
	uint32_t span;	  /* nodes in this value's subtree */
	uint32_t nlen;	  /* the name's length in bytes */
	unsigned char kind;
};

typedef const struct jr_node *jr;

struct jr_doc {
	char *buf; /* the copy of the text, strings unescaped in it (owned) */
	size_t buf_cap;
	struct jr_node *nodes; /* (owned) */
	size_t nnodes, nodes_cap;
	char err[256]; /* why the last jr_parse failed */
	int nomem;     /* that failure was memory */
};

/* Start an empty document.  Allocates nothing yet. */
void jr_init(struct jr_doc *d);

/* Free everything d owns; d may be jr_init'ed again. */
void jr_release(struct jr_doc *d);

/*
 * Read text (n bytes, one JSON value with optional white space around
 * it) into d, replacing what d held.  Returns the root value, or NULL
 * when the text is not one JSON value (as libjq judges), with the reason
 * in jr_error(d): libjq's words without the " (while parsing '...')" it
 * appends, or "out of memory" with d->nomem set.
 */
jr jr_parse(struct jr_doc *d, const char *text, size_t n);

/* Why the last jr_parse on d failed, borrowed. */
const char *jr_error(const struct jr_doc *d);

/* The kind of v; JR_ABSENT for NULL. */
enum jr_kind jr_kind(jr v);

/*
 * The member called name of obj, or NULL when obj is not an object or has
 * no such member.  A name given twice answers with its last value, as
 * libjq keeps it.
 */
jr jr_get(jr obj, const char *name);

/*
 * The bytes of the string v (NUL-terminated; a string holding "\u0000"
 * reads as shorter in C, as with libjq; its full length is v->len), or
 * NULL when v is not a string.
 */
const char *jr_str(jr v);

/* The string member name of obj, as jr_str(jr_get(obj, name)). */
const char *jr_get_str(jr obj, const char *name);

/*
 * Elements of an array or members of an object, a name given twice
 * counted twice (libjq would count it once); 0 for anything else.
 */
size_t jr_len(jr v);

/*
 * Walking an array or object in order:
 *
 *	for (jr e = jr_first(arr); e != NULL; e = jr_next(arr, e))
 *
 * or jr_foreach(arr, e).  jr_first is NULL when v is empty or not a
 * container; jr_next(v, e) is NULL after the last.  The members of an
 * object come as written, including a name given twice, each with its
 * name in e->name (e->nlen bytes).
 */
jr jr_first(jr v);
jr jr_next(jr container, jr e);
#define jr_foreach(container, e)                                               \
	for (jr e = jr_first(container); e != NULL; e = jr_next(container, e))

/* Element i of an array (from 0), or NULL. */
jr jr_at(jr arr, size_t i);

/*
 * The number v as a double, as libjq reads it (correctly rounded; 0 when v
 * is not a number).
 */
double jr_number(jr v);

/*
 * The text of the number v as libjq prints it ("0.06" for 6e-2, "1e+16",
 * "-0"), in buf.  Returns 0, or -1 when v is not a number, is not finite
 * (1e999), or the text does not fit in n bytes.
 */
int jr_number_text(jr v, char *buf, size_t n);

/*
 * An identifier from v as exact decimal text in buf, with json_id's rules
 * (json.h): a string of digits, a GraphQL global id reduced to its number,
 * or a JSON number that is a non-negative integer below 2^53.  Returns 0,
 * or -1 with *why completing "'<field>' ...".
 */
int jr_id(jr v, char *buf, size_t n, const char **why);

struct jw;

/*
 * The canonical text of v into w (jw.h), the bytes `jq -cS` prints for
 * it: members sorted, the last of a name given twice, numbers as libjq
 * prints them.  NULL writes null.
 */
void jw_jr(struct jw *w, jr v);

/*
 * Every member of the object obj, name and value, into the object open
 * in w; nothing when obj is not an object.  Members written after them
 * under the same names replace them (jw keeps the last), which is how a
 * record is copied with members added or changed.
 */
void jw_jr_members(struct jw *w, jr obj);

#endif
