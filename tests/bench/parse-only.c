/* See LICENSE file for copyright and license details. */
/*
 * parse-only: the floor of every filter's speed.  Reads NDJSON as the
 * filters do (the library's line reader, libjq's parser) and throws each
 * value away.  Counts the records so that the work cannot be optimized out.
 */
#include <stdio.h>

#include <jv.h>

#include "msg.h"
#include "ndjson.h"

int
main(int argc, char *argv[])
{
	struct ndjson_reader rd;
	unsigned long n = 0;
	const char *line;
	size_t len;
	int rc, status = 0;

	msg_init("parse-only");
	ndjson_reader_init(&rd, argc - 1, argv + 1);
	while ((rc = ndjson_reader_next(&rd, &line, &len)) != 0) {
		jv v;

		if (rc < 0) {
			msg_warn("%s", rd.err);
			status = rd.status;
			continue;
		}
		v = jv_parse_sized(line, (int)len);
		n += jv_is_valid(v);
		jv_free(v);
	}
	ndjson_reader_release(&rd);
	printf("%lu\n", n);
	return status;
}
