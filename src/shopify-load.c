/* See LICENSE file for copyright and license details. */
/*
 * shopify-load: the way back from Odoo to Shopify.  Reads canonical
 * fulfillment and inventory records (normalize(1) makes them from
 * odoo-extract(1)'s envelopes) and makes Shopify show the same: each
 * shipment a fulfillment on the order's fulfillment orders with its
 * tracking, each stock figure the available quantity of its inventory
 * item at its location.  Talks to the GraphQL Admin API with the
 * extractor's throttling, retries and token handling (shopgql.h).
 *
 * It reads the current state before it writes and writes only the
 * differences, so a rerun sends no mutation.  A mutation Shopify refuses
 * with userErrors rejects its record with Shopify's words while the
 * others are applied.  Writes one shopify_loaded record per input
 * record, or with --dry-run the mutations it would send, without
 * connecting.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <jv.h>

#include "config.h"
#include "http.h"
#include "json.h"
#include "msg.h"
#include "secret.h"
#include "shopgql.h"
#include "stage.h"

#define SCHEMA_VERSION 1

/*
 * What a fulfillment needs to know of its order: the fulfillment orders'
 * lines (one location each; 5 orders of 20 lines keep the cost near 250
 * points) and the fulfillments made so far with their tracking numbers.
 */
static const char Q_ORDER_STATE[] =
    "query OrderFulfillmentState($id: ID!) { order(id: $id) { id "
    "fulfillmentOrders(first: 5) { nodes { id status lineItems(first: 20) "
    "{ nodes { id remainingQuantity lineItem { sku } } pageInfo "
    "{ hasNextPage } } } pageInfo { hasNextPage } } fulfillments(first: 10) "
    "{ id status trackingInfo(first: 3) { company number url } } } }";
static const char M_FULFILL[] =
    "mutation FulfillmentCreate($fulfillment: FulfillmentInput!) { "
    "fulfillmentCreate(fulfillment: $fulfillment) { fulfillment { id status "
    "} userErrors { field message } } }";
static const char Q_ITEM_LEVELS[] =
    "query InventoryItemLevels($id: ID!) { inventoryItem(id: $id) { id "
    "inventoryLevels(first: 50) { nodes { location { id } "
    "quantities(names: [\"available\"]) { name quantity } } pageInfo "
    "{ hasNextPage } } } }";
static const char Q_ITEM_BY_SKU[] =
    "query InventoryItemBySku($query: String!) { inventoryItems(first: 2, "
    "query: $query) { nodes { id sku } } }";
static const char Q_VARIANT_ITEM[] =
    "query VariantInventoryItem($id: ID!) { productVariant(id: $id) { id "
    "inventoryItem { id } } }";
static const char M_SET_QUANTITIES[] =
    "mutation InventorySetQuantities($input: InventorySetQuantitiesInput!) "
    "{ inventorySetQuantities(input: $input) { inventoryAdjustmentGroup "
    "{ id } userErrors { code field message } } }";

static struct stage st;
static struct http_client http;
static struct shopgql gql;
static const char *shop = "";
static char endpoint[1024];
static int dry_run, verbose;
static int fatal; /* a failure that stops the talking, for the rest */
static jv levels; /* item id -> {location id -> available or null} */

/* The input record being loaded, for rejects and results. */
struct rec {
	jv v;		  /* the record (owned) */
	const char *line; /* as read, borrowed for the call */
	size_t len;	  /* its length */
	const char *file; /* input name */
	unsigned long lineno;
	const char *kind; /* borrowed from v */
	const char *key;  /* borrowed from v, or "" */
};

static void reject(struct rec *r, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
reject(struct rec *r, const char *reason, const char *fmt, ...)
{
	char detail[800];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	stage_reject(&st, r->file, r->lineno, r->line, r->len, reason, detail);
}

static int
emit(jv out)
{
	counters_add(&st.out_kind, json_str(out, "kind"));
	st.out++;
	return json_emit(stdout, out);
}

/* The shopify_loaded result of r; shopify (consumed) holds the ids. */
static int
result(struct rec *r, const char *action, const char *reason, jv shopify)
{
	jv out = jv_object();
	char key[600];

	snprintf(key, sizeof(key), "%s/shopify_loaded/%s", shop, r->key);
	out = json_set_str(out, "kind", "shopify_loaded");
	out = json_set_str(out, "key", key);
	out = json_set_str(out, "shop", shop);
	out = jv_object_set(out, jv_string("v"), jv_number(SCHEMA_VERSION));
	out = json_set_str(out, "record_key", r->key);
	out = json_set_str(out, "record_kind", r->kind);
	out = json_set_str(out, "action", action);
	out = jv_object_set(out, jv_string("reason"),
			    reason ? jv_string(reason) : jv_null());
	out = jv_object_set(out, jv_string("shopify"), shopify);
	return emit(out);
}

/* --dry-run: the mutation r would need, ids Shopify alone knows as "@". */
static int
show_mutation(struct rec *r, const char *op, const char *doc, jv vars)
{
	jv out = jv_object();

	out = json_set_str(out, "kind", "shopify_mutation");
	out = json_set_str(out, "operation", op);
	out = json_set_str(out, "query", doc);
	out = json_set_str(out, "record_key", r->key);
	out = json_set_str(out, "shop", shop);
	out = jv_object_set(out, jv_string("variables"), vars);
	return emit(out);
}

static jv
gid(const char *type, const char *id)
{
	return jv_string_fmt("gid://shopify/%s/%s", type, id);
}

/* The number at the end of a gid (borrowed), as a string (owned). */
static jv
gid_number(const char *g)
{
	char buf[64];
	const char *why;
	jv s = jv_string(g ? g : "");

	if (g == NULL || json_id(s, buf, sizeof(buf), &why) < 0) {
		jv_free(s);
		return jv_null();
	}
	jv_free(s);
	return jv_string(buf);
}

/* An integer member of obj (borrowed) within [min, max]: 0, or -1. */
static int
int_member(jv obj, const char *name, long min, long max, long *n)
{
	jv v = json_get(obj, name);
	int ok = jv_get_kind(v) == JV_KIND_NUMBER && jv_is_integer(jv_copy(v));

	if (ok) {
		long long x = (long long)jv_number_value(v);

		ok = x >= min && x <= max;
		*n = (long)x;
	}
	jv_free(v);
	return ok ? 0 : -1;
}

/* An id member of obj (borrowed) into buf: 0, or -1 when absent or bad. */
static int
id_member(jv obj, const char *name, char *buf, size_t n)
{
	jv v = json_get(obj, name);
	const char *why;
	int rc = -1;

	if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL)
		rc = json_id(v, buf, n, &why);
	jv_free(v);
	return rc;
}

/* Shopify's userErrors (borrowed) as one sentence in buf; 0 when none. */
static int
user_errors(jv payload, char *buf, size_t n)
{
	jv errs = json_get(payload, "userErrors");
	size_t used = 0;
	int count = 0;

	buf[0] = '\0';
	if (jv_get_kind(errs) == JV_KIND_ARRAY) {
		jv_array_foreach(errs, i, e)
		{
			const char *m = json_str(e, "message");

			if (used < n)
				used += (size_t)snprintf(
				    buf + used, n - used, "%s%s",
				    count ? "; " : "", m ? m : "no message");
			count++;
			jv_free(e);
		}
	}
	jv_free(errs);
	return count;
}

/* Send a query; a failure stops the run's talking (fatal) and rejects. */
static int
ask(struct rec *r, const char *op, const char *doc, jv vars, jv *data)
{
	int rc = shopgql_query(&gql, op, doc, vars, data);

	if (rc != 0) {
		msg_warn("%s", gql.err);
		fatal = rc;
		reject(r, "shopify_failed", "%s", gql.err);
	}
	return rc;
}

/* --- fulfillments ------------------------------------------------------ */

/*
 * The fulfillment order lines of order (borrowed) that carry sku, in the
 * order Shopify lists them, as [{fo, fo_open, id, remaining}] (owned).
 */
static jv
lines_for_sku(jv order, const char *sku)
{
	jv fos = json_get(order, "fulfillmentOrders"), nodes, out = jv_array();

	nodes = json_get(fos, "nodes");
	if (jv_get_kind(nodes) == JV_KIND_ARRAY) {
		jv_array_foreach(nodes, i, fo)
		{
			const char *status = json_str(fo, "status");
			int open = status != NULL &&
				   (strcmp(status, "OPEN") == 0 ||
				    strcmp(status, "IN_PROGRESS") == 0);
			jv li = json_get(fo, "lineItems");
			jv lin = json_get(li, "nodes");

			if (jv_get_kind(lin) == JV_KIND_ARRAY) {
				jv_array_foreach(lin, j, l)
				{
					jv item = json_get(l, "lineItem");
					const char *s = json_str(item, "sku");
					long rem = 0;

					int_member(l, "remainingQuantity", 0,
						   1000000000, &rem);
					if (s != NULL && strcmp(s, sku) == 0) {
						jv e = jv_object();

						e = json_set_str(
						    e, "fo",
						    json_str(fo, "id"));
						e = json_set_str(
						    e, "id", json_str(l, "id"));
						e = jv_object_set(
						    e, jv_string("remaining"),
						    jv_number(open ? rem : 0));
						out = jv_array_append(out, e);
					}
					jv_free(item);
					jv_free(l);
				}
			}
			jv_free(lin);
			jv_free(li);
			jv_free(fo);
		}
	}
	jv_free(nodes);
	jv_free(fos);
	return out;
}

/* 1 when a page of order's (borrowed) fulfillment orders was cut. */
static int
order_truncated(jv order)
{
	jv fos = json_get(order, "fulfillmentOrders"), nodes, pi;
	int cut;

	pi = json_get(fos, "pageInfo");
	cut = jv_get_kind(json_get(pi, "hasNextPage")) == JV_KIND_TRUE;
	jv_free(pi);
	nodes = json_get(fos, "nodes");
	if (jv_get_kind(nodes) == JV_KIND_ARRAY) {
		jv_array_foreach(nodes, i, fo)
		{
			jv li = json_get(fo, "lineItems");

			pi = json_get(li, "pageInfo");
			if (jv_get_kind(json_get(pi, "hasNextPage")) ==
			    JV_KIND_TRUE)
				cut = 1;
			jv_free(pi);
			jv_free(li);
			jv_free(fo);
		}
	}
	jv_free(nodes);
	jv_free(fos);
	return cut;
}

/* Add quantity of line id to fulfillment order fo in byfo (consumed). */
static jv
allocate(jv byfo, const char *fo, const char *id, long quantity)
{
	jv list = jv_array();
	int n = jv_array_length(jv_copy(byfo)), i, found = -1;

	for (i = 0; i < n && found < 0; i++) {
		jv e = jv_array_get(jv_copy(byfo), i);

		if (strcmp(json_str(e, "fulfillmentOrderId"), fo) == 0)
			found = i;
		jv_free(e);
	}
	if (found < 0) {
		jv e = json_set_str(jv_object(), "fulfillmentOrderId", fo);

		e = jv_object_set(e, jv_string("fulfillmentOrderLineItems"),
				  jv_array());
		byfo = jv_array_append(byfo, e);
		found = n;
	}
	{
		jv e = jv_array_get(jv_copy(byfo), found);
		jv l = json_set_str(jv_object(), "id", id);

		jv_free(list);
		l = jv_object_set(l, jv_string("quantity"),
				  jv_number((double)quantity));
		list = json_get(e, "fulfillmentOrderLineItems");
		list = jv_array_append(list, l);
		e = jv_object_set(e, jv_string("fulfillmentOrderLineItems"),
				  list);
		byfo = jv_array_set(byfo, found, e);
	}
	return byfo;
}

/* The trackingInfo input of a record's tracking (borrowed), or null. */
static jv
tracking_input(jv tracking)
{
	static const char *const fields[] = {"company", "number", "url"};
	jv t = jv_object();
	size_t i;
	int any = 0;

	for (i = 0; i < 3; i++) {
		const char *s = json_str(tracking, fields[i]);

		if (s != NULL) {
			t = json_set_str(t, fields[i], s);
			any = 1;
		}
	}
	if (!any) {
		jv_free(t);
		return jv_null();
	}
	return t;
}

/* The fulfillment of order (borrowed) with tracking number, or NULL. */
static const char *
fulfilled_with(jv order, const char *number, jv *keep)
{
	jv fs = json_get(order, "fulfillments");
	const char *found = NULL;

	*keep = jv_null();
	if (number == NULL || jv_get_kind(fs) != JV_KIND_ARRAY) {
		jv_free(fs);
		return NULL;
	}
	jv_array_foreach(fs, i, f)
	{
		const char *status = json_str(f, "status");
		jv ti = json_get(f, "trackingInfo");

		if (found == NULL && jv_get_kind(ti) == JV_KIND_ARRAY &&
		    (status == NULL || strcmp(status, "CANCELLED") != 0)) {
			jv_array_foreach(ti, j, t)
			{
				const char *n = json_str(t, "number");

				if (found == NULL && n != NULL &&
				    strcmp(n, number) == 0) {
					jv_free(*keep);
					*keep = jv_copy(f);
					found = json_str(*keep, "id");
				}
				jv_free(t);
			}
		}
		jv_free(ti);
		jv_free(f);
	}
	jv_free(fs);
	return found;
}

static int
fulfill(struct rec *r)
{
	char order_id[64], detail[600];
	jv lines = json_get(r->v, "lines"), tracking, data, order, byfo, vars;
	jv ids, payload, fulfillment, keep;
	const char *number, *fid;
	long total_remaining = 0;
	int rc = 0, n, i;

	tracking = json_get(r->v, "tracking");
	number = json_str(tracking, "number");
	if (id_member(r->v, "order_id", order_id, sizeof(order_id)) < 0) {
		reject(r, "missing_field",
		       "fulfillment '%s': 'order_id' is "
		       "missing or not an id",
		       r->key);
		goto out;
	}
	if (jv_get_kind(lines) != JV_KIND_ARRAY ||
	    (n = jv_array_length(jv_copy(lines))) == 0) {
		reject(r, "missing_field",
		       "fulfillment '%s': 'lines' is missing or empty", r->key);
		goto out;
	}
	for (i = 0; i < n; i++) {
		jv l = jv_array_get(jv_copy(lines), i);
		long q;
		int bad = json_str(l, "sku") == NULL ||
			  *json_str(l, "sku") == '\0' ||
			  int_member(l, "quantity", 1, 1000000, &q) < 0;

		jv_free(l);
		if (bad) {
			reject(r, "bad_line",
			       "fulfillment '%s': line %d needs a 'sku' and a "
			       "positive integer 'quantity'",
			       r->key, i + 1);
			goto out;
		}
	}

	if (dry_run) {
		byfo = jv_array();
		for (i = 0; i < n; i++) {
			jv l = jv_array_get(jv_copy(lines), i);
			char fo[100], li[300];
			long q = 0;

			int_member(l, "quantity", 1, 1000000, &q);
			snprintf(fo, sizeof(fo), "@fulfillment_order_of:%s",
				 order_id);
			snprintf(li, sizeof(li), "@line_of_sku:%s",
				 json_str(l, "sku"));
			byfo = allocate(byfo, fo, li, q);
			jv_free(l);
		}
		goto mutate;
	}

	vars =
	    jv_object_set(jv_object(), jv_string("id"), gid("Order", order_id));
	if (ask(r, "OrderFulfillmentState", Q_ORDER_STATE, vars, &data) != 0)
		goto out;
	order = json_get(data, "order");
	jv_free(data);
	if (jv_get_kind(order) != JV_KIND_OBJECT) {
		reject(r, "unknown_order",
		       "fulfillment '%s': order %s is not in Shopify", r->key,
		       order_id);
		jv_free(order);
		goto out;
	}
	if (order_truncated(order)) {
		reject(r, "order_too_large",
		       "fulfillment '%s': order %s has more than 5 fulfillment "
		       "orders or 20 lines on one, more than this program "
		       "reads",
		       r->key, order_id);
		jv_free(order);
		goto out;
	}
	if ((fid = fulfilled_with(order, number, &keep)) != NULL) {
		ids = jv_object_set(jv_object(), jv_string("order_id"),
				    jv_string(order_id));
		ids = jv_object_set(ids, jv_string("fulfillment_id"),
				    gid_number(fid));
		rc = result(r, "unchanged", "fulfilled_with_tracking", ids);
		jv_free(keep);
		jv_free(order);
		goto out;
	}
	jv_free(keep);

	/*
	 * Each line goes to the fulfillment order lines of its SKU, as much
	 * as each has left; what is left over is asked of the first of
	 * them all the same, for Shopify to refuse in its own words.
	 */
	byfo = jv_array();
	for (i = 0; i < n && rc == 0; i++) {
		jv l = jv_array_get(jv_copy(lines), i);
		const char *sku = json_str(l, "sku");
		jv cand = lines_for_sku(order, sku);
		long want = 0;
		int m = jv_array_length(jv_copy(cand)), j;

		int_member(l, "quantity", 1, 1000000, &want);
		if (m == 0) {
			reject(r, "unmapped_sku",
			       "fulfillment '%s': SKU '%s' is not on a "
			       "fulfillment order of order %s",
			       r->key, sku, order_id);
			rc = -1;
		}
		for (j = 0; j < m && want > 0; j++) {
			jv c = jv_array_get(jv_copy(cand), j);
			long rem = 0, take;

			int_member(c, "remaining", 0, 1000000000, &rem);
			take = rem < want ? rem : want;
			total_remaining += rem;
			if (take > 0)
				byfo = allocate(byfo, json_str(c, "fo"),
						json_str(c, "id"), take);
			want -= take;
			jv_free(c);
		}
		if (rc == 0 && want > 0) {
			jv c = jv_array_get(jv_copy(cand), 0);

			byfo = allocate(byfo, json_str(c, "fo"),
					json_str(c, "id"), want);
			jv_free(c);
		}
		jv_free(cand);
		jv_free(l);
	}
	jv_free(order);
	if (rc != 0) {
		jv_free(byfo);
		rc = 0;
		goto out;
	}
	if (total_remaining == 0) {
		/* Shipped already, by hand or without a tracking number. */
		jv_free(byfo);
		ids = jv_object_set(jv_object(), jv_string("order_id"),
				    jv_string(order_id));
		ids =
		    jv_object_set(ids, jv_string("fulfillment_id"), jv_null());
		rc = result(r, "unchanged", "nothing_left_to_fulfill", ids);
		goto out;
	}

mutate:
	fulfillment = jv_object_set(
	    jv_object(), jv_string("lineItemsByFulfillmentOrder"), byfo);
	fulfillment =
	    jv_object_set(fulfillment, jv_string("notifyCustomer"), jv_false());
	{
		jv t = tracking_input(tracking);

		if (jv_get_kind(t) == JV_KIND_OBJECT)
			fulfillment = jv_object_set(
			    fulfillment, jv_string("trackingInfo"), t);
		else
			jv_free(t);
	}
	vars =
	    jv_object_set(jv_object(), jv_string("fulfillment"), fulfillment);
	if (dry_run) {
		rc = show_mutation(r, "FulfillmentCreate", M_FULFILL, vars);
		goto out;
	}
	if (ask(r, "FulfillmentCreate", M_FULFILL, vars, &data) != 0)
		goto out;
	payload = json_get(data, "fulfillmentCreate");
	jv_free(data);
	if (user_errors(payload, detail, sizeof(detail)) > 0) {
		reject(r, "shopify_user_error",
		       "fulfillment '%s': Shopify refused it: %s", r->key,
		       detail);
	} else {
		jv f = json_get(payload, "fulfillment");

		ids = jv_object_set(jv_object(), jv_string("order_id"),
				    jv_string(order_id));
		ids = jv_object_set(ids, jv_string("fulfillment_id"),
				    gid_number(json_str(f, "id")));
		rc = result(r, "created", NULL, ids);
		jv_free(f);
	}
	jv_free(payload);
out:
	jv_free(tracking);
	jv_free(lines);
	return rc;
}

/* --- stock ------------------------------------------------------------- */

/*
 * The available quantities of item (numeric id) by location, from the
 * cache or from Shopify: 0 with *have set (owned: an object, or null when
 * Shopify has no such item), or a failure status (r rejected).
 */
static int
item_levels(struct rec *r, const char *item, jv *have)
{
	jv vars, data, it, conn, nodes, map;
	int rc;

	*have = json_get(levels, item);
	if (jv_is_valid(*have))
		return 0;
	vars = jv_object_set(jv_object(), jv_string("id"),
			     gid("InventoryItem", item));
	if ((rc = ask(r, "InventoryItemLevels", Q_ITEM_LEVELS, vars, &data)) !=
	    0)
		return rc;
	it = json_get(data, "inventoryItem");
	jv_free(data);
	if (jv_get_kind(it) != JV_KIND_OBJECT) {
		jv_free(it);
		*have = jv_null();
		levels = jv_object_set(levels, jv_string(item), jv_null());
		return 0;
	}
	conn = json_get(it, "inventoryLevels");
	nodes = json_get(conn, "nodes");
	map = jv_object();
	if (jv_get_kind(nodes) == JV_KIND_ARRAY) {
		jv_array_foreach(nodes, i, lv)
		{
			jv loc = json_get(lv, "location");
			jv qs = json_get(lv, "quantities");
			jv at = gid_number(json_str(loc, "id"));
			jv q = jv_null();

			if (jv_get_kind(qs) == JV_KIND_ARRAY) {
				jv_array_foreach(qs, j, e)
				{
					const char *nm = json_str(e, "name");

					if (nm != NULL &&
					    strcmp(nm, "available") == 0) {
						jv_free(q);
						q = json_get(e, "quantity");
					}
					jv_free(e);
				}
			}
			if (jv_get_kind(at) == JV_KIND_STRING)
				map = jv_object_set(map, at, q);
			else {
				jv_free(at);
				jv_free(q);
			}
			jv_free(qs);
			jv_free(loc);
			jv_free(lv);
		}
	}
	jv_free(nodes);
	jv_free(conn);
	jv_free(it);
	levels = jv_object_set(levels, jv_string(item), jv_copy(map));
	*have = map;
	return 0;
}

/* The item that has sku, into item: 0, 1 when none or many (rejected). */
static int
item_by_sku(struct rec *r, const char *sku, char *item, size_t n)
{
	jv vars, data, items, nodes;
	char q[300];
	int count, rc = 1;

	snprintf(q, sizeof(q), "sku:'%s'", sku);
	vars = json_set_str(jv_object(), "query", q);
	if (ask(r, "InventoryItemBySku", Q_ITEM_BY_SKU, vars, &data) != 0)
		return -1;
	items = json_get(data, "inventoryItems");
	nodes = json_get(items, "nodes");
	count = jv_get_kind(nodes) == JV_KIND_ARRAY
		    ? jv_array_length(jv_copy(nodes))
		    : 0;
	if (count == 1) {
		jv it = jv_array_get(jv_copy(nodes), 0);
		jv num = gid_number(json_str(it, "id"));

		if (jv_get_kind(num) == JV_KIND_STRING) {
			snprintf(item, n, "%s", jv_string_value(num));
			rc = 0;
		}
		jv_free(num);
		jv_free(it);
	}
	if (rc != 0)
		reject(r, count == 0 ? "unmapped_sku" : "ambiguous_sku",
		       "inventory '%s': %s Shopify inventory item has SKU '%s'",
		       r->key, count == 0 ? "no" : "more than one", sku);
	jv_free(nodes);
	jv_free(items);
	jv_free(data);
	return rc;
}

/* The inventory item of a variant, into item: 0, 1 when none (rejected). */
static int
item_of_variant(struct rec *r, const char *variant, char *item, size_t n)
{
	jv vars, data, v, it, num;
	int rc = 1;

	vars = jv_object_set(jv_object(), jv_string("id"),
			     gid("ProductVariant", variant));
	if (ask(r, "VariantInventoryItem", Q_VARIANT_ITEM, vars, &data) != 0)
		return -1;
	v = json_get(data, "productVariant");
	it = json_get(v, "inventoryItem");
	num = gid_number(json_str(it, "id"));
	if (jv_get_kind(num) == JV_KIND_STRING) {
		snprintf(item, n, "%s", jv_string_value(num));
		rc = 0;
	} else {
		reject(r, "unknown_variant",
		       "inventory '%s': variant %s is not in Shopify or has no "
		       "inventory item",
		       r->key, variant);
	}
	jv_free(num);
	jv_free(it);
	jv_free(v);
	jv_free(data);
	return rc;
}

static int
set_stock(struct rec *r)
{
	char item[64], location[64], variant[64], detail[600];
	const char *sku = json_str(r->v, "sku");
	jv have, now, q, input, vars, data, payload, ids;
	long available;
	int rc, existed;

	if (id_member(r->v, "location_id", location, sizeof(location)) < 0) {
		reject(r, "missing_field",
		       "inventory '%s': 'location_id' is missing or not an id",
		       r->key);
		return 0;
	}
	if (int_member(r->v, "available", -1000000000, 1000000000, &available) <
	    0) {
		reject(r, "missing_field",
		       "inventory '%s': 'available' is missing or not an "
		       "integer",
		       r->key);
		return 0;
	}
	/* The item's id, else the variant's (Odoo's records), else the SKU. */
	if (id_member(r->v, "inventory_item_id", item, sizeof(item)) == 0) {
		;
	} else if (id_member(r->v, "variant_id", variant, sizeof(variant)) ==
		   0) {
		if (dry_run)
			snprintf(item, sizeof(item), "@item_of_variant:%.40s",
				 variant);
		else if (item_of_variant(r, variant, item, sizeof(item)) != 0)
			return 0;
	} else {
		if (sku == NULL || *sku == '\0') {
			reject(r, "missing_field",
			       "inventory '%s': none of 'inventory_item_id', "
			       "'variant_id' and 'sku' is given",
			       r->key);
			return 0;
		}
		if (dry_run)
			snprintf(item, sizeof(item), "@item_of_sku:%.48s", sku);
		else if (item_by_sku(r, sku, item, sizeof(item)) != 0)
			return 0;
	}

	q = jv_object_set(jv_object(), jv_string("inventoryItemId"),
			  item[0] == '@' ? jv_string(item)
					 : gid("InventoryItem", item));
	q = jv_object_set(q, jv_string("locationId"),
			  gid("Location", location));
	q = jv_object_set(q, jv_string("quantity"),
			  jv_number((double)available));
	input = json_set_str(jv_object(), "name", "available");
	input = json_set_str(input, "reason", "correction");
	input =
	    jv_object_set(input, jv_string("ignoreCompareQuantity"), jv_true());
	input = jv_object_set(input, jv_string("quantities"),
			      jv_array_append(jv_array(), q));
	vars = jv_object_set(jv_object(), jv_string("input"), input);
	if (dry_run)
		return show_mutation(r, "InventorySetQuantities",
				     M_SET_QUANTITIES, vars);

	if (item_levels(r, item, &have) != 0) {
		jv_free(vars);
		return 0;
	}
	if (jv_get_kind(have) != JV_KIND_OBJECT) {
		reject(r, "unknown_inventory_item",
		       "inventory '%s': inventory item %s is not in Shopify",
		       r->key, item);
		jv_free(have);
		jv_free(vars);
		return 0;
	}
	now = json_get(have, location);
	existed = jv_is_valid(now);
	ids = json_set_str(jv_object(), "inventory_item_id", item);
	ids = json_set_str(ids, "location_id", location);
	if (jv_get_kind(now) == JV_KIND_NUMBER &&
	    jv_number_value(now) == (double)available) {
		jv_free(now);
		jv_free(have);
		jv_free(vars);
		ids = jv_object_set(ids, jv_string("adjustment_group_id"),
				    jv_null());
		return result(r, "unchanged", NULL, ids);
	}
	jv_free(now);
	jv_free(have);
	if (ask(r, "InventorySetQuantities", M_SET_QUANTITIES, vars, &data) !=
	    0) {
		jv_free(ids);
		return 0;
	}
	payload = json_get(data, "inventorySetQuantities");
	jv_free(data);
	if (user_errors(payload, detail, sizeof(detail)) > 0) {
		reject(r, "shopify_user_error",
		       "inventory '%s': Shopify refused it: %s", r->key,
		       detail);
		jv_free(ids);
		rc = 0;
	} else {
		jv g = json_get(payload, "inventoryAdjustmentGroup");
		jv m = json_get(levels, item);

		ids = jv_object_set(ids, jv_string("adjustment_group_id"),
				    gid_number(json_str(g, "id")));
		m = jv_object_set(m, jv_string(location),
				  jv_number((double)available));
		levels = jv_object_set(levels, jv_string(item), m);
		rc = result(r, existed ? "updated" : "created", NULL, ids);
		jv_free(g);
	}
	jv_free(payload);
	return rc;
}

/* --- the records ------------------------------------------------------- */

static int
process(struct stage *s, const char *line, size_t len, const char *file,
	unsigned long lineno)
{
	struct rec r = {0};
	int rc = 0;

	s->in++;
	r.line = line;
	r.len = len;
	r.file = file;
	r.lineno = lineno;
	r.v = jv_parse_sized(line, (int)len);
	if (!jv_is_valid(r.v) || jv_get_kind(r.v) != JV_KIND_OBJECT ||
	    json_str(r.v, "kind") == NULL) {
		counters_add(&s->in_kind, "(not a record)");
		reject(&r, "not_record",
		       "not a record: expected an object with a 'kind'");
		jv_free(r.v);
		return 0;
	}
	r.kind = json_str(r.v, "kind");
	r.key = json_str(r.v, "key") ? json_str(r.v, "key") : "";
	counters_add(&s->in_kind, r.kind);
	if (fatal != 0 && !dry_run &&
	    (strcmp(r.kind, "fulfillment") == 0 ||
	     strcmp(r.kind, "inventory") == 0)) {
		/* Shopify failed earlier: kept for the rerun, not sent. */
		reject(&r, "not_attempted",
		       "'%s' not sent: Shopify failed earlier in the run",
		       r.key);
	} else if (strcmp(r.kind, "fulfillment") == 0) {
		rc = fulfill(&r);
	} else if (strcmp(r.kind, "inventory") == 0) {
		rc = set_stock(&r);
	} else {
		rc = result(&r, "skipped", "not_loaded_to_shopify", jv_null());
	}
	jv_free(r.v);
	return rc < 0 ? -1 : 0;
}

static void
log_line(void *arg, const char *line)
{
	(void)arg;
	msg_warn("%s", line);
}

/* The token header on the client; the token itself never leaves here. */
static int
token_header(struct config *cf)
{
	char token_file[4096], header[4200];
	const char *why;
	char *token = NULL;
	size_t len = 0;
	int rc, status = 0;

	if (getenv("SHOPIFY_ACCESS_TOKEN") != NULL &&
	    *getenv("SHOPIFY_ACCESS_TOKEN") != '\0')
		rc = secret_load("SHOPIFY_ACCESS_TOKEN", NULL, &token, &len,
				 &status, &why);
	else if ((rc = config_file(cf, "shopify.token_file", token_file,
				   sizeof(token_file))) == 0)
		rc = secret_load("SHOPIFY_ACCESS_TOKEN", token_file, &token,
				 &len, &status, &why);
	else if (rc > 0) {
		status = EX_CONFIG;
		why = "no token: set SHOPIFY_ACCESS_TOKEN or "
		      "shopify.token_file";
		rc = -1;
	} else {
		status = EX_CONFIG;
		why = cf->err;
	}
	if (rc < 0)
		return msg_fail(status, "%s", why);
	snprintf(header, sizeof(header), "X-Shopify-Access-Token: %s", token);
	rc = http_client_header(&http, header);
	memset(header, 0, sizeof(header));
	memset(token, 0, len);
	free(token);
	return rc < 0 ? msg_fail(EX_OSERR, "out of memory") : 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: shopify-load --config FILE [--dry-run] [--cacert FILE] "
		"[--endpoint URL]\n"
		"                    [--retries N] [--backoff MS] "
		"[--rejects FILE] [--stats FILE]\n"
		"                    [--verbose] [FILE ...]\n"
		"       shopify-load --help | --version\n"
		"Canonical fulfillment and inventory records in (stdin or "
		"FILEs), one\n"
		"shopify_loaded result out per record; --dry-run prints the "
		"mutations.\n"
		"Token from SHOPIFY_ACCESS_TOKEN or the config's "
		"shopify.token_file.\n"
		"Exit: 0 ok, 64 usage, 65 records rejected, 66 cannot open "
		"input, 69 Shopify\n"
		"      unavailable, 74 I/O error, 75 temporary failure "
		"(rerun), 76 unexpected\n"
		"      answer, 77 token refused or readable by others, 78 "
		"configuration error.\n");
}

/*
 * main: read the config and the token, then each record in turn: read
 * what Shopify holds, send the one mutation that makes it hold what the
 * record says, or none when it does already.
 */
int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"cacert", required_argument, NULL, 'C'},
	    {"endpoint", required_argument, NULL, 'e'},
	    {"rejects", required_argument, NULL, 'r'},
	    {"stats", required_argument, NULL, 's'},
	    {"retries", required_argument, NULL, 'R'},
	    {"backoff", required_argument, NULL, 'B'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_path = NULL, *cacert = NULL, *endpoint_arg = NULL;
	const char *rejects = NULL, *stats = NULL, *api_version, *domain;
	struct config cf;
	long retries = 6, backoff = 1000;
	int ch, rc, status;

	msg_init("shopify-load");
	while ((ch = getopt_long(argc, argv, "hnv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'n':
			dry_run = 1;
			break;
		case 'C':
			cacert = optarg;
			break;
		case 'e':
			endpoint_arg = optarg;
			break;
		case 'r':
			rejects = optarg;
			break;
		case 's':
			stats = optarg;
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
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("shopify-load (tillroll) %s\n",
			       TILLROLL_VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (config_path == NULL) {
		msg_warn("--config is required");
		usage(stderr);
		return EX_USAGE;
	}
	if ((rc = config_load(&cf, config_path)) != 0) {
		msg_warn("%s", cf.err);
		config_release(&cf);
		return rc;
	}
	shop = config_str(&cf, "shop");
	api_version = config_str(&cf, "shopify.api_version");
	domain = config_str(&cf, "shopify.domain");
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
	if (endpoint_arg != NULL)
		snprintf(endpoint, sizeof(endpoint),
			 "%s/admin/api/%s/graphql.json", endpoint_arg,
			 api_version);
	else
		snprintf(endpoint, sizeof(endpoint),
			 "https://%s/admin/api/%s/graphql.json", domain,
			 api_version);

	/* A dry run connects to nothing, so it needs no token either. */
	if (!dry_run) {
		if (http_global_init() < 0) {
			config_release(&cf);
			return msg_fail(EX_SOFTWARE, "cannot start libcurl");
		}
		if (http_client_init(&http, cacert) < 0) {
			rc = msg_fail(EX_SOFTWARE, "%s", http.err);
			goto done;
		}
		http.max_attempts = (int)retries;
		http.backoff_ms = backoff;
		if (http.backoff_max_ms < backoff)
			http.backoff_max_ms = backoff;
		if ((rc = token_header(&cf)) != 0)
			goto done;
		http_client_header(&http, "Content-Type: application/json");
		http_client_header(&http, "Accept: application/json");
		http_client_header(&http, "Expect:");
		shopgql_init(&gql, &http, endpoint);
		if (verbose)
			gql.log = log_line;
	}
	levels = jv_object();
	if ((rc = stage_init(&st, "shopify-load", rejects, stats)) != 0)
		goto done;
	status = stage_read(&st, argc, argv, process);
	if (fatal != 0)
		status = exit_worst(status, fatal);
	if (verbose && !dry_run)
		msg_warn("%lu queries, %lu throttled, %lu retries, %lu ms "
			 "waited",
			 gql.queries, gql.throttles, http.retries,
			 gql.waited_ms);
	status = stage_flush_stdout(status);
	status = stage_finish(&st, status);
	rc = stage_close_stdout(status);
done:
	jv_free(levels);
	if (!dry_run) {
		http_client_release(&http);
		http_global_cleanup();
	}
	config_release(&cf);
	return rc;
}
