/* See LICENSE file for copyright and license details. */
#include <stdlib.h>
#include <string.h>

#include "textpool.h"

/* Most pieces are ids and names: a block holds thousands of them. */
#define BLOCK_SIZE 65536

struct textpool_block {
	struct textpool_block *next; /* (owned) */
	size_t used, cap;
	char text[];
};

char *
textpool_room(struct textpool *p, size_t n)
{
	struct textpool_block *b = p->at, *next;
	char *room;

	if (b == NULL || b->cap - b->used < n) {
		/* The next block kept from an earlier round, if it is big
		 * enough; else a new one, linked in after this. */
		next = b != NULL ? b->next : p->first;
		if (next == NULL || next->cap < n) {
			size_t cap = n > BLOCK_SIZE ? n : BLOCK_SIZE;
			struct textpool_block *made;

			if (cap > (size_t)-1 - sizeof(*made) ||
			    (made = malloc(sizeof(*made) + cap)) == NULL) {
				p->nomem = 1;
				return NULL;
			}
			made->cap = cap;
			made->next = next;
			if (b != NULL)
				b->next = made;
			else
				p->first = made;
			next = made;
		}
		next->used = 0;
		p->at = b = next;
	}
	room = b->text + b->used;
	b->used += n;
	return room;
}

const char *
textpool_keep(struct textpool *p, const char *s, size_t n)
{
	char *room = n < (size_t)-1 ? textpool_room(p, n + 1) : NULL;

	if (room == NULL)
		return NULL;
	if (n > 0)
		memcpy(room, s, n);
	room[n] = '\0';
	return room;
}

void
textpool_reset(struct textpool *p)
{
	p->at = NULL;
}

void
textpool_release(struct textpool *p)
{
	struct textpool_block *b, *next;

	for (b = p->first; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	p->first = p->at = NULL;
	p->nomem = 0;
}
