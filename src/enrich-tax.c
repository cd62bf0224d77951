/* See LICENSE file for copyright and license details. */
/*
 * enrich-tax: map Shopify's taxes to Odoo's and plan the invoice lines.
 *
 * Reads canonical records (tillroll-records(5)).  To every order and
 * refund it adds a "tax" block (the Odoo taxes of each line, Shopify's tax
 * and total, what Odoo will compute, the difference, a status, the tax
 * map's hash) and an "invoice_plan": the invoice or credit note lines,
 * with price, quantity, discount and taxes chosen so that Odoo's own
 * computation (odootax.h) gives Shopify's figures, and a rounding line
 * only where none can.  Every other record passes through unchanged.
 *
 * A tax no rule of the map knows rejects the record (65) with the tax's
 * title, rate and jurisdiction, so that finance can extend the map;
 * --unmapped pass lets it through marked instead.  A refund is planned
 * from itself alone: normalize copies onto it what it needs of its order
 * (the jurisdiction, and each refunded line's price and tax lines), so
 * that each record is enriched on its own and a day split with parallel
 * --pipe gives what one process gives.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
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
#include "odootax.h"
#include "sha256.h"
#include "stage.h"

#define MAP_FORMAT 1
#define RATE_DIGITS 6 /* a Shopify rate: 0.0625, 0.000125 */

/* An Odoo tax the map names. */
struct tax {
	const char *id;		 /* the map's own name for it (borrowed) */
	struct odootax_tax calc; /* what the computation needs */
	struct jw text;		 /* the <odoo tax> object written */
};

/* A legal entity: the company's Odoo settings and which orders it books. */
struct company {
	const char *name;    /* borrowed from the map */
	jv shops, countries; /* arrays of strings, or null: any (borrowed) */
	int price_digits;    /* -1: the currency's */
	int discount_digits; /* Odoo's Discount precision */
	enum odootax_rounding rounding;
};

/* A rule: which Shopify tax line (or untaxed line) maps to which tax. */
struct rule {
	const char *company;			     /* NULL: any (borrowed) */
	const char *shop, *country, *region, *title; /* NULL: any */
	int has_rate;
	int64_t rate;	    /* in 10^-RATE_DIGITS */
	int taxes_included; /* 1, 0, or -1: either */
	int exempt;	    /* matches lines without tax lines */
	int tax;	    /* index in taxes, -1: no Odoo tax */
};

static struct {
	jv doc; /* the parsed map, which the tables borrow from */
	char hash[SHA256_HEX_LEN];
	struct tax *taxes;
	size_t ntaxes;
	struct company *companies;
	size_t ncompanies;
	struct rule *rules;
	size_t nrules;
} map;

static int pass_unmapped; /* --unmapped pass */

/* The state of one record's enrichment; the first error sticks. */
struct job {
	const char *what;	      /* "order" or "refund" */
	const char *name;	      /* its display name or id, for messages */
	const char *shop;	      /* borrowed from the record */
	const char *cur;	      /* currency code */
	int exp;		      /* its minor digits */
	const char *country, *region; /* jurisdiction, or NULL */
	int included;		      /* taxes_included */
	int company;		      /* index, or -1 */
	struct odootax_prec prec;     /* the company's, for this currency */
	int failed;		      /* an error that rejects the record */
	const char *reason;
	char detail[512];
	jv unmapped;		     /* [{ref,title,rate,country,region,why}] */
	const char *unmapped_reason; /* the first one's reason, */
	char unmapped_detail[512];   /* and its sentence */
	struct jw *tax_lines;	     /* the tax block's lines, an array */
	struct jw *plan_lines;	     /* the invoice plan's lines, an array */
	struct odootax_move move;
	int64_t tolerance; /* most a rounding difference may be */
	int64_t shopify_tax, shopify_total;
};

/*
 * What a record gains, written as text while it is planned (kept from
 * record to record so that their memory is reused).
 */
static struct {
	struct jw tax_lines, plan_lines; /* arrays, filled while planning */
	struct jw tax_block, plan;	 /* the two members' values */
} written;

/* One Shopify line to plan: what Shopify charged and which taxes. */
struct want {
	char ref[96];
	const char *role, *account_role;
	jr sku, name;	       /* borrowed from the record; absent is null */
	const char *name_text; /* the name when not the record's */
	int64_t quantity;
	int64_t unit;	  /* unit price, minor units */
	int64_t discount; /* amount, minor units */
	int64_t net;	  /* unit * quantity - discount */
	int64_t tax;	  /* Shopify's tax on the line */
	int idx[ODOOTAX_MAX_LINE_TAXES];
	size_t ntaxes;
};

/* "<what> '<name>': " and the message, into buf. */
static void
describe(const struct job *j, char *buf, size_t size, const char *fmt,
	 va_list ap)
{
	int n = snprintf(buf, size, "%s '%.60s': ", j->what,
			 j->name ? j->name : "?");

	if (n < 0 || (size_t)n >= size)
		n = 0;
	vsnprintf(buf + n, size - (size_t)n, fmt, ap);
}

static void fail(struct job *j, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A record that cannot be enriched: it is rejected whatever --unmapped. */
static void
fail(struct job *j, const char *reason, const char *fmt, ...)
{
	va_list ap;

	if (j->failed)
		return;
	j->failed = 1;
	j->reason = reason;
	va_start(ap, fmt);
	describe(j, j->detail, sizeof(j->detail), fmt, ap);
	va_end(ap);
}

static void lacking(struct job *j, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Something the map (or the input) lacks: rejected, or passed marked. */
static void
lacking(struct job *j, const char *reason, const char *fmt, ...)
{
	va_list ap;

	if (j->unmapped_reason != NULL)
		return;
	j->unmapped_reason = reason;
	va_start(ap, fmt);
	describe(j, j->unmapped_detail, sizeof(j->unmapped_detail), fmt, ap);
	va_end(ap);
}

static jv
put(jv obj, const char *key, jv v)
{
	return jv_object_set(obj, jv_string(key), v);
}

/* A decimal string member of obj in exponent exp; absent or null is 0. */
static int64_t
amount(struct job *j, jr obj, const char *key, const char *where)
{
	jr m = jr_get(obj, key);
	const char *s = jr_str(m), *why;
	int64_t v;

	if (s == NULL) {
		if (jr_kind(m) != JR_ABSENT && jr_kind(m) != JR_NULL)
			fail(j, "bad_record", "%s'%s' is not a decimal amount",
			     where, key);
		return 0;
	}
	if (money_parse(s, strlen(s), j->exp, &v, &why) < 0) {
		fail(j, "bad_record", "%s'%s' %s", where, key, why);
		return 0;
	}
	return v;
}

/* A whole-number member (quantity); absent is 0. */
static int64_t
whole(struct job *j, jr obj, const char *key, const char *where)
{
	jr v = jr_get(obj, key);
	char buf[32];
	const char *why;
	int64_t n = 0;

	if (jr_kind(v) != JR_ABSENT && jr_kind(v) != JR_NULL) {
		if (jr_id(v, buf, sizeof(buf), &why) < 0 || strlen(buf) > 7)
			fail(j, "bad_record", "%s'%s' is not a quantity", where,
			     key);
		else
			n = strtoll(buf, NULL, 10);
	}
	return n;
}

/* Text of a rate, "0.21" or "0.0625", as 10^-6 units. */
static int
parse_rate(const char *s, int64_t *rate)
{
	const char *why;

	return money_parse(s, strlen(s), RATE_DIGITS, rate, &why);
}

/* Digit-exact decimal text of v at digits, trailing zeros trimmed. */
static void
trimmed(int64_t v, int digits, int keep, char *buf)
{
	size_t n;

	money_format(v, digits, buf);
	if (digits == 0)
		return;
	n = strlen(buf);
	while (digits > keep && buf[n - 1] == '0') {
		buf[--n] = '\0';
		digits--;
	}
	if (digits == 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
}

/* ---- the tax map ---- */

static int map_fail(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
map_fail(const char *path, const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return msg_fail(EX_CONFIG, "%s: %s", path, buf);
}

/* Optional string member: NULL when absent or null, -1 when not text. */
static int
opt_str(jv obj, const char *key, const char **out)
{
	jv v = json_get(obj, key);
	int kind = jv_get_kind(v);

	jv_free(v);
	*out = json_str(obj, key);
	if (jv_is_valid(v) && kind != JV_KIND_NULL && kind != JV_KIND_STRING)
		return -1;
	return 0;
}

static int
list_of_strings(jv v)
{
	if (jv_get_kind(v) == JV_KIND_NULL)
		return 1;
	if (jv_get_kind(v) != JV_KIND_ARRAY)
		return 0;
	jv_array_foreach(v, i, s)
	{
		int ok = jv_get_kind(s) == JV_KIND_STRING;

		jv_free(s);
		if (!ok)
			return 0;
	}
	return 1;
}

static int
small_int(jv obj, const char *key, int dflt, int *out)
{
	jv v = json_get(obj, key);
	char buf[32];
	const char *why;

	*out = dflt;
	if (!jv_is_valid(v) || jv_get_kind(v) == JV_KIND_NULL) {
		jv_free(v);
		return 0;
	}
	if (json_id(v, buf, sizeof(buf), &why) < 0 || strlen(buf) > 1) {
		jv_free(v);
		return -1;
	}
	jv_free(v);
	*out = buf[0] - '0';
	return *out <= 6 ? 0 : -1;
}

static int
load_taxes(const char *path, jv taxes)
{
	if (jv_get_kind(taxes) != JV_KIND_OBJECT)
		return map_fail(path, "'taxes' is not an object");
	map.ntaxes = (size_t)jv_object_length(jv_copy(taxes));
	map.taxes = calloc(map.ntaxes ? map.ntaxes : 1, sizeof(*map.taxes));
	if (map.taxes == NULL)
		return msg_fail(EX_OSERR, "out of memory");
	map.ntaxes = 0;
	jv_object_foreach(taxes, k, t)
	{
		struct tax *x = &map.taxes[map.ntaxes];
		const char *name = json_str(t, "name"), *xmlid, *why;
		const char *amt = json_str(t, "amount");
		const char *type = json_str(t, "amount_type");
		jv incl = json_get(t, "price_include");
		int bad = 0;

		/* The key outlives this loop: the object holds it. */
		x->id = jv_string_value(k);
		if (name == NULL)
			bad = map_fail(path, "tax '%s': 'name' is missing",
				       x->id);
		else if (opt_str(t, "xmlid", &xmlid) < 0)
			bad = map_fail(path, "tax '%s': 'xmlid' is not text",
				       x->id);
		else if (amt == NULL ||
			 money_parse(amt, strlen(amt), ODOOTAX_AMOUNT_DIGITS,
				     &x->calc.amount, &why) < 0)
			bad = map_fail(path,
				       "tax '%s': 'amount' is not a decimal "
				       "string with at most %d decimals",
				       x->id, ODOOTAX_AMOUNT_DIGITS);
		else if (type == NULL || (strcmp(type, "percent") != 0 &&
					  strcmp(type, "fixed") != 0))
			bad = map_fail(path,
				       "tax '%s': 'amount_type' is not percent "
				       "or fixed",
				       x->id);
		else if (jv_get_kind(incl) != JV_KIND_TRUE &&
			 jv_get_kind(incl) != JV_KIND_FALSE)
			bad = map_fail(path,
				       "tax '%s': 'price_include' is not true "
				       "or false",
				       x->id);
		if (bad) {
			jv_free(incl);
			jv_free(k);
			jv_free(t);
			return bad;
		}
		x->calc.fixed = strcmp(type, "fixed") == 0;
		x->calc.price_include = jv_get_kind(incl) == JV_KIND_TRUE;
		jw_init(&x->text);
		jw_object(&x->text);
		jw_put_string(&x->text, "name", name);
		jw_put_string(&x->text, "xmlid", xmlid);
		jw_put_string(&x->text, "amount", amt);
		jw_put_string(&x->text, "amount_type", type);
		jw_put_bool(&x->text, "price_include", x->calc.price_include);
		jw_end(&x->text);
		jv_free(incl);
		map.ntaxes++;
		jv_free(k);
		jv_free(t);
	}
	return 0;
}

static int
load_companies(const char *path, jv list)
{
	if (jv_get_kind(list) != JV_KIND_ARRAY ||
	    jv_array_length(jv_copy(list)) == 0)
		return map_fail(path, "'companies' is not a non-empty array");
	map.ncompanies = (size_t)jv_array_length(jv_copy(list));
	map.companies = calloc(map.ncompanies, sizeof(*map.companies));
	if (map.companies == NULL)
		return msg_fail(EX_OSERR, "out of memory");
	jv_array_foreach(list, i, c)
	{
		struct company *x = &map.companies[i];
		const char *rm = json_str(c, "rounding_method");
		jv shops = json_get(c, "shops"),
		   countries = json_get(c, "countries");
		int bad = 0;

		x->name = json_str(c, "name");
		if (x->name == NULL)
			bad = map_fail(path, "company %d: 'name' is missing",
				       i + 1);
		else if (rm == NULL || (strcmp(rm, "round_per_line") != 0 &&
					strcmp(rm, "round_globally") != 0))
			bad = map_fail(path,
				       "company '%s': 'rounding_method' is not "
				       "round_per_line or round_globally",
				       x->name);
		else if (!list_of_strings(shops) || !list_of_strings(countries))
			bad = map_fail(path,
				       "company '%s': 'shops' and 'countries' "
				       "must be lists of text",
				       x->name);
		else if (small_int(c, "price_digits", -1, &x->price_digits) <
			     0 ||
			 small_int(c, "discount_digits", 2,
				   &x->discount_digits) < 0)
			bad = map_fail(path,
				       "company '%s': 'price_digits' and "
				       "'discount_digits' must be 0 to 6",
				       x->name);
		jv_free(shops);
		jv_free(countries);
		if (bad) {
			jv_free(c);
			return bad;
		}
		/* Borrowed from the map document, which lives as long. */
		x->shops = json_get(c, "shops");
		jv_free(x->shops);
		x->countries = json_get(c, "countries");
		jv_free(x->countries);
		x->rounding = strcmp(rm, "round_globally") == 0
				  ? ODOOTAX_ROUND_GLOBALLY
				  : ODOOTAX_ROUND_PER_LINE;
		jv_free(c);
	}
	return 0;
}

static int
find_tax(const char *id)
{
	size_t i;

	for (i = 0; i < map.ntaxes; i++)
		if (strcmp(map.taxes[i].id, id) == 0)
			return (int)i;
	return -1;
}

static int
load_rules(const char *path, jv list)
{
	if (jv_get_kind(list) != JV_KIND_ARRAY)
		return map_fail(path, "'rules' is not an array");
	map.nrules = (size_t)jv_array_length(jv_copy(list));
	map.rules = calloc(map.nrules ? map.nrules : 1, sizeof(*map.rules));
	if (map.rules == NULL)
		return msg_fail(EX_OSERR, "out of memory");
	jv_array_foreach(list, i, r)
	{
		struct rule *x = &map.rules[i];
		jv incl = json_get(r, "taxes_included");
		jv exempt = json_get(r, "exempt"), tax = json_get(r, "tax");
		const char *rate = json_str(r, "rate");
		int bad = 0;
		size_t k;

		if (opt_str(r, "company", &x->company) < 0 ||
		    opt_str(r, "shop", &x->shop) < 0 ||
		    opt_str(r, "country", &x->country) < 0 ||
		    opt_str(r, "region", &x->region) < 0 ||
		    opt_str(r, "title", &x->title) < 0)
			bad = map_fail(path,
				       "rule %d: 'company', 'shop', 'country', "
				       "'region' and 'title' must be text",
				       i + 1);
		x->exempt = jv_get_kind(exempt) == JV_KIND_TRUE;
		x->taxes_included = jv_get_kind(incl) == JV_KIND_TRUE	 ? 1
				    : jv_get_kind(incl) == JV_KIND_FALSE ? 0
									 : -1;
		x->has_rate = rate != NULL;
		if (!bad && rate != NULL && parse_rate(rate, &x->rate) < 0)
			bad = map_fail(path,
				       "rule %d: 'rate' is not a decimal rate "
				       "such as \"0.21\"",
				       i + 1);
		if (!bad && !x->exempt && x->title == NULL)
			bad = map_fail(path,
				       "rule %d: 'title' is missing (or say "
				       "\"exempt\": true)",
				       i + 1);
		if (!bad && x->exempt && (x->title || x->has_rate))
			bad = map_fail(path,
				       "rule %d: an exempt rule matches lines "
				       "without tax lines: no 'title' or "
				       "'rate'",
				       i + 1);
		x->tax = -1;
		if (!bad && jv_get_kind(tax) == JV_KIND_STRING)
			x->tax = find_tax(jv_string_value(tax));
		if (!bad && x->tax < 0 &&
		    !(x->exempt && jv_get_kind(tax) == JV_KIND_NULL))
			bad = map_fail(path,
				       "rule %d: 'tax' does not name a tax of "
				       "'taxes'",
				       i + 1);
		if (!bad && x->company != NULL) {
			for (k = 0; k < map.ncompanies; k++)
				if (strcmp(map.companies[k].name, x->company) ==
				    0)
					break;
			if (k == map.ncompanies)
				bad =
				    map_fail(path,
					     "rule %d: company '%s' is not in "
					     "'companies'",
					     i + 1, x->company);
		}
		jv_free(incl);
		jv_free(exempt);
		jv_free(tax);
		jv_free(r);
		if (bad)
			return bad;
	}
	return 0;
}

/* Read, hash and check the tax map.  Returns 0 or an exit status. */
static int
load_map(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	jv v;
	int rc;

	if (f == NULL)
		return msg_fail(EX_NOINPUT, "cannot open '%s':", path);
	for (;;) {
		if (len + 65536 > cap) {
			char *grown = realloc(buf, cap = cap * 2 + 65536);

			if (grown == NULL) {
				free(buf);
				fclose(f);
				return msg_fail(EX_OSERR, "out of memory");
			}
			buf = grown;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return msg_fail(EX_IOERR, "cannot read '%s':", path);
	}
	fclose(f);
	sha256_hex(buf, len, map.hash);
	v = jv_parse_sized(buf, (int)len);
	free(buf);
	if (!jv_is_valid(v)) {
		jv msg = jv_invalid_get_msg(v);

		rc = map_fail(path, "not JSON: %s",
			      jv_get_kind(msg) == JV_KIND_STRING
				  ? jv_string_value(msg)
				  : "?");
		jv_free(msg);
		return rc;
	}
	map.doc = v;
	{
		jv fmt = json_get(v, "tillroll_tax_map");
		int ok = jv_get_kind(fmt) == JV_KIND_NUMBER &&
			 jv_number_value(fmt) == MAP_FORMAT;

		jv_free(fmt);
		if (!ok)
			return map_fail(path,
					"not a tax map: expected "
					"\"tillroll_tax_map\": %d",
					MAP_FORMAT);
	}
	if (json_str(v, "version") == NULL)
		return map_fail(path, "'version' is missing");
	{
		jv t = json_get(v, "taxes"), c = json_get(v, "companies"),
		   r = json_get(v, "rules");

		rc = load_taxes(path, t);
		if (rc == 0)
			rc = load_companies(path, c);
		if (rc == 0)
			rc = load_rules(path, r);
		jv_free(t);
		jv_free(c);
		jv_free(r);
	}
	return rc;
}

/* The record being enriched, read once; its values die with the next. */
static struct jr_doc doc;

static void
release_all(void)
{
	size_t i;

	for (i = 0; i < map.ntaxes; i++)
		jw_release(&map.taxes[i].text);
	free(map.taxes);
	jw_release(&written.tax_lines);
	jw_release(&written.plan_lines);
	jw_release(&written.tax_block);
	jw_release(&written.plan);
	free(map.companies);
	free(map.rules);
	if (jv_is_valid(map.doc))
		jv_free(map.doc);
	jr_release(&doc);
}

/* ---- matching ---- */

static int
in_list(jv list, const char *s)
{
	int found = 0;

	if (jv_get_kind(list) != JV_KIND_ARRAY)
		return 1; /* null: any */
	if (s == NULL)
		return 0;
	jv_array_foreach(list, i, x)
	{
		if (strcmp(jv_string_value(x), s) == 0)
			found = 1;
		jv_free(x);
	}
	return found;
}

static int
same(const char *want, const char *have)
{
	return want == NULL || (have != NULL && strcmp(want, have) == 0);
}

static int
find_company(const char *shop, const char *country)
{
	size_t i;

	for (i = 0; i < map.ncompanies; i++)
		if (in_list(map.companies[i].shops, shop) &&
		    in_list(map.companies[i].countries, country))
			return (int)i;
	return -1;
}

/* The first rule for a tax line (title, rate), or an untaxed line. */
static const struct rule *
find_rule(const struct job *j, const char *title, const int64_t *rate)
{
	const char *company = map.companies[j->company].name;
	size_t i;

	for (i = 0; i < map.nrules; i++) {
		const struct rule *r = &map.rules[i];

		if (!same(r->company, company) || !same(r->shop, j->shop) ||
		    !same(r->country, j->country) ||
		    !same(r->region, j->region))
			continue;
		if (r->taxes_included >= 0 && r->taxes_included != j->included)
			continue;
		if (title == NULL) {
			if (r->exempt)
				return r;
			continue;
		}
		if (r->exempt || strcmp(r->title, title) != 0)
			continue;
		if (r->has_rate && (rate == NULL || r->rate != *rate))
			continue;
		return r;
	}
	return NULL;
}

static void
unmapped(struct job *j, const char *ref, const char *title, const char *rate,
	 const char *why)
{
	jv u = jv_object();
	char where[64];

	u = json_set_str(u, "ref", ref);
	u = put(u, "title", title ? jv_string(title) : jv_null());
	u = put(u, "rate", rate ? jv_string(rate) : jv_null());
	u = put(u, "country", j->country ? jv_string(j->country) : jv_null());
	u = put(u, "region", j->region ? jv_string(j->region) : jv_null());
	u = json_set_str(u, "why", why);
	j->unmapped = jv_array_append(j->unmapped, u);
	if (j->country && j->region)
		snprintf(where, sizeof(where), "%.8s/%.40s", j->country,
			 j->region);
	else if (j->country)
		snprintf(where, sizeof(where), "%.8s", j->country);
	else
		snprintf(where, sizeof(where), "no known country");
	if (title == NULL)
		lacking(j, "unmapped_tax", "%s %s (%s)", ref, why, where);
	else
		lacking(j, "unmapped_tax",
			"%s: tax '%.80s' at rate %.20s in %s %s", ref, title,
			rate ? rate : "?", where, why);
}

/*
 * Map the tax lines of one Shopify line (borrowed) into w's taxes.  An
 * untaxed line takes an exempt rule's tax when one matches, else none;
 * a gift card without tax lines has none.
 */
static void
map_line_taxes(struct job *j, jr line, struct want *w, int gift_card)
{
	jr tls = jr_get(line, "tax_lines");
	int i = 0;

	w->ntaxes = 0;
	if (jr_kind(tls) != JR_ARRAY || jr_len(tls) == 0) {
		const struct rule *r =
		    gift_card ? NULL : find_rule(j, NULL, NULL);

		if (r != NULL && r->tax >= 0)
			w->idx[w->ntaxes++] = r->tax;
		return;
	}
	jr_foreach(tls, tl)
	{
		const char *title = jr_get_str(tl, "title");
		const char *rate = jr_get_str(tl, "rate");
		const struct rule *r;
		int64_t rv;
		size_t k;

		if (rate != NULL && parse_rate(rate, &rv) < 0) {
			fail(j, "bad_record",
			     "%s: tax line %d: 'rate' is not a decimal rate",
			     w->ref, i + 1);
			break;
		}
		r = title ? find_rule(j, title, rate ? &rv : NULL) : NULL;
		if (r == NULL) {
			unmapped(j, w->ref, title, rate,
				 "is not in the tax map");
		} else if (map.taxes[r->tax].calc.price_include !=
			   j->included) {
			unmapped(j, w->ref, title, rate,
				 j->included
				     ? "maps to a tax not included in the "
				       "price, but the prices include tax"
				     : "maps to a tax included in the price, "
				       "but the prices exclude tax");
		} else if (w->ntaxes == ODOOTAX_MAX_LINE_TAXES) {
			fail(j, "bad_record", "%s: too many tax lines", w->ref);
		} else {
			for (k = 0; k < w->ntaxes; k++)
				if (w->idx[k] == r->tax)
					break;
			if (k < w->ntaxes)
				unmapped(j, w->ref, title, rate,
					 "maps to an Odoo tax already on the "
					 "line");
			else
				w->idx[w->ntaxes++] = r->tax;
		}
		i++;
	}
}

/* The Odoo taxes of w, an array of their map entries. */
static void
write_taxes(struct jw *out, const struct want *w)
{
	size_t k;

	jw_array(out);
	for (k = 0; k < w->ntaxes; k++) {
		const char *text;
		size_t len;

		text = jw_text(&map.taxes[w->idx[k]].text, &len);
		jw_raw(out, text, len);
	}
	jw_end(out);
}

/* ---- planning ---- */

struct cand {
	struct odootax_line line[2]; /* the line, and a discount line */
	int nlines;
	const struct odootax_tax *taxes[ODOOTAX_MAX_LINE_TAXES];
	struct odootax_result res[2];
	int64_t subtotal, tax; /* Σ over its lines, per-line rounding */
};

static int64_t
scale_price(const struct job *j, int64_t minor)
{
	int64_t f = 1;
	int k;

	for (k = j->exp; k < j->prec.price_digits; k++)
		f *= 10;
	return minor * f;
}

/* Evaluate a candidate under per-line rounding.  Returns 0 or -1. */
static int
evaluate(const struct job *j, struct cand *c, const char **why)
{
	struct odootax_prec p = j->prec;
	int k;

	p.rounding = ODOOTAX_ROUND_PER_LINE;
	c->subtotal = c->tax = 0;
	for (k = 0; k < c->nlines; k++) {
		if (odootax_line_compute(&p, &c->line[k], &c->res[k], why) < 0)
			return -1;
		c->subtotal += c->res[k].subtotal;
		c->tax += c->res[k].tax;
	}
	return 0;
}

static int64_t
distance(const struct job *j, const struct want *w, const struct cand *c)
{
	int64_t want_sub = j->included ? w->net - w->tax : w->net;
	int64_t dt = c->tax - w->tax;
	int64_t dtotal = c->subtotal + c->tax - (want_sub + w->tax);

	if (dt < 0)
		dt = -dt;
	if (dtotal < 0)
		dtotal = -dtotal;
	/* The total matters most: it is what the customer paid. */
	return dtotal * 4 + dt;
}

/* Add a line to the invoice plan. */
static void
plan_line(const struct job *j, const struct want *w, const char *ref,
	  const char *role, const struct odootax_line *l,
	  const struct odootax_result *r)
{
	struct jw *out = j->plan_lines;
	char buf[MONEY_TEXT_MAX];

	jw_object(out);
	jw_put_string(out, "account_role", w->account_role);
	trimmed(l->discount, j->prec.discount_digits, 0, buf);
	jw_put_string(out, "discount", buf);
	if (w->name_text != NULL)
		jw_put_string(out, "name", w->name_text);
	else {
		jw_key(out, "name");
		jw_jr(out, w->name);
	}
	trimmed(l->price_unit, j->prec.price_digits, j->exp, buf);
	jw_put_string(out, "price_unit", buf);
	jw_put_int(out, "quantity", (int)l->quantity);
	jw_put_string(out, "ref", ref);
	jw_put_string(out, "role", role);
	jw_key(out, "sku");
	jw_jr(out, w->sku);
	jw_put_money(out, "subtotal", r->subtotal, j->exp);
	jw_put_money(out, "tax", r->tax, j->exp);
	jw_key(out, "taxes");
	write_taxes(out, w);
	jw_put_money(out, "total", r->total, j->exp);
	jw_end(out);
}

/*
 * Choose the lines for w: the price with no discount, or with the
 * percentage that reproduces Shopify's net to the cent, or else the
 * price and a discount line of the amount with the same taxes; whichever
 * gives Shopify's line figures, or comes nearest.  Then add them to the
 * move under the company's real rounding.
 */
static void
plan(struct job *j, const struct want *w)
{
	struct cand c[8], *best = NULL;
	int64_t gross = w->unit * w->quantity, dscale = 100, best_d = 0;
	int nc = 0, k;
	size_t t;
	const char *why;

	for (k = 0; k < j->prec.discount_digits; k++)
		dscale *= 10;
	memset(c, 0, sizeof(c));
	if (w->quantity <= 0) {
		/* Nothing to multiply: the net as one unit. */
		c[nc].line[0].price_unit = scale_price(j, w->net);
		c[nc].line[0].quantity = 1;
		c[nc++].nlines = 1;
	} else if (w->discount == 0) {
		c[nc].line[0].price_unit = scale_price(j, w->unit);
		c[nc].line[0].quantity = w->quantity;
		c[nc++].nlines = 1;
	} else {
		if (gross > 0 && w->discount > 0 && w->discount <= gross) {
			__extension__ __int128 num =
			    (__int128)w->discount * dscale;
			int64_t d0 = (int64_t)((num + gross / 2) / gross), d;
			struct odootax_prec pl = j->prec;
			int off;

			/*
			 * The percentages nearest Shopify's amount; where one
			 * misses the net by a few cents (Shopify rounds the
			 * discount, Odoo the discounted amount), the same
			 * percentage and a discount line of those cents.
			 */
			pl.rounding = ODOOTAX_ROUND_PER_LINE;
			for (off = 0; off < 3; off++) {
				struct odootax_line l = {
				    scale_price(j, w->unit), w->quantity, 0,
				    NULL, 0};
				struct odootax_result r;

				d = d0 + (off == 1 ? -1 : off == 2 ? 1 : 0);
				if (d < 0 || d > dscale)
					continue;
				l.discount = d;
				if (odootax_line_compute(&pl, &l, &r, &why) < 0)
					continue;
				c[nc].line[0] = l;
				c[nc].nlines = 1;
				if (r.base != w->net) {
					c[nc].line[1].price_unit =
					    scale_price(j, w->net - r.base);
					c[nc].line[1].quantity = 1;
					c[nc].nlines = 2;
				}
				nc++;
			}
		}
		c[nc].line[0].price_unit = scale_price(j, w->unit);
		c[nc].line[0].quantity = w->quantity;
		c[nc].line[1].price_unit = scale_price(j, -w->discount);
		c[nc].line[1].quantity = 1;
		c[nc++].nlines = 2;
	}
	for (k = 0; k < nc; k++) {
		int64_t d;

		for (t = 0; t < w->ntaxes; t++)
			c[k].taxes[t] = &map.taxes[w->idx[t]].calc;
		c[k].line[0].taxes = c[k].line[1].taxes = c[k].taxes;
		c[k].line[0].ntaxes = c[k].line[1].ntaxes = w->ntaxes;
		if (evaluate(j, &c[k], &why) < 0) {
			fail(j, "bad_record", "%s %s", w->ref, why);
			return;
		}
		d = distance(j, w, &c[k]);
		if (best == NULL || d < best_d) {
			best = &c[k];
			best_d = d;
		}
		if (d == 0)
			break;
	}
	/* The chosen lines, computed as the company will. */
	for (k = 0; k < best->nlines; k++) {
		struct odootax_result r;
		char dref[96];

		if (odootax_line_compute(&j->prec, &best->line[k], &r, &why) <
			0 ||
		    odootax_move_add(&j->move, &best->line[k], &r, &why) < 0) {
			fail(j, "bad_record", "%s %s", w->ref, why);
			return;
		}
		if (k == 0) {
			plan_line(j, w, w->ref, w->role, &best->line[k], &r);
		} else {
			snprintf(dref, sizeof(dref), "discount:%s",
				 strchr(w->ref, ':') + 1);
			plan_line(j, w, dref, "discount", &best->line[k], &r);
		}
		j->tolerance += w->ntaxes ? (int64_t)w->ntaxes : 1;
	}
}

/* The tax block's entry for w: its Odoo taxes and Shopify's tax. */
static void
record_taxes(struct job *j, const struct want *w)
{
	struct jw *out = j->tax_lines;

	jw_object(out);
	jw_put_string(out, "ref", w->ref);
	jw_put_money(out, "shopify_tax", w->tax, j->exp);
	jw_key(out, "taxes");
	write_taxes(out, w);
	jw_end(out);
}

/* Plan only while the record is whole and every tax is known. */
static int
ready(const struct job *j)
{
	return !j->failed && j->unmapped_reason == NULL;
}

/* A line without taxes: tips, duties, refund adjustments. */
static void
plan_plain(struct job *j, const char *ref, const char *role,
	   const char *account_role, const char *name, int64_t amount)
{
	struct want w;

	memset(&w, 0, sizeof(w));
	snprintf(w.ref, sizeof(w.ref), "%s", ref);
	w.role = role;
	w.account_role = account_role;
	w.name_text = name;
	w.quantity = 1;
	w.unit = w.net = amount;
	{
		struct odootax_line l = {scale_price(j, amount), 1, 0, NULL, 0};
		struct odootax_result r;
		const char *why;

		if (odootax_line_compute(&j->prec, &l, &r, &why) < 0 ||
		    odootax_move_add(&j->move, &l, &r, &why) < 0) {
			fail(j, "bad_record", "%s %s", ref, why);
		} else {
			plan_line(j, &w, ref, role, &l, &r);
			j->tolerance++;
		}
	}
}

/* ---- orders and refunds ---- */

static jr
address_of(jr rec)
{
	jr a = jr_get(rec, "shipping_address");

	return jr_kind(a) == JR_OBJECT ? a : jr_get(rec, "billing_address");
}

/* Prepare j for rec (borrowed): currency, company, precision. */
static void
start(struct job *j, jr rec, const char *what, const char *name)
{
	const struct company *co;

	j->what = what;
	j->name = name;
	j->shop = jr_get_str(rec, "shop");
	j->cur = jr_get_str(rec, "currency");
	j->included = jr_kind(jr_get(rec, "taxes_included")) == JR_TRUE;
	j->unmapped = jv_array();
	j->tax_lines = &written.tax_lines;
	j->plan_lines = &written.plan_lines;
	jw_reset(j->tax_lines);
	jw_reset(j->plan_lines);
	jw_array(j->tax_lines);
	jw_array(j->plan_lines);
	j->company = -1;
	if (j->cur == NULL || (j->exp = currency_exponent(j->cur)) < 0) {
		fail(j, "bad_record", "'currency' is not an ISO 4217 code");
		return;
	}
	j->company = find_company(j->shop, j->country);
	if (j->company < 0) {
		unmapped(j, "company", NULL, NULL,
			 "has no company in the tax map for its shop and "
			 "country");
		return;
	}
	co = &map.companies[j->company];
	j->prec.currency_digits = j->exp;
	j->prec.price_digits = co->price_digits < 0 ? j->exp : co->price_digits;
	if (j->prec.price_digits < j->exp)
		j->prec.price_digits = j->exp;
	j->prec.discount_digits = co->discount_digits;
	j->prec.rounding = co->rounding;
	odootax_move_init(&j->move, &j->prec);
}

static void
want_init(struct want *w, const char *kind, const char *id, const char *role,
	  const char *account_role)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->ref, sizeof(w->ref), "%s:%.80s", kind, id ? id : "?");
	w->role = role;
	w->account_role = account_role;
}

static void
order(struct job *j, jr rec)
{
	jr lines = jr_get(rec, "lines"), ships = jr_get(rec, "shipping_lines");
	jr totals = jr_get(rec, "totals");

	if (jr_kind(lines) != JR_ARRAY || jr_kind(ships) != JR_ARRAY ||
	    jr_kind(totals) != JR_OBJECT)
		fail(j, "bad_record",
		     "'lines', 'shipping_lines' or 'totals' is missing");
	j->shopify_tax = amount(j, totals, "tax", "totals: ");
	j->shopify_total = amount(j, totals, "total", "totals: ");
	jr_foreach(lines, l)
	{
		struct want w;
		int gift = jr_kind(jr_get(l, "gift_card")) == JR_TRUE;

		want_init(&w, "line", jr_get_str(l, "id"),
			  gift ? "gift_card" : "product",
			  gift ? "gift_card_liability" : "revenue");
		if (jr_get_str(l, "id") == NULL)
			fail(j, "bad_record", "a line has no 'id'");
		w.sku = jr_get(l, "sku");
		w.name = jr_get(l, "name");
		w.quantity = whole(j, l, "quantity", "");
		w.unit = amount(j, l, "unit_price", "");
		w.discount = amount(j, l, "discount", "");
		w.net = amount(j, l, "net", "");
		w.tax = amount(j, l, "tax", "");
		if (!j->failed && w.unit * w.quantity - w.discount != w.net)
			fail(j, "bad_record",
			     "%s: 'net' is not unit_price x quantity - "
			     "discount",
			     w.ref);
		map_line_taxes(j, l, &w, gift);
		record_taxes(j, &w);
		if (ready(j))
			plan(j, &w);
	}
	jr_foreach(ships, s)
	{
		struct want w;

		want_init(&w, "shipping", jr_get_str(s, "id"), "shipping",
			  "shipping");
		if (jr_get_str(s, "id") == NULL)
			fail(j, "bad_record", "a shipping line has no 'id'");
		w.name = jr_get(s, "title");
		w.quantity = 1;
		w.unit = amount(j, s, "price", "");
		w.discount = amount(j, s, "discount", "");
		w.net = amount(j, s, "net", "");
		w.tax = amount(j, s, "tax", "");
		if (!j->failed && w.unit - w.discount != w.net)
			fail(j, "bad_record",
			     "%s: 'net' is not price - discount", w.ref);
		map_line_taxes(j, s, &w, 0);
		record_taxes(j, &w);
		if (ready(j))
			plan(j, &w);
	}
	{
		int64_t tip = amount(j, totals, "tip", "totals: ");
		int64_t duties = amount(j, totals, "duties", "totals: ");

		if (tip != 0 && ready(j))
			plan_plain(j, "tip", "tip", "tip", "Tip", tip);
		if (duties != 0 && ready(j))
			plan_plain(j, "duties", "duty", "duties", "Duties",
				   duties);
	}
}

/*
 * A refund without what normalize copies onto it from its order: it came
 * without its order (a REST refund alone, or a record normalize wrote
 * before it copied them), or its order has no such line.  ref is the
 * line's, or NULL for the refund's own.
 */
static void
order_data_missing(struct job *j, const char *ref, const char *field,
		   const char *why)
{
	jv u = jv_object();

	u = json_set_str(u, "ref", ref ? ref : "order");
	u = json_set_str(u, "why", why);
	j->unmapped = jv_array_append(j->unmapped, u);
	lacking(j, "order_data_missing",
		"%s%sthe refund has no '%s' (%s), so its taxes are unknown",
		ref ? ref : "", ref ? ": " : "", field, why);
}

static void
refund(struct job *j, jr rec)
{
	jr lines = jr_get(rec, "lines"), ships = jr_get(rec, "shipping");
	jr adjs = jr_get(rec, "adjustments");

	if (jr_kind(lines) != JR_ARRAY || jr_kind(ships) != JR_ARRAY ||
	    jr_kind(adjs) != JR_ARRAY)
		fail(j, "bad_record",
		     "'lines', 'shipping' or 'adjustments' is missing");
	jr_foreach(lines, l)
	{
		struct want w;
		const char *lid = jr_get_str(l, "line_item_id"), *why;
		/* The order's line, as normalize copied it. */
		jr o = jr_get(l, "line_item");
		const char *up = jr_get_str(o, "unit_price");
		int gift = jr_kind(jr_get(o, "gift_card")) == JR_TRUE;

		want_init(&w, "line", lid, gift ? "gift_card" : "product",
			  gift ? "gift_card_liability" : "revenue");
		w.sku = jr_get(o, "sku");
		w.name = jr_get(o, "name");
		w.quantity = whole(j, l, "quantity", "");
		w.net = amount(j, l, "subtotal", "");
		w.tax = amount(j, l, "tax", "");
		if (jr_kind(o) != JR_OBJECT || up == NULL) {
			order_data_missing(j, w.ref, "line_item",
					   "its order has no such line, or "
					   "it came without its order");
		} else if (money_parse(up, strlen(up), j->exp, &w.unit, &why) <
			   0) {
			fail(j, "bad_record", "%s: unit price %s", w.ref, why);
		} else {
			map_line_taxes(j, o, &w, gift);
			w.discount = w.unit * w.quantity - w.net;
			if (w.discount < 0 && w.quantity > 0) {
				/* More back than the price: plain net. */
				w.unit = w.net;
				w.quantity = 0;
				w.discount = 0;
			}
		}
		j->shopify_tax += w.tax;
		j->shopify_total += w.net + (j->included ? 0 : w.tax);
		record_taxes(j, &w);
		if (ready(j))
			plan(j, &w);
	}
	jr_foreach(ships, s)
	{
		struct want w;
		const char *sid = jr_get_str(s, "shipping_line_id");
		jr o = jr_get(s, "shipping_line");

		want_init(&w, "shipping", sid, "shipping", "shipping");
		w.name = jr_get(o, "title");
		if (w.name == NULL)
			w.name_text = "Shipping";
		w.quantity = 1;
		w.unit = w.net = amount(j, s, "amount", "shipping: ");
		w.tax = amount(j, s, "tax", "shipping: ");
		if (jr_kind(o) != JR_OBJECT)
			order_data_missing(
			    j, w.ref, "shipping_line",
			    "its order has no such shipping "
			    "line, or it came without its order");
		else
			map_line_taxes(j, o, &w, 0);
		j->shopify_tax += w.tax;
		j->shopify_total += w.net + (j->included ? 0 : w.tax);
		record_taxes(j, &w);
		if (ready(j))
			plan(j, &w);
	}
	jr_foreach(adjs, a)
	{
		/*
		 * Shopify writes order adjustments from the order's side: a
		 * shipping refund of 5.00 is -5.00.  The credit note carries
		 * the opposite, without taxes (its tax is not itemised).
		 */
		int64_t amt = amount(j, a, "amount", "adjustment: ");
		int64_t tax = amount(j, a, "tax", "adjustment: ");
		int64_t back = -(amt + (j->included ? 0 : tax));
		char ref[96];
		const char *kind = jr_get_str(a, "kind");
		const char *id = jr_get_str(a, "id");

		snprintf(ref, sizeof(ref), "adjustment:%.80s", id ? id : "?");
		j->shopify_total += back;
		if (ready(j))
			plan_plain(j, ref, "adjustment", "refund_adjustment",
				   kind && strcmp(kind, "shipping_refund") == 0
				       ? "Shipping refund"
				       : "Refund adjustment",
				   back);
	}
}

/*
 * The tax block and the invoice plan, as the texts of the two members
 * the record gains (written.tax_block and written.plan).  Returns 0, or
 * -1 when the record fails after all.
 */
static int
finish(struct job *j, jr rec, int is_refund)
{
	struct jw *tax = &written.tax_block, *plan = &written.plan;
	const struct company *co =
	    j->company >= 0 ? &map.companies[j->company] : NULL;
	const char *rm = co == NULL ? NULL
			 : co->rounding == ODOOTAX_ROUND_GLOBALLY
			     ? "round_globally"
			     : "round_per_line";
	const char *text;
	size_t len;

	jw_end(j->tax_lines);
	jw_reset(tax);
	jw_reset(plan);
	jw_object(tax);
	jw_put_string(tax, "map", map.hash);
	jw_put_string(tax, "company", co ? co->name : NULL);
	jw_put_string(tax, "rounding_method", rm);
	jw_put_money(tax, "shopify_tax", j->shopify_tax, j->exp);
	jw_put_money(tax, "shopify_total", j->shopify_total, j->exp);
	jw_key(tax, "lines");
	text = jw_text(j->tax_lines, &len);
	jw_raw(tax, text, len);
	if (jv_array_length(jv_copy(j->unmapped)) > 0) {
		jw_put_string(tax, "status", "unmapped");
		jw_put_null(tax, "odoo_tax");
		jw_put_null(tax, "odoo_total");
		jw_put_null(tax, "difference");
		jw_put_null(tax, "tax_difference");
		jw_key(tax, "unmapped");
		jw_jv(tax, j->unmapped);
		jw_null(plan);
	} else {
		int64_t untaxed, otax, ototal, diff, tax_diff;
		const char *status, *why, *date;

		if (odootax_move_totals(&j->move, &untaxed, &otax, &ototal,
					&why) < 0) {
			fail(j, "bad_record", "the invoice %s", why);
			return -1;
		}
		/*
		 * exact: Odoo gives Shopify's tax and total.  rounding: it
		 * misses by no more than rounding explains (a minor unit a
		 * line and tax); a rounding line makes up a total that
		 * differs, a tax split that differs stays as Odoo makes it.
		 * mismatch: more than rounding explains; no line hides it.
		 */
		diff = j->shopify_total - ototal;
		tax_diff = j->shopify_tax - otax;
		if (diff == 0 && tax_diff == 0)
			status = "exact";
		else if (diff <= j->tolerance && diff >= -j->tolerance &&
			 tax_diff <= j->tolerance && tax_diff >= -j->tolerance)
			status = "rounding";
		else
			status = "mismatch";
		jw_put_string(tax, "status", status);
		jw_put_money(tax, "odoo_tax", otax, j->exp);
		jw_put_money(tax, "odoo_total", ototal, j->exp);
		jw_put_money(tax, "difference", diff, j->exp);
		jw_put_money(tax, "tax_difference", tax_diff, j->exp);
		if (strcmp(status, "rounding") == 0 && diff != 0) {
			plan_plain(j, "rounding", "rounding", "rounding",
				   "Rounding difference with Shopify", diff);
			untaxed += diff;
			ototal += diff;
		}
		jw_object(plan);
		jw_put_string(plan, "move_type",
			      is_refund ? "out_refund" : "out_invoice");
		jw_put_string(plan, "company", co->name);
		jw_put_string(plan, "currency", j->cur);
		date = jr_get_str(rec, "processed_at");
		if (date == NULL)
			date = jr_get_str(rec, "created_at");
		jw_key(plan, "date");
		if (date && strlen(date) >= 10)
			jw_stringn(plan, date, 10);
		else
			jw_null(plan);
		jw_put_string(plan, "rounding_method", rm);
		jw_key(plan, "lines");
		jw_end(j->plan_lines);
		text = jw_text(j->plan_lines, &len);
		jw_raw(plan, text, len);
		jw_put_money(plan, "untaxed", untaxed, j->exp);
		jw_put_money(plan, "tax", otax, j->exp);
		jw_put_money(plan, "total", ototal, j->exp);
		jw_end(plan);
	}
	jw_end(tax);
	return 0;
}

static void
job_release(struct job *j)
{
	jv_free(j->unmapped);
}

/*
 * Set the jurisdiction of j: an order's shipping (else billing) address,
 * a refund's "jurisdiction", which normalize copied from its order.
 * Returns -1 when a refund has none.
 */
static int
jurisdiction(struct job *j, jr rec, int is_refund)
{
	jr a = is_refund ? jr_get(rec, "jurisdiction") : address_of(rec);

	j->country = jr_get_str(a, "country_code");
	j->region = jr_get_str(a, "province_code");
	return is_refund && jr_kind(a) != JR_OBJECT ? -1 : 0;
}

/*
 * Enrich one order or refund (borrowed): its two new members' texts in
 * written.  Returns 0, or -1 with the reason in j.
 */
static int
enrich(struct job *j, jr rec, int is_refund)
{
	const char *name = jr_get_str(rec, is_refund ? "id" : "name");
	int known;

	memset(j, 0, sizeof(*j));
	known = jurisdiction(j, rec, is_refund) == 0;
	if (name == NULL)
		name = jr_get_str(rec, "id");
	start(j, rec, is_refund ? "refund" : "order", name);
	if (!known && !j->failed) {
		/* Which company would only be a guess: say why, not that. */
		jv_free(j->unmapped);
		j->unmapped = jv_array();
		j->unmapped_reason = NULL;
		j->company = -1;
		order_data_missing(j, NULL, "jurisdiction",
				   "it came without its order");
	}
	if (!j->failed && j->company >= 0) {
		if (is_refund)
			refund(j, rec);
		else
			order(j, rec);
	}
	if (!j->failed && j->unmapped_reason != NULL && !pass_unmapped) {
		j->failed = 1;
		j->reason = j->unmapped_reason;
		memcpy(j->detail, j->unmapped_detail, sizeof(j->detail));
	}
	if (!j->failed)
		finish(j, rec, is_refund);
	job_release(j);
	return j->failed ? -1 : 0;
}

/*
 * Write the record of line (rec, borrowed) with its tax block and plan.
 * Records come canonical from normalize: then the line's own text is
 * copied and only the two new members are added, which saves printing
 * the whole record again (most of this program's time otherwise).
 */
static int
write_enriched(const char *line, size_t len, jr rec)
{
	static const char *const added[] = {"invoice_plan", "tax"};
	static struct jw out;
	const char *values[2], *text;
	size_t lens[2], n;

	values[0] = jw_text(&written.plan, &lens[0]);
	values[1] = jw_text(&written.tax_block, &lens[1]);
	if (jw_failed(&written.plan) || jw_failed(&written.tax_block) ||
	    jw_failed(&written.tax_lines) || jw_failed(&written.plan_lines))
		return -1;
	jw_reset(&out);
	if (canon_merge(&out, line, len, added, values, lens, 2) < 0) {
		/*
		 * Not canonical: write the record member by member, the two
		 * new ones last, so that they win over any of the same name.
		 */
		size_t i;

		jw_reset(&out);
		jw_object(&out);
		jw_jr_members(&out, rec);
		for (i = 0; i < 2; i++) {
			jw_key(&out, added[i]);
			jw_raw(&out, values[i], lens[i]);
		}
		jw_end(&out);
	}
	jw_newline(&out);
	text = jw_text(&out, &n);
	if (jw_failed(&out) || fwrite(text, 1, n, stdout) != n)
		return -1;
	return 0;
}

static int
process(struct stage *st, const char *line, size_t len, const char *file,
	unsigned long lineno)
{
	jr rec = jr_parse(&doc, line, len);
	const char *kind;
	struct job j;
	int is_refund;

	st->in++;
	if (rec == NULL) {
		if (doc.nomem) {
			msg_warn("out of memory");
			return -1;
		}
		counters_add(&st->in_kind, "(not json)");
		stage_reject(st, file, lineno, line, len, "bad_json",
			     "not JSON");
		return 0;
	}
	if ((kind = jr_get_str(rec, "kind")) == NULL) {
		counters_add(&st->in_kind, "(no kind)");
		stage_reject(st, file, lineno, line, len, "not_record",
			     "not a record: expected an object with a 'kind'");
		return 0;
	}
	counters_add(&st->in_kind, kind);
	if (strcmp(kind, "order") != 0 && strcmp(kind, "refund") != 0) {
		/* Not ours: pass it through, byte for byte. */
		counters_add(&st->out_kind, kind);
		st->out++;
		st->passed++;
		fwrite(line, 1, len, stdout);
		putchar('\n');
		return 0;
	}
	is_refund = kind[0] == 'r';
	if (enrich(&j, rec, is_refund) < 0) {
		stage_reject(st, file, lineno, line, len, j.reason, j.detail);
		return 0;
	}
	counters_add(&st->out_kind, is_refund ? "refund" : "order");
	st->out++;
	return write_enriched(line, len, rec);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: enrich-tax --map FILE [--unmapped reject|pass] "
		   "[--rejects FILE]\n"
		   "                  [--stats FILE] [FILE ...]\n"
		   "       enrich-tax --help | --version\n"
		   "Canonical records in (stdin or FILEs, .gz read "
		   "transparently); orders and refunds\n"
		   "out with a 'tax' block and an 'invoice_plan'.\n"
		   "Exit: 0 ok, 64 usage, 65 records rejected, 66 cannot open "
		   "input, 74 I/O error,\n"
		   "      78 the tax map is wrong.\n");
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"map", required_argument, NULL, 'm'},
	    {"unmapped", required_argument, NULL, 'u'},
	    {"rejects", required_argument, NULL, 'r'},
	    {"stats", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *rejects = NULL, *stats = NULL, *mapfile = NULL;
	struct stage st;
	int ch, rc, status = 0;

	msg_init("enrich-tax");
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			mapfile = optarg;
			break;
		case 'u':
			if (strcmp(optarg, "pass") == 0)
				pass_unmapped = 1;
			else if (strcmp(optarg, "reject") == 0)
				pass_unmapped = 0;
			else {
				msg_warn("--unmapped: '%s' is not reject or "
					 "pass",
					 optarg);
				usage(stderr);
				return EX_USAGE;
			}
			break;
		case 'r':
			rejects = optarg;
			break;
		case 's':
			stats = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("enrich-tax (tillroll) %s\n", TILLROLL_VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (mapfile == NULL) {
		msg_warn("--map is required");
		usage(stderr);
		return EX_USAGE;
	}
	map.doc = jv_invalid();
	if ((rc = load_map(mapfile)) != 0) {
		release_all();
		return rc;
	}
	if ((rc = stage_init(&st, "enrich-tax", rejects, stats)) != 0) {
		release_all();
		return rc;
	}
	status = stage_read(&st, argc, argv, process);
	status = stage_flush_stdout(status);
	status = stage_finish(&st, status);
	release_all();
	return stage_close_stdout(status);
}
