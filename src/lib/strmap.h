/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_STRMAP_H
#define TILLROLL_STRMAP_H

/*
 * A hash map from NUL-terminated strings to non-negative int32 values
 * (indexes into the caller's arrays), open addressing with linear probing,
 * for joins over millions of keys in little memory: 12 bytes a slot and a
 * load factor of at most one half.  Keys are BORROWED: the map stores the
 * pointer, never a copy, so a key must outlive the map (callers keep their
 * strings in an arena or a file buffer).  Nothing prints, nothing exits.
 */

#include <stddef.h>
#include <stdint.h>

struct strmap {
	const char **keys; /* slot keys, NULL when free (owned array) */
	int32_t *vals;	   /* slot values (owned array) */
	size_t cap;	   /* slots, a power of two, or 0 */
	size_t n;	   /* slots used */
};

/* An empty map; allocates nothing until the first put. */
void strmap_init(struct strmap *m);

/*
 * Map key (borrowed) to val (>= 0), replacing any value it had.  Returns 0,
 * or -1 when out of memory (the map is unchanged then).
 */
int strmap_put(struct strmap *m, const char *key, int32_t val);

/* The value of key, or -1 when it has none. */
int32_t strmap_get(const struct strmap *m, const char *key);

/* Free the arrays (not the keys); the map is empty and reusable after. */
void strmap_free(struct strmap *m);

#endif
