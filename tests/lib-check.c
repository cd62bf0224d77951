/* See LICENSE file for copyright and license details. */
/*
 * lib-check: a thin command line over src/lib, so that tests/lib.bats can
 * drive the library with tables of inputs and expected outputs.
 *
 *   lib-check money-parse CUR TEXT      minor units, or the error
 *   lib-check money-format CUR MINOR    the decimal text
 *   lib-check money-sum CUR TEXT...     the sum, formatted
 *   lib-check utc TEXT                  the instant in UTC, or the error
 *   lib-check date TEXT                 "ok", or the error
 *   lib-check duration TEXT             seconds, or -1
 *   lib-check epoch TEXT                the instant in seconds, back as text
 *   lib-check id JSON                   the exact id text, or the error
 *   lib-check sha256                    digest of stdin
 *   lib-check hmac KEY                  HMAC-SHA256 of stdin under KEY
 *   lib-check lines [FILE...]           "file:line:text" per NDJSON line
 *   lib-check jr jr|jv                  each stdin line read by jr (or by
 *                                       libjq), written canonically, or
 *                                       "error: <why>"
 *   lib-check textpool SIZE...           keep a piece of each SIZE ("reset"
 *                                       forgets them), then check them all
 *   lib-check jr-get NAME... <JSON      for each NAME the member's canonical
 *                                       text, kind, string, number text, id
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <jv.h>

#include "canon.h"
#include "jr.h"
#include "json.h"
#include "jw.h"
#include "money.h"
#include "msg.h"
#include "ndjson.h"
#include "sha256.h"
#include "textpool.h"
#include "utctime.h"

static int
exponent_of(const char *cur)
{
	int e = currency_exponent(cur);

	if (e < 0) {
		fprintf(stderr, "lib-check: '%s' is not a currency\n", cur);
		exit(EX_USAGE);
	}
	return e;
}

static char *
read_stdin(size_t *len)
{
	size_t cap = 4096, n;
	char *buf = malloc(cap);

	*len = 0;
	while (buf && (n = fread(buf + *len, 1, cap - *len, stdin)) > 0) {
		*len += n;
		if (*len == cap)
			buf = realloc(buf, cap *= 2);
	}
	return buf;
}

/*
 * Write v (borrowed) through the jw builder, members in libjq's own order,
 * or reversed: the writer must put them in order either way.
 */
static void
rebuild(struct jw *w, jv v, int reversed)
{
	switch (jv_get_kind(v)) {
	case JV_KIND_OBJECT: {
		jv keys = jv_keys_unsorted(jv_copy(v));
		int i, n = jv_array_length(jv_copy(keys));

		jw_object(w);
		for (i = 0; i < n; i++) {
			jv k = jv_array_get(jv_copy(keys),
					    reversed ? n - 1 - i : i);
			jv x = jv_object_get(jv_copy(v), jv_copy(k));

			jw_keyn(w, jv_string_value(k),
				(size_t)jv_string_length_bytes(jv_copy(k)));
			rebuild(w, x, reversed);
			jv_free(x);
			jv_free(k);
		}
		jv_free(keys);
		jw_end(w);
		break;
	}
	case JV_KIND_ARRAY:
		jw_array(w);
		jv_array_foreach(v, i, x)
		{
			rebuild(w, x, reversed);
			jv_free(x);
		}
		jw_end(w);
		break;
	case JV_KIND_STRING:
		jw_stringn(w, jv_string_value(v),
			   (size_t)jv_string_length_bytes(jv_copy(v)));
		break;
	case JV_KIND_NULL:
		jw_null(w);
		break;
	case JV_KIND_TRUE:
	case JV_KIND_FALSE:
		jw_bool(w, jv_get_kind(v) == JV_KIND_TRUE);
		break;
	default:
		jw_jv(w, v);
	}
}

int
main(int argc, char *argv[])
{
	char buf[MONEY_TEXT_MAX], hex[SHA256_HEX_LEN], utc[UTC_TEXT_MAX];
	const char *why, *cmd = argc > 1 ? argv[1] : "";
	int64_t v, sum = 0;
	int i;

	msg_init("lib-check");
	if (strcmp(cmd, "money-parse") == 0 && argc == 4) {
		if (money_parse(argv[3], strlen(argv[3]), exponent_of(argv[2]),
				&v, &why) < 0) {
			printf("error: %s\n", why);
			return 1;
		}
		printf("%" PRId64 "\n", v);
	} else if (strcmp(cmd, "money-format") == 0 && argc == 4) {
		money_format(strtoll(argv[3], NULL, 10), exponent_of(argv[2]),
			     buf);
		printf("%s\n", buf);
	} else if (strcmp(cmd, "money-sum") == 0 && argc >= 3) {
		for (i = 3; i < argc; i++) {
			if (money_parse(argv[i], strlen(argv[i]),
					exponent_of(argv[2]), &v, &why) < 0 ||
			    money_add(sum, v, &sum) < 0) {
				printf("error: '%s' %s\n", argv[i], why);
				return 1;
			}
		}
		money_format(sum, exponent_of(argv[2]), buf);
		printf("%s\n", buf);
	} else if (strcmp(cmd, "utc") == 0 && argc == 3) {
		if (utc_normalize(argv[2], utc, &why) < 0) {
			printf("error: %s\n", why);
			return 1;
		}
		printf("%s\n", utc);
	} else if (strcmp(cmd, "date") == 0 && argc == 3) {
		if (utc_check_date(argv[2], &why) < 0) {
			printf("error: %s\n", why);
			return 1;
		}
		printf("ok\n");
	} else if (strcmp(cmd, "day") == 0 && argc == 3) {
		printf("%ld\n", utc_day_number(argv[2]));
	} else if (strcmp(cmd, "duration") == 0 && argc == 3) {
		printf("%ld\n", utc_duration(argv[2]));
	} else if (strcmp(cmd, "epoch") == 0 && argc == 3) {
		time_t t;

		if (utc_to_time(argv[2], &t) < 0) {
			printf("error\n");
			return 1;
		}
		utc_from_time(t, utc);
		printf("%lld %s\n", (long long)t, utc);
	} else if (strcmp(cmd, "id") == 0 && argc == 3) {
		jv j = jv_parse(argv[2]);
		char id[64];
		int rc = json_id(j, id, sizeof(id), &why);

		jv_free(j);
		if (rc < 0) {
			printf("error: %s\n", why);
			return 1;
		}
		printf("%s\n", id);
	} else if (strcmp(cmd, "sha256") == 0 && argc == 2) {
		size_t len;
		char *in = read_stdin(&len);

		sha256_hex(in, len, hex);
		printf("%s\n", hex);
		free(in);
	} else if (strcmp(cmd, "hmac") == 0 && argc == 3) {
		size_t len;
		char *in = read_stdin(&len);

		hmac_sha256_hex(argv[2], strlen(argv[2]), in, len, hex);
		printf("%s\n", hex);
		free(in);
	} else if (strcmp(cmd, "lines") == 0) {
		struct ndjson_reader r;
		const char *line;
		size_t len;
		int rc, status = 0;

		ndjson_reader_init(&r, argc - 2, argv + 2);
		while ((rc = ndjson_reader_next(&r, &line, &len)) != 0) {
			if (rc < 0) {
				msg_warn("%s", r.err);
				status = exit_worst(status, r.status);
				continue;
			}
			printf("%s:%lu:%s\n", r.name, r.lineno, line);
		}
		ndjson_reader_release(&r);
		return status;
	} else if (strcmp(cmd, "jw") == 0 && argc == 3) {
		/* Each line of stdin through the writer: "jv" as json_emit
		 * does, "build" and "reversed" member by member. */
		struct ndjson_reader r;
		struct jw w;
		const char *line, *text;
		size_t len;

		jw_init(&w);
		ndjson_reader_init(&r, 0, NULL);
		while (ndjson_reader_next(&r, &line, &len) > 0) {
			jv value = jv_parse_sized(line, (int)len);

			jw_reset(&w);
			if (strcmp(argv[2], "jv") == 0)
				jw_jv(&w, value);
			else
				rebuild(&w, value,
					strcmp(argv[2], "reversed") == 0);
			jw_newline(&w);
			text = jw_text(&w, &len);
			fwrite(text, 1, len, stdout);
			jv_free(value);
		}
		ndjson_reader_release(&r);
		jw_release(&w);
	} else if (strcmp(cmd, "canon") == 0 && argc == 2) {
		/*
		 * Each line of stdin: "canonical" and its members' names, or
		 * "not canonical"; then the line with "added" merged in.
		 */
		static const char *const names[] = {"added", "zz"};
		static const char *const values[] = {"[1]", "null"};
		static const size_t lens[] = {3, 4};
		struct canon_member m[64];
		struct ndjson_reader r;
		struct jw w;
		const char *line, *text;
		size_t len, count, k;

		jw_init(&w);
		ndjson_reader_init(&r, 0, NULL);
		while (ndjson_reader_next(&r, &line, &len) > 0) {
			if (canon_object(line, len, m, 64, &count) < 0) {
				printf("not canonical\n");
				continue;
			}
			printf("canonical");
			for (k = 0; k < count; k++)
				printf(" %.*s=%zu", (int)m[k].nlen, m[k].name,
				       m[k].vlen);
			jw_reset(&w);
			canon_merge(&w, line, len, names, values, lens, 2);
			text = jw_text(&w, &len);
			printf("\n%.*s\n", (int)len, text);
		}
		ndjson_reader_release(&r);
		jw_release(&w);
	} else if (strcmp(cmd, "jr") == 0 && argc == 3) {
		/*
		 * Each line of stdin read by jr and written back through jw,
		 * or read by libjq as normalize did before jr: the two must
		 * agree byte for byte, errors included.
		 */
		struct ndjson_reader r;
		struct jr_doc d;
		struct jw w;
		const char *line, *text;
		size_t len;
		int use_jr = strcmp(argv[2], "jr") == 0;

		jr_init(&d);
		jw_init(&w);
		ndjson_reader_init(&r, 0, NULL);
		while (ndjson_reader_next(&r, &line, &len) > 0) {
			char err[300] = "";

			jw_reset(&w);
			if (use_jr) {
				jr root = jr_parse(&d, line, len);

				if (root == NULL)
					snprintf(err, sizeof(err), "%s",
						 jr_error(&d));
				else
					jw_jr(&w, root);
			} else {
				jv value = jv_parse_sized(line, (int)len);

				if (!jv_is_valid(value)) {
					jv msg = jv_invalid_get_msg(value);

					snprintf(err, sizeof(err), "%s",
						 jv_string_value(msg));
					if (strstr(err, " (while parsing"))
						*strstr(err,
							" (while parsing") =
						    '\0';
					jv_free(msg);
				} else {
					jw_jv(&w, value);
					jv_free(value);
				}
			}
			if (*err == '\0' && jw_failed(&w))
				snprintf(err, sizeof(err), "%s",
					 "too deep to write");
			if (*err != '\0') {
				printf("error: %s\n", err);
				continue;
			}
			jw_newline(&w);
			text = jw_text(&w, &len);
			fwrite(text, 1, len, stdout);
		}
		ndjson_reader_release(&r);
		jw_release(&w);
		jr_release(&d);
	} else if (strcmp(cmd, "jr-get") == 0 && argc >= 3) {
		/* Questions to one value on stdin, one line per NAME. */
		struct jr_doc d;
		struct jw w;
		char *in, text_of[64];
		const char *text;
		size_t len;
		jr root, m;

		in = read_stdin(&len);
		jr_init(&d);
		jw_init(&w);
		if (in == NULL || (root = jr_parse(&d, in, len)) == NULL) {
			printf("error: %s\n", jr_error(&d));
			jr_release(&d);
			jw_release(&w);
			free(in);
			return EX_DATAERR;
		}
		for (i = 2; i < argc; i++) {
			m = jr_get(root, argv[i]);
			jw_reset(&w);
			jw_jr(&w, m);
			text = jw_text(&w, &len);
			printf("%s: %.*s kind=%d len=%zu", argv[i], (int)len,
			       text, (int)jr_kind(m), jr_len(m));
			if (jr_str(m) != NULL)
				printf(" str=%s", jr_str(m));
			if (jr_number_text(m, text_of, sizeof(text_of)) == 0)
				printf(" number=%s", text_of);
			if (jr_id(m, text_of, sizeof(text_of), &why) == 0)
				printf(" id=%s", text_of);
			else
				printf(" id-error=%s", why);
			putchar('\n');
		}
		jw_release(&w);
		jr_release(&d);
		free(in);
	} else if (strcmp(cmd, "textpool") == 0 && argc >= 3) {
		/*
		 * Pieces of the sizes given, each filled with its own byte;
		 * after all are kept, every piece kept since the last reset
		 * must still hold its bytes: blocks never move.
		 */
		struct textpool pool = TEXTPOOL_INIT;
		const char *kept[64];
		size_t sizes[64], nkept = 0, k, j;
		char *fill;
		int bad = 0;

		for (i = 2; i < argc && nkept < 64; i++) {
			size_t n = strtoul(argv[i], NULL, 10);

			if (strcmp(argv[i], "reset") == 0) {
				textpool_reset(&pool);
				nkept = 0;
				continue;
			}
			if ((fill = malloc(n + 1)) == NULL)
				return EX_OSERR;
			memset(fill, 'a' + (int)(nkept % 26), n);
			kept[nkept] = textpool_keep(&pool, fill, n);
			sizes[nkept++] = n;
			free(fill);
		}
		for (k = 0; k < nkept; k++) {
			for (j = 0; j < sizes[k]; j++)
				if (kept[k][j] != 'a' + (int)(k % 26))
					bad = 1;
			if (kept[k][sizes[k]] != '\0')
				bad = 1;
		}
		printf("%zu pieces %s\n", nkept, bad ? "damaged" : "intact");
		textpool_release(&pool);
		return bad;
	} else if (strcmp(cmd, "jw-twice") == 0 && argc == 2) {
		/* A member written twice: the last value counts. */
		struct jw w;
		const char *text;
		size_t len;

		jw_init(&w);
		jw_object(&w);
		jw_key(&w, "z");
		jw_int(&w, 1);
		jw_key(&w, "a");
		jw_object(&w);
		jw_key(&w, "y");
		jw_string(&w, "old");
		jw_key(&w, "x");
		jw_money(&w, -4190, 2);
		jw_key(&w, "y");
		jw_array(&w);
		jw_null(&w);
		jw_bool(&w, 0);
		jw_end(&w);
		jw_end(&w);
		jw_key(&w, "z");
		jw_string(&w, "2");
		jw_end(&w);
		text = jw_text(&w, &len);
		printf("%.*s\n", (int)len, text);
		jw_release(&w);
	} else {
		fprintf(stderr,
			"usage: lib-check "
			"canon|jr|jr-get|jw|jw-twice|textpool|money-parse|"
			"money-format|"
			"money-sum|utc|date|day|duration|epoch|id|sha256|"
			"hmac|lines ...\n");
		return EX_USAGE;
	}
	return 0;
}
