/* See LICENSE file for copyright and license details. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "money.h"
#include "msg.h"
#include "utctime.h"

#define DAY_SECONDS 86400
#define PAYOUT_TIME 82800  /* 23:00:00, when the day's payouts are issued */
#define MAX_ORDERS 1000000 /* the per-day id space holds this many */
#define MAX_PAYOUTS 1000
#define MAX_LINES 6
#define MAX_TAXES 2
#define MAX_TXNS 4 /* and the stride of transaction ids */
#define MAX_DISPUTES 100
#define PAYPAL_ID_LEN 17

/*
 * Ids are 13 digits: a base per type, plus for the things a day creates
 * the days since 2000-01-01 times DAY_IDS, plus a counter, so that days
 * generated with different dates can be loaded into one archive without
 * two payouts sharing an id.  The catalogue and the customers are the
 * same on every day and take no day offset.
 */
#define DAY_IDS 10000000ULL
#define ID_PRODUCT 8012000000000ULL
#define ID_VARIANT 4137000000000ULL
#define ID_INVENTORY 4455000000000ULL
#define ID_CUSTOMER 6210000000000ULL
#define ID_ORDER 5730000000000ULL
#define ID_LINE 1402000000000ULL
#define ID_SHIPPING 3921000000000ULL
#define ID_TXN 7104000000000ULL
#define ID_REFUND 2308000000000ULL
#define ID_PAYOUT 1096000000000ULL
#define ID_BALANCE 2655000000000ULL
#define ID_DISPUTE 5519000000000ULL
#define ID_PAYPAL_PAYOUT 9305000000000ULL /* the withdrawal's PayPal id */

enum gateway { GW_SHOPIFY, GW_PAYPAL, GW_MANUAL };
enum flow {
	FL_SALE,
	FL_FAIL_SALE,
	FL_AUTH_CAPTURE,
	FL_AUTH_VOID,
	FL_AUTH_ONLY,
	FL_NONE
};
enum refund { RF_NONE, RF_PARTIAL, RF_FULL };
enum regime { RG_BE, RG_US, RG_EXEMPT };
enum txkind { TX_SALE, TX_AUTHORIZATION, TX_CAPTURE, TX_VOID, TX_REFUND };
enum txstatus { TS_SUCCESS, TS_FAILURE };
enum discount { DC_NONE, DC_FIXED, DC_PERCENT };

/* The three kinds of money movement that make balance transactions. */
enum stream { ST_SALE, ST_CAPTURE, ST_REFUND, NSTREAMS };

static const char *const gateway_names[] = {"shopify_payments", "paypal",
					    "manual"};
static const char *const txkind_names[] = {"SALE", "AUTHORIZATION", "CAPTURE",
					   "VOID", "REFUND"};

/*
 * The catalogue, priced in cents of a two-digit currency; scale() turns a
 * price into the shop currency.  Reduced-rate goods (books, food) show a
 * second Belgian VAT rate on the same order.
 */
struct product {
	const char *title;
	const char *type;
	int reduced;
	int giftcard;
	int nvariants;
	struct {
		const char *title;
		const char *sku;
		int64_t cents;
	} v[3];
};

/* clang-format off */
static const struct product catalogue[] = {
	{"Linen apron", "Apparel", 0, 0, 3,
	    {{"Sand", "APR-SAND", 1999}, {"Charcoal", "APR-CHAR", 1999},
		{"Rust", "APR-RUST", 2199}}},
	{"Canvas tote", "Bags", 0, 0, 2,
	    {{"Natural", "TOTE-NAT", 1490}, {"Black", "TOTE-BLK", 1490}}},
	{"Stoneware mug", "Kitchen", 0, 0, 3,
	    {{"White", "MUG-WHT", 826}, {"Sage", "MUG-SAG", 826},
		{"Ink", "MUG-INK", 895}}},
	{"Olive wood board", "Kitchen", 0, 0, 2,
	    {{"Small", "BRD-S", 2450}, {"Large", "BRD-L", 3990}}},
	{"Wool throw", "Home", 0, 0, 2,
	    {{"Oat", "THR-OAT", 5520}, {"Moss", "THR-MOS", 5520}}},
	{"Beeswax candle", "Home", 0, 0, 2,
	    {{"Single", "CND-1", 650}, {"Pair", "CND-2", 1190}}},
	{"Field notebook", "Stationery", 0, 0, 3,
	    {{"Dot", "NTB-DOT", 495}, {"Lined", "NTB-LIN", 495},
		{"Blank", "NTB-BLK", 495}}},
	{"Brass pen", "Stationery", 0, 0, 1,
	    {{"Default Title", "PEN-BRS", 3400}}},
	{"Slow Sundays cookbook", "Books", 1, 0, 2,
	    {{"Hardcover", "BK-SLOW-HC", 2995},
		{"Paperback", "BK-SLOW-PB", 1895}}},
	{"Herbal tea", "Food", 1, 0, 2,
	    {{"Mint", "TEA-MNT", 750}, {"Chamomile", "TEA-CHM", 750}}},
	{"Ceramic planter", "Garden", 0, 0, 3,
	    {{"Small", "PLT-S", 1650}, {"Medium", "PLT-M", 2480},
		{"Large", "PLT-L", 3920}}},
	{"Enamel pin set", "Accessories", 0, 0, 1,
	    {{"Default Title", "PIN-SET", 1200}}},
	{"Gift card", "Gift Cards", 0, 1, 2,
	    {{"25", "GIFT-25", 2500}, {"50", "GIFT-50", 5000}}},
};
/* clang-format on */
#define NPRODUCTS (sizeof(catalogue) / sizeof(catalogue[0]))
#define MAX_VARIANTS 40

/* The variants flattened, in catalogue order; the gift cards come last. */
static struct {
	int p, v;
} variants[MAX_VARIANTS];
static int nvariants, nsellable;

/*
 * Taxes.  The rate is kept in basis points for the arithmetic and as the
 * text Shopify writes for the JSON, so no floating point is needed.
 */
enum { TAX_BE21, TAX_BE6, TAX_CA_STATE, TAX_CA_COUNTY, NTAXES };
static const struct taxdef {
	const char *title;
	int64_t bp;
	const char *rate;
	const char *percentage;
} taxdefs[NTAXES] = {
    {"BE TVA", 2100, "0.21", "21.0"},
    {"BE TVA 6%", 600, "0.06", "6.0"},
    {"CA State Tax", 625, "0.0625", "6.25"},
    {"Los Angeles County Tax", 100, "0.01", "1.0"},
};

/* Where customers live; the country decides the order's tax regime. */
static const struct place {
	const char *country;
	const char *code;
	const char *city;
	const char *zip;
	const char *street;
	const char *province;
	const char *province_code;
	const char *phone;
	const char *company;
	enum regime regime;
} places[] = {
    /* clang-format off */
	{"Belgium", "BE", "Bruxelles", "1000", "Rue de la Loi", NULL, NULL,
	    "+322555", NULL, RG_BE},
	{"Belgium", "BE", "Antwerpen", "2000", "Meir", NULL, NULL, "+323555",
	    NULL, RG_BE},
	{"Belgium", "BE", "Gent", "9000", "Veldstraat", NULL, NULL, "+329555",
	    NULL, RG_BE},
	{"Belgium", "BE", "Liège", "4000", "Rue Léopold", NULL, NULL,
	    "+324555", NULL, RG_BE},
	{"United States", "US", "Los Angeles", "90012", "W 1st St",
	    "California", "CA", "+1213555", NULL, RG_US},
	{"United States", "US", "Pasadena", "91101", "E Colorado Blvd",
	    "California", "CA", "+1626555", NULL, RG_US},
	{"Netherlands", "NL", "Amsterdam", "1012 JS", "Damrak", NULL, NULL,
	    "+3120555", "Acme Horeca BV", RG_EXEMPT},
	{"Germany", "DE", "Berlin", "10117", "Friedrichstraße", NULL, NULL,
	    "+4930555", "Kontor Berlin GmbH", RG_EXEMPT},
    /* clang-format on */
};

/* clang-format off */
static const char *const first_names[] = {"Ada", "Grace", "Alan", "Edsger",
	"Barbara", "Ken", "Zoë", "Linus", "Margaret", "Dennis", "Frances",
	"Niklaus", "Hedy", "Tim", "Radia", "Guido"};
static const char *const last_names[] = {"Lovelace", "Hopper", "Turing",
	"Dijkstra", "Liskov", "Thompson", "Peeters", "Janssens", "Hamilton",
	"Ritchie", "Allen", "Wirth", "Lamarr", "Müller", "Perlman", "Lefèvre"};
/* clang-format on */
static const char *const refund_notes[] = {"damaged", "wrong size",
					   "customer changed mind"};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct currency {
	char code[4];
	int exp;
	char tail[32]; /* ","currencyCode":"EUR"} after an amount */
	size_t tail_len;
};

/*
 * What the command line asked for, read-only once main has parsed it but
 * for the day itself, which set_day() moves to the day before while
 * --prior-pending regenerates that day's pending rows.
 */
static struct config {
	uint64_t seed;
	uint64_t seed_key; /* of the seed and the day */
	uint64_t orders;
	unsigned payouts;
	unsigned disputes; /* asked for; fewer when the day has fewer */
	int64_t reserve;   /* minor units, 0 for none */
	uint64_t day;	   /* days since 2000-01-01 */
	const char *shop;
	const char *api;
	char date[11];
	struct currency cur;	/* the shop currency */
	struct currency fx;	/* the foreign presentment currency */
	int64_t fx_num, fx_den; /* shop minor units to fx minor units */
} cf;

struct line {
	int variant;
	int64_t qty;
	int64_t unit, orig, disc, net;
	int ntax;
	int taxdef[MAX_TAXES];
	int64_t tax[MAX_TAXES];
	int64_t refund_qty;
	int64_t refund_sub;
	int64_t refund_tax[MAX_TAXES];
};

struct txn {
	enum txkind kind;
	enum txstatus status;
	int64_t amount;
	int64_t fee; /* Shopify Payments fee, 0 when none */
	int parent;  /* index in the order's list, or -1 */
	int time;
	unsigned authcode; /* 0 when none */
};

/*
 * One order.  scenario() fills the fields above "rng", which decide
 * whether the order moves money through Shopify Payments and when;
 * complete() draws the rest from the saved state.  Both are pure
 * functions of the seed, the date and the order's index, so any pass can
 * regenerate any order without keeping it.
 */
struct order {
	uint64_t idx;
	int time; /* processedAt, seconds into the day */
	enum gateway gateway;
	enum flow flow;
	enum refund refund;
	int foreign;
	int giftcard;
	uint64_t customer;
	uint64_t rng;

	enum regime regime;
	int taxes_included;
	int nlines;
	struct line lines[MAX_LINES];
	enum discount discount;
	int64_t disc_value; /* minor units, or a percentage */
	int freeship;
	int has_ship;
	int ship_kind;
	int64_t ship_price, ship_disc, ship_net, ship_tax;
	int ship_taxdef; /* -1 when shipping is untaxed */
	int refund_ship;
	int refund_note;
	int restock;

	int64_t line_items, discounts, subtotal, shipping, tax, total;
	int64_t refunded, refund_sub, refund_tax, refund_disc;
	int ntxn;
	struct txn txn[MAX_TXNS];
	int refund_txn; /* index of the refund transaction, or -1 */
	int money_txn;	/* index of the SALE or CAPTURE that took it */
};

/* A movement of money an order causes: a balance transaction, a PayPal row. */
struct event {
	int time;
	enum stream stream;
	uint64_t order;
	int64_t amount, fee;
	uint64_t txn_id;
	uint64_t parent_txn_id; /* what a refund gives back, else 0 */
};

/*
 * The balance transactions per second of the day, filled while the orders
 * are written, so that the payouts, which come out before their
 * transactions, can be cut and summed without holding a transaction.
 */
static uint32_t sec_count[DAY_SECONDS];
static int64_t sec_charge[DAY_SECONDS], sec_charge_fee[DAY_SECONDS];
static int64_t sec_refund[DAY_SECONDS];

struct payout {
	int start, end; /* seconds [start, end) it takes */
	uint64_t id;
	int64_t charges, charge_fees, refunds;
	int64_t protection; /* the chargeback protection ADJUSTMENT */
	int64_t adjustments, adjustment_fees; /* disputes count here too */
	int64_t reserves;
	uint64_t rows;	  /* balance transactions but its TRANSFER */
	int64_t seen_net; /* what was written, checked at the end */
	uint64_t seen_rows;
};
static struct payout payouts[MAX_PAYOUTS];

/*
 * A chargeback on a Shopify Payments charge of the day, and the reversal
 * of the first one, won the same day.  Picked while the orders stream by,
 * placed on a payout once the payouts are cut.
 */
struct dispute {
	uint64_t order;
	uint64_t id;
	int64_t amount; /* what was charged, positive */
	int charge_time;
	int time, won_time; /* won_time < 0 unless won */
	unsigned payout, won_payout;
};
static struct dispute disputes[MAX_DISPUTES];
static unsigned ndisputes;

/*
 * What --prior-pending learns of the day before: which of its balance
 * transactions stayed pending, the ids they had, and what they add to
 * today's first payout.
 */
static struct prior {
	int pend;	   /* its rows from this second on were pending */
	uint64_t start;	   /* no order before this one has such a row */
	uint64_t first_id; /* its balance ids counted before the first */
	uint64_t rows;	   /* how many */
	int64_t charges, charge_fees, refunds;
} prior;

/* Output: a buffer of our own, because stdio's per-call cost dominates. */
static char obuf[1 << 20];
static size_t olen;
static int oerrno;

static void
oflush(void)
{
	if (olen > 0 && !oerrno && fwrite(obuf, 1, olen, stdout) != olen)
		oerrno = errno ? errno : EIO;
	olen = 0;
}

static void
put(const char *s, size_t n)
{
	if (n > sizeof(obuf) - olen)
		oflush();
	memcpy(obuf + olen, s, n);
	olen += n;
}

#define PUT(lit) put((lit), sizeof(lit) - 1)

static void
put_cstr(const char *s)
{
	put(s, strlen(s));
}

static void
put_u64(uint64_t v)
{
	char tmp[20];
	int n = sizeof(tmp);

	do {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	put(tmp + n, sizeof(tmp) - (size_t)n);
}

/* A JSON string of text known to need no escaping, or null. */
static void
put_jstr(const char *s)
{
	if (s == NULL) {
		PUT("null");
		return;
	}
	PUT("\"");
	put_cstr(s);
	PUT("\"");
}

static void
put_id(uint64_t id)
{
	PUT("\"");
	put_u64(id);
	PUT("\"");
}

static void
put_gid(const char *type, uint64_t id)
{
	PUT("\"gid://shopify/");
	put_cstr(type);
	PUT("/");
	put_u64(id);
	PUT("\"");
}

static void
put_bool(int b)
{
	if (b)
		PUT("true");
	else
		PUT("false");
}

/* "2026-11-26T09:12:00Z" for a second of the day. */
static void
put_time(int sec)
{
	char t[12];

	t[0] = 'T';
	t[1] = (char)('0' + sec / 36000);
	t[2] = (char)('0' + sec / 3600 % 10);
	t[3] = ':';
	t[4] = (char)('0' + sec % 3600 / 600);
	t[5] = (char)('0' + sec % 600 / 60);
	t[6] = ':';
	t[7] = (char)('0' + sec % 60 / 10);
	t[8] = (char)('0' + sec % 10);
	t[9] = 'Z';
	t[10] = '"';
	PUT("\"");
	put(cf.date, 10);
	put(t, 11);
}

/*
 * An amount the way GraphQL's MoneyV2 writes it: no padding, trailing
 * fraction zeros dropped but one fraction digit kept ("12.3", "0.0",
 * "1000.0" in yen).
 */
static void
put_amount(int64_t minor, int exp)
{
	char buf[MONEY_TEXT_MAX + 2];
	size_t n;

	money_format(minor, exp, buf);
	n = strlen(buf);
	if (exp == 0) {
		buf[n++] = '.';
		buf[n++] = '0';
	} else {
		while (buf[n - 1] == '0' && buf[n - 2] != '.')
			n--;
	}
	put(buf, n);
}

static void
put_money(int64_t minor, const struct currency *c)
{
	PUT("{\"amount\":\"");
	put_amount(minor, c->exp);
	put(c->tail, c->tail_len);
}

/* a / b rounded half away from zero, b > 0. */
static int64_t
rdiv(int64_t a, int64_t b)
{
	if (a >= 0)
		return (2 * a + b) / (2 * b);
	return -((-2 * a + b) / (2 * b));
}

/*
 * Each presentment amount is converted and rounded on its own, so their
 * sums may be a cent off; only shop money is held to add up exactly.
 */
static void
put_bag(const struct order *o, int64_t minor)
{
	PUT("{\"shopMoney\":");
	put_money(minor, &cf.cur);
	PUT(",\"presentmentMoney\":");
	if (o->foreign)
		put_money(rdiv(minor * cf.fx_num, cf.fx_den), &cf.fx);
	else
		put_money(minor, &cf.cur);
	PUT("}");
}

/* splitmix64: small, fast, and the same on every platform. */
static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * A PayPal transaction id, 17 upper-case letters and digits as PayPal
 * writes them ("4WD91726LP0938211"), for the transaction whose Shopify id
 * is id.  The last 13 characters spell in base 36 a bijection of that id
 * (mix64 is one), and Shopify ids differ between any two transactions of
 * any two days, so PayPal ids never collide; the first 4 only vary the
 * look.  They take no seed: the same transaction has the same id in every
 * run, as it would in PayPal.
 */
static void
paypal_id(uint64_t id, char out[PAYPAL_ID_LEN + 1])
{
	static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	uint64_t v = mix64(id ^ 0x9a7a1c0de5eed5ULL), h = mix64(v);
	int i;

	for (i = PAYPAL_ID_LEN - 1; i >= 4; i--) {
		out[i] = digits[v % 36];
		v /= 36;
	}
	for (; i >= 0; i--) {
		out[i] = digits[h % 36];
		h /= 36;
	}
	out[PAYPAL_ID_LEN] = '\0';
}

static uint64_t
rng_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	return mix64(*s);
}

/* Uniform enough in [0, n) for n far below 2^32, without a loop. */
static uint32_t
rng_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(((rng_next(s) >> 32) * n) >> 32);
}

/*
 * The catalogue is priced in cents; a currency without minor units takes
 * the cents as whole units (19.99 EUR is 1999 JPY) and one with three
 * takes a third of ten times as much (19.99 EUR is 6.663 KWD), which keeps
 * every price plausible and the last digit busy.
 */
static int64_t
scale(int64_t cents)
{
	int64_t f = 1;
	int i;

	if (cf.cur.exp == 0)
		return cents;
	if (cf.cur.exp == 1)
		return cents / 10;
	if (cf.cur.exp == 2)
		return cents;
	for (i = 2; i < cf.cur.exp; i++)
		f *= 10;
	return rdiv(cents * f, 3);
}

static const struct product *
product_of(int v)
{
	return &catalogue[variants[v].p];
}

static const char *
sku_of(int v)
{
	return product_of(v)->v[variants[v].v].sku;
}

static int64_t
variant_price(int v)
{
	return scale(product_of(v)->v[variants[v].v].cents);
}

/* The time a capture, and later a refund, follow an order placed at t. */
static int
capture_time(int t)
{
	return t + (DAY_SECONDS - 1 - t) / 8;
}

static int
refund_time(int t)
{
	return t + (DAY_SECONDS - 1 - t) / 2;
}

/*
 * A few scenarios are planted at fixed places spread over the day, so that
 * even a small day shows each of them at least once.
 */
enum forced {
	FO_PARTIAL_REFUND,
	FO_FAIL_SALE,
	FO_AUTH_CAPTURE,
	FO_MANUAL,
	FO_PAYPAL,
	FO_US_REFUND,
	FO_EXEMPT,
	FO_GIFTCARD,
	FO_FOREIGN,
	FO_AUTH_VOID,
	FO_FULL_REFUND,
	FO_AUTH_ONLY,
	NFORCED
};

static void
force(struct order *o, enum forced f)
{
	switch (f) {
	case FO_PARTIAL_REFUND:
		o->gateway = GW_SHOPIFY;
		o->flow = FL_SALE;
		o->refund = RF_PARTIAL;
		o->giftcard = 0;
		break;
	case FO_FAIL_SALE:
		o->gateway = GW_SHOPIFY;
		o->flow = FL_FAIL_SALE;
		break;
	case FO_AUTH_CAPTURE:
		o->gateway = GW_SHOPIFY;
		o->flow = FL_AUTH_CAPTURE;
		o->refund = RF_PARTIAL;
		o->giftcard = 0;
		break;
	case FO_MANUAL:
		o->gateway = GW_MANUAL;
		break;
	case FO_PAYPAL:
		o->gateway = GW_PAYPAL;
		o->flow = FL_SALE;
		break;
	case FO_US_REFUND:
		o->customer += 14 - o->customer % 20;
		o->gateway = GW_SHOPIFY;
		o->flow = FL_SALE;
		o->refund = RF_FULL;
		o->giftcard = 0;
		break;
	case FO_EXEMPT:
		o->customer += 17 - o->customer % 20;
		break;
	case FO_GIFTCARD:
		o->giftcard = 1;
		break;
	case FO_FOREIGN:
		o->foreign = 1;
		o->gateway = GW_SHOPIFY;
		break;
	case FO_AUTH_VOID:
		o->gateway = GW_SHOPIFY;
		o->flow = FL_AUTH_VOID;
		break;
	case FO_FULL_REFUND:
		o->gateway = GW_SHOPIFY;
		o->flow = FL_SALE;
		o->refund = RF_FULL;
		o->giftcard = 0;
		break;
	case FO_AUTH_ONLY:
		o->gateway = GW_SHOPIFY;
		o->flow = FL_AUTH_ONLY;
		break;
	case NFORCED:
		break;
	}
}

static void
scenario(uint64_t idx, struct order *o)
{
	uint64_t s = mix64(cf.seed_key + mix64(idx));
	uint32_t roll;
	unsigned f;

	o->idx = idx;
	/* Spread over the day, never decreasing with the index. */
	o->time =
	    (int)((idx * DAY_SECONDS + rng_below(&s, DAY_SECONDS)) / cf.orders);
	o->customer = 1 + rng_below(&s, (uint32_t)(cf.orders / 2 + 20));

	roll = rng_below(&s, 100);
	o->gateway = roll < 82 ? GW_SHOPIFY : roll < 97 ? GW_PAYPAL : GW_MANUAL;
	roll = rng_below(&s, 100);
	o->flow = roll < 4    ? FL_FAIL_SALE
		  : roll < 12 ? FL_AUTH_CAPTURE
		  : roll < 13 ? FL_AUTH_VOID
		  : roll < 14 ? FL_AUTH_ONLY
			      : FL_SALE;
	roll = rng_below(&s, 100);
	o->refund = roll < 7 ? RF_PARTIAL : roll < 10 ? RF_FULL : RF_NONE;
	o->foreign = rng_below(&s, 100) < 10;
	o->giftcard = rng_below(&s, 100) < 3;
	o->rng = s;

	for (f = 0; f < NFORCED; f++)
		if ((2 * f + 1) * cf.orders / (2 * NFORCED) == idx)
			force(o, (enum forced)f);

	if (o->gateway == GW_MANUAL)
		o->flow = FL_NONE;
	/* Gift cards are not refunded; what was not taken cannot be. */
	if (o->giftcard || (o->flow != FL_SALE && o->flow != FL_FAIL_SALE &&
			    o->flow != FL_AUTH_CAPTURE))
		o->refund = RF_NONE;
}

static const struct place *
customer_place(uint64_t c)
{
	uint64_t h = mix64(c ^ 0x5eedc0ffee5eedULL);
	unsigned slot = (unsigned)(c % 20);

	if (slot >= 14 && slot <= 16)
		return &places[4 + h % 2];
	if (slot == 17)
		return &places[6 + h % 2];
	return &places[h % 4];
}

static void
add_tax(struct line *l, int def, int taxes_included)
{
	int64_t bp = taxdefs[def].bp;
	int64_t t;

	if (taxes_included)
		t = l->net - rdiv(l->net * 10000, 10000 + bp);
	else
		t = rdiv(l->net * bp, 10000);
	l->taxdef[l->ntax] = def;
	l->tax[l->ntax++] = t;
}

static int64_t
shipping_tax(const struct order *o)
{
	int64_t bp;

	if (o->ship_taxdef < 0)
		return 0;
	bp = taxdefs[o->ship_taxdef].bp;
	if (o->taxes_included)
		return o->ship_net - rdiv(o->ship_net * 10000, 10000 + bp);
	return rdiv(o->ship_net * bp, 10000);
}

static void
add_txn(struct order *o, enum txkind kind, enum txstatus status, int parent,
	int time, unsigned authcode)
{
	struct txn *t = &o->txn[o->ntxn++];

	t->kind = kind;
	t->status = status;
	t->amount = kind == TX_REFUND ? o->refunded : o->total;
	t->fee = 0;
	t->parent = parent;
	t->time = time;
	t->authcode = authcode;
	if (status == TS_SUCCESS && o->gateway == GW_SHOPIFY &&
	    (kind == TX_SALE || kind == TX_CAPTURE))
		t->fee = rdiv(t->amount * 29, 1000) + scale(30);
}

static void
pick_lines(struct order *o, uint64_t *s)
{
	static const uint8_t nline_roll[] = {1, 1, 1, 1, 1, 1, 2, 2, 2, 2,
					     2, 3, 3, 3, 3, 4, 4, 5, 5, 6};
	static const uint8_t qty_roll[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
					   1, 2, 2, 2, 2, 2, 3, 3, 4, 5};
	int n, i, j, v;

	if (o->giftcard && rng_below(s, 2) == 0)
		n = 0; /* a gift card alone */
	else
		n = nline_roll[rng_below(s, NELEM(nline_roll))];
	if (o->giftcard && n == MAX_LINES)
		n--;
	for (i = 0; i < n; i++) {
		/* Distinct variants: an order lists each variant once. */
		do {
			v = (int)rng_below(s, (uint32_t)nsellable);
			for (j = 0; j < i && o->lines[j].variant != v; j++)
				;
		} while (j < i);
		memset(&o->lines[i], 0, sizeof(o->lines[i]));
		o->lines[i].variant = v;
		o->lines[i].qty = qty_roll[rng_below(s, NELEM(qty_roll))];
	}
	if (o->giftcard) {
		memset(&o->lines[n], 0, sizeof(o->lines[n]));
		o->lines[n].variant =
		    nsellable +
		    (int)rng_below(s, (uint32_t)(nvariants - nsellable));
		o->lines[n].qty = 1;
		n++;
	}
	o->nlines = n;
}

static int
is_giftcard(const struct line *l)
{
	return product_of(l->variant)->giftcard;
}

/* Discounts: allocations per line sum exactly to what was given. */
static void
apply_discounts(struct order *o, uint64_t *s)
{
	int64_t eligible = 0, cum = 0, given = 0, share;
	uint32_t roll = rng_below(s, 100);
	int i;

	for (i = 0; i < o->nlines; i++)
		if (!is_giftcard(&o->lines[i]))
			eligible += o->lines[i].orig;
	o->discount = DC_NONE;
	if (roll < 10 && eligible >= 2 * scale(1000)) {
		o->discount = DC_FIXED;
		o->disc_value = scale(1000);
	} else if (roll >= 10 && roll < 20 && eligible > 0) {
		o->discount = DC_PERCENT;
		o->disc_value = 15;
	}
	for (i = 0; i < o->nlines; i++) {
		struct line *l = &o->lines[i];

		if (o->discount == DC_NONE || is_giftcard(l))
			continue;
		if (o->discount == DC_PERCENT) {
			l->disc = rdiv(l->orig * o->disc_value, 100);
		} else {
			/*
			 * Proportional shares by the running total, so the
			 * rounding remainder lands on the later lines and the
			 * parts add up to the code's value.
			 */
			cum += l->orig;
			share = o->disc_value * cum / eligible;
			l->disc = share - given;
			given = share;
		}
	}
	o->freeship = rng_below(s, 100) < 6;
}

static void
complete(struct order *o)
{
	static const int64_t ship_cents[] = {0, 499, 990};
	uint64_t s = o->rng;
	const struct place *pl = customer_place(o->customer);
	int i, k;
	uint32_t roll, authcode;

	o->regime = pl->regime;
	o->taxes_included = o->regime == RG_BE;
	pick_lines(o, &s);
	for (i = 0; i < o->nlines; i++) {
		struct line *l = &o->lines[i];

		l->unit = variant_price(l->variant);
		l->orig = l->unit * l->qty;
	}
	apply_discounts(o, &s);

	o->line_items = o->discounts = o->subtotal = o->tax = 0;
	for (i = 0; i < o->nlines; i++) {
		struct line *l = &o->lines[i];

		l->net = l->orig - l->disc;
		l->ntax = 0;
		if (!is_giftcard(l)) {
			int reduced = product_of(l->variant)->reduced;

			if (o->regime == RG_BE)
				add_tax(l, reduced ? TAX_BE6 : TAX_BE21, 1);
			else if (o->regime == RG_US) {
				add_tax(l, TAX_CA_STATE, 0);
				add_tax(l, TAX_CA_COUNTY, 0);
			}
		}
		o->line_items += l->orig;
		o->discounts += l->disc;
		o->subtotal += l->net;
		for (k = 0; k < l->ntax; k++)
			o->tax += l->tax[k];
	}

	/* Nothing to ship when the order is a gift card alone. */
	roll = rng_below(&s, 20);
	o->has_ship = !(o->nlines == 1 && is_giftcard(&o->lines[0]));
	o->ship_kind = roll < 4 ? 0 : roll < 15 ? 1 : 2;
	o->ship_price = o->has_ship ? scale(ship_cents[o->ship_kind]) : 0;
	if (o->ship_price == 0)
		o->freeship = 0;
	o->ship_disc = o->freeship ? o->ship_price : 0;
	o->ship_net = o->ship_price - o->ship_disc;
	o->ship_taxdef = o->has_ship && o->regime == RG_BE ? TAX_BE21 : -1;
	o->ship_tax = shipping_tax(o);
	o->discounts += o->ship_disc;
	/* Shopify's total shipping is before shipping discounts. */
	o->shipping = o->ship_price;
	o->tax += o->ship_tax;
	o->total = o->subtotal + o->ship_net + (o->taxes_included ? 0 : o->tax);

	/* The refund: a part of one line, or everything. */
	o->refund_sub = o->refund_tax = o->refund_disc = 0;
	o->refund_ship = 0;
	o->refund_note = (int)rng_below(&s, NELEM(refund_notes));
	o->restock = rng_below(&s, 3) != 0;
	if (o->refund == RF_PARTIAL) {
		struct line *l = &o->lines[rng_below(&s, (uint32_t)o->nlines)];

		l->refund_qty = 1 + rng_below(&s, (uint32_t)l->qty);
		o->refund_ship = rng_below(&s, 4) == 0;
	} else if (o->refund == RF_FULL) {
		for (i = 0; i < o->nlines; i++)
			o->lines[i].refund_qty = o->lines[i].qty;
		o->refund_ship = 1;
	}
	o->refund_ship = o->refund_ship && o->has_ship;
	for (i = 0; i < o->nlines; i++) {
		struct line *l = &o->lines[i];
		int whole = l->refund_qty == l->qty;

		if (l->refund_qty == 0)
			continue;
		l->refund_sub =
		    whole ? l->net : rdiv(l->net * l->refund_qty, l->qty);
		o->refund_sub += l->refund_sub;
		o->refund_disc += l->unit * l->refund_qty - l->refund_sub;
		for (k = 0; k < l->ntax; k++) {
			l->refund_tax[k] =
			    whole ? l->tax[k]
				  : rdiv(l->tax[k] * l->refund_qty, l->qty);
			o->refund_tax += l->refund_tax[k];
		}
	}
	o->refunded = o->refund_sub + (o->taxes_included ? 0 : o->refund_tax);
	if (o->refund_ship) {
		o->refunded +=
		    o->ship_net + (o->taxes_included ? 0 : o->ship_tax);
		o->refund_tax += o->ship_tax;
		o->refund_disc += o->ship_disc;
	}
	if (o->refund != RF_NONE && o->refunded <= 0)
		o->refund = RF_NONE;
	if (o->refund == RF_NONE) {
		for (i = 0; i < o->nlines; i++)
			o->lines[i].refund_qty = 0;
		o->refunded = o->refund_sub = o->refund_tax = 0;
		o->refund_disc = o->refund_ship = 0;
	}

	/* The payment ledger, in the order things happened. */
	o->ntxn = 0;
	o->refund_txn = o->money_txn = -1;
	authcode = 10000 + rng_below(&s, 90000);
	switch (o->flow) {
	case FL_FAIL_SALE:
		add_txn(o, TX_SALE, TS_FAILURE, -1,
			o->time > 40 ? o->time - 40 : 0, 0);
		/* FALLTHROUGH */
	case FL_SALE:
		o->money_txn = o->ntxn;
		add_txn(o, TX_SALE, TS_SUCCESS, -1, o->time, authcode);
		break;
	case FL_AUTH_CAPTURE:
		add_txn(o, TX_AUTHORIZATION, TS_SUCCESS, -1, o->time, authcode);
		o->money_txn = o->ntxn;
		add_txn(o, TX_CAPTURE, TS_SUCCESS, 0, capture_time(o->time), 0);
		break;
	case FL_AUTH_VOID:
		add_txn(o, TX_AUTHORIZATION, TS_SUCCESS, -1, o->time, authcode);
		add_txn(o, TX_VOID, TS_SUCCESS, 0, capture_time(o->time), 0);
		break;
	case FL_AUTH_ONLY:
		add_txn(o, TX_AUTHORIZATION, TS_SUCCESS, -1, o->time, authcode);
		break;
	case FL_NONE:
		break;
	}
	if (o->refund != RF_NONE) {
		o->refund_txn = o->ntxn;
		add_txn(o, TX_REFUND, TS_SUCCESS, o->money_txn,
			refund_time(o->time), 0);
	}
}

static uint64_t
day_id(uint64_t base, uint64_t n)
{
	return base + cf.day * DAY_IDS + n;
}

static uint64_t
line_id(const struct order *o, int i)
{
	return day_id(ID_LINE, o->idx * MAX_LINES + (uint64_t)i);
}

static uint64_t
txn_id(const struct order *o, int k)
{
	return day_id(ID_TXN, o->idx * MAX_TXNS + (uint64_t)k);
}

/*
 * The money an order moves through gateway gw in stream st, if any: a
 * balance transaction for Shopify Payments, a settlement row for PayPal.
 */
static int
order_event(const struct order *o, enum gateway gw, enum stream st,
	    struct event *ev)
{
	const struct txn *t;

	if (o->gateway != gw)
		return 0;
	switch (st) {
	case ST_SALE:
		if (o->flow != FL_SALE && o->flow != FL_FAIL_SALE)
			return 0;
		t = &o->txn[o->money_txn];
		break;
	case ST_CAPTURE:
		if (o->flow != FL_AUTH_CAPTURE)
			return 0;
		t = &o->txn[o->money_txn];
		break;
	case ST_REFUND:
		if (o->refund_txn < 0)
			return 0;
		t = &o->txn[o->refund_txn];
		break;
	default:
		return 0;
	}
	ev->time = t->time;
	ev->stream = st;
	ev->order = o->idx;
	ev->amount = st == ST_REFUND ? -t->amount : t->amount;
	ev->fee = t->fee;
	ev->txn_id = txn_id(o, (int)(t - o->txn));
	ev->parent_txn_id = t->parent >= 0 ? txn_id(o, t->parent) : 0;
	return 1;
}

/* Whether scenario() alone rules the order out of stream st. */
static int
may_have_event(const struct order *o, enum gateway gw, enum stream st)
{
	if (o->gateway != gw)
		return 0;
	switch (st) {
	case ST_SALE:
		return o->flow == FL_SALE || o->flow == FL_FAIL_SALE;
	case ST_CAPTURE:
		return o->flow == FL_AUTH_CAPTURE;
	case ST_REFUND:
		return o->refund != RF_NONE;
	default:
		return 0;
	}
}

static const char *
financial_status(const struct order *o)
{
	switch (o->flow) {
	case FL_NONE:
		return "PENDING";
	case FL_AUTH_ONLY:
		return "AUTHORIZED";
	case FL_AUTH_VOID:
		return "VOIDED";
	default:
		break;
	}
	if (o->refund == RF_NONE)
		return "PAID";
	return o->refunded == o->total ? "REFUNDED" : "PARTIALLY_REFUNDED";
}

static void
put_name(const struct order *o)
{
	PUT("\"#");
	put_u64(1001 + o->idx);
	PUT("\"");
}

static void
put_taxlines(const struct order *o, const int *defs, const int64_t *amounts,
	     int n)
{
	int k;

	PUT("[");
	for (k = 0; k < n; k++) {
		const struct taxdef *d = &taxdefs[defs[k]];

		if (k > 0)
			PUT(",");
		PUT("{\"title\":");
		put_jstr(d->title);
		PUT(",\"rate\":");
		put_cstr(d->rate);
		PUT(",\"ratePercentage\":");
		put_cstr(d->percentage);
		PUT(",\"priceSet\":");
		put_bag(o, amounts[k]);
		PUT(",\"channelLiable\":false}");
	}
	PUT("]");
}

static void
put_address(const struct place *pl, uint64_t h)
{
	PUT("{\"firstName\":");
	put_jstr(first_names[(h >> 8) % NELEM(first_names)]);
	PUT(",\"lastName\":");
	put_jstr(last_names[(h >> 16) % NELEM(last_names)]);
	PUT(",\"company\":");
	put_jstr(pl->company);
	PUT(",\"address1\":\"");
	put_cstr(pl->street);
	PUT(" ");
	put_u64(1 + (h >> 24) % 150);
	PUT("\",\"address2\":null,\"city\":");
	put_jstr(pl->city);
	PUT(",\"zip\":");
	put_jstr(pl->zip);
	PUT(",\"province\":");
	put_jstr(pl->province);
	PUT(",\"provinceCode\":");
	put_jstr(pl->province_code);
	PUT(",\"country\":");
	put_jstr(pl->country);
	PUT(",\"countryCodeV2\":");
	put_jstr(pl->code);
	PUT(",\"phone\":null}");
}

static void
put_txn(const struct order *o, int k)
{
	const struct txn *t = &o->txn[k];

	PUT("{\"id\":");
	put_gid("OrderTransaction", txn_id(o, k));
	PUT(",\"kind\":\"");
	put_cstr(txkind_names[t->kind]);
	PUT("\",\"status\":\"");
	if (t->status == TS_SUCCESS)
		PUT("SUCCESS");
	else
		PUT("FAILURE");
	PUT("\",\"gateway\":");
	put_jstr(gateway_names[o->gateway]);
	PUT(",\"amountSet\":");
	put_bag(o, t->amount);
	PUT(",\"parentTransaction\":");
	if (t->parent < 0) {
		PUT("null");
	} else {
		PUT("{\"id\":");
		put_gid("OrderTransaction", txn_id(o, t->parent));
		PUT("}");
	}
	PUT(",\"processedAt\":");
	put_time(t->time);
	PUT(",\"createdAt\":");
	put_time(t->time);
	PUT(",\"errorCode\":");
	if (t->status == TS_FAILURE)
		PUT("\"CARD_DECLINED\"");
	else
		PUT("null");
	PUT(",\"test\":false,\"paymentId\":\"#");
	put_u64(1001 + o->idx);
	PUT(".");
	put_u64((uint64_t)k + 1);
	PUT("\",\"authorizationCode\":");
	if (o->gateway == GW_PAYPAL && t->status == TS_SUCCESS) {
		/* settlement reports name PayPal payments by this id */
		char pp[PAYPAL_ID_LEN + 1];

		paypal_id(txn_id(o, k), pp);
		PUT("\"");
		put(pp, PAYPAL_ID_LEN);
		PUT("\"");
	} else if (t->authcode) {
		PUT("\"");
		put_u64(t->authcode);
		PUT("\"");
	} else {
		PUT("null");
	}
	PUT(",\"fees\":[");
	if (t->fee != 0) {
		PUT("{\"amount\":");
		put_money(t->fee, &cf.cur);
		PUT(",\"flatFee\":");
		put_money(scale(30), &cf.cur);
		PUT(",\"rate\":\"0.029\",\"type\":\"payment_fee\"}");
	}
	PUT("]}");
}

static const char *const ship_titles[] = {"Free shipping", "Standard",
					  "Express"};
static const char *const ship_codes[] = {"FREE", "STANDARD", "EXPRESS"};

static void
put_refund(const struct order *o)
{
	int i, k, n = 0;
	int64_t t;

	PUT("{\"id\":");
	put_gid("Refund", day_id(ID_REFUND, o->idx));
	PUT(",\"createdAt\":");
	put_time(o->txn[o->refund_txn].time);
	PUT(",\"processedAt\":");
	put_time(o->txn[o->refund_txn].time);
	PUT(",\"note\":");
	put_jstr(refund_notes[o->refund_note]);
	PUT(",\"totalRefundedSet\":");
	put_bag(o, o->refunded);
	PUT(",\"refundLineItems\":{\"nodes\":[");
	for (i = 0; i < o->nlines; i++) {
		const struct line *l = &o->lines[i];

		if (l->refund_qty == 0)
			continue;
		if (n++ > 0)
			PUT(",");
		PUT("{\"lineItem\":{\"id\":");
		put_gid("LineItem", line_id(o, i));
		PUT(",\"sku\":");
		put_jstr(sku_of(l->variant));
		PUT("},\"quantity\":");
		put_u64((uint64_t)l->refund_qty);
		PUT(",\"restockType\":");
		put_jstr(o->restock ? "RETURN" : "NO_RESTOCK");
		PUT(",\"priceSet\":");
		put_bag(o, l->unit);
		PUT(",\"subtotalSet\":");
		put_bag(o, l->refund_sub);
		for (t = 0, k = 0; k < l->ntax; k++)
			t += l->refund_tax[k];
		PUT(",\"totalTaxSet\":");
		put_bag(o, t);
		PUT("}");
	}
	PUT("],\"pageInfo\":{\"hasNextPage\":false,\"endCursor\":null}},"
	    "\"refundShippingLines\":{\"nodes\":[");
	if (o->refund_ship) {
		PUT("{\"shippingLine\":{\"id\":");
		put_gid("ShippingLine", day_id(ID_SHIPPING, o->idx));
		PUT("},\"subtotalAmountSet\":");
		put_bag(o, o->ship_net);
		PUT(",\"taxAmountSet\":");
		put_bag(o, o->ship_tax);
		PUT("}");
	}
	PUT("]},\"orderAdjustments\":{\"nodes\":[]},"
	    "\"transactions\":{\"nodes\":[");
	put_txn(o, o->refund_txn);
	PUT("]}}");
}

static void
put_discount_application(const struct order *o, int index, int shipping)
{
	PUT("{\"__typename\":\"DiscountCodeApplication\",\"index\":");
	put_u64((uint64_t)index);
	if (shipping) {
		PUT(",\"code\":\"FREESHIP\",\"allocationMethod\":\"EACH\","
		    "\"targetSelection\":\"ALL\","
		    "\"targetType\":\"SHIPPING_LINE\",\"value\":{"
		    "\"__typename\":\"PricingPercentageValue\","
		    "\"percentage\":100.0}}");
		return;
	}
	if (o->discount == DC_FIXED) {
		PUT(",\"code\":\"TENOFF\"");
	} else {
		PUT(",\"code\":\"WELCOME15\"");
	}
	PUT(",\"allocationMethod\":\"ACROSS\",\"targetSelection\":\"ALL\","
	    "\"targetType\":\"LINE_ITEM\",\"value\":{");
	if (o->discount == DC_FIXED) {
		PUT("\"__typename\":\"MoneyV2\",\"amount\":\"");
		put_amount(o->disc_value, cf.cur.exp);
		put_cstr(cf.cur.tail);
	} else {
		PUT("\"__typename\":\"PricingPercentageValue\","
		    "\"percentage\":");
		put_u64((uint64_t)o->disc_value);
		PUT(".0}");
	}
	PUT("}");
}

/* One allocation, even of 0.00, as Shopify lists it for every target. */
static void
put_allocation(const struct order *o, int64_t amount, int index)
{
	PUT("[{\"allocatedAmountSet\":");
	put_bag(o, amount);
	PUT(",\"discountApplication\":{\"index\":");
	put_u64((uint64_t)index);
	PUT("}}]");
}

/* The envelope's head, up to the data object, for each kind. */
static char env_order[256], env_product[256], env_payout[256];
static char env_balance[256], env_dispute[256];

static void
set_envelope(char *buf, size_t n, const char *kind)
{
	snprintf(buf, n,
		 "{\"kind\":\"shopify.%s\",\"shop\":\"%s\",\"api\":\"%s\","
		 "\"shop_currency\":\"%s\",\"data\":",
		 kind, cf.shop, cf.api, cf.cur.code);
}

static void
print_order(const struct order *o)
{
	const struct place *pl = customer_place(o->customer);
	uint64_t h = mix64(o->customer ^ 0x5eedc0ffee5eedULL);
	uint64_t oid = day_id(ID_ORDER, o->idx);
	int i, k, updated = o->time, ntl = 0;
	int tdefs[NTAXES];
	int64_t tsum[NTAXES], tamt[NTAXES];
	int used[NTAXES] = {0};
	int ship_index = o->discount != DC_NONE ? 1 : 0;

	for (k = 0; k < o->ntxn; k++)
		if (o->txn[k].time > updated)
			updated = o->txn[k].time;

	put_cstr(env_order);
	PUT("{\"id\":");
	put_gid("Order", oid);
	PUT(",\"legacyResourceId\":");
	put_id(oid);
	PUT(",\"name\":");
	put_name(o);
	PUT(",\"createdAt\":");
	put_time(o->time);
	PUT(",\"processedAt\":");
	put_time(o->time);
	PUT(",\"updatedAt\":");
	put_time(updated);
	PUT(",\"cancelledAt\":null,\"cancelReason\":null,\"closedAt\":null,"
	    "\"currencyCode\":\"");
	put_cstr(cf.cur.code);
	PUT("\",\"presentmentCurrencyCode\":\"");
	put_cstr(o->foreign ? cf.fx.code : cf.cur.code);
	PUT("\",\"taxesIncluded\":");
	put_bool(o->taxes_included);
	PUT(",\"test\":false,\"displayFinancialStatus\":\"");
	put_cstr(financial_status(o));
	PUT("\",\"displayFulfillmentStatus\":\"UNFULFILLED\","
	    "\"sourceName\":\"web\",\"paymentGatewayNames\":[\"");
	put_cstr(gateway_names[o->gateway]);
	PUT("\"],\"email\":\"customer");
	put_u64(o->customer);
	PUT("@example.com\",\"phone\":null,\"customer\":{\"id\":");
	put_gid("Customer", ID_CUSTOMER + o->customer);
	PUT(",\"firstName\":");
	put_jstr(first_names[(h >> 8) % NELEM(first_names)]);
	PUT(",\"lastName\":");
	put_jstr(last_names[(h >> 16) % NELEM(last_names)]);
	PUT(",\"email\":\"customer");
	put_u64(o->customer);
	PUT("@example.com\",\"phone\":\"");
	put_cstr(pl->phone);
	put_u64(1000 + (h >> 32) % 9000);
	PUT("\"},\"billingAddress\":");
	put_address(pl, h);
	PUT(",\"shippingAddress\":");
	put_address(pl, h);

	PUT(",\"totalLineItemsPriceSet\":");
	put_bag(o, o->line_items);
	PUT(",\"subtotalPriceSet\":");
	put_bag(o, o->subtotal);
	PUT(",\"totalDiscountsSet\":");
	put_bag(o, o->discounts);
	PUT(",\"totalShippingPriceSet\":");
	put_bag(o, o->shipping);
	PUT(",\"totalTaxSet\":");
	put_bag(o, o->tax);
	PUT(",\"totalPriceSet\":");
	put_bag(o, o->total);
	PUT(",\"currentSubtotalPriceSet\":");
	put_bag(o, o->subtotal - o->refund_sub);
	PUT(",\"currentTotalDiscountsSet\":");
	put_bag(o, o->discounts - o->refund_disc);
	PUT(",\"currentTotalTaxSet\":");
	put_bag(o, o->tax - o->refund_tax);
	PUT(",\"currentTotalPriceSet\":");
	put_bag(o, o->total - o->refunded);
	PUT(",\"totalRefundedSet\":");
	put_bag(o, o->refunded);
	PUT(",\"totalTipReceivedSet\":");
	put_bag(o, 0);

	PUT(",\"discountCodes\":[");
	if (o->discount == DC_FIXED)
		PUT("\"TENOFF\"");
	else if (o->discount == DC_PERCENT)
		PUT("\"WELCOME15\"");
	if (o->freeship)
		put_cstr(o->discount != DC_NONE ? ",\"FREESHIP\""
						: "\"FREESHIP\"");
	PUT("],\"discountApplications\":{\"nodes\":[");
	if (o->discount != DC_NONE)
		put_discount_application(o, 0, 0);
	if (o->freeship) {
		if (o->discount != DC_NONE)
			PUT(",");
		put_discount_application(o, ship_index, 1);
	}
	PUT("]}");

	/* The order's tax lines: the line and shipping taxes by title. */
	memset(tsum, 0, sizeof(tsum));
	for (i = 0; i < o->nlines; i++)
		for (k = 0; k < o->lines[i].ntax; k++) {
			used[o->lines[i].taxdef[k]] = 1;
			tsum[o->lines[i].taxdef[k]] += o->lines[i].tax[k];
		}
	if (o->ship_taxdef >= 0) {
		used[o->ship_taxdef] = 1;
		tsum[o->ship_taxdef] += o->ship_tax;
	}
	for (k = 0; k < NTAXES; k++)
		if (used[k]) {
			tdefs[ntl] = k;
			tamt[ntl++] = tsum[k];
		}
	PUT(",\"taxLines\":");
	put_taxlines(o, tdefs, tamt, ntl);

	PUT(",\"lineItems\":{\"nodes\":[");
	for (i = 0; i < o->nlines; i++) {
		const struct line *l = &o->lines[i];
		const struct product *p = product_of(l->variant);
		int vi = variants[l->variant].v;
		int dflt = strcmp(p->v[vi].title, "Default Title") == 0;

		if (i > 0)
			PUT(",");
		PUT("{\"id\":");
		put_gid("LineItem", line_id(o, i));
		PUT(",\"name\":\"");
		put_cstr(p->title);
		if (!dflt) {
			PUT(" - ");
			put_cstr(p->v[vi].title);
		}
		PUT("\",\"title\":");
		put_jstr(p->title);
		PUT(",\"variantTitle\":");
		put_jstr(dflt ? NULL : p->v[vi].title);
		PUT(",\"sku\":");
		put_jstr(p->v[vi].sku);
		PUT(",\"quantity\":");
		put_u64((uint64_t)l->qty);
		PUT(",\"currentQuantity\":");
		put_u64((uint64_t)(l->qty - l->refund_qty));
		PUT(",\"product\":{\"id\":");
		put_gid("Product", ID_PRODUCT + 1 + (uint64_t)(p - catalogue));
		PUT("},\"variant\":{\"id\":");
		put_gid("ProductVariant",
			ID_VARIANT + 1 + (uint64_t)l->variant);
		PUT("},\"taxable\":");
		put_bool(!p->giftcard);
		PUT(",\"requiresShipping\":");
		put_bool(!p->giftcard);
		PUT(",\"isGiftCard\":");
		put_bool(p->giftcard);
		PUT(",\"originalUnitPriceSet\":");
		put_bag(o, l->unit);
		PUT(",\"originalTotalSet\":");
		put_bag(o, l->orig);
		PUT(",\"totalDiscountSet\":");
		put_bag(o, l->disc);
		PUT(",\"discountedTotalSet\":");
		put_bag(o, l->net);
		PUT(",\"discountAllocations\":");
		if (o->discount != DC_NONE && !p->giftcard)
			put_allocation(o, l->disc, 0);
		else
			PUT("[]");
		PUT(",\"taxLines\":");
		put_taxlines(o, l->taxdef, l->tax, l->ntax);
		PUT("}");
	}
	PUT("],\"pageInfo\":{\"hasNextPage\":false,\"endCursor\":null}},"
	    "\"shippingLines\":{\"nodes\":[");
	if (o->has_ship) {
		PUT("{\"id\":");
		put_gid("ShippingLine", day_id(ID_SHIPPING, o->idx));
		PUT(",\"title\":");
		put_jstr(ship_titles[o->ship_kind]);
		PUT(",\"code\":");
		put_jstr(ship_codes[o->ship_kind]);
		PUT(",\"source\":\"shopify\",\"originalPriceSet\":");
		put_bag(o, o->ship_price);
		PUT(",\"discountedPriceSet\":");
		put_bag(o, o->ship_net);
		PUT(",\"discountAllocations\":");
		if (o->freeship)
			put_allocation(o, o->ship_disc, ship_index);
		else
			PUT("[]");
		PUT(",\"taxLines\":");
		put_taxlines(o, &o->ship_taxdef, &o->ship_tax,
			     o->ship_taxdef >= 0);
		PUT("}");
	}
	PUT("],\"pageInfo\":{\"hasNextPage\":false,\"endCursor\":null}},"
	    "\"transactions\":[");
	for (k = 0; k < o->ntxn; k++) {
		if (k > 0)
			PUT(",");
		put_txn(o, k);
	}
	PUT("],\"refunds\":[");
	if (o->refund_txn >= 0)
		put_refund(o);
	PUT("]}}\n");
}

static void
print_products(void)
{
	char price[MONEY_TEXT_MAX];
	unsigned p;
	int v, flat = 0, k, sum;
	char ean[14];

	for (p = 0; p < NPRODUCTS; p++) {
		const struct product *pr = &catalogue[p];

		put_cstr(env_product);
		PUT("{\"id\":");
		put_gid("Product", ID_PRODUCT + p + 1);
		PUT(",\"title\":");
		put_jstr(pr->title);
		PUT(",\"vendor\":\"Tillroll Goods\",\"productType\":");
		put_jstr(pr->type);
		/* PUT takes a literal: its size is the length. */
		if (pr->giftcard)
			PUT(",\"isGiftCard\":true");
		else
			PUT(",\"isGiftCard\":false");
		PUT(",\"status\":\"ACTIVE\",\"updatedAt\":");
		put_time(0);
		PUT(",\"variants\":{\"nodes\":[");
		for (v = 0; v < pr->nvariants; v++, flat++) {
			/* EAN-13 in the Belgian range, with its check digit. */
			snprintf(ean, sizeof(ean), "540%09d", flat + 1);
			for (sum = 0, k = 0; k < 12; k++)
				sum += (ean[k] - '0') * (k % 2 ? 3 : 1);
			ean[12] = (char)('0' + (10 - sum % 10) % 10);
			ean[13] = '\0';
			money_format(scale(pr->v[v].cents), cf.cur.exp, price);
			if (v > 0)
				PUT(",");
			PUT("{\"id\":");
			put_gid("ProductVariant",
				ID_VARIANT + 1 + (uint64_t)flat);
			PUT(",\"title\":");
			put_jstr(pr->v[v].title);
			PUT(",\"sku\":");
			put_jstr(pr->v[v].sku);
			PUT(",\"barcode\":");
			put_jstr(ean);
			PUT(",\"price\":");
			put_jstr(price);
			PUT(",\"compareAtPrice\":null,\"taxable\":");
			put_bool(!pr->giftcard);
			PUT(",\"inventoryItem\":{\"id\":");
			put_gid("InventoryItem",
				ID_INVENTORY + 1 + (uint64_t)flat);
			PUT("}}");
		}
		PUT("]}}}\n");
	}
}

static void
fact_money(FILE *f, const char *name, int64_t minor)
{
	char buf[MONEY_TEXT_MAX];

	money_format(minor, cf.cur.exp, buf);
	fprintf(f, ",\"%s\":\"%s\"", name, buf);
}

static void
fact_order(FILE *f, const struct order *o)
{
	fprintf(f,
		"{\"fact\":\"order\",\"key\":\"%s/order/%" PRIu64
		"\",\"name\":\"#%" PRIu64 "\",\"currency\":\"%s\"",
		cf.shop, day_id(ID_ORDER, o->idx), 1001 + o->idx, cf.cur.code);
	fact_money(f, "total", o->total);
	fact_money(f, "subtotal", o->subtotal);
	fact_money(f, "tax", o->tax);
	fact_money(f, "shipping", o->shipping);
	fact_money(f, "discounts", o->discounts);
	fprintf(f, ",\"lines\":%d", o->nlines);
	fact_money(f, "refunded", o->refunded);
	fprintf(f, ",\"taxes_included\":%s}\n",
		o->taxes_included ? "true" : "false");
}

static void
count_event(const struct event *ev)
{
	sec_count[ev->time]++;
	if (ev->stream == ST_REFUND) {
		sec_refund[ev->time] += ev->amount;
	} else {
		sec_charge[ev->time] += ev->amount;
		sec_charge_fee[ev->time] += ev->fee;
	}
}

/* The date "YYYY-MM-DD" that is day days after 2000-01-01 (day >= 0). */
static void
civil_date(int64_t day, char out[11])
{
	char t[UTC_TEXT_MAX];

	utc_from_time((time_t)(day + utc_day_number("2000-01-01")) * 86400, t);
	memcpy(out, t, 10);
	out[10] = '\0';
}

/*
 * Make day (days since 2000-01-01) the one generated: its date in every
 * timestamp, its offset in every id, and its stream of random numbers.
 */
static void
set_day(uint64_t day)
{
	cf.day = day;
	civil_date((int64_t)day, cf.date);
	cf.seed_key = mix64(cf.seed ^ 0x7411a011c0ffeeULL) ^ mix64(cf.day);
}

/* Each day planned starts with no balance transaction and no dispute. */
static void
clear_plan(void)
{
	memset(sec_count, 0, sizeof(sec_count));
	memset(sec_charge, 0, sizeof(sec_charge));
	memset(sec_charge_fee, 0, sizeof(sec_charge_fee));
	memset(sec_refund, 0, sizeof(sec_refund));
	ndisputes = 0;
}

/*
 * Take order o for the next chargeback if it is a Shopify Payments charge
 * that nothing refunded, at or after that dispute's place.  The places
 * spread over the first four fifths of the orders, so that the dispute,
 * and the reversal of the first, still fall before the payouts are cut.
 */
static void
pick_dispute(const struct order *o)
{
	uint64_t span = cf.orders - cf.orders / 5, n = cf.disputes;
	struct dispute *d;

	if (ndisputes >= cf.disputes || o->idx >= span ||
	    o->idx < (2 * (uint64_t)ndisputes + 1) * span / (2 * n))
		return;
	if (o->gateway != GW_SHOPIFY || o->money_txn < 0 ||
	    o->refund != RF_NONE)
		return;
	d = &disputes[ndisputes++];
	d->order = o->idx;
	d->amount = o->txn[o->money_txn].amount;
	d->charge_time = o->txn[o->money_txn].time;
}

/* What order o adds to its day's balance transactions and disputes. */
static void
plan_order(const struct order *o, uint64_t *events)
{
	struct event ev;
	int i;

	for (i = 0; i < NSTREAMS; i++)
		if (order_event(o, GW_SHOPIFY, (enum stream)i, &ev)) {
			count_event(&ev);
			(*events)++;
		}
	pick_dispute(o);
}

/* The chargeback protection the first payout of a busy day pays for. */
static int64_t
day_adjustment(void)
{
	return cf.orders >= 20 && cf.payouts > 0 ? scale(-150) : 0;
}

/*
 * Cut the balance transactions into payouts: contiguous blocks of seconds
 * of about equal counts, leaving about the last 5% (and anything from
 * 23:00, when the payouts are issued) unassigned.  Returns the second the
 * pending ones start at.
 */
static int
cut_payouts(uint64_t events, int64_t adjustment)
{
	uint64_t target = (events + 19) / 20, acc = 0, assigned, cum, need;
	int pend = DAY_SECONDS, s;
	unsigned k;

	if (target > 0)
		for (s = DAY_SECONDS - 1; s >= 0; s--) {
			acc += sec_count[s];
			if (acc >= target) {
				pend = s;
				break;
			}
		}
	if (pend > PAYOUT_TIME)
		pend = PAYOUT_TIME;
	if (cf.payouts == 0)
		return 0;
	for (assigned = 0, s = 0; s < pend; s++)
		assigned += sec_count[s];

	s = 0;
	cum = 0;
	for (k = 0; k < cf.payouts; k++) {
		struct payout *p = &payouts[k];

		memset(p, 0, sizeof(*p));
		p->id = day_id(ID_PAYOUT, k + 1);
		p->start = s;
		need = (assigned * (k + 1) + cf.payouts - 1) / cf.payouts;
		for (; s < pend && (cum < need || k + 1 == cf.payouts); s++) {
			cum += sec_count[s];
			p->rows += sec_count[s];
			p->charges += sec_charge[s];
			p->charge_fees += sec_charge_fee[s];
			p->refunds += sec_refund[s];
		}
		p->end = s;
	}
	payouts[0].protection = adjustment;
	payouts[0].adjustments = adjustment;
	payouts[0].rows += adjustment != 0;
	return pend;
}

/* The payout that takes a row dated sec, which is before the pending. */
static unsigned
payout_at(int sec)
{
	unsigned k = 0;

	while (k + 1 < cf.payouts && sec >= payouts[k].end)
		k++;
	return k;
}

/*
 * Place the disputes picked on the payouts: each half-way from its charge
 * to the first pending second, the reversal of the first half-way again.
 * A dispute whose charge is still pending is dropped, so that no payout
 * takes back what none has paid out.  Then the reserve: held on the
 * first payout, released on the last.
 */
static void
place_extras(int pend)
{
	unsigned k, n = 0;

	if (cf.payouts == 0) {
		ndisputes = 0;
		return;
	}
	for (k = 0; k < ndisputes; k++) {
		struct dispute d = disputes[k];
		struct payout *p;

		if (d.charge_time >= pend)
			continue;
		d.id = day_id(ID_DISPUTE, n + 1);
		d.time = d.charge_time + (pend - d.charge_time) / 2;
		d.won_time = n == 0 ? d.time + (pend - d.time) / 2 : -1;
		d.payout = payout_at(d.time);
		p = &payouts[d.payout];
		p->adjustments -= d.amount;
		p->adjustment_fees += scale(1500);
		p->rows++;
		if (d.won_time >= 0) {
			d.won_payout = payout_at(d.won_time);
			p = &payouts[d.won_payout];
			p->adjustments += d.amount;
			p->adjustment_fees -= scale(1500);
			p->rows++;
		}
		disputes[n++] = d;
	}
	ndisputes = n;
	if (cf.reserve != 0) {
		payouts[0].reserves -= cf.reserve;
		payouts[0].rows++;
		payouts[cf.payouts - 1].reserves += cf.reserve;
		payouts[cf.payouts - 1].rows++;
	}
}

/*
 * The balance ids a planned day gives before its pending rows: those come
 * last, after every payout's rows and TRANSFER.
 */
static uint64_t
ids_before_pending(void)
{
	uint64_t n = cf.payouts;
	unsigned k;

	for (k = 0; k < cf.payouts; k++)
		n += payouts[k].rows;
	return n;
}

/*
 * --prior-pending: plan the day before as it was generated, with the same
 * seed and options, without writing it, to learn which of its balance
 * transactions it left pending, the ids they had and what they add up to.
 */
static void
plan_prior(void)
{
	struct order o;
	uint64_t v, events = 0;
	int pend, s, t;

	set_day(cf.day - 1);
	clear_plan();
	for (v = 0; v < cf.orders; v++) {
		scenario(v, &o);
		if (!may_have_event(&o, GW_SHOPIFY, ST_SALE) &&
		    !may_have_event(&o, GW_SHOPIFY, ST_CAPTURE) &&
		    !may_have_event(&o, GW_SHOPIFY, ST_REFUND))
			continue;
		complete(&o);
		plan_order(&o, &events);
	}
	pend = cut_payouts(events, day_adjustment());
	place_extras(pend);
	memset(&prior, 0, sizeof(prior));
	prior.pend = pend;
	prior.first_id = ids_before_pending();
	for (s = pend; s < DAY_SECONDS; s++) {
		prior.rows += sec_count[s];
		prior.charges += sec_charge[s];
		prior.charge_fees += sec_charge_fee[s];
		prior.refunds += sec_refund[s];
	}
	/*
	 * The latest row an order makes is its refund; orders placed before
	 * t, which come before index t * orders / DAY_SECONDS - 1, have
	 * none pending.
	 */
	for (t = 0; t < DAY_SECONDS && refund_time(t) < pend; t++)
		;
	prior.start = (uint64_t)t * cf.orders / DAY_SECONDS;
	prior.start = prior.start > 0 ? prior.start - 1 : 0;
	set_day(cf.day + 1);
}

static int64_t
payout_net(const struct payout *p)
{
	return p->charges - p->charge_fees + p->refunds + p->adjustments -
	       p->adjustment_fees + p->reserves;
}

static void
print_payout(const struct payout *p)
{
	int64_t net = payout_net(p);

	put_cstr(env_payout);
	PUT("{\"id\":");
	put_gid("ShopifyPaymentsPayout", p->id);
	PUT(",\"legacyResourceId\":");
	put_id(p->id);
	PUT(",\"issuedAt\":");
	put_time(PAYOUT_TIME);
	PUT(",\"status\":\"PAID\",\"transactionType\":");
	put_jstr(net < 0 ? "WITHDRAWAL" : "DEPOSIT");
	PUT(",\"net\":");
	put_money(net, &cf.cur);
	PUT(",\"summary\":{\"chargesGross\":");
	put_money(p->charges, &cf.cur);
	PUT(",\"chargesFee\":");
	put_money(p->charge_fees, &cf.cur);
	PUT(",\"refundsFeeGross\":");
	put_money(p->refunds, &cf.cur);
	PUT(",\"refundsFee\":");
	put_money(0, &cf.cur);
	PUT(",\"adjustmentsGross\":");
	put_money(p->adjustments, &cf.cur);
	PUT(",\"adjustmentsFee\":");
	put_money(p->adjustment_fees, &cf.cur);
	PUT(",\"reservedFundsGross\":");
	put_money(p->reserves, &cf.cur);
	PUT(",\"reservedFundsFee\":");
	put_money(0, &cf.cur);
	PUT(",\"retriedPayoutsGross\":");
	put_money(0, &cf.cur);
	PUT(",\"retriedPayoutsFee\":");
	put_money(0, &cf.cur);
	PUT("}}}\n");
}

/* The date evidence is due by, a week after the day. */
static void
put_due(void)
{
	char due[11];

	civil_date((int64_t)cf.day + 7, due);
	PUT("\"");
	put(due, 10);
	PUT("T23:59:59Z\"");
}

static void
print_dispute(const struct dispute *d)
{
	int won = d->won_time >= 0;

	put_cstr(env_dispute);
	PUT("{\"id\":");
	put_gid("ShopifyPaymentsDispute", d->id);
	PUT(",\"legacyResourceId\":");
	put_id(d->id);
	PUT(",\"order\":{\"id\":");
	put_gid("Order", day_id(ID_ORDER, d->order));
	PUT(",\"name\":\"#");
	put_u64(1001 + d->order);
	PUT("\"},\"type\":\"CHARGEBACK\",\"amount\":");
	put_money(d->amount, &cf.cur);
	PUT(",\"reasonDetails\":{\"reason\":\"FRAUDULENT\","
	    "\"networkReasonCode\":\"4837\"},\"status\":");
	put_jstr(won ? "WON" : "NEEDS_RESPONSE");
	PUT(",\"initiatedAt\":");
	put_time(d->time);
	PUT(",\"evidenceDueBy\":");
	put_due();
	PUT(",\"evidenceSentOn\":");
	if (won)
		put_time(d->time + (d->won_time - d->time) / 2);
	else
		PUT("null");
	PUT(",\"finalizedOn\":");
	if (won)
		put_time(d->won_time);
	else
		PUT("null");
	PUT("}}\n");
}

/* One balance transaction, as print_balance() writes it. */
struct brow {
	const char *type;
	const char *source_type; /* NULL for null */
	uint64_t source_id;	 /* 0 for the row's own id */
	int64_t amount, fee;
	uint64_t txn_id; /* the order transaction, 0 for none */
	int has_order;
	uint64_t order;
	int time;
	const char *reason;
};

static uint64_t balance_ids;  /* the day's balance ids given */
static uint64_t balance_rows; /* rows written, the day before's included */

/*
 * Write row r with id on payout p (NULL: pending) and count it towards
 * what p has seen, but for p's own TRANSFER.
 */
static void
print_balance(const struct brow *r, struct payout *p, uint64_t id)
{
	put_cstr(env_balance);
	PUT("{\"id\":");
	put_gid("ShopifyPaymentsBalanceTransaction", id);
	PUT(",\"type\":\"");
	put_cstr(r->type);
	PUT("\",\"test\":false,\"amount\":");
	put_money(r->amount, &cf.cur);
	PUT(",\"fee\":");
	put_money(r->fee, &cf.cur);
	PUT(",\"net\":");
	put_money(r->amount - r->fee, &cf.cur);
	PUT(",\"sourceId\":");
	put_id(r->source_id != 0 ? r->source_id : id);
	PUT(",\"sourceType\":");
	put_jstr(r->source_type);
	PUT(",\"sourceOrderTransactionId\":");
	if (r->txn_id != 0)
		put_id(r->txn_id);
	else
		PUT("null");
	PUT(",\"associatedOrder\":");
	if (r->has_order) {
		PUT("{\"id\":");
		put_gid("Order", day_id(ID_ORDER, r->order));
		PUT(",\"name\":\"#");
		put_u64(1001 + r->order);
		PUT("\"}");
	} else {
		PUT("null");
	}
	PUT(",\"associatedPayout\":");
	if (p != NULL) {
		PUT("{\"id\":");
		put_gid("ShopifyPaymentsPayout", p->id);
		PUT(",\"status\":\"PAID\"}");
	} else {
		PUT("{\"id\":null,\"status\":\"PENDING\"}");
	}
	PUT(",\"transactionDate\":");
	put_time(r->time);
	PUT(",\"adjustmentReason\":");
	put_jstr(r->reason);
	PUT("}}\n");
	balance_rows++;
	if (p != NULL && strcmp(r->type, "TRANSFER") != 0) {
		p->seen_net += r->amount - r->fee;
		p->seen_rows++;
	}
}

/* A row of the day's own, with the next id. */
static void
print_own(const struct brow *r, struct payout *p)
{
	print_balance(r, p, day_id(ID_BALANCE, ++balance_ids));
}

static void
event_row(const struct event *ev, struct brow *r)
{
	memset(r, 0, sizeof(*r));
	r->type = ev->stream == ST_REFUND ? "REFUND" : "CHARGE";
	r->source_type = r->type;
	r->amount = ev->amount;
	r->fee = ev->fee;
	r->txn_id = ev->txn_id;
	r->has_order = 1;
	r->order = ev->order;
	r->time = ev->time;
}

static void
reserve_row(struct brow *r, int64_t amount, int time)
{
	memset(r, 0, sizeof(*r));
	r->type = "RESERVE";
	r->amount = amount;
	r->time = time;
}

/* A cursor over the orders for one stream of one gateway's events. */
struct cursor {
	enum gateway gw;
	enum stream st;
	uint64_t next;
	int have;
	struct event ev;
};

static void
advance(struct cursor *c)
{
	struct order o;

	c->have = 0;
	while (c->next < cf.orders) {
		scenario(c->next++, &o);
		if (!may_have_event(&o, c->gw, c->st))
			continue;
		complete(&o);
		if (order_event(&o, c->gw, c->st, &c->ev)) {
			c->have = 1;
			return;
		}
	}
}

static void
start_cursors(struct cursor c[NSTREAMS], enum gateway gw, uint64_t from)
{
	int i;

	for (i = 0; i < NSTREAMS; i++) {
		c[i].gw = gw;
		c[i].st = (enum stream)i;
		c[i].next = from;
		advance(&c[i]);
	}
}

/*
 * The cursor with the earliest event, NULL when all are done.  Each
 * stream is in date order because its times never decrease with the
 * order index, so merging them is enough, and memory stays flat.
 */
static struct cursor *
earliest(struct cursor c[NSTREAMS])
{
	struct cursor *best = NULL;
	int i;

	for (i = 0; i < NSTREAMS; i++)
		if (c[i].have && (best == NULL || c[i].ev.time < best->ev.time))
			best = &c[i];
	return best;
}

/*
 * The day before's pending balance transactions, regenerated with the
 * ids and dates they had then, now on today's first payout p.
 */
static void
print_prior(struct payout *p)
{
	struct cursor c[NSTREAMS], *best;
	struct brow r;
	uint64_t id = prior.first_id;

	set_day(cf.day - 1);
	start_cursors(c, GW_SHOPIFY, prior.start);
	while ((best = earliest(c)) != NULL && !oerrno) {
		if (best->ev.time >= prior.pend) {
			event_row(&best->ev, &r);
			print_balance(&r, p, day_id(ID_BALANCE, ++id));
		}
		advance(best);
	}
	set_day(cf.day + 1);
}

/* Close payout p: its adjustments, its TRANSFER, and a check of the sums. */
static int
close_payout(struct payout *p, int last_time)
{
	int64_t net = payout_net(p);
	struct brow r;

	memset(&r, 0, sizeof(r));
	if (p->protection != 0) {
		r.type = r.source_type = "ADJUSTMENT";
		r.amount = p->protection;
		r.time = last_time;
		r.reason = "chargeback_protection";
		print_own(&r, p);
	}
	if (cf.reserve != 0 && p == &payouts[cf.payouts - 1]) {
		reserve_row(&r, cf.reserve, last_time);
		print_own(&r, p);
	}
	memset(&r, 0, sizeof(r));
	r.type = r.source_type = "TRANSFER";
	r.source_id = p->id;
	r.amount = -net;
	r.time = PAYOUT_TIME;
	print_own(&r, p);
	if (p->seen_net != net || p->seen_rows != p->rows)
		return msg_fail(EX_SOFTWARE,
				"payout %" PRIu64 " is off by %" PRId64, p->id,
				p->seen_net - net);
	return 0;
}

/*
 * The disputes' balance transactions, and the reversal of the first, in
 * date order, with the payouts that take them.
 */
struct extra {
	struct brow r;
	unsigned payout;
};

static unsigned
dispute_rows(struct extra *x)
{
	unsigned k, n = 0, i;

	for (k = 0; k < ndisputes; k++) {
		const struct dispute *d = &disputes[k];
		int w;

		for (w = 0; w < 2; w++) {
			struct extra e;

			if (w == 1 && d->won_time < 0)
				break;
			memset(&e, 0, sizeof(e));
			e.r.type = e.r.source_type = "DISPUTE";
			e.r.source_id = d->id;
			e.r.amount = w ? d->amount : -d->amount;
			e.r.fee = w ? -scale(1500) : scale(1500);
			e.r.has_order = 1;
			e.r.order = d->order;
			e.r.time = w ? d->won_time : d->time;
			e.payout = w ? d->won_payout : d->payout;
			/* insertion, stable: few rows */
			for (i = n; i > 0 && x[i - 1].r.time > e.r.time; i--)
				x[i] = x[i - 1];
			x[i] = e;
			n++;
		}
	}
	return n;
}

/*
 * The balance transactions payout by payout, each block in date order:
 * the day before's pending ones first, with --prior-pending, then the
 * reserve held, then the day's own rows merged with the disputes', and
 * last the pending ones.
 */
static int
print_balances(int pend, uint64_t *pending)
{
	static struct extra x[2 * MAX_DISPUTES];
	struct cursor c[NSTREAMS], *best;
	struct brow r;
	unsigned k = 0, nx, ix = 0;
	int rv, last_time = 0, use_extra, time;

	nx = dispute_rows(x);
	*pending = 0;
	if (cf.payouts > 0 && prior.rows > 0)
		print_prior(&payouts[0]);
	if (cf.payouts > 0 && cf.reserve != 0) {
		reserve_row(&r, -cf.reserve, payouts[0].start);
		print_own(&r, &payouts[0]);
	}
	start_cursors(c, GW_SHOPIFY, 0);
	for (;;) {
		best = earliest(c);
		use_extra =
		    ix < nx && (best == NULL || x[ix].r.time < best->ev.time);
		if (best == NULL && !use_extra)
			break;
		time = use_extra ? x[ix].r.time : best->ev.time;
		while (k < cf.payouts && time >= payouts[k].end) {
			if ((rv = close_payout(&payouts[k++], last_time)) != 0)
				return rv;
			last_time = k < cf.payouts ? payouts[k].start : 0;
		}
		if (use_extra) {
			print_own(&x[ix].r, &payouts[x[ix].payout]);
			ix++;
		} else {
			if (time >= pend)
				(*pending)++;
			event_row(&best->ev, &r);
			print_own(&r, k < cf.payouts ? &payouts[k] : NULL);
			advance(best);
		}
		last_time = time;
		if (oerrno)
			return 0;
	}
	while (k < cf.payouts) {
		if ((rv = close_payout(&payouts[k++], last_time)) != 0)
			return rv;
		last_time = k < cf.payouts ? payouts[k].start : 0;
	}
	return 0;
}

/* --- the PayPal Settlement Report ------------------------------------ */

/* "2026/11/26 09:35:31 +0000", as PayPal's reports write a time. */
static void
srf_time(FILE *f, const char *date, int sec)
{
	fprintf(f, "%.4s/%.2s/%.2s %02d:%02d:%02d +0000", date, date + 5,
		date + 8, sec / 3600, sec / 60 % 60, sec % 60);
}

/* PayPal's unsigned hundredths, whatever the currency's minor unit. */
static int64_t
hundredths(int64_t minor)
{
	if (minor < 0)
		minor = -minor;
	return cf.cur.exp == 0	 ? minor * 100
	       : cf.cur.exp == 1 ? minor * 10
				 : minor;
}

/* The fee PayPal takes on a payment: 3.4% plus 0.35 in the catalogue's
 * scale. */
static int64_t
paypal_fee(int64_t amount)
{
	return rdiv(amount * 34, 1000) + scale(35);
}

/* The merchant's PayPal account id: 13 characters from the shop's name. */
static void
srf_account(char out[14])
{
	static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *s;
	int i = 0;

	for (s = cf.shop; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	for (s = cf.shop; *s && i < 4; s++)
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9'))
			out[i++] =
			    *s >= 'a' && *s <= 'z' ? (char)(*s - 32) : *s;
	while (i < 4)
		out[i++] = 'X';
	memcpy(out + 4, "ACCT", 4);
	for (h = mix64(h), i = 8; i < 13; i++, h /= 36)
		out[i] = digits[h % 36];
	out[13] = '\0';
}

/* The footer's sums, in hundredths. */
struct srf_sums {
	int64_t gross_cr, gross_dr, fee_dr;
	uint64_t rows;
};

/*
 * One body row: gross is signed, CR when money came in; fee 0 leaves the
 * fee columns empty, as PayPal does.  ref is the transaction a refund
 * gives back, or "".
 */
static void
srf_body(FILE *f, struct srf_sums *sum, const char *id, const char *invoice,
	 const char *ref, const char *tcode, int init, int done, int64_t gross,
	 int64_t fee, const char *custom, const char *bank)
{
	fprintf(f, "\"SB\",\"%s\",\"%s\",\"%s\",\"%s\",\"%s\",", id, invoice,
		ref, *ref ? "TXN" : "", tcode);
	srf_time(f, cf.date, init);
	fputc(',', f);
	srf_time(f, cf.date, done);
	fprintf(f, ",\"%s\",%" PRId64 ",\"%s\",", gross < 0 ? "DR" : "CR",
		hundredths(gross), cf.cur.code);
	if (fee != 0)
		fprintf(f, "\"DR\",%" PRId64 ",\"%s\"", hundredths(fee),
			cf.cur.code);
	else
		fputs("\"\",,\"\"", f);
	fprintf(f, ",\"%s\",\"\",\"\",\"\",\"%s\",\"\",\"\",\"\"\r\n", custom,
		bank);
	sum->rows++;
	if (gross < 0)
		sum->gross_dr += hundredths(gross);
	else
		sum->gross_cr += hundredths(gross);
	sum->fee_dr += hundredths(fee);
}

/* A section or report footer: totals, balances (none kept), count. */
static void
srf_footer(FILE *f, const char *type, const struct srf_sums *sum)
{
	fprintf(
	    f,
	    "\"%s\",\"%s\",%" PRId64 ",%" PRId64 ",0,%" PRId64
	    ",\"CR\",0,\"CR\",0,\"CR\",0,\"CR\",0,\"CR\",0,\"CR\",0,%" PRIu64
	    "\r\n",
	    type, cf.cur.code, sum->gross_cr, sum->gross_dr, sum->fee_dr,
	    sum->rows);
}

/*
 * --paypal-srf: the day's PayPal Settlement Report.  One section: a row
 * per PayPal payment taken (T0006) or refunded (T1107), in the order they
 * happened, then the withdrawal (T0400) of the day's net to the bank,
 * which makes the file a payout and leaves the balance where it began;
 * then the footers, whose totals and counts settlement-extract checks.
 * The facts file gets what the rows add up to.
 */
static int
write_paypal_srf(const char *path, FILE *facts)
{
	struct cursor c[NSTREAMS], *best;
	struct srf_sums sum = {0, 0, 0, 0};
	char id[PAYPAL_ID_LEN + 1], ref[PAYPAL_ID_LEN + 1];
	char withdrawal[PAYPAL_ID_LEN + 1] = "", invoice[24], bank[24];
	char account[14], next[11];
	int64_t gross = 0, fee = 0;
	uint64_t rows;
	FILE *f;
	int bad;

	if ((f = fopen(path, "w")) == NULL)
		return msg_fail(EX_IOERR, "%s:", path);
	srf_account(account);
	civil_date((int64_t)cf.day + 1, next);
	fprintf(f,
		"\xEF\xBB\xBF\"RH\",%.4s/%.2s/%.2s 02:10:41 +0000,\"A\","
		"\"%s\",009,\r\n\"FH\",01\r\n\"SH\",",
		next, next + 5, next + 8, account);
	srf_time(f, cf.date, 0);
	fputc(',', f);
	srf_time(f, cf.date, DAY_SECONDS - 1);
	fprintf(f,
		",\"%s\",\"\"\r\n\"CH\",\"Transaction ID\",\"Invoice ID\","
		"\"PayPal Reference ID\",\"PayPal Reference ID Type\","
		"\"Transaction Event Code\",\"Transaction Initiation Date\","
		"\"Transaction Completion Date\","
		"\"Transaction  Debit or Credit\",\"Gross Transaction Amount\","
		"\"Gross Transaction Currency\",\"Fee Debit or Credit\","
		"\"Fee Amount\",\"Fee Currency\",\"Custom Field\","
		"\"Consumer ID\",\"Payment Tracking ID\",\"Store ID\","
		"\"Bank Reference ID\",\"Credit Transactional Fee\","
		"\"Credit Promotional Fee\",\"Credit Term\"\r\n",
		account);
	start_cursors(c, GW_PAYPAL, 0);
	while ((best = earliest(c)) != NULL) {
		const struct event *ev = &best->ev;
		/* completed a few seconds later, within the day */
		int done = ev->time + 5 < DAY_SECONDS ? ev->time + 5 : ev->time;
		int64_t pf =
		    ev->stream == ST_REFUND ? 0 : paypal_fee(ev->amount);

		paypal_id(ev->txn_id, id);
		snprintf(invoice, sizeof(invoice), "#%" PRIu64,
			 1001 + ev->order);
		if (ev->stream == ST_REFUND)
			paypal_id(ev->parent_txn_id, ref);
		else
			ref[0] = '\0';
		srf_body(f, &sum, id, invoice, ref,
			 ev->stream == ST_REFUND ? "T1107" : "T0006", ev->time,
			 done, ev->amount, pf, "", "");
		gross += ev->amount;
		fee += pf;
		advance(best);
	}
	rows = sum.rows;
	if (rows > 0) {
		paypal_id(day_id(ID_PAYPAL_PAYOUT, 1), withdrawal);
		snprintf(bank, sizeof(bank), "BNK-%.4s%.2s%.2s-1", cf.date,
			 cf.date + 5, cf.date + 8);
		srf_body(f, &sum, withdrawal, "", "", "T0400", DAY_SECONDS - 1,
			 DAY_SECONDS - 1, -(gross - fee), 0, "Sweep to bank",
			 bank);
	}
	srf_footer(f, "SF", &sum);
	fprintf(f, "\"SC\",%" PRIu64 "\r\n", sum.rows);
	srf_footer(f, "RF", &sum);
	fprintf(f, "\"RC\",%" PRIu64 "\r\n\"FF\",%" PRIu64 "\r\n", sum.rows,
		sum.rows);
	bad = ferror(f);
	if (fclose(f) != 0 || bad)
		return msg_fail(EX_IOERR, "%s:", path);
	if (facts != NULL) {
		fprintf(facts, "{\"fact\":\"paypal\",\"payout\":");
		if (rows > 0)
			fprintf(facts, "\"%s\"", withdrawal);
		else
			fputs("null", facts);
		fprintf(facts, ",\"currency\":\"%s\",\"rows\":%" PRIu64,
			cf.cur.code, rows);
		fact_money(facts, "gross", gross);
		fact_money(facts, "fee", fee);
		fact_money(facts, "net", gross - fee);
		fputs("}\n", facts);
	}
	return 0;
}

/*
 * The number operand of option opt, at most max.  Prints why not and
 * returns -1 when it is not one.
 */
static int
number_arg(const char *opt, const char *arg, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*arg >= '0' && *arg <= '9') {
		v = strtoull(arg, &end, 10);
		if (errno == 0 && *end == '\0' && v <= max) {
			*out = v;
			return 0;
		}
	}
	msg_warn("'%s' takes a number from 0 to %" PRIu64 ", not '%s'", opt,
		 max, arg);
	return -1;
}

/* Text that goes into JSON and keys unescaped: [A-Za-z0-9._-]. */
static int
plain_word(const char *s, size_t max)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		      s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static void
set_currency(struct currency *c, const char *code)
{
	memcpy(c->code, code, 3);
	c->code[3] = '\0';
	c->exp = currency_exponent(c->code);
	snprintf(c->tail, sizeof(c->tail), "\",\"currencyCode\":\"%s\"}",
		 c->code);
	c->tail_len = strlen(c->tail);
}

/*
 * The foreign presentment currency and a fixed rate to it, as a fraction
 * of minor units reduced to lowest terms.
 */
static void
set_fx(void)
{
	static const struct {
		const char *code;
		int64_t ppm; /* foreign major units per million */
	} rates[] = {
	    {"EUR", 1080000}, {"GBP", 1270000}, {"CHF", 1130000},
	    {"JPY", 6700},    {"KWD", 3250000}, {"USD", 930000},
	};
	int64_t ppm = 1000000, num, den, a, b, t;
	unsigned i;
	int k;

	set_currency(&cf.fx, strcmp(cf.cur.code, "USD") == 0 ? "EUR" : "USD");
	for (i = 0; i < NELEM(rates); i++)
		if (strcmp(rates[i].code, cf.cur.code) == 0)
			ppm = rates[i].ppm;
	num = ppm;
	den = 1000000;
	for (k = 0; k < cf.fx.exp; k++)
		num *= 10;
	for (k = 0; k < cf.cur.exp; k++)
		den *= 10;
	for (a = num, b = den; b != 0; t = a % b, a = b, b = t)
		;
	cf.fx_num = num / a;
	cf.fx_den = den / a;
}

/* Output that did not reach its file is an error, as DESIGN asks. */
static int
close_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
		return msg_fail(EX_IOERR, "stdout:");
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: gen-day [--seed N] [--orders N] [--date YYYY-MM-DD] "
		"[--shop HANDLE]\n"
		"               [--currency CUR] [--payouts N] [--facts FILE] "
		"[--api VERSION]\n"
		"               [--paypal-srf FILE] [--prior-pending] "
		"[--disputes N]\n"
		"               [--reserve AMOUNT]\n"
		"       gen-day -h | --help | --version\n");
}

/*
 * gen-day writes one made-up but consistent Shopify business day, as the
 * raw envelopes shopify-extract writes: the catalogue, the orders in the
 * order they were processed, the disputes, the Shopify Payments payouts
 * and their balance transactions; and, if asked, the day's PayPal
 * Settlement Report.  Every number adds up to the minor unit, the same
 * arguments give the same bytes, and a day of any size streams in flat
 * memory, so it serves the sample day, the tests and the benchmarks.
 */
int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"seed", required_argument, NULL, 's'},
	    {"orders", required_argument, NULL, 'n'},
	    {"date", required_argument, NULL, 'd'},
	    {"shop", required_argument, NULL, 'S'},
	    {"currency", required_argument, NULL, 'c'},
	    {"payouts", required_argument, NULL, 'p'},
	    {"facts", required_argument, NULL, 'f'},
	    {"api", required_argument, NULL, 'a'},
	    {"paypal-srf", required_argument, NULL, 'P'},
	    {"prior-pending", no_argument, NULL, 'r'},
	    {"disputes", required_argument, NULL, 'D'},
	    {"reserve", required_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *date = "2026-11-26", *currency = "EUR", *facts_path = NULL;
	const char *srf_path = NULL, *reserve = NULL, *why;
	uint64_t v = 0, events = 0, pending = 0;
	FILE *facts = NULL;
	struct order o;
	int ch, rv = 0, bad = 0, pend, i, prior_pending = 0;
	unsigned p;
	int64_t days;
	char amount[MONEY_TEXT_MAX];

	msg_init("gen-day");
	opterr = 0; /* say it in msg.h's words */
	cf.seed = 1;
	cf.orders = 40;
	cf.payouts = 2;
	cf.shop = "demo";
	cf.api = "2025-07";
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			bad =
			    number_arg("--seed", optarg, UINT64_MAX, &cf.seed);
			break;
		case 'n':
			bad = number_arg("--orders", optarg, MAX_ORDERS, &v);
			cf.orders = v;
			break;
		case 'p':
			bad = number_arg("--payouts", optarg, MAX_PAYOUTS, &v);
			cf.payouts = (unsigned)v;
			break;
		case 'D':
			bad =
			    number_arg("--disputes", optarg, MAX_DISPUTES, &v);
			cf.disputes = (unsigned)v;
			break;
		case 'd':
			date = optarg;
			break;
		case 'S':
			cf.shop = optarg;
			break;
		case 'c':
			currency = optarg;
			break;
		case 'f':
			facts_path = optarg;
			break;
		case 'a':
			cf.api = optarg;
			break;
		case 'P':
			srf_path = optarg;
			break;
		case 'r':
			prior_pending = 1;
			break;
		case 'R':
			reserve = optarg;
			break;
		case 'h':
			usage(stdout);
			return close_stdout();
		case 'V':
			printf("gen-day %s\n", TILLROLL_VERSION);
			return close_stdout();
		default:
			msg_warn("bad option or missing value: '%s'",
				 argv[optind - 1]);
			goto usage;
		}
		if (bad)
			goto usage;
	}
	if (optind != argc) {
		msg_warn("unexpected operand '%s'", argv[optind]);
		goto usage;
	}
	if (utc_check_date(date, &why) != 0) {
		msg_warn("'--date' %s: '%s'", why, date);
		goto usage;
	}
	days = utc_day_number(date) - utc_day_number("2000-01-01");
	/* The day is part of every id, which has room for 100000 days. */
	if (days < 0 || days >= 100000) {
		msg_warn("'--date' must be from 2000-01-01 to 2273-10-15");
		goto usage;
	}
	if (currency_exponent(currency) < 0) {
		msg_warn("'--currency' takes an ISO 4217 code, not '%s'",
			 currency);
		goto usage;
	}
	if (!plain_word(cf.shop, 64) || !plain_word(cf.api, 32)) {
		msg_warn("'--shop' and '--api' take [A-Za-z0-9._-]");
		goto usage;
	}
	set_currency(&cf.cur, currency);
	if (reserve != NULL &&
	    (money_parse(reserve, strlen(reserve), cf.cur.exp, &cf.reserve,
			 &why) != 0 ||
	     cf.reserve <= 0 || cf.reserve > 1000000000000LL)) {
		msg_warn("'--reserve' takes a positive amount in %s, not '%s'",
			 cf.cur.code, reserve);
		goto usage;
	}
	/* Disputes and reserves are taken from payouts; there must be one. */
	if ((cf.disputes > 0 || cf.reserve > 0) && cf.payouts == 0) {
		msg_warn("'--disputes' and '--reserve' need '--payouts' of 1 "
			 "or more");
		goto usage;
	}
	/* A PayPal report counts hundredths, which a dinar's fils are not. */
	if (srf_path != NULL && cf.cur.exp > 2) {
		msg_warn("'--paypal-srf' counts hundredths, and %s has %d "
			 "decimals",
			 cf.cur.code, cf.cur.exp);
		goto usage;
	}

	set_fx();
	for (p = 0; p < NPRODUCTS; p++)
		for (i = 0; i < catalogue[p].nvariants; i++) {
			variants[nvariants].p = (int)p;
			variants[nvariants++].v = i;
			if (!catalogue[p].giftcard)
				nsellable = nvariants;
		}
	set_envelope(env_order, sizeof(env_order), "order");
	set_envelope(env_product, sizeof(env_product), "product");
	set_envelope(env_payout, sizeof(env_payout), "payout");
	set_envelope(env_balance, sizeof(env_balance), "balance_transaction");
	set_envelope(env_dispute, sizeof(env_dispute), "dispute");

	if (facts_path != NULL && (facts = fopen(facts_path, "w")) == NULL)
		return msg_fail(EX_IOERR, "%s:", facts_path);

	set_day((uint64_t)days);
	/* 2000-01-01 has no day before it in the id space. */
	if (prior_pending && cf.payouts > 0 && days > 0)
		plan_prior();
	clear_plan();
	print_products();

	/* The orders, counting their balance transactions by second. */
	for (v = 0; v < cf.orders && !oerrno; v++) {
		scenario(v, &o);
		complete(&o);
		print_order(&o);
		if (facts != NULL)
			fact_order(facts, &o);
		plan_order(&o, &events);
	}

	pend = cut_payouts(events, day_adjustment());
	place_extras(pend);
	if (cf.payouts > 0) {
		payouts[0].charges += prior.charges;
		payouts[0].charge_fees += prior.charge_fees;
		payouts[0].refunds += prior.refunds;
		payouts[0].rows += prior.rows;
	}
	for (p = 0; p < ndisputes; p++) {
		const struct dispute *d = &disputes[p];

		print_dispute(d);
		if (facts != NULL) {
			fprintf(facts,
				"{\"fact\":\"dispute\",\"key\":\"%s/dispute/"
				"%" PRIu64 "\",\"order\":\"%s/order/%" PRIu64
				"\",\"currency\":\"%s\"",
				cf.shop, d->id, cf.shop,
				day_id(ID_ORDER, d->order), cf.cur.code);
			fact_money(facts, "amount", d->amount);
			fact_money(facts, "fee", scale(1500));
			fprintf(facts, ",\"status\":\"%s\"}\n",
				d->won_time >= 0 ? "won" : "needs_response");
		}
	}
	for (p = 0; p < cf.payouts; p++) {
		print_payout(&payouts[p]);
		if (facts != NULL) {
			money_format(payout_net(&payouts[p]), cf.cur.exp,
				     amount);
			fprintf(facts,
				"{\"fact\":\"payout\",\"key\":\"%s/payout/"
				"%" PRIu64
				"\",\"currency\":\"%s\",\"amount\":\"%s\","
				"\"lines\":%" PRIu64 "}\n",
				cf.shop, payouts[p].id, cf.cur.code, amount,
				payouts[p].rows);
		}
	}
	if (!oerrno)
		rv = print_balances(pend, &pending);
	oflush();
	if (rv == 0 && !oerrno && srf_path != NULL)
		rv = write_paypal_srf(srf_path, facts);

	if (facts != NULL) {
		fprintf(facts,
			"{\"fact\":\"day\",\"orders\":%" PRIu64
			",\"payouts\":%u,\"balance_transactions\":%" PRIu64
			",\"pending\":%" PRIu64 ",\"prior_pending\":%" PRIu64
			",\"disputes\":%u,\"products\":%u}\n",
			cf.orders, cf.payouts, balance_rows, pending,
			cf.payouts > 0 ? prior.rows : 0, ndisputes,
			(unsigned)NPRODUCTS);
		if ((ferror(facts) || fclose(facts) != 0) && rv == 0)
			rv = msg_fail(EX_IOERR, "%s:", facts_path);
	}
	if (oerrno) {
		errno = oerrno;
		return msg_fail(EX_IOERR, "stdout:");
	}
	return close_stdout() != 0 ? EX_IOERR : rv;

usage:
	usage(stderr);
	return EX_USAGE;
}
