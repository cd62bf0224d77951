/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_STATEFILE_H
#define TILLROLL_STATEFILE_H

/*
 * The state files of the extractors (watermarks, unfinished runs): one
 * JSON object, of one shop, written whole to a temporary file, synced and
 * renamed over the old one, so that a kill at any moment leaves either
 * the old state or the new, never half of one.  Nothing here prints: a
 * failure leaves its sentence in err (n bytes) and returns its sysexits
 * status.
 */

#include <stddef.h>

#include <jv.h>

/*
 * Read the state at path into *state (owned by the caller): an empty
 * object when path is NULL or there is no such file yet.  A file that is
 * not a JSON object is EX_DATAERR; one that names another shop than shop
 * is EX_CONFIG.  Returns 0 or the status.
 */
int statefile_load(const char *path, const char *shop, jv *state, char *err,
		   size_t n);

/*
 * Write state (borrowed) to path as described above; nothing when path
 * is NULL.  Returns 0 or EX_IOERR.
 */
int statefile_save(const char *path, jv state, char *err, size_t n);

#endif
