/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_TEXTPOOL_H
#define TILLROLL_TEXTPOOL_H

/*
 * textpool: text kept for a while, many small pieces freed all at once.
 * Pieces live in blocks that never move, so a pointer handed out stays
 * valid until textpool_reset (which keeps the blocks for the next round)
 * or textpool_release.  A program keeps what it copies from a record for
 * as long as the record, or for the whole run.
 *
 * A struct textpool OWNS its blocks; the pieces are borrowed from it.
 * Functions never exit: running out of memory returns NULL and sets
 * nomem, which stays set until textpool_release.
 *
 *	struct textpool pool = TEXTPOOL_INIT;
 *	const char *id = textpool_keep(&pool, s, strlen(s));
 *	...
 *	textpool_release(&pool);
 */

#include <stddef.h>

struct textpool_block;

struct textpool {
	struct textpool_block *first; /* (owned) */
	struct textpool_block *at;    /* the block being filled; NULL: none */
	int nomem;		      /* a block could not be allocated */
};

#define TEXTPOOL_INIT                                                          \
	{                                                                      \
		NULL, NULL, 0                                                  \
	}

/*
 * Room for n bytes, valid until the next reset or release; NULL with
 * nomem set when memory ran out.
 */
char *textpool_room(struct textpool *p, size_t n);

/* A copy of the n bytes at s with a NUL after them, as textpool_room. */
const char *textpool_keep(struct textpool *p, const char *s, size_t n);

/* Forget every piece; the blocks stay, to be filled again. */
void textpool_reset(struct textpool *p);

/* Free every block; p is empty (TEXTPOOL_INIT) again. */
void textpool_release(struct textpool *p);

#endif
