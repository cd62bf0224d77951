/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_SECRET_H
#define TILLROLL_SECRET_H

/*
 * Secrets (API tokens, keys) come from the environment or from a file that
 * only its owner may read (DESIGN section 5), never from argv.  The secret
 * itself never appears in any message made here.
 */

#include <stddef.h>

/*
 * Load a secret: from the file at path when path is not NULL, else from
 * the environment variable env.  A file readable or writable by group or
 * others is refused (EX_NOPERM), as ssh refuses such a key; a missing
 * secret is a configuration error (EX_CONFIG).  One trailing newline of a
 * file is dropped.  On success *secret is a malloc'd NUL-terminated copy
 * (the caller wipes and frees it) and *len its length; returns 0.  On
 * failure returns -1 with *status the sysexits code and *why a phrase.
 */
int secret_load(const char *env, const char *path, char **secret, size_t *len,
		int *status, const char **why);

/*
 * The first of the environment variables named in names (a NULL-ended
 * list, in order of preference) that is set and not empty, or NULL: where
 * a secret that several variables may hold is to be read from.
 */
const char *secret_env(const char *const names[]);

#endif
