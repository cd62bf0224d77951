/* See LICENSE file for copyright and license details. */
/*
 * normalize: turn raw envelopes into canonical records.
 *
 * Reads NDJSON envelopes {"kind":"shopify.order","shop":..,"data":{..}}
 * as shopify-extract writes them (GraphQL-shaped nodes) or as webhooks and
 * old exports deliver them ("shopify.rest.*", REST-shaped objects), and
 * writes the canonical records of tillroll-records(5): order, payment,
 * refund, payout, settlement, dispute, product, customer, inventory.
 * Records of any other kind pass through unchanged.
 *
 * One envelope gives one record or several (an order carries its payments
 * and refunds), or is rejected whole with the reason: a malformed amount,
 * an id that is not exact, lines whose sums contradict the order's totals,
 * a balance transaction whose net is not amount - fee.  Nothing is ever
 * repaired.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include <jq.h>
#include <jv.h>

#include "json.h"
#include "money.h"
#include "msg.h"
#include "secret.h"
#include "sha256.h"
#include "stage.h"
#include "utctime.h"

#define SCHEMA_VERSION 1

enum pii_policy { PII_KEEP, PII_HASH, PII_DROP };

/* Options, as OpenBSD's tools keep them: file-scope, set once by main. */
static enum pii_policy pii = PII_KEEP;
static char *pii_key; /* HMAC key for --pii hash */
static size_t pii_keylen;
static const char *default_currency; /* --currency, for bare prices */
static jq_state *jq;		     /* --jq program, compiled once */

/*
 * The state of one conversion.  Errors are sticky: the first one is kept
 * and later getters return harmless values, so the mapping code reads as
 * a list of fields rather than a ladder of checks; the caller looks at
 * failed once at the end and rejects the record whole.
 */
struct conv {
	const char *shop;	   /* the envelope's shop handle */
	const char *shop_currency; /* the envelope's, for bare amounts */
	const char *withdrawal;	   /* the envelope's, for PayPal rows */
	jv src;			   /* the src block every record carries */
	char where[160];    /* "order 1001: line item 2: " for messages */
	int failed;	    /* an error was recorded */
	const char *reason; /* its short code */
	char detail[512];   /* its sentence */
	const char *cur;    /* shop currency of the record being mapped */
	int exp;	    /* its exponent */
	const char *pcur;   /* presentment currency, when it differs */
	int pexp;	    /* its exponent */
	jv out;		    /* the records made so far (array) */
	jv seen;	    /* keys emitted for this envelope (object) */
};

/* An amount in shop money and, when the currency differs, presentment. */
struct amt {
	int64_t shop;  /* minor units of conv.cur */
	int64_t pres;  /* minor units of conv.pcur */
	int have;      /* shop is set */
	int have_pres; /* pres is set */
};

static void fail(struct conv *c, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct conv *c, const char *reason, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (c->failed)
		return;
	c->failed = 1;
	c->reason = reason;
	n = (size_t)snprintf(c->detail, sizeof(c->detail), "%s", c->where);
	if (n >= sizeof(c->detail))
		n = sizeof(c->detail) - 1;
	va_start(ap, fmt);
	vsnprintf(c->detail + n, sizeof(c->detail) - n, fmt, ap);
	va_end(ap);
}

/* Set the message context: "<what> <id>: ".  Empty what clears it. */
static void
context(struct conv *c, const char *what, const char *id)
{
	if (what == NULL)
		c->where[0] = '\0';
	else
		snprintf(c->where, sizeof(c->where), "%s '%.100s': ", what,
			 id ? id : "?");
}

/*
 * The member of obj called rest (REST's snake_case) or gql (GraphQL's
 * camelCase), the first that is present and not null; owned, or
 * jv_invalid() when neither is there.
 */
static jv
field(jv obj, const char *rest, const char *gql)
{
	jv v;

	if (rest != NULL) {
		v = json_get(obj, rest);
		if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL)
			return v;
		jv_free(v);
	}
	if (gql != NULL) {
		v = json_get(obj, gql);
		if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL)
			return v;
		jv_free(v);
	}
	return jv_invalid();
}

static const char *
name_of(const char *rest, const char *gql)
{
	return rest ? rest : gql;
}

/* Text field: a string as it is, a number as its text, else null. */
static jv
text(struct conv *c, jv obj, const char *rest, const char *gql)
{
	jv v = field(obj, rest, gql);
	char buf[64];

	if (!jv_is_valid(v))
		return jv_null();
	if (jv_get_kind(v) == JV_KIND_STRING)
		return v;
	if (jv_get_kind(v) == JV_KIND_NUMBER &&
	    json_number_text(v, buf, sizeof(buf)) == 0) {
		jv_free(v);
		return jv_string(buf);
	}
	jv_free(v);
	fail(c, "bad_field", "'%s' is not text", name_of(rest, gql));
	return jv_null();
}

/* A GraphQL enum or REST code, lower-cased ("PAID" and "paid": "paid"). */
static jv
code(struct conv *c, jv obj, const char *rest, const char *gql)
{
	jv v = text(c, obj, rest, gql);
	char buf[96];
	size_t i;

	if (jv_get_kind(v) != JV_KIND_STRING)
		return v;
	snprintf(buf, sizeof(buf), "%s", jv_string_value(v));
	for (i = 0; buf[i]; i++)
		if (buf[i] >= 'A' && buf[i] <= 'Z')
			buf[i] = (char)(buf[i] - 'A' + 'a');
	jv_free(v);
	return jv_string(buf);
}

static jv
boolean(struct conv *c, jv obj, const char *rest, const char *gql)
{
	jv v = field(obj, rest, gql);

	if (!jv_is_valid(v))
		return jv_null();
	if (jv_get_kind(v) == JV_KIND_TRUE || jv_get_kind(v) == JV_KIND_FALSE)
		return v;
	jv_free(v);
	fail(c, "bad_field", "'%s' is not true or false", name_of(rest, gql));
	return jv_null();
}

/* An id from v (borrowed) as a string, null when v is absent. */
static jv
id_value(struct conv *c, jv v, const char *name)
{
	char buf[32];
	const char *why;

	if (!jv_is_valid(v) || jv_get_kind(v) == JV_KIND_NULL)
		return jv_null();
	if (json_id(v, buf, sizeof(buf), &why) < 0) {
		fail(c, "bad_id", "'%s' %s", name, why);
		return jv_null();
	}
	return jv_string(buf);
}

/*
 * An id: REST's rest field ("product_id": 632910392), or the "id" inside
 * GraphQL's gql object ("product": {"id": "gid://shopify/Product/1"}), or
 * a gql field that is itself an id.
 */
static jv
id_field(struct conv *c, jv obj, const char *rest, const char *gql)
{
	jv v = field(obj, rest, gql), id;

	if (jv_get_kind(v) == JV_KIND_OBJECT) {
		jv inner = json_get(v, "id");

		id = id_value(c, inner, name_of(gql, rest));
		jv_free(inner);
	} else {
		id = id_value(c, v, name_of(rest, gql));
	}
	jv_free(v);
	return id;
}

static jv
required_id(struct conv *c, jv obj, const char *rest, const char *gql)
{
	jv id = id_field(c, obj, rest, gql);

	if (jv_get_kind(id) == JV_KIND_NULL)
		fail(c, "missing_field", "'%s' is missing", name_of(rest, gql));
	return id;
}

static jv
timestamp(struct conv *c, jv obj, const char *rest, const char *gql)
{
	jv v = field(obj, rest, gql);
	char out[UTC_TEXT_MAX];
	const char *why;

	if (!jv_is_valid(v))
		return jv_null();
	if (jv_get_kind(v) != JV_KIND_STRING ||
	    utc_normalize(jv_string_value(v), out, &why) < 0) {
		/* A bare date names no instant: which day it is depends on
		 * a zone the payload does not give. */
		int bare = jv_get_kind(v) == JV_KIND_STRING &&
			   utc_check_date(jv_string_value(v), &why) == 0;

		jv_free(v);
		fail(c, "bad_time", "'%s' is %s", name_of(rest, gql),
		     bare ? "a date without a time of day"
			  : "not a timestamp with an offset");
		return jv_null();
	}
	jv_free(v);
	return jv_string(out);
}

/* An integer count (quantity, stock): a JSON number with no fraction. */
static jv
count(struct conv *c, jv obj, const char *rest, const char *gql)
{
	jv v = field(obj, rest, gql);
	char buf[32];
	const char *why;

	if (!jv_is_valid(v))
		return jv_null();
	if (jv_get_kind(v) == JV_KIND_NUMBER && jv_number_value(v) < 0) {
		/* Stock may be negative; json_id() wants digits only. */
		jv neg = jv_number(-jv_number_value(v));

		if (json_id(neg, buf, sizeof(buf), &why) == 0) {
			jv_free(neg);
			return v;
		}
		jv_free(neg);
	} else if (json_id(v, buf, sizeof(buf), &why) == 0) {
		jv_free(v);
		return jv_number((double)strtoll(buf, NULL, 10));
	}
	jv_free(v);
	fail(c, "bad_field", "'%s' is not a whole number", name_of(rest, gql));
	return jv_null();
}

/* A tax rate as decimal text: 0.21 (number) or "0.21" becomes "0.21". */
static jv
rate(struct conv *c, jv obj, const char *rest, const char *gql)
{
	jv v = text(c, obj, rest, gql);
	int64_t scaled;
	const char *why, *s;

	if (jv_get_kind(v) != JV_KIND_STRING)
		return v;
	s = jv_string_value(v);
	/* A rate is a decimal fraction; 6 places hold 0.0625 and 0.000125. */
	if (money_parse(s, strlen(s), 6, &scaled, &why) < 0) {
		jv_free(v);
		fail(c, "bad_field", "'%s' is not a decimal rate",
		     name_of(rest, gql));
		return jv_null();
	}
	return v;
}

/* Parse one amount (string or JSON number) in a currency of exponent e. */
static int
parse_amount(struct conv *c, jv v, int e, const char *name, int64_t *out)
{
	char buf[64];
	const char *s, *why;

	if (jv_get_kind(v) == JV_KIND_STRING) {
		s = jv_string_value(v);
	} else if (jv_get_kind(v) == JV_KIND_NUMBER &&
		   json_number_text(v, buf, sizeof(buf)) == 0) {
		/* Shopify sends a few amounts as numbers (refund subtotal). */
		s = buf;
	} else {
		fail(c, "bad_amount", "'%s' is not a decimal amount", name);
		return -1;
	}
	if (money_parse(s, strlen(s), e, out, &why) < 0) {
		fail(c, "bad_amount", "'%s' %s", name, why);
		return -1;
	}
	return 0;
}

/*
 * A MoneyV2 {"amount": "12.3", "currencyCode": "EUR"} or REST's
 * {"amount": "12.30", "currency_code": "EUR"}: parse into *out after
 * checking the currency is want.
 */
static int
money_v2(struct conv *c, jv m, const char *want, int e, const char *name,
	 int64_t *out)
{
	jv amount = json_get(m, "amount");
	const char *cur = json_str(m, "currencyCode");
	int rc;

	if (cur == NULL)
		cur = json_str(m, "currency_code");
	if (cur == NULL)
		cur = json_str(m, "currency");
	if (!jv_is_valid(amount)) {
		jv_free(amount);
		fail(c, "bad_amount", "'%s' has no amount", name);
		return -1;
	}
	if (cur != NULL && want != NULL && strcmp(cur, want) != 0) {
		jv_free(amount);
		fail(c, "wrong_currency", "'%s' is in %s, expected %s", name,
		     cur, want);
		return -1;
	}
	rc = parse_amount(c, amount, e, name, out);
	jv_free(amount);
	return rc;
}

/*
 * An order-style amount: REST's plain field (shop money as a string),
 * REST's *_set or GraphQL's *Set MoneyBag (shop and presentment money).
 * When both plain and bag are given they must agree.
 */
static struct amt
bag(struct conv *c, jv obj, const char *plain, const char *rest_set,
    const char *gql_set)
{
	struct amt a = {0, 0, 0, 0};
	jv b = field(obj, rest_set, gql_set), p = field(obj, plain, NULL);
	const char *bname = name_of(rest_set, gql_set);

	if (jv_get_kind(b) == JV_KIND_OBJECT) {
		jv shop = field(b, "shop_money", "shopMoney");
		jv pres = field(b, "presentment_money", "presentmentMoney");

		if (jv_get_kind(shop) == JV_KIND_OBJECT &&
		    money_v2(c, shop, c->cur, c->exp, bname, &a.shop) == 0)
			a.have = 1;
		if (c->pcur != NULL && jv_get_kind(pres) == JV_KIND_OBJECT &&
		    money_v2(c, pres, c->pcur, c->pexp, bname, &a.pres) == 0)
			a.have_pres = 1;
		jv_free(shop);
		jv_free(pres);
	} else if (jv_is_valid(b)) {
		fail(c, "bad_amount", "'%s' is not a money object", bname);
	}
	if (jv_is_valid(p)) {
		int64_t plain_v;

		if (parse_amount(c, p, c->exp, plain, &plain_v) == 0) {
			if (a.have && plain_v != a.shop) {
				char x[MONEY_TEXT_MAX], y[MONEY_TEXT_MAX];

				money_format(plain_v, c->exp, x);
				money_format(a.shop, c->exp, y);
				fail(c, "inconsistent_amount",
				     "'%s' is %s but '%s' says %s", plain, x,
				     bname, y);
			}
			a.shop = plain_v;
			a.have = 1;
		}
	}
	jv_free(b);
	jv_free(p);
	return a;
}

static struct amt
required_bag(struct conv *c, jv obj, const char *plain, const char *rest_set,
	     const char *gql_set)
{
	struct amt a = bag(c, obj, plain, rest_set, gql_set);

	if (!a.have)
		fail(c, "missing_field", "'%s' is missing",
		     plain ? plain : name_of(rest_set, gql_set));
	return a;
}

static jv
money_jv(int64_t v, int e)
{
	char buf[MONEY_TEXT_MAX];

	money_format(v, e, buf);
	return jv_string(buf);
}

static jv
shop_money(struct conv *c, struct amt a)
{
	return a.have ? money_jv(a.shop, c->exp) : jv_null();
}

static jv
pres_money(struct conv *c, struct amt a)
{
	return a.have_pres ? money_jv(a.pres, c->pexp) : jv_null();
}

/* 1 when obj (borrowed) has key set to true. */
static int
is_true(jv obj, const char *key)
{
	jv v = json_get(obj, key);
	int t = jv_get_kind(v) == JV_KIND_TRUE;

	jv_free(v);
	return t;
}

/* obj = obj + {key: value}; consumes obj and value. */
static jv
put(jv obj, const char *key, jv value)
{
	return jv_object_set(obj, json_key(key), value);
}

/* Add the amount under key, and under key in pres when it differs. */
static void
put_amt(struct conv *c, jv *obj, jv *pres, const char *key, struct amt a)
{
	*obj = put(*obj, key, shop_money(c, a));
	if (c->pcur != NULL)
		*pres = put(*pres, key, pres_money(c, a));
}

static int
add(struct conv *c, int64_t *sum, int64_t v)
{
	if (money_add(*sum, v, sum) < 0) {
		fail(c, "bad_amount", "a sum overflows");
		return -1;
	}
	return 0;
}

/*
 * Fail unless the connection conn (borrowed) was extracted to its end: a
 * truncated connection would lose lines silently.
 */
static void
complete(struct conv *c, jv conn, const char *name)
{
	jv page = json_get(conn, "pageInfo");
	jv more = json_get(page, "hasNextPage");

	if (jv_get_kind(more) == JV_KIND_TRUE)
		fail(c, "incomplete", "'%s' has more pages than were extracted",
		     name);
	jv_free(page);
	jv_free(more);
}

/*
 * The items of a list as Shopify gives them: a plain array (REST, and
 * GraphQL list fields), a connection {"nodes": [..]} or {"edges":
 * [{"node": ..}]}.  Owned array; empty when absent.
 */
static jv
items(struct conv *c, jv obj, const char *rest, const char *gql)
{
	jv v = field(obj, rest, gql), list, nodes, edges;

	if (!jv_is_valid(v))
		return jv_array();
	if (jv_get_kind(v) == JV_KIND_ARRAY)
		return v;
	nodes = json_get(v, "nodes");
	if (jv_get_kind(nodes) == JV_KIND_ARRAY) {
		complete(c, v, name_of(gql, rest));
		jv_free(v);
		return nodes;
	}
	jv_free(nodes);
	edges = json_get(v, "edges");
	list = jv_array();
	if (jv_get_kind(edges) == JV_KIND_ARRAY) {
		complete(c, v, name_of(gql, rest));
		jv_array_foreach(edges, i, e)
		{
			list = jv_array_append(list, json_get(e, "node"));
			jv_free(e);
		}
	} else {
		fail(c, "bad_field", "'%s' is not a list", name_of(rest, gql));
	}
	jv_free(edges);
	jv_free(v);
	return list;
}

/* "<shop>/<kind>/<id>" */
static jv
make_key(struct conv *c, const char *kind, jv id)
{
	char buf[256];

	if (jv_get_kind(id) != JV_KIND_STRING)
		return jv_null();
	snprintf(buf, sizeof(buf), "%s/%s/%s", c->shop, kind,
		 jv_string_value(id));
	return jv_string(buf);
}

/* A new record of kind with its key (consumed) and the common fields. */
static jv
record(struct conv *c, const char *kind, jv key)
{
	jv r = jv_object();

	r = json_set_str(r, "kind", kind);
	r = put(r, "key", key);
	r = json_set_str(r, "shop", c->shop);
	r = put(r, "v", jv_number(SCHEMA_VERSION));
	r = put(r, "src", jv_copy(c->src));
	return r;
}

/* Append r (consumed) to the output unless its key was already made. */
static void
emit(struct conv *c, jv r)
{
	jv key = json_get(r, "key");

	if (jv_get_kind(key) == JV_KIND_STRING) {
		if (json_has(c->seen, jv_string_value(key))) {
			jv_free(key);
			jv_free(r);
			return;
		}
		c->seen = jv_object_set(c->seen, jv_copy(key), jv_true());
	}
	jv_free(key);
	c->out = jv_array_append(c->out, r);
}

/* Set the record's shop and presentment currencies from obj's fields. */
static int
currencies(struct conv *c, jv obj, const char *shop_rest, const char *shop_gql,
	   const char *pres_rest, const char *pres_gql)
{
	const char *cur = NULL, *pcur = NULL;
	jv v = field(obj, shop_rest, shop_gql),
	   p = field(obj, pres_rest, pres_gql);

	if (jv_get_kind(v) == JV_KIND_STRING)
		cur = jv_string_value(v);
	if (jv_get_kind(p) == JV_KIND_STRING)
		pcur = jv_string_value(p);
	/* The strings live in obj, which outlives this conversion. */
	jv_free(v);
	jv_free(p);
	if (cur == NULL)
		cur = c->shop_currency;
	if (cur == NULL)
		cur = default_currency;
	if (cur == NULL) {
		fail(c, "missing_field", "'%s' is missing",
		     name_of(shop_rest, shop_gql));
		return -1;
	}
	if ((c->exp = currency_exponent(cur)) < 0) {
		fail(c, "bad_currency", "'%s' is not an ISO 4217 currency",
		     cur);
		return -1;
	}
	c->cur = cur;
	c->pcur = NULL;
	if (pcur != NULL && strcmp(pcur, cur) != 0) {
		if ((c->pexp = currency_exponent(pcur)) < 0) {
			fail(c, "bad_currency",
			     "'%s' is not an ISO 4217 currency", pcur);
			return -1;
		}
		c->pcur = pcur;
	}
	return 0;
}

/* --- personal data ---------------------------------------------------- */

/*
 * Apply the PII policy to a personal field: keep it, replace it by a keyed
 * hash of its trimmed (and for e-mail lower-cased) text so that equal
 * values still join, or leave it out.
 */
static jv
personal(jv obj, const char *key, jv value, int is_email)
{
	char buf[512], hex[SHA256_HEX_LEN], out[SHA256_HEX_LEN + 8];
	const char *s;
	size_t i, n, start = 0;

	if (pii == PII_DROP || jv_get_kind(value) != JV_KIND_STRING) {
		if (pii == PII_DROP) {
			jv_free(value);
			return obj;
		}
		return put(obj, key, value);
	}
	if (pii == PII_KEEP)
		return put(obj, key, value);
	s = jv_string_value(value);
	n = strlen(s);
	while (start < n && (s[start] == ' ' || s[start] == '\t'))
		start++;
	while (n > start && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n - start >= sizeof(buf))
		n = start + sizeof(buf) - 1;
	for (i = 0; i < n - start; i++) {
		char ch = s[start + i];

		buf[i] = is_email && ch >= 'A' && ch <= 'Z'
			     ? (char)(ch - 'A' + 'a')
			     : ch;
	}
	hmac_sha256_hex(pii_key, pii_keylen, buf, n - start, hex);
	snprintf(out, sizeof(out), "hmac:%s", hex);
	jv_free(value);
	return json_set_str(obj, key, out);
}

static jv
address(struct conv *c, jv obj, const char *rest, const char *gql)
{
	jv a = field(obj, rest, gql), r;

	if (jv_get_kind(a) != JV_KIND_OBJECT) {
		jv_free(a);
		return jv_null();
	}
	r = jv_object();
	r = personal(r, "first_name", text(c, a, "first_name", "firstName"), 0);
	r = personal(r, "last_name", text(c, a, "last_name", "lastName"), 0);
	r = personal(r, "company", text(c, a, "company", NULL), 0);
	r = personal(r, "address1", text(c, a, "address1", NULL), 0);
	r = personal(r, "address2", text(c, a, "address2", NULL), 0);
	r = personal(r, "phone", text(c, a, "phone", NULL), 0);
	r = put(r, "city", text(c, a, "city", NULL));
	r = put(r, "zip", text(c, a, "zip", NULL));
	r = put(r, "province", text(c, a, "province", NULL));
	r = put(r, "province_code",
		text(c, a, "province_code", "provinceCode"));
	r = put(r, "country", text(c, a, "country", NULL));
	r = put(r, "country_code", text(c, a, "country_code", "countryCodeV2"));
	jv_free(a);
	return r;
}

/* The personal fields of a customer (embedded in an order, or alone). */
static jv
person(struct conv *c, jv cust, jv r)
{
	r = personal(r, "email", text(c, cust, "email", NULL), 1);
	r = personal(r, "first_name", text(c, cust, "first_name", "firstName"),
		     0);
	r = personal(r, "last_name", text(c, cust, "last_name", "lastName"), 0);
	r = personal(r, "phone", text(c, cust, "phone", NULL), 0);
	return r;
}

/* --- order and its parts ---------------------------------------------- */

/* Tax lines of a line item, shipping line or order, and their sum. */
static jv
tax_lines(struct conv *c, jv obj, struct amt *sum, int *count_out)
{
	jv list = items(c, obj, "tax_lines", "taxLines"), out = jv_array();

	memset(sum, 0, sizeof(*sum));
	sum->have = 1;
	sum->have_pres = c->pcur != NULL;
	jv_array_foreach(list, i, t)
	{
		struct amt a =
		    required_bag(c, t, "price", "price_set", "priceSet");
		jv r = jv_object(), p = jv_object();

		r = put(r, "title", text(c, t, "title", NULL));
		r = put(r, "rate", rate(c, t, "rate", NULL));
		r = put(r, "channel_liable",
			boolean(c, t, "channel_liable", "channelLiable"));
		put_amt(c, &r, &p, "amount", a);
		if (c->pcur != NULL)
			r = put(r, "presentment", p);
		else
			jv_free(p);
		add(c, &sum->shop, a.shop);
		if (a.have_pres)
			add(c, &sum->pres, a.pres);
		else
			sum->have_pres = 0;
		out = jv_array_append(out, r);
		jv_free(t);
		(*count_out)++;
	}
	jv_free(list);
	return out;
}

/* Discount allocations of a line, and their sum. */
static jv
allocations(struct conv *c, jv obj, struct amt *sum)
{
	jv list = items(c, obj, "discount_allocations", "discountAllocations");
	jv out = jv_array();

	memset(sum, 0, sizeof(*sum));
	sum->have = 1;
	sum->have_pres = c->pcur != NULL;
	jv_array_foreach(list, i, d)
	{
		struct amt a = required_bag(c, d, "amount", "amount_set",
					    "allocatedAmountSet");
		jv r = jv_object(), p = jv_object(), app, idx;

		put_amt(c, &r, &p, "amount", a);
		if (c->pcur != NULL)
			r = put(r, "presentment", p);
		else
			jv_free(p);
		app = json_get(d, "discountApplication");
		idx = jv_is_valid(app)
			  ? count(c, app, "index", NULL)
			  : count(c, d, "discount_application_index", NULL);
		jv_free(app);
		r = put(r, "application_index", idx);
		add(c, &sum->shop, a.shop);
		if (a.have_pres)
			add(c, &sum->pres, a.pres);
		else
			sum->have_pres = 0;
		out = jv_array_append(out, r);
		jv_free(d);
	}
	jv_free(list);
	return out;
}

/* Running sums over an order's lines, for the consistency checks. */
struct order_sums {
	int64_t line_total;	   /* sum of unit price x quantity */
	int64_t line_discount;	   /* sum of line discount allocations */
	int64_t shipping;	   /* sum of shipping prices before discounts */
	int64_t shipping_discount; /* sum of shipping discounts */
	int64_t tax;		   /* sum of line and shipping tax lines */
	int tax_lines;		   /* how many tax lines were summed */
};

static jv
line_item(struct conv *c, jv li, int index, struct order_sums *s)
{
	jv r = jv_object(), p = jv_object(), id, qty;
	struct amt unit, disc, tax;
	int64_t total, ptotal = 0, q = 0;
	char where[sizeof(c->where)];
	int n = 0;

	memcpy(where, c->where, sizeof(where));
	snprintf(c->where + strlen(c->where),
		 sizeof(c->where) - strlen(c->where),
		 "line item %d: ", index + 1);
	id = required_id(c, li, "id", NULL);
	qty = count(c, li, "quantity", NULL);
	if (jv_get_kind(qty) != JV_KIND_NUMBER)
		fail(c, "missing_field", "'quantity' is missing");
	else
		q = (int64_t)jv_number_value(qty);
	unit =
	    required_bag(c, li, "price", "price_set", "originalUnitPriceSet");
	if (money_mul(unit.shop, q, &total) < 0 ||
	    (unit.have_pres && money_mul(unit.pres, q, &ptotal) < 0))
		fail(c, "bad_amount", "price x quantity overflows");
	r = put(r, "id", id);
	r = put(r, "product_id", id_field(c, li, "product_id", "product"));
	r = put(r, "variant_id", id_field(c, li, "variant_id", "variant"));
	r = put(r, "sku", text(c, li, "sku", NULL));
	r = put(r, "title", text(c, li, "title", NULL));
	r = put(r, "variant_title",
		text(c, li, "variant_title", "variantTitle"));
	r = put(r, "name", text(c, li, "name", NULL));
	r = put(r, "quantity", qty);
	r = put(r, "current_quantity",
		count(c, li, "current_quantity", "currentQuantity"));
	r = put(r, "gift_card", boolean(c, li, "gift_card", "isGiftCard"));
	r = put(r, "taxable", boolean(c, li, "taxable", NULL));
	r = put(r, "requires_shipping",
		boolean(c, li, "requires_shipping", "requiresShipping"));
	r = put(r, "discount_allocations", allocations(c, li, &disc));
	r = put(r, "tax_lines", tax_lines(c, li, &tax, &n));
	put_amt(c, &r, &p, "unit_price", unit);
	put_amt(c, &r, &p, "total",
		(struct amt){total, ptotal, unit.have, unit.have_pres});
	put_amt(c, &r, &p, "discount", disc);
	put_amt(c, &r, &p, "net",
		(struct amt){total - disc.shop, ptotal - disc.pres, 1,
			     disc.have_pres && unit.have_pres});
	put_amt(c, &r, &p, "tax", tax);
	if (c->pcur != NULL)
		r = put(r, "presentment", p);
	else
		jv_free(p);
	if (disc.shop > total || disc.shop < 0)
		fail(c, "inconsistent_totals",
		     "discounts exceed the line's "
		     "price x quantity");
	add(c, &s->line_total, total);
	add(c, &s->line_discount, disc.shop);
	add(c, &s->tax, tax.shop);
	s->tax_lines += n;
	memcpy(c->where, where, sizeof(where));
	return r;
}

static jv
shipping_line(struct conv *c, jv sl, int index, struct order_sums *s)
{
	jv r = jv_object(), p = jv_object();
	struct amt price, disc_price, disc, tax;
	char where[sizeof(c->where)];
	int n = 0;

	memcpy(where, c->where, sizeof(where));
	snprintf(c->where + strlen(c->where),
		 sizeof(c->where) - strlen(c->where),
		 "shipping line %d: ", index + 1);
	price = required_bag(c, sl, "price", "price_set", "originalPriceSet");
	disc_price = bag(c, sl, "discounted_price", "discounted_price_set",
			 "discountedPriceSet");
	r = put(r, "id", id_field(c, sl, "id", NULL));
	r = put(r, "title", text(c, sl, "title", NULL));
	r = put(r, "code", text(c, sl, "code", NULL));
	r = put(r, "source", text(c, sl, "source", NULL));
	r = put(r, "discount_allocations", allocations(c, sl, &disc));
	r = put(r, "tax_lines", tax_lines(c, sl, &tax, &n));
	if (disc_price.have && disc.shop == 0 && price.shop - disc_price.shop)
		/* Older payloads give the discounted price but no allocations.
		 */
		disc = (struct amt){price.shop - disc_price.shop,
				    price.pres - disc_price.pres, 1,
				    disc_price.have_pres};
	else if (disc_price.have && price.shop - disc.shop != disc_price.shop)
		fail(c, "inconsistent_totals",
		     "'discounted_price' is not the "
		     "price less its discount allocations");
	put_amt(c, &r, &p, "price", price);
	put_amt(c, &r, &p, "discount", disc);
	put_amt(c, &r, &p, "net",
		(struct amt){price.shop - disc.shop, price.pres - disc.pres, 1,
			     price.have_pres && disc.have_pres});
	put_amt(c, &r, &p, "tax", tax);
	if (c->pcur != NULL)
		r = put(r, "presentment", p);
	else
		jv_free(p);
	add(c, &s->shipping, price.shop);
	add(c, &s->shipping_discount, disc.shop);
	add(c, &s->tax, tax.shop);
	s->tax_lines += n;
	memcpy(c->where, where, sizeof(where));
	return r;
}

/* Compare a computed sum with the order's own figure; fail if they differ. */
static void
check_sum(struct conv *c, const char *what, int64_t computed, struct amt a,
	  const char *field_name, int64_t tolerance)
{
	char x[MONEY_TEXT_MAX], y[MONEY_TEXT_MAX];
	int64_t d = computed - a.shop;

	if (!a.have || (d <= tolerance && -d <= tolerance))
		return;
	money_format(computed, c->exp, x);
	money_format(a.shop, c->exp, y);
	fail(c, "inconsistent_totals", "%s sum to %s but '%s' is %s", what, x,
	     field_name, y);
}

static jv payment(struct conv *c, jv t, jv order_id, jv order_name);
static jv refund(struct conv *c, jv rf, jv order_id, jv order_name,
		 jv taxes_included, jv order);

static void
order(struct conv *c, jv d)
{
	jv r, pres = jv_object(), totals = jv_object(), current = jv_object();
	jv ptotals = jv_object(), pcurrent = jv_object(), id, name, lines;
	jv list, payments = jv_array(), refunds = jv_array(), cust, tincl;
	struct order_sums s;
	struct amt line_items, subtotal, discounts, shipping, tax, total, tip;
	struct amt duties;
	int64_t expect;
	int excluded;

	memset(&s, 0, sizeof(s));
	id = required_id(c, d, "id", "legacyResourceId");
	name = text(c, d, "name", NULL);
	context(c, "order",
		jv_get_kind(name) == JV_KIND_STRING ? jv_string_value(name)
		: jv_get_kind(id) == JV_KIND_STRING ? jv_string_value(id)
						    : NULL);
	currencies(c, d, "currency", "currencyCode", "presentment_currency",
		   "presentmentCurrencyCode");
	r = record(c, "order", make_key(c, "order", id));
	r = put(r, "id", jv_copy(id));
	r = put(r, "name", jv_copy(name));
	r = put(r, "created_at", timestamp(c, d, "created_at", "createdAt"));
	r = put(r, "processed_at",
		timestamp(c, d, "processed_at", "processedAt"));
	r = put(r, "updated_at", timestamp(c, d, "updated_at", "updatedAt"));
	r = put(r, "cancelled_at",
		timestamp(c, d, "cancelled_at", "cancelledAt"));
	r = put(r, "cancel_reason",
		code(c, d, "cancel_reason", "cancelReason"));
	r = put(r, "closed_at", timestamp(c, d, "closed_at", "closedAt"));
	r = json_set_str(r, "currency", c->cur ? c->cur : "");
	r = put(r, "presentment_currency",
		c->pcur	 ? jv_string(c->pcur)
		: c->cur ? jv_string(c->cur)
			 : jv_null());
	tincl = boolean(c, d, "taxes_included", "taxesIncluded");
	excluded = jv_get_kind(tincl) != JV_KIND_TRUE;
	r = put(r, "taxes_included", jv_copy(tincl));
	r = put(r, "test", boolean(c, d, "test", NULL));
	r = put(r, "financial_status",
		code(c, d, "financial_status", "displayFinancialStatus"));
	r = put(r, "fulfillment_status",
		code(c, d, "fulfillment_status", "displayFulfillmentStatus"));
	r = put(r, "source_name", text(c, d, "source_name", "sourceName"));
	r = put(r, "gateways",
		field(d, "payment_gateway_names", "paymentGatewayNames"));
	if (!json_has(r, "gateways"))
		r = put(r, "gateways", jv_array());
	r = put(r, "discount_codes", jv_array());
	list = items(c, d, "discount_codes", "discountCodes");
	jv_array_foreach(list, i, dc)
	{
		jv code_v = jv_get_kind(dc) == JV_KIND_STRING
				? jv_copy(dc)
				: text(c, dc, "code", NULL);
		jv codes = json_get(r, "discount_codes");

		r = put(r, "discount_codes", jv_array_append(codes, code_v));
		jv_free(dc);
	}
	jv_free(list);
	r = personal(r, "email", text(c, d, "email", NULL), 1);
	r = personal(r, "phone", text(c, d, "phone", NULL), 0);
	cust = field(d, "customer", NULL);
	if (jv_get_kind(cust) == JV_KIND_OBJECT) {
		/* Hand-made payloads have customers without ids: no join then.
		 */
		jv cid = id_field(c, cust, "id", NULL), cr = jv_object();

		cr = put(cr, "key", make_key(c, "customer", cid));
		cr = put(cr, "id", cid);
		r = put(r, "customer", person(c, cust, cr));
	} else {
		r = put(r, "customer", jv_null());
	}
	jv_free(cust);
	r = put(r, "billing_address",
		address(c, d, "billing_address", "billingAddress"));
	r = put(r, "shipping_address",
		address(c, d, "shipping_address", "shippingAddress"));

	lines = jv_array();
	list = items(c, d, "line_items", "lineItems");
	jv_array_foreach(list, i, li)
	{
		lines = jv_array_append(lines, line_item(c, li, i, &s));
		jv_free(li);
	}
	jv_free(list);
	r = put(r, "lines", lines);
	lines = jv_array();
	list = items(c, d, "shipping_lines", "shippingLines");
	jv_array_foreach(list, i, sl)
	{
		lines = jv_array_append(lines, shipping_line(c, sl, i, &s));
		jv_free(sl);
	}
	jv_free(list);
	r = put(r, "shipping_lines", lines);
	{
		struct amt ot;
		int n = 0;

		r = put(r, "tax_lines", tax_lines(c, d, &ot, &n));
	}

	line_items =
	    bag(c, d, "total_line_items_price", "total_line_items_price_set",
		"totalLineItemsPriceSet");
	subtotal = required_bag(c, d, "subtotal_price", "subtotal_price_set",
				"subtotalPriceSet");
	discounts = bag(c, d, "total_discounts", "total_discounts_set",
			"totalDiscountsSet");
	shipping = bag(c, d, NULL, "total_shipping_price_set",
		       "totalShippingPriceSet");
	tax = required_bag(c, d, "total_tax", "total_tax_set", "totalTaxSet");
	total = required_bag(c, d, "total_price", "total_price_set",
			     "totalPriceSet");
	tip = bag(c, d, "total_tip_received", NULL, "totalTipReceivedSet");
	duties = bag(c, d, NULL, "original_total_duties_set",
		     "originalTotalDutiesSet");
	put_amt(c, &totals, &ptotals, "line_items", line_items);
	put_amt(c, &totals, &ptotals, "subtotal", subtotal);
	put_amt(c, &totals, &ptotals, "discounts", discounts);
	put_amt(c, &totals, &ptotals, "shipping", shipping);
	put_amt(c, &totals, &ptotals, "tax", tax);
	put_amt(c, &totals, &ptotals, "tip", tip);
	put_amt(c, &totals, &ptotals, "duties", duties);
	put_amt(c, &totals, &ptotals, "total", total);
	put_amt(c, &totals, &ptotals, "refunded",
		bag(c, d, NULL, "total_refunded_set", "totalRefundedSet"));
	put_amt(c, &totals, &ptotals, "outstanding",
		bag(c, d, "total_outstanding", "total_outstanding_set",
		    "totalOutstandingSet"));
	put_amt(c, &current, &pcurrent, "subtotal",
		bag(c, d, "current_subtotal_price",
		    "current_subtotal_price_set", "currentSubtotalPriceSet"));
	put_amt(c, &current, &pcurrent, "discounts",
		bag(c, d, "current_total_discounts",
		    "current_total_discounts_set", "currentTotalDiscountsSet"));
	put_amt(c, &current, &pcurrent, "tax",
		bag(c, d, "current_total_tax", "current_total_tax_set",
		    "currentTotalTaxSet"));
	put_amt(c, &current, &pcurrent, "total",
		bag(c, d, "current_total_price", "current_total_price_set",
		    "currentTotalPriceSet"));
	r = put(r, "totals", totals);
	r = put(r, "current", current);
	if (c->pcur != NULL) {
		pres = json_set_str(pres, "currency", c->pcur);
		pres = put(pres, "totals", ptotals);
		pres = put(pres, "current", pcurrent);
		r = put(r, "presentment", pres);
	} else {
		jv_free(pres);
		jv_free(ptotals);
		jv_free(pcurrent);
	}

	/*
	 * The figures must agree with the lines (shop money, to the minor
	 * unit).  Only the tax is allowed one minor unit per tax line,
	 * because Shopify rounds tax per line and some payloads state the
	 * order's tax computed on the whole.
	 */
	check_sum(c, "line prices x quantities", s.line_total, line_items,
		  "total_line_items_price", 0);
	check_sum(c, "line prices less line discounts",
		  s.line_total - s.line_discount, subtotal, "subtotal_price",
		  0);
	check_sum(c, "line and shipping discounts",
		  s.line_discount + s.shipping_discount, discounts,
		  "total_discounts", 0);
	check_sum(c, "shipping lines", s.shipping, shipping,
		  "total_shipping_price_set", 0);
	if (s.tax_lines > 0)
		check_sum(c, "tax lines", s.tax, tax, "total_tax", s.tax_lines);
	expect = subtotal.shop + s.shipping - s.shipping_discount +
		 (excluded ? tax.shop : 0) + (tip.have ? tip.shop : 0) +
		 (duties.have ? duties.shop : 0);
	check_sum(c,
		  excluded ? "subtotal, shipping, tax, tip and duties"
			   : "subtotal, shipping, tip and duties",
		  expect, total, "total_price", 0);

	list = items(c, d, "transactions", NULL);
	jv_array_foreach(list, i, t)
	{
		jv p = payment(c, t, id, name);

		payments = jv_array_append(payments, json_get(p, "key"));
		emit(c, p);
		jv_free(t);
	}
	jv_free(list);
	list = items(c, d, "refunds", NULL);
	jv_array_foreach(list, i, rf)
	{
		jv x = refund(c, rf, id, name, tincl, r);

		refunds = jv_array_append(refunds, json_get(x, "key"));
		emit(c, x);
		jv_free(rf);
	}
	jv_free(list);
	r = put(r, "payments", payments);
	r = put(r, "refunds", refunds);
	jv_free(id);
	jv_free(name);
	jv_free(tincl);
	/* The order goes first, before what was split out of it. */
	c->out = jv_array_concat(jv_array_append(jv_array(), r), c->out);
}

/* Only these move money (shopify.md 3.2): Σ sale + capture − refund. */
static int
moves_money(const char *kind, const char *status)
{
	if (kind == NULL || status == NULL || strcmp(status, "success") != 0)
		return 0;
	return strcmp(kind, "sale") == 0 || strcmp(kind, "capture") == 0 ||
	       strcmp(kind, "refund") == 0;
}

/*
 * An order transaction.  GraphQL gives amountSet (shop and presentment
 * money); REST gives amount and currency, which is the presentment
 * currency unless the transaction was asked for in_shop_currency, so the
 * record names the currency its amount is in.
 */
static jv
payment(struct conv *c, jv t, jv order_id, jv order_name)
{
	jv r, id, p = jv_object(), type, status, fees, list;
	const char *tcur;
	struct amt a;
	char where[sizeof(c->where)];
	const char *saved_cur = c->cur, *saved_pcur = c->pcur;
	int saved_exp = c->exp, saved_pexp = c->pexp;

	memcpy(where, c->where, sizeof(where));
	id = required_id(c, t, "id", NULL);
	snprintf(c->where + strlen(c->where),
		 sizeof(c->where) - strlen(c->where), "transaction '%s': ",
		 jv_get_kind(id) == JV_KIND_STRING ? jv_string_value(id) : "?");
	if (jv_get_kind(order_id) != JV_KIND_STRING)
		order_id = id_field(c, t, "order_id", "order");
	else
		order_id = jv_copy(order_id);
	tcur = json_str(t, "currency");
	if (tcur != NULL && !json_has(t, "amountSet")) {
		/* REST: the amount is in the currency it names. */
		if ((c->exp = currency_exponent(tcur)) < 0)
			fail(c, "bad_currency",
			     "'%s' is not an ISO 4217 currency", tcur);
		c->cur = tcur;
		c->pcur = NULL;
	} else if (c->cur == NULL) {
		fail(c, "missing_field", "'currency' is missing");
	}
	a = required_bag(c, t, "amount", NULL, "amountSet");
	if (a.shop < 0)
		fail(c, "bad_amount",
		     "'amount' is negative; transaction "
		     "amounts are positive and their kind gives the direction");
	type = code(c, t, "kind", NULL);
	status = code(c, t, "status", NULL);
	r = record(c, "payment", make_key(c, "payment", id));
	r = put(r, "id", id);
	r = put(r, "order_id", jv_copy(order_id));
	r = put(r, "order_key", make_key(c, "order", order_id));
	r = put(r, "order_name", jv_copy(order_name));
	r = put(r, "type", jv_copy(type));
	r = put(r, "status", jv_copy(status));
	r = put(r, "moves_money",
		jv_bool(moves_money(jv_get_kind(type) == JV_KIND_STRING
					? jv_string_value(type)
					: NULL,
				    jv_get_kind(status) == JV_KIND_STRING
					? jv_string_value(status)
					: NULL)));
	r = put(r, "gateway", text(c, t, "gateway", NULL));
	r = put(r, "parent_id",
		id_field(c, t, "parent_id", "parentTransaction"));
	r = put(r, "processed_at",
		timestamp(c, t, "processed_at", "processedAt"));
	r = put(r, "created_at", timestamp(c, t, "created_at", "createdAt"));
	r = put(r, "test", boolean(c, t, "test", NULL));
	r = put(r, "error_code", code(c, t, "error_code", "errorCode"));
	r = put(r, "payment_id", text(c, t, "payment_id", "paymentId"));
	r = put(r, "authorization",
		text(c, t, "authorization", "authorizationCode"));
	r = json_set_str(r, "currency", c->cur ? c->cur : "");
	put_amt(c, &r, &p, "amount", a);
	if (c->pcur != NULL) {
		p = json_set_str(p, "currency", c->pcur);
		r = put(r, "presentment", p);
	} else {
		jv_free(p);
	}
	fees = jv_array();
	list = items(c, t, "fees", NULL);
	jv_array_foreach(list, i, f)
	{
		jv fr = jv_object(), m = json_get(f, "amount");
		int64_t v = 0;

		if (jv_get_kind(m) == JV_KIND_OBJECT)
			money_v2(c, m, c->cur, c->exp, "fees.amount", &v);
		else
			fail(c, "bad_amount", "'fees.amount' is not money");
		jv_free(m);
		fr = put(fr, "amount", money_jv(v, c->exp));
		fr = put(fr, "type", code(c, f, "type", NULL));
		fr = put(fr, "rate", rate(c, f, "rate", NULL));
		fees = jv_array_append(fees, fr);
		jv_free(f);
	}
	jv_free(list);
	r = put(r, "fees", fees);
	jv_free(type);
	jv_free(status);
	jv_free(order_id);
	memcpy(c->where, where, sizeof(where));
	c->cur = saved_cur;
	c->pcur = saved_pcur;
	c->exp = saved_exp;
	c->pexp = saved_pexp;
	return r;
}

/* The member key of obj (borrowed), owned; null when it is absent. */
static jv
member(jv obj, const char *key)
{
	jv v = json_get(obj, key);

	return jv_is_valid(v) ? v : jv_null();
}

/*
 * What names each tax of a canonical line (borrowed): its tax lines'
 * title, rate and channel_liable, without the amounts, which are the
 * whole line's and not the refund's.
 */
static jv
tax_kinds(jv line)
{
	jv list = json_get(line, "tax_lines"), out = jv_array();

	if (jv_get_kind(list) == JV_KIND_ARRAY) {
		jv_array_foreach(list, i, t)
		{
			jv x = jv_object();

			x = put(x, "title", member(t, "title"));
			x = put(x, "rate", member(t, "rate"));
			x = put(x, "channel_liable",
				member(t, "channel_liable"));
			out = jv_array_append(out, x);
			jv_free(t);
		}
	}
	jv_free(list);
	return out;
}

/*
 * What a credit note needs of the order line a refund line gives back
 * (canonical, borrowed).  Copied onto the refund so that enrich-tax plans
 * a refund from the refund alone: a day split for parallel may put an
 * order and its refund in different processes.
 */
static jv
refunded_line(jv line)
{
	static const char *const keys[] = {
	    "sku",	  "title",    "name",	   "quantity",
	    "unit_price", "discount", "gift_card", "taxable"};
	jv x = jv_object();
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		x = put(x, keys[i], member(line, keys[i]));
	return put(x, "tax_lines", tax_kinds(line));
}

/* The same for a refunded shipping line. */
static jv
refunded_shipping(jv sl)
{
	jv x = jv_object();

	x = put(x, "title", member(sl, "title"));
	return put(x, "tax_lines", tax_kinds(sl));
}

/* The item of list (borrowed) whose "id" is id (borrowed); null if none. */
static jv
by_id(jv list, jv id)
{
	jv found = jv_null();

	if (jv_get_kind(list) != JV_KIND_ARRAY ||
	    jv_get_kind(id) != JV_KIND_STRING)
		return found;
	jv_array_foreach(list, i, x)
	{
		const char *xid = json_str(x, "id");

		if (jv_get_kind(found) == JV_KIND_NULL && xid != NULL &&
		    strcmp(xid, jv_string_value(id)) == 0)
			found = jv_copy(x);
		jv_free(x);
	}
	return found;
}

/*
 * Where the order's tax was levied (canonical order, borrowed): the
 * shipping address's country and province codes, or the billing
 * address's when it has no shipping address, as enrich-tax chooses.
 */
static jv
jurisdiction(jv order)
{
	jv a = json_get(order, "shipping_address"), j = jv_object();

	if (jv_get_kind(a) != JV_KIND_OBJECT) {
		jv_free(a);
		a = json_get(order, "billing_address");
	}
	j = put(j, "country_code", member(a, "country_code"));
	j = put(j, "province_code", member(a, "province_code"));
	jv_free(a);
	return j;
}

/*
 * A refund.  order is the canonical order it belongs to (borrowed), when
 * the refund came inside it, else null: a refund alone (REST) knows its
 * lines only from its own refund_line_items[].line_item, and neither its
 * order's jurisdiction nor whether its taxes were included.
 */
static jv
refund(struct conv *c, jv rf, jv order_id, jv order_name, jv taxes_included,
       jv order)
{
	jv r, id, lines = jv_array(), ship = jv_array(), adj = jv_array();
	jv txs = jv_array(), list, p;
	int64_t moved = 0;
	char where[sizeof(c->where)];

	memcpy(where, c->where, sizeof(where));
	id = required_id(c, rf, "id", NULL);
	snprintf(c->where + strlen(c->where),
		 sizeof(c->where) - strlen(c->where), "refund '%s': ",
		 jv_get_kind(id) == JV_KIND_STRING ? jv_string_value(id) : "?");
	if (jv_get_kind(order_id) != JV_KIND_STRING)
		order_id = id_field(c, rf, "order_id", "order");
	else
		order_id = jv_copy(order_id);
	if (c->cur == NULL)
		currencies(c, rf, "currency", NULL, NULL, NULL);
	r = record(c, "refund", make_key(c, "refund", id));
	r = put(r, "id", id);
	r = put(r, "order_id", jv_copy(order_id));
	r = put(r, "order_key", make_key(c, "order", order_id));
	r = put(r, "order_name", jv_copy(order_name));
	r = put(r, "created_at", timestamp(c, rf, "created_at", "createdAt"));
	r = put(r, "processed_at",
		timestamp(c, rf, "processed_at", "processedAt"));
	r = put(r, "note", text(c, rf, "note", NULL));
	r = put(r, "restock", boolean(c, rf, "restock", NULL));
	r = put(r, "taxes_included", jv_copy(taxes_included));
	r = json_set_str(r, "currency", c->cur ? c->cur : "");
	r = put(r, "jurisdiction",
		jv_get_kind(order) == JV_KIND_OBJECT ? jurisdiction(order)
						     : jv_null());

	list = items(c, rf, "refund_line_items", "refundLineItems");
	jv_array_foreach(list, i, rl)
	{
		jv x = jv_object(), pp = jv_object(),
		   li = json_get(rl, "line_item");
		char rwhere[sizeof(c->where)];

		memcpy(rwhere, c->where, sizeof(rwhere));
		snprintf(c->where + strlen(c->where),
			 sizeof(c->where) - strlen(c->where),
			 "refund line %d: ", i + 1);

		if (!jv_is_valid(li)) {
			jv_free(li);
			li = json_get(rl, "lineItem");
		}
		x = put(x, "id", id_field(c, rl, "id", NULL));
		x = put(x, "line_item_id",
			jv_get_kind(li) == JV_KIND_OBJECT
			    ? id_field(c, li, "id", NULL)
			    : jv_null());
		if (!json_has(x, "line_item_id"))
			x = put(x, "line_item_id",
				id_field(c, rl, "line_item_id", NULL));
		if (jv_get_kind(order) == JV_KIND_OBJECT) {
			jv ol = json_get(order, "lines"),
			   lid = json_get(x, "line_item_id"),
			   found = by_id(ol, lid);

			x = put(x, "line_item",
				jv_get_kind(found) == JV_KIND_OBJECT
				    ? refunded_line(found)
				    : jv_null());
			jv_free(found);
			jv_free(lid);
			jv_free(ol);
		} else if (jv_get_kind(li) == JV_KIND_OBJECT &&
			   (json_has(li, "price") ||
			    json_has(li, "price_set"))) {
			/* REST gives the whole line; a bare {id, sku} is
			 * not enough to copy. */
			struct order_sums ignored;
			jv full;

			memset(&ignored, 0, sizeof(ignored));
			full = line_item(c, li, i, &ignored);
			x = put(x, "line_item", refunded_line(full));
			jv_free(full);
		} else {
			x = put(x, "line_item", jv_null());
		}
		x = put(x, "sku", text(c, li, "sku", NULL));
		x = put(x, "quantity", count(c, rl, "quantity", NULL));
		x = put(x, "restock_type",
			code(c, rl, "restock_type", "restockType"));
		put_amt(c, &x, &pp, "subtotal",
			required_bag(c, rl, "subtotal", "subtotal_set",
				     "subtotalSet"));
		put_amt(c, &x, &pp, "tax",
			required_bag(c, rl, "total_tax", "total_tax_set",
				     "totalTaxSet"));
		if (c->pcur != NULL)
			x = put(x, "presentment", pp);
		else
			jv_free(pp);
		lines = jv_array_append(lines, x);
		memcpy(c->where, rwhere, sizeof(rwhere));
		jv_free(li);
		jv_free(rl);
	}
	jv_free(list);
	list = items(c, rf, "refund_shipping_lines", "refundShippingLines");
	jv_array_foreach(list, i, sl)
	{
		jv x = jv_object(), pp = jv_object();

		x = put(x, "shipping_line_id",
			id_field(c, sl, "shipping_line_id", "shippingLine"));
		if (jv_get_kind(order) == JV_KIND_OBJECT) {
			jv os = json_get(order, "shipping_lines"),
			   sid = json_get(x, "shipping_line_id"),
			   found = by_id(os, sid);

			x = put(x, "shipping_line",
				jv_get_kind(found) == JV_KIND_OBJECT
				    ? refunded_shipping(found)
				    : jv_null());
			jv_free(found);
			jv_free(sid);
			jv_free(os);
		} else {
			x = put(x, "shipping_line", jv_null());
		}
		put_amt(c, &x, &pp, "amount",
			required_bag(c, sl, NULL, "subtotal_amount_set",
				     "subtotalAmountSet"));
		put_amt(c, &x, &pp, "tax",
			bag(c, sl, NULL, "tax_amount_set", "taxAmountSet"));
		if (c->pcur != NULL)
			x = put(x, "presentment", pp);
		else
			jv_free(pp);
		ship = jv_array_append(ship, x);
		jv_free(sl);
	}
	jv_free(list);
	list = items(c, rf, "order_adjustments", "orderAdjustments");
	jv_array_foreach(list, i, oa)
	{
		jv x = jv_object(), pp = jv_object();

		x = put(x, "id", id_field(c, oa, "id", NULL));
		x = put(x, "kind", code(c, oa, "kind", "reason"));
		x = put(x, "reason", text(c, oa, "reason", NULL));
		put_amt(
		    c, &x, &pp, "amount",
		    required_bag(c, oa, "amount", "amount_set", "amountSet"));
		put_amt(
		    c, &x, &pp, "tax",
		    bag(c, oa, "tax_amount", "tax_amount_set", "taxAmountSet"));
		if (c->pcur != NULL)
			x = put(x, "presentment", pp);
		else
			jv_free(pp);
		adj = jv_array_append(adj, x);
		jv_free(oa);
	}
	jv_free(list);
	r = put(r, "lines", lines);
	r = put(r, "shipping", ship);
	r = put(r, "adjustments", adj);
	list = items(c, rf, "transactions", NULL);
	jv_array_foreach(list, i, t)
	{
		jv pk;

		p = payment(c, t, order_id, order_name);
		pk = json_get(p, "key");
		txs = jv_array_append(txs, jv_copy(pk));
		if (is_true(p, "moves_money") && c->cur != NULL &&
		    json_str(p, "currency") != NULL &&
		    strcmp(json_str(p, "currency"), c->cur) == 0) {
			int64_t v;
			const char *why, *s = json_str(p, "amount");

			if (s &&
			    money_parse(s, strlen(s), c->exp, &v, &why) == 0)
				add(c, &moved, v);
		}
		jv_free(pk);
		emit(c, p);
		jv_free(t);
	}
	jv_free(list);
	r = put(r, "payments", txs);
	/* What the refund paid back: its successful refund transactions. */
	r = put(r, "total", money_jv(moved, c->exp));
	{
		jv pp = jv_object();

		put_amt(
		    c, &r, &pp, "total_refunded",
		    bag(c, rf, NULL, "total_refunded_set", "totalRefundedSet"));
		if (c->pcur != NULL)
			r = put(r, "presentment", pp);
		else
			jv_free(pp);
	}
	jv_free(order_id);
	memcpy(c->where, where, sizeof(where));
	return r;
}

/* --- Shopify Payments ------------------------------------------------- */

/* A MoneyV2 (GraphQL) or a plain amount with the record's currency. */
static int64_t
plain_money(struct conv *c, jv obj, const char *rest, const char *gql,
	    int required)
{
	jv v = field(obj, rest, gql);
	int64_t out = 0;

	if (!jv_is_valid(v)) {
		if (required)
			fail(c, "missing_field", "'%s' is missing",
			     name_of(rest, gql));
	} else if (jv_get_kind(v) == JV_KIND_OBJECT) {
		money_v2(c, v, c->cur, c->exp, name_of(rest, gql), &out);
	} else {
		parse_amount(c, v, c->exp, name_of(rest, gql), &out);
	}
	jv_free(v);
	return out;
}

/* The currency of a record whose amounts are MoneyV2 or plain + currency. */
static void
money_currency(struct conv *c, jv d, const char *gql_money)
{
	jv m = field(d, NULL, gql_money);
	const char *cur = json_str(m, "currencyCode");

	jv_free(m);
	if (cur == NULL)
		cur = json_str(d, "currency");
	if (cur == NULL) {
		fail(c, "missing_field", "'currency' is missing");
		return;
	}
	if ((c->exp = currency_exponent(cur)) < 0) {
		fail(c, "bad_currency", "'%s' is not an ISO 4217 currency",
		     cur);
		return;
	}
	c->cur = cur;
	c->pcur = NULL;
}

static const char *const summary_fields[][3] = {
    /* canonical, REST, GraphQL */
    {"charges_gross", "charges_gross_amount", "chargesGross"},
    {"charges_fee", "charges_fee_amount", "chargesFee"},
    {"refunds_gross", "refunds_gross_amount", "refundsFeeGross"},
    {"refunds_fee", "refunds_fee_amount", "refundsFee"},
    {"adjustments_gross", "adjustments_gross_amount", "adjustmentsGross"},
    {"adjustments_fee", "adjustments_fee_amount", "adjustmentsFee"},
    {"reserved_funds_gross", "reserved_funds_gross_amount",
     "reservedFundsGross"},
    {"reserved_funds_fee", "reserved_funds_fee_amount", "reservedFundsFee"},
    {"retried_payouts_gross", "retried_payouts_gross_amount",
     "retriedPayoutsGross"},
    {"retried_payouts_fee", "retried_payouts_fee_amount", "retriedPayoutsFee"},
    {"advance_gross", "advance_gross_amount", "advanceGross"},
    {"advance_fee", "advance_fee_amount", "advanceFees"},
};

static void
payout(struct conv *c, jv d)
{
	jv r, id, sum, summary = jv_object(), issued, date;
	int64_t amount, gross = 0, fee = 0;
	size_t i;

	id = required_id(c, d, "id", "legacyResourceId");
	context(c, "payout",
		jv_get_kind(id) == JV_KIND_STRING ? jv_string_value(id) : NULL);
	money_currency(c, d, "net");
	amount = plain_money(c, d, "amount", "net", 1);
	r = record(c, "payout", make_key(c, "payout", id));
	r = put(r, "id", id);
	r = json_set_str(r, "gateway", "shopify_payments");
	r = put(r, "status", code(c, d, "status", NULL));
	r = put(r, "transaction_type",
		code(c, d, "transaction_type", "transactionType"));
	r = json_set_str(r, "currency", c->cur ? c->cur : "");
	r = put(r, "amount", money_jv(amount, c->exp));
	issued = field(d, "issued_at", "issuedAt");
	date = field(d, "date", NULL);
	if (jv_get_kind(date) == JV_KIND_STRING) {
		const char *why;

		if (utc_check_date(jv_string_value(date), &why) < 0)
			fail(c, "bad_time", "'date' %s", why);
		r = put(r, "date", jv_copy(date));
	} else if (jv_get_kind(issued) == JV_KIND_STRING &&
		   strlen(jv_string_value(issued)) >= 10) {
		/* The payout's date as Shopify wrote it, in its own offset. */
		r = put(r, "date",
			jv_string_sized(jv_string_value(issued), 10));
	} else {
		fail(c, "missing_field", "'date' is missing");
	}
	jv_free(issued);
	jv_free(date);
	r = put(r, "issued_at", timestamp(c, d, "issued_at", "issuedAt"));
	sum = field(d, "summary", NULL);
	if (jv_get_kind(sum) == JV_KIND_OBJECT) {
		for (i = 0;
		     i < sizeof(summary_fields) / sizeof(summary_fields[0]);
		     i++) {
			const char *const *f = summary_fields[i];
			int64_t v;

			if (!json_has(sum, f[1]) && !json_has(sum, f[2]))
				continue;
			v = plain_money(c, sum, f[1], f[2], 0);
			summary = put(summary, f[0], money_jv(v, c->exp));
			add(c, i % 2 ? &fee : &gross, v);
		}
		/* amount = Σ gross − Σ fee (shopify.md 4.1). */
		if (gross - fee != amount) {
			char x[MONEY_TEXT_MAX], y[MONEY_TEXT_MAX];

			money_format(gross - fee, c->exp, x);
			money_format(amount, c->exp, y);
			fail(c, "inconsistent_totals",
			     "summary gross less fees "
			     "is %s but the payout amount is %s",
			     x, y);
		}
		r = put(r, "summary", summary);
	} else {
		jv_free(summary);
		r = put(r, "summary", jv_null());
	}
	jv_free(sum);
	emit(c, r);
}

/* REST's source types mix styles ("Payments::Refund"); keep the last word. */
static jv
source_type(struct conv *c, jv d)
{
	jv v = code(c, d, "source_type", "sourceType");
	const char *s, *colon;

	if (jv_get_kind(v) != JV_KIND_STRING)
		return v;
	s = jv_string_value(v);
	if ((colon = strrchr(s, ':')) != NULL) {
		jv w = jv_string(colon + 1);

		jv_free(v);
		return w;
	}
	return v;
}

static void
balance_transaction(struct conv *c, jv d)
{
	jv r, id, payout_id, order_id, tx_id, type, assoc;
	int64_t amount, fee, net;
	char sid[160];

	id = required_id(c, d, "id", NULL);
	context(c, "balance transaction",
		jv_get_kind(id) == JV_KIND_STRING ? jv_string_value(id) : NULL);
	money_currency(c, d, "amount");
	amount = plain_money(c, d, "amount", NULL, 1);
	fee = plain_money(c, d, "fee", NULL, 1);
	net = plain_money(c, d, "net", NULL, 1);
	if (!c->failed && amount - fee != net) {
		char x[MONEY_TEXT_MAX], y[MONEY_TEXT_MAX];

		money_format(amount - fee, c->exp, x);
		money_format(net, c->exp, y);
		fail(c, "inconsistent_totals",
		     "amount less fee is %s but "
		     "'net' is %s",
		     x, y);
	}
	snprintf(sid, sizeof(sid), "shopify_payments:%s",
		 jv_get_kind(id) == JV_KIND_STRING ? jv_string_value(id) : "");
	r = record(c, "settlement",
		   make_key(c, "settlement",
			    jv_get_kind(id) == JV_KIND_STRING ? jv_string(sid)
							      : jv_null()));
	r = put(r, "id", id);
	r = json_set_str(r, "gateway", "shopify_payments");
	type = code(c, d, "type", NULL);
	/* GraphQL calls the payout's own row TRANSFER, REST "payout". */
	if (jv_get_kind(type) == JV_KIND_STRING &&
	    strcmp(jv_string_value(type), "transfer") == 0) {
		jv_free(type);
		type = jv_string("payout");
	}
	r = put(r, "type", type);
	r = put(r, "test", boolean(c, d, "test", NULL));
	r = json_set_str(r, "currency", c->cur ? c->cur : "");
	r = put(r, "amount", money_jv(amount, c->exp));
	r = put(r, "fee", money_jv(fee, c->exp));
	r = put(r, "net", money_jv(net, c->exp));
	assoc = field(d, NULL, "associatedPayout");
	if (jv_get_kind(assoc) == JV_KIND_OBJECT) {
		payout_id = id_field(c, assoc, "id", NULL);
		r = put(r, "payout_status", code(c, assoc, "status", NULL));
	} else {
		payout_id = id_field(c, d, "payout_id", NULL);
		r = put(r, "payout_status", code(c, d, "payout_status", NULL));
	}
	jv_free(assoc);
	r = put(r, "payout_id", jv_copy(payout_id));
	r = put(r, "payout_key", make_key(c, "payout", payout_id));
	jv_free(payout_id);
	assoc = field(d, NULL, "associatedOrder");
	if (jv_get_kind(assoc) == JV_KIND_OBJECT) {
		order_id = id_field(c, assoc, "id", NULL);
		r = put(r, "order_name", text(c, assoc, "name", NULL));
	} else {
		order_id = id_field(c, d, "source_order_id", NULL);
		r = put(r, "order_name", jv_null());
	}
	jv_free(assoc);
	r = put(r, "order_id", jv_copy(order_id));
	r = put(r, "order_key", make_key(c, "order", order_id));
	jv_free(order_id);
	tx_id = id_field(c, d, "source_order_transaction_id",
			 "sourceOrderTransactionId");
	r = put(r, "payment_id", jv_copy(tx_id));
	r = put(r, "payment_key", make_key(c, "payment", tx_id));
	jv_free(tx_id);
	r = put(r, "source_id", id_field(c, d, "source_id", "sourceId"));
	r = put(r, "source_type", source_type(c, d));
	r = put(r, "adjustment_reason",
		code(c, d, "adjustment_reason", "adjustmentReason"));
	r = put(r, "processed_at",
		timestamp(c, d, "processed_at", "transactionDate"));
	emit(c, r);
}

static void
dispute(struct conv *c, jv d)
{
	jv r, id, order_id, reasons = field(d, NULL, "reasonDetails");

	id = required_id(c, d, "id", NULL);
	context(c, "dispute",
		jv_get_kind(id) == JV_KIND_STRING ? jv_string_value(id) : NULL);
	money_currency(c, d, "amount");
	order_id = id_field(c, d, "order_id", "order");
	r = record(c, "dispute", make_key(c, "dispute", id));
	r = put(r, "id", id);
	r = json_set_str(r, "gateway", "shopify_payments");
	r = put(r, "order_id", jv_copy(order_id));
	r = put(r, "order_key", make_key(c, "order", order_id));
	r = put(r, "type", code(c, d, "type", NULL));
	r = json_set_str(r, "currency", c->cur ? c->cur : "");
	r = put(r, "amount",
		money_jv(plain_money(c, d, "amount", NULL, 1), c->exp));
	if (jv_get_kind(reasons) == JV_KIND_OBJECT) {
		r = put(r, "reason", code(c, reasons, "reason", NULL));
		r = put(r, "network_reason_code",
			text(c, reasons, "networkReasonCode", NULL));
	} else {
		r = put(r, "reason", code(c, d, "reason", NULL));
		r = put(r, "network_reason_code",
			text(c, d, "network_reason_code", NULL));
	}
	r = put(r, "status", code(c, d, "status", NULL));
	r = put(r, "initiated_at",
		timestamp(c, d, "initiated_at", "initiatedAt"));
	r = put(r, "evidence_due_by",
		timestamp(c, d, "evidence_due_by", "evidenceDueBy"));
	r = put(r, "evidence_sent_on",
		timestamp(c, d, "evidence_sent_on", "evidenceSentOn"));
	r = put(r, "finalized_on",
		timestamp(c, d, "finalized_on", "finalizedOn"));
	jv_free(order_id);
	jv_free(reasons);
	emit(c, r);
}

/* --- master data ------------------------------------------------------ */

/* One product record per variant: the variant is what an order line sells. */
static void
variant(struct conv *c, jv v, jv product)
{
	jv r, id, pid, inv;

	id = required_id(c, v, "id", NULL);
	pid = id_field(c, v, "product_id", "product");
	if (jv_get_kind(pid) == JV_KIND_NULL) {
		jv_free(pid);
		pid = id_field(c, product, "id", NULL);
	}
	r = record(c, "product", make_key(c, "product", id));
	r = put(r, "id", id);
	r = put(r, "product_id", pid);
	r = put(r, "title", text(c, product, "title", NULL));
	r = put(r, "variant_title", text(c, v, "title", NULL));
	r = put(r, "vendor", text(c, product, "vendor", NULL));
	r = put(r, "product_type",
		text(c, product, "product_type", "productType"));
	r = put(r, "status", code(c, product, "status", NULL));
	r = put(r, "sku", text(c, v, "sku", NULL));
	r = put(r, "barcode", text(c, v, "barcode", NULL));
	r = put(r, "taxable", boolean(c, v, "taxable", NULL));
	/* What needs no delivery: a gift card (GraphQL says so of the
	 * product), or a variant that REST marks as not shipped. */
	r = put(r, "gift_card", boolean(c, product, NULL, "isGiftCard"));
	r = put(r, "requires_shipping",
		boolean(c, v, "requires_shipping", "requiresShipping"));
	r = json_set_str(r, "currency", c->cur ? c->cur : "");
	r = put(r, "price",
		money_jv(plain_money(c, v, "price", NULL, 1), c->exp));
	r = put(r, "compare_at_price",
		json_has(v, "compare_at_price") || json_has(v, "compareAtPrice")
		    ? money_jv(plain_money(c, v, "compare_at_price",
					   "compareAtPrice", 0),
			       c->exp)
		    : jv_null());
	inv = id_field(c, v, "inventory_item_id", "inventoryItem");
	r = put(r, "inventory_item_id", inv);
	r = put(r, "updated_at", timestamp(c, v, "updated_at", "updatedAt"));
	emit(c, r);
}

static void
product(struct conv *c, jv d, int is_variant)
{
	jv list, id = id_field(c, d, "id", NULL);

	context(c, is_variant ? "variant" : "product",
		jv_get_kind(id) == JV_KIND_STRING ? jv_string_value(id) : NULL);
	jv_free(id);
	currencies(c, d, "currency", NULL, NULL, NULL);
	if (is_variant) {
		variant(c, d, jv_null());
		return;
	}
	list = items(c, d, "variants", NULL);
	if (jv_array_length(jv_copy(list)) == 0)
		fail(c, "missing_field", "'variants' is empty");
	jv_array_foreach(list, i, v)
	{
		variant(c, v, d);
		jv_free(v);
	}
	jv_free(list);
}

static void
customer(struct conv *c, jv d)
{
	jv r, id = required_id(c, d, "id", NULL);

	context(c, "customer",
		jv_get_kind(id) == JV_KIND_STRING ? jv_string_value(id) : NULL);
	r = record(c, "customer", make_key(c, "customer", id));
	r = put(r, "id", id);
	r = person(c, d, r);
	r = put(r, "tax_exempt", boolean(c, d, "tax_exempt", "taxExempt"));
	r = put(r, "currency", text(c, d, "currency", NULL));
	r = put(r, "created_at", timestamp(c, d, "created_at", "createdAt"));
	r = put(r, "updated_at", timestamp(c, d, "updated_at", "updatedAt"));
	r = put(r, "default_address",
		address(c, d, "default_address", "defaultAddress"));
	emit(c, r);
}

static void
inventory(struct conv *c, jv d)
{
	jv r, item, loc, avail = jv_null(), list;
	char key[160];

	item = id_field(c, d, "inventory_item_id", "item");
	loc = id_field(c, d, "location_id", "location");
	if (jv_get_kind(item) != JV_KIND_STRING ||
	    jv_get_kind(loc) != JV_KIND_STRING)
		fail(c, "missing_field",
		     "'inventory_item_id' or "
		     "'location_id' is missing");
	snprintf(
	    key, sizeof(key), "%s@%s",
	    jv_get_kind(item) == JV_KIND_STRING ? jv_string_value(item) : "",
	    jv_get_kind(loc) == JV_KIND_STRING ? jv_string_value(loc) : "");
	context(c, "inventory level", key);
	if (json_has(d, "available")) {
		avail = count(c, d, "available", NULL);
	} else {
		list = items(c, d, NULL, "quantities");
		jv_array_foreach(list, i, q)
		{
			const char *qn = json_str(q, "name");

			if (qn != NULL && strcmp(qn, "available") == 0) {
				jv_free(avail);
				avail = count(c, q, "quantity", NULL);
			}
			jv_free(q);
		}
		jv_free(list);
	}
	r = record(c, "inventory", make_key(c, "inventory", jv_string(key)));
	r = put(r, "inventory_item_id", item);
	r = put(r, "location_id", loc);
	r = put(r, "available", avail);
	r = put(r, "updated_at", timestamp(c, d, "updated_at", "updatedAt"));
	emit(c, r);
}

/* --- REST resources that are not orders ------------------------------ */

static void
rest_transaction(struct conv *c, jv d)
{
	jv id = id_field(c, d, "id", NULL);

	context(c, "transaction",
		jv_get_kind(id) == JV_KIND_STRING ? jv_string_value(id) : NULL);
	jv_free(id);
	c->where[0] = '\0';
	emit(c, payment(c, d, jv_null(), jv_null()));
}

static void
rest_refund(struct conv *c, jv d)
{
	jv p = jv_array(), r;

	/* A refund alone does not say whether the order's taxes were included.
	 */
	c->cur = NULL;
	r = refund(c, d, jv_null(), jv_null(), jv_null(), jv_null());
	jv_free(p);
	/* The refund first, then the transactions split out of it. */
	c->out = jv_array_concat(jv_array_append(jv_array(), r), c->out);
}

/* --- gateway settlement files (settlement-extract) --------------------- */

/*
 * Envelopes from settlement-extract carry one CSV row each, every value
 * as the text the file had: "shopify.csv.payout_row" (the Shopify admin's
 * payout-transactions export), "paypal.srf.row" (a body row of PayPal's
 * Settlement Report) and "stripe.balance.row" (Stripe's itemized
 * balance-change report).  Each gives one settlement record, and a row
 * that is the payout itself also gives a payout record.
 */

/* A column's text, borrowed from data; NULL when absent or empty. */
static const char *
cell(jv data, const char *name)
{
	const char *s = json_str(data, name);

	return s != NULL && *s != '\0' ? s : NULL;
}

static jv
cell_jv(jv data, const char *name)
{
	const char *s = cell(data, name);

	return s ? jv_string(s) : jv_null();
}

static const char *
required_cell(struct conv *c, jv data, const char *name)
{
	const char *s = cell(data, name);

	if (s == NULL)
		fail(c, "missing_field", "'%s' is missing", name);
	return s;
}

/* A file's currency code; sets c->cur and c->exp.  Stripe writes "usd". */
static void
file_currency(struct conv *c, const char *code_text, const char *name)
{
	/* c->cur must outlive this call; one envelope is mapped at a time. */
	static char up[4];
	size_t i;

	if (code_text == NULL) {
		fail(c, "missing_field", "'%s' is missing", name);
		return;
	}
	if (strlen(code_text) != 3) {
		fail(c, "bad_currency", "'%s' is not an ISO 4217 currency",
		     code_text);
		return;
	}
	for (i = 0; i < 3; i++)
		up[i] = (char)(code_text[i] >= 'a' && code_text[i] <= 'z'
				   ? code_text[i] - 'a' + 'A'
				   : code_text[i]);
	up[3] = '\0';
	if ((c->exp = currency_exponent(up)) < 0) {
		fail(c, "bad_currency", "'%s' is not an ISO 4217 currency",
		     code_text);
		return;
	}
	c->cur = up;
	c->pcur = NULL;
}

/* A decimal amount column in the record's currency. */
static int64_t
file_amount(struct conv *c, jv data, const char *name, int required)
{
	const char *s = cell(data, name), *why;
	int64_t v = 0;

	if (s == NULL) {
		if (required)
			fail(c, "missing_field", "'%s' is missing", name);
		return 0;
	}
	if (money_parse(s, strlen(s), c->exp, &v, &why) < 0)
		fail(c, "bad_amount", "'%s' %s", name, why);
	return v;
}

/* A timestamp column; with_zone names a column that is UTC by name. */
static jv
file_time(struct conv *c, const char *s, const char *name, int utc_by_name)
{
	char buf[64], out[UTC_TEXT_MAX];
	const char *why;
	size_t i;

	if (s == NULL)
		return jv_null();
	/* PayPal writes 2026/11/26; Stripe's *_utc columns have no zone. */
	snprintf(buf, sizeof(buf), "%s%s", s, utc_by_name ? "Z" : "");
	for (i = 0; i < 10 && buf[i]; i++)
		if (buf[i] == '/')
			buf[i] = '-';
	if (utc_normalize(buf, out, &why) < 0) {
		fail(c, "bad_time", "'%s' is not a timestamp with an offset",
		     name);
		return jv_null();
	}
	return jv_string(out);
}

/* The date that begins a date or timestamp column ("2026-11-27 ..."). */
static jv
file_date(struct conv *c, const char *s, const char *name)
{
	char buf[11];
	const char *why;
	size_t i;

	if (s == NULL)
		return jv_null();
	snprintf(buf, sizeof(buf), "%s", s);
	for (i = 0; buf[i]; i++)
		if (buf[i] == '/')
			buf[i] = '-';
	if (strlen(s) < 10 || (s[10] != '\0' && s[10] != ' ' && s[10] != 'T') ||
	    utc_check_date(buf, &why) < 0) {
		fail(c, "bad_time", "'%s' is not a date", name);
		return jv_null();
	}
	return jv_string(buf);
}

/* A code as a word: lower case, spaces as '_' ("marketplace sales tax"). */
static jv
file_code(const char *s)
{
	char buf[96];
	size_t i;

	if (s == NULL)
		return jv_null();
	snprintf(buf, sizeof(buf), "%s", s);
	for (i = 0; buf[i]; i++) {
		if (buf[i] >= 'A' && buf[i] <= 'Z')
			buf[i] = (char)(buf[i] - 'A' + 'a');
		else if (buf[i] == ' ')
			buf[i] = '_';
	}
	return jv_string(buf);
}

/* One settlement line from a file, before it becomes a record. */
struct file_line {
	const char *gateway; /* paypal, stripe, shopify_payments */
	jv id, type, payout_id, payout_status, order_name, payment_reference;
	jv source_id, source_type, processed_at, available_on;
	int64_t amount, fee, net; /* minor units of c->cur */
};

/* "<gateway>:<id>" for settlement keys and other gateways' payouts. */
static jv
gateway_id(const char *gateway, jv id)
{
	char buf[200];

	if (jv_get_kind(id) != JV_KIND_STRING)
		return jv_null();
	snprintf(buf, sizeof(buf), "%s:%s", gateway, jv_string_value(id));
	return jv_string(buf);
}

/*
 * A payout's key: Shopify's payout ids are those of the API, so a payout
 * read from the admin export is the same record as the one extracted;
 * other gateways' ids are theirs alone and carry the gateway's name.
 */
static jv
file_payout_key(struct conv *c, const char *gateway, jv payout_id)
{
	if (strcmp(gateway, "shopify_payments") == 0)
		return make_key(c, "payout", payout_id);
	return make_key(c, "payout", gateway_id(gateway, payout_id));
}

/* Make the settlement record of l (its jv members consumed). */
static void
file_settlement(struct conv *c, struct file_line *l)
{
	jv r;
	int64_t net;

	if (money_add(l->amount, -l->fee, &net) < 0 || net != l->net) {
		char x[MONEY_TEXT_MAX], y[MONEY_TEXT_MAX];

		money_format(l->amount - l->fee, c->exp, x);
		money_format(l->net, c->exp, y);
		fail(c, "inconsistent_totals",
		     "amount less fee is %s but 'net' is %s", x, y);
	}
	r = record(c, "settlement",
		   make_key(c, "settlement", gateway_id(l->gateway, l->id)));
	r = put(r, "id", l->id);
	r = json_set_str(r, "gateway", l->gateway);
	r = put(r, "type", l->type);
	r = put(r, "test", jv_null());
	r = json_set_str(r, "currency", c->cur ? c->cur : "");
	r = put(r, "amount", money_jv(l->amount, c->exp));
	r = put(r, "fee", money_jv(l->fee, c->exp));
	r = put(r, "net", money_jv(l->net, c->exp));
	r = put(r, "payout_key",
		file_payout_key(c, l->gateway, jv_copy(l->payout_id)));
	r = put(r, "payout_id", l->payout_id);
	r = put(r, "payout_status", l->payout_status);
	r = put(r, "order_id", jv_null());
	r = put(r, "order_key", jv_null());
	r = put(r, "order_name", l->order_name);
	r = put(r, "payment_id", jv_null());
	r = put(r, "payment_key", jv_null());
	r = put(r, "payment_reference", l->payment_reference);
	r = put(r, "source_id", l->source_id);
	r = put(r, "source_type", l->source_type);
	r = put(r, "adjustment_reason", jv_null());
	r = put(r, "processed_at", l->processed_at);
	r = put(r, "available_on", l->available_on);
	emit(c, r);
}

/* The payout a file's payout row stands for; amount is what was paid. */
static void
file_payout(struct conv *c, const char *gateway, jv id, jv status,
	    int64_t amount, jv date, jv issued_at)
{
	jv r = record(c, "payout", file_payout_key(c, gateway, jv_copy(id)));

	r = put(r, "id", id);
	r = json_set_str(r, "gateway", gateway);
	r = put(r, "status", status);
	r = put(r, "transaction_type", jv_null());
	r = json_set_str(r, "currency", c->cur ? c->cur : "");
	r = put(r, "amount", money_jv(amount, c->exp));
	r = put(r, "date", date);
	r = put(r, "issued_at", issued_at);
	r = put(r, "summary", jv_null());
	emit(c, r);
}

/* The columns that say what a Shopify export row is, not where it went. */
static const char *const shopify_identity[] = {"Transaction Date",
					       "Type",
					       "Order",
					       "Card Brand",
					       "Card Source",
					       "Amount",
					       "Fee",
					       "Net",
					       "Checkout",
					       "Payment Method Name",
					       "Presentment Amount",
					       "Presentment Currency",
					       "Currency",
					       NULL};

/*
 * A Shopify export row has no id.  Its id is made from what the row says
 * about the transaction (not its payout status or dates, which change
 * when a pending row is exported again once paid, nor the file or row
 * number), and the envelope's occurrence, so the same row in a re-sent
 * file has the same key and two equal rows in one file do not.
 */
static jv
shopify_row_id(jv env, jv data)
{
	struct sha256 h;
	unsigned char d[SHA256_LEN];
	char id[4 + 16 + 1], num[32];
	jv occ = json_get(env, "occurrence");
	size_t i;

	sha256_init(&h);
	for (i = 0; shopify_identity[i] != NULL; i++) {
		const char *s = cell(data, shopify_identity[i]);

		sha256_update(&h, shopify_identity[i],
			      strlen(shopify_identity[i]));
		sha256_update(&h, "=", 1);
		if (s != NULL)
			sha256_update(&h, s, strlen(s));
		sha256_update(&h, "\n", 1);
	}
	if (json_number_text(occ, num, sizeof(num)) < 0)
		snprintf(num, sizeof(num), "1");
	jv_free(occ);
	sha256_update(&h, "occurrence=", 11);
	sha256_update(&h, num, strlen(num));
	sha256_final(&h, d);
	memcpy(id, "csv-", 4);
	for (i = 0; i < 8; i++)
		snprintf(id + 4 + 2 * i, 3, "%02x", d[i]);
	return jv_string(id);
}

static void
shopify_csv_row(struct conv *c, jv env, jv d)
{
	struct file_line l;
	const char *checkout = cell(d, "Checkout");

	l.gateway = "shopify_payments";
	l.id = shopify_row_id(env, d);
	context(c, "export row", jv_string_value(l.id));
	file_currency(c, cell(d, "Currency"), "Currency");
	l.amount = file_amount(c, d, "Amount", 1);
	l.fee = file_amount(c, d, "Fee", 1);
	l.net = file_amount(c, d, "Net", 1);
	l.type = file_code(required_cell(c, d, "Type"));
	{
		jv pid = cell_jv(d, "Payout ID");

		l.payout_id = id_value(c, pid, "Payout ID");
		jv_free(pid);
	}
	l.payout_status = file_code(cell(d, "Payout Status"));
	l.order_name = cell_jv(d, "Order");
	l.payment_reference = jv_null();
	/* The checkout, "#35756536135773", is the row's source. */
	if (checkout != NULL && checkout[0] == '#')
		checkout++;
	l.source_id = checkout ? jv_string(checkout) : jv_null();
	l.source_type = checkout ? jv_string("checkout") : jv_null();
	l.processed_at = file_time(c, required_cell(c, d, "Transaction Date"),
				   "Transaction Date", 0);
	l.available_on = file_date(c, cell(d, "Available On"), "Available On");
	if (!c->failed && jv_get_kind(l.type) == JV_KIND_STRING &&
	    strcmp(jv_string_value(l.type), "payout") == 0 &&
	    jv_get_kind(l.payout_id) == JV_KIND_STRING)
		file_payout(c, l.gateway, jv_copy(l.payout_id),
			    jv_copy(l.payout_status), -l.amount,
			    file_date(c, cell(d, "Payout Date"), "Payout Date"),
			    jv_null());
	file_settlement(c, &l);
}

/*
 * PayPal's transaction event codes, by group, as settlement types; a code
 * of no group listed here is its own type ("t0200").
 */
static jv
paypal_type(const char *tcode)
{
	static const struct {
		const char *prefix, *type;
	} map[] = {
	    {"T1106", "dispute"},  {"T1201", "dispute"}, {"T00", "charge"},
	    {"T01", "fee"},	   {"T04", "payout"},	 {"T11", "refund"},
	    {"T12", "adjustment"}, {"T15", "reserve"},	 {"T21", "reserve"},
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strncmp(tcode, map[i].prefix, strlen(map[i].prefix)) == 0)
			return jv_string(map[i].type);
	return file_code(tcode);
}

/*
 * PayPal amounts are unsigned hundredths in every currency, with the
 * direction in a CR/DR column: 10000 is 100.00 USD and 100 JPY.
 */
static int64_t
paypal_amount(struct conv *c, jv d, const char *name, const char *dc_name,
	      const char *dc_alt, int required)
{
	const char *s = cell(d, name), *dc = cell(d, dc_name);
	int64_t v = 0, scale = 1;
	size_t i;
	int e;

	if (dc == NULL && dc_alt != NULL)
		dc = cell(d, dc_alt);
	if (s == NULL) {
		if (required)
			fail(c, "missing_field", "'%s' is missing", name);
		return 0;
	}
	for (i = 0; s[i]; i++)
		if (s[i] < '0' || s[i] > '9' || i >= 18) {
			fail(c, "bad_amount",
			     "'%s' is not an unsigned number of hundredths",
			     name);
			return 0;
		}
	v = strtoll(s, NULL, 10);
	if (dc == NULL || (strcmp(dc, "CR") != 0 && strcmp(dc, "DR") != 0)) {
		fail(c, "bad_amount", "'%s' has no CR or DR beside it", name);
		return 0;
	}
	for (e = c->exp; e > 2; e--)
		scale *= 10;
	for (e = c->exp; e < 2; e++) {
		if (v % 10 != 0) {
			fail(c, "bad_amount",
			     "'%s' has hundredths that %s does not have", name,
			     c->cur);
			return 0;
		}
		v /= 10;
	}
	if (money_mul(v, scale, &v) < 0)
		fail(c, "bad_amount", "'%s' overflows", name);
	return strcmp(dc, "DR") == 0 ? -v : v;
}

static void
paypal_srf_row(struct conv *c, jv d)
{
	struct file_line l;
	const char *fee_cur = cell(d, "Fee Currency");
	const char *done = cell(d, "Transaction Completion Date");
	const char *tcode;

	l.gateway = "paypal";
	l.id = jv_null();
	{
		const char *tid = required_cell(c, d, "Transaction ID");

		if (tid != NULL) {
			jv_free(l.id);
			l.id = jv_string(tid);
		}
		context(c, "PayPal transaction", tid);
	}
	file_currency(c, cell(d, "Gross Transaction Currency"),
		      "Gross Transaction Currency");
	if (!c->failed && fee_cur != NULL && cell(d, "Fee Amount") != NULL &&
	    strcmp(fee_cur, c->cur) != 0)
		fail(c, "wrong_currency",
		     "'Fee Currency' is %s, not the gross amount's %s", fee_cur,
		     c->cur);
	/* Spec 9 spells the column "Transaction  Debit or Credit" too. */
	l.amount = paypal_amount(c, d, "Gross Transaction Amount",
				 "Transaction Debit or Credit",
				 "Transaction  Debit or Credit", 1);
	/* A fee debited (DR) is a fee charged: positive, as Shopify's. */
	l.fee =
	    -paypal_amount(c, d, "Fee Amount", "Fee Debit or Credit", NULL, 0);
	l.net = l.amount - l.fee;
	tcode = required_cell(c, d, "Transaction Event Code");
	l.type = tcode ? paypal_type(tcode) : jv_null();
	l.order_name = cell_jv(d, "Invoice ID");
	l.payment_reference = jv_copy(l.id);
	l.source_id = cell_jv(d, "PayPal Reference ID");
	l.source_type = file_code(cell(d, "PayPal Reference ID Type"));
	if (done == NULL)
		done = cell(d, "Transaction Initiation Date");
	l.processed_at = file_time(c, done, "Transaction Completion Date", 0);
	l.available_on = jv_null();
	l.payout_status = jv_null();
	/* A withdrawal to the bank is the payout itself. */
	if (jv_get_kind(l.type) == JV_KIND_STRING &&
	    strcmp(jv_string_value(l.type), "payout") == 0) {
		l.payout_id = jv_copy(l.id);
		if (!c->failed)
			file_payout(
			    c, l.gateway, jv_copy(l.id), jv_null(), -l.amount,
			    file_date(c, done, "Transaction Completion Date"),
			    jv_copy(l.processed_at));
	} else if (c->withdrawal != NULL) {
		/* The withdrawal that took it to the bank (settlement-extract
		 * found it in the report). */
		l.payout_id = jv_string(c->withdrawal);
	} else {
		l.payout_id = jv_null();
	}
	file_settlement(c, &l);
}

static void
stripe_balance_row(struct conv *c, jv d)
{
	struct file_line l;
	const char *src = cell(d, "source_id"), *ref;
	const char *avail = cell(d, "available_on_utc");

	l.gateway = "stripe";
	l.id = jv_null();
	{
		const char *bt = required_cell(c, d, "balance_transaction_id");

		if (bt != NULL) {
			jv_free(l.id);
			l.id = jv_string(bt);
		}
		context(c, "Stripe balance transaction", bt);
	}
	file_currency(c, cell(d, "currency"), "currency");
	l.amount = file_amount(c, d, "gross", 1);
	l.fee = file_amount(c, d, "fee", 1);
	l.net = file_amount(c, d, "net", 1);
	l.type = file_code(required_cell(c, d, "reporting_category"));
	l.payout_id = cell_jv(d, "automatic_payout_id");
	l.payout_status = jv_null();
	l.order_name = jv_null();
	/* What Shopify keeps as a Stripe payment's authorization. */
	ref = cell(d, "charge_id");
	if (ref == NULL)
		ref = cell(d, "payment_intent_id");
	if (ref == NULL && src != NULL &&
	    (strncmp(src, "ch_", 3) == 0 || strncmp(src, "py_", 3) == 0 ||
	     strncmp(src, "pi_", 3) == 0))
		ref = src;
	l.payment_reference = ref ? jv_string(ref) : jv_null();
	l.source_id = src ? jv_string(src) : jv_null();
	l.source_type = jv_null();
	l.processed_at = file_time(c, cell(d, "created_utc"), "created_utc", 1);
	if (avail == NULL)
		avail = cell(d, "available_on");
	l.available_on = file_date(c, avail, "available_on");
	if (jv_get_kind(l.type) == JV_KIND_STRING &&
	    strcmp(jv_string_value(l.type), "payout") == 0 && src != NULL &&
	    strncmp(src, "po_", 3) == 0) {
		jv_free(l.payout_id);
		l.payout_id = jv_string(src);
		if (!c->failed)
			file_payout(c, l.gateway, jv_string(src), jv_null(),
				    -l.amount, jv_copy(l.available_on),
				    jv_copy(l.processed_at));
	}
	file_settlement(c, &l);
}

/* --- Odoo: the way back (odoo-extract's envelopes) -------------------- */

/*
 * Odoo's RPC writes datetimes as "YYYY-MM-DD HH:MM:SS" in UTC, without an
 * offset (odoo.md 1.8: the server keeps and serves UTC); that is the one
 * zone it can mean, so "Z" is added, never a shop's zone.
 */
static jv
odoo_time(struct conv *c, jv obj, const char *name)
{
	const char *t = json_str(obj, name), *why;
	char buf[40], out[UTC_TEXT_MAX];

	if (t == NULL || strlen(t) != 19 || t[10] != ' ') {
		fail(c, "bad_time", "'%s' is not an Odoo datetime", name);
		return jv_null();
	}
	snprintf(buf, sizeof(buf), "%.10sT%sZ", t, t + 11);
	if (utc_normalize(buf, out, &why) < 0) {
		fail(c, "bad_time", "'%s' is not an Odoo datetime", name);
		return jv_null();
	}
	return jv_string(out);
}

/* An Odoo char field: its text, or null for Odoo's false. */
static jv
odoo_text(jv obj, const char *name)
{
	const char *s = json_str(obj, name);

	return s != NULL && *s ? jv_string(s) : jv_null();
}

/* The name of a many2one ([id, "name"] or false), or null. */
static jv
odoo_m2o_name(jv obj, const char *name)
{
	jv v = json_get(obj, name), n = jv_null();

	if (jv_get_kind(v) == JV_KIND_ARRAY &&
	    jv_array_length(jv_copy(v)) == 2) {
		n = jv_array_get(jv_copy(v), 1);
		if (jv_get_kind(n) != JV_KIND_STRING) {
			jv_free(n);
			n = jv_null();
		}
	}
	jv_free(v);
	return n;
}

/*
 * odoo.picking: a done delivery of an order tillroll loaded becomes one
 * fulfillment, its lines the moves done with their SKU and Shopify
 * variant; the done quantity is quantity_done in Odoo 16 and quantity in
 * 17 and 18.  A line that names neither SKU nor variant is refused, not
 * guessed.
 */
static void
odoo_picking(struct conv *c, jv env, jv d)
{
	const char *api = json_str(env, "api");
	const char *qty_field = api != NULL && strncmp(api, "16", 2) == 0
				    ? "quantity_done"
				    : "quantity";
	jv r, id, order_id, moves, lines = jv_array(), tracking;
	const char *state = json_str(d, "state");
	char ptext[32];

	id = required_id(c, d, "id", NULL);
	snprintf(ptext, sizeof(ptext), "%s",
		 jv_get_kind(id) == JV_KIND_STRING ? jv_string_value(id) : "?");
	context(c, "picking", ptext);
	order_id = required_id(c, d, "order_id", NULL);
	if (state == NULL || strcmp(state, "done") != 0)
		fail(c, "not_done", "the delivery is not done (state '%s')",
		     state ? state : "?");
	moves = items(c, d, "moves", NULL);
	jv_array_foreach(moves, i, m)
	{
		jv prod = json_get(m, "product"), q, line;
		const char *mstate = json_str(m, "state");

		q = count(c, m, qty_field, NULL);
		if (jv_get_kind(q) == JV_KIND_NULL && !c->failed)
			fail(c, "missing_field", "move %d: '%s' is missing",
			     i + 1, qty_field);
		if ((mstate != NULL && strcmp(mstate, "cancel") == 0) ||
		    jv_get_kind(q) != JV_KIND_NUMBER ||
		    jv_number_value(q) <= 0) {
			/* Nothing of this line left the warehouse. */
			jv_free(q);
			jv_free(prod);
			jv_free(m);
			continue;
		}
		line = jv_object();
		line = put(line, "sku", odoo_text(prod, "default_code"));
		line = put(line, "variant_id",
			   id_field(c, prod, "variant_id", NULL));
		line = put(line, "quantity", q);
		if (!json_has(line, "sku") && !json_has(line, "variant_id"))
			fail(c, "unmapped_sku",
			     "move %d: the product has neither SKU nor "
			     "Shopify variant",
			     i + 1);
		lines = jv_array_append(lines, line);
		jv_free(prod);
		jv_free(m);
	}
	jv_free(moves);
	if (jv_array_length(jv_copy(lines)) == 0)
		fail(c, "empty_fulfillment", "no line was shipped");
	tracking = jv_object();
	tracking = put(tracking, "company", odoo_m2o_name(d, "carrier_id"));
	tracking =
	    put(tracking, "number", odoo_text(d, "carrier_tracking_ref"));
	tracking = put(tracking, "url", odoo_text(d, "carrier_tracking_url"));
	r = record(c, "fulfillment", make_key(c, "fulfillment", jv_copy(id)));
	r = put(r, "id", id);
	r = put(r, "name", odoo_text(d, "name"));
	r = put(r, "order_key", make_key(c, "order", jv_copy(order_id)));
	r = put(r, "order_id", order_id);
	r = put(r, "tracking", tracking);
	r = put(r, "lines", lines);
	r = put(r, "shipped_at", odoo_time(c, d, "date_done"));
	emit(c, r);
}

/*
 * odoo.stock: a product's quants under one configured location become the
 * inventory record of its Shopify variant at the Shopify location: the
 * quantity available to sell is the sum of quantity less reserved.  Odoo
 * does not know Shopify's inventory item id, so the key names the variant
 * ("variant-<id>@<location>") and shopify-load resolves the item.
 */
static void
odoo_stock(struct conv *c, jv d)
{
	jv prod = json_get(d, "product"), loc = json_get(d, "location");
	jv variant, shop_loc, quants, r;
	int64_t avail = 0;
	char key[160];

	variant = id_field(c, prod, "variant_id", NULL);
	shop_loc = id_field(c, d, "shopify_location_id", NULL);
	if (jv_get_kind(variant) != JV_KIND_STRING ||
	    jv_get_kind(shop_loc) != JV_KIND_STRING)
		fail(c, "missing_field",
		     "'product.variant_id' or "
		     "'shopify_location_id' is missing");
	snprintf(
	    key, sizeof(key), "variant-%s@%s",
	    jv_get_kind(variant) == JV_KIND_STRING ? jv_string_value(variant)
						   : "",
	    jv_get_kind(shop_loc) == JV_KIND_STRING ? jv_string_value(shop_loc)
						    : "");
	context(c, "stock", key);
	quants = items(c, d, "quants", NULL);
	jv_array_foreach(quants, i, q)
	{
		jv on_hand = count(c, q, "quantity", NULL),
		   reserved = count(c, q, "reserved_quantity", NULL);

		/* Counts are whole numbers below 2^53: exact as int64. */
		if (jv_get_kind(on_hand) == JV_KIND_NUMBER)
			avail += (int64_t)jv_number_value(on_hand);
		if (jv_get_kind(reserved) == JV_KIND_NUMBER)
			avail -= (int64_t)jv_number_value(reserved);
		jv_free(on_hand);
		jv_free(reserved);
		jv_free(q);
	}
	jv_free(quants);
	r = record(c, "inventory", make_key(c, "inventory", jv_string(key)));
	r = put(r, "inventory_item_id", jv_null());
	r = put(r, "variant_id", variant);
	r = put(r, "sku", odoo_text(prod, "default_code"));
	r = put(r, "location_id", shop_loc);
	r = put(r, "available", jv_number((double)avail));
	r = put(r, "updated_at", jv_null());
	r = put(r, "source", jv_string("odoo"));
	r = put(r, "odoo_location", odoo_text(loc, "complete_name"));
	jv_free(prod);
	jv_free(loc);
	emit(c, r);
}

/* --- the envelope ----------------------------------------------------- */

enum shape { GRAPHQL, REST, CSV };

static const struct handler {
	const char *kind; /* envelope kind */
	enum shape shape; /* how its data is shaped */
	int what;	  /* which mapping */
} handlers[] = {
    {"shopify.order", GRAPHQL, 'o'},
    {"shopify.payout", GRAPHQL, 'p'},
    {"shopify.balance_transaction", GRAPHQL, 'b'},
    {"shopify.dispute", GRAPHQL, 'd'},
    {"shopify.product", GRAPHQL, 'P'},
    {"shopify.customer", GRAPHQL, 'c'},
    {"shopify.inventory_level", GRAPHQL, 'i'},
    {"shopify.rest.order", REST, 'o'},
    {"shopify.rest.transaction", REST, 't'},
    {"shopify.rest.refund", REST, 'r'},
    {"shopify.rest.payout", REST, 'p'},
    {"shopify.rest.balance_transaction", REST, 'b'},
    {"shopify.rest.dispute", REST, 'd'},
    {"shopify.rest.product", REST, 'P'},
    {"shopify.rest.variant", REST, 'v'},
    {"shopify.rest.customer", REST, 'c'},
    {"shopify.rest.inventory_level", REST, 'i'},
    {"shopify.csv.payout_row", CSV, 'S'},
    {"paypal.srf.row", CSV, 'Y'},
    {"stripe.balance.row", CSV, 'T'},
    {"odoo.picking", REST, 'F'},
    {"odoo.stock", REST, 'K'},
};

static const struct handler *
find_handler(const char *kind)
{
	size_t i;

	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (strcmp(handlers[i].kind, kind) == 0)
			return &handlers[i];
	return NULL;
}

/*
 * Map one envelope.  Returns the array of records (owned), or jv_invalid()
 * with the reason and detail in c.
 */
static jv
convert(struct conv *c, const struct handler *h, jv env, const char *line,
	size_t len, const char *file)
{
	char hex[SHA256_HEX_LEN];
	jv data = json_get(env, "data"), gid, src;

	sha256_hex(line, len, hex);
	src = jv_object();
	src = json_set_str(src, "sha256", hex);
	src = json_set_str(src, "kind", h->kind);
	src = json_set_str(src, "shape",
			   h->shape == REST  ? "rest"
			   : h->shape == CSV ? "csv"
					     : "graphql");
	/* An envelope that names its file and row keeps them (CSV sources). */
	src = put(src, "file",
		  json_has(env, "file") ? json_get(env, "file")
					: jv_string(file));
	gid = json_get(data, "id");
	if (jv_get_kind(gid) == JV_KIND_STRING &&
	    strncmp(jv_string_value(gid), "gid://", 6) == 0)
		src = put(src, "gid", gid);
	else
		jv_free(gid);
	c->src = src;
	c->out = jv_array();
	c->seen = jv_object();
	if (jv_get_kind(data) != JV_KIND_OBJECT) {
		fail(c, "not_record", "'data' is not an object");
	} else {
		switch (h->what) {
		case 'o':
			order(c, data);
			break;
		case 't':
			currencies(c, data, "currency", NULL, NULL, NULL);
			rest_transaction(c, data);
			break;
		case 'r':
			rest_refund(c, data);
			break;
		case 'p':
			payout(c, data);
			break;
		case 'b':
			balance_transaction(c, data);
			break;
		case 'd':
			dispute(c, data);
			break;
		case 'P':
			product(c, data, 0);
			break;
		case 'v':
			product(c, data, 1);
			break;
		case 'c':
			customer(c, data);
			break;
		case 'i':
			inventory(c, data);
			break;
		case 'S':
			shopify_csv_row(c, env, data);
			break;
		case 'Y':
			paypal_srf_row(c, data);
			break;
		case 'T':
			stripe_balance_row(c, data);
			break;
		case 'F':
			odoo_picking(c, env, data);
			break;
		case 'K':
			odoo_stock(c, data);
			break;
		}
	}
	jv_free(data);
	jv_free(c->src);
	jv_free(c->seen);
	if (c->failed) {
		jv_free(c->out);
		return jv_invalid();
	}
	return c->out;
}

/*
 * Run the user's jq program on one record (consumed); append its results
 * to out.  Returns 0, or -1 with a message in err for a runtime error.
 */
static int
apply_jq(jv rec, jv *out, char *err, size_t errlen)
{
	jv res;

	jq_start(jq, rec, 0);
	while (jv_is_valid(res = jq_next(jq))) {
		if (jv_get_kind(res) != JV_KIND_OBJECT ||
		    json_str(res, "kind") == NULL) {
			jv_free(res);
			snprintf(err, errlen,
				 "the jq program made something "
				 "that is not a record with a 'kind'");
			/* Drain so the state is ready for the next input. */
			while (jv_is_valid(res = jq_next(jq)))
				jv_free(res);
			jv_free(res);
			return -1;
		}
		*out = jv_array_append(*out, res);
	}
	if (jv_invalid_has_msg(jv_copy(res))) {
		jv msg = jv_invalid_get_msg(res);

		if (jv_get_kind(msg) == JV_KIND_STRING)
			snprintf(err, errlen, "jq: %s", jv_string_value(msg));
		else
			snprintf(err, errlen, "jq: error (not a string)");
		jv_free(msg);
		return -1;
	}
	jv_free(res);
	return 0;
}

static int
write_records(struct stage *st, jv recs)
{
	int rc = 0;

	jv_array_foreach(recs, i, r)
	{
		counters_add(&st->out_kind, json_str(r, "kind"));
		st->out++;
		if (json_emit(stdout, r) < 0)
			rc = -1;
	}
	jv_free(recs);
	return rc;
}

static int
process(struct stage *st, const char *line, size_t len, const char *file,
	unsigned long lineno)
{
	jv env = jv_parse_sized(line, (int)len), recs;
	const struct handler *h;
	struct conv c;
	const char *kind, *shop;
	int rc;

	st->in++;
	if (!jv_is_valid(env)) {
		jv msg = jv_invalid_get_msg(env);
		char detail[300];

		/* jq appends the whole line; the reject keeps it anyway. */
		snprintf(detail, sizeof(detail), "not JSON: %.200s",
			 jv_get_kind(msg) == JV_KIND_STRING
			     ? jv_string_value(msg)
			     : "?");
		if (strstr(detail, " (while parsing") != NULL)
			*strstr(detail, " (while parsing") = '\0';
		jv_free(msg);
		counters_add(&st->in_kind, "(not json)");
		stage_reject(st, file, lineno, line, len, "bad_json", detail);
		return 0;
	}
	if (jv_get_kind(env) != JV_KIND_OBJECT ||
	    (kind = json_str(env, "kind")) == NULL) {
		counters_add(&st->in_kind, "(no kind)");
		stage_reject(st, file, lineno, line, len, "not_record",
			     "not a record: expected an object with a 'kind'");
		jv_free(env);
		return 0;
	}
	counters_add(&st->in_kind, kind);
	if ((h = find_handler(kind)) == NULL) {
		/* Not ours: pass it through, byte for byte. */
		counters_add(&st->out_kind, kind);
		st->out++;
		st->passed++;
		fwrite(line, 1, len, stdout);
		putchar('\n');
		jv_free(env);
		return 0;
	}
	memset(&c, 0, sizeof(c));
	if ((shop = json_str(env, "shop")) == NULL || *shop == '\0' ||
	    strchr(shop, '/') != NULL) {
		stage_reject(st, file, lineno, line, len, "missing_field",
			     "'shop' is missing or not a shop handle");
		jv_free(env);
		return 0;
	}
	c.shop = shop;
	c.shop_currency = json_str(env, "shop_currency");
	c.withdrawal = json_str(env, "withdrawal");
	recs = convert(&c, h, env, line, len, file);
	if (!jv_is_valid(recs)) {
		stage_reject(st, file, lineno, line, len, c.reason, c.detail);
		jv_free(env);
		return 0;
	}
	if (jq != NULL) {
		jv mapped = jv_array();
		char err[300];
		int ok = 1;

		jv_array_foreach(recs, i, r)
		{
			if (ok && apply_jq(r, &mapped, err, sizeof(err)) < 0)
				ok = 0;
			else if (!ok)
				jv_free(r);
		}
		jv_free(recs);
		if (!ok) {
			jv_free(mapped);
			stage_reject(st, file, lineno, line, len, "jq_error",
				     err);
			jv_free(env);
			return 0;
		}
		recs = mapped;
	}
	{
		int n = jv_array_length(jv_copy(recs));

		if (n == 0) {
			st->dropped++;
			counters_add(&st->drops, "jq_empty");
		} else {
			st->split += (unsigned long)(n - 1);
		}
	}
	rc = write_records(st, recs);
	jv_free(env);
	return rc;
}

static void
jq_error_cb(void *data, jv msg)
{
	(void)data;
	if (jv_get_kind(msg) == JV_KIND_STRING)
		msg_warn("--jq: %s", jv_string_value(msg));
	jv_free(msg);
}

/* Read the whole file at path into a NUL-terminated buffer (caller frees). */
static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *grown = realloc(buf, cap = cap * 2 + 8192);

			if (grown == NULL) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = grown;
		}
		n = fread(buf + len, 1, 4096, f);
		len += n;
		if (n < 4096)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: normalize [--pii keep|hash|drop] [--pii-key-file FILE] "
	    "[--currency CODE]\n"
	    "                 [--jq FILE] [--rejects FILE] [--stats FILE] "
	    "[FILE ...]\n"
	    "       normalize --help | --version\n"
	    "Raw envelopes in (stdin or FILEs, .gz read transparently), "
	    "canonical records out.\n"
	    "Exit: 0 ok, 64 usage, 65 records rejected, 66 cannot open "
	    "input, 74 I/O error,\n"
	    "      77 key file readable by others, 78 configuration error.\n");
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"pii", required_argument, NULL, 'p'},
	    {"pii-key-file", required_argument, NULL, 'k'},
	    {"currency", required_argument, NULL, 'c'},
	    {"jq", required_argument, NULL, 'j'},
	    {"rejects", required_argument, NULL, 'r'},
	    {"stats", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *rejects = NULL, *stats = NULL, *jqfile = NULL;
	const char *keyfile = NULL;
	struct stage st;
	int ch, rc, status = 0;

	msg_init("normalize");
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if (strcmp(optarg, "keep") == 0)
				pii = PII_KEEP;
			else if (strcmp(optarg, "hash") == 0)
				pii = PII_HASH;
			else if (strcmp(optarg, "drop") == 0)
				pii = PII_DROP;
			else {
				msg_warn("--pii: '%s' is not keep, hash or "
					 "drop",
					 optarg);
				usage(stderr);
				return EX_USAGE;
			}
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'c':
			if (currency_exponent(optarg) < 0) {
				msg_warn("--currency: '%s' is not an ISO 4217 "
					 "code",
					 optarg);
				return EX_USAGE;
			}
			default_currency = optarg;
			break;
		case 'j':
			jqfile = optarg;
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
			printf("normalize (tillroll) %s\n", TILLROLL_VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;

	if (pii == PII_HASH) {
		const char *why;

		if (secret_load("TILLROLL_PII_KEY", keyfile, &pii_key,
				&pii_keylen, &rc, &why) < 0)
			return msg_fail(rc, "--pii hash: %s", why);
	}
	if (jqfile != NULL) {
		char *prog = slurp(jqfile);

		if (prog == NULL)
			return msg_fail(EX_NOINPUT,
					"cannot read '%s':", jqfile);
		if ((jq = jq_init()) == NULL) {
			free(prog);
			return msg_fail(EX_SOFTWARE, "cannot start jq");
		}
		jq_set_error_cb(jq, jq_error_cb, NULL);
		if (!jq_compile(jq, prog)) {
			free(prog);
			jq_teardown(&jq);
			return msg_fail(EX_CONFIG, "'%s' does not compile",
					jqfile);
		}
		free(prog);
	}
	if ((rc = stage_init(&st, "normalize", rejects, stats)) != 0)
		return rc;

	status = stage_read(&st, argc, argv, process);
	status = stage_flush_stdout(status);
	status = stage_finish(&st, status);
	if (jq != NULL)
		jq_teardown(&jq);
	if (pii_key != NULL) {
		memset(pii_key, 0, pii_keylen);
		free(pii_key);
	}
	return stage_close_stdout(status);
}
