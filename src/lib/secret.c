/* See LICENSE file for copyright and license details. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "secret.h"

int
secret_load(const char *env, const char *path, char **secret, size_t *len,
	    int *status, const char **why)
{
	char buf[4096];
	struct stat sb;
	ssize_t n;
	size_t got = 0;
	int fd;

	*secret = NULL;
	if (path == NULL) {
		const char *v = getenv(env);

		if (v == NULL || *v == '\0') {
			*status = EX_CONFIG;
			*why = "no key: set the environment variable or name a "
			       "key file";
			return -1;
		}
		got = strlen(v);
		if ((*secret = malloc(got + 1)) == NULL)
			goto nomem;
		memcpy(*secret, v, got + 1);
		*len = got;
		return 0;
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW)) < 0) {
		*status = errno == EACCES ? EX_NOPERM : EX_NOINPUT;
		*why = "cannot open the key file";
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		*status = EX_NOINPUT;
		*why = "the key file is not a regular file";
		return -1;
	}
	if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
		close(fd);
		*status = EX_NOPERM;
		*why = "the key file is readable by group or others "
		       "(chmod 600 it)";
		return -1;
	}
	while ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	if (n < 0) {
		*status = EX_IOERR;
		*why = "cannot read the key file";
		goto wipe;
	}
	if (got > 0 && buf[got - 1] == '\n')
		got--;
	if (got > 0 && buf[got - 1] == '\r')
		got--;
	if (got == 0) {
		*status = EX_CONFIG;
		*why = "the key file is empty";
		goto wipe;
	}
	if ((*secret = malloc(got + 1)) == NULL)
		goto nomem;
	memcpy(*secret, buf, got);
	(*secret)[got] = '\0';
	*len = got;
	memset(buf, 0, sizeof(buf));
	return 0;
nomem:
	*status = EX_OSERR;
	*why = "out of memory";
wipe:
	memset(buf, 0, sizeof(buf));
	return -1;
}

const char *
secret_env(const char *const names[])
{
	const char *v;

	for (; *names != NULL; names++)
		if ((v = getenv(*names)) != NULL && *v != '\0')
			return *names;
	return NULL;
}
