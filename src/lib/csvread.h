/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_CSVREAD_H
#define TILLROLL_CSVREAD_H

/*
 * Reading a CSV file strictly, row by row, with libcsv: for settlement
 * files, where a field that is silently mis-split moves money.
 *
 * libcsv runs with CSV_STRICT | CSV_STRICT_FINI, so a stray quote, text
 * after a closing quote, or a quoted field still open at the end of the
 * file is an error, never a guess.  A UTF-8 byte order mark at the start
 * is skipped; CRLF and LF both end a row; a quoted field keeps its commas
 * and line breaks; a last row without a newline is read; blank lines are
 * skipped.  Every byte of a field is kept (libcsv would trim spaces
 * around unquoted fields).  A field that is not valid UTF-8, or holds a
 * NUL byte, is an error, because turning it into JSON would change it.
 *
 * libcsv gives no positions, so the reader feeds it one physical line at
 * a time and numbers rows itself: a row's line is the physical line
 * where it begins, as an editor shows it.
 *
 * The reader owns every buffer it hands out; a row is valid during the
 * callback only.  It never prints and never exits: an error is left in
 * the struct csv_file with its sysexits status.  The SHA-256 of the
 * file's bytes as read (byte order mark included) is computed on the way.
 */

#include <stddef.h>
#include <stdio.h>

#include "sha256.h"

struct csv_row {
	const char *const *field; /* n NUL-terminated texts (borrowed) */
	const size_t *len;	  /* their lengths in bytes (borrowed) */
	size_t n;		  /* how many fields */
	unsigned long row;	  /* record number in the file, from 1 */
	unsigned long line;	  /* physical line where it begins, from 1 */
};

/*
 * Called once per row.  Return 0 to go on; any other value stops the
 * reading, and csv_read_stream() returns it.
 */
typedef int (*csv_row_fn)(const struct csv_row *row, void *arg);

struct csv_file {
	unsigned long rows;	     /* rows handed to the callback */
	unsigned long lines;	     /* physical lines read */
	char sha256[SHA256_HEX_LEN]; /* digest of all bytes read */
	int status;		     /* sysexits status of the error */
	const char *reason;	     /* its short code: bad_csv, ... */
	unsigned long err_line;	     /* the line the error names */
	char err[256];		     /* its sentence, without prefix */
};

/*
 * Read f (borrowed; not closed) to its end, calling fn(row, arg) for each
 * row.  Returns 0 when the whole file was read, fn's value when fn
 * stopped it, or -1 on an error: malformed CSV or invalid UTF-8
 * (status EX_DATAERR, reason "bad_csv" or "bad_encoding", err_line the
 * line of the row at fault), a read error (EX_IOERR), no memory
 * (EX_OSERR).  cf is filled in every case; cf->sha256 is the digest of
 * the bytes read so far.
 */
int csv_read_stream(FILE *f, csv_row_fn fn, void *arg, struct csv_file *cf);

#endif
