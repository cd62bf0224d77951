/* See LICENSE file for copyright and license details. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

static const char *progname = "tillroll";

void
msg_init(const char *name)
{
	progname = name;
}

const char *
msg_progname(void)
{
	return progname;
}

static void
vwarn(const char *fmt, va_list ap)
{
	int saved = errno;
	size_t n = strlen(fmt);

	fprintf(stderr, "%s: ", progname);
	vfprintf(stderr, fmt, ap);
	if (n > 0 && fmt[n - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
	errno = saved;
}

void
msg_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

int
msg_fail(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	return status;
}

/* Rank of a status: higher is graver.  0 lowest, data errors next. */
static int
rank(int status)
{
	if (status == 0)
		return 0;
	if (status == EX_DATAERR)
		return 1;
	return 2;
}

int
exit_worst(int a, int b)
{
	return rank(b) > rank(a) ? b : a;
}

long
arg_number(const char *opt, const char *s, long min, long max)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || n < min || n > max) {
		msg_warn("%s: '%s' is not a number from %ld to %ld", opt, s,
			 min, max);
		return -1;
	}
	return n;
}
