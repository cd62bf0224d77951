/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_CONFIG_H
#define TILLROLL_CONFIG_H

/*
 * The shop's JSON configuration (DESIGN section 5): one object, read
 * whole, asked for values by dotted path ("shopify.api_version").  Paths
 * to other files in it (key and token files) are relative to the
 * configuration file's directory, so a config moves with its secrets.
 *
 * A struct config owns its parsed document and its copy of the path;
 * strings handed out are borrowed from it and live until config_release().
 * Nothing here prints or exits.
 */

#include <stddef.h>

#include <jv.h>

struct config {
	jv root;       /* the parsed object (owned) */
	char *path;    /* the file it came from (owned) */
	char err[512]; /* text of the last error, without prefix */
};

/*
 * Read and parse path.  Returns 0, or a sysexits status with cf->err set:
 * EX_NOINPUT when the file cannot be read, EX_CONFIG when it is not one
 * JSON object.  cf is usable with config_release() either way.
 */
int config_load(struct config *cf, const char *path);

/*
 * The value at dotted path (borrowed from cf, valid until release), or
 * jv_invalid() when some step is missing or not an object.  The caller
 * must not free it.
 */
jv config_get(const struct config *cf, const char *dotted);

/*
 * The string at dotted path, borrowed; NULL when absent or null.  When the
 * value is there but not a string, returns NULL and sets cf->err, so a
 * caller can tell "absent" (err empty) from "wrong type".
 */
const char *config_str(struct config *cf, const char *dotted);

/*
 * The file path at dotted path resolved against the config's directory
 * into buf (n bytes): absolute paths as they are.  Returns 0, 1 when the
 * key is absent, -1 when it is not a string or does not fit (cf->err set).
 */
int config_file(struct config *cf, const char *dotted, char *buf, size_t n);

void config_release(struct config *cf);

#endif
