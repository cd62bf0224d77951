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
#include <math.h>
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
#include "jw.h"
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

/* "<shop>/<kind>/<id>", cut to this many bytes less one. */
#define KEY_MAX 256

/*
 * A record being written: canonical text straight from the mapping code
 * (jw puts each object's members in order when it closes), never a jv
 * tree built, sorted and dumped.
 */
struct rec {
	struct jw w;	   /* its text; the outer object is open */
	const char *kind;  /* its kind, a literal */
	char key[KEY_MAX]; /* its key, "" when it has none */
};

/* One record an envelope made, in the order the records are written. */
struct made_record {
	size_t start, end; /* its text in made */
	const char *kind;  /* a literal */
	char key[KEY_MAX]; /* "" when it has none */
};

/* A line of the order being mapped, as a refund of it copies it. */
struct line_copy {
	int shipping;	   /* a shipping line, else a line item */
	char id[32];	   /* its id, "" when it has none */
	size_t start, end; /* what a refund copies of it, in records.lines */
};

/*
 * Where records are written.  Kept from one envelope to the next, so
 * their memory is allocated once, not per record.
 */
static struct {
	struct rec main;    /* the envelope's own record: order, payout.. */
	struct rec refund;  /* a refund, inside an order or alone */
	struct rec payment; /* a transaction, inside an order or refund */
	struct jw src;	    /* the src block every record carries */
	struct jw lines;    /* what refunds may copy of the order's lines */
	struct line_copy *copies; /* where each line's copy is in lines */
	size_t ncopies, copies_cap;
	struct jw scratch; /* a REST refund's line, of which it keeps part */
	struct jw made;	   /* the records split out, one a line */
	struct made_record *list; /* where each is in made */
	size_t nlist, list_cap;
	int nomem; /* a writer ran out of memory */
} records;

/*
 * Make room in *v (n elements of size bytes used, *cap allocated) for one
 * more.  Returns 0, or -1 with records.nomem set.
 */
static int
room_for_one(void **v, size_t n, size_t *cap, size_t size)
{
	size_t want;
	void *grown;

	if (n < *cap)
		return 0;
	want = *cap ? *cap * 2 : 16;
	if ((grown = realloc(*v, want * size)) == NULL) {
		records.nomem = 1;
		return -1;
	}
	*v = grown;
	*cap = want;
	return 0;
}

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
	char where[160];    /* "order 1001: line item 2: " for messages */
	int failed;	    /* an error was recorded */
	const char *reason; /* its short code */
	char detail[512];   /* its sentence */
	const char *cur;    /* shop currency of the record being mapped */
	int exp;	    /* its exponent */
	const char *pcur;   /* presentment currency, when it differs */
	int pexp;	    /* its exponent */
	struct rec *lead;   /* the record written before those split out */
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
	jv_kind kind;

	/* One jv_get_kind() a lookup: libjq's calls are what this costs. */
	if (rest != NULL) {
		v = json_get(obj, rest);
		kind = jv_get_kind(v);
		if (kind != JV_KIND_INVALID && kind != JV_KIND_NULL)
			return v;
		if (kind == JV_KIND_NULL)
			jv_free(v);
	}
	if (gql != NULL) {
		v = json_get(obj, gql);
		kind = jv_get_kind(v);
		if (kind != JV_KIND_INVALID && kind != JV_KIND_NULL)
			return v;
		if (kind == JV_KIND_NULL)
			jv_free(v);
	}
	return jv_invalid();
}

static const char *
name_of(const char *rest, const char *gql)
{
	return rest ? rest : gql;
}

/*
 * The text of the JSON number v (borrowed) as libjq prints it ("0.21"),
 * borrowed until the next call; NULL when it has none.  libjq's printing
 * allocates, and a day repeats few numbers (its tax rates above all), so
 * the last one printed is remembered.
 */
static const char *
number_text(jv v)
{
	static double last;
	static char last_text[64];
	static int remembered;
	double d;

	if (jv_get_kind(v) != JV_KIND_NUMBER)
		return NULL;
	d = jv_number_value(v);
	if (remembered && memcmp(&d, &last, sizeof(d)) == 0)
		return last_text;
	remembered = 0;
	if (json_number_text(v, last_text, sizeof(last_text)) < 0)
		return NULL;
	last = d;
	remembered = 1;
	return last_text;
}

/* Text field: a string as it is, a number as its text, else null. */
static jv
text(struct conv *c, jv obj, const char *rest, const char *gql)
{
	jv v = field(obj, rest, gql);
	const char *number;

	if (!jv_is_valid(v))
		return jv_null();
	if (jv_get_kind(v) == JV_KIND_STRING)
		return v;
	if ((number = number_text(v)) != NULL) {
		jv_free(v);
		return jv_string(number);
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
	if (jv_get_kind(v) == JV_KIND_NUMBER) {
		double d = jv_number_value(v);

		/* A whole number a double holds exactly (not -0) is its
		 * own count: what json_id() would check, without printing. */
		if (d == (double)(int64_t)d && d < 9007199254740992.0 &&
		    d > -9007199254740992.0 && !(d == 0 && signbit(d)))
			return v;
	}
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
	const char *s, *why;

	if (jv_get_kind(v) == JV_KIND_STRING) {
		s = jv_string_value(v);
	} else if ((s = number_text(v)) != NULL) {
		/* Shopify sends a few amounts as numbers (refund subtotal). */
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
 * The shop and presentment money of the MoneyBag b (borrowed), owned,
 * each jv_invalid() when absent, as field() finds them.  GraphQL's bag
 * {"shopMoney": .., "presentmentMoney": ..} has those two members only,
 * so REST's names, which field() would try first, cannot be there: a
 * bag is read with two lookups instead of four.
 */
static void
bag_sides(jv b, jv *shop, jv *pres)
{
	if (jv_object_length(jv_copy(b)) == 2) {
		*shop = json_get(b, "shopMoney");
		*pres = json_get(b, "presentmentMoney");
		if (jv_get_kind(*shop) == JV_KIND_OBJECT &&
		    jv_get_kind(*pres) == JV_KIND_OBJECT)
			return;
		jv_free(*shop);
		jv_free(*pres);
	}
	*shop = field(b, "shop_money", "shopMoney");
	*pres = field(b, "presentment_money", "presentmentMoney");
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
		jv shop, pres;

		bag_sides(b, &shop, &pres);

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

/* The text of v (borrowed), or NULL when v is not a string. */
static const char *
str(jv v)
{
	return jv_get_kind(v) == JV_KIND_STRING ? jv_string_value(v) : NULL;
}

/* Write the member key: value into w; consumes value. */
static void
put(struct jw *w, const char *key, jv value)
{
	jw_key(w, key);
	jw_jv(w, value);
	jv_free(value);
}

/* Write minor units of the record's currency as a decimal string. */
static void
put_money(struct conv *c, struct jw *w, const char *key, int64_t v)
{
	jw_put_money(w, key, v, c->exp);
}

/*
 * The presentment side of the amounts a record writes in shop money, kept
 * until its presentment object is written: objects are written one after
 * the other, not side by side.  No record has more amounts than this.
 */
#define PRES_MAX 16

struct pres {
	struct {
		const char *key; /* a literal */
		int64_t minor;
		int exp;
		int have;
	} amt[PRES_MAX];
	int n;
};

/* Write the amount under key, and keep it for p when the currency differs. */
static void
put_amt(struct conv *c, struct jw *w, struct pres *p, const char *key,
	struct amt a)
{
	jw_key(w, key);
	if (a.have)
		jw_money(w, a.shop, c->exp);
	else
		jw_null(w);
	if (c->pcur != NULL && p->n < PRES_MAX) {
		p->amt[p->n].key = key;
		p->amt[p->n].minor = a.pres;
		p->amt[p->n].exp = c->pexp;
		p->amt[p->n].have = a.have_pres;
		p->n++;
	}
}

/* The amounts kept in p, as members of the object open in w. */
static void
put_pres_members(struct jw *w, const struct pres *p)
{
	int i;

	for (i = 0; i < p->n; i++) {
		jw_key(w, p->amt[i].key);
		if (p->amt[i].have)
			jw_money(w, p->amt[i].minor, p->amt[i].exp);
		else
			jw_null(w);
	}
}

/* "presentment": the amounts of p, when the record has another currency. */
static void
put_presentment(struct conv *c, struct jw *w, const struct pres *p)
{
	if (c->pcur == NULL)
		return;
	jw_key(w, "presentment");
	jw_object(w);
	put_pres_members(w, p);
	jw_end(w);
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

/* "<shop>/<kind>/<id>" in buf; NULL when there is no id. */
static const char *
make_key(struct conv *c, const char *kind, const char *id, char buf[KEY_MAX])
{
	if (id == NULL)
		return NULL;
	snprintf(buf, KEY_MAX, "%s/%s/%s", c->shop, kind, id);
	return buf;
}

/* Write the member name: the key of the kind record id, or null. */
static void
put_key(struct conv *c, struct jw *w, const char *name, const char *kind,
	const char *id)
{
	char buf[KEY_MAX];

	jw_put_string(w, name, make_key(c, kind, id, buf));
}

/*
 * Start r as a new record of kind whose key names id (NULL when it has
 * none), with the common fields.  The record stays open for its fields
 * until emit() or lead().
 */
static void
record(struct conv *c, struct rec *r, const char *kind, const char *id)
{
	const char *src;
	size_t len;

	jw_reset(&r->w);
	r->kind = kind;
	if (make_key(c, kind, id, r->key) == NULL)
		r->key[0] = '\0';
	jw_object(&r->w);
	jw_put_string(&r->w, "kind", kind);
	jw_put_string(&r->w, "key", r->key[0] != '\0' ? r->key : NULL);
	jw_put_string(&r->w, "shop", c->shop);
	jw_put_int(&r->w, "v", SCHEMA_VERSION);
	src = jw_text(&records.src, &len);
	jw_key(&r->w, "src");
	jw_raw(&r->w, src, len);
}

/* Close r and add it to the records made, unless its key was made already. */
static void
emit(struct rec *r)
{
	const char *text;
	size_t i, len;
	struct made_record *m;

	jw_end(&r->w);
	if (r->key[0] != '\0')
		for (i = 0; i < records.nlist; i++)
			if (strcmp(records.list[i].key, r->key) == 0)
				return;
	if (room_for_one((void **)&records.list, records.nlist,
			 &records.list_cap, sizeof(*records.list)) < 0)
		return;
	if (jw_failed(&r->w))
		records.nomem = 1;
	text = jw_text(&r->w, &len);
	m = &records.list[records.nlist++];
	jw_text(&records.made, &m->start); /* the length so far */
	jw_raw(&records.made, text, len);
	m->end = m->start + len;
	jw_newline(&records.made);
	m->kind = r->kind;
	memcpy(m->key, r->key, sizeof(m->key));
}

/* Close r, the record that goes before those split out of it. */
static void
lead(struct conv *c, struct rec *r)
{
	jw_end(&r->w);
	if (jw_failed(&r->w))
		records.nomem = 1;
	c->lead = r;
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
 * values still join, or leave it out.  Writes the member into w; consumes
 * value.
 */
static void
personal(struct jw *w, const char *key, jv value, int is_email)
{
	char buf[512], hex[SHA256_HEX_LEN], hashed[SHA256_HEX_LEN + 8];
	const char *s;
	size_t i, n, start = 0;

	if (pii == PII_DROP) {
		jv_free(value);
		return;
	}
	if (pii == PII_KEEP || jv_get_kind(value) != JV_KIND_STRING) {
		put(w, key, value);
		return;
	}
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
	snprintf(hashed, sizeof(hashed), "hmac:%s", hex);
	jv_free(value);
	jw_put_string(w, key, hashed);
}

/* Where an address is, which a refund's jurisdiction names (owned). */
struct place {
	int given; /* the record has the address */
	jv country_code, province_code;
};

/*
 * Write the address obj has under rest or gql as a value into w, or null.
 * When it has one and at is not NULL, say where it is in *at.
 */
static void
address(struct conv *c, struct jw *w, jv obj, const char *rest, const char *gql,
	struct place *at)
{
	jv a = field(obj, rest, gql), country_code, province_code;

	if (jv_get_kind(a) != JV_KIND_OBJECT) {
		jv_free(a);
		jw_null(w);
		return;
	}
	jw_object(w);
	personal(w, "first_name", text(c, a, "first_name", "firstName"), 0);
	personal(w, "last_name", text(c, a, "last_name", "lastName"), 0);
	personal(w, "company", text(c, a, "company", NULL), 0);
	personal(w, "address1", text(c, a, "address1", NULL), 0);
	personal(w, "address2", text(c, a, "address2", NULL), 0);
	personal(w, "phone", text(c, a, "phone", NULL), 0);
	put(w, "city", text(c, a, "city", NULL));
	put(w, "zip", text(c, a, "zip", NULL));
	put(w, "province", text(c, a, "province", NULL));
	province_code = text(c, a, "province_code", "provinceCode");
	put(w, "province_code", jv_copy(province_code));
	put(w, "country", text(c, a, "country", NULL));
	country_code = text(c, a, "country_code", "countryCodeV2");
	put(w, "country_code", jv_copy(country_code));
	jw_end(w);
	if (at != NULL) {
		at->given = 1;
		at->country_code = country_code;
		at->province_code = province_code;
	} else {
		jv_free(country_code);
		jv_free(province_code);
	}
	jv_free(a);
}

/* The personal fields of a customer (embedded in an order, or alone). */
static void
person(struct conv *c, struct jw *w, jv cust)
{
	personal(w, "email", text(c, cust, "email", NULL), 1);
	personal(w, "first_name", text(c, cust, "first_name", "firstName"), 0);
	personal(w, "last_name", text(c, cust, "last_name", "lastName"), 0);
	personal(w, "phone", text(c, cust, "phone", NULL), 0);
}

/* --- order and its parts ---------------------------------------------- */

/*
 * Tax lines of a line item, shipping line or order, written as an array
 * into w, and their sum.  When kinds is not NULL, what names each tax
 * (title, rate and channel_liable, without the amounts, which are the
 * whole line's and not a refund's) is written there as an array too.
 */
static void
tax_lines(struct conv *c, struct jw *w, jv obj, struct amt *sum, int *count_out,
	  struct jw *kinds)
{
	jv list = items(c, obj, "tax_lines", "taxLines");

	memset(sum, 0, sizeof(*sum));
	sum->have = 1;
	sum->have_pres = c->pcur != NULL;
	jw_array(w);
	if (kinds != NULL)
		jw_array(kinds);
	jv_array_foreach(list, i, t)
	{
		struct amt a =
		    required_bag(c, t, "price", "price_set", "priceSet");
		jv title = text(c, t, "title", NULL),
		   r = rate(c, t, "rate", NULL);
		jv liable = boolean(c, t, "channel_liable", "channelLiable");
		struct pres p;

		if (kinds != NULL) {
			jw_object(kinds);
			put(kinds, "title", jv_copy(title));
			put(kinds, "rate", jv_copy(r));
			put(kinds, "channel_liable", jv_copy(liable));
			jw_end(kinds);
		}
		p.n = 0;
		jw_object(w);
		put(w, "title", title);
		put(w, "rate", r);
		put(w, "channel_liable", liable);
		put_amt(c, w, &p, "amount", a);
		put_presentment(c, w, &p);
		jw_end(w);
		add(c, &sum->shop, a.shop);
		if (a.have_pres)
			add(c, &sum->pres, a.pres);
		else
			sum->have_pres = 0;
		jv_free(t);
		(*count_out)++;
	}
	jw_end(w);
	if (kinds != NULL)
		jw_end(kinds);
	jv_free(list);
}

/* Discount allocations of a line, written as an array into w, and their sum. */
static void
allocations(struct conv *c, struct jw *w, jv obj, struct amt *sum)
{
	jv list = items(c, obj, "discount_allocations", "discountAllocations");

	memset(sum, 0, sizeof(*sum));
	sum->have = 1;
	sum->have_pres = c->pcur != NULL;
	jw_array(w);
	jv_array_foreach(list, i, d)
	{
		struct amt a = required_bag(c, d, "amount", "amount_set",
					    "allocatedAmountSet");
		struct pres p;
		jv app, idx;

		p.n = 0;
		jw_object(w);
		put_amt(c, w, &p, "amount", a);
		put_presentment(c, w, &p);
		app = json_get(d, "discountApplication");
		idx = jv_is_valid(app)
			  ? count(c, app, "index", NULL)
			  : count(c, d, "discount_application_index", NULL);
		jv_free(app);
		put(w, "application_index", idx);
		jw_end(w);
		add(c, &sum->shop, a.shop);
		if (a.have_pres)
			add(c, &sum->pres, a.pres);
		else
			sum->have_pres = 0;
		jv_free(d);
	}
	jw_end(w);
	jv_free(list);
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

/*
 * Write the line item li as an object into w.  When refunded is not NULL,
 * also write there what a credit note needs of the line (its sku, title,
 * name, quantity, unit price, discount, gift_card, taxable and the kinds
 * of its taxes), which a refund of the line copies so that enrich-tax
 * plans a refund from the refund alone: a day split for parallel may put
 * an order and its refund in different processes.  Returns the line's id
 * (owned), null when it has none.
 */
static jv
line_item(struct conv *c, struct jw *w, jv li, int index, struct order_sums *s,
	  struct jw *refunded)
{
	jv id, qty, sku, title, name, gift_card, taxable;
	struct amt unit, disc, tax;
	struct pres p;
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
	jw_object(w);
	put(w, "id", jv_copy(id));
	put(w, "product_id", id_field(c, li, "product_id", "product"));
	put(w, "variant_id", id_field(c, li, "variant_id", "variant"));
	sku = text(c, li, "sku", NULL);
	put(w, "sku", jv_copy(sku));
	title = text(c, li, "title", NULL);
	put(w, "title", jv_copy(title));
	put(w, "variant_title", text(c, li, "variant_title", "variantTitle"));
	name = text(c, li, "name", NULL);
	put(w, "name", jv_copy(name));
	put(w, "quantity", jv_copy(qty));
	put(w, "current_quantity",
	    count(c, li, "current_quantity", "currentQuantity"));
	gift_card = boolean(c, li, "gift_card", "isGiftCard");
	put(w, "gift_card", jv_copy(gift_card));
	taxable = boolean(c, li, "taxable", NULL);
	put(w, "taxable", jv_copy(taxable));
	put(w, "requires_shipping",
	    boolean(c, li, "requires_shipping", "requiresShipping"));
	jw_key(w, "discount_allocations");
	allocations(c, w, li, &disc);
	if (refunded != NULL) {
		jw_object(refunded);
		jw_key(refunded, "tax_lines");
	}
	jw_key(w, "tax_lines");
	tax_lines(c, w, li, &tax, &n, refunded);
	p.n = 0;
	put_amt(c, w, &p, "unit_price", unit);
	put_amt(c, w, &p, "total",
		(struct amt){total, ptotal, unit.have, unit.have_pres});
	put_amt(c, w, &p, "discount", disc);
	put_amt(c, w, &p, "net",
		(struct amt){total - disc.shop, ptotal - disc.pres, 1,
			     disc.have_pres && unit.have_pres});
	put_amt(c, w, &p, "tax", tax);
	put_presentment(c, w, &p);
	jw_end(w);
	if (refunded != NULL) {
		put(refunded, "sku", sku);
		put(refunded, "title", title);
		put(refunded, "name", name);
		put(refunded, "quantity", qty);
		jw_key(refunded, "unit_price");
		if (unit.have)
			jw_money(refunded, unit.shop, c->exp);
		else
			jw_null(refunded);
		put_money(c, refunded, "discount", disc.shop);
		put(refunded, "gift_card", gift_card);
		put(refunded, "taxable", taxable);
		jw_end(refunded);
	} else {
		jv_free(sku);
		jv_free(title);
		jv_free(name);
		jv_free(qty);
		jv_free(gift_card);
		jv_free(taxable);
	}
	if (disc.shop > total || disc.shop < 0)
		fail(c, "inconsistent_totals",
		     "discounts exceed the line's "
		     "price x quantity");
	add(c, &s->line_total, total);
	add(c, &s->line_discount, disc.shop);
	add(c, &s->tax, tax.shop);
	s->tax_lines += n;
	memcpy(c->where, where, sizeof(where));
	return id;
}

/*
 * Write the shipping line sl as an object into w, and when refunded is
 * not NULL, what a refund of it copies (its title and the kinds of its
 * taxes) there.  Returns its id (owned), null when it has none.
 */
static jv
shipping_line(struct conv *c, struct jw *w, jv sl, int index,
	      struct order_sums *s, struct jw *refunded)
{
	jv id, title;
	struct amt price, disc_price, disc, tax;
	struct pres p;
	char where[sizeof(c->where)];
	int n = 0;

	memcpy(where, c->where, sizeof(where));
	snprintf(c->where + strlen(c->where),
		 sizeof(c->where) - strlen(c->where),
		 "shipping line %d: ", index + 1);
	price = required_bag(c, sl, "price", "price_set", "originalPriceSet");
	disc_price = bag(c, sl, "discounted_price", "discounted_price_set",
			 "discountedPriceSet");
	jw_object(w);
	id = id_field(c, sl, "id", NULL);
	put(w, "id", jv_copy(id));
	title = text(c, sl, "title", NULL);
	put(w, "title", jv_copy(title));
	put(w, "code", text(c, sl, "code", NULL));
	put(w, "source", text(c, sl, "source", NULL));
	jw_key(w, "discount_allocations");
	allocations(c, w, sl, &disc);
	if (refunded != NULL) {
		jw_object(refunded);
		put(refunded, "title", jv_copy(title));
		jw_key(refunded, "tax_lines");
	}
	jv_free(title);
	jw_key(w, "tax_lines");
	tax_lines(c, w, sl, &tax, &n, refunded);
	if (refunded != NULL)
		jw_end(refunded);
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
	p.n = 0;
	put_amt(c, w, &p, "price", price);
	put_amt(c, w, &p, "discount", disc);
	put_amt(c, w, &p, "net",
		(struct amt){price.shop - disc.shop, price.pres - disc.pres, 1,
			     price.have_pres && disc.have_pres});
	put_amt(c, w, &p, "tax", tax);
	put_presentment(c, w, &p);
	jw_end(w);
	add(c, &s->shipping, price.shop);
	add(c, &s->shipping_discount, disc.shop);
	add(c, &s->tax, tax.shop);
	s->tax_lines += n;
	memcpy(c->where, where, sizeof(where));
	return id;
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

/* What a refund inside an order needs of the order. */
struct order_facts {
	jv taxes_included; /* borrowed */
	struct place at;   /* where its tax was levied (borrowed) */
};

/* Remember what a refund copies of the order's line just written. */
static void
keep_copy(int shipping, jv id, size_t start)
{
	struct line_copy *l;
	size_t end;

	if (room_for_one((void **)&records.copies, records.ncopies,
			 &records.copies_cap, sizeof(*records.copies)) < 0)
		return;
	jw_text(&records.lines, &end);
	l = &records.copies[records.ncopies++];
	l->shipping = shipping;
	snprintf(l->id, sizeof(l->id), "%s", str(id) ? str(id) : "");
	l->start = start;
	l->end = end;
}

/*
 * Write what a refund copies of the order's line (or shipping line) id,
 * the first that has it, or null when none has.
 */
static void
put_copy(struct jw *w, const char *key, int shipping, const char *id)
{
	size_t i, len;
	const char *text = jw_text(&records.lines, &len);

	jw_key(w, key);
	for (i = 0; id != NULL && i < records.ncopies; i++) {
		const struct line_copy *l = &records.copies[i];

		if (l->shipping == shipping && l->id[0] != '\0' &&
		    strcmp(l->id, id) == 0) {
			jw_raw(w, text + l->start, l->end - l->start);
			return;
		}
	}
	jw_null(w);
}

/* What a payment told the refund it was made for. */
struct payment_made {
	int moves_money;      /* a successful sale, capture or refund */
	const char *currency; /* what its amount is in */
	struct amt amount;
};

static void payment(struct conv *c, jv t, jv order_id, jv order_name,
		    struct payment_made *made);
static void refund(struct conv *c, jv rf, jv order_id, jv order_name,
		   const struct order_facts *order);

static void
order(struct conv *c, jv d)
{
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	jv id, name, list, cust, tincl, gateways;
	struct place billing = {0, jv_null(), jv_null()};
	struct place shipping_at = {0, jv_null(), jv_null()};
	struct order_facts facts;
	struct order_sums s;
	struct amt line_items, subtotal, discounts, shipping, tax, total, tip;
	struct amt duties;
	struct pres ptotals, pcurrent;
	int64_t expect;
	int excluded, copies;

	memset(&s, 0, sizeof(s));
	ptotals.n = pcurrent.n = 0;
	id = required_id(c, d, "id", "legacyResourceId");
	name = text(c, d, "name", NULL);
	context(c, "order", str(name) ? str(name) : str(id) ? str(id) : NULL);
	currencies(c, d, "currency", "currencyCode", "presentment_currency",
		   "presentmentCurrencyCode");
	record(c, r, "order", str(id));
	put(w, "id", jv_copy(id));
	put(w, "name", jv_copy(name));
	put(w, "created_at", timestamp(c, d, "created_at", "createdAt"));
	put(w, "processed_at", timestamp(c, d, "processed_at", "processedAt"));
	put(w, "updated_at", timestamp(c, d, "updated_at", "updatedAt"));
	put(w, "cancelled_at", timestamp(c, d, "cancelled_at", "cancelledAt"));
	put(w, "cancel_reason", code(c, d, "cancel_reason", "cancelReason"));
	put(w, "closed_at", timestamp(c, d, "closed_at", "closedAt"));
	jw_put_string(w, "currency", c->cur ? c->cur : "");
	jw_put_string(w, "presentment_currency", c->pcur ? c->pcur : c->cur);
	tincl = boolean(c, d, "taxes_included", "taxesIncluded");
	excluded = jv_get_kind(tincl) != JV_KIND_TRUE;
	put(w, "taxes_included", jv_copy(tincl));
	put(w, "test", boolean(c, d, "test", NULL));
	put(w, "financial_status",
	    code(c, d, "financial_status", "displayFinancialStatus"));
	put(w, "fulfillment_status",
	    code(c, d, "fulfillment_status", "displayFulfillmentStatus"));
	put(w, "source_name", text(c, d, "source_name", "sourceName"));
	gateways = field(d, "payment_gateway_names", "paymentGatewayNames");
	put(w, "gateways", jv_is_valid(gateways) ? gateways : jv_array());
	jw_key(w, "discount_codes");
	jw_array(w);
	list = items(c, d, "discount_codes", "discountCodes");
	jv_array_foreach(list, i, dc)
	{
		jv code_v = jv_get_kind(dc) == JV_KIND_STRING
				? jv_copy(dc)
				: text(c, dc, "code", NULL);

		jw_jv(w, code_v);
		jv_free(code_v);
		jv_free(dc);
	}
	jv_free(list);
	jw_end(w);
	personal(w, "email", text(c, d, "email", NULL), 1);
	personal(w, "phone", text(c, d, "phone", NULL), 0);
	cust = field(d, "customer", NULL);
	jw_key(w, "customer");
	if (jv_get_kind(cust) == JV_KIND_OBJECT) {
		/* Hand-made payloads have customers without ids: no join then.
		 */
		jv cid = id_field(c, cust, "id", NULL);

		jw_object(w);
		put_key(c, w, "key", "customer", str(cid));
		put(w, "id", cid);
		person(c, w, cust);
		jw_end(w);
	} else {
		jw_null(w);
	}
	jv_free(cust);
	jw_key(w, "billing_address");
	address(c, w, d, "billing_address", "billingAddress", &billing);
	jw_key(w, "shipping_address");
	address(c, w, d, "shipping_address", "shippingAddress", &shipping_at);

	/* Only an order with refunds needs what they copy of its lines. */
	list = field(d, "refunds", NULL);
	copies = jv_is_valid(list);
	jv_free(list);
	jw_reset(&records.lines);
	records.ncopies = 0;
	jw_key(w, "lines");
	jw_array(w);
	list = items(c, d, "line_items", "lineItems");
	jv_array_foreach(list, i, li)
	{
		size_t start;
		jv lid;

		jw_text(&records.lines, &start);
		lid =
		    line_item(c, w, li, i, &s, copies ? &records.lines : NULL);
		if (copies)
			keep_copy(0, lid, start);
		jv_free(lid);
		jv_free(li);
	}
	jv_free(list);
	jw_end(w);
	jw_key(w, "shipping_lines");
	jw_array(w);
	list = items(c, d, "shipping_lines", "shippingLines");
	jv_array_foreach(list, i, sl)
	{
		size_t start;
		jv sid;

		jw_text(&records.lines, &start);
		sid = shipping_line(c, w, sl, i, &s,
				    copies ? &records.lines : NULL);
		if (copies)
			keep_copy(1, sid, start);
		jv_free(sid);
		jv_free(sl);
	}
	jv_free(list);
	jw_end(w);
	{
		struct amt ot;
		int n = 0;

		jw_key(w, "tax_lines");
		tax_lines(c, w, d, &ot, &n, NULL);
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
	jw_key(w, "totals");
	jw_object(w);
	put_amt(c, w, &ptotals, "line_items", line_items);
	put_amt(c, w, &ptotals, "subtotal", subtotal);
	put_amt(c, w, &ptotals, "discounts", discounts);
	put_amt(c, w, &ptotals, "shipping", shipping);
	put_amt(c, w, &ptotals, "tax", tax);
	put_amt(c, w, &ptotals, "tip", tip);
	put_amt(c, w, &ptotals, "duties", duties);
	put_amt(c, w, &ptotals, "total", total);
	put_amt(c, w, &ptotals, "refunded",
		bag(c, d, NULL, "total_refunded_set", "totalRefundedSet"));
	put_amt(c, w, &ptotals, "outstanding",
		bag(c, d, "total_outstanding", "total_outstanding_set",
		    "totalOutstandingSet"));
	jw_end(w);
	jw_key(w, "current");
	jw_object(w);
	put_amt(c, w, &pcurrent, "subtotal",
		bag(c, d, "current_subtotal_price",
		    "current_subtotal_price_set", "currentSubtotalPriceSet"));
	put_amt(c, w, &pcurrent, "discounts",
		bag(c, d, "current_total_discounts",
		    "current_total_discounts_set", "currentTotalDiscountsSet"));
	put_amt(c, w, &pcurrent, "tax",
		bag(c, d, "current_total_tax", "current_total_tax_set",
		    "currentTotalTaxSet"));
	put_amt(c, w, &pcurrent, "total",
		bag(c, d, "current_total_price", "current_total_price_set",
		    "currentTotalPriceSet"));
	jw_end(w);
	if (c->pcur != NULL) {
		jw_key(w, "presentment");
		jw_object(w);
		jw_put_string(w, "currency", c->pcur);
		jw_key(w, "totals");
		jw_object(w);
		put_pres_members(w, &ptotals);
		jw_end(w);
		jw_key(w, "current");
		jw_object(w);
		put_pres_members(w, &pcurrent);
		jw_end(w);
		jw_end(w);
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

	jw_key(w, "payments");
	jw_array(w);
	list = items(c, d, "transactions", NULL);
	jv_array_foreach(list, i, t)
	{
		struct payment_made made;

		payment(c, t, id, name, &made);
		jw_string(w,
			  records.payment.key[0] ? records.payment.key : NULL);
		emit(&records.payment);
		jv_free(t);
	}
	jv_free(list);
	jw_end(w);
	/* Where the order's tax was levied, as enrich-tax chooses: the
	 * shipping address, or the billing address when it has none. */
	facts.taxes_included = tincl;
	facts.at = shipping_at.given ? shipping_at : billing;
	jw_key(w, "refunds");
	jw_array(w);
	list = items(c, d, "refunds", NULL);
	jv_array_foreach(list, i, rf)
	{
		refund(c, rf, id, name, &facts);
		jw_string(w, records.refund.key[0] ? records.refund.key : NULL);
		emit(&records.refund);
		jv_free(rf);
	}
	jv_free(list);
	jw_end(w);
	jv_free(id);
	jv_free(name);
	jv_free(tincl);
	jv_free(billing.country_code);
	jv_free(billing.province_code);
	jv_free(shipping_at.country_code);
	jv_free(shipping_at.province_code);
	/* The order goes first, before what was split out of it. */
	lead(c, r);
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
 * An order transaction, written as the record records.payment (left open for
 * emit).  GraphQL gives amountSet (shop and presentment money); REST
 * gives amount and currency, which is the presentment currency unless the
 * transaction was asked for in_shop_currency, so the record names the
 * currency its amount is in.  What a refund needs of it goes in *made.
 */
static void
payment(struct conv *c, jv t, jv order_id, jv order_name,
	struct payment_made *made)
{
	struct rec *r = &records.payment;
	struct jw *w = &r->w;
	jv id, type, status, list;
	const char *tcur;
	struct amt a;
	struct pres p;
	char where[sizeof(c->where)];
	const char *saved_cur = c->cur, *saved_pcur = c->pcur;
	int saved_exp = c->exp, saved_pexp = c->pexp;

	memcpy(where, c->where, sizeof(where));
	id = required_id(c, t, "id", NULL);
	snprintf(c->where + strlen(c->where),
		 sizeof(c->where) - strlen(c->where),
		 "transaction '%s': ", str(id) ? str(id) : "?");
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
	made->moves_money = moves_money(str(type), str(status));
	made->currency = c->cur ? c->cur : "";
	made->amount = a;
	record(c, r, "payment", str(id));
	put(w, "id", id);
	put(w, "order_id", jv_copy(order_id));
	put_key(c, w, "order_key", "order", str(order_id));
	put(w, "order_name", jv_copy(order_name));
	put(w, "type", type);
	put(w, "status", status);
	jw_put_bool(w, "moves_money", made->moves_money);
	put(w, "gateway", text(c, t, "gateway", NULL));
	put(w, "parent_id", id_field(c, t, "parent_id", "parentTransaction"));
	put(w, "processed_at", timestamp(c, t, "processed_at", "processedAt"));
	put(w, "created_at", timestamp(c, t, "created_at", "createdAt"));
	put(w, "test", boolean(c, t, "test", NULL));
	put(w, "error_code", code(c, t, "error_code", "errorCode"));
	put(w, "payment_id", text(c, t, "payment_id", "paymentId"));
	put(w, "authorization",
	    text(c, t, "authorization", "authorizationCode"));
	jw_put_string(w, "currency", made->currency);
	p.n = 0;
	put_amt(c, w, &p, "amount", a);
	if (c->pcur != NULL) {
		jw_key(w, "presentment");
		jw_object(w);
		jw_put_string(w, "currency", c->pcur);
		put_pres_members(w, &p);
		jw_end(w);
	}
	jw_key(w, "fees");
	jw_array(w);
	list = items(c, t, "fees", NULL);
	jv_array_foreach(list, i, f)
	{
		jv m = json_get(f, "amount");
		int64_t v = 0;

		if (jv_get_kind(m) == JV_KIND_OBJECT)
			money_v2(c, m, c->cur, c->exp, "fees.amount", &v);
		else
			fail(c, "bad_amount", "'fees.amount' is not money");
		jv_free(m);
		jw_object(w);
		put_money(c, w, "amount", v);
		put(w, "type", code(c, f, "type", NULL));
		put(w, "rate", rate(c, f, "rate", NULL));
		jw_end(w);
		jv_free(f);
	}
	jv_free(list);
	jw_end(w);
	jv_free(order_id);
	memcpy(c->where, where, sizeof(where));
	c->cur = saved_cur;
	c->pcur = saved_pcur;
	c->exp = saved_exp;
	c->pexp = saved_pexp;
}

/*
 * A refund, written as the record records.refund (left open for emit or
 * lead).  order is what it needs of the order it belongs to, when it came
 * inside it, else NULL: a refund alone (REST) knows its lines only from
 * its own refund_line_items[].line_item, and neither its order's
 * jurisdiction nor whether its taxes were included.
 */
static void
refund(struct conv *c, jv rf, jv order_id, jv order_name,
       const struct order_facts *order)
{
	struct rec *r = &records.refund;
	struct jw *w = &r->w;
	jv id, list;
	struct pres p;
	int64_t moved = 0;
	char where[sizeof(c->where)];

	memcpy(where, c->where, sizeof(where));
	id = required_id(c, rf, "id", NULL);
	snprintf(c->where + strlen(c->where),
		 sizeof(c->where) - strlen(c->where),
		 "refund '%s': ", str(id) ? str(id) : "?");
	if (jv_get_kind(order_id) != JV_KIND_STRING)
		order_id = id_field(c, rf, "order_id", "order");
	else
		order_id = jv_copy(order_id);
	if (c->cur == NULL)
		currencies(c, rf, "currency", NULL, NULL, NULL);
	record(c, r, "refund", str(id));
	put(w, "id", id);
	put(w, "order_id", jv_copy(order_id));
	put_key(c, w, "order_key", "order", str(order_id));
	put(w, "order_name", jv_copy(order_name));
	put(w, "created_at", timestamp(c, rf, "created_at", "createdAt"));
	put(w, "processed_at", timestamp(c, rf, "processed_at", "processedAt"));
	put(w, "note", text(c, rf, "note", NULL));
	put(w, "restock", boolean(c, rf, "restock", NULL));
	put(w, "taxes_included",
	    order ? jv_copy(order->taxes_included) : jv_null());
	jw_put_string(w, "currency", c->cur ? c->cur : "");
	jw_key(w, "jurisdiction");
	if (order != NULL) {
		jw_object(w);
		put(w, "country_code", jv_copy(order->at.country_code));
		put(w, "province_code", jv_copy(order->at.province_code));
		jw_end(w);
	} else {
		jw_null(w);
	}

	jw_key(w, "lines");
	jw_array(w);
	list = items(c, rf, "refund_line_items", "refundLineItems");
	jv_array_foreach(list, i, rl)
	{
		jv li = json_get(rl, "line_item"), lid;
		char rwhere[sizeof(c->where)];

		memcpy(rwhere, c->where, sizeof(rwhere));
		snprintf(c->where + strlen(c->where),
			 sizeof(c->where) - strlen(c->where),
			 "refund line %d: ", i + 1);

		if (!jv_is_valid(li)) {
			jv_free(li);
			li = json_get(rl, "lineItem");
		}
		jw_object(w);
		put(w, "id", id_field(c, rl, "id", NULL));
		lid = jv_get_kind(li) == JV_KIND_OBJECT
			  ? id_field(c, li, "id", NULL)
			  : jv_null();
		if (jv_get_kind(lid) == JV_KIND_NULL) {
			jv_free(lid);
			lid = id_field(c, rl, "line_item_id", NULL);
		}
		put(w, "line_item_id", jv_copy(lid));
		if (order != NULL) {
			put_copy(w, "line_item", 0, str(lid));
		} else if (jv_get_kind(li) == JV_KIND_OBJECT &&
			   (json_has(li, "price") ||
			    json_has(li, "price_set"))) {
			/* REST gives the whole line; a bare {id, sku} is
			 * not enough to copy.  The line is written aside,
			 * its copy into the refund. */
			struct order_sums ignored;

			memset(&ignored, 0, sizeof(ignored));
			jw_reset(&records.scratch);
			jw_key(w, "line_item");
			jv_free(
			    line_item(c, &records.scratch, li, i, &ignored, w));
		} else {
			jw_put_null(w, "line_item");
		}
		jv_free(lid);
		put(w, "sku", text(c, li, "sku", NULL));
		put(w, "quantity", count(c, rl, "quantity", NULL));
		put(w, "restock_type",
		    code(c, rl, "restock_type", "restockType"));
		p.n = 0;
		put_amt(c, w, &p, "subtotal",
			required_bag(c, rl, "subtotal", "subtotal_set",
				     "subtotalSet"));
		put_amt(c, w, &p, "tax",
			required_bag(c, rl, "total_tax", "total_tax_set",
				     "totalTaxSet"));
		put_presentment(c, w, &p);
		jw_end(w);
		memcpy(c->where, rwhere, sizeof(rwhere));
		jv_free(li);
		jv_free(rl);
	}
	jv_free(list);
	jw_end(w);
	jw_key(w, "shipping");
	jw_array(w);
	list = items(c, rf, "refund_shipping_lines", "refundShippingLines");
	jv_array_foreach(list, i, sl)
	{
		jv sid = id_field(c, sl, "shipping_line_id", "shippingLine");

		jw_object(w);
		put(w, "shipping_line_id", jv_copy(sid));
		if (order != NULL)
			put_copy(w, "shipping_line", 1, str(sid));
		else
			jw_put_null(w, "shipping_line");
		jv_free(sid);
		p.n = 0;
		put_amt(c, w, &p, "amount",
			required_bag(c, sl, NULL, "subtotal_amount_set",
				     "subtotalAmountSet"));
		put_amt(c, w, &p, "tax",
			bag(c, sl, NULL, "tax_amount_set", "taxAmountSet"));
		put_presentment(c, w, &p);
		jw_end(w);
		jv_free(sl);
	}
	jv_free(list);
	jw_end(w);
	jw_key(w, "adjustments");
	jw_array(w);
	list = items(c, rf, "order_adjustments", "orderAdjustments");
	jv_array_foreach(list, i, oa)
	{
		jw_object(w);
		put(w, "id", id_field(c, oa, "id", NULL));
		put(w, "kind", code(c, oa, "kind", "reason"));
		put(w, "reason", text(c, oa, "reason", NULL));
		p.n = 0;
		put_amt(
		    c, w, &p, "amount",
		    required_bag(c, oa, "amount", "amount_set", "amountSet"));
		put_amt(
		    c, w, &p, "tax",
		    bag(c, oa, "tax_amount", "tax_amount_set", "taxAmountSet"));
		put_presentment(c, w, &p);
		jw_end(w);
		jv_free(oa);
	}
	jv_free(list);
	jw_end(w);
	jw_key(w, "payments");
	jw_array(w);
	list = items(c, rf, "transactions", NULL);
	jv_array_foreach(list, i, t)
	{
		struct payment_made made;

		payment(c, t, order_id, order_name, &made);
		jw_string(w,
			  records.payment.key[0] ? records.payment.key : NULL);
		/* What the refund paid back: its successful refund
		 * transactions in its own currency. */
		if (made.moves_money && c->cur != NULL &&
		    strcmp(made.currency, c->cur) == 0 && made.amount.have)
			add(c, &moved, made.amount.shop);
		emit(&records.payment);
		jv_free(t);
	}
	jv_free(list);
	jw_end(w);
	put_money(c, w, "total", moved);
	p.n = 0;
	put_amt(c, w, &p, "total_refunded",
		bag(c, rf, NULL, "total_refunded_set", "totalRefundedSet"));
	put_presentment(c, w, &p);
	jv_free(order_id);
	memcpy(c->where, where, sizeof(where));
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
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	jv id, sum, issued, date;
	int64_t amount, gross = 0, fee = 0;
	size_t i;

	id = required_id(c, d, "id", "legacyResourceId");
	context(c, "payout", str(id));
	money_currency(c, d, "net");
	amount = plain_money(c, d, "amount", "net", 1);
	record(c, r, "payout", str(id));
	put(w, "id", id);
	jw_put_string(w, "gateway", "shopify_payments");
	put(w, "status", code(c, d, "status", NULL));
	put(w, "transaction_type",
	    code(c, d, "transaction_type", "transactionType"));
	jw_put_string(w, "currency", c->cur ? c->cur : "");
	put_money(c, w, "amount", amount);
	issued = field(d, "issued_at", "issuedAt");
	date = field(d, "date", NULL);
	if (jv_get_kind(date) == JV_KIND_STRING) {
		const char *why;

		if (utc_check_date(jv_string_value(date), &why) < 0)
			fail(c, "bad_time", "'date' %s", why);
		put(w, "date", jv_copy(date));
	} else if (jv_get_kind(issued) == JV_KIND_STRING &&
		   strlen(jv_string_value(issued)) >= 10) {
		/* The payout's date as Shopify wrote it, in its own offset. */
		jw_key(w, "date");
		jw_stringn(w, jv_string_value(issued), 10);
	} else {
		fail(c, "missing_field", "'date' is missing");
	}
	jv_free(issued);
	jv_free(date);
	put(w, "issued_at", timestamp(c, d, "issued_at", "issuedAt"));
	sum = field(d, "summary", NULL);
	jw_key(w, "summary");
	if (jv_get_kind(sum) == JV_KIND_OBJECT) {
		jw_object(w);
		for (i = 0;
		     i < sizeof(summary_fields) / sizeof(summary_fields[0]);
		     i++) {
			const char *const *f = summary_fields[i];
			int64_t v;

			if (!json_has(sum, f[1]) && !json_has(sum, f[2]))
				continue;
			v = plain_money(c, sum, f[1], f[2], 0);
			put_money(c, w, f[0], v);
			add(c, i % 2 ? &fee : &gross, v);
		}
		jw_end(w);
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
	} else {
		jw_null(w);
	}
	jv_free(sum);
	emit(r);
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
		jv last = jv_string(colon + 1);

		jv_free(v);
		return last;
	}
	return v;
}

static void
balance_transaction(struct conv *c, jv d)
{
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	jv id, payout_id, order_id, tx_id, type, assoc;
	int64_t amount, fee, net;
	char sid[160];

	id = required_id(c, d, "id", NULL);
	context(c, "balance transaction", str(id));
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
		 str(id) ? str(id) : "");
	record(c, r, "settlement", str(id) ? sid : NULL);
	put(w, "id", id);
	jw_put_string(w, "gateway", "shopify_payments");
	type = code(c, d, "type", NULL);
	/* GraphQL calls the payout's own row TRANSFER, REST "payout". */
	if (str(type) && strcmp(str(type), "transfer") == 0) {
		jv_free(type);
		type = jv_string("payout");
	}
	put(w, "type", type);
	put(w, "test", boolean(c, d, "test", NULL));
	jw_put_string(w, "currency", c->cur ? c->cur : "");
	put_money(c, w, "amount", amount);
	put_money(c, w, "fee", fee);
	put_money(c, w, "net", net);
	assoc = field(d, NULL, "associatedPayout");
	if (jv_get_kind(assoc) == JV_KIND_OBJECT) {
		payout_id = id_field(c, assoc, "id", NULL);
		put(w, "payout_status", code(c, assoc, "status", NULL));
	} else {
		payout_id = id_field(c, d, "payout_id", NULL);
		put(w, "payout_status", code(c, d, "payout_status", NULL));
	}
	jv_free(assoc);
	put_key(c, w, "payout_key", "payout", str(payout_id));
	put(w, "payout_id", payout_id);
	assoc = field(d, NULL, "associatedOrder");
	if (jv_get_kind(assoc) == JV_KIND_OBJECT) {
		order_id = id_field(c, assoc, "id", NULL);
		put(w, "order_name", text(c, assoc, "name", NULL));
	} else {
		order_id = id_field(c, d, "source_order_id", NULL);
		jw_put_null(w, "order_name");
	}
	jv_free(assoc);
	put_key(c, w, "order_key", "order", str(order_id));
	put(w, "order_id", order_id);
	tx_id = id_field(c, d, "source_order_transaction_id",
			 "sourceOrderTransactionId");
	put_key(c, w, "payment_key", "payment", str(tx_id));
	put(w, "payment_id", tx_id);
	put(w, "source_id", id_field(c, d, "source_id", "sourceId"));
	put(w, "source_type", source_type(c, d));
	put(w, "adjustment_reason",
	    code(c, d, "adjustment_reason", "adjustmentReason"));
	put(w, "processed_at",
	    timestamp(c, d, "processed_at", "transactionDate"));
	emit(r);
}

static void
dispute(struct conv *c, jv d)
{
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	jv id, order_id, reasons = field(d, NULL, "reasonDetails");

	id = required_id(c, d, "id", NULL);
	context(c, "dispute", str(id));
	money_currency(c, d, "amount");
	order_id = id_field(c, d, "order_id", "order");
	record(c, r, "dispute", str(id));
	put(w, "id", id);
	jw_put_string(w, "gateway", "shopify_payments");
	put_key(c, w, "order_key", "order", str(order_id));
	put(w, "order_id", order_id);
	put(w, "type", code(c, d, "type", NULL));
	jw_put_string(w, "currency", c->cur ? c->cur : "");
	put_money(c, w, "amount", plain_money(c, d, "amount", NULL, 1));
	if (jv_get_kind(reasons) == JV_KIND_OBJECT) {
		put(w, "reason", code(c, reasons, "reason", NULL));
		put(w, "network_reason_code",
		    text(c, reasons, "networkReasonCode", NULL));
	} else {
		put(w, "reason", code(c, d, "reason", NULL));
		put(w, "network_reason_code",
		    text(c, d, "network_reason_code", NULL));
	}
	put(w, "status", code(c, d, "status", NULL));
	put(w, "initiated_at", timestamp(c, d, "initiated_at", "initiatedAt"));
	put(w, "evidence_due_by",
	    timestamp(c, d, "evidence_due_by", "evidenceDueBy"));
	put(w, "evidence_sent_on",
	    timestamp(c, d, "evidence_sent_on", "evidenceSentOn"));
	put(w, "finalized_on", timestamp(c, d, "finalized_on", "finalizedOn"));
	jv_free(reasons);
	emit(r);
}

/* --- master data ------------------------------------------------------ */

/* One product record per variant: the variant is what an order line sells. */
static void
variant(struct conv *c, jv v, jv product)
{
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	jv id, pid;

	id = required_id(c, v, "id", NULL);
	pid = id_field(c, v, "product_id", "product");
	if (jv_get_kind(pid) == JV_KIND_NULL) {
		jv_free(pid);
		pid = id_field(c, product, "id", NULL);
	}
	record(c, r, "product", str(id));
	put(w, "id", id);
	put(w, "product_id", pid);
	put(w, "title", text(c, product, "title", NULL));
	put(w, "variant_title", text(c, v, "title", NULL));
	put(w, "vendor", text(c, product, "vendor", NULL));
	put(w, "product_type", text(c, product, "product_type", "productType"));
	put(w, "status", code(c, product, "status", NULL));
	put(w, "sku", text(c, v, "sku", NULL));
	put(w, "barcode", text(c, v, "barcode", NULL));
	put(w, "taxable", boolean(c, v, "taxable", NULL));
	/* What needs no delivery: a gift card (GraphQL says so of the
	 * product), or a variant that REST marks as not shipped. */
	put(w, "gift_card", boolean(c, product, NULL, "isGiftCard"));
	put(w, "requires_shipping",
	    boolean(c, v, "requires_shipping", "requiresShipping"));
	jw_put_string(w, "currency", c->cur ? c->cur : "");
	put_money(c, w, "price", plain_money(c, v, "price", NULL, 1));
	if (json_has(v, "compare_at_price") || json_has(v, "compareAtPrice"))
		put_money(
		    c, w, "compare_at_price",
		    plain_money(c, v, "compare_at_price", "compareAtPrice", 0));
	else
		jw_put_null(w, "compare_at_price");
	put(w, "inventory_item_id",
	    id_field(c, v, "inventory_item_id", "inventoryItem"));
	put(w, "updated_at", timestamp(c, v, "updated_at", "updatedAt"));
	emit(r);
}

static void
product(struct conv *c, jv d, int is_variant)
{
	jv list, id = id_field(c, d, "id", NULL);

	context(c, is_variant ? "variant" : "product", str(id));
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
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	jv id = required_id(c, d, "id", NULL);

	context(c, "customer", str(id));
	record(c, r, "customer", str(id));
	put(w, "id", id);
	person(c, w, d);
	put(w, "tax_exempt", boolean(c, d, "tax_exempt", "taxExempt"));
	put(w, "currency", text(c, d, "currency", NULL));
	put(w, "created_at", timestamp(c, d, "created_at", "createdAt"));
	put(w, "updated_at", timestamp(c, d, "updated_at", "updatedAt"));
	jw_key(w, "default_address");
	address(c, w, d, "default_address", "defaultAddress", NULL);
	emit(r);
}

static void
inventory(struct conv *c, jv d)
{
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	jv item, loc, avail = jv_null(), list;
	char key[160];

	item = id_field(c, d, "inventory_item_id", "item");
	loc = id_field(c, d, "location_id", "location");
	if (str(item) == NULL || str(loc) == NULL)
		fail(c, "missing_field",
		     "'inventory_item_id' or "
		     "'location_id' is missing");
	snprintf(key, sizeof(key), "%s@%s", str(item) ? str(item) : "",
		 str(loc) ? str(loc) : "");
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
	record(c, r, "inventory", key);
	put(w, "inventory_item_id", item);
	put(w, "location_id", loc);
	put(w, "available", avail);
	put(w, "updated_at", timestamp(c, d, "updated_at", "updatedAt"));
	emit(r);
}

/* --- REST resources that are not orders ------------------------------ */

static void
rest_transaction(struct conv *c, jv d)
{
	struct payment_made made;
	jv id = id_field(c, d, "id", NULL);

	context(c, "transaction", str(id));
	jv_free(id);
	c->where[0] = '\0';
	payment(c, d, jv_null(), jv_null(), &made);
	emit(&records.payment);
}

static void
rest_refund(struct conv *c, jv d)
{
	/* A refund alone does not say whether the order's taxes were included.
	 */
	c->cur = NULL;
	refund(c, d, jv_null(), jv_null(), NULL);
	/* The refund first, then the transactions split out of it. */
	lead(c, &records.refund);
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

/* "<gateway>:<id>" in buf, for settlement keys; NULL without an id. */
static const char *
gateway_id(const char *gateway, const char *id, char buf[200])
{
	if (id == NULL)
		return NULL;
	snprintf(buf, 200, "%s:%s", gateway, id);
	return buf;
}

/*
 * The id a payout's key names: Shopify's payout ids are those of the API,
 * so a payout read from the admin export is the same record as the one
 * extracted; other gateways' ids are theirs alone and carry the gateway's
 * name (in buf).
 */
static const char *
file_payout_id(const char *gateway, const char *payout_id, char buf[200])
{
	if (strcmp(gateway, "shopify_payments") == 0)
		return payout_id;
	return gateway_id(gateway, payout_id, buf);
}

/* Write the settlement record of l (its jv members consumed). */
static void
file_settlement(struct conv *c, struct file_line *l)
{
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	char buf[200];
	int64_t net;

	if (money_add(l->amount, -l->fee, &net) < 0 || net != l->net) {
		char x[MONEY_TEXT_MAX], y[MONEY_TEXT_MAX];

		money_format(l->amount - l->fee, c->exp, x);
		money_format(l->net, c->exp, y);
		fail(c, "inconsistent_totals",
		     "amount less fee is %s but 'net' is %s", x, y);
	}
	record(c, r, "settlement", gateway_id(l->gateway, str(l->id), buf));
	put(w, "id", l->id);
	jw_put_string(w, "gateway", l->gateway);
	put(w, "type", l->type);
	jw_put_null(w, "test");
	jw_put_string(w, "currency", c->cur ? c->cur : "");
	put_money(c, w, "amount", l->amount);
	put_money(c, w, "fee", l->fee);
	put_money(c, w, "net", l->net);
	put_key(c, w, "payout_key", "payout",
		file_payout_id(l->gateway, str(l->payout_id), buf));
	put(w, "payout_id", l->payout_id);
	put(w, "payout_status", l->payout_status);
	jw_put_null(w, "order_id");
	jw_put_null(w, "order_key");
	put(w, "order_name", l->order_name);
	jw_put_null(w, "payment_id");
	jw_put_null(w, "payment_key");
	put(w, "payment_reference", l->payment_reference);
	put(w, "source_id", l->source_id);
	put(w, "source_type", l->source_type);
	jw_put_null(w, "adjustment_reason");
	put(w, "processed_at", l->processed_at);
	put(w, "available_on", l->available_on);
	emit(r);
}

/*
 * Write the payout a file's payout row stands for; amount is what was
 * paid.  Consumes id, status, date and issued_at.
 */
static void
file_payout(struct conv *c, const char *gateway, jv id, jv status,
	    int64_t amount, jv date, jv issued_at)
{
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	char buf[200];

	record(c, r, "payout", file_payout_id(gateway, str(id), buf));
	put(w, "id", id);
	jw_put_string(w, "gateway", gateway);
	put(w, "status", status);
	jw_put_null(w, "transaction_type");
	jw_put_string(w, "currency", c->cur ? c->cur : "");
	put_money(c, w, "amount", amount);
	put(w, "date", date);
	put(w, "issued_at", issued_at);
	jw_put_null(w, "summary");
	emit(r);
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
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	jv id, order_id, moves;
	const char *state = json_str(d, "state");
	char ptext[32];
	int shipped = 0;

	id = required_id(c, d, "id", NULL);
	snprintf(ptext, sizeof(ptext), "%s", str(id) ? str(id) : "?");
	context(c, "picking", ptext);
	order_id = required_id(c, d, "order_id", NULL);
	if (state == NULL || strcmp(state, "done") != 0)
		fail(c, "not_done", "the delivery is not done (state '%s')",
		     state ? state : "?");
	record(c, r, "fulfillment", str(id));
	jw_key(w, "lines");
	jw_array(w);
	moves = items(c, d, "moves", NULL);
	jv_array_foreach(moves, i, m)
	{
		jv prod = json_get(m, "product"), q, sku, variant_id;
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
		sku = odoo_text(prod, "default_code");
		variant_id = id_field(c, prod, "variant_id", NULL);
		if (jv_get_kind(sku) == JV_KIND_NULL &&
		    jv_get_kind(variant_id) == JV_KIND_NULL)
			fail(c, "unmapped_sku",
			     "move %d: the product has neither SKU nor "
			     "Shopify variant",
			     i + 1);
		jw_object(w);
		put(w, "sku", sku);
		put(w, "variant_id", variant_id);
		put(w, "quantity", q);
		jw_end(w);
		shipped++;
		jv_free(prod);
		jv_free(m);
	}
	jv_free(moves);
	jw_end(w);
	if (shipped == 0)
		fail(c, "empty_fulfillment", "no line was shipped");
	jw_key(w, "tracking");
	jw_object(w);
	put(w, "company", odoo_m2o_name(d, "carrier_id"));
	put(w, "number", odoo_text(d, "carrier_tracking_ref"));
	put(w, "url", odoo_text(d, "carrier_tracking_url"));
	jw_end(w);
	put(w, "id", id);
	put(w, "name", odoo_text(d, "name"));
	put_key(c, w, "order_key", "order", str(order_id));
	put(w, "order_id", order_id);
	put(w, "shipped_at", odoo_time(c, d, "date_done"));
	emit(r);
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
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	jv prod = json_get(d, "product"), loc = json_get(d, "location");
	jv variant_id, shop_loc, quants;
	int64_t avail = 0;
	char key[160];

	variant_id = id_field(c, prod, "variant_id", NULL);
	shop_loc = id_field(c, d, "shopify_location_id", NULL);
	if (str(variant_id) == NULL || str(shop_loc) == NULL)
		fail(c, "missing_field",
		     "'product.variant_id' or "
		     "'shopify_location_id' is missing");
	snprintf(key, sizeof(key), "variant-%s@%s",
		 str(variant_id) ? str(variant_id) : "",
		 str(shop_loc) ? str(shop_loc) : "");
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
	record(c, r, "inventory", key);
	jw_put_null(w, "inventory_item_id");
	put(w, "variant_id", variant_id);
	put(w, "sku", odoo_text(prod, "default_code"));
	put(w, "location_id", shop_loc);
	put(w, "available", jv_number((double)avail));
	jw_put_null(w, "updated_at");
	jw_put_string(w, "source", "odoo");
	put(w, "odoo_location", odoo_text(loc, "complete_name"));
	jv_free(prod);
	jv_free(loc);
	emit(r);
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
 * Map one envelope into out: its records' text, the one that goes first
 * in c->lead.  Returns 0, or -1 with the reason and detail in c.
 */
static int
convert(struct conv *c, const struct handler *h, jv env, const char *line,
	size_t len, const char *file)
{
	char hex[SHA256_HEX_LEN];
	jv data = json_get(env, "data"), gid;

	sha256_hex(line, len, hex);
	jw_reset(&records.src);
	jw_object(&records.src);
	jw_put_string(&records.src, "sha256", hex);
	jw_put_string(&records.src, "kind", h->kind);
	jw_put_string(&records.src, "shape",
		      h->shape == REST	? "rest"
		      : h->shape == CSV ? "csv"
					: "graphql");
	/* An envelope that names its file and row keeps them (CSV sources). */
	if (json_has(env, "file"))
		put(&records.src, "file", json_get(env, "file"));
	else
		jw_put_string(&records.src, "file", file);
	gid = json_get(data, "id");
	if (str(gid) != NULL && strncmp(str(gid), "gid://", 6) == 0)
		put(&records.src, "gid", gid);
	else
		jv_free(gid);
	jw_end(&records.src);
	jw_reset(&records.made);
	records.nlist = 0;
	c->lead = NULL;
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
	return c->failed ? -1 : 0;
}

/*
 * Run the user's jq program on one record (consumed); append its results
 * to out.  Returns 0, or -1 with a message in err for a runtime error.
 */
static int
apply_jq(jv rec, jv *results, char *err, size_t errlen)
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
		*results = jv_array_append(*results, res);
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

/*
 * The records the envelope made (lead first) as jv values, for the jq
 * program: parsed back from their text, which only --jq pays for.
 */
static jv
made_as_jv(const struct conv *c)
{
	jv recs = jv_array();
	const char *text;
	size_t len, i;

	if (c->lead != NULL) {
		text = jw_text(&c->lead->w, &len);
		recs = jv_array_append(recs, jv_parse_sized(text, (int)len));
	}
	text = jw_text(&records.made, &len);
	for (i = 0; i < records.nlist; i++)
		recs = jv_array_append(
		    recs, jv_parse_sized(text + records.list[i].start,
					 (int)(records.list[i].end -
					       records.list[i].start)));
	return recs;
}

/* Write records the jq program made (consumed), counting them by kind. */
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

/* Write the records the envelope made, lead first, counting them by kind. */
static int
write_made(struct stage *st, const struct conv *c)
{
	const char *text;
	size_t len, i;

	if (c->lead != NULL) {
		counters_add(&st->out_kind, c->lead->kind);
		st->out++;
		text = jw_text(&c->lead->w, &len);
		fwrite(text, 1, len, stdout);
		putchar('\n');
	}
	for (i = 0; i < records.nlist; i++) {
		counters_add(&st->out_kind, records.list[i].kind);
		st->out++;
	}
	text = jw_text(&records.made, &len);
	if (fwrite(text, 1, len, stdout) != len)
		return -1;
	return ferror(stdout) ? -1 : 0;
}

static int
process(struct stage *st, const char *line, size_t len, const char *file,
	unsigned long lineno)
{
	jv env = jv_parse_sized(line, (int)len);
	const struct handler *h;
	struct conv c;
	const char *kind, *shop;
	size_t n;
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
	if (convert(&c, h, env, line, len, file) < 0) {
		stage_reject(st, file, lineno, line, len, c.reason, c.detail);
		jv_free(env);
		return 0;
	}
	if (records.nomem || jw_failed(&records.made)) {
		msg_warn("out of memory");
		jv_free(env);
		return -1;
	}
	if (jq != NULL) {
		jv recs = made_as_jv(&c), mapped = jv_array();
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
		n = (size_t)jv_array_length(jv_copy(mapped));
		rc = write_records(st, mapped);
	} else {
		n = (c.lead != NULL) + records.nlist;
		rc = write_made(st, &c);
	}
	if (n == 0) {
		st->dropped++;
		counters_add(&st->drops, "jq_empty");
	} else {
		st->split += (unsigned long)(n - 1);
	}
	jv_free(env);
	return rc;
}

/* Free what the writers of records hold. */
static void
release_writers(void)
{
	jw_release(&records.main.w);
	jw_release(&records.refund.w);
	jw_release(&records.payment.w);
	jw_release(&records.src);
	jw_release(&records.lines);
	jw_release(&records.scratch);
	jw_release(&records.made);
	free(records.list);
	free(records.copies);
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
	release_writers();
	if (jq != NULL)
		jq_teardown(&jq);
	if (pii_key != NULL) {
		memset(pii_key, 0, pii_keylen);
		free(pii_key);
	}
	return stage_close_stdout(status);
}
