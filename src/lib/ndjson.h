/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_NDJSON_H
#define TILLROLL_NDJSON_H

/*
 * Reading NDJSON: one record a line, from standard input or from the files
 * named as operands, one after the other, each read through zlib so that a
 * ".gz" file (or a gzip stream on stdin) is decompressed transparently and
 * a plain one passes through.  A truncated gzip stream is an error, never a
 * quiet end of input: zlib reports it only at the end, and so do we.
 *
 * The reader owns its buffers; a line handed out is valid until the next
 * call.  It never prints: errors are left in r->err with the exit status
 * they call for in r->status.  Blank lines are skipped but counted, so
 * r->lineno is the line number of the returned line in its file.
 */

#include <stddef.h>
#include <zlib.h>

struct ndjson_reader {
	char *const *paths;   /* operands (borrowed); none means stdin */
	int npaths;	      /* how many operands */
	int next;	      /* index of the next operand to open */
	gzFile gz;	      /* the open input, or NULL between inputs */
	const char *name;     /* current input for messages: path or <stdin> */
	unsigned long lineno; /* line number of the last line returned */
	char *chunk;	      /* decompressed bytes not yet split */
	size_t chunk_len;     /* bytes in chunk */
	size_t chunk_pos;     /* first unsplit byte in chunk */
	int eof;	      /* current input has no more bytes */
	char *line;	      /* the line handed out, NUL-terminated */
	size_t line_cap;      /* allocated size of line */
	int status;	      /* sysexits status of the last error */
	char err[512];	      /* text of the last error, without prefix */
};

/*
 * Prepare r to read the npaths files in paths (borrowed, "-" is stdin), or
 * stdin when npaths is 0.  Nothing is opened yet.  Returns 0.
 */
int ndjson_reader_init(struct ndjson_reader *r, int npaths, char *const *paths);

/*
 * Hand out the next non-blank line in *line (NUL-terminated, without its
 * "\n" or "\r\n") and its length in *len.  Returns 1 for a line, 0 at the
 * end of the last input, -1 on an error: a file that cannot be opened
 * (status EX_NOINPUT), a read error or a truncated gzip stream (EX_IOERR).
 * After an error the reader moves on to the next operand, so the caller may
 * note the status and call again, as sbase's tools go on past a bad file.
 */
int ndjson_reader_next(struct ndjson_reader *r, const char **line, size_t *len);

/* Close any open input and free the buffers.  r may be reused after init. */
void ndjson_reader_release(struct ndjson_reader *r);

#endif
