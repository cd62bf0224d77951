/* See LICENSE file for copyright and license details. */
/*
 * odoo-extract: read back from Odoo 16, 17 or 18 what the warehouse did
 * with the orders tillroll loaded, for the way back to Shopify.
 *
 * Two resources.  "pickings": the deliveries (stock.picking, outgoing,
 * done) finished inside the window, of sale orders that carry a tillroll
 * external id, each with its carrier, tracking reference and the moves
 * shipped (product, SKU, done quantity in the version's field name).
 * "stock": for every product that carries a tillroll external id (so
 * names a Shopify variant) and every configured Odoo location, the quants
 * under that location, from which normalize computes the quantity
 * available to sell.  Stock held by a product that names no variant is
 * reported and left out, never matched by guesswork.
 *
 * Writes raw envelopes (odoo.picking, odoo.stock) as NDJSON.  The window
 * of pickings starts at --since or at the state file's watermark less an
 * overlap, and the watermark moves only after the output is flushed.
 * Every call is a read, so every call is retried as http.h says.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jv.h>

#include "config.h"
#include "http.h"
#include "json.h"
#include "msg.h"
#include "secret.h"
#include "stage.h"
#include "statefile.h"
#include "utctime.h"

#define MODULE "tillroll"

enum { RES_PICKINGS = 1, RES_STOCK = 2 };

/* The connection, as odoo-load keeps it. */
struct odoo {
	struct http_client http;
	char url[1024];	     /* <odoo.url>/jsonrpc */
	const char *db;	     /* borrowed from the config */
	const char *user;    /* borrowed from the config */
	char *key;	     /* the API key or password (owned, wiped) */
	size_t keylen;	     /* its length */
	long uid;	     /* from login */
	int version;	     /* server_version_info[0] */
	char server[32];     /* server_version, for the envelopes */
	long rpc_id;	     /* JSON-RPC request id */
	jv ctx;		     /* context of every object call (owned) */
	unsigned long calls; /* calls made */
};

static struct odoo O;
static struct stage ST;
static struct config CF;
static const char *shop;
static char shop_name[128]; /* shop as it appears inside external ids */
static int verbose;
static const char *state_path;
static jv state; /* the state document (owned) */

/* --- JSON-RPC ----------------------------------------------------------- */

static void
log_line(void *arg, const char *line)
{
	(void)arg;
	if (verbose)
		msg_warn("%s", line);
}

/*
 * One JSON-RPC call (args consumed).  Every call here is a read and safe
 * to repeat.  Returns 0 with *result (owned; null when Odoo left it out),
 * or a sysexits status with the message printed.  The key is in the
 * request body only, which is wiped before it is freed.
 */
static int
rpc(const char *service, const char *method, jv args, jv *result)
{
	struct http_response res;
	jv req, params, body, err;
	char *text;
	size_t len;
	int rc;

	*result = jv_null();
	params = jv_object();
	params =
	    jv_object_set(params, jv_string("service"), jv_string(service));
	params = jv_object_set(params, jv_string("method"), jv_string(method));
	params = jv_object_set(params, jv_string("args"), args);
	req = jv_object();
	req = jv_object_set(req, jv_string("jsonrpc"), jv_string("2.0"));
	req = jv_object_set(req, jv_string("method"), jv_string("call"));
	req =
	    jv_object_set(req, jv_string("id"), jv_number((double)++O.rpc_id));
	req = jv_object_set(req, jv_string("params"), params);
	body = jv_dump_string(req, 0);
	text = (char *)jv_string_value(body);
	len = strlen(text);
	O.calls++;
	rc = http_post_retrying(&O.http, O.url, text, len, &res);
	memset(text, 0, len);
	jv_free(body);
	if (rc != 0)
		return msg_fail(rc, "%s: %s", O.url, O.http.err);
	if (res.status != 200) {
		http_response_release(&res);
		return msg_fail(EX_PROTOCOL,
				"%s: HTTP %ld, not a JSON-RPC "
				"answer",
				O.url, res.status);
	}
	body = jv_parse_sized(res.body, (int)res.len);
	http_response_release(&res);
	if (jv_get_kind(body) != JV_KIND_OBJECT) {
		jv_free(body);
		return msg_fail(EX_PROTOCOL,
				"%s: the answer is not a JSON-RPC object",
				O.url);
	}
	err = json_get(body, "error");
	if (jv_get_kind(err) == JV_KIND_OBJECT) {
		jv d = json_get(err, "data");
		const char *n = json_str(d, "name"),
			   *m = json_str(d, "message");
		char first[512];

		snprintf(first, sizeof(first), "%s",
			 m			    ? m
			 : json_str(err, "message") ? json_str(err, "message")
						    : "?");
		first[strcspn(first, "\n")] = '\0';
		rc = n && strcmp(n, "odoo.exceptions.AccessDenied") == 0
			 ? EX_NOPERM
			 : EX_PROTOCOL;
		msg_warn("odoo: %s %s: %s: %s", service, method,
			 n ? n : "odoo.exceptions.Unknown", first);
		jv_free(d);
		jv_free(err);
		jv_free(body);
		return rc;
	}
	jv_free(err);
	*result = json_get(body, "result");
	if (!jv_is_valid(*result)) {
		jv_free(*result);
		*result = jv_null(); /* Odoo leaves result out for None */
	}
	jv_free(body);
	return 0;
}

/* execute_kw(model, method, args, kwargs + the run's context): consumed. */
static int
call(const char *model, const char *method, jv args, jv kwargs, jv *result)
{
	jv a = jv_array();

	kwargs = jv_object_set(kwargs, jv_string("context"), jv_copy(O.ctx));
	a = jv_array_append(a, jv_string(O.db));
	a = jv_array_append(a, jv_number((double)O.uid));
	a = jv_array_append(a, jv_string(O.key));
	a = jv_array_append(a, jv_string(model));
	a = jv_array_append(a, jv_string(method));
	a = jv_array_append(a, args);
	a = jv_array_append(a, kwargs);
	return rpc("object", "execute_kw", a, result);
}

/*
 * search_read(domain (consumed), fields (a NULL-ended list)) ordered by
 * id.  Returns 0 with *rows an array (owned), or a status.
 */
static int
search_read(const char *model, jv domain, const char *const *fields, jv *rows)
{
	jv kw = jv_object(), f = jv_array();
	int rc;

	for (; *fields; fields++)
		f = jv_array_append(f, jv_string(*fields));
	kw = jv_object_set(kw, jv_string("fields"), f);
	kw = jv_object_set(kw, jv_string("order"), jv_string("id"));
	rc = call(model, "search_read", jv_array_append(jv_array(), domain), kw,
		  rows);
	if (rc == 0 && jv_get_kind(*rows) != JV_KIND_ARRAY) {
		jv_free(*rows);
		*rows = jv_array();
		return msg_fail(EX_PROTOCOL,
				"odoo: %s search_read gave no list", model);
	}
	return rc;
}

static jv
leaf(const char *field, const char *op, jv value)
{
	jv l = jv_array();

	l = jv_array_append(l, jv_string(field));
	l = jv_array_append(l, jv_string(op));
	return jv_array_append(l, value);
}

/* A domain of n leaves (consumed), joined by the implicit "and". */
static jv
domain(int n, ...)
{
	va_list ap;
	jv d = jv_array();

	va_start(ap, n);
	while (n-- > 0)
		d = jv_array_append(d, va_arg(ap, jv));
	va_end(ap);
	return d;
}

/* --- connecting --------------------------------------------------------- */

static int
connect_odoo(void)
{
	jv res, info, major, args;
	const char *company = config_str(&CF, "odoo.company");
	static const char *const cfields[] = {"id", "name", NULL};
	int rc;

	if ((rc = rpc("common", "version", jv_array(), &res)) != 0)
		return rc;
	info = json_get(res, "server_version_info");
	major = jv_get_kind(info) == JV_KIND_ARRAY ? jv_array_get(info, 0)
						   : (jv_free(info), jv_null());
	if (jv_get_kind(major) != JV_KIND_NUMBER) {
		jv_free(major);
		jv_free(res);
		return msg_fail(EX_PROTOCOL, "odoo: common.version gave no "
					     "server_version_info");
	}
	O.version = (int)jv_number_value(major);
	jv_free(major);
	snprintf(O.server, sizeof(O.server), "%s",
		 json_str(res, "server_version")
		     ? json_str(res, "server_version")
		     : "?");
	jv_free(res);
	if (O.version < 16 || O.version > 18)
		return msg_fail(EX_PROTOCOL,
				"odoo: server version %d is not 16, 17 or 18",
				O.version);
	args = jv_array();
	args = jv_array_append(args, jv_string(O.db));
	args = jv_array_append(args, jv_string(O.user));
	args = jv_array_append(args, jv_string(O.key));
	if ((rc = rpc("common", "login", args, &res)) != 0)
		return rc;
	if (jv_get_kind(res) != JV_KIND_NUMBER) {
		jv_free(res);
		/* Odoo answers false; it locks the address out after a few. */
		return msg_fail(EX_NOPERM,
				"odoo: login refused for user '%s' on '%s' "
				"(wrong key or password); not retrying",
				O.user, O.db);
	}
	O.uid = (long)jv_number_value(res);
	jv_free(res);
	/* The company the config names, so reads see its records only. */
	if (company == NULL)
		return msg_fail(EX_CONFIG, "config: 'odoo.company' is missing");
	if ((rc = search_read("res.company",
			      domain(1, leaf("name", "=", jv_string(company))),
			      cfields, &res)) != 0)
		return rc;
	if (jv_array_length(jv_copy(res)) != 1) {
		jv_free(res);
		return msg_fail(EX_CONFIG, "odoo: no company named '%s'",
				company);
	}
	info = jv_array_get(res, 0);
	O.ctx =
	    jv_object_set(O.ctx, jv_string("allowed_company_ids"),
			  jv_array_append(jv_array(), json_get(info, "id")));
	jv_free(info);
	return 0;
}

/* --- external ids ------------------------------------------------------- */

/* The shop as odoo-load writes it inside names: letters, digits, '_'. */
static void
sanitize(char *dst, size_t n, const char *s)
{
	char *p;

	snprintf(dst, n, "%s", s);
	for (p = dst; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			*p = '_';
}

/*
 * The tillroll external ids of model's records among ids (consumed, or
 * null for all) whose names start with "<prefix>_<shop>_": an object
 * "res_id" -> the rest of the name (the Shopify id).  Returns 0 or a
 * status.
 */
static int
xmlids(const char *model, const char *prefix, jv ids, jv *out)
{
	static const char *const f[] = {"name", "res_id", NULL};
	char head[192];
	jv rows, d;
	int rc;

	*out = jv_object();
	snprintf(head, sizeof(head), "%s_%s_", prefix, shop_name);
	d = domain(3, leaf("module", "=", jv_string(MODULE)),
		   leaf("model", "=", jv_string(model)),
		   leaf("name", "=like", jv_string_fmt("%s%%", head)));
	if (jv_get_kind(ids) == JV_KIND_ARRAY)
		d = jv_array_append(d, leaf("res_id", "in", ids));
	else
		jv_free(ids);
	if ((rc = search_read("ir.model.data", d, f, &rows)) != 0) {
		jv_free(rows);
		return rc;
	}
	jv_array_foreach(rows, i, x)
	{
		const char *nm = json_str(x, "name");
		jv rid = json_get(x, "res_id");
		char idtext[32];
		const char *why;

		/* '_' is a wildcard for =like: check the prefix here. */
		if (nm && strncmp(nm, head, strlen(head)) == 0 &&
		    json_id(rid, idtext, sizeof(idtext), &why) == 0)
			*out = jv_object_set(*out, jv_string(idtext),
					     jv_string(nm + strlen(head)));
		jv_free(rid);
		jv_free(x);
	}
	jv_free(rows);
	return 0;
}

/* The text of a many2one's id ([id, name] or false) into buf, or "". */
static const char *
m2o_id(jv row, const char *field, char *buf, size_t n)
{
	jv v = json_get(row, field), id;
	const char *why;

	buf[0] = '\0';
	if (jv_get_kind(v) == JV_KIND_ARRAY) {
		id = jv_array_get(jv_copy(v), 0);
		if (json_id(id, buf, n, &why) < 0)
			buf[0] = '\0';
		jv_free(id);
	} else if (jv_get_kind(v) == JV_KIND_NUMBER) {
		if (json_id(v, buf, n, &why) < 0)
			buf[0] = '\0';
	}
	jv_free(v);
	return buf;
}

/* An array of the ids (numbers) of the object's keys. */
static jv
id_list(jv keys_obj)
{
	jv a = jv_array();

	jv_object_foreach(keys_obj, k, v)
	{
		a = jv_array_append(
		    a, jv_number(strtod(jv_string_value(k), NULL)));
		jv_free(k);
		jv_free(v);
	}
	jv_free(keys_obj);
	return a;
}

/*
 * product id text -> {"id", "default_code", "variant_id"} for the
 * products ids (consumed, an object whose keys are ids).
 */
static int
products_of(jv ids, jv *out)
{
	jv rows, vars, kw;
	int rc;

	*out = jv_object();
	if ((rc = xmlids("product.product", "product", id_list(jv_copy(ids)),
			 &vars)) != 0) {
		jv_free(ids);
		return rc;
	}
	kw = jv_object_set(
	    jv_object(), jv_string("fields"),
	    jv_array_append(jv_array_append(jv_array(), jv_string("id")),
			    jv_string("default_code")));
	rc = call("product.product", "read",
		  jv_array_append(jv_array(), id_list(ids)), kw, &rows);
	if (rc != 0) {
		jv_free(rows);
		jv_free(vars);
		return rc;
	}
	if (jv_get_kind(rows) == JV_KIND_ARRAY) {
		jv_array_foreach(rows, i, p)
		{
			char idt[32];
			jv code = json_get(p, "default_code"), o = jv_object();

			m2o_id(p, "id", idt, sizeof(idt));
			o = jv_object_set(o, jv_string("id"),
					  json_get(p, "id"));
			o = jv_object_set(o, jv_string("default_code"),
					  jv_get_kind(code) == JV_KIND_STRING
					      ? code
					      : (jv_free(code), jv_null()));
			o = jv_object_set(o, jv_string("variant_id"),
					  json_has(vars, idt)
					      ? json_get(vars, idt)
					      : jv_null());
			*out = jv_object_set(*out, jv_string(idt), o);
			jv_free(p);
		}
	}
	jv_free(rows);
	jv_free(vars);
	return 0;
}

/* --- output ------------------------------------------------------------- */

static int
emit(const char *kind, jv data)
{
	jv env = jv_object();

	env = jv_object_set(env, jv_string("kind"), jv_string(kind));
	env = jv_object_set(env, jv_string("shop"), jv_string(shop));
	env = jv_object_set(env, jv_string("api"), jv_string(O.server));
	env = jv_object_set(env, jv_string("data"), data);
	ST.in++;
	counters_add(&ST.in_kind, kind);
	if (json_emit(stdout, env) != 0)
		return msg_fail(EX_IOERR, "write error on standard output:");
	ST.out++;
	counters_add(&ST.out_kind, kind);
	return 0;
}

/* A record read but not sent, counted under reason. */
static void
drop(const char *kind, const char *reason)
{
	ST.in++;
	counters_add(&ST.in_kind, kind);
	ST.dropped++;
	counters_add(&ST.drops, reason);
}

/* --- pickings ----------------------------------------------------------- */

static void
odoo_time(time_t t, char *buf, size_t n)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static int
extract_pickings(time_t since, time_t until)
{
	static const char *const pf[] = {"id",
					 "name",
					 "origin",
					 "state",
					 "date_done",
					 "picking_type_code",
					 "sale_id",
					 "carrier_id",
					 "carrier_tracking_ref",
					 "carrier_tracking_url",
					 NULL};
	static const char *const mf16[] = {"id",
					   "picking_id",
					   "product_id",
					   "product_uom_qty",
					   "quantity_done",
					   "state",
					   NULL};
	static const char *const mf17[] = {
	    "id",	"picking_id", "product_id", "product_uom_qty",
	    "quantity", "picked",     "state",	    NULL};
	char from[32], to[32];
	jv picks, orders, sale_ids = jv_object(), pick_ids = jv_array();
	jv moves, prod_ids = jv_object(), products;
	int rc;

	odoo_time(since, from, sizeof(from));
	odoo_time(until, to, sizeof(to));
	if ((rc = search_read(
		 "stock.picking",
		 domain(5,
			leaf("picking_type_code", "=", jv_string("outgoing")),
			leaf("state", "=", jv_string("done")),
			leaf("date_done", ">=", jv_string(from)),
			leaf("date_done", "<", jv_string(to)),
			leaf("sale_id", "!=", jv_false())),
		 pf, &picks)) != 0) {
		jv_free(picks);
		jv_free(sale_ids);
		jv_free(pick_ids);
		jv_free(prod_ids);
		return rc;
	}
	jv_array_foreach(picks, i, p)
	{
		char idt[32];

		if (*m2o_id(p, "sale_id", idt, sizeof(idt)))
			sale_ids =
			    jv_object_set(sale_ids, jv_string(idt), jv_true());
		pick_ids = jv_array_append(pick_ids, json_get(p, "id"));
		jv_free(p);
	}
	if (verbose)
		msg_warn("pickings: %d done from %s to %s",
			 jv_array_length(jv_copy(picks)), from, to);
	if (jv_array_length(jv_copy(picks)) == 0) {
		jv_free(picks);
		jv_free(sale_ids);
		jv_free(pick_ids);
		jv_free(prod_ids);
		return 0;
	}
	if ((rc = xmlids("sale.order", "so", id_list(sale_ids), &orders)) !=
	    0) {
		jv_free(picks);
		jv_free(pick_ids);
		jv_free(prod_ids);
		return rc;
	}
	if ((rc = search_read("stock.move",
			      domain(1, leaf("picking_id", "in", pick_ids)),
			      O.version >= 17 ? mf17 : mf16, &moves)) != 0) {
		jv_free(moves);
		jv_free(picks);
		jv_free(orders);
		jv_free(prod_ids);
		return rc;
	}
	jv_array_foreach(moves, i, m)
	{
		char idt[32];

		if (*m2o_id(m, "product_id", idt, sizeof(idt)))
			prod_ids =
			    jv_object_set(prod_ids, jv_string(idt), jv_true());
		jv_free(m);
	}
	if ((rc = products_of(prod_ids, &products)) != 0) {
		jv_free(products);
		jv_free(moves);
		jv_free(picks);
		jv_free(orders);
		return rc;
	}
	jv_array_foreach(picks, i, p)
	{
		char sid[32], pid[32];
		jv data = jv_copy(p), mine = jv_array();

		m2o_id(p, "sale_id", sid, sizeof(sid));
		m2o_id(p, "id", pid, sizeof(pid));
		if (rc != 0 || !json_has(orders, sid)) {
			/* Made in Odoo, or by another shop: not ours. */
			if (rc == 0)
				drop("odoo.picking", "not_tillroll_order");
			jv_free(data);
			jv_free(mine);
			jv_free(p);
			continue;
		}
		jv_array_foreach(moves, k, m)
		{
			char mp[32], prod[32];

			if (strcmp(m2o_id(m, "picking_id", mp, sizeof(mp)),
				   pid) == 0) {
				m2o_id(m, "product_id", prod, sizeof(prod));
				m = jv_object_set(m, jv_string("product"),
						  json_has(products, prod)
						      ? json_get(products, prod)
						      : jv_null());
				mine = jv_array_append(mine, m);
			} else
				jv_free(m);
		}
		data = jv_object_set(data, jv_string("order_id"),
				     json_get(orders, sid));
		data = jv_object_set(data, jv_string("moves"), mine);
		rc = emit("odoo.picking", data);
		jv_free(p);
	}
	jv_free(products);
	jv_free(moves);
	jv_free(picks);
	jv_free(orders);
	return rc;
}

/* --- stock -------------------------------------------------------------- */

/* The id of an Odoo location named by complete name or id. */
static int
find_location(const char *name, jv *loc)
{
	static const char *const f[] = {"id", "complete_name", "usage", NULL};
	const char *p = name;
	jv rows;
	int rc;

	while (*p >= '0' && *p <= '9')
		p++;
	rc = search_read(
	    "stock.location",
	    domain(1, *p == '\0' && p != name
			  ? leaf("id", "=", jv_number(strtod(name, NULL)))
			  : leaf("complete_name", "=", jv_string(name))),
	    f, &rows);
	if (rc != 0) {
		jv_free(rows);
		return rc;
	}
	if (jv_array_length(jv_copy(rows)) != 1) {
		jv_free(rows);
		return msg_fail(EX_CONFIG,
				"config: locations: Odoo has no stock location "
				"'%s'",
				name);
	}
	*loc = jv_array_get(rows, 0);
	return 0;
}

static int
extract_stock(void)
{
	static const char *const qf[] = {
	    "id",	"product_id",	     "location_id",
	    "quantity", "reserved_quantity", NULL};
	jv locs = config_get(&CF, "locations"), mapped, products, keys;
	int rc = 0;

	if (jv_get_kind(locs) != JV_KIND_OBJECT ||
	    jv_object_length(jv_copy(locs)) == 0)
		return msg_fail(EX_CONFIG,
				"config: 'locations' must map Odoo locations "
				"to Shopify location ids");
	if ((rc = xmlids("product.product", "product", jv_null(), &mapped)) !=
	    0)
		return rc;
	jv_object_foreach(locs, name, shopify_loc)
	{
		jv loc = jv_invalid(), quants = jv_invalid(), ids, byprod;

		if (rc == 0 && jv_get_kind(shopify_loc) != JV_KIND_STRING)
			rc = msg_fail(EX_CONFIG,
				      "config: locations: '%s' must name a "
				      "Shopify location id as a string",
				      jv_string_value(name));
		if (rc == 0)
			rc = find_location(jv_string_value(name), &loc);
		if (rc == 0)
			rc = search_read(
			    "stock.quant",
			    domain(1, leaf("location_id", "child_of",
					   json_get(loc, "id"))),
			    qf, &quants);
		if (rc != 0) {
			jv_free(loc);
			jv_free(quants);
			jv_free(name);
			jv_free(shopify_loc);
			continue;
		}
		/* Every mapped product, and every product with stock here. */
		ids = jv_copy(mapped);
		byprod = jv_object();
		jv_array_foreach(quants, i, q)
		{
			char pid[32];
			jv list;

			m2o_id(q, "product_id", pid, sizeof(pid));
			ids = jv_object_set(ids, jv_string(pid), jv_true());
			list = json_get(byprod, pid);
			if (jv_get_kind(list) != JV_KIND_ARRAY) {
				jv_free(list);
				list = jv_array();
			}
			byprod = jv_object_set(byprod, jv_string(pid),
					       jv_array_append(list, q));
		}
		rc = products_of(ids, &products);
		/* In id order, so the output is the same run after run. */
		keys = jv_keys(jv_copy(products));
		jv_array_foreach(keys, i, k)
		{
			jv p = json_get(products, jv_string_value(k));
			jv qs = json_get(byprod, jv_string_value(k)), data;
			const char *sku = json_str(p, "default_code");

			if (jv_get_kind(qs) != JV_KIND_ARRAY) {
				jv_free(qs);
				qs = jv_array();
			}
			if (rc == 0 && !json_has(mapped, jv_string_value(k))) {
				/* Stock with no Shopify variant behind it. */
				msg_warn("SKU '%s' (product %s) has stock at "
					 "'%s' but no Shopify variant in "
					 "tillroll: not sent",
					 sku ? sku : "(none)",
					 jv_string_value(k),
					 jv_string_value(name));
				drop("odoo.stock", "unmapped_sku");
			} else if (rc == 0) {
				data = jv_object();
				data = jv_object_set(data, jv_string("product"),
						     jv_copy(p));
				data = jv_object_set(
				    data, jv_string("location"), jv_copy(loc));
				data = jv_object_set(
				    data, jv_string("shopify_location_id"),
				    jv_copy(shopify_loc));
				data = jv_object_set(data, jv_string("quants"),
						     jv_copy(qs));
				rc = emit("odoo.stock", data);
			}
			jv_free(qs);
			jv_free(p);
			jv_free(k);
		}
		jv_free(keys);
		jv_free(products);
		jv_free(byprod);
		jv_free(quants);
		jv_free(loc);
		jv_free(name);
		jv_free(shopify_loc);
	}
	jv_free(mapped);
	return rc;
}

/* --- state and options -------------------------------------------------- */

/* The state file: {"shop":..,"watermarks":{"pickings":T}}. */
static int
state_load(void)
{
	char err[600];
	int rc = statefile_load(state_path, shop, &state, err, sizeof(err));

	return rc != 0 ? msg_fail(rc, "%s", err) : 0;
}

/* Write the state to a temporary file, sync it, rename it in place. */
static int
state_save(void)
{
	char err[600];
	int rc = statefile_save(state_path, state, err, sizeof(err));

	return rc != 0 ? msg_fail(rc, "%s", err) : 0;
}

/* The key: ODOO_API_KEY, else ODOO_PASSWORD, else odoo.key_file (relative
 * to the config's directory), as odoo-load takes it. */
static int
load_key(void)
{
	static const char *const envs[] = {"ODOO_API_KEY", "ODOO_PASSWORD",
					   NULL};
	const char *why, *env = secret_env(envs);
	char path[4096];
	int status, rc;

	if (env != NULL) {
		if (secret_load(env, NULL, &O.key, &O.keylen, &status, &why) <
		    0)
			return msg_fail(status, "%s: %s", env, why);
		return 0;
	}
	if ((rc = config_file(&CF, "odoo.key_file", path, sizeof(path))) > 0)
		return msg_fail(EX_CONFIG,
				"no Odoo key: set ODOO_API_KEY or "
				"ODOO_PASSWORD, or name 'odoo.key_file'");
	if (rc < 0)
		return msg_fail(EX_CONFIG, "%s", CF.err);
	if (secret_load(NULL, path, &O.key, &O.keylen, &status, &why) < 0)
		return msg_fail(status, "%s: %s", path, why);
	return 0;
}

static int
parse_resources(const char *s)
{
	int want = 0;
	const char *p = s;

	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == 8 && strncmp(p, "pickings", n) == 0)
			want |= RES_PICKINGS;
		else if (n == 5 && strncmp(p, "stock", n) == 0)
			want |= RES_STOCK;
		else
			return -1;
		p += n;
		if (*p == ',')
			p++;
	}
	return want;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: odoo-extract --config FILE [--resources LIST] "
		"[--since TIME] [--until TIME]\n"
		"                    [--state FILE] [--overlap DURATION] "
		"[--cacert FILE]\n"
		"                    [--timeout SECONDS] [--stats FILE] "
		"[--verbose]\n"
		"       odoo-extract --help | --version\n"
		"Reads from Odoo the deliveries done of the orders tillroll "
		"loaded (odoo.picking)\n"
		"and the stock of the products it maps at the configured "
		"locations (odoo.stock).\n"
		"LIST: pickings,stock (default both).  The key comes from "
		"ODOO_API_KEY,\n"
		"ODOO_PASSWORD or the config's odoo.key_file.\n"
		"Exit: 0 ok, 64 usage, 69 Odoo unavailable, 74 I/O error, "
		"75 try later,\n"
		"      76 Odoo answered something unexpected, 77 key refused "
		"or readable by\n"
		"      others, 78 configuration error.\n");
}

/*
 * Read the config, the key and the state; find the window; log in; write
 * the pickings of the window and the stock; then, the output flushed,
 * move the watermark of pickings to the window's end.
 */
int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"resources", required_argument, NULL, 'r'},
	    {"since", required_argument, NULL, 'S'},
	    {"until", required_argument, NULL, 'U'},
	    {"state", required_argument, NULL, 's'},
	    {"overlap", required_argument, NULL, 'O'},
	    {"cacert", required_argument, NULL, 'C'},
	    {"timeout", required_argument, NULL, 't'},
	    {"stats", required_argument, NULL, 'T'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_path = NULL, *since_arg = NULL;
	const char *cacert = NULL, *stats = NULL, *u;
	long overlap = 3600, timeout_s = 60;
	int want = RES_PICKINGS | RES_STOCK, ch, rc = 0;
	time_t since = 0, until = time(NULL);
	char *end, until_text[UTC_TEXT_MAX];
	size_t ul;

	msg_init("odoo-extract");
	while ((ch = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'r':
			if ((want = parse_resources(optarg)) <= 0) {
				msg_warn("--resources: '%s' is not a list of "
					 "pickings and stock",
					 optarg);
				return EX_USAGE;
			}
			break;
		case 'S':
		case 'U':
			if (utc_to_time(optarg, ch == 'S' ? &since : &until) <
			    0) {
				msg_warn("--%s: '%s' is not a timestamp with "
					 "an offset",
					 ch == 'S' ? "since" : "until", optarg);
				return EX_USAGE;
			}
			if (ch == 'S')
				since_arg = optarg;
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
		case 'C':
			cacert = optarg;
			break;
		case 't':
			errno = 0;
			timeout_s = strtol(optarg, &end, 10);
			if (errno || *end || timeout_s < 1 ||
			    timeout_s > 3600) {
				msg_warn("--timeout: '%s' is not a number of "
					 "seconds from 1 to 3600",
					 optarg);
				return EX_USAGE;
			}
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
			printf("odoo-extract (tillroll) %s\n",
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
	if ((rc = config_load(&CF, config_path)) != 0) {
		msg_warn("%s", CF.err);
		config_release(&CF);
		return rc;
	}
	shop = config_str(&CF, "shop");
	O.db = config_str(&CF, "odoo.database");
	O.user = config_str(&CF, "odoo.user");
	u = config_str(&CF, "odoo.url");
	if (shop == NULL || O.db == NULL || O.user == NULL || u == NULL) {
		rc = msg_fail(EX_CONFIG,
			      "%s: 'shop', 'odoo.url', 'odoo.database' and "
			      "'odoo.user' are required",
			      config_path);
		config_release(&CF);
		return rc;
	}
	sanitize(shop_name, sizeof(shop_name), shop);
	for (ul = strlen(u); ul > 0 && u[ul - 1] == '/'; ul--)
		;
	snprintf(O.url, sizeof(O.url), "%.*s/jsonrpc", (int)ul, u);
	if ((rc = state_load()) != 0) {
		jv_free(state);
		config_release(&CF);
		return rc;
	}
	/* The window: --since, else the watermark less the overlap. */
	if (want & RES_PICKINGS) {
		jv wm = json_get(state, "watermarks"), p;

		p = json_get(wm, "pickings");
		if (since_arg == NULL &&
		    (jv_get_kind(p) != JV_KIND_STRING ||
		     utc_to_time(jv_string_value(p), &since) < 0))
			rc = msg_fail(EX_USAGE, "no --since and no watermark "
						"for 'pickings' in the state");
		else if (since_arg == NULL)
			since -= overlap;
		jv_free(p);
		jv_free(wm);
		if (rc == 0 && since >= until)
			rc = msg_fail(EX_USAGE,
				      "the window is empty: --since is not "
				      "before --until");
		if (rc != 0) {
			jv_free(state);
			config_release(&CF);
			return rc;
		}
	}
	if ((rc = load_key()) != 0) {
		jv_free(state);
		config_release(&CF);
		return rc;
	}
	if ((rc = stage_init(&ST, "odoo-extract", NULL, stats)) != 0) {
		memset(O.key, 0, O.keylen);
		free(O.key);
		jv_free(state);
		config_release(&CF);
		return rc;
	}
	O.ctx = jv_object();
	O.ctx = jv_object_set(O.ctx, jv_string("lang"), jv_string("en_US"));
	O.ctx = jv_object_set(O.ctx, jv_string("tz"), jv_string("UTC"));
	if (http_global_init() < 0 || http_client_init(&O.http, cacert) < 0 ||
	    http_client_header(&O.http, "Content-Type: application/json") < 0)
		rc = msg_fail(EX_SOFTWARE, "cannot start libcurl");
	else {
		O.http.timeout_ms = timeout_s * 1000;
		O.http.backoff_ms = 200;
		O.http.backoff_max_ms = 5000;
		O.http.budget_ms = 60000;
		O.http.log = log_line;
	}
	if (rc == 0)
		rc = connect_odoo();
	if (rc == 0 && (want & RES_PICKINGS))
		rc = extract_pickings(since, until);
	if (rc == 0 && (want & RES_STOCK))
		rc = extract_stock();
	rc = stage_flush_stdout(rc);
	/* Only output that is out moves the watermark. */
	if (rc == 0 && (want & RES_PICKINGS) && state_path != NULL) {
		jv wms = json_get(state, "watermarks");

		if (jv_get_kind(wms) != JV_KIND_OBJECT) {
			jv_free(wms);
			wms = jv_object();
		}
		utc_from_time(until, until_text);
		wms = jv_object_set(wms, jv_string("pickings"),
				    jv_string(until_text));
		state = jv_object_set(state, jv_string("watermarks"), wms);
		state =
		    jv_object_set(state, jv_string("shop"), jv_string(shop));
		rc = state_save();
	}
	if (verbose)
		msg_warn("%lu calls, %lu retries", O.calls, O.http.retries);
	rc = stage_finish(&ST, rc);
	rc = stage_close_stdout(rc);
	http_client_release(&O.http);
	http_global_cleanup();
	memset(O.key, 0, O.keylen);
	free(O.key);
	jv_free(O.ctx);
	jv_free(state);
	config_release(&CF);
	return rc;
}
