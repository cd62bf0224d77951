/* See LICENSE file for copyright and license details. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <jv.h>

#include "gqlcost.h"
#include "http.h"
#include "json.h"
#include "shopgql.h"

void
shopgql_init(struct shopgql *g, struct http_client *http, const char *endpoint)
{
	memset(g, 0, sizeof(*g));
	g->http = http;
	g->endpoint = endpoint;
	g->max_throttles = 30;
}

static void say(struct shopgql *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
say(struct shopgql *g, const char *fmt, ...)
{
	char line[600];
	va_list ap;

	if (g->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	g->log(g->log_arg, line);
}

static int fail(struct shopgql *g, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct shopgql *g, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->err, sizeof(g->err), fmt, ap);
	va_end(ap);
	return status;
}

/* Microseconds: at a restore rate of 1000/s a millisecond is a point. */
static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long
level_now(struct shopgql *g)
{
	long long level = g->bucket.level_mp + (now_us() - g->bucket.at_us) *
						   g->bucket.rate_mp / 1000000;

	return level > g->bucket.max_mp ? g->bucket.max_mp : level;
}

long
shopgql_available(struct shopgql *g)
{
	return g->bucket.known ? (long)(level_now(g) / 1000) : -1;
}

/* Sleep until the bucket holds cost points, as far as we know it. */
static void
bucket_wait(struct shopgql *g, long cost)
{
	long long need, have;
	long ms;

	if (!g->bucket.known || g->bucket.rate_mp <= 0)
		return;
	have = level_now(g);
	need = (long long)cost * 1000;
	if (have >= need)
		return;
	/* Two extra milliseconds: the server's clock rounds too. */
	ms = (long)((need - have) * 1000 / g->bucket.rate_mp) + 2;
	say(g, "waiting %ld ms for the bucket (%lld of %ld points)", ms,
	    have / 1000, cost);
	http_sleep_ms(ms);
	g->waited_ms += (unsigned long)ms;
}

/* Charge an attempt whose answer was lost: Shopify may have counted it. */
static void
bucket_charge(struct shopgql *g, long cost)
{
	if (!g->bucket.known)
		return;
	g->bucket.level_mp = level_now(g) - (long long)cost * 1000;
	g->bucket.at_us = now_us();
}

static long long
millipoints(jv v)
{
	long long mp = -1;

	/* A number of points as JSON gives it; cost figures are small. */
	if (jv_get_kind(v) == JV_KIND_NUMBER)
		mp = (long long)(jv_number_value(v) * 1000);
	jv_free(v);
	return mp;
}

/* Read extensions.cost from an answer (borrowed); the requested cost. */
static long
bucket_update(struct shopgql *g, jv answer)
{
	jv ext = json_get(answer, "extensions");
	jv cost = json_get(ext, "cost");
	jv ts = json_get(cost, "throttleStatus");
	jv req = json_get(cost, "requestedQueryCost");
	long long cur = millipoints(json_get(ts, "currentlyAvailable"));
	long long max = millipoints(json_get(ts, "maximumAvailable"));
	long long rate = millipoints(json_get(ts, "restoreRate"));
	long requested = -1;

	if (jv_get_kind(req) == JV_KIND_NUMBER)
		requested = (long)jv_number_value(req);
	if (cur >= 0 && max > 0 && rate >= 0) {
		g->bucket.known = 1;
		g->bucket.level_mp = cur;
		g->bucket.max_mp = max;
		g->bucket.rate_mp = rate;
		/*
		 * The level was read when the answer left the server; taking
		 * it as of now undercounts the refill, which errs on the
		 * safe side.
		 */
		g->bucket.at_us = now_us();
	}
	jv_free(req);
	jv_free(ts);
	jv_free(cost);
	jv_free(ext);
	return requested;
}

static long *
permille_for(struct shopgql *g, const char *op)
{
	size_t i, n = sizeof(g->learned) / sizeof(g->learned[0]);

	for (i = 0; i < n; i++) {
		if (g->learned[i].op == NULL) {
			g->learned[i].op = op;
			g->learned[i].permille = 1000;
		}
		if (strcmp(g->learned[i].op, op) == 0)
			return &g->learned[i].permille;
	}
	return &g->learned[0].permille;
}

long
shopgql_estimate(struct shopgql *g, const char *op, const char *doc, jv vars)
{
	long c = gql_cost(doc, vars);

	if (c < 0)
		return -1;
	return (c * *permille_for(g, op) + 999) / 1000;
}

static int
is_code(jv errors, const char *code)
{
	int found = 0;

	if (jv_get_kind(errors) != JV_KIND_ARRAY)
		return 0;
	jv_array_foreach(errors, i, e)
	{
		jv ext = json_get(e, "extensions");
		const char *c = json_str(ext, "code");

		if (c != NULL && strcmp(c, code) == 0)
			found = 1;
		jv_free(ext);
		jv_free(e);
	}
	return found;
}

const char *
shopgql_first_message(jv errors)
{
	jv e;
	const char *m;

	if (jv_get_kind(errors) == JV_KIND_STRING)
		return jv_string_value(errors);
	if (jv_get_kind(errors) != JV_KIND_ARRAY ||
	    jv_array_length(jv_copy(errors)) == 0)
		return "no message";
	/* e shares its strings with errors, which keeps them alive. */
	e = jv_array_get(jv_copy(errors), 0);
	m = json_str(e, "message");
	jv_free(e);
	return m ? m : "no message";
}

/* The first error's message, copied into buf. */
static const char *
first_message(jv errors, char *buf, size_t n)
{
	snprintf(buf, n, "%s", shopgql_first_message(errors));
	return buf;
}

/* "read_orders" out of "Required access: `read_orders` access scope." */
static void
scope_of(const char *message, char *buf, size_t n)
{
	const char *a = strchr(message, '`'), *b;

	buf[0] = '\0';
	if (a != NULL && (b = strchr(a + 1, '`')) != NULL)
		snprintf(buf, n, "%.*s", (int)(b - a - 1), a + 1);
}

/* An answer with errors: the status and sentence for them. */
static int
answer_error(struct shopgql *g, const char *op, jv errors)
{
	char scope[128], m[300];

	first_message(errors, m, sizeof(m));
	scope_of(m, scope, sizeof(scope));
	if (is_code(errors, "ACCESS_DENIED") ||
	    strncmp(m, "Access denied", 13) == 0)
		return fail(g, EX_NOPERM,
			    "%s: the access token lacks the scope '%s' "
			    "(Shopify: %s)",
			    op, scope[0] ? scope : "?", m);
	if (is_code(errors, "MAX_COST_EXCEEDED"))
		return fail(g, EX_SOFTWARE,
			    "%s: Shopify refused the query's cost: %s", op, m);
	return fail(g, EX_PROTOCOL, "%s: Shopify answered an error: %s", op, m);
}

/* A final HTTP status that is not 200 and not worth retrying. */
static int
status_error(struct shopgql *g, const char *op, long status)
{
	if (status == 401)
		return fail(g, EX_NOPERM,
			    "Shopify refused the access token (HTTP 401): "
			    "check SHOPIFY_ACCESS_TOKEN or shopify.token_file");
	if (status == 403)
		return fail(g, EX_NOPERM,
			    "Shopify denied access (HTTP 403): the app lacks "
			    "a scope or the shop is closed to it");
	if (status == 404)
		return fail(g, EX_CONFIG,
			    "no GraphQL endpoint at '%s' (HTTP 404): check "
			    "shopify.domain and shopify.api_version",
			    g->endpoint);
	if (status == 402 || status == 423)
		return fail(g, EX_UNAVAILABLE, "the shop is %s (HTTP %ld)",
			    status == 402 ? "frozen" : "locked", status);
	return fail(g, EX_PROTOCOL, "%s: unexpected HTTP %ld from Shopify", op,
		    status);
}

/*
 * What one whole 200 answer (consumed) means: 0 with *data set, 1 when it
 * was THROTTLED and must be sent again, or a failure status.
 */
static int
take_answer(struct shopgql *g, const char *op, jv answer, long *cost,
	    int *throttled, jv *data)
{
	long requested = bucket_update(g, answer);
	jv errors;
	int rc;

	if (requested > 0 && requested > *cost) {
		long *p = permille_for(g, op);

		*p = requested * *p / *cost + 1;
		*cost = requested;
	}
	errors = json_get(answer, "errors");
	if (is_code(errors, "THROTTLED")) {
		jv_free(errors);
		jv_free(answer);
		g->throttles++;
		if (++*throttled > g->max_throttles)
			return fail(g, EX_TEMPFAIL,
				    "%s: still throttled after %d waits", op,
				    g->max_throttles);
		if (!g->bucket.known) {
			long w = http_backoff(g->http, *throttled, NULL);

			http_sleep_ms(w);
			g->waited_ms += (unsigned long)w;
		}
		return 1; /* bucket_wait does the rest */
	}
	if (jv_get_kind(errors) != JV_KIND_NULL && jv_is_valid(errors)) {
		rc = answer_error(g, op, errors);
		jv_free(errors);
		jv_free(answer);
		return rc;
	}
	jv_free(errors);
	*data = json_get(answer, "data");
	jv_free(answer);
	if (jv_get_kind(*data) != JV_KIND_OBJECT) {
		jv_free(*data);
		*data = jv_invalid();
		return fail(g, EX_PROTOCOL, "%s: the answer has no data", op);
	}
	return 0;
}

int
shopgql_query(struct shopgql *g, const char *op, const char *doc, jv vars,
	      jv *data)
{
	struct http_response res;
	jv body, answer;
	long cost, waited = 0;
	int attempt = 1, throttled = 0, rc;

	*data = jv_invalid();
	cost = shopgql_estimate(g, op, doc, vars);
	if (cost < 0) {
		jv_free(vars);
		return fail(g, EX_SOFTWARE, "%s: cannot compute the cost", op);
	}
	body = jv_object_set(jv_object(), jv_string("query"), jv_string(doc));
	body = jv_object_set(body, jv_string("variables"), vars);
	body = jv_dump_string(body, 0);
	for (;;) {
		long w;
		char why[160];

		bucket_wait(g, cost);
		g->queries++;
		rc = http_post(g->http, g->endpoint, jv_string_value(body),
			       (size_t)jv_string_length_bytes(jv_copy(body)),
			       &res);
		if (rc == 0)
			say(g,
			    "%s: cost %ld, bucket %ld/%lld, HTTP %ld, %zu "
			    "bytes, %ld ms",
			    op, cost, shopgql_available(g),
			    g->bucket.max_mp / 1000, res.status, res.len,
			    res.elapsed_ms);
		else
			say(g, "%s: cost %ld, failed: %s, %ld ms", op, cost,
			    g->http->err, res.elapsed_ms);
		if (rc == 0 && res.status == 200) {
			answer = jv_parse_sized(res.body, (int)res.len);
			http_response_release(&res);
			if (jv_is_valid(answer) &&
			    jv_get_kind(answer) == JV_KIND_OBJECT) {
				rc = take_answer(g, op, answer, &cost,
						 &throttled, data);
				if (rc == 1)
					continue;
				jv_free(body);
				return rc;
			}
			/* A body cut short without a transport error. */
			jv_free(answer);
			g->http->failure = HTTP_BROKEN;
			snprintf(g->http->err, sizeof(g->http->err),
				 "the answer is not JSON");
			rc = -1;
		} else if (rc == 0 && !http_retryable(g->http, rc, &res)) {
			long status = res.status;

			http_response_release(&res);
			jv_free(body);
			return status_error(g, op, status);
		} else if (rc != 0 && !http_retryable(g->http, rc, &res)) {
			jv_free(body);
			return fail(g, EX_UNAVAILABLE, "%s: %s", op,
				    g->http->err);
		}
		/* Lost or failed: Shopify may have charged it all the same. */
		bucket_charge(g, cost);
		w = http_backoff(g->http, attempt, rc == 0 ? &res : NULL);
		if (rc == 0) {
			snprintf(why, sizeof(why), "HTTP %ld", res.status);
			http_response_release(&res);
		} else {
			snprintf(why, sizeof(why), "%.150s", g->http->err);
		}
		if (attempt >= g->http->max_attempts ||
		    waited + w > g->http->budget_ms) {
			jv_free(body);
			return fail(g,
				    rc != 0 && g->http->failure == HTTP_CONNECT
					? EX_UNAVAILABLE
					: EX_TEMPFAIL,
				    "%s: gave up after %d attempts: %s", op,
				    attempt, why);
		}
		http_sleep_ms(w);
		waited += w;
		g->waited_ms += (unsigned long)w;
		g->http->retries++;
		attempt++;
	}
}
