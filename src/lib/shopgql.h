/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_SHOPGQL_H
#define TILLROLL_SHOPGQL_H

/*
 * One GraphQL request to Shopify's Admin API, the way every tillroll
 * program that talks to Shopify must send it (reference/shopify.md
 * section 2): no request is sent before the leaky bucket, as the last
 * answer's extensions.cost.throttleStatus described it, can pay for its
 * cost; THROTTLED answers are waited out; transport failures and
 * retryable HTTP statuses are retried with the backoff of http.h, the
 * bucket charged for an answer that was lost; each operation's estimate
 * (gqlcost.h) is raised by what Shopify said it cost.
 *
 * A struct shopgql borrows its http client (with the token header
 * already set) and its endpoint; it owns nothing else.  Data handed back
 * is owned by the caller.  Nothing here prints or exits: failures come
 * back as a sysexits status with the sentence in err, and the verbose
 * lines through the log hook (which never sees a header).
 */

#include <jv.h>

#include "http.h"

/* A line for a --verbose log, without the program's prefix. */
typedef void shopgql_log_fn(void *arg, const char *line);

struct shopgql {
	struct http_client *http; /* borrowed; its token header set */
	const char *endpoint;	  /* the graphql.json URL, borrowed */
	int max_throttles;	  /* THROTTLED answers waited out per query */
	shopgql_log_fn *log;	  /* verbose lines, or NULL */
	void *log_arg;		  /* passed to log */
	struct {
		int known;	    /* an answer carried throttleStatus */
		long long level_mp; /* currentlyAvailable, millipoints */
		long long max_mp;   /* maximumAvailable */
		long long rate_mp;  /* restoreRate, millipoints a second */
		long long at_us;    /* when level was read (monotonic) */
	} bucket;
	struct {
		const char *op; /* operation name (borrowed) */
		long permille;	/* requestedQueryCost / estimate */
	} learned[32];
	unsigned long queries;	 /* requests sent */
	unsigned long throttles; /* THROTTLED answers */
	unsigned long waited_ms; /* slept for the bucket and backoff */
	char err[512];		 /* the last failure, without prefix */
};

/*
 * Prepare g for requests to endpoint over http (both borrowed, and must
 * outlive g).  Defaults: 30 THROTTLED waits, no log.
 */
void shopgql_init(struct shopgql *g, struct http_client *http,
		  const char *endpoint);

/*
 * The cost of doc with vars (borrowed) by gqlcost.h, raised by what
 * Shopify answered for operation op before.  -1 when doc is outside
 * gql_cost's subset.  op is borrowed and must outlive g.
 */
long shopgql_estimate(struct shopgql *g, const char *op, const char *doc,
		      jv vars);

/* Points in the bucket now, as far as known; -1 when unknown. */
long shopgql_available(struct shopgql *g);

/*
 * The first message of errors (borrowed): a GraphQL errors or userErrors
 * array of objects with a message, or a string.  "no message" when there
 * is none.  The text is borrowed from errors and lives as long as it.
 */
const char *shopgql_first_message(jv errors);

/*
 * Send doc (operation op, borrowed and outliving g) with vars (consumed)
 * and put the answer's data object in *data (owned).  Returns 0, or a
 * sysexits status with g->err set and *data invalid:
 * EX_NOPERM (401, 403, ACCESS_DENIED), EX_CONFIG (404: no endpoint),
 * EX_UNAVAILABLE (cannot connect, frozen or locked shop), EX_TEMPFAIL
 * (still throttled or failing after every attempt), EX_PROTOCOL (an
 * error answer, no data), EX_SOFTWARE (a cost the query cannot have).
 */
int shopgql_query(struct shopgql *g, const char *op, const char *doc, jv vars,
		  jv *data);

#endif
