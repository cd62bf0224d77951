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

#include "jr.h"
#include "json.h"
#include "jw.h"
#include "money.h"
#include "msg.h"
#include "secret.h"
#include "sha256.h"
#include "textpool.h"
#include "utf8.h"
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
 * The envelope being mapped, read once into a flat array of nodes: the
 * mapping code looks its fields up there without a reference count or a
 * malloc per value.  Its values (jr) are borrowed from it until the next
 * line is read.
 */
static struct jr_doc input;

/*
 * Text made while mapping one envelope (an id reduced to its digits, a
 * lower-cased code, a timestamp in UTC), kept until its records are
 * written; the pool is reset for each envelope.
 */
static struct textpool made_text = TEXTPOOL_INIT;

/* A copy of s as made text; NULL when memory ran out (made_text.nomem). */
static const char *
keep(const char *s)
{
	return textpool_keep(&made_text, s, strlen(s));
}

/*
 * A value a record copies from its envelope: one of the input's,
 * borrowed from the document (a string with a "\u0000" in it is written
 * whole), or text made from one (made text, a literal, or a C string of
 * the document).  Neither: null.
 */
struct val {
	jr in;	       /* written as it is */
	const char *s; /* else this text, written as a string */
};

static const struct val null_val = {NULL, NULL};

static struct val
in_val(jr v)
{
	return (struct val){v, NULL};
}

static struct val
text_val(const char *s)
{
	return (struct val){NULL, s};
}

/* The text of v, or NULL when v is not text. */
static const char *
str(struct val v)
{
	return v.in != NULL ? jr_str(v.in) : v.s;
}

static int
is_null(struct val v)
{
	return v.in == NULL && v.s == NULL;
}

/* Write v into w. */
static void
write_val(struct jw *w, struct val v)
{
	if (v.in != NULL)
		jw_jr(w, v.in);
	else
		jw_string(w, v.s);
}

/* Write the member key: v into w. */
static void
put(struct jw *w, const char *key, struct val v)
{
	jw_key(w, key);
	write_val(w, v);
}

/* 1 when obj has the member name and it is not null, else 0. */
static int
has(jr obj, const char *name)
{
	enum jr_kind kind = jr_kind(jr_get(obj, name));

	return kind != JR_ABSENT && kind != JR_NULL;
}

/*
 * The member of obj called rest (REST's snake_case) or gql (GraphQL's
 * camelCase), the first that is present and not null; NULL when neither
 * is there.
 */
static jr
field(jr obj, const char *rest, const char *gql)
{
	jr v;

	if (rest != NULL && (v = jr_get(obj, rest)) != NULL &&
	    jr_kind(v) != JR_NULL)
		return v;
	if (gql != NULL && (v = jr_get(obj, gql)) != NULL &&
	    jr_kind(v) != JR_NULL)
		return v;
	return NULL;
}

static const char *
name_of(const char *rest, const char *gql)
{
	return rest ? rest : gql;
}

/*
 * The text of the JSON number v as libjq prints it ("0.21" for 0.210),
 * borrowed until the next call; NULL when it has none.  Spelling a number
 * as libjq does may go through libjq, which allocates, and a day repeats
 * few numbers (its tax rates above all), so the last one spelled is
 * remembered by the text it was written as.
 */
static const char *
number_text(jr v)
{
	static char last[64], last_text[64];
	static size_t last_len; /* 0: nothing remembered */

	if (jr_kind(v) != JR_NUMBER)
		return NULL;
	if (last_len != 0 && v->len == last_len &&
	    memcmp(v->text, last, last_len) == 0)
		return last_text;
	last_len = 0;
	if (jr_number_text(v, last_text, sizeof(last_text)) < 0)
		return NULL;
	if (v->len < sizeof(last)) {
		memcpy(last, v->text, v->len);
		last_len = v->len;
	}
	return last_text;
}

/* Text field: a string as it is, a number as its text, else null. */
static struct val
text(struct conv *c, jr obj, const char *rest, const char *gql)
{
	jr v = field(obj, rest, gql);
	const char *number;

	if (v == NULL || jr_kind(v) == JR_STRING)
		return in_val(v);
	if ((number = number_text(v)) != NULL)
		return text_val(keep(number));
	fail(c, "bad_field", "'%s' is not text", name_of(rest, gql));
	return null_val;
}

/* Codes are short words; a longer one is cut to this many bytes. */
#define WORD_MAX 95

/*
 * The first WORD_MAX bytes of the UTF-8 text s, letters lower-cased and,
 * when spaces is set, spaces made '_': s itself when that changes
 * nothing, else made text (NULL when memory ran out).  A character cut
 * in two at the end becomes U+FFFD, as libjq made it of such bytes.
 */
static const char *
word(const char *s, int spaces)
{
	size_t i, n, last;
	int change = 0;
	char *out;

	for (n = 0; s[n] != '\0' && n < WORD_MAX; n++)
		change |=
		    (s[n] >= 'A' && s[n] <= 'Z') || (spaces && s[n] == ' ');
	if (!change && s[n] == '\0')
		return s;
	/* Room for a U+FFFD in place of a cut character, and the NUL. */
	if ((out = textpool_room(&made_text, n + 3 + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a')
			 : spaces && s[i] == ' '    ? '_'
						    : s[i];
	if (s[n] != '\0' && n > 0) {
		/* Cut: is the last character whole? */
		last = n - 1;
		while (last > 0 && n - last < 4 &&
		       ((unsigned char)s[last] & 0xC0) == 0x80)
			last--;
		if ((unsigned char)s[last] >= 0x80 &&
		    utf8_sequence((const unsigned char *)s + last, n - last) ==
			0) {
			memcpy(out + last, "\xEF\xBF\xBD", 3);
			n = last + 3;
		}
	}
	out[n] = '\0';
	return out;
}

/* A GraphQL enum or REST code, lower-cased ("PAID" and "paid": "paid"). */
static struct val
code(struct conv *c, jr obj, const char *rest, const char *gql)
{
	struct val v = text(c, obj, rest, gql);

	if (str(v) == NULL)
		return v;
	/* As C text: a "\u0000" ends it. */
	return text_val(word(str(v), 0));
}

static struct val
boolean(struct conv *c, jr obj, const char *rest, const char *gql)
{
	jr v = field(obj, rest, gql);

	if (v == NULL || jr_kind(v) == JR_TRUE || jr_kind(v) == JR_FALSE)
		return in_val(v);
	fail(c, "bad_field", "'%s' is not true or false", name_of(rest, gql));
	return null_val;
}

/* An id from v as a string, null when v is absent. */
static struct val
id_value(struct conv *c, jr v, const char *name)
{
	char buf[32];
	const char *why;

	if (v == NULL || jr_kind(v) == JR_NULL)
		return null_val;
	if (jr_id(v, buf, sizeof(buf), &why) < 0) {
		fail(c, "bad_id", "'%s' %s", name, why);
		return null_val;
	}
	/* Most ids come as strings of digits already. */
	if (jr_kind(v) == JR_STRING && strcmp(jr_str(v), buf) == 0)
		return text_val(jr_str(v));
	return text_val(keep(buf));
}

/*
 * An id: REST's rest field ("product_id": 632910392), or the "id" inside
 * GraphQL's gql object ("product": {"id": "gid://shopify/Product/1"}), or
 * a gql field that is itself an id.
 */
static struct val
id_field(struct conv *c, jr obj, const char *rest, const char *gql)
{
	jr v = field(obj, rest, gql);

	if (jr_kind(v) == JR_OBJECT)
		return id_value(c, jr_get(v, "id"), name_of(gql, rest));
	return id_value(c, v, name_of(rest, gql));
}

static struct val
required_id(struct conv *c, jr obj, const char *rest, const char *gql)
{
	struct val id = id_field(c, obj, rest, gql);

	if (is_null(id))
		fail(c, "missing_field", "'%s' is missing", name_of(rest, gql));
	return id;
}

static struct val
timestamp(struct conv *c, jr obj, const char *rest, const char *gql)
{
	jr v = field(obj, rest, gql);
	const char *s = jr_str(v), *why;
	char out[UTC_TEXT_MAX];

	if (v == NULL)
		return null_val;
	if (s == NULL || utc_normalize(s, out, &why) < 0) {
		/* A bare date names no instant: which day it is depends on
		 * a zone the payload does not give. */
		int bare = s != NULL && utc_check_date(s, &why) == 0;

		fail(c, "bad_time", "'%s' is %s", name_of(rest, gql),
		     bare ? "a date without a time of day"
			  : "not a timestamp with an offset");
		return null_val;
	}
	/* Extracts write UTC already. */
	if (strcmp(out, s) == 0)
		return text_val(s);
	return text_val(keep(out));
}

/*
 * An integer count (quantity, stock): a JSON number with no fraction, or
 * a string of digits.
 */
struct count {
	jr in;	   /* the input's number, written as it is */
	int64_t n; /* the count, a whole number below 2^53 */
	int have;  /* a count was given */
};

/* 2^53: the first whole number a double cannot tell from its neighbour. */
#define COUNT_LIMIT 9007199254740992.0

static struct count
count(struct conv *c, jr obj, const char *rest, const char *gql)
{
	jr v = field(obj, rest, gql);
	struct count n = {NULL, 0, 0};
	char buf[32];
	const char *why;

	if (v == NULL)
		return n;
	if (jr_kind(v) == JR_NUMBER) {
		double d = jr_number(v);

		/* A whole number a double holds exactly (not -0) is its
		 * own count: what jr_id() would check, without printing.
		 * Any other number is no count, negative or not. */
		if (d < COUNT_LIMIT && d > -COUNT_LIMIT &&
		    d == (double)(int64_t)d && !(d == 0 && signbit(d)))
			return (struct count){v, (int64_t)d, 1};
	} else if (jr_id(v, buf, sizeof(buf), &why) == 0 &&
		   strtoull(buf, NULL, 10) < (unsigned long long)COUNT_LIMIT) {
		/* Digits as text: the same bound, or a double rounds them. */
		return (struct count){NULL, strtoll(buf, NULL, 10), 1};
	}
	fail(c, "bad_field", "'%s' is not a whole number", name_of(rest, gql));
	return n;
}

/* Write the member key: the count n into w. */
static void
put_count(struct jw *w, const char *key, struct count n)
{
	jw_key(w, key);
	if (n.in != NULL)
		jw_jr(w, n.in);
	else if (n.have)
		jw_int(w, n.n);
	else
		jw_null(w);
}

/* A tax rate as decimal text: 0.21 (number) or "0.21" becomes "0.21". */
static struct val
rate(struct conv *c, jr obj, const char *rest, const char *gql)
{
	struct val v = text(c, obj, rest, gql);
	int64_t scaled;
	const char *why, *s = str(v);

	if (s == NULL)
		return v;
	/* A rate is a decimal fraction; 6 places hold 0.0625 and 0.000125. */
	if (money_parse(s, strlen(s), 6, &scaled, &why) < 0) {
		fail(c, "bad_field", "'%s' is not a decimal rate",
		     name_of(rest, gql));
		return null_val;
	}
	return v;
}

/* Parse one amount (string or JSON number) in a currency of exponent e. */
static int
parse_amount(struct conv *c, jr v, int e, const char *name, int64_t *out)
{
	const char *s, *why;

	if ((s = jr_str(v)) != NULL) {
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
money_v2(struct conv *c, jr m, const char *want, int e, const char *name,
	 int64_t *out)
{
	jr amount = jr_get(m, "amount");
	const char *cur = jr_get_str(m, "currencyCode");

	if (cur == NULL)
		cur = jr_get_str(m, "currency_code");
	if (cur == NULL)
		cur = jr_get_str(m, "currency");
	if (amount == NULL) {
		fail(c, "bad_amount", "'%s' has no amount", name);
		return -1;
	}
	if (cur != NULL && want != NULL && strcmp(cur, want) != 0) {
		fail(c, "wrong_currency", "'%s' is in %s, expected %s", name,
		     cur, want);
		return -1;
	}
	return parse_amount(c, amount, e, name, out);
}

/*
 * The shop and presentment money of the MoneyBag b, each NULL when
 * absent, as field() finds them.  GraphQL's bag {"shopMoney": ..,
 * "presentmentMoney": ..} has those two members only, so REST's names,
 * which field() would try first, cannot be there: a bag is read with two
 * lookups instead of four.
 */
static void
bag_sides(jr b, jr *shop, jr *pres)
{
	if (jr_len(b) == 2) {
		*shop = jr_get(b, "shopMoney");
		*pres = jr_get(b, "presentmentMoney");
		if (jr_kind(*shop) == JR_OBJECT && jr_kind(*pres) == JR_OBJECT)
			return;
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
bag(struct conv *c, jr obj, const char *plain, const char *rest_set,
    const char *gql_set)
{
	struct amt a = {0, 0, 0, 0};
	jr b = field(obj, rest_set, gql_set), p = field(obj, plain, NULL);
	const char *bname = name_of(rest_set, gql_set);

	if (jr_kind(b) == JR_OBJECT) {
		jr shop, pres;

		bag_sides(b, &shop, &pres);
		if (jr_kind(shop) == JR_OBJECT &&
		    money_v2(c, shop, c->cur, c->exp, bname, &a.shop) == 0)
			a.have = 1;
		if (c->pcur != NULL && jr_kind(pres) == JR_OBJECT &&
		    money_v2(c, pres, c->pcur, c->pexp, bname, &a.pres) == 0)
			a.have_pres = 1;
	} else if (b != NULL) {
		fail(c, "bad_amount", "'%s' is not a money object", bname);
	}
	if (p != NULL) {
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
	return a;
}

static struct amt
required_bag(struct conv *c, jr obj, const char *plain, const char *rest_set,
	     const char *gql_set)
{
	struct amt a = bag(c, obj, plain, rest_set, gql_set);

	if (!a.have)
		fail(c, "missing_field", "'%s' is missing",
		     plain ? plain : name_of(rest_set, gql_set));
	return a;
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
 * Fail unless the connection conn was extracted to its end: a truncated
 * connection would lose lines silently.
 */
static void
complete(struct conv *c, jr conn, const char *name)
{
	if (jr_kind(jr_get(jr_get(conn, "pageInfo"), "hasNextPage")) == JR_TRUE)
		fail(c, "incomplete", "'%s' has more pages than were extracted",
		     name);
}

/*
 * A walk over the items of a list as Shopify gives them: a plain array
 * (REST, and GraphQL list fields), a connection {"nodes": [..]} or
 * {"edges": [{"node": ..}]}.
 *
 *	for (items(c, &it, obj, rest, gql); next_item(&it, &item);)
 */
struct items {
	jr list;   /* the array walked; NULL when there is none */
	int edges; /* its elements are edges, each holding an item */
	jr next;   /* the element after the one given last */
	int i;	   /* the index of the item given last */
};

/* Start it on the list obj has under rest or gql; none when absent. */
static void
items(struct conv *c, struct items *it, jr obj, const char *rest,
      const char *gql)
{
	jr v = field(obj, rest, gql), nodes, edges;

	it->list = NULL;
	it->edges = 0;
	it->i = -1;
	if (v == NULL) {
		/* No list: no items. */
	} else if (jr_kind(v) == JR_ARRAY) {
		it->list = v;
	} else if (jr_kind(nodes = jr_get(v, "nodes")) == JR_ARRAY) {
		complete(c, v, name_of(gql, rest));
		it->list = nodes;
	} else if (jr_kind(edges = jr_get(v, "edges")) == JR_ARRAY) {
		complete(c, v, name_of(gql, rest));
		it->list = edges;
		it->edges = 1;
	} else {
		fail(c, "bad_field", "'%s' is not a list", name_of(rest, gql));
	}
	it->next = jr_first(it->list);
}

/*
 * The next item in *item (NULL for an edge without a node) and 1, or 0
 * after the last.
 */
static int
next_item(struct items *it, jr *item)
{
	jr e = it->next;

	if (e == NULL)
		return 0;
	it->next = jr_next(it->list, e);
	it->i++;
	*item = it->edges ? jr_get(e, "node") : e;
	return 1;
}

/* How many items the list has. */
static size_t
item_count(const struct items *it)
{
	return jr_len(it->list);
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
currencies(struct conv *c, jr obj, const char *shop_rest, const char *shop_gql,
	   const char *pres_rest, const char *pres_gql)
{
	/* Borrowed from the document, which outlives this conversion. */
	const char *cur = jr_str(field(obj, shop_rest, shop_gql)),
		   *pcur = jr_str(field(obj, pres_rest, pres_gql));

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
 * values still join, or leave it out.  Writes the member into w.
 */
static void
personal(struct jw *w, const char *key, struct val value, int is_email)
{
	char buf[512], hex[SHA256_HEX_LEN], hashed[SHA256_HEX_LEN + 8];
	const char *s = str(value);
	size_t i, n, start = 0;

	if (pii == PII_DROP)
		return;
	if (pii == PII_KEEP || s == NULL) {
		put(w, key, value);
		return;
	}
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
	jw_put_string(w, key, hashed);
}

/* Where an address is, which a refund's jurisdiction names. */
struct place {
	int given; /* the record has the address */
	struct val country_code, province_code;
};

/*
 * Write the address obj has under rest or gql as a value into w, or null.
 * When it has one and at is not NULL, say where it is in *at.
 */
static void
address(struct conv *c, struct jw *w, jr obj, const char *rest, const char *gql,
	struct place *at)
{
	jr a = field(obj, rest, gql);
	struct val country_code, province_code;

	if (jr_kind(a) != JR_OBJECT) {
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
	put(w, "province_code", province_code);
	put(w, "country", text(c, a, "country", NULL));
	country_code = text(c, a, "country_code", "countryCodeV2");
	put(w, "country_code", country_code);
	jw_end(w);
	if (at != NULL) {
		at->given = 1;
		at->country_code = country_code;
		at->province_code = province_code;
	}
}

/* The personal fields of a customer (embedded in an order, or alone). */
static void
person(struct conv *c, struct jw *w, jr cust)
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
tax_lines(struct conv *c, struct jw *w, jr obj, struct amt *sum, int *count_out,
	  struct jw *kinds)
{
	struct items it;
	jr t;

	memset(sum, 0, sizeof(*sum));
	sum->have = 1;
	sum->have_pres = c->pcur != NULL;
	jw_array(w);
	if (kinds != NULL)
		jw_array(kinds);
	for (items(c, &it, obj, "tax_lines", "taxLines"); next_item(&it, &t);) {
		struct amt a =
		    required_bag(c, t, "price", "price_set", "priceSet");
		struct val title = text(c, t, "title", NULL),
			   r = rate(c, t, "rate", NULL);
		struct val liable =
		    boolean(c, t, "channel_liable", "channelLiable");
		struct pres p;

		if (kinds != NULL) {
			jw_object(kinds);
			put(kinds, "title", title);
			put(kinds, "rate", r);
			put(kinds, "channel_liable", liable);
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
		(*count_out)++;
	}
	jw_end(w);
	if (kinds != NULL)
		jw_end(kinds);
}

/* Discount allocations of a line, written as an array into w, and their sum. */
static void
allocations(struct conv *c, struct jw *w, jr obj, struct amt *sum)
{
	struct items it;
	jr d;

	memset(sum, 0, sizeof(*sum));
	sum->have = 1;
	sum->have_pres = c->pcur != NULL;
	jw_array(w);
	for (items(c, &it, obj, "discount_allocations", "discountAllocations");
	     next_item(&it, &d);) {
		struct amt a = required_bag(c, d, "amount", "amount_set",
					    "allocatedAmountSet");
		struct pres p;
		jr app;

		p.n = 0;
		jw_object(w);
		put_amt(c, w, &p, "amount", a);
		put_presentment(c, w, &p);
		app = jr_get(d, "discountApplication");
		put_count(
		    w, "application_index",
		    app != NULL
			? count(c, app, "index", NULL)
			: count(c, d, "discount_application_index", NULL));
		jw_end(w);
		add(c, &sum->shop, a.shop);
		if (a.have_pres)
			add(c, &sum->pres, a.pres);
		else
			sum->have_pres = 0;
	}
	jw_end(w);
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
 * an order and its refund in different processes.  Returns the line's id,
 * null when it has none.
 */
static struct val
line_item(struct conv *c, struct jw *w, jr li, int index, struct order_sums *s,
	  struct jw *refunded)
{
	struct val id, sku, title, name, gift_card, taxable;
	struct count qty;
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
	if (!qty.have)
		fail(c, "missing_field", "'quantity' is missing");
	else
		q = qty.n;
	unit =
	    required_bag(c, li, "price", "price_set", "originalUnitPriceSet");
	if (money_mul(unit.shop, q, &total) < 0 ||
	    (unit.have_pres && money_mul(unit.pres, q, &ptotal) < 0))
		fail(c, "bad_amount", "price x quantity overflows");
	jw_object(w);
	put(w, "id", id);
	put(w, "product_id", id_field(c, li, "product_id", "product"));
	put(w, "variant_id", id_field(c, li, "variant_id", "variant"));
	sku = text(c, li, "sku", NULL);
	put(w, "sku", sku);
	title = text(c, li, "title", NULL);
	put(w, "title", title);
	put(w, "variant_title", text(c, li, "variant_title", "variantTitle"));
	name = text(c, li, "name", NULL);
	put(w, "name", name);
	put_count(w, "quantity", qty);
	put_count(w, "current_quantity",
		  count(c, li, "current_quantity", "currentQuantity"));
	gift_card = boolean(c, li, "gift_card", "isGiftCard");
	put(w, "gift_card", gift_card);
	taxable = boolean(c, li, "taxable", NULL);
	put(w, "taxable", taxable);
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
		put_count(refunded, "quantity", qty);
		jw_key(refunded, "unit_price");
		if (unit.have)
			jw_money(refunded, unit.shop, c->exp);
		else
			jw_null(refunded);
		put_money(c, refunded, "discount", disc.shop);
		put(refunded, "gift_card", gift_card);
		put(refunded, "taxable", taxable);
		jw_end(refunded);
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
 * taxes) there.  Returns its id, null when it has none.
 */
static struct val
shipping_line(struct conv *c, struct jw *w, jr sl, int index,
	      struct order_sums *s, struct jw *refunded)
{
	struct val id, title;
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
	put(w, "id", id);
	title = text(c, sl, "title", NULL);
	put(w, "title", title);
	put(w, "code", text(c, sl, "code", NULL));
	put(w, "source", text(c, sl, "source", NULL));
	jw_key(w, "discount_allocations");
	allocations(c, w, sl, &disc);
	if (refunded != NULL) {
		jw_object(refunded);
		put(refunded, "title", title);
		jw_key(refunded, "tax_lines");
	}
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
	struct val taxes_included;
	struct place at; /* where its tax was levied */
};

/* Remember what a refund copies of the order's line just written. */
static void
keep_copy(int shipping, struct val id, size_t start)
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

static void payment(struct conv *c, jr t, struct val order_id,
		    struct val order_name, struct payment_made *made);
static void refund(struct conv *c, jr rf, struct val order_id,
		   struct val order_name, const struct order_facts *order);

/*
 * The "payments" of the order or refund obj: each of its transactions
 * written as a payment record, and its key listed.  With moved, what the
 * successful ones moved in the record's currency is added to *moved.
 */
static void
put_payments(struct conv *c, struct jw *w, jr obj, struct val order_id,
	     struct val order_name, int64_t *moved)
{
	struct items it;
	jr item;

	jw_key(w, "payments");
	jw_array(w);
	for (items(c, &it, obj, "transactions", NULL); next_item(&it, &item);) {
		struct payment_made made;

		payment(c, item, order_id, order_name, &made);
		jw_string(w,
			  records.payment.key[0] ? records.payment.key : NULL);
		if (moved != NULL && made.moves_money && c->cur != NULL &&
		    strcmp(made.currency, c->cur) == 0 && made.amount.have)
			add(c, moved, made.amount.shop);
		emit(&records.payment);
	}
	jw_end(w);
}

/*
 * An order's "lines" (shipping 0) or "shipping_lines" (1), each line
 * also kept for the refunds to copy when the order has refunds (copies).
 */
static void
put_lines(struct conv *c, struct jw *w, jr d, int shipping,
	  struct order_sums *s, int copies)
{
	struct jw *kept = copies ? &records.lines : NULL;
	struct items it;
	jr item;

	jw_key(w, shipping ? "shipping_lines" : "lines");
	jw_array(w);
	for (items(c, &it, d, shipping ? "shipping_lines" : "line_items",
		   shipping ? "shippingLines" : "lineItems");
	     next_item(&it, &item);) {
		size_t start;
		struct val id;

		jw_text(&records.lines, &start);
		id = shipping ? shipping_line(c, w, item, it.i, s, kept)
			      : line_item(c, w, item, it.i, s, kept);
		if (copies)
			keep_copy(shipping, id, start);
	}
	jw_end(w);
}

static void
order(struct conv *c, jr d)
{
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	struct val id, name, tincl;
	struct place billing = {0, {NULL, NULL}, {NULL, NULL}};
	struct place shipping_at = {0, {NULL, NULL}, {NULL, NULL}};
	struct order_facts facts;
	struct order_sums s;
	struct amt line_items, subtotal, discounts, shipping, tax, total, tip;
	struct amt duties;
	struct pres ptotals, pcurrent;
	struct items it;
	jr cust, gateways, item;
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
	put(w, "id", id);
	put(w, "name", name);
	put(w, "created_at", timestamp(c, d, "created_at", "createdAt"));
	put(w, "processed_at", timestamp(c, d, "processed_at", "processedAt"));
	put(w, "updated_at", timestamp(c, d, "updated_at", "updatedAt"));
	put(w, "cancelled_at", timestamp(c, d, "cancelled_at", "cancelledAt"));
	put(w, "cancel_reason", code(c, d, "cancel_reason", "cancelReason"));
	put(w, "closed_at", timestamp(c, d, "closed_at", "closedAt"));
	jw_put_string(w, "currency", c->cur ? c->cur : "");
	jw_put_string(w, "presentment_currency", c->pcur ? c->pcur : c->cur);
	tincl = boolean(c, d, "taxes_included", "taxesIncluded");
	excluded = jr_kind(tincl.in) != JR_TRUE;
	put(w, "taxes_included", tincl);
	put(w, "test", boolean(c, d, "test", NULL));
	put(w, "financial_status",
	    code(c, d, "financial_status", "displayFinancialStatus"));
	put(w, "fulfillment_status",
	    code(c, d, "fulfillment_status", "displayFulfillmentStatus"));
	put(w, "source_name", text(c, d, "source_name", "sourceName"));
	gateways = field(d, "payment_gateway_names", "paymentGatewayNames");
	jw_key(w, "gateways");
	if (gateways != NULL) {
		jw_jr(w, gateways);
	} else {
		jw_array(w);
		jw_end(w);
	}
	jw_key(w, "discount_codes");
	jw_array(w);
	for (items(c, &it, d, "discount_codes", "discountCodes");
	     next_item(&it, &item);)
		write_val(w, jr_kind(item) == JR_STRING
				 ? in_val(item)
				 : text(c, item, "code", NULL));
	jw_end(w);
	personal(w, "email", text(c, d, "email", NULL), 1);
	personal(w, "phone", text(c, d, "phone", NULL), 0);
	cust = field(d, "customer", NULL);
	jw_key(w, "customer");
	if (jr_kind(cust) == JR_OBJECT) {
		/* Hand-made payloads have customers without ids: no join then.
		 */
		struct val cid = id_field(c, cust, "id", NULL);

		jw_object(w);
		put_key(c, w, "key", "customer", str(cid));
		put(w, "id", cid);
		person(c, w, cust);
		jw_end(w);
	} else {
		jw_null(w);
	}
	jw_key(w, "billing_address");
	address(c, w, d, "billing_address", "billingAddress", &billing);
	jw_key(w, "shipping_address");
	address(c, w, d, "shipping_address", "shippingAddress", &shipping_at);

	/* Only an order with refunds needs what they copy of its lines. */
	copies = field(d, "refunds", NULL) != NULL;
	jw_reset(&records.lines);
	records.ncopies = 0;
	put_lines(c, w, d, 0, &s, copies);
	put_lines(c, w, d, 1, &s, copies);
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

	put_payments(c, w, d, id, name, NULL);
	/* Where the order's tax was levied, as enrich-tax chooses: the
	 * shipping address, or the billing address when it has none. */
	facts.taxes_included = tincl;
	facts.at = shipping_at.given ? shipping_at : billing;
	jw_key(w, "refunds");
	jw_array(w);
	for (items(c, &it, d, "refunds", NULL); next_item(&it, &item);) {
		refund(c, item, id, name, &facts);
		jw_string(w, records.refund.key[0] ? records.refund.key : NULL);
		emit(&records.refund);
	}
	jw_end(w);
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
payment(struct conv *c, jr t, struct val order_id, struct val order_name,
	struct payment_made *made)
{
	struct rec *r = &records.payment;
	struct jw *w = &r->w;
	struct val id, type, status;
	struct items it;
	jr f;
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
	if (str(order_id) == NULL)
		order_id = id_field(c, t, "order_id", "order");
	tcur = jr_get_str(t, "currency");
	if (tcur != NULL && !has(t, "amountSet")) {
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
	put(w, "order_id", order_id);
	put_key(c, w, "order_key", "order", str(order_id));
	put(w, "order_name", order_name);
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
	for (items(c, &it, t, "fees", NULL); next_item(&it, &f);) {
		jr m = jr_get(f, "amount");
		int64_t v = 0;

		if (jr_kind(m) == JR_OBJECT)
			money_v2(c, m, c->cur, c->exp, "fees.amount", &v);
		else
			fail(c, "bad_amount", "'fees.amount' is not money");
		jw_object(w);
		put_money(c, w, "amount", v);
		put(w, "type", code(c, f, "type", NULL));
		put(w, "rate", rate(c, f, "rate", NULL));
		jw_end(w);
	}
	jw_end(w);
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
refund(struct conv *c, jr rf, struct val order_id, struct val order_name,
       const struct order_facts *order)
{
	struct rec *r = &records.refund;
	struct jw *w = &r->w;
	struct val id;
	struct items it;
	jr item;
	struct pres p;
	int64_t moved = 0;
	char where[sizeof(c->where)];

	memcpy(where, c->where, sizeof(where));
	id = required_id(c, rf, "id", NULL);
	snprintf(c->where + strlen(c->where),
		 sizeof(c->where) - strlen(c->where),
		 "refund '%s': ", str(id) ? str(id) : "?");
	if (str(order_id) == NULL)
		order_id = id_field(c, rf, "order_id", "order");
	if (c->cur == NULL)
		currencies(c, rf, "currency", NULL, NULL, NULL);
	record(c, r, "refund", str(id));
	put(w, "id", id);
	put(w, "order_id", order_id);
	put_key(c, w, "order_key", "order", str(order_id));
	put(w, "order_name", order_name);
	put(w, "created_at", timestamp(c, rf, "created_at", "createdAt"));
	put(w, "processed_at", timestamp(c, rf, "processed_at", "processedAt"));
	put(w, "note", text(c, rf, "note", NULL));
	put(w, "restock", boolean(c, rf, "restock", NULL));
	put(w, "taxes_included", order ? order->taxes_included : null_val);
	jw_put_string(w, "currency", c->cur ? c->cur : "");
	jw_key(w, "jurisdiction");
	if (order != NULL) {
		jw_object(w);
		put(w, "country_code", order->at.country_code);
		put(w, "province_code", order->at.province_code);
		jw_end(w);
	} else {
		jw_null(w);
	}

	jw_key(w, "lines");
	jw_array(w);
	for (items(c, &it, rf, "refund_line_items", "refundLineItems");
	     next_item(&it, &item);) {
		jr li = jr_get(item, "line_item");
		struct val lid;
		char rwhere[sizeof(c->where)];

		memcpy(rwhere, c->where, sizeof(rwhere));
		snprintf(c->where + strlen(c->where),
			 sizeof(c->where) - strlen(c->where),
			 "refund line %d: ", it.i + 1);

		if (li == NULL)
			li = jr_get(item, "lineItem");
		jw_object(w);
		put(w, "id", id_field(c, item, "id", NULL));
		lid = jr_kind(li) == JR_OBJECT ? id_field(c, li, "id", NULL)
					       : null_val;
		if (is_null(lid))
			lid = id_field(c, item, "line_item_id", NULL);
		put(w, "line_item_id", lid);
		if (order != NULL) {
			put_copy(w, "line_item", 0, str(lid));
		} else if (jr_kind(li) == JR_OBJECT &&
			   (has(li, "price") || has(li, "price_set"))) {
			/* REST gives the whole line; a bare {id, sku} is
			 * not enough to copy.  The line is written aside,
			 * its copy into the refund. */
			struct order_sums ignored;

			memset(&ignored, 0, sizeof(ignored));
			jw_reset(&records.scratch);
			jw_key(w, "line_item");
			line_item(c, &records.scratch, li, it.i, &ignored, w);
		} else {
			jw_put_null(w, "line_item");
		}
		put(w, "sku", text(c, li, "sku", NULL));
		put_count(w, "quantity", count(c, item, "quantity", NULL));
		put(w, "restock_type",
		    code(c, item, "restock_type", "restockType"));
		p.n = 0;
		put_amt(c, w, &p, "subtotal",
			required_bag(c, item, "subtotal", "subtotal_set",
				     "subtotalSet"));
		put_amt(c, w, &p, "tax",
			required_bag(c, item, "total_tax", "total_tax_set",
				     "totalTaxSet"));
		put_presentment(c, w, &p);
		jw_end(w);
		memcpy(c->where, rwhere, sizeof(rwhere));
	}
	jw_end(w);
	jw_key(w, "shipping");
	jw_array(w);
	for (items(c, &it, rf, "refund_shipping_lines", "refundShippingLines");
	     next_item(&it, &item);) {
		struct val sid =
		    id_field(c, item, "shipping_line_id", "shippingLine");

		jw_object(w);
		put(w, "shipping_line_id", sid);
		if (order != NULL)
			put_copy(w, "shipping_line", 1, str(sid));
		else
			jw_put_null(w, "shipping_line");
		p.n = 0;
		put_amt(c, w, &p, "amount",
			required_bag(c, item, NULL, "subtotal_amount_set",
				     "subtotalAmountSet"));
		put_amt(c, w, &p, "tax",
			bag(c, item, NULL, "tax_amount_set", "taxAmountSet"));
		put_presentment(c, w, &p);
		jw_end(w);
	}
	jw_end(w);
	jw_key(w, "adjustments");
	jw_array(w);
	for (items(c, &it, rf, "order_adjustments", "orderAdjustments");
	     next_item(&it, &item);) {
		jw_object(w);
		put(w, "id", id_field(c, item, "id", NULL));
		put(w, "kind", code(c, item, "kind", "reason"));
		put(w, "reason", text(c, item, "reason", NULL));
		p.n = 0;
		put_amt(
		    c, w, &p, "amount",
		    required_bag(c, item, "amount", "amount_set", "amountSet"));
		put_amt(c, w, &p, "tax",
			bag(c, item, "tax_amount", "tax_amount_set",
			    "taxAmountSet"));
		put_presentment(c, w, &p);
		jw_end(w);
	}
	jw_end(w);
	/* What the refund paid back: its successful refund transactions in
	 * its own currency. */
	put_payments(c, w, rf, order_id, order_name, &moved);
	put_money(c, w, "total", moved);
	p.n = 0;
	put_amt(c, w, &p, "total_refunded",
		bag(c, rf, NULL, "total_refunded_set", "totalRefundedSet"));
	put_presentment(c, w, &p);
	memcpy(c->where, where, sizeof(where));
}

/* --- Shopify Payments ------------------------------------------------- */

/* A MoneyV2 (GraphQL) or a plain amount with the record's currency. */
static int64_t
plain_money(struct conv *c, jr obj, const char *rest, const char *gql,
	    int required)
{
	jr v = field(obj, rest, gql);
	int64_t out = 0;

	if (v == NULL) {
		if (required)
			fail(c, "missing_field", "'%s' is missing",
			     name_of(rest, gql));
	} else if (jr_kind(v) == JR_OBJECT) {
		money_v2(c, v, c->cur, c->exp, name_of(rest, gql), &out);
	} else {
		parse_amount(c, v, c->exp, name_of(rest, gql), &out);
	}
	return out;
}

/* The currency of a record whose amounts are MoneyV2 or plain + currency. */
static void
money_currency(struct conv *c, jr d, const char *gql_money)
{
	const char *cur = jr_get_str(field(d, NULL, gql_money), "currencyCode");

	if (cur == NULL)
		cur = jr_get_str(d, "currency");
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
payout(struct conv *c, jr d)
{
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	struct val id;
	jr sum, issued, date;
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
	if (jr_kind(date) == JR_STRING) {
		const char *why;

		if (utc_check_date(jr_str(date), &why) < 0)
			fail(c, "bad_time", "'date' %s", why);
		put(w, "date", in_val(date));
	} else if (jr_kind(issued) == JR_STRING &&
		   strlen(jr_str(issued)) >= 10) {
		/* The payout's date as Shopify wrote it, in its own offset. */
		jw_key(w, "date");
		jw_stringn(w, jr_str(issued), 10);
	} else {
		fail(c, "missing_field", "'date' is missing");
	}
	put(w, "issued_at", timestamp(c, d, "issued_at", "issuedAt"));
	sum = field(d, "summary", NULL);
	jw_key(w, "summary");
	if (jr_kind(sum) == JR_OBJECT) {
		jw_object(w);
		for (i = 0;
		     i < sizeof(summary_fields) / sizeof(summary_fields[0]);
		     i++) {
			const char *const *f = summary_fields[i];
			int64_t v;

			if (!has(sum, f[1]) && !has(sum, f[2]))
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
	emit(r);
}

/* REST's source types mix styles ("Payments::Refund"); keep the last word. */
static struct val
source_type(struct conv *c, jr d)
{
	struct val v = code(c, d, "source_type", "sourceType");
	const char *colon;

	if (str(v) != NULL && (colon = strrchr(str(v), ':')) != NULL)
		return text_val(colon + 1);
	return v;
}

static void
balance_transaction(struct conv *c, jr d)
{
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	struct val id, payout_id, order_id, tx_id, type;
	jr assoc;
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
	if (str(type) && strcmp(str(type), "transfer") == 0)
		type = text_val("payout");
	put(w, "type", type);
	put(w, "test", boolean(c, d, "test", NULL));
	jw_put_string(w, "currency", c->cur ? c->cur : "");
	put_money(c, w, "amount", amount);
	put_money(c, w, "fee", fee);
	put_money(c, w, "net", net);
	assoc = field(d, NULL, "associatedPayout");
	if (jr_kind(assoc) == JR_OBJECT) {
		payout_id = id_field(c, assoc, "id", NULL);
		put(w, "payout_status", code(c, assoc, "status", NULL));
	} else {
		payout_id = id_field(c, d, "payout_id", NULL);
		put(w, "payout_status", code(c, d, "payout_status", NULL));
	}
	put_key(c, w, "payout_key", "payout", str(payout_id));
	put(w, "payout_id", payout_id);
	assoc = field(d, NULL, "associatedOrder");
	if (jr_kind(assoc) == JR_OBJECT) {
		order_id = id_field(c, assoc, "id", NULL);
		put(w, "order_name", text(c, assoc, "name", NULL));
	} else {
		order_id = id_field(c, d, "source_order_id", NULL);
		jw_put_null(w, "order_name");
	}
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
dispute(struct conv *c, jr d)
{
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	struct val id, order_id;
	jr reasons = field(d, NULL, "reasonDetails");

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
	if (jr_kind(reasons) == JR_OBJECT) {
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
	emit(r);
}

/* --- master data ------------------------------------------------------ */

/*
 * One product record per variant: the variant is what an order line sells.
 * product is NULL for a variant that came alone.
 */
static void
variant(struct conv *c, jr v, jr product)
{
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	struct val id, pid;

	id = required_id(c, v, "id", NULL);
	pid = id_field(c, v, "product_id", "product");
	if (is_null(pid))
		pid = id_field(c, product, "id", NULL);
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
	if (has(v, "compare_at_price") || has(v, "compareAtPrice"))
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
product(struct conv *c, jr d, int is_variant)
{
	struct items it;
	jr v;

	context(c, is_variant ? "variant" : "product",
		str(id_field(c, d, "id", NULL)));
	currencies(c, d, "currency", NULL, NULL, NULL);
	if (is_variant) {
		variant(c, d, NULL);
		return;
	}
	items(c, &it, d, "variants", NULL);
	if (item_count(&it) == 0)
		fail(c, "missing_field", "'variants' is empty");
	while (next_item(&it, &v))
		variant(c, v, d);
}

static void
customer(struct conv *c, jr d)
{
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	struct val id = required_id(c, d, "id", NULL);

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
inventory(struct conv *c, jr d)
{
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	struct val item, loc;
	struct count avail = {NULL, 0, 0};
	struct items it;
	jr q;
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
	if (has(d, "available")) {
		avail = count(c, d, "available", NULL);
	} else {
		for (items(c, &it, d, NULL, "quantities");
		     next_item(&it, &q);) {
			const char *qn = jr_get_str(q, "name");

			if (qn != NULL && strcmp(qn, "available") == 0)
				avail = count(c, q, "quantity", NULL);
		}
	}
	record(c, r, "inventory", key);
	put(w, "inventory_item_id", item);
	put(w, "location_id", loc);
	put_count(w, "available", avail);
	put(w, "updated_at", timestamp(c, d, "updated_at", "updatedAt"));
	emit(r);
}

/* --- REST resources that are not orders ------------------------------ */

static void
rest_transaction(struct conv *c, jr d)
{
	struct payment_made made;

	context(c, "transaction", str(id_field(c, d, "id", NULL)));
	c->where[0] = '\0';
	payment(c, d, null_val, null_val, &made);
	emit(&records.payment);
}

static void
rest_refund(struct conv *c, jr d)
{
	/* A refund alone does not say whether the order's taxes were included.
	 */
	c->cur = NULL;
	refund(c, d, null_val, null_val, NULL);
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
cell(jr data, const char *name)
{
	const char *s = jr_get_str(data, name);

	return s != NULL && *s != '\0' ? s : NULL;
}

static const char *
required_cell(struct conv *c, jr data, const char *name)
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
file_amount(struct conv *c, jr data, const char *name, int required)
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
static struct val
file_time(struct conv *c, const char *s, const char *name, int utc_by_name)
{
	char buf[64], out[UTC_TEXT_MAX];
	const char *why;
	size_t i;

	if (s == NULL)
		return null_val;
	/* PayPal writes 2026/11/26; Stripe's *_utc columns have no zone. */
	snprintf(buf, sizeof(buf), "%s%s", s, utc_by_name ? "Z" : "");
	for (i = 0; i < 10 && buf[i]; i++)
		if (buf[i] == '/')
			buf[i] = '-';
	if (utc_normalize(buf, out, &why) < 0) {
		fail(c, "bad_time", "'%s' is not a timestamp with an offset",
		     name);
		return null_val;
	}
	return text_val(keep(out));
}

/* The date that begins a date or timestamp column ("2026-11-27 ..."). */
static struct val
file_date(struct conv *c, const char *s, const char *name)
{
	char buf[11];
	const char *why;
	size_t i;

	if (s == NULL)
		return null_val;
	snprintf(buf, sizeof(buf), "%s", s);
	for (i = 0; buf[i]; i++)
		if (buf[i] == '/')
			buf[i] = '-';
	if (strlen(s) < 10 || (s[10] != '\0' && s[10] != ' ' && s[10] != 'T') ||
	    utc_check_date(buf, &why) < 0) {
		fail(c, "bad_time", "'%s' is not a date", name);
		return null_val;
	}
	return text_val(keep(buf));
}

/* A code as a word: lower case, spaces as '_' ("marketplace sales tax"). */
static struct val
file_code(const char *s)
{
	return text_val(s != NULL ? word(s, 1) : NULL);
}

/* One settlement line from a file, before it becomes a record. */
struct file_line {
	const char *gateway; /* paypal, stripe, shopify_payments */
	struct val id, type, payout_id, payout_status, order_name;
	struct val payment_reference, source_id, source_type, processed_at;
	struct val available_on;
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

/* Write the settlement record of l. */
static void
file_settlement(struct conv *c, const struct file_line *l)
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
 * paid.
 */
static void
file_payout(struct conv *c, const char *gateway, struct val id,
	    struct val status, int64_t amount, struct val date,
	    struct val issued_at)
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
static struct val
shopify_row_id(jr env, jr data)
{
	struct sha256 h;
	unsigned char d[SHA256_LEN];
	char id[4 + 16 + 1], num[32];
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
	if (jr_number_text(jr_get(env, "occurrence"), num, sizeof(num)) < 0)
		snprintf(num, sizeof(num), "1");
	sha256_update(&h, "occurrence=", 11);
	sha256_update(&h, num, strlen(num));
	sha256_final(&h, d);
	memcpy(id, "csv-", 4);
	for (i = 0; i < 8; i++)
		snprintf(id + 4 + 2 * i, 3, "%02x", d[i]);
	return text_val(keep(id));
}

static void
shopify_csv_row(struct conv *c, jr env, jr d)
{
	struct file_line l;
	const char *checkout = cell(d, "Checkout");

	l.gateway = "shopify_payments";
	l.id = shopify_row_id(env, d);
	context(c, "export row", str(l.id));
	file_currency(c, cell(d, "Currency"), "Currency");
	l.amount = file_amount(c, d, "Amount", 1);
	l.fee = file_amount(c, d, "Fee", 1);
	l.net = file_amount(c, d, "Net", 1);
	l.type = file_code(required_cell(c, d, "Type"));
	l.payout_id =
	    id_value(c, cell(d, "Payout ID") ? jr_get(d, "Payout ID") : NULL,
		     "Payout ID");
	l.payout_status = file_code(cell(d, "Payout Status"));
	l.order_name = text_val(cell(d, "Order"));
	l.payment_reference = null_val;
	/* The checkout, "#35756536135773", is the row's source. */
	if (checkout != NULL && checkout[0] == '#')
		checkout++;
	l.source_id = text_val(checkout);
	l.source_type = text_val(checkout ? "checkout" : NULL);
	l.processed_at = file_time(c, required_cell(c, d, "Transaction Date"),
				   "Transaction Date", 0);
	l.available_on = file_date(c, cell(d, "Available On"), "Available On");
	if (!c->failed && str(l.type) != NULL &&
	    strcmp(str(l.type), "payout") == 0 && str(l.payout_id) != NULL)
		file_payout(c, l.gateway, l.payout_id, l.payout_status,
			    -l.amount,
			    file_date(c, cell(d, "Payout Date"), "Payout Date"),
			    null_val);
	file_settlement(c, &l);
}

/*
 * PayPal's transaction event codes, by group, as settlement types; a code
 * of no group listed here is its own type ("t0200").
 */
static struct val
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
			return text_val(map[i].type);
	return file_code(tcode);
}

/*
 * PayPal amounts are unsigned hundredths in every currency, with the
 * direction in a CR/DR column: 10000 is 100.00 USD and 100 JPY.
 */
static int64_t
paypal_amount(struct conv *c, jr d, const char *name, const char *dc_name,
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
paypal_srf_row(struct conv *c, jr d)
{
	struct file_line l;
	const char *fee_cur = cell(d, "Fee Currency");
	const char *done = cell(d, "Transaction Completion Date");
	const char *tcode, *tid;

	l.gateway = "paypal";
	tid = required_cell(c, d, "Transaction ID");
	l.id = text_val(tid);
	context(c, "PayPal transaction", tid);
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
	l.type = tcode ? paypal_type(tcode) : null_val;
	l.order_name = text_val(cell(d, "Invoice ID"));
	l.payment_reference = l.id;
	l.source_id = text_val(cell(d, "PayPal Reference ID"));
	l.source_type = file_code(cell(d, "PayPal Reference ID Type"));
	if (done == NULL)
		done = cell(d, "Transaction Initiation Date");
	l.processed_at = file_time(c, done, "Transaction Completion Date", 0);
	l.available_on = null_val;
	l.payout_status = null_val;
	/* A withdrawal to the bank is the payout itself. */
	if (str(l.type) != NULL && strcmp(str(l.type), "payout") == 0) {
		l.payout_id = l.id;
		if (!c->failed)
			file_payout(
			    c, l.gateway, l.id, null_val, -l.amount,
			    file_date(c, done, "Transaction Completion Date"),
			    l.processed_at);
	} else {
		/* The withdrawal that took it to the bank (settlement-extract
		 * found it in the report), when there was one. */
		l.payout_id = text_val(c->withdrawal);
	}
	file_settlement(c, &l);
}

static void
stripe_balance_row(struct conv *c, jr d)
{
	struct file_line l;
	const char *src = cell(d, "source_id"), *ref, *bt;
	const char *avail = cell(d, "available_on_utc");

	l.gateway = "stripe";
	bt = required_cell(c, d, "balance_transaction_id");
	l.id = text_val(bt);
	context(c, "Stripe balance transaction", bt);
	file_currency(c, cell(d, "currency"), "currency");
	l.amount = file_amount(c, d, "gross", 1);
	l.fee = file_amount(c, d, "fee", 1);
	l.net = file_amount(c, d, "net", 1);
	l.type = file_code(required_cell(c, d, "reporting_category"));
	l.payout_id = text_val(cell(d, "automatic_payout_id"));
	l.payout_status = null_val;
	l.order_name = null_val;
	/* What Shopify keeps as a Stripe payment's authorization. */
	ref = cell(d, "charge_id");
	if (ref == NULL)
		ref = cell(d, "payment_intent_id");
	if (ref == NULL && src != NULL &&
	    (strncmp(src, "ch_", 3) == 0 || strncmp(src, "py_", 3) == 0 ||
	     strncmp(src, "pi_", 3) == 0))
		ref = src;
	l.payment_reference = text_val(ref);
	l.source_id = text_val(src);
	l.source_type = null_val;
	l.processed_at = file_time(c, cell(d, "created_utc"), "created_utc", 1);
	if (avail == NULL)
		avail = cell(d, "available_on");
	l.available_on = file_date(c, avail, "available_on");
	if (str(l.type) != NULL && strcmp(str(l.type), "payout") == 0 &&
	    src != NULL && strncmp(src, "po_", 3) == 0) {
		l.payout_id = text_val(src);
		if (!c->failed)
			file_payout(c, l.gateway, text_val(src), null_val,
				    -l.amount, l.available_on, l.processed_at);
	}
	file_settlement(c, &l);
}

/* --- Odoo: the way back (odoo-extract's envelopes) -------------------- */

/*
 * Odoo's RPC writes datetimes as "YYYY-MM-DD HH:MM:SS" in UTC, without an
 * offset (odoo.md 1.8: the server keeps and serves UTC); that is the one
 * zone it can mean, so "Z" is added, never a shop's zone.
 */
static struct val
odoo_time(struct conv *c, jr obj, const char *name)
{
	const char *t = jr_get_str(obj, name), *why;
	char buf[40], out[UTC_TEXT_MAX];

	if (t == NULL || strlen(t) != 19 || t[10] != ' ') {
		fail(c, "bad_time", "'%s' is not an Odoo datetime", name);
		return null_val;
	}
	snprintf(buf, sizeof(buf), "%.10sT%sZ", t, t + 11);
	if (utc_normalize(buf, out, &why) < 0) {
		fail(c, "bad_time", "'%s' is not an Odoo datetime", name);
		return null_val;
	}
	return text_val(keep(out));
}

/* An Odoo char field: its text, or null for Odoo's false. */
static struct val
odoo_text(jr obj, const char *name)
{
	const char *s = jr_get_str(obj, name);

	return text_val(s != NULL && *s ? s : NULL);
}

/* The name of a many2one ([id, "name"] or false), or null. */
static struct val
odoo_m2o_name(jr obj, const char *name)
{
	jr v = jr_get(obj, name), n;

	if (jr_kind(v) == JR_ARRAY && jr_len(v) == 2 &&
	    jr_kind(n = jr_at(v, 1)) == JR_STRING)
		return in_val(n);
	return null_val;
}

/*
 * odoo.picking: a done delivery of an order tillroll loaded becomes one
 * fulfillment, its lines the moves done with their SKU and Shopify
 * variant; the done quantity is quantity_done in Odoo 16 and quantity in
 * 17 and 18.  A line that names neither SKU nor variant is refused, not
 * guessed.
 */
static void
odoo_picking(struct conv *c, jr env, jr d)
{
	const char *api = jr_get_str(env, "api");
	const char *qty_field = api != NULL && strncmp(api, "16", 2) == 0
				    ? "quantity_done"
				    : "quantity";
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	struct val id, order_id;
	struct items it;
	jr m;
	const char *state = jr_get_str(d, "state");
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
	for (items(c, &it, d, "moves", NULL); next_item(&it, &m);) {
		jr prod = jr_get(m, "product");
		const char *mstate = jr_get_str(m, "state");
		struct count q = count(c, m, qty_field, NULL);
		struct val sku, variant_id;

		if (!q.have && !c->failed)
			fail(c, "missing_field", "move %d: '%s' is missing",
			     it.i + 1, qty_field);
		if ((mstate != NULL && strcmp(mstate, "cancel") == 0) ||
		    !q.have || q.n <= 0)
			/* Nothing of this line left the warehouse. */
			continue;
		sku = odoo_text(prod, "default_code");
		variant_id = id_field(c, prod, "variant_id", NULL);
		if (is_null(sku) && is_null(variant_id))
			fail(c, "unmapped_sku",
			     "move %d: the product has neither SKU nor "
			     "Shopify variant",
			     it.i + 1);
		jw_object(w);
		put(w, "sku", sku);
		put(w, "variant_id", variant_id);
		put_count(w, "quantity", q);
		jw_end(w);
		shipped++;
	}
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
odoo_stock(struct conv *c, jr d)
{
	struct rec *r = &records.main;
	struct jw *w = &r->w;
	jr prod = jr_get(d, "product"), loc = jr_get(d, "location"), q;
	struct val variant_id, shop_loc;
	struct items it;
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
	for (items(c, &it, d, "quants", NULL); next_item(&it, &q);) {
		struct count on_hand = count(c, q, "quantity", NULL),
			     reserved = count(c, q, "reserved_quantity", NULL);

		/* Counts are whole numbers below 2^53: exact as int64,
		 * and so must the sum be, to be written exactly. */
		if (on_hand.have)
			avail += on_hand.n;
		if (reserved.have)
			avail -= reserved.n;
		if (avail >= (int64_t)COUNT_LIMIT ||
		    avail <= -(int64_t)COUNT_LIMIT) {
			fail(c, "bad_field",
			     "'quants' add up to more than a whole number "
			     "holds exactly");
			break;
		}
	}
	record(c, r, "inventory", key);
	jw_put_null(w, "inventory_item_id");
	put(w, "variant_id", variant_id);
	put(w, "sku", odoo_text(prod, "default_code"));
	put(w, "location_id", shop_loc);
	jw_put_int(w, "available", avail);
	jw_put_null(w, "updated_at");
	jw_put_string(w, "source", "odoo");
	put(w, "odoo_location", odoo_text(loc, "complete_name"));
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
convert(struct conv *c, const struct handler *h, jr env, const char *line,
	size_t len, const char *file)
{
	char hex[SHA256_HEX_LEN];
	jr data = jr_get(env, "data"), gid;

	textpool_reset(&made_text);
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
	if (has(env, "file"))
		put(&records.src, "file", in_val(jr_get(env, "file")));
	else
		jw_put_string(&records.src, "file", file);
	gid = jr_get(data, "id");
	if (jr_str(gid) != NULL && strncmp(jr_str(gid), "gid://", 6) == 0)
		put(&records.src, "gid", in_val(gid));
	jw_end(&records.src);
	jw_reset(&records.made);
	records.nlist = 0;
	c->lead = NULL;
	if (jr_kind(data) != JR_OBJECT) {
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
	jr env;
	const struct handler *h;
	struct conv c;
	const char *kind, *shop;
	size_t n;
	int rc;

	st->in++;
	if ((env = jr_parse(&input, line, len)) == NULL) {
		char detail[300];

		if (input.nomem) {
			msg_warn("out of memory");
			return -1;
		}
		/* libjq's reason, without the line it quotes: the reject
		 * keeps the line anyway. */
		snprintf(detail, sizeof(detail), "not JSON: %.200s",
			 jr_error(&input));
		counters_add(&st->in_kind, "(not json)");
		stage_reject(st, file, lineno, line, len, "bad_json", detail);
		return 0;
	}
	if (jr_kind(env) != JR_OBJECT ||
	    (kind = jr_get_str(env, "kind")) == NULL) {
		counters_add(&st->in_kind, "(no kind)");
		stage_reject(st, file, lineno, line, len, "not_record",
			     "not a record: expected an object with a 'kind'");
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
		return 0;
	}
	memset(&c, 0, sizeof(c));
	if ((shop = jr_get_str(env, "shop")) == NULL || *shop == '\0' ||
	    strchr(shop, '/') != NULL) {
		stage_reject(st, file, lineno, line, len, "missing_field",
			     "'shop' is missing or not a shop handle");
		return 0;
	}
	c.shop = shop;
	c.shop_currency = jr_get_str(env, "shop_currency");
	c.withdrawal = jr_get_str(env, "withdrawal");
	/* Text made short of memory may read as absent: no reject then. */
	if (convert(&c, h, env, line, len, file) < 0 && !made_text.nomem) {
		stage_reject(st, file, lineno, line, len, c.reason, c.detail);
		return 0;
	}
	if (made_text.nomem || records.nomem || jw_failed(&records.made)) {
		msg_warn("out of memory");
		return -1;
	}
	if (jq != NULL) {
		/* The program works on jv values: the records made, read
		 * back from their text. */
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
	return rc;
}

/* Free what the reader and the writers of records hold. */
static void
release_writers(void)
{
	jr_release(&input);
	textpool_release(&made_text);
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

	jr_init(&input);
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
