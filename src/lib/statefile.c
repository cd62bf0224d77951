/* See LICENSE file for copyright and license details. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "json.h"
#include "statefile.h"

int
statefile_load(const char *path, const char *shop, jv *state, char *err,
	       size_t n)
{
	struct config sf; /* a JSON object file: the config reader serves */
	int rc;

	*state = jv_object();
	if (path == NULL || access(path, F_OK) != 0)
		return 0;
	if ((rc = config_load(&sf, path)) != 0) {
		snprintf(err, n, "state: %s", sf.err);
		config_release(&sf);
		return rc == EX_CONFIG ? EX_DATAERR : rc;
	}
	jv_free(*state);
	*state = jv_copy(sf.root);
	config_release(&sf);
	if (json_str(*state, "shop") != NULL &&
	    strcmp(json_str(*state, "shop"), shop) != 0) {
		snprintf(err, n, "'%s' is the state of shop '%s', not '%s'",
			 path, json_str(*state, "shop"), shop);
		return EX_CONFIG;
	}
	return 0;
}

int
statefile_save(const char *path, jv state, char *err, size_t n)
{
	char tmp[4096];
	FILE *f;
	int fd;

	if (path == NULL)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
	    (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, n, "cannot write '%s': %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return EX_IOERR;
	}
	if (json_emit(f, jv_copy(state)) != 0 || fflush(f) != 0 ||
	    fsync(fd) != 0) {
		snprintf(err, n, "cannot write '%s': %s", tmp, strerror(errno));
		fclose(f);
		return EX_IOERR;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		snprintf(err, n, "cannot write '%s': %s", path,
			 strerror(errno));
		return EX_IOERR;
	}
	return 0;
}
