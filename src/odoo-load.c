/* See LICENSE file for copyright and license details. */
/*
 * odoo-load: carry a day's canonical records into Odoo 16, 17 or 18.
 *
 * Reads the stream after enrich-tax and match-settlement and makes Odoo
 * hold exactly what happened: partners, products, confirmed sale orders
 * with their posted invoices, posted payments reconciled with them,
 * credit notes with their refund payments, and one posted entry per
 * payout that clears the gateway's clearing account.  Talks JSON-RPC
 * execute_kw over libcurl.
 *
 * Every record it makes carries an external id in module "tillroll",
 * made in the same transaction by load(), so a retry or a rerun finds
 * instead of duplicating; every workflow step (confirm, post, reconcile)
 * reads the state first and does only what is missing.  Records go in
 * batches; a batch Odoo refuses is halved until the bad record stands
 * alone, which is rejected with Odoo's words while the rest loads.
 *
 * Writes one "loaded" record per input record, or with --verify one
 * "verified" record per record Odoo holds, or with --dry-run the calls it
 * would make, without connecting.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <jv.h>

#include "http.h"
#include "json.h"
#include "money.h"
#include "msg.h"
#include "ndjson.h"
#include "secret.h"
#include "stage.h"

#define SCHEMA_VERSION 1
#define MODULE "tillroll"
#define WORKFLOW_TRIES 3

enum action { ACT_UNCHANGED, ACT_UPDATED, ACT_CREATED, ACT_SKIPPED };
static const char *const action_names[] = {"unchanged", "updated", "created",
					   "skipped"};

/* One input record and what became of it. */
struct rec {
	jv v;		    /* the record (owned) */
	char *raw;	    /* the line as read (owned) */
	size_t rawlen;	    /* its length */
	char *file;	    /* input name (owned) */
	unsigned long line; /* line number there */
	const char *kind;   /* borrowed from v */
	int rejected;	    /* sent to the rejects file */
	enum action act;    /* overall action so far */
	jv odoo;	    /* [{model,id,xmlid,action}] (owned) */
	jv steps;	    /* ["confirm", ...] (owned) */
	const char *skip;   /* why skipped, or NULL */
	jv diffs;	    /* --verify: differences found (owned) */
};

/* The connection, and what the run knows of the database. */
struct odoo {
	struct http_client http;
	char *url;	     /* <odoo.url>/jsonrpc (owned) */
	const char *db;	     /* borrowed from the config */
	const char *user;    /* borrowed from the config */
	char *key;	     /* the API key or password (owned, wiped) */
	size_t keylen;	     /* its length */
	long uid;	     /* from login */
	int version;	     /* server_version_info[0] */
	long rpc_id;	     /* JSON-RPC request id */
	jv ctx;		     /* context of every object call (owned) */
	unsigned long calls; /* execute_kw and common calls made */
	unsigned long bytes; /* request + response bytes */
};

/* Options, set once by main. */
static int dry_run, verify, verbose;
static size_t batch = 100;
static int version_opt = 16;

/* State of the run. */
static struct odoo O;
static struct stage ST;
static jv config; /* the shop config (owned) */
static const char *shop;
static struct rec *recs;
static size_t nrecs;
static int fatal;     /* a sysexits status that stops the run */
static jv company_id; /* res.company id (owned) */
static jv journals;   /* config journal role -> id (owned) */
static jv accounts;   /* account code -> id (owned) */
static jv taxes;      /* "name" -> {id, amount, amount_type, price_include} */
static jv products;   /* default_code -> id (owned) */
static jv xmlids;     /* name -> res_id of ir.model.data in MODULE */
static jv fallback_product; /* id or null (owned) */
static int reject_unknown_sku;

/* --- small helpers ------------------------------------------------------ */

static jv
str(const char *s)
{
	return s != NULL ? jv_string(s) : jv_null();
}

static jv
cfg(const char *a, const char *b)
{
	jv x = json_get(config, a), y;

	if (b == NULL)
		return x;
	y = json_get(x, b);
	jv_free(x);
	return y;
}

static const char *
cfg_str(const char *a, const char *b)
{
	jv x = json_get(config, a);
	const char *s = b == NULL ? NULL : json_str(x, b);

	jv_free(x); /* config still holds it */
	return s;
}

/* A name usable in an external id: letters, digits and '_'. */
static void
xmlid_name(char *buf, size_t n, const char *prefix, const char *a,
	   const char *b)
{
	char *p;

	snprintf(buf, n, "%s_%s_%s%s%s", prefix, shop, a, b ? "_" : "",
		 b ? b : "");
	for (p = buf; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			*p = '_';
}

static jv
full_xmlid(const char *name)
{
	return jv_string_fmt("%s.%s", MODULE, name);
}

/* The decimal text of a JSON number or string, as Odoo's load() wants. */
static jv
cell(jv v)
{
	char buf[64];

	if (jv_get_kind(v) == JV_KIND_STRING)
		return v;
	if (jv_get_kind(v) == JV_KIND_NUMBER &&
	    json_number_text(v, buf, sizeof(buf)) == 0) {
		jv_free(v);
		return jv_string(buf);
	}
	if (jv_get_kind(v) == JV_KIND_TRUE) {
		jv_free(v);
		return jv_string("1");
	}
	jv_free(v);
	return jv_string("");
}

/* An id (jv number) as text, for cells and for output. */
static jv
id_text(jv id)
{
	return cell(jv_copy(id));
}

/* Amount as int64 minor units from a JSON number or decimal string. */
static int
amount_of(jv v, int exp, int64_t *minor)
{
	char buf[64];
	const char *why;
	const char *s = buf;

	if (jv_get_kind(v) == JV_KIND_STRING)
		s = jv_string_value(v);
	else if (json_number_text(v, buf, sizeof(buf)) != 0)
		return -1;
	if (strchr(s, 'e') != NULL)
		return -1;
	return money_parse(s, strlen(s), exp, minor, &why);
}

static void
rec_step(struct rec *r, const char *step)
{
	r->steps = jv_array_append(r->steps, jv_string(step));
}

static void
rec_touch(struct rec *r, const char *model, jv id, const char *xmlid,
	  enum action act)
{
	jv o = jv_object();

	o = jv_object_set(o, jv_string("model"), jv_string(model));
	o = jv_object_set(o, jv_string("id"),
			  jv_is_valid(id) && jv_get_kind(id) != JV_KIND_NULL
			      ? id_text(id)
			      : jv_null());
	o = jv_object_set(o, jv_string("xmlid"),
			  xmlid ? full_xmlid(xmlid) : jv_null());
	o = jv_object_set(o, jv_string("action"), jv_string(action_names[act]));
	r->odoo = jv_array_append(r->odoo, o);
	if (act != ACT_SKIPPED && (int)act > (int)r->act)
		r->act = act;
}

static void rec_reject(struct rec *r, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
rec_reject(struct rec *r, const char *reason, const char *fmt, ...)
{
	char detail[1024];
	va_list ap;

	if (r->rejected)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	r->rejected = 1;
	stage_reject(&ST, r->file, r->line, r->raw, r->rawlen, reason, detail);
}

/* --- JSON-RPC ----------------------------------------------------------- */

struct rpc_error {
	char name[128];	    /* Odoo's exception class */
	char message[1024]; /* its message, first lines */
};

enum { RPC_OK = 0, RPC_ODOO = 1, RPC_LOST = 2 };

static void
log_line(void *arg, const char *line)
{
	(void)arg;
	if (verbose)
		msg_warn("%s", line);
}

/*
 * In --dry-run, print what would be sent: the call without the database,
 * uid and key, as one NDJSON line.
 */
static void
dry_print(const char *service, const char *model, const char *method, jv args,
	  jv kwargs)
{
	jv o = jv_object();

	o = jv_object_set(o, jv_string("call"), jv_string("execute_kw"));
	o = jv_object_set(o, jv_string("service"), jv_string(service));
	o = jv_object_set(o, jv_string("model"), str(model));
	o = jv_object_set(o, jv_string("method"), jv_string(method));
	o = jv_object_set(o, jv_string("args"), jv_copy(args));
	o = jv_object_set(o, jv_string("kwargs"), jv_copy(kwargs));
	if (json_emit(stdout, o) < 0)
		fatal = EX_IOERR;
}

/*
 * Send one JSON-RPC call.  safe says whether it may be repeated: reads and
 * load() with external ids are; workflow calls are not, and a transport
 * failure of one comes back as RPC_LOST so that the caller re-reads the
 * state.  Returns RPC_OK with *result (owned; null when Odoo left it
 * out), RPC_ODOO with e filled, RPC_LOST, or sets fatal and returns -1.
 */
static int
rpc(const char *service, const char *method, jv args, int safe, jv *result,
    struct rpc_error *e)
{
	struct http_response res;
	jv req, body, err, data;
	int rc;

	*result = jv_null();
	req = jv_object();
	req = jv_object_set(req, jv_string("jsonrpc"), jv_string("2.0"));
	req = jv_object_set(req, jv_string("method"), jv_string("call"));
	req =
	    jv_object_set(req, jv_string("id"), jv_number((double)++O.rpc_id));
	data = jv_object();
	data = jv_object_set(data, jv_string("service"), jv_string(service));
	data = jv_object_set(data, jv_string("method"), jv_string(method));
	data = jv_object_set(data, jv_string("args"), args);
	req = jv_object_set(req, jv_string("params"), data);
	body = jv_dump_string(req, 0);
	O.calls++;
	O.bytes += (unsigned long)jv_string_length_bytes(jv_copy(body));
	if (safe) {
		rc = http_post_retrying(&O.http, O.url, jv_string_value(body),
					strlen(jv_string_value(body)), &res);
	} else {
		rc = http_post(&O.http, O.url, jv_string_value(body),
			       strlen(jv_string_value(body)), &res);
		if (rc != 0 || http_retryable(&O.http, rc, &res)) {
			http_response_release(&res);
			jv_free(body);
			return RPC_LOST;
		}
	}
	/* The body held the key; wipe the copy before freeing it. */
	memset((char *)jv_string_value(body), 0, strlen(jv_string_value(body)));
	jv_free(body);
	if (rc != 0) {
		msg_warn("%s: %s", O.url, O.http.err);
		fatal = rc;
		return -1;
	}
	O.bytes += res.len;
	if (res.status != 200) {
		msg_warn("%s: HTTP %ld, not a JSON-RPC answer", O.url,
			 res.status);
		http_response_release(&res);
		fatal = EX_PROTOCOL;
		return -1;
	}
	body = jv_parse_sized(res.body, (int)res.len);
	http_response_release(&res);
	if (jv_get_kind(body) != JV_KIND_OBJECT) {
		jv_free(body);
		msg_warn("%s: the answer is not a JSON-RPC object", O.url);
		fatal = EX_PROTOCOL;
		return -1;
	}
	err = json_get(body, "error");
	if (jv_is_valid(err) && jv_get_kind(err) == JV_KIND_OBJECT) {
		jv d = json_get(err, "data");
		const char *n = json_str(d, "name"),
			   *m = json_str(d, "message");

		snprintf(e->name, sizeof(e->name), "%s",
			 n ? n : "odoo.exceptions.Unknown");
		snprintf(e->message, sizeof(e->message), "%s",
			 m ? m : json_str(err, "message"));
		/* Keep the message to its first lines, no trailing newline. */
		while (*e->message &&
		       e->message[strlen(e->message) - 1] == '\n')
			e->message[strlen(e->message) - 1] = '\0';
		jv_free(d);
		jv_free(err);
		jv_free(body);
		if (strcmp(e->name, "odoo.exceptions.AccessDenied") == 0) {
			msg_warn("odoo: %s: %s (not retrying: Odoo locks an "
				 "address out after repeated failures)",
				 e->name, e->message);
			fatal = EX_NOPERM;
			return -1;
		}
		return RPC_ODOO;
	}
	jv_free(err);
	*result = json_get(body, "result");
	if (!jv_is_valid(*result)) {
		jv_free(*result);
		*result = jv_null(); /* Odoo leaves result out for None */
	}
	jv_free(body);
	return RPC_OK;
}

/*
 * execute_kw(db, uid, key, model, method, args, kwargs) with the run's
 * context merged into kwargs.  args and kwargs are consumed.  In --dry-run
 * prints the call and returns RPC_OK with a null result.
 */
static int
call(const char *model, const char *method, jv args, jv kwargs, int safe,
     jv *result, struct rpc_error *e)
{
	jv a, ctx = json_get(kwargs, "context");
	int rc;

	if (jv_get_kind(ctx) == JV_KIND_OBJECT)
		ctx = jv_object_merge(jv_copy(O.ctx), ctx);
	else {
		jv_free(ctx);
		ctx = jv_copy(O.ctx);
	}
	kwargs = jv_object_set(kwargs, jv_string("context"), ctx);
	if (dry_run) {
		dry_print("object", model, method, args, kwargs);
		jv_free(args);
		jv_free(kwargs);
		*result = jv_null();
		return fatal ? -1 : RPC_OK;
	}
	a = jv_array();
	a = jv_array_append(a, jv_string(O.db));
	a = jv_array_append(a, jv_number((double)O.uid));
	a = jv_array_append(a, jv_string(O.key));
	a = jv_array_append(a, jv_string(model));
	a = jv_array_append(a, jv_string(method));
	a = jv_array_append(a, args);
	a = jv_array_append(a, kwargs);
	rc = rpc("object", "execute_kw", a, safe, result, e);
	return rc;
}

/* search_read with a domain (consumed) and fields (a NULL-ended list). */
static jv
search_read(const char *model, jv domain, const char *const *fields)
{
	jv kw = jv_object(), f = jv_array(), res;
	struct rpc_error e;
	int rc;

	for (; *fields; fields++)
		f = jv_array_append(f, jv_string(*fields));
	kw = jv_object_set(kw, jv_string("fields"), f);
	rc = call(model, "search_read", jv_array_append(jv_array(), domain), kw,
		  1, &res, &e);
	if (rc == RPC_ODOO) {
		msg_warn("odoo: %s search_read: %s: %s", model, e.name,
			 e.message);
		fatal = EX_PROTOCOL;
	}
	if (rc != RPC_OK || jv_get_kind(res) != JV_KIND_ARRAY) {
		jv_free(res);
		return jv_array();
	}
	return res;
}

static jv
leaf(const char *field, const char *op, jv value)
{
	jv l = jv_array();

	l = jv_array_append(l, jv_string(field));
	l = jv_array_append(l, jv_string(op));
	return jv_array_append(l, value);
}

static jv
dom1(jv a)
{
	return jv_array_append(jv_array(), a);
}

static jv
dom2(jv a, jv b)
{
	return jv_array_append(jv_array_append(jv_array(), a), b);
}

/* --- connecting and looking up ------------------------------------------ */

static int
connect_odoo(void)
{
	struct rpc_error e;
	jv res, info, args;
	int rc;

	if (dry_run) {
		O.version = version_opt;
		O.uid = 0;
		return 0;
	}
	rc = rpc("common", "version", jv_array(), 1, &res, &e);
	if (rc != RPC_OK)
		return fatal ? fatal : EX_PROTOCOL;
	info = json_get(res, "server_version_info");
	if (jv_get_kind(info) != JV_KIND_ARRAY ||
	    jv_get_kind(jv_array_get(jv_copy(info), 0)) != JV_KIND_NUMBER) {
		jv_free(info);
		jv_free(res);
		return msg_fail(EX_PROTOCOL, "odoo: common.version gave no "
					     "server_version_info");
	}
	{
		jv major = jv_array_get(jv_copy(info), 0);
		O.version = (int)jv_number_value(major);
		jv_free(major);
	}
	jv_free(info);
	jv_free(res);
	if (O.version < 16 || O.version > 18)
		return msg_fail(EX_PROTOCOL,
				"odoo: server version %d is not 16, 17 or 18",
				O.version);
	args = jv_array();
	args = jv_array_append(args, jv_string(O.db));
	args = jv_array_append(args, jv_string(O.user));
	args = jv_array_append(args, jv_string(O.key));
	rc = rpc("common", "login", args, 1, &res, &e);
	if (rc == RPC_ODOO) {
		jv_free(res);
		return msg_fail(EX_PROTOCOL, "odoo: login: %s: %s", e.name,
				e.message);
	}
	if (rc != RPC_OK)
		return fatal;
	if (jv_get_kind(res) != JV_KIND_NUMBER) {
		jv_free(res);
		/* Odoo answers false, not an error; it locks the address
		 * out after a few, so one failure stops the run. */
		return msg_fail(EX_NOPERM,
				"odoo: login refused for user '%s' on '%s' "
				"(wrong key or password); not retrying",
				O.user, O.db);
	}
	O.uid = (long)jv_number_value(res);
	jv_free(res);
	return 0;
}

/* A placeholder for an id the dry run cannot know: "@model:what". */
static jv
placeholder(const char *model, const char *what)
{
	return jv_string_fmt("@%s:%s", model, what);
}

/* The string values of the object obj (borrowed), as an array (owned):
 * the codes of the config's journals or accounts. */
static jv
string_values(jv obj)
{
	jv out = jv_array();

	jv_object_foreach(obj, k, v)
	{
		if (jv_get_kind(v) == JV_KIND_STRING)
			out = jv_array_append(out, v);
		else
			jv_free(v);
		jv_free(k);
	}
	return out;
}

static int
lookups(void)
{
	static const char *const cfields[] = {"id", "name", NULL};
	static const char *const jfields[] = {"id", "code", NULL};
	static const char *const afields[] = {"id", "code", NULL};
	static const char *const tfields[] = {
	    "id", "name", "amount", "amount_type", "price_include", NULL};
	static const char *const pfields[] = {"id", "default_code", NULL};
	const char *cname = cfg_str("odoo", "company");
	jv res, cj = cfg("journals", NULL), ca = cfg("accounts", NULL);
	jv codes, fb;

	if (cname == NULL)
		return msg_fail(EX_CONFIG, "config: 'odoo.company' is missing");
	res = search_read("res.company",
			  dom1(leaf("name", "=", jv_string(cname))), cfields);
	if (dry_run)
		company_id = placeholder("res.company", cname);
	else if (jv_array_length(jv_copy(res)) != 1) {
		jv_free(res);
		jv_free(cj);
		jv_free(ca);
		return fatal ? fatal
			     : msg_fail(EX_CONFIG,
					"odoo: no company named '%s'", cname);
	} else {
		jv c = jv_array_get(jv_copy(res), 0);
		company_id = json_get(c, "id");
		jv_free(c);
	}
	jv_free(res);
	O.ctx = jv_object_set(O.ctx, jv_string("allowed_company_ids"),
			      jv_array_append(jv_array(), jv_copy(company_id)));

	/* journals by code */
	codes = string_values(cj);
	res = search_read("account.journal",
			  dom2(leaf("code", "in", codes),
			       leaf("company_id", "=", jv_copy(company_id))),
			  jfields);
	jv_free(journals);
	journals = jv_object();
	jv_object_foreach(cj, k, v)
	{
		jv id = jv_null();

		if (dry_run && jv_get_kind(v) == JV_KIND_STRING)
			id = placeholder("account.journal", jv_string_value(v));
		jv_array_foreach(res, i, j)
		{
			const char *code = json_str(j, "code");

			if (jv_get_kind(v) == JV_KIND_STRING && code &&
			    strcmp(code, jv_string_value(v)) == 0) {
				jv_free(id);
				id = json_get(j, "id");
			}
			jv_free(j);
		}
		if (jv_get_kind(id) == JV_KIND_NULL) {
			msg_warn("config: journal '%s' (code '%s') is not in "
				 "Odoo",
				 jv_string_value(k),
				 jv_get_kind(v) == JV_KIND_STRING
				     ? jv_string_value(v)
				     : "?");
			fatal = EX_CONFIG;
		}
		journals = jv_object_set(journals, k, id);
		jv_free(v);
	}
	jv_free(res);

	/* accounts by code */
	codes = string_values(ca);
	res = search_read("account.account",
			  dom2(leaf("code", "in", codes),
			       leaf("company_id", "=", jv_copy(company_id))),
			  afields);
	jv_free(accounts);
	accounts = jv_object();
	jv_array_foreach(res, i, a)
	{
		const char *code = json_str(a, "code");

		if (code)
			accounts = jv_object_set(accounts, jv_string(code),
						 json_get(a, "id"));
		jv_free(a);
	}
	jv_free(res);
	jv_object_foreach(ca, k, v)
	{
		if (jv_get_kind(v) == JV_KIND_STRING) {
			jv have = json_get(accounts, jv_string_value(v));

			if (dry_run && !jv_is_valid(have))
				accounts = jv_object_set(
				    accounts, jv_copy(v),
				    placeholder("account.account",
						jv_string_value(v)));
			else if (!jv_is_valid(have)) {
				msg_warn("config: account '%s' (code '%s') is "
					 "not in Odoo",
					 jv_string_value(k),
					 jv_string_value(v));
				fatal = EX_CONFIG;
			}
			jv_free(have);
		}
		jv_free(k);
		jv_free(v);
	}

	/* sale taxes of the company */
	res = search_read("account.tax",
			  dom2(leaf("type_tax_use", "=", jv_string("sale")),
			       leaf("company_id", "=", jv_copy(company_id))),
			  tfields);
	jv_free(taxes);
	taxes = jv_object();
	jv_array_foreach(res, i, t)
	{
		const char *name = json_str(t, "name");

		if (name)
			taxes = jv_object_set(taxes, jv_string(name), t);
		else
			jv_free(t);
	}
	jv_free(res);

	/* the fallback product */
	fb = cfg("product_fallback", NULL);
	fallback_product = jv_null();
	{
		const char *code = json_str(fb, "default_code");
		const char *on = json_str(fb, "on_unknown_sku");

		reject_unknown_sku = on != NULL && strcmp(on, "reject") == 0;
		if (code != NULL) {
			res = search_read(
			    "product.product",
			    dom1(leaf("default_code", "=", jv_string(code))),
			    pfields);
			if (dry_run)
				fallback_product =
				    placeholder("product.product", code);
			else if (jv_array_length(jv_copy(res)) > 0) {
				jv p = jv_array_get(jv_copy(res), 0);
				fallback_product = json_get(p, "id");
				jv_free(p);
			} else {
				msg_warn("config: fallback product '%s' is not "
					 "in Odoo",
					 code);
				fatal = EX_CONFIG;
			}
			jv_free(res);
		}
	}
	jv_free(fb);
	jv_free(cj);
	jv_free(ca);
	return fatal;
}

/* The id of a config journal role, or invalid. */
static jv
journal(const char *role)
{
	return json_get(journals, role);
}

/* The id of the account a role maps to (config "accounts"), or invalid. */
static jv
account_for_role(const char *role)
{
	const char *code = cfg_str("accounts", role);

	return code ? json_get(accounts, code) : jv_invalid();
}

/* --- external ids ------------------------------------------------------- */

/*
 * Find which of names (consumed, an array of names in MODULE) exist, into
 * the xmlids map.  One search_read per batch.
 */
static void
find_xmlids(jv names)
{
	static const char *const f[] = {"name", "res_id", NULL};
	int n = jv_array_length(jv_copy(names)), i;

	for (i = 0; i < n && !dry_run; i += (int)batch * 4) {
		jv part = jv_array_slice(
		    jv_copy(names), i,
		    i + (int)batch * 4 > n ? n : i + (int)batch * 4);
		jv res =
		    search_read("ir.model.data",
				dom2(leaf("module", "=", jv_string(MODULE)),
				     leaf("name", "in", part)),
				f);

		jv_array_foreach(res, k, x)
		{
			const char *nm = json_str(x, "name");

			if (nm)
				xmlids = jv_object_set(xmlids, jv_string(nm),
						       json_get(x, "res_id"));
			jv_free(x);
		}
		jv_free(res);
	}
	if (dry_run && n > 0) {
		jv part = jv_copy(names);
		jv res =
		    search_read("ir.model.data",
				dom2(leaf("module", "=", jv_string(MODULE)),
				     leaf("name", "in", part)),
				f);
		jv_free(res);
	}
	jv_free(names);
}

/* The db id behind name, or invalid when Odoo has none. */
static jv
xmlid_id(const char *name)
{
	return json_get(xmlids, name);
}

/* --- batched load() ----------------------------------------------------- */

/* One record to load: the rows it spans, and where its id goes. */
struct item {
	struct rec *r;	/* the input record it belongs to */
	char name[160]; /* its external id name in MODULE */
	jv rows;	/* its rows (owned) */
	jv id;		/* the id Odoo gave (owned), or invalid */
	const char *model;
};

/* Append to it (*n used) the item of r called name, with rows (consumed). */
static void
add_item(struct item *it, size_t *n, struct rec *r, const char *model,
	 const char *name, jv rows)
{
	struct item *x = &it[(*n)++];

	x->r = r;
	x->model = model;
	snprintf(x->name, sizeof(x->name), "%s", name);
	x->rows = rows;
	x->id = jv_invalid();
}

static void
item_free(struct item *it, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		jv_free(it[i].rows);
		jv_free(it[i].id);
	}
	free(it);
}

/* The text of load()'s messages, for a reject. */
static void
load_messages(jv msgs, char *buf, size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	jv_array_foreach(msgs, i, m)
	{
		const char *t = json_str(m, "message");
		const char *f = json_str(m, "field");

		if (t && used < n)
			used += (size_t)snprintf(buf + used, n - used,
						 "%s%s%s%s", used ? "; " : "",
						 f ? f : "", f ? ": " : "", t);
		jv_free(m);
	}
	jv_free(msgs);
}

/*
 * load() items [lo, hi) in one call; on refusal halve until the bad ones
 * stand alone and reject them with Odoo's words.
 */
static void
load_range(const char *model, jv fields, struct item *it, size_t lo, size_t hi)
{
	struct rpc_error e;
	jv rows = jv_array(), args, res, ids;
	size_t i;
	int rc;

	if (lo >= hi || fatal)
		return;
	for (i = lo; i < hi; i++)
		rows = jv_array_concat(rows, jv_copy(it[i].rows));
	args =
	    jv_array_append(jv_array_append(jv_array(), jv_copy(fields)), rows);
	rc = call(model, "load", args, jv_object(), 1, &res, &e);
	if (rc < 0)
		return;
	if (dry_run) {
		for (i = lo; i < hi; i++) {
			jv_free(it[i].id);
			it[i].id = jv_string_fmt("@%s.%s", MODULE, it[i].name);
		}
		jv_free(res);
		return;
	}
	ids = json_get(res, "ids");
	if (rc == RPC_OK && jv_get_kind(ids) == JV_KIND_ARRAY &&
	    jv_array_length(jv_copy(ids)) == (int)(hi - lo)) {
		for (i = lo; i < hi; i++) {
			jv_free(it[i].id);
			it[i].id = jv_array_get(jv_copy(ids), (int)(i - lo));
		}
		jv_free(ids);
		jv_free(res);
		return;
	}
	jv_free(ids);
	if (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		jv_free(res);
		load_range(model, fields, it, lo, mid);
		load_range(model, fields, it, mid, hi);
		return;
	}
	if (rc == RPC_ODOO)
		rec_reject(it[lo].r, "odoo_refused", "%s load: %s: %s", model,
			   e.name, e.message);
	else {
		char buf[900];

		load_messages(json_get(res, "messages"), buf, sizeof(buf));
		rec_reject(it[lo].r, "odoo_refused", "%s load: %s", model,
			   buf[0] ? buf : "refused without a message");
	}
	jv_free(res);
}

/* Load every item (in batches), then note what each record got. */
static void
load_items(const char *model, jv fields, struct item *it, size_t n,
	   const char *step)
{
	size_t i;

	for (i = 0; i < n && !fatal; i += batch)
		load_range(model, fields, it, i, i + batch > n ? n : i + batch);
	for (i = 0; i < n; i++) {
		if (!jv_is_valid(it[i].id) || it[i].r->rejected)
			continue;
		xmlids = jv_object_set(xmlids, jv_string(it[i].name),
				       jv_copy(it[i].id));
		rec_touch(it[i].r, model, it[i].id, it[i].name, ACT_CREATED);
		if (step)
			rec_step(it[i].r, step);
	}
	jv_free(fields);
}

static jv
fields_of(const char *const *f)
{
	jv a = jv_array();

	for (; *f; f++)
		a = jv_array_append(a, jv_string(*f));
	return a;
}

static jv
row_of(int n, ...)
{
	va_list ap;
	jv row = jv_array();
	int i;

	va_start(ap, n);
	for (i = 0; i < n; i++)
		row = jv_array_append(row, cell(va_arg(ap, jv)));
	va_end(ap);
	return row;
}

/* --- workflow steps ----------------------------------------------------- */

/* A record with a db id that may need a workflow step. */
struct target {
	struct rec *r;
	jv id; /* borrowed */
};

/*
 * Call method on ids [lo, hi) in one call; halve on refusal and reject
 * the records that are refused alone.  Returns 1 when the connection was
 * lost (the caller re-reads and tries again), else 0.
 */
static int
step_range(const char *model, const char *method, struct target *t, size_t lo,
	   size_t hi, const char *step)
{
	struct rpc_error e;
	jv ids = jv_array(), res;
	size_t i;
	int rc, lost;

	if (lo >= hi || fatal)
		return 0;
	for (i = lo; i < hi; i++)
		ids = jv_array_append(ids, jv_copy(t[i].id));
	rc = call(model, method, jv_array_append(jv_array(), ids), jv_object(),
		  0, &res, &e);
	jv_free(res);
	if (rc == RPC_LOST)
		return 1;
	if (rc == RPC_OK) {
		for (i = lo; i < hi; i++)
			rec_step(t[i].r, step);
		return 0;
	}
	if (rc < 0)
		return 0;
	if (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		lost = step_range(model, method, t, lo, mid, step);
		return step_range(model, method, t, mid, hi, step) || lost;
	}
	rec_reject(t[lo].r, "odoo_refused", "%s %s: %s: %s", model, method,
		   e.name, e.message);
	return 0;
}

/*
 * Bring the records in t to a state: read field of each, call method on
 * those whose value is not one of done (a NULL-ended list), in batches.
 * A workflow call that lost its connection may have committed, so the
 * state is read again before any second try.  Returns how many records
 * the step was done for in *did (their r->steps name it).
 */
static void
workflow(const char *model, const char *field, const char *const *done,
	 const char *method, struct target *t, size_t n, const char *step)
{
	static const char *fields[3] = {"id", NULL, NULL};
	struct target *todo;
	size_t i, k, m;
	int attempt, lost;

	if (n == 0 || fatal)
		return;
	fields[1] = field;
	todo = calloc(n, sizeof(*todo));
	for (attempt = 0; attempt < WORKFLOW_TRIES; attempt++) {
		jv ids = jv_array(), res, state = jv_object();

		for (i = 0; i < n; i++)
			if (!t[i].r->rejected)
				ids = jv_array_append(ids, jv_copy(t[i].id));
		res = search_read(model, dom1(leaf("id", "in", ids)), fields);
		jv_array_foreach(res, j, x)
		{
			jv id = json_get(x, "id");
			jv key = id_text(id);

			state = jv_object_set(state, key, json_get(x, field));
			jv_free(id);
			jv_free(x);
		}
		jv_free(res);
		for (i = m = 0; i < n; i++) {
			jv key, s;
			int ok = 0;

			if (t[i].r->rejected)
				continue;
			key = id_text(t[i].id);
			s = jv_object_get(jv_copy(state), key);
			for (k = 0; done[k] && jv_get_kind(s) == JV_KIND_STRING;
			     k++)
				if (strcmp(jv_string_value(s), done[k]) == 0)
					ok = 1;
			jv_free(s);
			if (!ok)
				todo[m++] = t[i];
		}
		jv_free(state);
		if (m == 0 || fatal)
			break;
		lost = 0;
		for (i = 0; i < m && !fatal; i += batch)
			lost |= step_range(model, method, todo, i,
					   i + batch > m ? m : i + batch, step);
		if (!lost || dry_run)
			break;
		msg_warn("odoo: %s %s: connection lost; reading the state "
			 "again",
			 model, method);
	}
	if (attempt == WORKFLOW_TRIES) {
		msg_warn("odoo: %s %s: connection lost %d times", model, method,
			 WORKFLOW_TRIES);
		fatal = EX_UNAVAILABLE;
	}
	free(todo);
}

/* --- partners ----------------------------------------------------------- */

/* The external id name of an order's partner (the shop's when none). */
static void
partner_name(jv order, char *buf, size_t n)
{
	jv c = json_get(order, "customer");
	const char *id = json_str(c, "id");

	xmlid_name(buf, n, "partner", id ? id : "shop", NULL);
	jv_free(c);
}

static void
load_partners(void)
{
	static const char *const f[] = {"id",	 "name", "email",
					"phone", "ref",	 NULL};
	struct item *it = calloc(nrecs + 1, sizeof(*it));
	jv names = jv_array(), seen = jv_object();
	size_t i, n = 0;
	char nm[160];

	for (i = 0; i < nrecs; i++) {
		struct rec *r = &recs[i];
		jv c;
		const char *id, *email, *first, *last;
		char full[300];

		if (r->rejected)
			continue;
		if (strcmp(r->kind, "customer") == 0)
			c = jv_copy(r->v);
		else if (strcmp(r->kind, "order") == 0)
			c = json_get(r->v, "customer");
		else
			continue;
		id = json_str(c, "id");
		if (strcmp(r->kind, "order") == 0 && id == NULL) {
			jv_free(c);
			c = jv_object();
		}
		{
			jv holder = jv_object_set(
			    jv_object(), jv_string("customer"), jv_copy(c));

			partner_name(holder, nm, sizeof(nm));
			jv_free(holder);
		}
		{
			jv seen_id = json_get(seen, nm);

			if (jv_is_valid(seen_id)) {
				jv_free(seen_id);
				jv_free(c);
				continue;
			}
			jv_free(seen_id);
		}
		seen = jv_object_set(seen, jv_string(nm), jv_true());
		names = jv_array_append(names, jv_string(nm));
		email = json_str(c, "email");
		first = json_str(c, "first_name");
		last = json_str(c, "last_name");
		if (id == NULL) {
			const char *pn = cfg_str("odoo", "partner");

			snprintf(full, sizeof(full), "%s",
				 pn ? pn : "Shopify customers");
		} else if (first || last)
			snprintf(full, sizeof(full), "%s%s%s",
				 first ? first : "", first && last ? " " : "",
				 last ? last : "");
		else
			snprintf(full, sizeof(full), "%s",
				 email ? email : "Shopify customer");
		add_item(
		    it, &n, r, "res.partner", nm,
		    jv_array_append(jv_array(),
				    row_of(5, full_xmlid(nm), jv_string(full),
					   str(email), json_get(c, "phone"),
					   id ? jv_string_fmt("shopify:%s", id)
					      : jv_null())));
		jv_free(c);
	}
	jv_free(seen);
	find_xmlids(names);
	/* Those Odoo has: unchanged; the rest are loaded. */
	{
		size_t m = 0;
		struct item *miss = calloc(n + 1, sizeof(*miss));

		for (i = 0; i < n; i++) {
			jv id = xmlid_id(it[i].name);

			if (jv_is_valid(id)) {
				if (strcmp(it[i].r->kind, "customer") == 0)
					rec_touch(it[i].r, "res.partner", id,
						  it[i].name, ACT_UNCHANGED);
				jv_free(id);
				continue;
			}
			jv_free(id);
			miss[m] = it[i];
			it[i].rows = jv_invalid();
			it[i].id = jv_invalid();
			m++;
		}
		load_items("res.partner", fields_of(f), miss, m, NULL);
		/* Only customer records report the partner as theirs. */
		for (i = 0; i < m; i++)
			if (strcmp(miss[i].r->kind, "customer") != 0) {
				jv_free(miss[i].r->odoo);
				miss[i].r->odoo = jv_array();
				miss[i].r->act = ACT_UNCHANGED;
			}
		item_free(miss, m);
	}
	item_free(it, n);
}

/* --- products ----------------------------------------------------------- */

static void
find_products(jv codes)
{
	static const char *const f[] = {"id",	      "default_code", "name",
					"list_price", "barcode",      NULL};
	int n = jv_array_length(jv_copy(codes)), i;

	for (i = 0; i < n; i += (int)batch * 4) {
		jv part = jv_array_slice(
		    jv_copy(codes), i,
		    i + (int)batch * 4 > n ? n : i + (int)batch * 4);
		jv res = search_read("product.product",
				     dom1(leaf("default_code", "in", part)), f);

		jv_array_foreach(res, k, p)
		{
			const char *code = json_str(p, "default_code");

			if (code && !json_has(products, code))
				products =
				    jv_object_set(products, jv_string(code), p);
			else
				jv_free(p);
		}
		jv_free(res);
	}
	jv_free(codes);
}

/* 1 when Odoo's product p already says what the record r says. */
static int
product_same(jv p, jv r)
{
	const char *bc = json_str(r, "barcode"), *obc = json_str(p, "barcode");
	char name[400];
	const char *vt = json_str(r, "variant_title");
	int64_t a, b;
	jv lp;
	int same;

	snprintf(name, sizeof(name), "%s%s%s", json_str(r, "title"),
		 vt ? " - " : "", vt ? vt : "");
	if (json_str(p, "name") == NULL || strcmp(json_str(p, "name"), name))
		return 0;
	if ((bc == NULL) != (obc == NULL) || (bc && strcmp(bc, obc)))
		return 0;
	lp = json_get(p, "list_price");
	same = amount_of(lp, 2, &a) == 0;
	jv_free(lp);
	lp = json_get(r, "price");
	same = same && amount_of(lp, 2, &b) == 0 && a == b;
	jv_free(lp);
	return same;
}

/* 1 when obj (borrowed) has key set to true, or to false. */
static int
is_bool(jv obj, const char *key, jv_kind want)
{
	jv v = json_get(obj, key);
	int yes = jv_get_kind(v) == want;

	jv_free(v);
	return yes;
}

static int
is_true(jv obj, const char *key)
{
	return is_bool(obj, key, JV_KIND_TRUE);
}

static int
is_false(jv obj, const char *key)
{
	return is_bool(obj, key, JV_KIND_FALSE);
}

static void
load_products(void)
{
	struct item *add = calloc(nrecs + 1, sizeof(*add));
	struct item *upd = calloc(nrecs + 1, sizeof(*upd));
	jv codes = jv_array();
	size_t i, na = 0, nu = 0;
	const char *kindf = O.version >= 18 ? "type" : "detailed_type";

	for (i = 0; i < nrecs; i++)
		if (!recs[i].rejected && strcmp(recs[i].kind, "product") == 0 &&
		    json_str(recs[i].v, "sku"))
			codes = jv_array_append(
			    codes, jv_string(json_str(recs[i].v, "sku")));
	find_products(codes);
	for (i = 0; i < nrecs; i++) {
		struct rec *r = &recs[i];
		const char *sku, *vt, *kind;
		jv p, row;
		char name[400];

		if (r->rejected || strcmp(r->kind, "product") != 0)
			continue;
		if ((sku = json_str(r->v, "sku")) == NULL || *sku == '\0') {
			r->skip = "no SKU to match an Odoo product by";
			continue;
		}
		vt = json_str(r->v, "variant_title");
		snprintf(name, sizeof(name), "%s%s%s", json_str(r->v, "title"),
			 vt ? " - " : "", vt ? vt : "");
		p = json_get(products, sku);
		if (jv_is_valid(p) && product_same(p, r->v)) {
			jv id = json_get(p, "id");

			rec_touch(r, "product.product", id, NULL,
				  ACT_UNCHANGED);
			jv_free(id);
			jv_free(p);
			continue;
		}
		/* A gift card, or anything Shopify does not ship, is a
		 * service in Odoo: no delivery is made for it. */
		kind = is_true(r->v, "gift_card") ||
			       is_false(r->v, "requires_shipping")
			   ? "service"
			   : "consu";
		row = row_of(6, jv_is_valid(p) ? json_get(p, "id") : jv_null(),
			     jv_string(name), jv_string(sku),
			     json_get(r->v, "barcode"), json_get(r->v, "price"),
			     jv_string(kind));
		if (jv_is_valid(p)) {
			add_item(upd, &nu, r, "product.product", sku,
				 jv_array_append(jv_array(), row));
		} else {
			char nm[160];

			xmlid_name(nm, sizeof(nm), "product",
				   json_str(r->v, "id"), NULL);
			jv_free(row);
			row = row_of(6, full_xmlid(nm), jv_string(name),
				     jv_string(sku), json_get(r->v, "barcode"),
				     json_get(r->v, "price"), jv_string(kind));
			add_item(add, &na, r, "product.product", nm,
				 jv_array_append(jv_array(), row));
		}
		jv_free(p);
	}
	{
		jv f = jv_array();

		f = jv_array_append(f, jv_string("id"));
		f = jv_array_append(f, jv_string("name"));
		f = jv_array_append(f, jv_string("default_code"));
		f = jv_array_append(f, jv_string("barcode"));
		f = jv_array_append(f, jv_string("list_price"));
		f = jv_array_append(f, jv_string(kindf));
		load_items("product.product", f, add, na, NULL);
		f = jv_array();
		f = jv_array_append(f, jv_string(".id"));
		f = jv_array_append(f, jv_string("name"));
		f = jv_array_append(f, jv_string("default_code"));
		f = jv_array_append(f, jv_string("barcode"));
		f = jv_array_append(f, jv_string("list_price"));
		f = jv_array_append(f, jv_string(kindf));
		for (i = 0; i < nu && !fatal; i += batch)
			load_range("product.product", f, upd, i,
				   i + batch > nu ? nu : i + batch);
		jv_free(f);
	}
	for (i = 0; i < na; i++)
		if (jv_is_valid(add[i].id) && !add[i].r->rejected)
			products = jv_object_set(
			    products, jv_string(json_str(add[i].r->v, "sku")),
			    jv_object_set(jv_object(), jv_string("id"),
					  jv_copy(add[i].id)));
	for (i = 0; i < nu; i++)
		if (jv_is_valid(upd[i].id) && !upd[i].r->rejected)
			rec_touch(upd[i].r, "product.product", upd[i].id, NULL,
				  ACT_UPDATED);
	item_free(add, na);
	item_free(upd, nu);
}

/* --- invoice plans ------------------------------------------------------ */

/* The Odoo tax ids of a plan line's taxes, as "1,2"; -1 when one is not
 * in Odoo. */
static int
tax_cell(jv ptaxes, char *buf, size_t n, const char **missing)
{
	size_t used = 0;

	buf[0] = '\0';
	jv_array_foreach(ptaxes, i, t)
	{
		const char *name = json_str(t, "name");
		jv ot = name ? json_get(taxes, name) : jv_invalid();
		jv id;
		int incl, oincl;

		if (!jv_is_valid(ot) && dry_run) {
			jv ph = placeholder("account.tax", name ? name : "?");

			used += (size_t)snprintf(buf + used, n - used, "%s%s",
						 used ? "," : "",
						 jv_string_value(ph));
			jv_free(ph);
			jv_free(t);
			continue;
		}
		incl =
		    jv_get_kind(json_get(t, "price_include")) == JV_KIND_TRUE;
		oincl =
		    jv_get_kind(json_get(ot, "price_include")) == JV_KIND_TRUE;
		if (!jv_is_valid(ot) || incl != oincl) {
			*missing = name ? name : "(unnamed)";
			jv_free(ot);
			jv_free(t);
			jv_free(ptaxes);
			return -1;
		}
		id = json_get(ot, "id");
		{
			jv txt = id_text(id);
			used += (size_t)snprintf(buf + used, n - used, "%s%s",
						 used ? "," : "",
						 jv_string_value(txt));
			jv_free(txt);
		}
		jv_free(id);
		jv_free(ot);
		jv_free(t);
	}
	jv_free(ptaxes);
	return 0;
}

/* The product for a plan line: its SKU's, else the fallback; invalid
 * (and *why set) when there is none. */
static jv
line_product(jv line, const char **why)
{
	const char *sku = json_str(line, "sku");
	jv p;

	if (sku != NULL) {
		p = json_get(products, sku);
		if (jv_is_valid(p)) {
			jv id = json_get(p, "id");
			jv_free(p);
			return id;
		}
		jv_free(p);
		if (dry_run)
			return placeholder("product.product", sku);
		if (reject_unknown_sku) {
			*why = "unknown_sku";
			return jv_invalid();
		}
	}
	if (jv_get_kind(fallback_product) == JV_KIND_NULL) {
		*why = "no_product";
		return jv_invalid();
	}
	return jv_copy(fallback_product);
}

/* Plan lines as load() rows for an o2m; NULL-safe; returns invalid and
 * rejects the record when a product or tax is missing. */
static jv
plan_rows(struct rec *r, jv plan, const char *prefix, const char *id,
	  int link_sol, jv head)
{
	jv lines = json_get(plan, "lines"), rows = jv_array();
	int first = 1;

	{
		/* One company a run: a plan for another is not booked into
		 * the config's company. */
		const char *pc = json_str(plan, "company");
		const char *cc = cfg_str("odoo", "company");

		if (pc != NULL && cc != NULL && strcmp(pc, cc) != 0) {
			jv_free(lines);
			jv_free(rows);
			jv_free(head);
			rec_reject(r, "other_company",
				   "the plan's company '%s' is not the "
				   "config's '%s'",
				   pc, cc);
			return jv_invalid();
		}
	}
	if (jv_get_kind(lines) != JV_KIND_ARRAY ||
	    jv_array_length(jv_copy(lines)) == 0) {
		jv_free(lines);
		jv_free(rows);
		jv_free(head);
		rec_reject(r, "no_plan",
			   "'invoice_plan.lines' is missing or empty: run "
			   "enrich-tax first");
		return jv_invalid();
	}
	jv_array_foreach(lines, i, ln)
	{
		const char *why = NULL, *missing = NULL;
		const char *ref = json_str(ln, "ref");
		const char *role = json_str(ln, "account_role");
		char lname[160], sol[160], tx[512];
		jv prod = line_product(ln, &why), acc, row;

		if (!jv_is_valid(prod)) {
			rec_reject(r, why,
				   "line '%s': SKU '%s' is not an Odoo product",
				   ref ? ref : "?",
				   json_str(ln, "sku") ? json_str(ln, "sku")
						       : "(none)");
			jv_free(ln);
			break;
		}
		if (tax_cell(json_get(ln, "taxes"), tx, sizeof(tx), &missing) <
		    0) {
			rec_reject(r, "unmapped_tax",
				   "line '%s': tax '%s' is not an Odoo sale "
				   "tax of the company (or differs in price "
				   "inclusion)",
				   ref ? ref : "?", missing);
			jv_free(prod);
			jv_free(ln);
			break;
		}
		xmlid_name(lname, sizeof(lname), prefix, id, ref ? ref : "x");
		xmlid_name(sol, sizeof(sol), "sol", id, ref ? ref : "x");
		acc = role ? account_for_role(role) : jv_invalid();
		row = first ? jv_copy(head) : jv_array();
		if (!first) {
			int k, hn = jv_array_length(jv_copy(head));

			for (k = 0; k < hn; k++)
				row = jv_array_append(row, jv_string(""));
		}
		row = jv_array_concat(
		    row,
		    row_of(7, full_xmlid(lname), prod,
			   jv_string(json_str(ln, "name") ? json_str(ln, "name")
							  : "?"),
			   json_get(ln, "quantity"), json_get(ln, "price_unit"),
			   json_get(ln, "discount"), jv_string(tx)));
		if (link_sol >= 0)
			row = jv_array_append(row, jv_is_valid(acc)
						       ? id_text(acc)
						       : jv_string(""));
		jv_free(acc);
		if (link_sol > 0)
			row = jv_array_append(row, full_xmlid(sol));
		rows = jv_array_append(rows, row);
		first = 0;
		jv_free(ln);
	}
	jv_free(lines);
	jv_free(head);
	if (r->rejected) {
		jv_free(rows);
		return jv_invalid();
	}
	return rows;
}

/* "2026-11-26T00:28:20Z" as Odoo's "2026-11-26 00:28:20". */
static jv
odoo_datetime(const char *t)
{
	char buf[32];

	if (t == NULL || strlen(t) < 19)
		return jv_null();
	snprintf(buf, sizeof(buf), "%.10s %.8s", t, t + 11);
	return jv_string(buf);
}

/* The ids of records made in MODULE, or invalid. */
static jv
id_of(const char *prefix, const char *a, const char *b)
{
	char nm[160];

	xmlid_name(nm, sizeof(nm), prefix, a, b);
	return xmlid_id(nm);
}

/*
 * Add r to the targets t of a workflow step when its Odoo record, made in
 * MODULE as <prefix>_<shop>_<id>, is known; the target owns the id.
 */
static void
add_target(struct target *t, size_t *nt, struct rec *r, const char *prefix,
	   const char *id)
{
	jv x;

	if (id == NULL)
		return;
	x = id_of(prefix, id, NULL);
	if (!jv_is_valid(x)) {
		jv_free(x);
		return;
	}
	t[*nt].r = r;
	t[*nt].id = x;
	(*nt)++;
}

/* --- orders: sale.order + invoice --------------------------------------- */

static void
load_orders(void)
{
	static const char *const so_fields[] = {"id",
						"partner_id/id",
						"client_order_ref",
						"origin",
						"date_order",
						"order_line/id",
						"order_line/product_id/.id",
						"order_line/name",
						"order_line/product_uom_qty",
						"order_line/price_unit",
						"order_line/discount",
						"order_line/tax_id/.id",
						NULL};
	static const char *const inv_fields[] = {
	    "id",
	    "move_type",
	    "partner_id/id",
	    "invoice_date",
	    "invoice_date_due",
	    "ref",
	    "payment_reference",
	    "invoice_origin",
	    "journal_id/.id",
	    "invoice_line_ids/id",
	    "invoice_line_ids/product_id/.id",
	    "invoice_line_ids/name",
	    "invoice_line_ids/quantity",
	    "invoice_line_ids/price_unit",
	    "invoice_line_ids/discount",
	    "invoice_line_ids/tax_ids/.id",
	    "invoice_line_ids/account_id/.id",
	    "invoice_line_ids/sale_line_ids/id",
	    NULL};
	static const char *const date_fields[] = {"id", "date_order", NULL};
	static const char *const confirmed[] = {"sale", "done", NULL};
	static const char *const posted[] = {"posted", NULL};
	struct item *so = calloc(nrecs + 1, sizeof(*so));
	struct item *inv = calloc(nrecs + 1, sizeof(*inv));
	struct item *dates = calloc(nrecs + 1, sizeof(*dates));
	struct target *t = calloc(nrecs + 1, sizeof(*t));
	jv names = jv_array();
	size_t i, nso = 0, ninv = 0, nt = 0, nd = 0;
	jv sales = journal("sales");

	for (i = 0; i < nrecs; i++) {
		const char *id = json_str(recs[i].v, "id");
		char nm[160];

		if (recs[i].rejected || strcmp(recs[i].kind, "order") || !id)
			continue;
		xmlid_name(nm, sizeof(nm), "so", id, NULL);
		names = jv_array_append(names, jv_string(nm));
		xmlid_name(nm, sizeof(nm), "inv", id, NULL);
		names = jv_array_append(names, jv_string(nm));
	}
	find_xmlids(names);
	for (i = 0; i < nrecs; i++) {
		struct rec *r = &recs[i];
		const char *id = json_str(r->v, "id");
		jv plan, have, rows;
		char nm[160], pn[160];

		if (r->rejected || strcmp(r->kind, "order"))
			continue;
		if (id == NULL) {
			rec_reject(r, "missing_field", "'id' is missing");
			continue;
		}
		plan = json_get(r->v, "invoice_plan");
		partner_name(r->v, pn, sizeof(pn));
		xmlid_name(nm, sizeof(nm), "so", id, NULL);
		have = xmlid_id(nm);
		if (jv_is_valid(have)) {
			rec_touch(r, "sale.order", have, nm, ACT_UNCHANGED);
			jv_free(have);
		} else {
			jv_free(have);
			rows = plan_rows(
			    r, plan, "sol", id, -1,
			    row_of(
				5, full_xmlid(nm), full_xmlid(pn),
				json_get(r->v, "name"),
				jv_string_fmt("shopify:%s", id),
				odoo_datetime(json_str(r->v, "processed_at"))));
			if (!jv_is_valid(rows)) {
				jv_free(plan);
				continue;
			}
			add_item(so, &nso, r, NULL, nm, rows);
		}
		jv_free(plan);
	}
	load_items("sale.order", fields_of(so_fields), so, nso, NULL);

	/* confirm, then put back the Shopify date that confirm overwrote */
	for (i = 0; i < nrecs; i++)
		if (!recs[i].rejected && strcmp(recs[i].kind, "order") == 0)
			add_target(t, &nt, &recs[i], "so",
				   json_str(recs[i].v, "id"));
	workflow("sale.order", "state", confirmed, "action_confirm", t, nt,
		 "confirm");
	for (i = 0; i < nt; i++) {
		jv steps = jv_copy(t[i].r->steps);
		int confirmed_now = 0;

		jv_array_foreach(steps, k, s)
		{
			if (strcmp(jv_string_value(s), "confirm") == 0)
				confirmed_now = 1;
			jv_free(s);
		}
		jv_free(steps);
		if (!confirmed_now || t[i].r->rejected)
			continue;
		{
			char nm[160];

			xmlid_name(nm, sizeof(nm), "so",
				   json_str(t[i].r->v, "id"), NULL);
			add_item(dates, &nd, t[i].r, NULL, nm,
				 jv_array_append(
				     jv_array(),
				     row_of(2, full_xmlid(nm),
					    odoo_datetime(json_str(
						t[i].r->v, "processed_at")))));
		}
	}
	{
		jv f = fields_of(date_fields);

		for (i = 0; i < nd && !fatal; i += batch)
			load_range("sale.order", f, dates, i,
				   i + batch > nd ? nd : i + batch);
		jv_free(f);
		for (i = 0; i < nd; i++)
			if (!dates[i].r->rejected)
				rec_step(dates[i].r, "date_order");
	}

	/* invoices */
	for (i = 0; i < nrecs; i++) {
		struct rec *r = &recs[i];
		const char *id = json_str(r->v, "id");
		jv plan, have, rows, sol;
		char nm[160], pn[160], so_nm[160];

		if (r->rejected || strcmp(r->kind, "order"))
			continue;
		xmlid_name(so_nm, sizeof(so_nm), "so", id, NULL);
		sol = xmlid_id(so_nm);
		if (!jv_is_valid(sol) && !dry_run) {
			jv_free(sol);
			continue;
		}
		jv_free(sol);
		xmlid_name(nm, sizeof(nm), "inv", id, NULL);
		have = xmlid_id(nm);
		if (jv_is_valid(have)) {
			rec_touch(r, "account.move", have, nm, ACT_UNCHANGED);
			jv_free(have);
			continue;
		}
		jv_free(have);
		plan = json_get(r->v, "invoice_plan");
		partner_name(r->v, pn, sizeof(pn));
		rows = plan_rows(
		    r, plan, "invl", id, 1,
		    row_of(9, full_xmlid(nm), jv_string("out_invoice"),
			   full_xmlid(pn), json_get(plan, "date"),
			   json_get(plan, "date"), json_get(r->v, "name"),
			   json_get(r->v, "name"),
			   jv_string_fmt("shopify:%s", id),
			   jv_is_valid(sales) ? jv_copy(sales) : jv_null()));
		jv_free(plan);
		if (!jv_is_valid(rows))
			continue;
		add_item(inv, &ninv, r, NULL, nm, rows);
	}
	load_items("account.move", fields_of(inv_fields), inv, ninv, NULL);
	for (i = 0; i < nt; i++)
		jv_free(t[i].id);
	nt = 0;
	for (i = 0; i < nrecs; i++)
		if (!recs[i].rejected && strcmp(recs[i].kind, "order") == 0)
			add_target(t, &nt, &recs[i], "inv",
				   json_str(recs[i].v, "id"));
	workflow("account.move", "state", posted, "action_post", t, nt,
		 "post_invoice");
	for (i = 0; i < nt; i++)
		jv_free(t[i].id);
	free(t);
	jv_free(sales);
	item_free(so, nso);
	item_free(inv, ninv);
	item_free(dates, nd);
}

/* --- refunds: credit notes ---------------------------------------------- */

static void
load_refunds(void)
{
	static const char *const fields[] = {"id",
					     "move_type",
					     "partner_id/id",
					     "invoice_date",
					     "invoice_date_due",
					     "ref",
					     "invoice_origin",
					     "reversed_entry_id/id",
					     "journal_id/.id",
					     "invoice_line_ids/id",
					     "invoice_line_ids/product_id/.id",
					     "invoice_line_ids/name",
					     "invoice_line_ids/quantity",
					     "invoice_line_ids/price_unit",
					     "invoice_line_ids/discount",
					     "invoice_line_ids/tax_ids/.id",
					     "invoice_line_ids/account_id/.id",
					     NULL};
	static const char *const posted[] = {"posted", NULL};
	struct item *it = calloc(nrecs + 1, sizeof(*it));
	struct target *t = calloc(nrecs + 1, sizeof(*t));
	jv names = jv_array(), sales = journal("sales");
	size_t i, n = 0, nt = 0;

	for (i = 0; i < nrecs; i++) {
		char nm[160];

		if (recs[i].rejected || strcmp(recs[i].kind, "refund") ||
		    !json_str(recs[i].v, "id"))
			continue;
		xmlid_name(nm, sizeof(nm), "rinv", json_str(recs[i].v, "id"),
			   NULL);
		names = jv_array_append(names, jv_string(nm));
		if (json_str(recs[i].v, "order_id")) {
			xmlid_name(nm, sizeof(nm), "inv",
				   json_str(recs[i].v, "order_id"), NULL);
			names = jv_array_append(names, jv_string(nm));
		}
	}
	find_xmlids(names);
	for (i = 0; i < nrecs; i++) {
		struct rec *r = &recs[i];
		const char *id = json_str(r->v, "id");
		const char *oid = json_str(r->v, "order_id");
		jv have, plan, rows, order = jv_null();
		char nm[160], inm[160], pn[160];
		size_t k;

		if (r->rejected || strcmp(r->kind, "refund"))
			continue;
		if (id == NULL || oid == NULL) {
			rec_reject(r, "missing_field",
				   "'id' or 'order_id' is missing");
			continue;
		}
		xmlid_name(nm, sizeof(nm), "rinv", id, NULL);
		have = xmlid_id(nm);
		if (jv_is_valid(have)) {
			rec_touch(r, "account.move", have, nm, ACT_UNCHANGED);
			jv_free(have);
			continue;
		}
		jv_free(have);
		xmlid_name(inm, sizeof(inm), "inv", oid, NULL);
		have = xmlid_id(inm);
		if (!jv_is_valid(have) && !dry_run) {
			jv_free(have);
			rec_reject(r, "no_invoice",
				   "the invoice of order %s is not in Odoo: "
				   "load the order first",
				   oid);
			continue;
		}
		jv_free(have);
		/* the order's partner, from the order when it is in the
		 * stream, else the shop's */
		for (k = 0; k < nrecs; k++)
			if (strcmp(recs[k].kind, "order") == 0 &&
			    json_str(recs[k].v, "id") &&
			    strcmp(json_str(recs[k].v, "id"), oid) == 0) {
				jv_free(order);
				order = jv_copy(recs[k].v);
			}
		partner_name(order, pn, sizeof(pn));
		jv_free(order);
		plan = json_get(r->v, "invoice_plan");
		rows = plan_rows(
		    r, plan, "rinvl", id, 0,
		    row_of(9, full_xmlid(nm), jv_string("out_refund"),
			   full_xmlid(pn), json_get(plan, "date"),
			   json_get(plan, "date"),
			   jv_string_fmt("refund %s",
					 json_str(r->v, "order_name")
					     ? json_str(r->v, "order_name")
					     : oid),
			   jv_string_fmt("shopify:%s", oid), full_xmlid(inm),
			   jv_is_valid(sales) ? jv_copy(sales) : jv_null()));
		jv_free(plan);
		if (!jv_is_valid(rows))
			continue;
		add_item(it, &n, r, NULL, nm, rows);
	}
	load_items("account.move", fields_of(fields), it, n, NULL);
	for (i = 0; i < nrecs; i++)
		if (!recs[i].rejected && strcmp(recs[i].kind, "refund") == 0)
			add_target(t, &nt, &recs[i], "rinv",
				   json_str(recs[i].v, "id"));
	workflow("account.move", "state", posted, "action_post", t, nt,
		 "post_credit_note");
	for (i = 0; i < nt; i++)
		jv_free(t[i].id);
	free(t);
	jv_free(sales);
	item_free(it, n);
}

/* --- payments ----------------------------------------------------------- */

/* The invoice (or credit note) a payment settles: its external id name. */
static int
payment_target(struct rec *r, char *buf, size_t n)
{
	const char *type = json_str(r->v, "type");
	const char *key = json_str(r->v, "key");
	size_t i;

	if (type && strcmp(type, "refund") == 0) {
		for (i = 0; i < nrecs; i++) {
			jv p;
			int hit = 0;

			if (strcmp(recs[i].kind, "refund"))
				continue;
			p = json_get(recs[i].v, "payments");
			jv_array_foreach(p, k, x)
			{
				if (jv_get_kind(x) == JV_KIND_STRING && key &&
				    strcmp(jv_string_value(x), key) == 0)
					hit = 1;
				jv_free(x);
			}
			jv_free(p);
			if (hit) {
				xmlid_name(buf, n, "rinv",
					   json_str(recs[i].v, "id"), NULL);
				return 0;
			}
		}
		return -1;
	}
	if (json_str(r->v, "order_id") == NULL)
		return -1;
	xmlid_name(buf, n, "inv", json_str(r->v, "order_id"), NULL);
	return 0;
}

/* 1 when order id is in the stream and was rejected. */
static int
order_rejected(const char *id)
{
	size_t i;

	for (i = 0; id && i < nrecs; i++)
		if (recs[i].rejected && strcmp(recs[i].kind, "order") == 0 &&
		    json_str(recs[i].v, "id") &&
		    strcmp(json_str(recs[i].v, "id"), id) == 0)
			return 1;
	return 0;
}

static int
moves_money(jv p)
{
	const char *status = json_str(p, "status"), *type = json_str(p, "type");

	return jv_get_kind(json_get(p, "moves_money")) == JV_KIND_TRUE &&
	       status && strcmp(status, "success") == 0 && type &&
	       (strcmp(type, "sale") == 0 || strcmp(type, "capture") == 0 ||
		strcmp(type, "refund") == 0);
}

static void
load_payments(void)
{
	static const char *const posted16[] = {"posted", NULL};
	static const char *const posted18[] = {"in_process", "paid", NULL};
	static const char *const lf[] = {"id", "payment_id", "reconciled",
					 NULL};
	struct item *it = calloc(nrecs + 1, sizeof(*it));
	struct target *t = calloc(nrecs + 1, sizeof(*t));
	jv names = jv_array(), f;
	size_t i, n = 0, nt = 0;

	for (i = 0; i < nrecs; i++) {
		char nm[160];

		if (recs[i].rejected || strcmp(recs[i].kind, "payment") ||
		    !moves_money(recs[i].v))
			continue;
		xmlid_name(nm, sizeof(nm), "pay", json_str(recs[i].v, "id"),
			   NULL);
		names = jv_array_append(names, jv_string(nm));
		if (payment_target(&recs[i], nm, sizeof(nm)) == 0)
			names = jv_array_append(names, jv_string(nm));
	}
	find_xmlids(names);
	for (i = 0; i < nrecs; i++) {
		struct rec *r = &recs[i];
		const char *id = json_str(r->v, "id"), *gw;
		const char *type = json_str(r->v, "type");
		jv have, jid, gwj, order = jv_null();
		char nm[160], pn[160], memo[200];
		size_t k;

		if (r->rejected || strcmp(r->kind, "payment"))
			continue;
		if (!moves_money(r->v)) {
			r->skip = "moves no money (authorization, void, "
				  "failure or pending)";
			continue;
		}
		xmlid_name(nm, sizeof(nm), "pay", id, NULL);
		have = xmlid_id(nm);
		if (jv_is_valid(have)) {
			rec_touch(r, "account.payment", have, nm,
				  ACT_UNCHANGED);
			jv_free(have);
			continue;
		}
		jv_free(have);
		gw = json_str(r->v, "gateway");
		gwj = cfg("gateways", gw ? gw : "");
		jid = json_str(gwj, "journal")
			  ? journal(json_str(gwj, "journal"))
			  : jv_invalid();
		jv_free(gwj);
		if (!jv_is_valid(jid)) {
			jv_free(jid);
			rec_reject(r, "unknown_gateway",
				   "gateway '%s' has no journal in the config",
				   gw ? gw : "(none)");
			continue;
		}
		for (k = 0; k < nrecs; k++)
			if (strcmp(recs[k].kind, "order") == 0 &&
			    json_str(recs[k].v, "id") &&
			    json_str(r->v, "order_id") &&
			    strcmp(json_str(recs[k].v, "id"),
				   json_str(r->v, "order_id")) == 0) {
				jv_free(order);
				order = jv_copy(recs[k].v);
			}
		if (order_rejected(json_str(r->v, "order_id"))) {
			jv_free(order);
			jv_free(jid);
			rec_reject(
			    r, "order_rejected",
			    "its order %s was rejected, so the payment is "
			    "not booked",
			    json_str(r->v, "order_id"));
			continue;
		}
		partner_name(order, pn, sizeof(pn));
		jv_free(order);
		snprintf(
		    memo, sizeof(memo), "%s %s",
		    json_str(r->v, "order_name") ? json_str(r->v, "order_name")
						 : "",
		    json_str(r->v, "payment_id") ? json_str(r->v, "payment_id")
						 : id);
		add_item(
		    it, &n, r, NULL, nm,
		    jv_array_append(
			jv_array(),
			row_of(8, full_xmlid(nm),
			       jv_string(type && strcmp(type, "refund") == 0
					     ? "outbound"
					     : "inbound"),
			       jv_string("customer"), full_xmlid(pn),
			       json_get(r->v, "amount"), jid,
			       jv_string_fmt(
				   "%.10s", json_str(r->v, "processed_at")
						? json_str(r->v, "processed_at")
						: ""),
			       jv_string(memo))));
	}
	f = jv_array();
	f = jv_array_append(f, jv_string("id"));
	f = jv_array_append(f, jv_string("payment_type"));
	f = jv_array_append(f, jv_string("partner_type"));
	f = jv_array_append(f, jv_string("partner_id/id"));
	f = jv_array_append(f, jv_string("amount"));
	f = jv_array_append(f, jv_string("journal_id/.id"));
	f = jv_array_append(f, jv_string("date"));
	f = jv_array_append(f, jv_string(O.version >= 18 ? "memo" : "ref"));
	load_items("account.payment", f, it, n, NULL);
	for (i = 0; i < nrecs; i++)
		if (!recs[i].rejected && strcmp(recs[i].kind, "payment") == 0 &&
		    moves_money(recs[i].v))
			add_target(t, &nt, &recs[i], "pay",
				   json_str(recs[i].v, "id"));
	workflow("account.payment", "state",
		 O.version >= 18 ? posted18 : posted16, "action_post", t, nt,
		 "post_payment");

	/* Reconcile each with its invoice or credit note: the payment's
	 * receivable line, where not yet reconciled, assigned to it. */
	if (nt > 0 && !fatal) {
		jv ids = jv_array(), lines, byp = jv_object();

		for (i = 0; i < nt; i++)
			if (!t[i].r->rejected)
				ids = jv_array_append(ids, jv_copy(t[i].id));
		lines = search_read("account.move.line",
				    dom2(leaf("payment_id", "in", ids),
					 leaf("account_id.account_type", "=",
					      jv_string("asset_receivable"))),
				    lf);
		jv_array_foreach(lines, k, l)
		{
			jv p = json_get(l, "payment_id"), pid;

			pid = jv_get_kind(p) == JV_KIND_ARRAY
				  ? jv_array_get(jv_copy(p), 0)
				  : jv_copy(p);
			if (jv_get_kind(json_get(l, "reconciled")) !=
			    JV_KIND_TRUE)
				byp = jv_object_set(byp, id_text(pid),
						    json_get(l, "id"));
			jv_free(pid);
			jv_free(p);
			jv_free(l);
		}
		jv_free(lines);
		for (i = 0; i < nt && !fatal; i++) {
			char tn[160];
			jv line, target, args, res;
			struct rpc_error e;
			int rc;

			if (t[i].r->rejected)
				continue;
			line = dry_run ? jv_string_fmt("@account.move.line:"
						       "receivable of %s",
						       jv_string_value(t[i].id))
				       : jv_object_get(jv_copy(byp),
						       id_text(t[i].id));
			if (!jv_is_valid(line)) {
				jv_free(line);
				continue; /* reconciled already */
			}
			if (payment_target(t[i].r, tn, sizeof(tn)) < 0) {
				jv_free(line);
				continue;
			}
			target = dry_run ? jv_string_fmt("@%s.%s", MODULE, tn)
					 : xmlid_id(tn);
			if (!jv_is_valid(target)) {
				jv_free(target);
				jv_free(line);
				continue;
			}
			args = jv_array_append(
			    jv_array_append(
				jv_array(),
				jv_array_append(jv_array(), target)),
			    line);
			rc = call("account.move", "js_assign_outstanding_line",
				  args, jv_object(), 0, &res, &e);
			jv_free(res);
			if (rc == RPC_OK)
				rec_step(t[i].r, "reconcile");
			else if (rc == RPC_ODOO)
				rec_reject(t[i].r, "odoo_refused",
					   "account.move "
					   "js_assign_outstanding_line: %s: %s",
					   e.name, e.message);
			else if (rc == RPC_LOST)
				msg_warn("odoo: reconcile of payment %s: "
					 "connection lost; a rerun finishes it",
					 json_str(t[i].r->v, "id"));
		}
		jv_free(byp);
	}
	for (i = 0; i < nt; i++)
		jv_free(t[i].id);
	free(t);
	item_free(it, n);
}

/* --- payouts: one entry per payout_recon -------------------------------- */

/* The Odoo account of an entry line's role for a gateway. */
static jv
recon_account(const char *role, const char *gateway)
{
	if (strcmp(role, "clearing") == 0) {
		jv g = cfg("gateways", gateway);
		const char *c = json_str(g, "clearing");
		jv a = c ? account_for_role(c) : jv_invalid();

		jv_free(g);
		return a;
	}
	return account_for_role(role);
}

static void
load_payouts(void)
{
	static const char *const fields[] = {"id",
					     "move_type",
					     "journal_id/.id",
					     "date",
					     "ref",
					     "line_ids/id",
					     "line_ids/account_id/.id",
					     "line_ids/name",
					     "line_ids/debit",
					     "line_ids/credit",
					     NULL};
	static const char *const posted[] = {"posted", NULL};
	static const char *const lf[] = {
	    "id", "move_id", "account_id", "payment_id", "reconciled", NULL};
	struct item *it = calloc(nrecs + 1, sizeof(*it));
	struct target *t = calloc(nrecs + 1, sizeof(*t));
	jv names = jv_array();
	size_t i, n = 0, nt = 0;

	for (i = 0; i < nrecs; i++) {
		const char *pk = json_str(recs[i].v, "payout_key");
		char nm[160];

		if (recs[i].rejected || strcmp(recs[i].kind, "payout_recon") ||
		    pk == NULL || strrchr(pk, '/') == NULL)
			continue;
		xmlid_name(nm, sizeof(nm), "payout", strrchr(pk, '/') + 1,
			   NULL);
		names = jv_array_append(names, jv_string(nm));
	}
	find_xmlids(names);
	for (i = 0; i < nrecs; i++) {
		struct rec *r = &recs[i];
		const char *pk = json_str(r->v, "payout_key");
		const char *gw = json_str(r->v, "gateway");
		jv entry, lines, rows, have, jid, g;
		char nm[160], ln[160];
		int k = 0, bad = 0;

		if (r->rejected || strcmp(r->kind, "payout_recon"))
			continue;
		rows = jv_array();
		if (pk == NULL || strrchr(pk, '/') == NULL || gw == NULL) {
			rec_reject(r, "missing_field",
				   "'payout_key' or 'gateway' is missing");
			jv_free(rows);
			continue;
		}
		xmlid_name(nm, sizeof(nm), "payout", strrchr(pk, '/') + 1,
			   NULL);
		have = xmlid_id(nm);
		if (jv_is_valid(have)) {
			rec_touch(r, "account.move", have, nm, ACT_UNCHANGED);
			jv_free(have);
			jv_free(rows);
			continue;
		}
		jv_free(have);
		g = cfg("gateways", gw);
		jid = json_str(g, "journal") ? journal(json_str(g, "journal"))
					     : jv_invalid();
		jv_free(g);
		if (!jv_is_valid(jid)) {
			jv_free(jid);
			jv_free(rows);
			rec_reject(r, "unknown_gateway",
				   "gateway '%s' has no journal in the config",
				   gw);
			continue;
		}
		entry = json_get(r->v, "entry");
		lines = json_get(entry, "lines");
		jv_array_foreach(lines, j, l)
		{
			const char *role = json_str(l, "account_role");
			jv acc = role ? recon_account(role, gw) : jv_invalid();
			jv row;

			if (!jv_is_valid(acc) && !bad) {
				rec_reject(r, "unmapped_account",
					   "entry line %d: account role '%s' "
					   "has no account in the config",
					   j + 1, role ? role : "(none)");
				bad = 1;
			}
			if (bad) {
				jv_free(acc);
				jv_free(l);
				continue;
			}
			snprintf(ln, sizeof(ln), "l%d", ++k);
			{
				char lnm[160];

				xmlid_name(lnm, sizeof(lnm), "payoutl",
					   strrchr(pk, '/') + 1, ln);
				row =
				    k == 1
					? row_of(5, full_xmlid(nm),
						 jv_string("entry"),
						 jv_copy(jid),
						 json_get(entry, "date"),
						 json_get(entry, "ref"))
					: row_of(5, jv_string(""),
						 jv_string(""), jv_string(""),
						 jv_string(""), jv_string(""));
				row = jv_array_concat(
				    row,
				    row_of(5, full_xmlid(lnm), id_text(acc),
					   json_get(l, "name"),
					   json_get(l, "debit"),
					   json_get(l, "credit")));
			}
			rows = jv_array_append(rows, row);
			jv_free(acc);
			jv_free(l);
		}
		jv_free(lines);
		jv_free(entry);
		jv_free(jid);
		if (bad || k == 0) {
			if (!bad)
				rec_reject(r, "no_entry",
					   "'entry.lines' is missing or empty");
			jv_free(rows);
			continue;
		}
		add_item(it, &n, r, NULL, nm, rows);
	}
	load_items("account.move", fields_of(fields), it, n, NULL);
	for (i = 0; i < nrecs; i++) {
		const char *pk = json_str(recs[i].v, "payout_key");

		if (!recs[i].rejected &&
		    strcmp(recs[i].kind, "payout_recon") == 0 && pk != NULL &&
		    strrchr(pk, '/') != NULL)
			add_target(t, &nt, &recs[i], "payout",
				   strrchr(pk, '/') + 1);
	}
	workflow("account.move", "state", posted, "action_post", t, nt,
		 "post_entry");

	/* Reconcile the clearing lines of each entry with the clearing
	 * lines of the payments it settles: one call per payout. */
	for (i = 0; i < nt && !fatal; i++) {
		struct rec *r = t[i].r;
		const char *gw = json_str(r->v, "gateway");
		jv clearing = recon_account("clearing", gw), pays = jv_array();
		jv entry = json_get(r->v, "entry"), lines, got, ids;
		struct rpc_error e;
		jv res;
		int rc, have_entry = 0, have_pay = 0;

		if (r->rejected || !jv_is_valid(clearing)) {
			jv_free(clearing);
			jv_free(pays);
			jv_free(entry);
			continue;
		}
		lines = json_get(entry, "lines");
		jv_array_foreach(lines, j, l)
		{
			jv pk = json_get(l, "payments");

			jv_array_foreach(pk, m, key)
			{
				const char *s =
				    jv_get_kind(key) == JV_KIND_STRING
					? strrchr(jv_string_value(key), '/')
					: NULL;
				jv id = s ? id_of("pay", s + 1, NULL)
					  : jv_invalid();

				if (jv_is_valid(id))
					pays = jv_array_append(pays, id);
				else
					jv_free(id);
				jv_free(key);
			}
			jv_free(pk);
			jv_free(l);
		}
		jv_free(lines);
		jv_free(entry);
		/* [account = clearing, '|', move = entry, payment in pays] */
		got = jv_array_append(
		    dom2(leaf("account_id", "=", jv_copy(clearing)),
			 jv_string("|")),
		    leaf("move_id", "=", jv_copy(t[i].id)));
		got = jv_array_append(got, leaf("payment_id", "in", pays));
		got = search_read("account.move.line", got, lf);
		ids = jv_array();
		jv_array_foreach(got, j, l)
		{
			jv pid = json_get(l, "payment_id");

			if (jv_get_kind(json_get(l, "reconciled")) !=
			    JV_KIND_TRUE) {
				ids = jv_array_append(ids, json_get(l, "id"));
				if (jv_get_kind(pid) == JV_KIND_ARRAY)
					have_pay = 1;
				else
					have_entry = 1;
			}
			jv_free(pid);
			jv_free(l);
		}
		jv_free(got);
		jv_free(clearing);
		if (dry_run) {
			ids = jv_array_append(
			    ids, jv_string("@account.move.line:clearing"));
			have_entry = have_pay = 1;
		}
		if (!have_entry || !have_pay) {
			jv_free(ids);
			continue;
		}
		rc = call("account.move.line", "reconcile",
			  jv_array_append(jv_array(), ids), jv_object(), 0,
			  &res, &e);
		jv_free(res);
		if (rc == RPC_OK)
			rec_step(r, "reconcile_clearing");
		else if (rc == RPC_ODOO)
			rec_reject(r, "odoo_refused",
				   "account.move.line reconcile: %s: %s",
				   e.name, e.message);
		else if (rc == RPC_LOST)
			msg_warn("odoo: reconcile of payout %s: connection "
				 "lost; a rerun finishes it",
				 json_str(r->v, "payout_key"));
	}
	for (i = 0; i < nt; i++)
		jv_free(t[i].id);
	free(t);
	item_free(it, n);
}

/* --- --verify ----------------------------------------------------------- */

static void
diff_add(struct rec *r, const char *what, jv expected, jv odoo)
{
	jv d = jv_object();

	d = jv_object_set(d, jv_string("what"), jv_string(what));
	d = jv_object_set(d, jv_string("expected"), expected);
	d = jv_object_set(d, jv_string("odoo"), odoo);
	r->diffs = jv_array_append(r->diffs, d);
}

/* Compare Odoo's amount field of x with the record's decimal text. */
static void
diff_amount(struct rec *r, const char *what, jv x, const char *field,
	    const char *want, int exp)
{
	jv got = json_get(x, field);
	int64_t a, b;
	char buf[MONEY_TEXT_MAX];

	if (want == NULL) {
		jv_free(got);
		return;
	}
	if (amount_of(got, exp, &a) != 0) {
		diff_add(r, what, jv_string(want), jv_copy(got));
	} else if (money_parse(want, strlen(want), exp, &b,
			       &(const char *){NULL}) != 0 ||
		   a != b) {
		money_format(a, exp, buf);
		diff_add(r, what, jv_string(want), jv_string(buf));
	}
	jv_free(got);
}

/* 1 when the stream has a successful sale or capture of order id. */
static int
order_paid(const char *id)
{
	size_t i;

	for (i = 0; i < nrecs; i++) {
		const char *o = json_str(recs[i].v, "order_id");
		const char *type = json_str(recs[i].v, "type");

		if (strcmp(recs[i].kind, "payment") == 0 && o &&
		    strcmp(o, id) == 0 && moves_money(recs[i].v) && type &&
		    strcmp(type, "refund") != 0)
			return 1;
	}
	return 0;
}

static jv
read_by_ids(const char *model, jv ids, const char *const *fields)
{
	jv res = search_read(model, dom1(leaf("id", "in", ids)), fields), m;

	m = jv_object();
	jv_array_foreach(res, i, x)
	{
		jv id = json_get(x, "id");

		m = jv_object_set(m, id_text(id), x);
		jv_free(id);
	}
	jv_free(res);
	return m;
}

static const char *
state_is(jv x, const char *field, const char *const *ok)
{
	const char *s = json_str(x, field);

	for (; s && *ok; ok++)
		if (strcmp(s, *ok) == 0)
			return NULL;
	return s ? s : "(none)";
}

/*
 * What Odoo holds for r under the external id <tag>_<id>, looked up in
 * table (records read by database id); owned, or jv_invalid() after
 * noting that it is missing.  Its database id goes to *dbid (owned).
 */
static jv
verify_find(struct rec *r, jv table, const char *tag, const char *id,
	    const char *what, jv *dbid)
{
	jv x;

	*dbid = id_of(tag, id, NULL);
	x = jv_is_valid(*dbid) ? jv_object_get(jv_copy(table), id_text(*dbid))
			       : jv_invalid();
	if (!jv_is_valid(x))
		diff_add(r, what, jv_string("present"), jv_null());
	return x;
}

/* Note a difference when x's field is none of ok: what wants want. */
static void
verify_state(struct rec *r, jv x, const char *field, const char *const *ok,
	     const char *what, const char *want)
{
	const char *bad = state_is(x, field, ok);

	if (bad != NULL)
		diff_add(r, what, jv_string(want), jv_string(bad));
}

static void
verify_all(void)
{
	static const char *const so_f[] = {"id", "state", NULL};
	static const char *const mv_f[] = {"id", "state", "amount_total",
					   "payment_state", NULL};
	static const char *const pay_f[] = {"id", "state", "is_reconciled",
					    NULL};
	static const char *const line_f[] = {"id",    "move_id", "account_id",
					     "debit", "credit",	 "reconciled",
					     NULL};
	static const char *const sale_ok[] = {"sale", "done", NULL};
	static const char *const posted[] = {"posted", NULL};
	static const char *const pay_ok16[] = {"posted", NULL};
	static const char *const pay_ok18[] = {"in_process", "paid", NULL};
	static const char *const paid[] = {"paid", "in_payment", NULL};
	jv names = jv_array(), so_ids = jv_array(), mv_ids = jv_array();
	jv pay_ids = jv_array(), sos, mvs, pays, lines, bank;
	size_t i;
	char nm[160];

	for (i = 0; i < nrecs; i++) {
		struct rec *r = &recs[i];
		const char *id = json_str(r->v, "id");
		const char *pk = json_str(r->v, "payout_key");

		if (strcmp(r->kind, "order") == 0 && id) {
			xmlid_name(nm, sizeof(nm), "so", id, NULL);
			names = jv_array_append(names, jv_string(nm));
			xmlid_name(nm, sizeof(nm), "inv", id, NULL);
			names = jv_array_append(names, jv_string(nm));
		} else if (strcmp(r->kind, "refund") == 0 && id) {
			xmlid_name(nm, sizeof(nm), "rinv", id, NULL);
			names = jv_array_append(names, jv_string(nm));
		} else if (strcmp(r->kind, "payment") == 0 && id &&
			   moves_money(r->v)) {
			xmlid_name(nm, sizeof(nm), "pay", id, NULL);
			names = jv_array_append(names, jv_string(nm));
		} else if (strcmp(r->kind, "payout_recon") == 0 && pk &&
			   strrchr(pk, '/')) {
			xmlid_name(nm, sizeof(nm), "payout",
				   strrchr(pk, '/') + 1, NULL);
			names = jv_array_append(names, jv_string(nm));
		}
	}
	find_xmlids(jv_copy(names));
	jv_array_foreach(names, k, n)
	{
		jv id = xmlid_id(jv_string_value(n));

		if (jv_is_valid(id)) {
			if (strncmp(jv_string_value(n), "so_", 3) == 0)
				so_ids = jv_array_append(so_ids, id);
			else if (strncmp(jv_string_value(n), "pay_", 4) == 0)
				pay_ids = jv_array_append(pay_ids, id);
			else
				mv_ids = jv_array_append(mv_ids, id);
		} else
			jv_free(id);
		jv_free(n);
	}
	jv_free(names);
	sos = read_by_ids("sale.order", so_ids, so_f);
	lines =
	    search_read("account.move.line",
			dom1(leaf("move_id", "in", jv_copy(mv_ids))), line_f);
	mvs = read_by_ids("account.move", mv_ids, mv_f);
	pays = read_by_ids("account.payment", pay_ids, pay_f);
	bank = account_for_role("bank");
	for (i = 0; i < nrecs; i++) {
		struct rec *r = &recs[i];
		const char *id = json_str(r->v, "id");
		const char *cur = json_str(r->v, "currency");
		int exp = cur ? currency_exponent(cur) : 2;
		const char *bad;
		jv x, dbid;

		if (r->rejected)
			continue;
		if (exp < 0)
			exp = 2;
		if (strcmp(r->kind, "order") == 0 && id) {
			jv totals = json_get(r->v, "totals");

			x = verify_find(r, sos, "so", id, "sale.order", &dbid);
			if (jv_is_valid(x)) {
				if ((bad = state_is(x, "state", sale_ok)))
					diff_add(r, "sale.order state",
						 jv_string("sale"),
						 jv_string(bad));
				else
					rec_touch(r, "sale.order", dbid, NULL,
						  ACT_UNCHANGED);
			}
			jv_free(x);
			jv_free(dbid);
			x = verify_find(r, mvs, "inv", id, "invoice", &dbid);
			if (jv_is_valid(x)) {
				verify_state(r, x, "state", posted,
					     "invoice state", "posted");
				diff_amount(r, "invoice total", x,
					    "amount_total",
					    json_str(totals, "total"), exp);
				if (order_paid(id))
					verify_state(
					    r, x, "payment_state", paid,
					    "invoice payment_state", "paid");
				rec_touch(r, "account.move", dbid, NULL,
					  ACT_UNCHANGED);
			}
			jv_free(x);
			jv_free(dbid);
			jv_free(totals);
		} else if (strcmp(r->kind, "refund") == 0 && id) {
			x = verify_find(r, mvs, "rinv", id, "credit note",
					&dbid);
			if (jv_is_valid(x)) {
				verify_state(r, x, "state", posted,
					     "credit note state", "posted");
				diff_amount(r, "credit note total", x,
					    "amount_total",
					    json_str(r->v, "total"), exp);
				rec_touch(r, "account.move", dbid, NULL,
					  ACT_UNCHANGED);
			}
			jv_free(x);
			jv_free(dbid);
		} else if (strcmp(r->kind, "payment") == 0 && id &&
			   moves_money(r->v)) {
			x = verify_find(r, pays, "pay", id, "payment", &dbid);
			if (jv_is_valid(x)) {
				verify_state(r, x, "state",
					     O.version >= 18 ? pay_ok18
							     : pay_ok16,
					     "payment state", "posted");
				if (!is_true(x, "is_reconciled"))
					diff_add(r, "payment reconciled",
						 jv_true(), jv_false());
				rec_touch(r, "account.payment", dbid, NULL,
					  ACT_UNCHANGED);
			}
			jv_free(x);
			jv_free(dbid);
		} else if (strcmp(r->kind, "payout_recon") == 0 &&
			   json_str(r->v, "payout_key")) {
			const char *pk =
			    strrchr(json_str(r->v, "payout_key"), '/');
			const char *gw = json_str(r->v, "gateway");
			jv clearing = recon_account("clearing", gw ? gw : "");
			int64_t bank_dr = 0, want = 0;
			int open = 0, nbank = 0;
			char buf[MONEY_TEXT_MAX];

			dbid =
			    pk ? id_of("payout", pk + 1, NULL) : jv_invalid();
			x = jv_is_valid(dbid)
				? jv_object_get(jv_copy(mvs), id_text(dbid))
				: jv_invalid();
			if (!jv_is_valid(x)) {
				diff_add(r, "payout entry",
					 jv_string("present"), jv_null());
			} else {
				if ((bad = state_is(x, "state", posted)))
					diff_add(r, "payout entry state",
						 jv_string("posted"),
						 jv_string(bad));
				jv_array_foreach(lines, k, l)
				{
					jv mv = json_get(l, "move_id");
					jv mid =
					    jv_get_kind(mv) == JV_KIND_ARRAY
						? jv_array_get(jv_copy(mv), 0)
						: jv_null();
					jv acc = json_get(l, "account_id");
					jv aid =
					    jv_get_kind(acc) == JV_KIND_ARRAY
						? jv_array_get(jv_copy(acc), 0)
						: jv_null();
					int64_t d = 0, c = 0;

					if (jv_equal(jv_copy(mid),
						     jv_copy(dbid))) {
						jv dv = json_get(l, "debit");
						jv cv = json_get(l, "credit");

						amount_of(dv, exp, &d);
						amount_of(cv, exp, &c);
						jv_free(dv);
						jv_free(cv);
						if (jv_is_valid(bank) &&
						    jv_equal(jv_copy(aid),
							     jv_copy(bank))) {
							bank_dr += d - c;
							nbank++;
						}
						if (jv_is_valid(clearing) &&
						    jv_equal(
							jv_copy(aid),
							jv_copy(clearing)) &&
						    jv_get_kind(json_get(
							l, "reconciled")) !=
							JV_KIND_TRUE)
							open++;
					}
					jv_free(mid);
					jv_free(mv);
					jv_free(aid);
					jv_free(acc);
					jv_free(l);
				}
				{
					jv amt = json_get(r->v, "amount");

					if (amount_of(amt, exp, &want) != 0 ||
					    want != bank_dr) {
						money_format(bank_dr, exp, buf);
						diff_add(r, "payout bank line",
							 jv_copy(amt),
							 jv_string(buf));
					}
					jv_free(amt);
				}
				if (open > 0 && json_str(r->v, "status") &&
				    strcmp(json_str(r->v, "status"),
					   "balanced") == 0)
					diff_add(r, "clearing lines reconciled",
						 jv_number(0), jv_number(open));
				rec_touch(r, "account.move", dbid, NULL,
					  ACT_UNCHANGED);
			}
			(void)nbank;
			jv_free(clearing);
			jv_free(x);
			jv_free(dbid);
		} else if (!r->skip)
			r->skip = "nothing of it is kept in Odoo";
	}
	jv_free(bank);
	jv_free(sos);
	jv_free(mvs);
	jv_free(pays);
	jv_free(lines);
}

/* --- input and output --------------------------------------------------- */

static int
read_input(int argc, char **argv)
{
	struct ndjson_reader rd;
	const char *line;
	size_t len, cap = 0;
	int rc, status = 0;

	ndjson_reader_init(&rd, argc, argv);
	while ((rc = ndjson_reader_next(&rd, &line, &len)) != 0) {
		struct rec *r;
		jv v;

		if (rc < 0) {
			msg_warn("%s", rd.err);
			status = exit_worst(status, rd.status);
			continue;
		}
		ST.in++;
		if (nrecs == cap) {
			struct rec *g =
			    realloc(recs, (cap = cap * 2 + 64) * sizeof(*recs));

			if (g == NULL) {
				ndjson_reader_release(&rd);
				return msg_fail(EX_OSERR, "out of memory");
			}
			recs = g;
		}
		r = &recs[nrecs];
		memset(r, 0, sizeof(*r));
		r->raw = malloc(len + 1);
		r->file = strdup(rd.name);
		if (r->raw == NULL || r->file == NULL) {
			ndjson_reader_release(&rd);
			return msg_fail(EX_OSERR, "out of memory");
		}
		memcpy(r->raw, line, len + 1);
		r->rawlen = len;
		r->line = rd.lineno;
		r->odoo = jv_array();
		r->steps = jv_array();
		r->diffs = jv_array();
		v = jv_parse_sized(line, (int)len);
		nrecs++;
		if (jv_get_kind(v) != JV_KIND_OBJECT ||
		    json_str(v, "kind") == NULL) {
			jv_free(v);
			r->v = jv_object();
			r->kind = "(not a record)";
			counters_add(&ST.in_kind, r->kind);
			rec_reject(r, "not_record",
				   "not a record: expected a JSON object with "
				   "a 'kind'");
			continue;
		}
		r->v = v;
		r->kind = json_str(v, "kind");
		counters_add(&ST.in_kind, r->kind);
	}
	ndjson_reader_release(&rd);
	return status;
}

static int
write_output(void)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < nrecs; i++) {
		struct rec *r = &recs[i];
		const char *key = json_str(r->v, "key");
		jv o;

		if (r->rejected)
			continue;
		o = jv_object();
		o = jv_object_set(o, jv_string("kind"),
				  jv_string(verify ? "verified" : "loaded"));
		o = jv_object_set(o, jv_string("shop"), str(shop));
		o = jv_object_set(o, jv_string("v"), jv_number(SCHEMA_VERSION));
		o = jv_object_set(o, jv_string("key"),
				  jv_string_fmt("%s/%s/%s", shop,
						verify ? "verified" : "loaded",
						key ? key : "?"));
		o = jv_object_set(o, jv_string("record_key"), str(key));
		o = jv_object_set(o, jv_string("record_kind"),
				  jv_string(r->kind));
		{
			jv first = jv_array_get(jv_copy(r->odoo), 0);

			o = jv_object_set(o, jv_string("model"),
					  jv_is_valid(first)
					      ? json_get(first, "model")
					      : jv_null());
			o = jv_object_set(o, jv_string("odoo_id"),
					  jv_is_valid(first)
					      ? json_get(first, "id")
					      : jv_null());
			o = jv_object_set(o, jv_string("xmlid"),
					  jv_is_valid(first)
					      ? json_get(first, "xmlid")
					      : jv_null());
			jv_free(first);
		}
		o = jv_object_set(o, jv_string("odoo"), jv_copy(r->odoo));
		if (verify) {
			o = jv_object_set(
			    o, jv_string("status"),
			    jv_string(r->skip ? "skipped"
				      : jv_array_length(jv_copy(r->diffs)) > 0
					  ? "different"
					  : "same"));
			o = jv_object_set(o, jv_string("differences"),
					  jv_copy(r->diffs));
		} else {
			int skipped = r->skip != NULL ||
				      jv_array_length(jv_copy(r->odoo)) == 0;

			o = jv_object_set(
			    o, jv_string("action"),
			    jv_string(skipped ? "skipped"
				      : jv_array_length(jv_copy(r->steps)) >
						  0 &&
					      r->act == ACT_UNCHANGED
					  ? "updated"
					  : action_names[r->act]));
			o = jv_object_set(o, jv_string("steps"),
					  jv_copy(r->steps));
		}
		o = jv_object_set(o, jv_string("reason"),
				  r->skip ? jv_string(r->skip)
				  : jv_array_length(jv_copy(r->odoo)) == 0
				      ? jv_string("carried by another record "
						  "or not kept in Odoo")
				      : jv_null());
		counters_add(&ST.out_kind, verify ? "verified" : "loaded");
		ST.out++;
		if (json_emit(stdout, o) < 0)
			rc = -1;
	}
	return rc;
}

/* --- configuration ------------------------------------------------------ */

/* Our own small reader: the whole file as one JSON object. */
static int
read_config(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return msg_fail(EX_NOINPUT, "cannot open '%s':", path);
	do {
		if (len + 4096 + 1 > cap) {
			char *g = realloc(buf, cap = cap * 2 + 8192);

			if (g == NULL) {
				free(buf);
				fclose(f);
				return msg_fail(EX_OSERR, "out of memory");
			}
			buf = g;
		}
		n = fread(buf + len, 1, 4096, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return msg_fail(EX_IOERR, "cannot read '%s':", path);
	}
	fclose(f);
	config = jv_parse_sized(buf, (int)len);
	free(buf);
	if (jv_get_kind(config) != JV_KIND_OBJECT) {
		jv_free(config);
		config = jv_object();
		return msg_fail(EX_CONFIG, "%s: not a JSON object", path);
	}
	shop = json_str(config, "shop");
	if (shop == NULL || cfg_str("odoo", "url") == NULL ||
	    cfg_str("odoo", "database") == NULL ||
	    cfg_str("odoo", "user") == NULL)
		return msg_fail(EX_CONFIG,
				"%s: 'shop', 'odoo.url', 'odoo.database' and "
				"'odoo.user' are required",
				path);
	return 0;
}

/* The key: ODOO_API_KEY, else ODOO_PASSWORD, else odoo.key_file (relative
 * to the config's directory). */
static int
load_key(const char *config_path)
{
	static const char *const envs[] = {"ODOO_API_KEY", "ODOO_PASSWORD",
					   NULL};
	const char *kf = cfg_str("odoo", "key_file"), *why;
	const char *env = secret_env(envs);
	char path[4096];
	int status;

	if (env != NULL) {
		if (secret_load(env, NULL, &O.key, &O.keylen, &status, &why) <
		    0)
			return msg_fail(status, "%s: %s", env, why);
		return 0;
	}
	if (kf == NULL)
		return msg_fail(EX_CONFIG,
				"no Odoo key: set ODOO_API_KEY or "
				"ODOO_PASSWORD, or name 'odoo.key_file'");
	if (kf[0] == '/' || strchr(config_path, '/') == NULL)
		snprintf(path, sizeof(path), "%s", kf);
	else
		snprintf(path, sizeof(path), "%.*s/%s",
			 (int)(strrchr(config_path, '/') - config_path),
			 config_path, kf);
	if (secret_load(NULL, path, &O.key, &O.keylen, &status, &why) < 0)
		return msg_fail(status, "%s: %s", path, why);
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(
	    f, "usage: odoo-load --config FILE [--batch N] [--dry-run | "
	       "--verify]\n"
	       "                 [--odoo-version 16|17|18] [--cacert FILE] "
	       "[--timeout SECONDS]\n"
	       "                 [--rejects FILE] [--stats FILE] [--verbose] "
	       "[FILE ...]\n"
	       "       odoo-load --help | --version\n"
	       "Canonical records in (after enrich-tax and match-settlement), "
	       "one 'loaded'\n"
	       "record per input record out.  The key comes from "
	       "ODOO_API_KEY, ODOO_PASSWORD\n"
	       "or the config's odoo.key_file.\n"
	       "Exit: 0 ok, 64 usage, 65 records rejected or --verify found "
	       "differences,\n"
	       "      66 cannot open input, 69 Odoo unavailable, 74 I/O error, "
	       "75 try later,\n"
	       "      76 Odoo answered something unexpected, 77 key refused "
	       "or readable by\n"
	       "      others, 78 configuration error.\n");
}

/*
 * Read the whole stream, then load it step by step, each step batched
 * across all records: partners, products, orders and invoices, credit
 * notes, payments, payout entries.  Print one result per input record.
 */
int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"batch", required_argument, NULL, 'b'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"verify", no_argument, NULL, 'y'},
	    {"odoo-version", required_argument, NULL, 'o'},
	    {"cacert", required_argument, NULL, 'C'},
	    {"timeout", required_argument, NULL, 't'},
	    {"rejects", required_argument, NULL, 'r'},
	    {"stats", required_argument, NULL, 's'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_path = NULL, *rejects = NULL, *stats = NULL;
	const char *cacert = NULL;
	long timeout_s = 60;
	int ch, rc, status = 0;
	char *end;
	size_t i;

	msg_init("odoo-load");
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'b':
			errno = 0;
			batch = (size_t)strtoul(optarg, &end, 10);
			if (errno || *end || batch < 1 || batch > 10000) {
				msg_warn("--batch: '%s' is not a number from "
					 "1 to 10000",
					 optarg);
				return EX_USAGE;
			}
			break;
		case 'n':
			dry_run = 1;
			break;
		case 'y':
			verify = 1;
			break;
		case 'o':
			version_opt = atoi(optarg);
			if (version_opt < 16 || version_opt > 18) {
				msg_warn("--odoo-version: '%s' is not 16, 17 "
					 "or 18",
					 optarg);
				return EX_USAGE;
			}
			break;
		case 'C':
			cacert = optarg;
			break;
		case 't':
			timeout_s = strtol(optarg, &end, 10);
			if (*end || timeout_s < 1 || timeout_s > 3600) {
				msg_warn("--timeout: '%s' is not a number of "
					 "seconds from 1 to 3600",
					 optarg);
				return EX_USAGE;
			}
			break;
		case 'r':
			rejects = optarg;
			break;
		case 's':
			stats = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("odoo-load (tillroll) %s\n", TILLROLL_VERSION);
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
	if (dry_run && verify) {
		msg_warn("--dry-run and --verify exclude each other");
		return EX_USAGE;
	}
	if ((rc = read_config(config_path)) != 0) {
		jv_free(config);
		return rc;
	}
	/* The dry run needs no key: it never connects. */
	if (!dry_run && (rc = load_key(config_path)) != 0) {
		jv_free(config);
		return rc;
	}
	if ((rc = stage_init(&ST, "odoo-load", rejects, stats)) != 0) {
		jv_free(config);
		return rc;
	}
	O.db = cfg_str("odoo", "database");
	O.user = cfg_str("odoo", "user");
	{
		const char *u = cfg_str("odoo", "url");
		size_t ul = strlen(u);

		while (ul > 0 && u[ul - 1] == '/')
			ul--;
		if ((O.url = malloc(ul + sizeof("/jsonrpc"))) != NULL)
			snprintf(O.url, ul + sizeof("/jsonrpc"), "%.*s/jsonrpc",
				 (int)ul, u);
	}
	O.ctx = jv_object();
	O.ctx = jv_object_set(O.ctx, jv_string("lang"), jv_string("en_US"));
	O.ctx = jv_object_set(O.ctx, jv_string("tz"), jv_string("UTC"));
	O.ctx = jv_object_set(O.ctx, jv_string("tracking_disable"), jv_true());
	xmlids = jv_object();
	products = jv_object();
	journals = jv_object();
	accounts = jv_object();
	taxes = jv_object();
	company_id = jv_null();
	fallback_product = jv_null();
	status = read_input(argc, argv);

	if (!dry_run) {
		if (http_global_init() < 0 ||
		    http_client_init(&O.http, cacert) < 0 ||
		    http_client_header(&O.http,
				       "Content-Type: application/json") < 0) {
			fatal = msg_fail(EX_SOFTWARE, "cannot start libcurl");
		} else {
			O.http.timeout_ms = timeout_s * 1000;
			O.http.backoff_ms = 200;
			O.http.backoff_max_ms = 5000;
			O.http.budget_ms = 60000;
			O.http.log = log_line;
		}
	}
	if (!fatal && (rc = connect_odoo()) != 0)
		fatal = rc;
	if (!fatal) {
		jv_free(company_id);
		jv_free(fallback_product);
		if ((rc = lookups()) != 0)
			fatal = rc;
	}
	if (!fatal && verify) {
		verify_all();
	} else if (!fatal) {
		load_partners();
		if (!fatal)
			load_products();
		if (!fatal)
			load_orders();
		if (!fatal)
			load_refunds();
		if (!fatal)
			load_payments();
		if (!fatal)
			load_payouts();
	}
	for (i = 0; i < nrecs && !fatal; i++) {
		struct rec *r = &recs[i];

		if (r->rejected || r->skip)
			continue;
		if (strcmp(r->kind, "settlement") == 0)
			r->skip = "loaded as part of its payout_recon entry";
		else if (strcmp(r->kind, "payout") == 0)
			r->skip = "loaded as its payout_recon entry";
		else if (strcmp(r->kind, "order") &&
			 strcmp(r->kind, "refund") &&
			 strcmp(r->kind, "payment") &&
			 strcmp(r->kind, "product") &&
			 strcmp(r->kind, "customer") &&
			 strcmp(r->kind, "payout_recon"))
			r->skip = "odoo-load does not load this kind";
	}
	if (dry_run && !fatal) {
		/* The calls are the output; the records were not loaded. */
		for (i = 0; i < nrecs; i++)
			if (!recs[i].rejected) {
				counters_add(&ST.drops, "dry_run");
				ST.dropped++;
			}
	} else if (!fatal && write_output() < 0)
		status = exit_worst(status, EX_IOERR);
	if (fatal) {
		status = exit_worst(status, fatal);
		/* Records not written are not lost: they were never
		 * answered for; count them as dropped for the ledger. */
		for (i = 0; i < nrecs; i++)
			if (!recs[i].rejected) {
				counters_add(&ST.drops, "run_stopped");
				ST.dropped++;
			}
	}
	if (verify && !fatal)
		for (i = 0; i < nrecs; i++)
			if (!recs[i].rejected &&
			    jv_array_length(jv_copy(recs[i].diffs)) > 0) {
				msg_warn(
				    "%s: %d difference(s) with Odoo",
				    json_str(recs[i].v, "key")
					? json_str(recs[i].v, "key")
					: "?",
				    jv_array_length(jv_copy(recs[i].diffs)));
				status = exit_worst(status, EX_DATAERR);
			}
	if (verbose || getenv("ODOO_LOAD_CALLS"))
		msg_warn("%lu calls, %lu bytes, %zu records", O.calls, O.bytes,
			 nrecs);
	status = stage_flush_stdout(status);
	status = stage_finish(&ST, status);
	status = stage_close_stdout(status);
	for (i = 0; i < nrecs; i++) {
		jv_free(recs[i].v);
		jv_free(recs[i].odoo);
		jv_free(recs[i].steps);
		jv_free(recs[i].diffs);
		free(recs[i].raw);
		free(recs[i].file);
	}
	free(recs);
	if (!dry_run) {
		http_client_release(&O.http);
		http_global_cleanup();
	}
	if (O.key) {
		memset(O.key, 0, O.keylen);
		free(O.key);
	}
	free(O.url);
	jv_free(O.ctx);
	jv_free(xmlids);
	jv_free(products);
	jv_free(journals);
	jv_free(accounts);
	jv_free(taxes);
	jv_free(company_id);
	jv_free(fallback_product);
	jv_free(config);
	return status;
}
