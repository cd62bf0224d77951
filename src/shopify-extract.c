/* See LICENSE file for copyright and license details. */
/*
 * shopify-extract: pull one shop's data for a time window from Shopify's
 * GraphQL Admin API and write it as raw envelopes for normalize(1).
 *
 * Orders (with lines, shipping, discounts, transactions and their fees,
 * refunds), products, customers, inventory levels, and Shopify Payments
 * payouts, balance transactions and disputes.  Every connection is
 * followed to its end, page sizes are chosen so that no query costs more
 * than Shopify allows, no query is sent before the rate-limit bucket can
 * pay for it, and failures are retried with backoff.  A state file keeps
 * one watermark per resource and the position of an unfinished run, so a
 * run killed at any moment is resumed where its written output ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jv.h>

#include "config.h"
#include "http.h"
#include "json.h"
#include "money.h"
#include "msg.h"
#include "secret.h"
#include "shopgql.h"
#include "stage.h"
#include "statefile.h"
#include "utctime.h"

/* --- the query documents ---------------------------------------------- */

/*
 * Field lists are those normalize(1) reads, as gen-day(1) writes them.
 * Nested connection sizes are variables so that a page's cost can be
 * computed before it is sent.
 */
#define MONEY "amount currencyCode"
#define BAG "{ shopMoney { " MONEY " } presentmentMoney { " MONEY " } }"
#define PAGE_INFO " pageInfo { hasNextPage endCursor }"
#define TAX_LINES                                                              \
	" taxLines { title rate ratePercentage priceSet " BAG " channelLiable" \
	" }"
#define ALLOCATIONS                                                            \
	" discountAllocations { allocatedAmountSet " BAG                       \
	" discountApplication { index } }"
#define ADDRESS                                                                \
	"{ firstName lastName company address1 address2 city zip province "    \
	"provinceCode country countryCodeV2 phone }"
#define LINE_ITEM                                                              \
	"id name title variantTitle sku quantity currentQuantity "             \
	"product { id } variant { id } taxable requiresShipping isGiftCard "   \
	"originalUnitPriceSet " BAG " originalTotalSet " BAG                   \
	" totalDiscountSet " BAG                                               \
	" discountedTotalSet " BAG ALLOCATIONS TAX_LINES
#define SHIPPING_LINE                                                          \
	"id title code source originalPriceSet " BAG                           \
	" discountedPriceSet " BAG ALLOCATIONS TAX_LINES
#define DISCOUNT_APPLICATION                                                   \
	"__typename index allocationMethod targetSelection targetType "        \
	"value { __typename ... on MoneyV2 { " MONEY " } "                     \
	"... on PricingPercentageValue { percentage } } "                      \
	"... on DiscountCodeApplication { code }"
#define TRANSACTION                                                            \
	"id kind status gateway amountSet " BAG                                \
	" parentTransaction { id } processedAt createdAt errorCode test "      \
	"paymentId authorizationCode "                                         \
	"fees { amount { " MONEY " } flatFee { " MONEY " } rate type }"
#define REFUND_LINE                                                            \
	"lineItem { id sku } quantity restockType priceSet " BAG               \
	" subtotalSet " BAG " totalTaxSet " BAG
#define REFUND_SHIPPING                                                        \
	"shippingLine { id } subtotalAmountSet " BAG " taxAmountSet " BAG
#define ADJUSTMENT "id reason amountSet " BAG " taxAmountSet " BAG
/* A refund; its connections' sizes are given (variables or literals). */
#define REFUND(rli, rsl, oa, rtx)                                              \
	"id createdAt processedAt note totalRefundedSet " BAG                  \
	" refundLineItems(first: " rli ") { nodes { " REFUND_LINE              \
	" }" PAGE_INFO " } refundShippingLines(first: " rsl                    \
	") { nodes { " REFUND_SHIPPING " }" PAGE_INFO                          \
	" } orderAdjustments(first: " oa ") { nodes { " ADJUSTMENT             \
	" }" PAGE_INFO " } transactions(first: " rtx                           \
	") { nodes { " TRANSACTION " }" PAGE_INFO " }"
#define ORDER_SCALARS                                                          \
	"id legacyResourceId name createdAt processedAt updatedAt "            \
	"cancelledAt cancelReason closedAt currencyCode "                      \
	"presentmentCurrencyCode taxesIncluded test displayFinancialStatus "   \
	"displayFulfillmentStatus sourceName paymentGatewayNames email "       \
	"phone customer { id firstName lastName email phone } "                \
	"billingAddress " ADDRESS " shippingAddress " ADDRESS                  \
	" totalLineItemsPriceSet " BAG " subtotalPriceSet " BAG                \
	" totalDiscountsSet " BAG " totalShippingPriceSet " BAG                \
	" totalTaxSet " BAG " totalPriceSet " BAG                              \
	" currentSubtotalPriceSet " BAG " currentTotalDiscountsSet " BAG       \
	" currentTotalTaxSet " BAG " currentTotalPriceSet " BAG                \
	" totalRefundedSet " BAG " totalTipReceivedSet " BAG                   \
	" discountCodes" TAX_LINES
#define NESTED_VARS                                                            \
	"$li: Int!, $sl: Int!, $da: Int!, $tx: Int!, $rf: Int!, "              \
	"$rli: Int!, $rsl: Int!, $oa: Int!, $rtx: Int!"
#define WINDOW_VARS "$first: Int!, $after: String, $query: String"
#define PAGE_VARS "$id: ID!, $first: Int!, $after: String"

static const char Q_PROBE[] = "query ShopProbe { shop { currencyCode } }";
/* Longer than C compilers must support in one literal: built by parts. */
static const char *const orders_parts[] = {
    "query Orders(" WINDOW_VARS ", " NESTED_VARS ") { orders(first: $first, "
    "after: $after, sortKey: UPDATED_AT, query: $query) { nodes { ",
    ORDER_SCALARS,
    " discountApplications(first: $da) { nodes { " DISCOUNT_APPLICATION
    " }" PAGE_INFO " } lineItems(first: $li) { nodes { ",
    LINE_ITEM " }" PAGE_INFO " } shippingLines(first: $sl) { nodes { ",
    SHIPPING_LINE " }" PAGE_INFO " } transactions(first: $tx) { ",
    TRANSACTION " } refunds(first: $rf) { ",
    REFUND("$rli", "$rsl", "$oa", "$rtx") " } }" PAGE_INFO " } }",
    NULL};
static char *Q_ORDERS;
static const char Q_ORDER_LINES[] =
    "query OrderLineItems(" PAGE_VARS ") { order(id: $id) { lineItems(first: "
    "$first, after: $after) { nodes { " LINE_ITEM " }" PAGE_INFO " } } }";
static const char Q_ORDER_SHIPPING[] =
    "query OrderShippingLines(" PAGE_VARS ") { order(id: $id) { "
    "shippingLines(first: $first, after: $after) { nodes { " SHIPPING_LINE
    " }" PAGE_INFO " } } }";
static const char Q_ORDER_DISCOUNTS[] =
    "query OrderDiscountApplications(" PAGE_VARS ") { order(id: $id) { "
    "discountApplications(first: $first, after: $after) { nodes "
    "{ " DISCOUNT_APPLICATION " }" PAGE_INFO " } } }";
static const char Q_ORDER_TRANSACTIONS[] =
    "query OrderTransactions($id: ID!, $first: Int!) { order(id: $id) { "
    "transactions(first: $first) { " TRANSACTION " } } }";
static const char Q_ORDER_REFUNDS[] =
    "query OrderRefunds($id: ID!, $first: Int!, $rli: Int!, $rsl: Int!, "
    "$oa: Int!, $rtx: Int!) { order(id: $id) { refunds(first: $first) "
    "{ " REFUND("$rli", "$rsl", "$oa", "$rtx") " } } }";
static const char Q_REFUND_LINES[] =
    "query RefundLineItems(" PAGE_VARS ") { refund(id: $id) { "
    "refundLineItems(first: $first, after: $after) { nodes { " REFUND_LINE
    " }" PAGE_INFO " } } }";
static const char Q_REFUND_SHIPPING[] =
    "query RefundShippingLines(" PAGE_VARS ") { refund(id: $id) { "
    "refundShippingLines(first: $first, after: $after) { nodes "
    "{ " REFUND_SHIPPING " }" PAGE_INFO " } } }";
static const char Q_REFUND_ADJUSTMENTS[] =
    "query RefundOrderAdjustments(" PAGE_VARS ") { refund(id: $id) { "
    "orderAdjustments(first: $first, after: $after) { nodes { " ADJUSTMENT
    " }" PAGE_INFO " } } }";
static const char Q_REFUND_TRANSACTIONS[] =
    "query RefundTransactions(" PAGE_VARS ") { refund(id: $id) { "
    "transactions(first: $first, after: $after) { nodes { " TRANSACTION
    " }" PAGE_INFO " } } }";

#define VARIANT                                                                \
	"id title sku barcode price compareAtPrice taxable "                   \
	"inventoryItem { id }"
static const char Q_PRODUCTS[] =
    "query Products(" WINDOW_VARS ", $v: Int!) { products(first: $first, "
    "after: $after, sortKey: UPDATED_AT, query: $query) { nodes { id title "
    "vendor productType isGiftCard status updatedAt variants(first: $v) { "
    "nodes { " VARIANT " }" PAGE_INFO " } }" PAGE_INFO " } }";
static const char Q_PRODUCT_VARIANTS[] =
    "query ProductVariants(" PAGE_VARS ") { product(id: $id) { "
    "variants(first: $first, after: $after) { nodes { " VARIANT " }" PAGE_INFO
    " } } }";
static const char Q_CUSTOMERS[] =
    "query Customers(" WINDOW_VARS ") { customers(first: $first, after: "
    "$after, sortKey: UPDATED_AT, query: $query) { nodes { id "
    "legacyResourceId firstName lastName email phone taxExempt createdAt "
    "updatedAt defaultAddress " ADDRESS " }" PAGE_INFO " } }";
#define LEVEL                                                                  \
	"id updatedAt item { id } location { id } "                            \
	"quantities(names: [\"available\"]) { name quantity }"
static const char Q_INVENTORY[] =
    "query InventoryLevels($first: Int!, $after: String, $l: Int!) { "
    "inventoryItems(first: $first, after: $after) { nodes { id "
    "inventoryLevels(first: $l) { nodes { " LEVEL " }" PAGE_INFO
    " } }" PAGE_INFO " } }";
static const char Q_ITEM_LEVELS[] =
    "query InventoryItemLevels(" PAGE_VARS ") { inventoryItem(id: $id) { "
    "inventoryLevels(first: $first, after: $after) { nodes { " LEVEL
    " }" PAGE_INFO " } } }";
#define SUMMARY_PAIR(x) x "Gross { " MONEY " } " x "Fee { " MONEY " } "
static const char Q_PAYOUTS[] =
    "query Payouts(" WINDOW_VARS ") { shopifyPaymentsAccount { "
    "payouts(first: $first, after: $after, query: $query) { nodes { id "
    "legacyResourceId issuedAt status transactionType net { " MONEY " } "
    "summary { " SUMMARY_PAIR(
	"charges") "refundsFeeGross { " MONEY " } "
		   "refundsFee { " MONEY " } " SUMMARY_PAIR("adjustments")
		       SUMMARY_PAIR("reservedFunds")
			   SUMMARY_PAIR("retriedPayouts") "} }" PAGE_INFO
							  " } } }";
static const char Q_PAYOUT_IDS[] =
    "query PayoutIds(" WINDOW_VARS ") { shopifyPaymentsAccount { "
    "payouts(first: $first, after: $after, query: $query) { edges { cursor "
    "node { id legacyResourceId } }" PAGE_INFO " } } }";
static const char Q_BALANCE[] =
    "query BalanceTransactions(" WINDOW_VARS ") { shopifyPaymentsAccount { "
    "balanceTransactions(first: $first, after: $after, query: $query) { "
    "nodes { id type test amount { " MONEY " } fee { " MONEY " } net { " MONEY
    " } sourceId sourceType sourceOrderTransactionId associatedOrder "
    "{ id name } associatedPayout { id status } transactionDate "
    "adjustmentReason }" PAGE_INFO " } } }";
static const char Q_DISPUTES[] =
    "query Disputes(" WINDOW_VARS ") { shopifyPaymentsAccount { "
    "disputes(first: $first, after: $after, query: $query) { nodes { id "
    "legacyResourceId type status amount { " MONEY " } initiatedAt "
    "evidenceDueBy evidenceSentOn finalizedOn "
    "reasonDetails { reason networkReasonCode } order { id name } }" PAGE_INFO
    " } } }";
static const char Q_BULK_RUN[] =
    "mutation BulkOperationRunQuery($query: String!) { "
    "bulkOperationRunQuery(query: $query) { bulkOperation { id status } "
    "userErrors { field message } } }";
static const char Q_BULK_POLL[] =
    "query CurrentBulkOperation { currentBulkOperation { id status "
    "errorCode createdAt completedAt objectCount rootObjectCount fileSize "
    "url partialDataUrl } }";
/* The bulk query: connections without first, lists and refunds inline. */
static const char *const bulk_orders_parts[] = {
    "{ orders(query: \"%s\") { edges { node { ",
    ORDER_SCALARS,
    " discountApplications { edges { node { " DISCOUNT_APPLICATION
    " } } } lineItems { edges { node { ",
    LINE_ITEM " } } } shippingLines { edges { node { ",
    SHIPPING_LINE " } } } transactions { ",
    TRANSACTION " } refunds { ",
    REFUND("250", "250", "250", "250") " } } } } }",
    NULL};
static char *BULK_ORDERS_FMT;

/* The parts, concatenated (malloc'd), or NULL when out of memory. */
static char *
join(const char *const *parts)
{
	size_t n = 1, i;
	char *s;

	for (i = 0; parts[i] != NULL; i++)
		n += strlen(parts[i]);
	if ((s = malloc(n)) == NULL)
		return NULL;
	s[0] = '\0';
	for (i = 0; parts[i] != NULL; i++)
		strcat(s, parts[i]);
	return s;
}

/* --- options and run state -------------------------------------------- */

static const char *shop = "";	     /* handle, from the config */
static const char *api_version = ""; /* from the config */
static const char *shop_currency;    /* config, or what Shopify says */
static char endpoint[1024];
static struct http_client http;
static int verbose;
static long max_cost = 1000; /* Shopify's single-query ceiling */
static long poll_ms = 1000;  /* bulk polling interval */
static struct stage st;
static FILE *out;	     /* stdout or --output */
static const char *out_path; /* --output, or NULL */
static const char *state_path;
static jv state; /* the state document */
static jv run;	 /* state.run: the unfinished run */
static int bulk;

/* Nested connection sizes: small, because each multiplies a page's cost. */
static struct {
	const char *var;
	long size;
} nested[] = {
    {"li", 5},	{"sl", 2},  {"da", 3}, {"tx", 5},  {"rf", 2},
    {"rli", 3}, {"rsl", 1}, {"oa", 1}, {"rtx", 2},
};

/* --- one GraphQL request ----------------------------------------------- */

/*
 * The bucket, THROTTLED answers, retries and what each operation costs
 * are shopgql.h's, shared with shopify-load(1).
 */
static struct shopgql shopify;

/* shopgql's verbose lines, with the program's prefix. */
static void
log_line(void *arg, const char *line)
{
	(void)arg;
	msg_warn("%s", line);
}

/*
 * Send doc (operation op) with vars (consumed) and return its data in
 * *data (owned).  Returns 0, or a sysexits status with the message
 * printed.
 */
static int
gql(const char *op, const char *doc, jv vars, jv *data)
{
	int rc = shopgql_query(&shopify, op, doc, vars, data);

	if (rc != 0)
		return msg_fail(rc, "%s", shopify.err);
	return 0;
}

/*
 * The largest page size (1..cap) whose cost fits the single-query ceiling
 * and the bucket.  vars (borrowed) holds everything but $first.
 */
static long
page_size(const char *op, const char *doc, jv vars, long cap)
{
	long limit = max_cost, fixed, per, n;
	jv v0 = jv_object_set(jv_copy(vars), jv_string("first"), jv_number(0));
	jv v1 = jv_object_set(jv_copy(vars), jv_string("first"), jv_number(1));

	if (shopify.bucket.known && shopify.bucket.max_mp / 1000 < limit)
		limit = (long)(shopify.bucket.max_mp / 1000);
	fixed = shopgql_estimate(&shopify, op, doc, v0);
	per = shopgql_estimate(&shopify, op, doc, v1) - fixed;
	jv_free(v0);
	jv_free(v1);
	if (fixed < 0 || per <= 0)
		return -1;
	n = (limit - fixed) / per;
	return n > cap ? cap : n;
}

/* --- output ------------------------------------------------------------ */

/* The gids written in this run, so that one node is written once. */
static struct {
	char **v;
	size_t n, cap;
} seen;

static unsigned long
hash(const char *s)
{
	unsigned long h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

/* 1 when s was already seen; else remembers it and returns 0. */
static int
seen_before(const char *s)
{
	size_t i;

	if (seen.n * 2 >= seen.cap) {
		size_t cap = seen.cap ? seen.cap * 2 : 4096, j;
		char **v = calloc(cap, sizeof(*v));

		if (v == NULL)
			return 0; /* cannot tell: write it */
		for (j = 0; j < seen.cap; j++) {
			if (seen.v[j] == NULL)
				continue;
			for (i = hash(seen.v[j]) % cap; v[i] != NULL;
			     i = (i + 1) % cap)
				;
			v[i] = seen.v[j];
		}
		free(seen.v);
		seen.v = v;
		seen.cap = cap;
	}
	for (i = hash(s) % seen.cap; seen.v[i] != NULL; i = (i + 1) % seen.cap)
		if (strcmp(seen.v[i], s) == 0)
			return 1;
	if ((seen.v[i] = strdup(s)) != NULL)
		seen.n++;
	return 0;
}

/* Write one node (consumed) as an envelope of kind.  Returns 0 or -1. */
static int
emit(const char *kind, jv node)
{
	const char *id = json_str(node, "id");
	char key[512];
	jv env;

	st.in++;
	counters_add(&st.in_kind, kind);
	snprintf(key, sizeof(key), "%s %s", kind, id ? id : "");
	if (id != NULL && seen_before(key)) {
		st.dropped++;
		counters_add(&st.drops, "duplicate");
		jv_free(node);
		return 0;
	}
	env = jv_object_set(jv_object(), jv_string("kind"), jv_string(kind));
	env = jv_object_set(env, jv_string("shop"), jv_string(shop));
	env = jv_object_set(env, jv_string("api"), jv_string(api_version));
	env = jv_object_set(env, jv_string("shop_currency"),
			    jv_string(shop_currency));
	env = jv_object_set(env, jv_string("data"), node);
	if (json_emit(out, env) != 0)
		return -1;
	st.out++;
	counters_add(&st.out_kind, kind);
	return 0;
}

/* --- state ------------------------------------------------------------- */

/*
 * The state file: {"shop":..,"watermarks":{"orders":T,..},"run":{..}}.
 * "run" exists while a run is unfinished: its window's end, the size of
 * --output that is committed, and per resource where it got to.
 */
static int
state_save(void)
{
	char err[600];
	int rc = statefile_save(state_path, state, err, sizeof(err));

	return rc != 0 ? msg_fail(rc, "%s", err) : 0;
}

static int
state_load(void)
{
	char err[600];
	int rc = statefile_load(state_path, shop, &state, err, sizeof(err));

	return rc != 0 ? msg_fail(rc, "%s", err) : 0;
}

/* state.run.<res>.<key> (owned), or jv_invalid(). */
static jv
progress(const char *res, const char *key)
{
	jv r = json_get(run, res), v = json_get(r, key);

	jv_free(r);
	return v;
}

static void
set_progress(const char *res, const char *key, jv value)
{
	jv r = json_get(run, res);

	if (jv_get_kind(r) != JV_KIND_OBJECT) {
		jv_free(r);
		r = jv_object();
	}
	r = jv_object_set(r, jv_string(key), value);
	run = jv_object_set(run, jv_string(res), r);
}

/*
 * Make what was written so far durable, then record it: first the
 * output, then the state naming it.  The watermark never passes output
 * that is not on disk (or handed to the pipe).
 */
static int
checkpoint(void)
{
	if (fflush(out) != 0 || ferror(out))
		return msg_fail(EX_IOERR, "write error on %s:",
				out_path ? out_path : "standard output");
	if (out_path != NULL) {
		off_t size = ftello(out);

		if (fsync(fileno(out)) != 0)
			return msg_fail(EX_IOERR,
					"cannot sync '%s':", out_path);
		run = jv_object_set(run, jv_string("output_size"),
				    jv_number((double)size));
	}
	state = jv_object_set(state, jv_string("run"), jv_copy(run));
	return state_save();
}

/* --- time -------------------------------------------------------------- */

/* --- connections -------------------------------------------------------- */

static int
has_next(jv conn)
{
	jv pi = json_get(conn, "pageInfo"), more = json_get(pi, "hasNextPage");
	int r = jv_get_kind(more) == JV_KIND_TRUE;

	jv_free(pi);
	jv_free(more);
	return r;
}

/* Mark a connection read to its end; consumes conn, returns it. */
static jv
close_connection(jv conn)
{
	jv pi;

	if (jv_get_kind(conn) != JV_KIND_OBJECT)
		return conn;
	pi = jv_object_set(jv_object(), jv_string("hasNextPage"), jv_false());
	pi = jv_object_set(pi, jv_string("endCursor"), jv_null());
	return jv_object_set(conn, jv_string("pageInfo"), pi);
}

/*
 * Follow parent.field (a connection) to its end with the page query doc
 * whose root field is root ("order", "refund", ...), merging the nodes.
 * Consumes parent, returns it completed in *out.
 */
static int
follow(jv parent, const char *field, const char *root, const char *op,
       const char *doc, jv *result)
{
	jv conn = json_get(parent, field);
	int rc = 0;

	while (rc == 0 && has_next(conn)) {
		jv pi = json_get(conn, "pageInfo"), vars, data, page, nodes,
		   more;
		long n;

		vars = jv_object_set(jv_object(), jv_string("id"),
				     json_get(parent, "id"));
		vars = jv_object_set(vars, jv_string("after"),
				     json_get(pi, "endCursor"));
		jv_free(pi);
		n = page_size(op, doc, vars, 250);
		if (n < 1) {
			jv_free(vars);
			rc = msg_fail(EX_SOFTWARE,
				      "%s: no page fits the bucket", op);
			break;
		}
		vars = jv_object_set(vars, jv_string("first"),
				     jv_number((double)n));
		if ((rc = gql(op, doc, vars, &data)) != 0)
			break;
		{
			jv r = json_get(data, root);

			page = json_get(r, field);
			jv_free(r);
		}
		jv_free(data);
		nodes = json_get(page, "nodes");
		if (jv_get_kind(nodes) != JV_KIND_ARRAY) {
			jv_free(nodes);
			jv_free(page);
			rc = msg_fail(EX_PROTOCOL,
				      "%s: '%s' of %s is missing from the "
				      "answer",
				      op, field, json_str(parent, "id"));
			break;
		}
		more = json_get(conn, "nodes");
		more = jv_array_concat(more, nodes);
		conn = jv_object_set(conn, jv_string("nodes"), more);
		conn = jv_object_set(conn, jv_string("pageInfo"),
				     json_get(page, "pageInfo"));
		jv_free(page);
	}
	if (rc == 0 && jv_get_kind(conn) == JV_KIND_OBJECT)
		parent = jv_object_set(parent, jv_string(field),
				       close_connection(conn));
	else
		jv_free(conn);
	*result = parent;
	return rc;
}

static jv
nested_vars(jv vars)
{
	size_t i;

	for (i = 0; i < sizeof(nested) / sizeof(nested[0]); i++)
		vars = jv_object_set(vars, jv_string(nested[i].var),
				     jv_number((double)nested[i].size));
	return vars;
}

static long
nested_size(const char *var)
{
	size_t i;

	for (i = 0; i < sizeof(nested) / sizeof(nested[0]); i++)
		if (strcmp(nested[i].var, var) == 0)
			return nested[i].size;
	return 0;
}

/* A list asked with first that came back full may hold more: ask again. */
static int
refetch_list(jv *order, const char *field, const char *op, const char *doc,
	     long asked, long cap)
{
	jv list = json_get(*order, field), vars, data, o;
	long n;
	int rc;

	if (jv_get_kind(list) != JV_KIND_ARRAY ||
	    jv_array_length(jv_copy(list)) < asked) {
		jv_free(list);
		return 0;
	}
	jv_free(list);
	vars = strcmp(field, "refunds") == 0 ? nested_vars(jv_object())
					     : jv_object();
	vars = jv_object_set(vars, jv_string("id"), json_get(*order, "id"));
	n = page_size(op, doc, vars, cap);
	if (n <= asked) {
		jv_free(vars);
		return msg_fail(EX_SOFTWARE,
				"order %s: more %s than one query can fetch",
				json_str(*order, "id"), field);
	}
	vars = jv_object_set(vars, jv_string("first"), jv_number((double)n));
	if ((rc = gql(op, doc, vars, &data)) != 0)
		return rc;
	o = json_get(data, "order");
	list = json_get(o, field);
	jv_free(o);
	jv_free(data);
	if (jv_get_kind(list) != JV_KIND_ARRAY) {
		jv_free(list);
		return msg_fail(EX_PROTOCOL, "%s: no '%s' in the answer", op,
				field);
	}
	if (jv_array_length(jv_copy(list)) >= n) {
		jv_free(list);
		return msg_fail(EX_PROTOCOL,
				"order %s: more than %ld %s, more than "
				"Shopify lists",
				json_str(*order, "id"), n, field);
	}
	*order = jv_object_set(*order, jv_string(field), list);
	return 0;
}

/* Follow every nested connection of a refund. */
static int
complete_refund(jv refund, jv *result)
{
	static const struct {
		const char *field, *op, *doc;
	} conns[] = {
	    {"refundLineItems", "RefundLineItems", Q_REFUND_LINES},
	    {"refundShippingLines", "RefundShippingLines", Q_REFUND_SHIPPING},
	    {"orderAdjustments", "RefundOrderAdjustments",
	     Q_REFUND_ADJUSTMENTS},
	    {"transactions", "RefundTransactions", Q_REFUND_TRANSACTIONS},
	};
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(conns) / sizeof(conns[0]) && rc == 0; i++)
		rc = follow(refund, conns[i].field, "refund", conns[i].op,
			    conns[i].doc, &refund);
	*result = refund;
	return rc;
}

/* Follow every nested connection of an order; consumes order. */
static int
complete_order(jv order, jv *result)
{
	static const struct {
		const char *field, *op, *doc;
	} conns[] = {
	    {"lineItems", "OrderLineItems", Q_ORDER_LINES},
	    {"shippingLines", "OrderShippingLines", Q_ORDER_SHIPPING},
	    {"discountApplications", "OrderDiscountApplications",
	     Q_ORDER_DISCOUNTS},
	};
	jv refunds, done;
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(conns) / sizeof(conns[0]) && rc == 0; i++)
		rc = follow(order, conns[i].field, "order", conns[i].op,
			    conns[i].doc, &order);
	if (rc == 0 && !bulk)
		rc = refetch_list(&order, "transactions", "OrderTransactions",
				  Q_ORDER_TRANSACTIONS, nested_size("tx"), 100);
	if (rc == 0 && !bulk)
		rc = refetch_list(&order, "refunds", "OrderRefunds",
				  Q_ORDER_REFUNDS, nested_size("rf"), 250);
	refunds = json_get(order, "refunds");
	done = jv_array();
	if (rc == 0 && jv_get_kind(refunds) == JV_KIND_ARRAY) {
		jv_array_foreach(refunds, k, r)
		{
			if (rc == 0)
				rc = complete_refund(r, &r);
			done = jv_array_append(done, r);
		}
		order = jv_object_set(order, jv_string("refunds"), done);
	} else {
		jv_free(done);
	}
	jv_free(refunds);
	*result = order;
	return rc;
}

static int
complete_product(jv product, jv *result)
{
	return follow(product, "variants", "product", "ProductVariants",
		      Q_PRODUCT_VARIANTS, result);
}

/* --- resources ----------------------------------------------------------- */

struct window {
	char since[UTC_TEXT_MAX];
	char until[UTC_TEXT_MAX];
};

/*
 * Page through a top-level connection: path names it in data (one or two
 * steps), each node is completed and written as kind, and the cursor is
 * checkpointed after every page under run.<res>.<key>.
 */
static int
paginate(const char *res, const char *key, const char *op, const char *doc,
	 jv base, const char *path1, const char *path2, const char *kind,
	 int (*complete)(jv, jv *))
{
	jv after = progress(res, key);
	int rc = 0;

	if (jv_get_kind(after) != JV_KIND_STRING) {
		jv_free(after);
		after = jv_null();
	}
	for (;;) {
		jv vars = jv_object_set(jv_copy(base), jv_string("after"),
					jv_copy(after)),
		   data, conn, nodes, pi;
		long n = page_size(op, doc, vars, 250);

		if (n < 1) {
			jv_free(vars);
			rc = msg_fail(EX_SOFTWARE,
				      "%s: one node costs more than the "
				      "bucket holds",
				      op);
			break;
		}
		vars = jv_object_set(vars, jv_string("first"),
				     jv_number((double)n));
		if ((rc = gql(op, doc, vars, &data)) != 0)
			break;
		conn = json_get(data, path1);
		jv_free(data);
		if (path2 != NULL) {
			jv inner = json_get(conn, path2);

			jv_free(conn);
			conn = inner;
		}
		nodes = json_get(conn, "nodes");
		if (jv_get_kind(nodes) != JV_KIND_ARRAY) {
			jv_free(nodes);
			jv_free(conn);
			rc = msg_fail(EX_PROTOCOL, "%s: the answer has no '%s'",
				      op, path2 ? path2 : path1);
			break;
		}
		jv_array_foreach(nodes, i, node)
		{
			if (rc == 0 && complete != NULL)
				rc = complete(node, &node);
			if (rc == 0 && emit(kind, node) != 0)
				rc = msg_fail(EX_IOERR, "write error on %s:",
					      out_path ? out_path
						       : "standard output");
			else if (rc != 0)
				jv_free(node);
		}
		jv_free(nodes);
		if (rc != 0) {
			jv_free(conn);
			break;
		}
		if (!has_next(conn)) {
			jv_free(conn);
			break;
		}
		pi = json_get(conn, "pageInfo");
		jv_free(conn);
		jv_free(after);
		after = json_get(pi, "endCursor");
		jv_free(pi);
		set_progress(res, key, jv_copy(after));
		if ((rc = checkpoint()) != 0)
			break;
	}
	jv_free(after);
	jv_free(base);
	return rc;
}

/* Each inventory level of an item is its own envelope. */
static int
inventory_item(jv item, jv *result)
{
	jv levels, nodes;
	int rc = follow(item, "inventoryLevels", "inventoryItem",
			"InventoryItemLevels", Q_ITEM_LEVELS, &item);

	if (rc != 0) {
		*result = item;
		return rc;
	}
	levels = json_get(item, "inventoryLevels");
	nodes = json_get(levels, "nodes");
	jv_free(levels);
	if (jv_get_kind(nodes) == JV_KIND_ARRAY) {
		jv_array_foreach(nodes, i, lv)
		{
			if (rc == 0 && emit("shopify.inventory_level", lv) != 0)
				rc = msg_fail(EX_IOERR, "write error:");
			else if (rc != 0)
				jv_free(lv);
		}
	}
	jv_free(nodes);
	*result = item;
	return rc;
}

/* paginate() writes each completed node; inventory writes its levels. */
static int
paginate_inventory(void)
{
	jv after = progress("inventory", "after");
	int rc = 0;

	if (jv_get_kind(after) != JV_KIND_STRING) {
		jv_free(after);
		after = jv_null();
	}
	for (;;) {
		jv vars = jv_object_set(jv_object(), jv_string("after"),
					jv_copy(after)),
		   data, conn, nodes, pi;
		long n;

		vars = jv_object_set(vars, jv_string("l"), jv_number(10));
		n = page_size("InventoryLevels", Q_INVENTORY, vars, 250);
		vars = jv_object_set(vars, jv_string("first"),
				     jv_number((double)(n < 1 ? 1 : n)));
		if ((rc = gql("InventoryLevels", Q_INVENTORY, vars, &data)) !=
		    0)
			break;
		conn = json_get(data, "inventoryItems");
		jv_free(data);
		nodes = json_get(conn, "nodes");
		if (jv_get_kind(nodes) != JV_KIND_ARRAY) {
			jv_free(nodes);
			jv_free(conn);
			rc = msg_fail(EX_PROTOCOL,
				      "InventoryLevels: the answer has no "
				      "'inventoryItems'");
			break;
		}
		jv_array_foreach(nodes, i, item)
		{
			if (rc == 0)
				rc = inventory_item(item, &item);
			jv_free(item);
		}
		jv_free(nodes);
		if (rc != 0 || !has_next(conn)) {
			jv_free(conn);
			break;
		}
		pi = json_get(conn, "pageInfo");
		jv_free(conn);
		jv_free(after);
		after = json_get(pi, "endCursor");
		jv_free(pi);
		set_progress("inventory", "after", jv_copy(after));
		if ((rc = checkpoint()) != 0)
			break;
	}
	jv_free(after);
	return rc;
}

static jv
window_vars(const char *field, const struct window *w)
{
	char q[256];

	snprintf(q, sizeof(q), "%s:>='%s' AND %s:<'%s'", field, w->since, field,
		 w->until);
	return jv_object_set(jv_object(), jv_string("query"), jv_string(q));
}

/*
 * Balance transactions: those of each payout in the window, payout by
 * payout, then every one still pending, so that one that gets its payout
 * later is seen again with it.  Checkpoints: the cursor of the last payout
 * done, the payout under way and its transactions' cursor, the pending
 * cursor.
 */
static int
balance(const struct window *w)
{
	jv phase = progress("balance", "phase");
	int rc = 0, pending = jv_get_kind(phase) == JV_KIND_STRING &&
			      strcmp(jv_string_value(phase), "pending") == 0;
	jv after = progress("balance", "payouts_after");

	jv_free(phase);
	if (jv_get_kind(after) != JV_KIND_STRING) {
		jv_free(after);
		after = jv_null();
	}
	while (!pending && rc == 0) {
		jv vars = jv_object_set(window_vars("issued_at", w),
					jv_string("after"), jv_copy(after)),
		   data, acc, conn, edges;

		vars = jv_object_set(vars, jv_string("first"), jv_number(50));
		if ((rc = gql("PayoutIds", Q_PAYOUT_IDS, vars, &data)) != 0)
			break;
		acc = json_get(data, "shopifyPaymentsAccount");
		conn = json_get(acc, "payouts");
		jv_free(acc);
		jv_free(data);
		edges = json_get(conn, "edges");
		if (jv_get_kind(edges) != JV_KIND_ARRAY) {
			jv_free(edges);
			jv_free(conn);
			rc = msg_fail(EX_PROTOCOL,
				      "PayoutIds: the answer has no payouts");
			break;
		}
		jv_array_foreach(edges, i, e)
		{
			jv node = json_get(e, "node");
			const char *legacy = json_str(node, "legacyResourceId");
			char q[128], res_key[160];

			if (rc != 0 || legacy == NULL) {
				if (rc == 0)
					rc = msg_fail(EX_PROTOCOL,
						      "PayoutIds: a payout "
						      "without "
						      "legacyResourceId");
				jv_free(node);
				jv_free(e);
				continue;
			}
			snprintf(q, sizeof(q), "payments_transfer_id:%s",
				 legacy);
			snprintf(res_key, sizeof(res_key), "payout %s", legacy);
			{
				/* Resume inside this payout, if it was. */
				jv cur = progress("balance", "payout"), b;
				jv pa = jv_null();

				if (jv_get_kind(cur) == JV_KIND_STRING &&
				    strcmp(jv_string_value(cur), legacy) == 0)
					pa = progress("balance", "after");
				jv_free(cur);
				set_progress("balance", "payout",
					     jv_string(legacy));
				if (jv_get_kind(pa) != JV_KIND_STRING) {
					jv_free(pa);
					pa = jv_null();
				}
				set_progress("balance", "after", pa);
				b = jv_object_set(jv_object(),
						  jv_string("query"),
						  jv_string(q));
				rc = paginate(
				    "balance", "after", "BalanceTransactions",
				    Q_BALANCE, b, "shopifyPaymentsAccount",
				    "balanceTransactions",
				    "shopify.balance_transaction", NULL);
			}
			if (rc == 0) {
				jv_free(after);
				after = json_get(e, "cursor");
				set_progress("balance", "payouts_after",
					     jv_copy(after));
				set_progress("balance", "payout", jv_null());
				set_progress("balance", "after", jv_null());
				rc = checkpoint();
			}
			jv_free(node);
			jv_free(e);
		}
		jv_free(edges);
		if (rc == 0 && !has_next(conn))
			pending = 1;
		jv_free(conn);
	}
	jv_free(after);
	if (rc != 0)
		return rc;
	{
		jv ph = progress("balance", "phase");
		int resumed = jv_get_kind(ph) == JV_KIND_STRING;

		jv_free(ph);
		set_progress("balance", "phase", jv_string("pending"));
		if (!resumed)
			set_progress("balance", "after", jv_null());
	}
	if ((rc = checkpoint()) != 0)
		return rc;
	return paginate("balance", "after", "BalanceTransactions", Q_BALANCE,
			jv_object_set(jv_object(), jv_string("query"),
				      jv_string("payout_status:pending")),
			"shopifyPaymentsAccount", "balanceTransactions",
			"shopify.balance_transaction", NULL);
}

/* --- bulk operations ---------------------------------------------------- */

/* Where a child line of the JSONL belongs in its parent order. */
static const char *
child_field(jv child)
{
	const char *id = json_str(child, "id"), *t;

	if (id != NULL && strncmp(id, "gid://shopify/LineItem/", 23) == 0)
		return "lineItems";
	if (id != NULL && strncmp(id, "gid://shopify/ShippingLine/", 27) == 0)
		return "shippingLines";
	t = json_str(child, "__typename");
	if (t != NULL && strlen(t) > 11 &&
	    strcmp(t + strlen(t) - 11, "Application") == 0)
		return "discountApplications";
	return NULL;
}

struct parent {
	char *gid;
	off_t at;	 /* offset of its line */
	off_t *children; /* offsets of its children's lines */
	size_t n, cap;
};

/* gid -> parent index, open addressing over the parents array. */
struct index {
	struct parent *v;
	size_t n, cap;
	size_t *slots; /* index+1, 0 empty */
	size_t nslots;
};

static int
index_add(struct index *x, const char *gid, off_t at)
{
	size_t i;

	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 1024;
		struct parent *v = realloc(x->v, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		x->v = v;
		x->cap = cap;
	}
	if ((x->n + 1) * 2 > x->nslots) {
		size_t ns = x->nslots ? x->nslots * 2 : 4096, j;
		size_t *s = calloc(ns, sizeof(*s));

		if (s == NULL)
			return -1;
		for (j = 0; j < x->n; j++) {
			for (i = hash(x->v[j].gid) % ns; s[i] != 0;
			     i = (i + 1) % ns)
				;
			s[i] = j + 1;
		}
		free(x->slots);
		x->slots = s;
		x->nslots = ns;
	}
	memset(&x->v[x->n], 0, sizeof(x->v[x->n]));
	if ((x->v[x->n].gid = strdup(gid)) == NULL)
		return -1;
	x->v[x->n].at = at;
	for (i = hash(gid) % x->nslots; x->slots[i] != 0;
	     i = (i + 1) % x->nslots)
		;
	x->slots[i] = ++x->n;
	return 0;
}

static struct parent *
index_find(struct index *x, const char *gid)
{
	size_t i;

	if (x->nslots == 0)
		return NULL;
	for (i = hash(gid) % x->nslots; x->slots[i] != 0;
	     i = (i + 1) % x->nslots)
		if (strcmp(x->v[x->slots[i] - 1].gid, gid) == 0)
			return &x->v[x->slots[i] - 1];
	return NULL;
}

static void
index_free(struct index *x)
{
	size_t i;

	for (i = 0; i < x->n; i++) {
		free(x->v[i].gid);
		free(x->v[i].children);
	}
	free(x->v);
	free(x->slots);
}

static jv
read_line_at(FILE *f, off_t at, char **buf, size_t *cap)
{
	ssize_t n;

	if (fseeko(f, at, SEEK_SET) != 0 || (n = getline(buf, cap, f)) < 0)
		return jv_invalid();
	return jv_parse_sized(*buf, (int)n);
}

/*
 * The bulk result in f, read twice: first an index of each parent's line
 * and its children's lines (children come after their parent, not next
 * to it), then each order assembled and written.  Memory: the index, about
 * 100 bytes an order and 8 a child, not the file.
 */
static int
bulk_assemble(FILE *f)
{
	struct index x = {0};
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	off_t at = 0;
	int rc = 0;
	size_t i;

	rewind(f);
	while (rc == 0 && (n = getline(&buf, &cap, f)) > 0) {
		jv line = jv_parse_sized(buf, (int)n);
		const char *pid = json_str(line, "__parentId");
		const char *id = json_str(line, "id");

		if (!jv_is_valid(line)) {
			rc = msg_fail(EX_PROTOCOL,
				      "bulk result: a line is not JSON");
		} else if (pid != NULL) {
			struct parent *p = index_find(&x, pid);

			if (p == NULL) {
				rc = msg_fail(EX_PROTOCOL,
					      "bulk result: a child of '%s' "
					      "before its parent",
					      pid);
			} else {
				if (p->n == p->cap) {
					size_t c = p->cap ? p->cap * 2 : 8;
					off_t *v = realloc(p->children,
							   c * sizeof(*v));

					if (v == NULL) {
						jv_free(line);
						rc = msg_fail(EX_OSERR,
							      "out of memory");
						break;
					}
					p->children = v;
					p->cap = c;
				}
				p->children[p->n++] = at;
			}
		} else if (id == NULL || index_add(&x, id, at) != 0) {
			rc = msg_fail(id ? EX_OSERR : EX_PROTOCOL,
				      id ? "out of memory"
					 : "bulk result: a line without id");
		}
		jv_free(line);
		at += n;
	}
	for (i = 0; rc == 0 && i < x.n; i++) {
		jv order = read_line_at(f, x.v[i].at, &buf, &cap);
		size_t k;
		static const char *const fields[] = {
		    "lineItems", "shippingLines", "discountApplications"};

		for (k = 0; k < 3; k++) {
			jv conn = jv_object_set(jv_object(), jv_string("nodes"),
						jv_array());

			order = jv_object_set(order, jv_string(fields[k]),
					      close_connection(conn));
		}
		for (k = 0; rc == 0 && k < x.v[i].n; k++) {
			jv child =
			    read_line_at(f, x.v[i].children[k], &buf, &cap);
			const char *field = child_field(child);
			jv conn, nodes;

			if (field == NULL) {
				rc = msg_fail(EX_PROTOCOL,
					      "bulk result: a child of '%s' of "
					      "no known kind",
					      x.v[i].gid);
				jv_free(child);
				break;
			}
			child =
			    jv_object_delete(child, jv_string("__parentId"));
			conn = json_get(order, field);
			nodes = json_get(conn, "nodes");
			nodes = jv_array_append(nodes, child);
			conn = jv_object_set(conn, jv_string("nodes"), nodes);
			order = jv_object_set(order, jv_string(field), conn);
		}
		if (rc == 0)
			rc = complete_order(order, &order);
		if (rc == 0 && emit("shopify.order", order) != 0)
			rc = msg_fail(EX_IOERR, "write error:");
		else if (rc != 0)
			jv_free(order);
	}
	free(buf);
	index_free(&x);
	return rc;
}

static int
bulk_orders(const struct window *w)
{
	char search[256], *inner;
	jv vars, data, op, errs, status;
	int rc, waits = 0;
	FILE *f;
	struct http_response res;
	const char *url;

	snprintf(search, sizeof(search),
		 "updated_at:>='%s' AND updated_at:<'%s'", w->since, w->until);
	if ((inner = malloc(strlen(BULK_ORDERS_FMT) + strlen(search))) == NULL)
		return msg_fail(EX_OSERR, "out of memory");
	{
		/* The search string goes where the template says %s. */
		const char *hole = strstr(BULK_ORDERS_FMT, "%s");
		size_t head = (size_t)(hole - BULK_ORDERS_FMT);

		memcpy(inner, BULK_ORDERS_FMT, head);
		strcpy(inner + head, search);
		strcat(inner, hole + 2);
	}
	for (;;) {
		vars = jv_object_set(jv_object(), jv_string("query"),
				     jv_string(inner));
		if ((rc = gql("BulkOperationRunQuery", Q_BULK_RUN, vars,
			      &data)) != 0) {
			free(inner);
			return rc;
		}
		op = json_get(data, "bulkOperationRunQuery");
		errs = json_get(op, "userErrors");
		jv_free(data);
		if (jv_get_kind(errs) == JV_KIND_ARRAY &&
		    jv_array_length(jv_copy(errs)) > 0) {
			const char *m = shopgql_first_message(errs);

			/* One bulk query at a time (before 2026-01): wait. */
			if (strstr(m, "already in progress") != NULL &&
			    waits++ < 600) {
				jv_free(errs);
				jv_free(op);
				http_sleep_ms(poll_ms);
				if ((rc = gql("CurrentBulkOperation",
					      Q_BULK_POLL, jv_object(),
					      &data)) != 0) {
					free(inner);
					return rc;
				}
				jv_free(data);
				continue;
			}
			rc = msg_fail(EX_PROTOCOL,
				      "the bulk operation was refused: %s", m);
			jv_free(errs);
			jv_free(op);
			free(inner);
			return rc;
		}
		jv_free(errs);
		jv_free(op);
		break;
	}
	free(inner);
	for (;;) {
		jv cur;

		http_sleep_ms(poll_ms);
		if ((rc = gql("CurrentBulkOperation", Q_BULK_POLL, jv_object(),
			      &data)) != 0)
			return rc;
		cur = json_get(data, "currentBulkOperation");
		jv_free(data);
		status = json_get(cur, "status");
		if (jv_get_kind(status) != JV_KIND_STRING) {
			jv_free(status);
			jv_free(cur);
			return msg_fail(EX_PROTOCOL,
					"the bulk operation has no status");
		}
		if (strcmp(jv_string_value(status), "CREATED") == 0 ||
		    strcmp(jv_string_value(status), "RUNNING") == 0) {
			jv_free(status);
			jv_free(cur);
			continue;
		}
		if (strcmp(jv_string_value(status), "COMPLETED") != 0) {
			const char *code = json_str(cur, "errorCode");

			rc = msg_fail(EX_TEMPFAIL,
				      "the bulk operation ended %s (%s)",
				      jv_string_value(status),
				      code ? code : "no error code");
			jv_free(status);
			jv_free(cur);
			return rc;
		}
		jv_free(status);
		data = cur;
		break;
	}
	url = json_str(data, "url");
	if (url == NULL) {
		/* A result of no objects has no file. */
		jv_free(data);
		return 0;
	}
	if ((f = tmpfile()) == NULL) {
		jv_free(data);
		return msg_fail(EX_IOERR, "cannot create a temporary file:");
	}
	rc = http_download_retrying(&http, url, f, &res);
	jv_free(data);
	if (rc != 0) {
		fclose(f);
		return msg_fail(rc, "bulk result: %s", http.err);
	}
	if (res.status != 200) {
		rc = msg_fail(EX_PROTOCOL, "bulk result: HTTP %ld", res.status);
		http_response_release(&res);
		fclose(f);
		return rc;
	}
	http_response_release(&res);
	rc = bulk_assemble(f);
	fclose(f);
	return rc;
}

/* --- the run ------------------------------------------------------------ */

static const char *const all_resources[] = {
    "orders",  "products", "customers", "inventory",
    "payouts", "balance",  "disputes",
};
#define NRES (sizeof(all_resources) / sizeof(all_resources[0]))

static int
run_resource(const char *res, const struct window *w)
{
	if (strcmp(res, "orders") == 0) {
		if (bulk)
			return bulk_orders(w);
		return paginate("orders", "after", "Orders", Q_ORDERS,
				nested_vars(window_vars("updated_at", w)),
				"orders", NULL, "shopify.order",
				complete_order);
	}
	if (strcmp(res, "products") == 0)
		return paginate("products", "after", "Products", Q_PRODUCTS,
				jv_object_set(window_vars("updated_at", w),
					      jv_string("v"), jv_number(20)),
				"products", NULL, "shopify.product",
				complete_product);
	if (strcmp(res, "customers") == 0)
		return paginate("customers", "after", "Customers", Q_CUSTOMERS,
				window_vars("updated_at", w), "customers", NULL,
				"shopify.customer", NULL);
	if (strcmp(res, "inventory") == 0)
		return paginate_inventory();
	if (strcmp(res, "payouts") == 0)
		return paginate("payouts", "after", "Payouts", Q_PAYOUTS,
				window_vars("issued_at", w),
				"shopifyPaymentsAccount", "payouts",
				"shopify.payout", NULL);
	if (strcmp(res, "balance") == 0)
		return balance(w);
	return paginate("disputes", "after", "Disputes", Q_DISPUTES,
			window_vars("initiated_at", w),
			"shopifyPaymentsAccount", "disputes", "shopify.dispute",
			NULL);
}

static int
parse_resources(const char *list, int want[NRES])
{
	char buf[256], *tok, *save;
	size_t i;

	if (strlen(list) >= sizeof(buf))
		return -1;
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < NRES; i++)
			if (strcmp(tok, all_resources[i]) == 0)
				break;
		if (i == NRES) {
			msg_warn("--resources: '%s' is not one of orders, "
				 "products, customers, inventory, payouts, "
				 "balance, disputes",
				 tok);
			return -1;
		}
		want[i] = 1;
	}
	return 0;
}

static int
probe(void)
{
	jv data, s;
	const char *cur;
	int rc;

	if ((rc = gql("ShopProbe", Q_PROBE, jv_object(), &data)) != 0)
		return rc;
	s = json_get(data, "shop");
	cur = json_str(s, "currencyCode");
	if (cur == NULL) {
		rc = msg_fail(EX_PROTOCOL, "the shop has no currencyCode");
	} else if (shop_currency != NULL && strcmp(shop_currency, cur) != 0) {
		rc = msg_fail(EX_CONFIG,
			      "shopify.currency is '%s' but the shop's "
			      "currency is '%s'",
			      shop_currency, cur);
	} else if (shop_currency == NULL) {
		static char from_shop[8];

		if (currency_exponent(cur) < 0)
			rc = msg_fail(EX_PROTOCOL,
				      "the shop's currency '%s' is not an "
				      "ISO 4217 code",
				      cur);
		snprintf(from_shop, sizeof(from_shop), "%s", cur);
		shop_currency = from_shop;
	}
	jv_free(s);
	jv_free(data);
	return rc;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: shopify-extract --config FILE [--since T] [--until T] "
		"[--resources LIST]\n"
		"                       [--state FILE] [--overlap DURATION] "
		"[--bulk] [--output FILE]\n"
		"                       [--endpoint URL] [--cacert FILE] "
		"[--timeout SECONDS]\n"
		"                       [--retries N] [--backoff MS] "
		"[--stats FILE] [--verbose]\n"
		"       shopify-extract --help | --version\n"
		"Resources: orders,products,customers,inventory,payouts,"
		"balance,disputes (default all).\n"
		"Token from SHOPIFY_ACCESS_TOKEN or the config's "
		"shopify.token_file.\n"
		"Exit: 0 ok, 64 usage, 66 no config, 69 Shopify unavailable, "
		"70 internal error,\n"
		"      74 I/O error, 75 temporary failure (rerun), 76 "
		"unexpected answer,\n"
		"      77 token refused or readable by others, 78 "
		"configuration error.\n");
}

/*
 * main: read the config and the state, find the window, check the token
 * and the shop, then extract each resource in turn, checkpointing as
 * pages are written, and move its watermark once it is complete.
 */
int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"since", required_argument, NULL, 'S'},
	    {"until", required_argument, NULL, 'U'},
	    {"resources", required_argument, NULL, 'r'},
	    {"state", required_argument, NULL, 's'},
	    {"overlap", required_argument, NULL, 'O'},
	    {"bulk", no_argument, NULL, 'b'},
	    {"output", required_argument, NULL, 'o'},
	    {"endpoint", required_argument, NULL, 'e'},
	    {"cacert", required_argument, NULL, 'C'},
	    {"timeout", required_argument, NULL, 't'},
	    {"retries", required_argument, NULL, 'R'},
	    {"backoff", required_argument, NULL, 'B'},
	    {"poll", required_argument, NULL, 'P'},
	    {"stats", required_argument, NULL, 'T'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_path = NULL, *since_arg = NULL, *until_arg = NULL;
	const char *resources = NULL, *endpoint_arg = NULL, *cacert = NULL;
	const char *stats = NULL, *domain, *why;
	long overlap = 3600, timeout_s = 60, retries = 6, backoff = 1000;
	int want[NRES] = {0}, ch, rc = 0, status = 0, resumed = 0;
	char token_file[4096], header[4200], now_text[UTC_TEXT_MAX];
	char *token = NULL;
	size_t token_len, i;
	struct config cf;
	time_t now = time(NULL);

	msg_init("shopify-extract");
	if ((Q_ORDERS = join(orders_parts)) == NULL ||
	    (BULK_ORDERS_FMT = join(bulk_orders_parts)) == NULL)
		return msg_fail(EX_OSERR, "out of memory");
	while ((ch = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'S':
		case 'U': {
			time_t t;

			if (utc_to_time(optarg, &t) < 0) {
				msg_warn("--%s: '%s' is not a timestamp with "
					 "an offset",
					 ch == 'S' ? "since" : "until", optarg);
				return EX_USAGE;
			}
			if (ch == 'S')
				since_arg = optarg;
			else
				until_arg = optarg;
			break;
		}
		case 'r':
			resources = optarg;
			if (parse_resources(optarg, want) < 0)
				return EX_USAGE;
			break;
		case 's':
			state_path = optarg;
			break;
		case 'O':
			if ((overlap = utc_duration(optarg)) < 0) {
				msg_warn("--overlap: '%s' is not a duration "
					 "such as 90s, 30m, 1h",
					 optarg);
				return EX_USAGE;
			}
			break;
		case 'b':
			bulk = 1;
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'e':
			endpoint_arg = optarg;
			break;
		case 'C':
			cacert = optarg;
			break;
		case 't':
			if ((timeout_s =
				 arg_number("--timeout", optarg, 1, 3600)) < 0)
				return EX_USAGE;
			break;
		case 'R':
			if ((retries =
				 arg_number("--retries", optarg, 1, 100)) < 0)
				return EX_USAGE;
			break;
		case 'B':
			if ((backoff =
				 arg_number("--backoff", optarg, 1, 60000)) < 0)
				return EX_USAGE;
			break;
		case 'P':
			if ((poll_ms =
				 arg_number("--poll", optarg, 1, 600000)) < 0)
				return EX_USAGE;
			break;
		case 'T':
			stats = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("shopify-extract (tillroll) %s\n",
			       TILLROLL_VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		msg_warn("unexpected operand '%s'", argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	if (config_path == NULL) {
		msg_warn("--config is required");
		usage(stderr);
		return EX_USAGE;
	}
	if (resources == NULL)
		for (i = 0; i < NRES; i++)
			want[i] = 1;

	if ((rc = config_load(&cf, config_path)) != 0) {
		msg_warn("%s", cf.err);
		config_release(&cf);
		return rc;
	}
	shop = config_str(&cf, "shop");
	api_version = config_str(&cf, "shopify.api_version");
	domain = config_str(&cf, "shopify.domain");
	shop_currency = config_str(&cf, "shopify.currency");
	if (endpoint_arg == NULL)
		endpoint_arg = config_str(&cf, "shopify.endpoint");
	if (shop == NULL || api_version == NULL ||
	    (domain == NULL && endpoint_arg == NULL)) {
		rc = msg_fail(EX_CONFIG, "'%s' lacks %s", config_path,
			      shop == NULL	    ? "'shop'"
			      : api_version == NULL ? "'shopify.api_version'"
						    : "'shopify.domain'");
		config_release(&cf);
		return rc;
	}
	if (shop_currency != NULL && currency_exponent(shop_currency) < 0) {
		rc = msg_fail(EX_CONFIG,
			      "shopify.currency '%s' is not an ISO 4217 code",
			      shop_currency);
		config_release(&cf);
		return rc;
	}
	if (endpoint_arg != NULL)
		snprintf(endpoint, sizeof(endpoint),
			 "%s/admin/api/%s/graphql.json", endpoint_arg,
			 api_version);
	else
		snprintf(endpoint, sizeof(endpoint),
			 "https://%s/admin/api/%s/graphql.json", domain,
			 api_version);

	/* The token: never from argv, never printed. */
	if (getenv("SHOPIFY_ACCESS_TOKEN") != NULL &&
	    *getenv("SHOPIFY_ACCESS_TOKEN") != '\0')
		rc = secret_load("SHOPIFY_ACCESS_TOKEN", NULL, &token,
				 &token_len, &status, &why);
	else if ((rc = config_file(&cf, "shopify.token_file", token_file,
				   sizeof(token_file))) == 0)
		rc = secret_load("SHOPIFY_ACCESS_TOKEN", token_file, &token,
				 &token_len, &status, &why);
	else if (rc > 0) {
		status = EX_CONFIG;
		why = "no token: set SHOPIFY_ACCESS_TOKEN or "
		      "shopify.token_file";
		rc = -1;
	} else {
		status = EX_CONFIG;
		why = cf.err;
	}
	if (rc < 0) {
		rc = msg_fail(status, "%s", why);
		config_release(&cf);
		return rc;
	}
	if ((rc = state_load()) != 0) {
		memset(token, 0, token_len);
		free(token);
		jv_free(state);
		config_release(&cf);
		return rc;
	}

	if (http_global_init() < 0) {
		memset(token, 0, token_len);
		free(token);
		config_release(&cf);
		return msg_fail(EX_SOFTWARE, "cannot start libcurl");
	}
	if (http_client_init(&http, cacert) < 0) {
		memset(token, 0, token_len);
		free(token);
		config_release(&cf);
		return msg_fail(EX_SOFTWARE, "%s", http.err);
	}
	http.timeout_ms = timeout_s * 1000;
	http.connect_timeout_ms =
	    timeout_s * 1000 < 10000 ? timeout_s * 1000 : 10000;
	http.max_attempts = (int)retries;
	http.backoff_ms = backoff;
	if (http.backoff_max_ms < backoff)
		http.backoff_max_ms = backoff;
	snprintf(header, sizeof(header), "X-Shopify-Access-Token: %s", token);
	http_client_header(&http, header);
	memset(header, 0, sizeof(header));
	memset(token, 0, token_len);
	free(token);
	http_client_header(&http, "Content-Type: application/json");
	http_client_header(&http, "Accept: application/json");
	http_client_header(&http, "Expect:");
	shopgql_init(&shopify, &http, endpoint);
	if (verbose)
		shopify.log = log_line;

	/* An unfinished run is finished first, whatever the options say. */
	run = json_get(state, "run");
	if (jv_get_kind(run) == JV_KIND_OBJECT) {
		jv res = json_get(run, "resources");

		resumed = 1;
		memset(want, 0, sizeof(want));
		if (jv_get_kind(res) == JV_KIND_STRING)
			parse_resources(jv_string_value(res), want);
		jv_free(res);
		res = json_get(run, "bulk");
		bulk = jv_get_kind(res) == JV_KIND_TRUE;
		jv_free(res);
		if (verbose)
			msg_warn("resuming the unfinished run up to %s",
				 json_str(run, "until"));
	} else {
		char list[256] = "";

		jv_free(run);
		run = jv_object();
		utc_from_time(now, now_text);
		for (i = 0; i < NRES; i++)
			if (want[i])
				snprintf(list + strlen(list),
					 sizeof(list) - strlen(list), "%s%s",
					 list[0] ? "," : "", all_resources[i]);
		run =
		    jv_object_set(run, jv_string("resources"), jv_string(list));
		run = jv_object_set(run, jv_string("bulk"),
				    bulk ? jv_true() : jv_false());
		if (until_arg != NULL) {
			time_t t;
			char u[UTC_TEXT_MAX];

			utc_to_time(until_arg, &t);
			utc_from_time(t, u);
			run = jv_object_set(run, jv_string("until"),
					    jv_string(u));
		} else {
			run = jv_object_set(run, jv_string("until"),
					    jv_string(now_text));
		}
		/* Every window starts now, so a rerun cannot pick another. */
		for (i = 0; i < NRES; i++) {
			jv wms = json_get(state, "watermarks");
			jv wm = json_get(wms, all_resources[i]);
			time_t t;
			char s[UTC_TEXT_MAX];

			if (!want[i]) {
				jv_free(wm);
				jv_free(wms);
				continue;
			}
			if (since_arg != NULL) {
				utc_to_time(since_arg, &t);
			} else if (jv_get_kind(wm) == JV_KIND_STRING &&
				   utc_to_time(jv_string_value(wm), &t) == 0) {
				t -= overlap;
			} else if (strcmp(all_resources[i], "inventory") == 0 ||
				   strcmp(all_resources[i], "products") == 0 ||
				   strcmp(all_resources[i], "customers") == 0) {
				t = 0; /* master data: all of it, once */
			} else {
				jv_free(wm);
				jv_free(wms);
				jv_free(run);
				http_client_release(&http);
				http_global_cleanup();
				config_release(&cf);
				return msg_fail(EX_USAGE,
						"no --since and no watermark "
						"for '%s' in the state",
						all_resources[i]);
			}
			jv_free(wm);
			jv_free(wms);
			utc_from_time(t, s);
			set_progress(all_resources[i], "since", jv_string(s));
		}
	}

	/* --output: a resumed run continues the file where it was sure. */
	if (out_path != NULL) {
		jv size = json_get(run, "output_size");
		int fd = open(out_path, O_WRONLY | O_CREAT, 0644);
		off_t keep = resumed && jv_get_kind(size) == JV_KIND_NUMBER
				 ? (off_t)jv_number_value(size)
				 : 0;

		jv_free(size);
		if (fd < 0 || ftruncate(fd, keep) != 0 ||
		    lseek(fd, keep, SEEK_SET) < 0 ||
		    (out = fdopen(fd, "w")) == NULL) {
			rc = msg_fail(EX_IOERR, "cannot write '%s':", out_path);
			if (fd >= 0)
				close(fd);
			goto done;
		}
	} else {
		out = stdout;
	}
	if ((rc = stage_init(&st, "shopify-extract", NULL, stats)) != 0)
		goto done;
	if ((rc = checkpoint()) != 0)
		goto finish;
	if ((rc = probe()) != 0)
		goto finish;
	for (i = 0; i < NRES && rc == 0; i++) {
		struct window w;
		jv since;

		jv done = progress(all_resources[i], "done");

		if (!want[i] || jv_get_kind(done) == JV_KIND_TRUE) {
			jv_free(done);
			continue;
		}
		jv_free(done);
		since = progress(all_resources[i], "since");
		snprintf(w.since, sizeof(w.since), "%s",
			 jv_get_kind(since) == JV_KIND_STRING
			     ? jv_string_value(since)
			     : "1970-01-01T00:00:00Z");
		jv_free(since);
		snprintf(w.until, sizeof(w.until), "%s",
			 json_str(run, "until"));
		if (verbose)
			msg_warn("%s: %s to %s", all_resources[i], w.since,
				 w.until);
		if ((rc = run_resource(all_resources[i], &w)) != 0)
			break;
		/* Complete: the watermark moves, after the output. */
		set_progress(all_resources[i], "done", jv_true());
		{
			jv wms = json_get(state, "watermarks");

			if (jv_get_kind(wms) != JV_KIND_OBJECT) {
				jv_free(wms);
				wms = jv_object();
			}
			wms = jv_object_set(wms, jv_string(all_resources[i]),
					    jv_string(w.until));
			state =
			    jv_object_set(state, jv_string("watermarks"), wms);
		}
		rc = checkpoint();
	}
	if (rc == 0) {
		state =
		    jv_object_set(state, jv_string("shop"), jv_string(shop));
		state = jv_object_delete(state, jv_string("run"));
		if (fflush(out) != 0 || ferror(out))
			rc = msg_fail(EX_IOERR, "write error on %s:",
				      out_path ? out_path : "standard output");
		else if (out_path != NULL && fsync(fileno(out)) != 0)
			rc = msg_fail(EX_IOERR, "cannot sync '%s':", out_path);
		else
			rc = state_save();
	}
finish:
	if (verbose)
		msg_warn("%lu queries, %lu throttled, %lu retries, %lu ms "
			 "waited",
			 shopify.queries, shopify.throttles, http.retries,
			 shopify.waited_ms);
	rc = stage_finish(&st, rc);
	if (fclose(out) != 0 && rc == 0)
		rc = msg_fail(EX_IOERR, "write error on %s:",
			      out_path ? out_path : "standard output");
done:
	for (i = 0; i < seen.cap; i++)
		free(seen.v[i]);
	free(seen.v);
	jv_free(run);
	jv_free(state);
	http_client_release(&http);
	http_global_cleanup();
	config_release(&cf);
	free(Q_ORDERS);
	free(BULK_ORDERS_FMT);
	return rc;
}
