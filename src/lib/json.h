/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_JSON_H
#define TILLROLL_JSON_H

/*
 * Small borrowing accessors over libjq's jv values, and the canonical
 * writer.  libjq's rule is that every jv_* function consumes its arguments;
 * these helpers do the opposite unless they say "consumes": they BORROW the
 * jv they are given, so a caller can ask many questions of one object
 * without jv_copy at every call.  Values they return are OWNED by the
 * caller (jv_free them), except where "borrowed" is written.
 */

#include <stddef.h>
#include <stdio.h>
#include <jv.h>

/*
 * The jv string for a member name, owned (jv_free it or hand it to a
 * consuming call).  Faster than jv_string(name) for names used often:
 * they are made once and shared.
 */
jv json_key(const char *name);

/*
 * The member key of obj (borrowed), owned; jv_invalid() when obj is not an
 * object or has no such member.  Unlike jv_object_get this is safe on any
 * kind of value.
 */
jv json_get(jv obj, const char *key);

/*
 * The string member key of obj, borrowed from obj: valid while obj lives.
 * NULL when absent, null, or not a string.
 */
const char *json_str(jv obj, const char *key);

/* 1 when obj (borrowed) has member key and it is not null, else 0. */
int json_has(jv obj, const char *key);

/*
 * The shortest decimal text of a JSON number (borrowed), as libjq prints
 * it ("195.66", "1e+16"), into buf.  Returns 0, or -1 when v is not a
 * finite number or the text does not fit.
 */
int json_number_text(jv v, char *buf, size_t n);

/* The same for the number d. */
int json_double_text(double d, char *buf, size_t n);

/*
 * An identifier from v (borrowed) as exact decimal text in buf: a string of
 * digits as it is, a GraphQL global id "gid://shopify/Order/123" reduced to
 * "123" (a query suffix such as "?inventory_item_id=1" is dropped), or a
 * JSON number that is a non-negative integer below 2^53, the largest a
 * double holds exactly.  Larger numbers are refused, because libjq has
 * already rounded them and the digits that came in are lost.  Returns 0, or
 * -1 with *why completing "'<field>' ...".
 */
int json_id(jv v, char *buf, size_t n, const char **why);

/*
 * The same for an id given as the text s: a string of digits, or a GraphQL
 * global id reduced to its number.
 */
int json_id_text(const char *s, char *buf, size_t n, const char **why);

/*
 * Write v (consumed) to f as one line of canonical JSON: keys sorted
 * bytewise at every depth, compact, "\n" after it.  Returns 0, or -1 when
 * the stream reports an error.
 */
int json_emit(FILE *f, jv v);

/* Set obj[key] = the string s (copied) and return the new obj; consumes obj. */
jv json_set_str(jv obj, const char *key, const char *s);

#endif
