/* See LICENSE file for copyright and license details. */
/*
 * match-settlement: reconcile every payout to the cent.
 *
 * Reads a day's canonical records (tillroll-records(5)) and an index of
 * the payments, refunds, settlement lines and payouts of earlier days that
 * it keeps itself (--index DIR).  Every settlement line gets a "match"
 * block saying which order transaction it settles and by which rule, or
 * why none: unmatched, a duplicate of a line already seen, ambiguous, or
 * not applicable (payout rows, reserves, adjustments without an order).
 * Every payout that the day names, or whose lines the day brings, gets one
 * "payout_recon" record: the deposit against the sum of its lines, the
 * check of Shopify's summary, the counts by match status and the payout's
 * journal entry split by account role, each entry line listing the
 * settlement lines it covers.  Payments of a settling gateway that no
 * payout has carried after --overdue-days days are reported as
 * "payment_overdue" records.
 *
 * Records are written in input order, settlement lines with their block;
 * then the payout_recon records by payout key, then the payment_overdue
 * records by payment key.  The whole day is spooled to a temporary file
 * first, because a payout's lines may come before or after the payout and
 * the payments they settle; memory holds only the index and the day's
 * compact join fields.  The index is rewritten atomically at the end of a
 * run that did not fail on input or output, so that a rerun of the same
 * day replaces that day's contribution instead of adding to it.
 *
 * Records are read with jr (jr.h), without a jv tree: once as they come,
 * and each settlement line once more as the spool is written out.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <jv.h>

#include "jr.h"
#include "json.h"
#include "jw.h"
#include "money.h"
#include "msg.h"
#include "textpool.h"
#include "ndjson.h"
#include "stage.h"
#include "strmap.h"
#include "utctime.h"

#define SCHEMA_VERSION 1
#define INDEX_MAGIC "tillroll-match-index\t1"
#define INDEX_FILE "match-index.tsv"
#define LOCK_FILE "match-index.lock"
#define MAX_WARNINGS 20

/* What --fail-on asks to turn into exit status 65. */
enum {
	FAIL_UNBALANCED = 1, /* unbalanced payouts and overdue payments */
	FAIL_INCOMPLETE = 2,
	FAIL_UNMATCHED = 4, /* unmatched and ambiguous lines */
	FAIL_DUPLICATE = 8,
};

/* Options, as OpenBSD's tools keep them: file-scope, set once by main. */
static const char *index_dir;
static int index_readonly;
static char run_day[11];      /* --date, or the latest date of the day */
static long overdue_days = 7; /* --overdue-days */
static long date_window = 3;  /* --date-window, for CSV export rows */
static int fail_on;	      /* FAIL_* bits */

/*
 * Strings of the day's records are copied into an arena that lives until
 * the end of the run; strings of the index point into its file buffer.
 * Either way the structs below borrow them.
 */
static struct textpool arena = TEXTPOOL_INIT;

/* The len bytes at s, NUL-terminated, into the arena. */
static const char *
save_bytes(const char *s, size_t len)
{
	const char *p = textpool_keep(&arena, s, len);

	if (p == NULL) {
		msg_warn("out of memory");
		exit(EX_OSERR);
	}
	return p;
}

static const char *
save(const char *s)
{
	return s != NULL ? save_bytes(s, strlen(s)) : NULL;
}

/* Grow a dynamic array *v of *n elements of size sz by one; abort on OOM. */
static void *
push(void *v, size_t *n, size_t *cap, size_t sz)
{
	if (*n == *cap) {
		/* By half: at a million records doubling wastes a third. */
		*cap = *cap ? *cap + *cap / 2 : 256;
		if ((v = realloc(v, *cap * sz)) == NULL) {
			msg_warn("out of memory");
			exit(EX_OSERR);
		}
	}
	(*n)++;
	return v;
}
#define PUSH(arr, n, cap)                                                      \
	((arr) = push((arr), &(n), &(cap), sizeof(*(arr))), &(arr)[(n)-1])

static void
map_put(struct strmap *m, const char *key, int32_t val)
{
	if (strmap_put(m, key, val) < 0) {
		msg_warn("out of memory");
		exit(EX_OSERR);
	}
}

/*
 * Strings that take few values over a day (a type, a currency, a gateway,
 * a date, a payout) saved once each: at a million orders, saving them
 * anew for every record cost about a tenth of the memory.
 */
static const char **commons;
static size_t ncommons, capcommons;
static struct strmap common_index;

static const char *
save_common(const char *s)
{
	int32_t i;

	if (s == NULL)
		return NULL;
	if ((i = strmap_get(&common_index, s)) >= 0)
		return commons[i];
	*PUSH(commons, ncommons, capcommons) = save(s);
	map_put(&common_index, commons[ncommons - 1], (int32_t)(ncommons - 1));
	return commons[ncommons - 1];
}

/* An order transaction (payment record), of the day or of the index. */
struct payment {
	const char *key, *id, *order_key, *order_name, *type, *currency;
	const char *date; /* processed_at's UTC date */
	const char *authorization, *gateway, *parent_id;
	const char *src_sha256, *src_file;
	const char *day; /* the run that brought it; NULL for this run */
	int64_t amount;
	unsigned moves_money : 1, test : 1, dead : 1, settled : 1;
	int32_t next_order, next_auth, next_name; /* chains, -1 ends */
};

/* A settlement line.  Lines of the index carry their stored match. */
struct sline {
	const char *key, *gateway, *type, *currency, *payout_key;
	const char *payout_status, *order_key, *order_name, *payment_key;
	const char *payment_reference, *date, *day;
	int64_t amount, fee, net;
	int exp;
	const char *status, *rule; /* the match */
	const char *m_payment, *m_refund, *m_order, *duplicate_of;
	int32_t cand_first, ncand; /* candidates[] slice, for ambiguous */
	unsigned today : 1, dead : 1, assigned : 1, stored : 1;
	int32_t next_payout; /* index lines of the same payout, -1 ends */
	int32_t next_order;  /* live lines of the same order, -1 ends */
};

struct payout {
	const char *key, *id, *gateway, *currency, *date, *status;
	const char *summary, *src; /* JSON text, or NULL */
	const char *day;
	int64_t amount;
	int exp;
	unsigned known : 1, today : 1, dead : 1, recon : 1;
	int32_t *lines; /* today's lines and live index lines */
	size_t nlines, caplines;
};

struct refund_link {
	const char *payment_key, *refund_key, *day;
};

/* An order of the day, kept to notice edits made after its payout. */
struct order_seen {
	const char *key, *updated_date, *currency;
	int64_t total;
};

static struct payment *payments;
static size_t npayments, cappayments;
static struct sline *lines;
static size_t nlines, caplines;
static struct payout *payouts;
static size_t npayouts, cappayouts;
static struct refund_link *refunds;
static size_t nrefunds, caprefunds;
static struct order_seen *orders;
static size_t norders, caporders;
static const char **candidates;
static size_t ncandidates, capcandidates;

static struct strmap payment_by_key, line_by_key, payout_by_key;
static struct strmap refund_by_payment, today_assigned;
static struct strmap order_head, auth_head, name_head, payout_line_head;
static struct strmap order_line_head;
static struct strmap settling_gateways;

/*
 * The input spooled: one tag a line, the index of its kind in kind_names,
 * with SETTLEMENT_TAG set for a settlement line.
 */
#define SETTLEMENT_TAG 0x8000u
static FILE *spool;
static uint16_t *tags;
static size_t ntags, captags;
static const char **kind_names;
static size_t nkind_names, capkind_names;
static struct strmap kind_index;

static uint16_t
kind_tag(const char *kind)
{
	int32_t i = strmap_get(&kind_index, kind);

	if (i >= 0)
		return (uint16_t)i;
	if (nkind_names >= SETTLEMENT_TAG - 1)
		return 0; /* absurdly many kinds: count them as the first */
	*PUSH(kind_names, nkind_names, capkind_names) = save(kind);
	map_put(&kind_index, kind_names[nkind_names - 1],
		(int32_t)(nkind_names - 1));
	return (uint16_t)(nkind_names - 1);
}

static char *index_buf; /* the index file, split in place */

/*
 * The record being read: of the input as it comes, then of the spool as
 * it is written out.  Its values die at the next record, so whatever is
 * kept is saved into the arena.
 */
static struct jr_doc rec_doc;

/*
 * Read text (n bytes) into d; NULL when it is not JSON.  Running out of
 * memory ends the run, as it does in save().
 */
static jr
read_json(struct jr_doc *d, const char *text, size_t n)
{
	jr v = jr_parse(d, text, n);

	if (v == NULL && d->nomem) {
		msg_warn("out of memory");
		exit(EX_OSERR);
	}
	return v;
}

/* Parse a money field of rec in exponent exp. */
static int
money_field(jr rec, const char *field, int exp, int64_t *minor, char *why,
	    size_t whylen)
{
	const char *s = jr_get_str(rec, field), *w;

	if (s == NULL) {
		snprintf(why, whylen, "'%s' is missing", field);
		return -1;
	}
	if (money_parse(s, strlen(s), exp, minor, &w) < 0) {
		snprintf(why, whylen, "'%s' %s", field, w);
		return -1;
	}
	return 0;
}

/* The UTC date of an RFC 3339 time, as a saved string, or NULL. */
static const char *
date_of(const char *t)
{
	char d[11];

	if (t == NULL || strlen(t) < 10)
		return NULL;
	memcpy(d, t, 10);
	d[10] = '\0';
	if (utc_check_date(d, &(const char *){NULL}) < 0)
		return NULL;
	return save_common(d);
}

static void
note_day(const char *d)
{
	if (d != NULL && strcmp(d, run_day) > 0)
		snprintf(run_day, sizeof(run_day), "%s", d);
}

static int auto_day; /* run_day is derived from the data */

/* The shop part of a key "<shop>/<kind>/<id>", into buf. */
static const char *
shop_of(const char *key, char *buf, size_t n)
{
	const char *slash = strchr(key, '/');
	size_t len = slash ? (size_t)(slash - key) : strlen(key);

	if (len >= n)
		len = n - 1;
	memcpy(buf, key, len);
	buf[len] = '\0';
	return buf;
}

static int
is_charge_type(const char *type)
{
	return strcmp(type, "sale") == 0 || strcmp(type, "capture") == 0;
}

/* ------------------------------------------------------------------ */
/* Reading the day. */

static int
take_settlement(jr rec, char *why, size_t whylen)
{
	struct sline l;
	const char *key = jr_get_str(rec, "key");
	const char *gateway = jr_get_str(rec, "gateway");
	const char *type = jr_get_str(rec, "type");
	const char *cur = jr_get_str(rec, "currency"), *ps;
	int64_t diff;

	memset(&l, 0, sizeof(l));
	if (key == NULL || gateway == NULL || type == NULL) {
		snprintf(why, whylen, "'key', 'gateway' or 'type' is missing");
		return -1;
	}
	if ((l.exp = currency_exponent(cur)) < 0) {
		snprintf(why, whylen, "'currency' is not an ISO 4217 code");
		return -1;
	}
	if (money_field(rec, "amount", l.exp, &l.amount, why, whylen) < 0 ||
	    money_field(rec, "fee", l.exp, &l.fee, why, whylen) < 0 ||
	    money_field(rec, "net", l.exp, &l.net, why, whylen) < 0)
		return -1;
	if (money_add(l.amount, -l.fee, &diff) < 0 || diff != l.net) {
		snprintf(why, whylen, "'net' is not amount - fee");
		return -2;
	}
	l.key = save(key);
	l.gateway = save_common(gateway);
	l.type = save_common(type);
	l.currency = save_common(cur);
	ps = jr_get_str(rec, "payout_status");
	l.payout_status = save_common(ps);
	l.payout_key = save_common(jr_get_str(rec, "payout_key"));
	/* A pending line is in no payout yet, whatever else it says. */
	l.assigned =
	    l.payout_key != NULL && (ps == NULL || strcmp(ps, "pending") != 0);
	l.order_key = save(jr_get_str(rec, "order_key"));
	l.order_name = save(jr_get_str(rec, "order_name"));
	l.payment_key = save(jr_get_str(rec, "payment_key"));
	l.payment_reference = save(jr_get_str(rec, "payment_reference"));
	l.date = date_of(jr_get_str(rec, "processed_at"));
	l.today = 1;
	l.next_payout = -1;
	l.cand_first = -1;
	*PUSH(lines, nlines, caplines) = l;
	map_put(&settling_gateways, l.gateway, 1);
	if (auto_day)
		note_day(l.date);
	return 0;
}

static int
take_payment(jr rec, char *why, size_t whylen)
{
	struct payment p;
	const char *key = jr_get_str(rec, "key");
	const char *type = jr_get_str(rec, "type");
	const char *cur = jr_get_str(rec, "currency"), *status;
	jr src = jr_get(rec, "src"), mm = jr_get(rec, "moves_money");
	int exp;

	memset(&p, 0, sizeof(p));
	if (key == NULL || type == NULL) {
		snprintf(why, whylen, "'key' or 'type' is missing");
		return -1;
	}
	if ((exp = currency_exponent(cur)) < 0) {
		snprintf(why, whylen, "'currency' is not an ISO 4217 code");
		return -1;
	}
	if (money_field(rec, "amount", exp, &p.amount, why, whylen) < 0)
		return -1;
	p.key = save(key);
	p.id = save(jr_get_str(rec, "id"));
	p.order_key = save(jr_get_str(rec, "order_key"));
	p.order_name = save(jr_get_str(rec, "order_name"));
	p.type = save_common(type);
	p.currency = save_common(cur);
	p.date = date_of(jr_get_str(rec, "processed_at"));
	if (p.date == NULL)
		p.date = date_of(jr_get_str(rec, "created_at"));
	p.authorization = save(jr_get_str(rec, "authorization"));
	p.gateway = save_common(jr_get_str(rec, "gateway"));
	p.parent_id = save(jr_get_str(rec, "parent_id"));
	p.src_sha256 = save(jr_get_str(src, "sha256"));
	p.src_file = save_common(jr_get_str(src, "file"));
	status = jr_get_str(rec, "status");
	/* Older records may lack moves_money; derive it as normalize does. */
	if (jr_kind(mm) == JR_TRUE || jr_kind(mm) == JR_FALSE)
		p.moves_money = jr_kind(mm) == JR_TRUE;
	else
		p.moves_money =
		    status != NULL && strcmp(status, "success") == 0 &&
		    (is_charge_type(p.type) || strcmp(p.type, "refund") == 0);
	p.test = jr_kind(jr_get(rec, "test")) == JR_TRUE;
	p.next_order = p.next_auth = p.next_name = -1;
	*PUSH(payments, npayments, cappayments) = p;
	if (auto_day)
		note_day(p.date);
	return 0;
}

static int
take_refund(jr rec, char *why, size_t whylen)
{
	const char *key = jr_get_str(rec, "key");
	jr pays = jr_get(rec, "payments");

	if (key == NULL) {
		snprintf(why, whylen, "'key' is missing");
		return -1;
	}
	key = save(key);
	if (jr_kind(pays) != JR_ARRAY)
		return 0;
	jr_foreach(pays, pk)
	{
		if (jr_kind(pk) == JR_STRING) {
			struct refund_link *r =
			    PUSH(refunds, nrefunds, caprefunds);

			r->payment_key = save(jr_str(pk));
			r->refund_key = key;
			r->day = NULL;
		}
	}
	return 0;
}

static struct jw text_writer; /* for canonical_text */

/* Canonical JSON text of rec[field], sorted, saved; NULL when null. */
static const char *
canonical_text(jr rec, const char *field)
{
	jr v = jr_get(rec, field);
	const char *text;
	size_t len;

	if (jr_kind(v) == JR_ABSENT || jr_kind(v) == JR_NULL)
		return NULL;
	jw_reset(&text_writer);
	jw_jr(&text_writer, v);
	text = jw_text(&text_writer, &len);
	if (jw_failed(&text_writer)) {
		msg_warn("out of memory");
		exit(EX_OSERR);
	}
	return save_bytes(text, len);
}

static int
take_payout(jr rec, char *why, size_t whylen)
{
	struct payout p;
	const char *key = jr_get_str(rec, "key");
	const char *cur = jr_get_str(rec, "currency");

	memset(&p, 0, sizeof(p));
	if (key == NULL) {
		snprintf(why, whylen, "'key' is missing");
		return -1;
	}
	if ((p.exp = currency_exponent(cur)) < 0) {
		snprintf(why, whylen, "'currency' is not an ISO 4217 code");
		return -1;
	}
	if (money_field(rec, "amount", p.exp, &p.amount, why, whylen) < 0)
		return -1;
	p.key = save(key);
	p.id = save(jr_get_str(rec, "id"));
	p.gateway = save(jr_get_str(rec, "gateway"));
	p.currency = save(cur);
	p.date = save(jr_get_str(rec, "date"));
	p.status = save(jr_get_str(rec, "status"));
	p.summary = canonical_text(rec, "summary");
	p.src = canonical_text(rec, "src");
	p.known = p.today = 1;
	*PUSH(payouts, npayouts, cappayouts) = p;
	if (auto_day)
		note_day(p.date);
	return 0;
}

static void
take_order(jr rec)
{
	const char *key = jr_get_str(rec, "key");
	const char *c = jr_get_str(rec, "currency");
	const char *total = jr_get_str(jr_get(rec, "current"), "total"), *w;
	struct order_seen o;
	int exp = currency_exponent(c);

	/* Only what is needed to notice an edit; the order passes anyway. */
	if (key != NULL && total != NULL && exp >= 0 &&
	    money_parse(total, strlen(total), exp, &o.total, &w) == 0 &&
	    (o.updated_date = date_of(jr_get_str(rec, "updated_at"))) != NULL) {
		o.key = save(key);
		o.currency = save_common(c);
		*PUSH(orders, norders, caporders) = o;
	}
}

static void
process(struct stage *st, const char *line, size_t len, const char *file,
	unsigned long lineno, int *io_error)
{
	jr rec = read_json(&rec_doc, line, len);
	const char *kind;
	char why[200];
	int rc = 0;
	unsigned tag = 0;

	st->in++;
	if (rec == NULL) {
		counters_add(&st->in_kind, "(not json)");
		stage_reject(st, file, lineno, line, len, "bad_json",
			     "not JSON");
		return;
	}
	if (jr_kind(rec) != JR_OBJECT ||
	    (kind = jr_get_str(rec, "kind")) == NULL) {
		counters_add(&st->in_kind, "(no kind)");
		stage_reject(st, file, lineno, line, len, "not_record",
			     "not a record: expected an object with a 'kind'");
		return;
	}
	counters_add(&st->in_kind, kind);
	if (strcmp(kind, "payout_recon") == 0 ||
	    strcmp(kind, "payment_overdue") == 0) {
		/* This run's own output kinds, from an earlier run: made anew.
		 */
		st->dropped++;
		counters_add(&st->drops, "recomputed");
		return;
	}
	if (strcmp(kind, "settlement") == 0) {
		rc = take_settlement(rec, why, sizeof(why));
		tag = SETTLEMENT_TAG;
	} else if (strcmp(kind, "payment") == 0) {
		rc = take_payment(rec, why, sizeof(why));
	} else if (strcmp(kind, "refund") == 0) {
		rc = take_refund(rec, why, sizeof(why));
	} else if (strcmp(kind, "payout") == 0) {
		rc = take_payout(rec, why, sizeof(why));
	} else if (strcmp(kind, "order") == 0) {
		take_order(rec);
	}
	if (rc < 0) {
		const char *key = jr_get_str(rec, "key");
		char detail[400];

		snprintf(detail, sizeof(detail), "%.40s '%.100s': %s", kind,
			 key ? key : "?", why);
		stage_reject(st, file, lineno, line, len,
			     rc == -2 ? "inconsistent_amounts" : "bad_field",
			     detail);
		return;
	}
	tag |= kind_tag(kind);
	*PUSH(tags, ntags, captags) = (uint16_t)tag;
	if (fwrite(line, 1, len, spool) != len || putc('\n', spool) == EOF)
		*io_error = 1;
}

/* ------------------------------------------------------------------ */
/* The index. */

/* Undo the escapes of write_field in place; "\N" is NULL. */
static const char *
unescape(char *s)
{
	char *r = s, *w = s;

	if (strcmp(s, "\\N") == 0)
		return NULL;
	while (*r) {
		if (r[0] == '%' && r[1] && r[2]) {
			char hex[3] = {r[1], r[2], '\0'};

			*w++ = (char)strtol(hex, NULL, 16);
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return s;
}

static int
write_field(FILE *f, const char *s, int last)
{
	if (s == NULL) {
		fputs("\\N", f);
	} else {
		for (; *s; s++) {
			if (*s == '%' || *s == '\t' || *s == '\n' ||
			    *s == '\r' || *s == '\\')
				fprintf(f, "%%%02X", (unsigned char)*s);
			else
				putc(*s, f);
		}
	}
	return putc(last ? '\n' : '\t', f);
}

static void
write_fields(FILE *f, const char **v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		write_field(f, v[i], i == n - 1);
}

static const char *
money_text(int64_t minor, int exp)
{
	char buf[MONEY_TEXT_MAX];

	money_format(minor, exp, buf);
	return save(buf);
}

/*
 * A later version of the same key replaces an earlier one: a payment or
 * payout re-extracted after an edit, a line that was pending and now has
 * its payout.  A line already in a payout is never replaced by a pending
 * copy of itself.
 */
static int
newer(const char *day_a, const char *day_b)
{
	if (day_a == NULL)
		return day_b != NULL;
	return day_b != NULL && strcmp(day_b, day_a) > 0;
}

#define NFIELDS 20

static int
load_row(char **f, int nf, char *why, size_t whylen)
{
	const char *kind = f[0], *day = f[1], *w;
	int exp;

	if (nf < 2 || utc_check_date(day, &w) < 0) {
		snprintf(why, whylen, "not a row of the index");
		return -1;
	}
	/* Rows of this day or later are this run's to replace. */
	if (strcmp(day, run_day) >= 0)
		return 0;
	if (strcmp(kind, "P") == 0 && nf == 17) {
		struct payment p;
		int32_t old;

		memset(&p, 0, sizeof(p));
		p.day = day;
		p.key = unescape(f[2]);
		p.id = unescape(f[3]);
		p.order_key = unescape(f[4]);
		p.order_name = unescape(f[5]);
		p.type = unescape(f[6]);
		p.moves_money = f[7][0] == '1';
		p.test = f[8][0] == '1';
		p.currency = unescape(f[9]);
		p.date = unescape(f[11]);
		p.authorization = unescape(f[12]);
		p.gateway = unescape(f[13]);
		p.parent_id = unescape(f[14]);
		p.src_sha256 = unescape(f[15]);
		p.src_file = unescape(f[16]);
		if (p.key == NULL || p.type == NULL ||
		    (exp = currency_exponent(p.currency)) < 0 ||
		    money_parse(f[10], strlen(f[10]), exp, &p.amount, &w) < 0)
			goto bad;
		p.next_order = p.next_auth = p.next_name = -1;
		old = strmap_get(&payment_by_key, p.key);
		if (old >= 0 && !newer(payments[old].day, day))
			return 0;
		if (old >= 0)
			payments[old].dead = 1;
		*PUSH(payments, npayments, cappayments) = p;
		map_put(&payment_by_key, p.key, (int32_t)(npayments - 1));
	} else if (strcmp(kind, "R") == 0 && nf == 4) {
		struct refund_link *r = PUSH(refunds, nrefunds, caprefunds);

		r->day = day;
		r->payment_key = unescape(f[2]);
		r->refund_key = unescape(f[3]);
		if (r->payment_key == NULL || r->refund_key == NULL)
			goto bad;
	} else if (strcmp(kind, "S") == 0 && nf == 16) {
		struct sline l;
		int32_t old;

		memset(&l, 0, sizeof(l));
		l.day = day;
		l.key = unescape(f[2]);
		l.gateway = unescape(f[3]);
		l.type = unescape(f[4]);
		l.currency = unescape(f[5]);
		l.payout_key = unescape(f[9]);
		l.payout_status = unescape(f[10]);
		l.date = unescape(f[11]);
		l.status = unescape(f[12]);
		l.m_payment = unescape(f[13]);
		l.m_refund = unescape(f[14]);
		l.m_order = unescape(f[15]);
		if (l.key == NULL || l.type == NULL || l.gateway == NULL ||
		    l.status == NULL ||
		    (l.exp = currency_exponent(l.currency)) < 0 ||
		    money_parse(f[6], strlen(f[6]), l.exp, &l.amount, &w) < 0 ||
		    money_parse(f[7], strlen(f[7]), l.exp, &l.fee, &w) < 0 ||
		    money_parse(f[8], strlen(f[8]), l.exp, &l.net, &w) < 0)
			goto bad;
		l.assigned = l.payout_key != NULL;
		l.next_payout = -1;
		l.cand_first = -1;
		old = strmap_get(&line_by_key, l.key);
		if (old >= 0 && (lines[old].assigned && !l.assigned))
			return 0;
		if (old >= 0 && lines[old].assigned == l.assigned &&
		    !newer(lines[old].day, day))
			return 0;
		if (old >= 0)
			lines[old].dead = 1;
		*PUSH(lines, nlines, caplines) = l;
		map_put(&line_by_key, l.key, (int32_t)(nlines - 1));
		map_put(&settling_gateways, l.gateway, 1);
	} else if (strcmp(kind, "O") == 0 && nf == 11) {
		struct payout p;
		int32_t old;

		memset(&p, 0, sizeof(p));
		p.day = day;
		p.key = unescape(f[2]);
		p.id = unescape(f[3]);
		p.gateway = unescape(f[4]);
		p.currency = unescape(f[5]);
		p.date = unescape(f[7]);
		p.status = unescape(f[8]);
		p.summary = unescape(f[9]);
		p.src = unescape(f[10]);
		if (p.key == NULL ||
		    (p.exp = currency_exponent(p.currency)) < 0 ||
		    money_parse(f[6], strlen(f[6]), p.exp, &p.amount, &w) < 0)
			goto bad;
		p.known = 1;
		old = strmap_get(&payout_by_key, p.key);
		if (old >= 0 && !newer(payouts[old].day, day))
			return 0;
		if (old >= 0)
			payouts[old].dead = 1;
		*PUSH(payouts, npayouts, cappayouts) = p;
		map_put(&payout_by_key, p.key, (int32_t)(npayouts - 1));
	} else {
		goto bad;
	}
	return 0;
bad:
	snprintf(why, whylen, "not a row of the index");
	return -1;
}

static char index_path[4096], lock_path[4096];
static int lock_fd = -1;

/*
 * Lock the index and load the rows of days before run_day.  Returns 0, or
 * an exit status with the message printed.
 */
static int
load_index(void)
{
	FILE *f;
	long size;
	char *p, *end, why[100];
	unsigned long lineno = 0;

	if (mkdir(index_dir, 0777) < 0 && errno != EEXIST)
		return msg_fail(EX_CANTCREAT, "cannot create '%s':", index_dir);
	snprintf(index_path, sizeof(index_path), "%s/%s", index_dir,
		 INDEX_FILE);
	snprintf(lock_path, sizeof(lock_path), "%s/%s", index_dir, LOCK_FILE);
	if ((lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666)) < 0)
		return msg_fail(EX_CANTCREAT, "cannot open '%s':", lock_path);
	if (flock(lock_fd, LOCK_EX | LOCK_NB) < 0)
		return msg_fail(EX_TEMPFAIL,
				"'%s' is locked by another run; try again "
				"later",
				index_dir);
	if ((f = fopen(index_path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0; /* the first run */
		return msg_fail(EX_NOINPUT, "cannot open '%s':", index_path);
	}
	if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) < 0 ||
	    (index_buf = malloc((size_t)size + 1)) == NULL ||
	    fread(index_buf, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		return msg_fail(EX_IOERR, "cannot read '%s':", index_path);
	}
	fclose(f);
	index_buf[size] = '\0';
	end = index_buf + size;
	for (p = index_buf; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *fl[NFIELDS];
		int nf = 0;

		if (nl == NULL)
			return msg_fail(EX_DATAERR,
					"%s: line %lu: the index ends in the "
					"middle of a row",
					index_path, lineno + 1);
		*nl = '\0';
		lineno++;
		if (lineno == 1) {
			if (strcmp(p, INDEX_MAGIC) != 0)
				return msg_fail(EX_DATAERR,
						"%s: not a match-settlement "
						"index",
						index_path);
			p = nl + 1;
			continue;
		}
		fl[nf++] = p;
		for (char *q = p; *q; q++) {
			if (*q == '\t') {
				*q = '\0';
				if (nf == NFIELDS)
					break;
				fl[nf++] = q + 1;
			}
		}
		if (load_row(fl, nf, why, sizeof(why)) < 0)
			return msg_fail(EX_DATAERR, "%s: line %lu: %s",
					index_path, lineno, why);
		p = nl + 1;
	}
	if (lineno == 0 && size > 0)
		return msg_fail(EX_DATAERR, "%s: not a match-settlement index",
				index_path);
	return 0;
}

/* This run's rows of the index. */
static void
write_day_rows(FILE *out)
{
	size_t i;

	for (i = 0; i < npayments; i++) {
		const struct payment *p = &payments[i];
		const char *v[17];

		if (p->day != NULL)
			continue;
		v[0] = "P";
		v[1] = run_day;
		v[2] = p->key;
		v[3] = p->id;
		v[4] = p->order_key;
		v[5] = p->order_name;
		v[6] = p->type;
		v[7] = p->moves_money ? "1" : "0";
		v[8] = p->test ? "1" : "0";
		v[9] = p->currency;
		v[10] = money_text(p->amount, currency_exponent(p->currency));
		v[11] = p->date;
		v[12] = p->authorization;
		v[13] = p->gateway;
		v[14] = p->parent_id;
		v[15] = p->src_sha256;
		v[16] = p->src_file;
		write_fields(out, v, 17);
	}
	for (i = 0; i < nrefunds; i++) {
		const char *v[4] = {"R", run_day, refunds[i].payment_key,
				    refunds[i].refund_key};

		if (refunds[i].day == NULL)
			write_fields(out, v, 4);
	}
	for (i = 0; i < nlines; i++) {
		const struct sline *l = &lines[i];
		const char *v[16];

		if (!l->stored)
			continue;
		v[0] = "S";
		v[1] = run_day;
		v[2] = l->key;
		v[3] = l->gateway;
		v[4] = l->type;
		v[5] = l->currency;
		v[6] = money_text(l->amount, l->exp);
		v[7] = money_text(l->fee, l->exp);
		v[8] = money_text(l->net, l->exp);
		v[9] = l->assigned ? l->payout_key : NULL;
		v[10] = l->payout_status;
		v[11] = l->date;
		v[12] = l->status;
		v[13] = l->m_payment;
		v[14] = l->m_refund;
		v[15] = l->m_order;
		write_fields(out, v, 16);
	}
	for (i = 0; i < npayouts; i++) {
		const struct payout *p = &payouts[i];
		const char *v[11];

		if (!p->today)
			continue;
		v[0] = "O";
		v[1] = run_day;
		v[2] = p->key;
		v[3] = p->id;
		v[4] = p->gateway;
		v[5] = p->currency;
		v[6] = money_text(p->amount, p->exp);
		v[7] = p->date;
		v[8] = p->status;
		v[9] = p->summary;
		v[10] = p->src;
		write_fields(out, v, 11);
	}
}

/*
 * Write the new index: every row of another day from the old file, as it
 * was, then this run's rows, to a temporary file renamed over the old one,
 * so that a crash leaves the old index whole.
 */
static int
save_index(void)
{
	char tmp[4200];
	FILE *in, *out;
	char *row = NULL;
	size_t cap = 0;
	ssize_t n;
	int fd, written = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", index_path);
	if ((out = fopen(tmp, "w")) == NULL)
		return msg_fail(EX_CANTCREAT, "cannot create '%s':", tmp);
	fprintf(out, "%s\n", INDEX_MAGIC);
	/*
	 * Rows stay in the order of their days, the day's where its date
	 * falls, so that replaying a day rewrites the same bytes.
	 */
	if ((in = fopen(index_path, "r")) != NULL) {
		int first = 1;

		while ((n = getline(&row, &cap, in)) > 0) {
			char *tab = strchr(row, '\t');
			int cmp;

			if (first) {
				first = 0;
				continue;
			}
			cmp = tab != NULL ? strncmp(tab + 1, run_day, 10) : -1;
			if (cmp == 0 && tab[11] == '\t')
				continue;
			if (cmp > 0 && !written) {
				write_day_rows(out);
				written = 1;
			}
			fwrite(row, 1, (size_t)n, out);
		}
		free(row);
		if (ferror(in)) {
			fclose(in);
			fclose(out);
			unlink(tmp);
			return msg_fail(EX_IOERR,
					"cannot read '%s':", index_path);
		}
		fclose(in);
	}
	if (!written)
		write_day_rows(out);
	if (fflush(out) != 0 || ferror(out) || fsync(fileno(out)) < 0) {
		fclose(out);
		unlink(tmp);
		return msg_fail(EX_IOERR, "cannot write '%s':", tmp);
	}
	if (fclose(out) != 0 || rename(tmp, index_path) < 0) {
		unlink(tmp);
		return msg_fail(EX_IOERR, "cannot write '%s':", index_path);
	}
	/* Make the rename itself durable. */
	if ((fd = open(index_dir, O_RDONLY | O_DIRECTORY)) >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Joining. */

/* Register the day's records over the index's: the day's win. */
static void
register_day(void)
{
	size_t i;

	for (i = 0; i < npayments; i++) {
		int32_t old;

		if (payments[i].day != NULL)
			continue;
		old = strmap_get(&payment_by_key, payments[i].key);
		if (old >= 0 && (size_t)old != i)
			payments[old].dead = 1;
		map_put(&payment_by_key, payments[i].key, (int32_t)i);
	}
	for (i = 0; i < npayouts; i++) {
		int32_t old;

		if (!payouts[i].today)
			continue;
		old = strmap_get(&payout_by_key, payouts[i].key);
		if (old >= 0 && (size_t)old != i)
			payouts[old].dead = 1;
		map_put(&payout_by_key, payouts[i].key, (int32_t)i);
	}
	/* Links of earlier days first, so that the day's replace them. */
	for (i = 0; i < nrefunds; i++)
		if (refunds[i].day != NULL)
			map_put(&refund_by_payment, refunds[i].payment_key,
				(int32_t)i);
	for (i = 0; i < nrefunds; i++)
		if (refunds[i].day == NULL)
			map_put(&refund_by_payment, refunds[i].payment_key,
				(int32_t)i);
}

/* Chain a payment into the list of its group in map (head by name). */
static void
chain(struct strmap *map, const char *name, int32_t i, int32_t *next)
{
	*next = strmap_get(map, name);
	map_put(map, name, i);
}

static void
build_chains(void)
{
	size_t i;

	for (i = 0; i < npayments; i++) {
		struct payment *p = &payments[i];

		if (p->dead)
			continue;
		if (p->order_key != NULL)
			chain(&order_head, p->order_key, (int32_t)i,
			      &p->next_order);
		if (p->authorization != NULL)
			chain(&auth_head, p->authorization, (int32_t)i,
			      &p->next_auth);
		if (p->order_name != NULL)
			chain(&name_head, p->order_name, (int32_t)i,
			      &p->next_name);
	}
	for (i = 0; i < nlines; i++) {
		struct sline *l = &lines[i];

		if (l->today || l->dead || !l->assigned)
			continue;
		chain(&payout_line_head, l->payout_key, (int32_t)i,
		      &l->next_payout);
		/* What an earlier payout carried has settled. */
		if (l->m_payment != NULL && strcmp(l->status, "matched") == 0) {
			int32_t p = strmap_get(&payment_by_key, l->m_payment);

			if (p >= 0)
				payments[p].settled = 1;
		}
	}
}

static const char *
refund_of(const struct payment *p)
{
	int32_t r;

	if (strcmp(p->type, "refund") != 0)
		return NULL;
	r = strmap_get(&refund_by_payment, p->key);
	return r >= 0 ? refunds[r].refund_key : NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Does payment p settle line l's direction and, when comparable, amount? */
static int
fits(const struct sline *l, const struct payment *p, int by_amount)
{
	int dispute = strcmp(l->type, "dispute") == 0;

	if (!p->moves_money)
		return 0;
	if (dispute || l->amount > 0) {
		if (!is_charge_type(p->type))
			return 0;
	} else if (strcmp(p->type, "refund") != 0) {
		return 0;
	}
	/* A chargeback may be for part of the charge; its amount says less. */
	if (by_amount && !dispute && strcmp(p->currency, l->currency) == 0 &&
	    p->amount != (l->amount < 0 ? -l->amount : l->amount))
		return 0;
	return 1;
}

static void
set_matched(struct sline *l, const struct payment *p, const char *rule)
{
	l->status = "matched";
	l->rule = rule;
	l->m_payment = p->key;
	l->m_refund = refund_of(p);
	l->m_order = p->order_key ? p->order_key : l->order_key;
}

/* Settle the outcome of a rule from its candidates (payment indexes). */
static void
decide(struct sline *l, int32_t *cand, size_t n, const char *rule)
{
	size_t i;

	if (n == 1) {
		set_matched(l, &payments[cand[0]], rule);
		return;
	}
	l->rule = rule;
	l->m_order = l->order_key;
	if (n == 0) {
		l->status = "unmatched";
		return;
	}
	l->status = "ambiguous";
	l->cand_first = (int32_t)ncandidates;
	l->ncand = (int32_t)n;
	for (i = 0; i < n; i++)
		*PUSH(candidates, ncandidates, capcandidates) =
		    payments[cand[i]].key;
	qsort(candidates + l->cand_first, n, sizeof(*candidates), cmp_str);
}

static int32_t *cand;
static size_t ncand, capcand;

static void
add_candidate(int32_t i)
{
	size_t k;

	for (k = 0; k < ncand; k++)
		if (cand[k] == i)
			return;
	*PUSH(cand, ncand, capcand) = i;
}

/* Candidates of l among the payments of order_key. */
static void
by_order(const struct sline *l, const char *order_key, int by_amount)
{
	int32_t i;

	for (i = strmap_get(&order_head, order_key); i >= 0;
	     i = payments[i].next_order)
		if (fits(l, &payments[i], by_amount))
			add_candidate(i);
}

static void
match_line(struct sline *l)
{
	int32_t i;
	int link = 0;

	l->status = "not_applicable";
	l->rule = "none";
	l->m_order = l->order_key;
	/* The same line already counted in a payout, here or earlier. */
	if (l->assigned) {
		int32_t prev = strmap_get(&today_assigned, l->key);
		int32_t old = strmap_get(&line_by_key, l->key);

		if (prev < 0 && old >= 0 && lines[old].assigned &&
		    !lines[old].today)
			prev = old;
		if (prev >= 0) {
			l->status = "duplicate";
			l->rule = "duplicate_key";
			l->duplicate_of = lines[prev].key;
			return;
		}
		map_put(&today_assigned, l->key, (int32_t)(l - lines));
	}
	if (strcmp(l->type, "payout") == 0 || strcmp(l->type, "reserve") == 0)
		return;
	ncand = 0;
	/* 1. Shopify Payments: the order transaction behind the line. */
	if (l->payment_key != NULL) {
		link = 1;
		if ((i = strmap_get(&payment_by_key, l->payment_key)) >= 0) {
			set_matched(l, &payments[i],
				    "source_order_transaction_id");
			return;
		}
	}
	/* 2. Its order, when the transaction is unknown or not given. */
	if (l->order_key != NULL) {
		link = 1;
		by_order(l, l->order_key, 1);
		if (ncand > 0 || strmap_get(&order_head, l->order_key) >= 0) {
			decide(l, cand, ncand, "order_id");
			return;
		}
	}
	/* 3. PayPal, Stripe: the gateway's id of the transaction. */
	if (l->payment_reference != NULL) {
		link = 1;
		for (i = strmap_get(&auth_head, l->payment_reference); i >= 0;
		     i = payments[i].next_auth) {
			const struct payment *p = &payments[i];

			/* A refund names the charge it gives back. */
			if (l->amount < 0 && is_charge_type(p->type) &&
			    p->order_key != NULL) {
				int32_t j;

				for (j = strmap_get(&order_head, p->order_key);
				     j >= 0; j = payments[j].next_order)
					if (payments[j].parent_id != NULL &&
					    p->id != NULL &&
					    strcmp(payments[j].parent_id,
						   p->id) == 0 &&
					    fits(l, &payments[j], 1))
						add_candidate(j);
			} else if (fits(l, p, 1)) {
				add_candidate(i);
			}
		}
		decide(l, cand, ncand, "gateway_transaction_id");
		return;
	}
	/* 4. A row of Shopify's CSV export: order name, amount, date. */
	if (l->order_name != NULL) {
		link = 1;
		for (i = strmap_get(&name_head, l->order_name); i >= 0;
		     i = payments[i].next_name) {
			const struct payment *p = &payments[i];
			long gap;

			if (!fits(l, p, 1) || p->date == NULL ||
			    l->date == NULL)
				continue;
			gap = utc_day_number(l->date) - utc_day_number(p->date);
			if (gap <= date_window && gap >= -date_window)
				add_candidate(i);
		}
		decide(l, cand, ncand, "order_name_amount_date");
		return;
	}
	if (link || strcmp(l->type, "charge") == 0 ||
	    strcmp(l->type, "refund") == 0 || strcmp(l->type, "dispute") == 0) {
		l->status = "unmatched";
		l->rule = "none";
	}
}

static void
match_day(void)
{
	size_t i, n = nlines;

	for (i = 0; i < n; i++) {
		struct sline *l = &lines[i];
		int32_t p;

		if (!l->today)
			continue;
		match_line(l);
		if (strcmp(l->status, "duplicate") == 0)
			continue;
		/* One row a key a day in the index; the assigned one wins. */
		p = strmap_get(&line_by_key, l->key);
		if (p >= 0 && lines[p].today) {
			if (lines[p].assigned || !l->assigned)
				continue;
			lines[p].stored = 0;
		}
		if (p >= 0 && !lines[p].today && lines[p].assigned &&
		    !l->assigned)
			continue; /* a stale pending copy of a paid line */
		l->stored = 1;
		map_put(&line_by_key, l->key, (int32_t)i);
		if (p >= 0 && !lines[p].today)
			lines[p].dead = 1;
		if (l->assigned && l->m_payment != NULL &&
		    strcmp(l->status, "matched") == 0) {
			int32_t q = strmap_get(&payment_by_key, l->m_payment);

			if (q >= 0)
				payments[q].settled = 1;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Payouts. */

static struct payout *
payout_for(const char *key, const struct sline *l)
{
	int32_t i = strmap_get(&payout_by_key, key);
	struct payout *p;

	if (i >= 0)
		return &payouts[i];
	/* Lines name a payout no day has brought: reconcile what we can. */
	p = PUSH(payouts, npayouts, cappayouts);
	memset(p, 0, sizeof(*p));
	p->key = key;
	p->gateway = l->gateway;
	p->currency = l->currency;
	p->exp = l->exp;
	map_put(&payout_by_key, key, (int32_t)(npayouts - 1));
	return p;
}

/* An order edited after a payout carried it: what settled, what it says. */
struct adjusting {
	const char *payout_key, *order_key, *currency;
	int64_t order_total, collected;
	const char **settlements;
	size_t nsettlements;
};
static struct adjusting *adjustings;
static size_t nadjustings, capadjustings;

static void
find_edits(void)
{
	size_t o;

	for (o = 0; o < nlines; o++) {
		const char *ok =
		    lines[o].m_order ? lines[o].m_order : lines[o].order_key;

		lines[o].next_order = -1;
		if (ok != NULL && norders > 0)
			chain(&order_line_head, ok, (int32_t)o,
			      &lines[o].next_order);
	}
	for (o = 0; o < norders; o++) {
		const struct order_seen *ord = &orders[o];
		int64_t collected = 0;
		const struct payout *first = NULL;
		struct adjusting a;
		size_t cap = 0;
		int32_t j;

		memset(&a, 0, sizeof(a));
		for (j = strmap_get(&order_head, ord->key); j >= 0;
		     j = payments[j].next_order) {
			const struct payment *p = &payments[j];

			if (!p->moves_money ||
			    strcmp(p->currency, ord->currency) != 0)
				continue;
			collected += strcmp(p->type, "refund") == 0 ? -p->amount
								    : p->amount;
		}
		if (collected == ord->total)
			continue;
		/* Only an order a payout has already carried is an edit. */
		for (j = strmap_get(&order_line_head, ord->key); j >= 0;
		     j = lines[j].next_order) {
			const struct sline *l = &lines[j];
			int32_t pi;

			if (l->dead || !l->assigned ||
			    strcmp(l->status, "duplicate") == 0)
				continue;
			if ((pi = strmap_get(&payout_by_key, l->payout_key)) <
				0 ||
			    payouts[pi].date == NULL ||
			    strcmp(payouts[pi].date, ord->updated_date) >= 0)
				continue;
			if (first == NULL ||
			    strcmp(payouts[pi].key, first->key) < 0)
				first = &payouts[pi];
			*PUSH(a.settlements, a.nsettlements, cap) = l->key;
		}
		if (first == NULL) {
			free(a.settlements);
			continue;
		}
		qsort(a.settlements, a.nsettlements, sizeof(*a.settlements),
		      cmp_str);
		a.payout_key = first->key;
		a.order_key = ord->key;
		a.currency = ord->currency;
		a.order_total = ord->total;
		a.collected = collected;
		*PUSH(adjustings, nadjustings, capadjustings) = a;
	}
}

static int
cmp_payout_key(const void *a, const void *b)
{
	const struct payout *x = &payouts[*(const int32_t *)a];
	const struct payout *y = &payouts[*(const int32_t *)b];

	return strcmp(x->key, y->key);
}

static int
cmp_line_key(const void *a, const void *b)
{
	int c = strcmp(lines[*(const int32_t *)a].key,
		       lines[*(const int32_t *)b].key);

	/* The same key twice: the first seen first. */
	return c ? c
		 : (*(const int32_t *)a > *(const int32_t *)b) -
		       (*(const int32_t *)a < *(const int32_t *)b);
}

/* The payouts to reconcile this run, by key. */
static int32_t *recon;
static size_t nrecon, caprecon;

static void
collect_payouts(void)
{
	size_t i;
	int32_t j;

	for (i = 0; i < nlines; i++) {
		struct sline *l = &lines[i];
		struct payout *p;

		if (!l->today || !l->assigned)
			continue;
		p = payout_for(l->payout_key, l);
		p->recon = 1;
		*PUSH(p->lines, p->nlines, p->caplines) = (int32_t)i;
	}
	for (i = 0; i < npayouts; i++)
		if (payouts[i].today && !payouts[i].dead)
			payouts[i].recon = 1;
	for (i = 0; i < nadjustings; i++)
		payouts[strmap_get(&payout_by_key, adjustings[i].payout_key)]
		    .recon = 1;
	for (i = 0; i < npayouts; i++) {
		struct payout *p = &payouts[i];

		if (!p->recon || p->dead)
			continue;
		/* Lines of earlier days that the day has not brought again. */
		for (j = strmap_get(&payout_line_head, p->key); j >= 0;
		     j = lines[j].next_payout) {
			int32_t cur = strmap_get(&line_by_key, lines[j].key);

			if (lines[j].dead || (cur >= 0 && cur != j))
				continue;
			*PUSH(p->lines, p->nlines, p->caplines) = j;
		}
		if (p->nlines > 0)
			qsort(p->lines, p->nlines, sizeof(*p->lines),
			      cmp_line_key);
		*PUSH(recon, nrecon, caprecon) = (int32_t)i;
	}
	if (nrecon > 0)
		qsort(recon, nrecon, sizeof(*recon), cmp_payout_key);
}

/* Entry groups, in the order the entry lists them. */
enum role {
	R_PAYMENTS,
	R_REFUNDS_CLEARING,
	R_REFUNDS,
	R_FEES,
	R_CHARGEBACKS,
	R_CHARGEBACK_FEES,
	R_RESERVES,
	R_ADJUSTMENTS,
	R_DIFFERENCE,
	R_BANK,
	NROLES
};
static const char *const role_name[NROLES] = {
    "clearing",	       "clearing", "refunds",	  "fees",     "chargebacks",
    "chargeback_fees", "reserves", "adjustments", "clearing", "bank"};
/* The line's name for a debit and for a credit. */
static const char *const role_label[NROLES][2] = {
    {"Customer payments returned", "Customer payments"},
    {"Customer refunds", "Customer refunds reversed"},
    {"Refunds without a refund transaction", "Refunds reversed"},
    {"Gateway fees", "Gateway fees returned"},
    {"Chargebacks", "Chargebacks won"},
    {"Chargeback fees", "Chargeback fees returned"},
    {"Reserve held", "Reserve released"},
    {"Adjustments", "Adjustments"},
    {"Unreconciled difference", "Unreconciled difference"},
    {"Bank transfer", "Bank transfer returned"}};

/* Keys borrowed from the arena or the index, sorted when written. */
struct keys {
	const char **v;
	size_t n, cap;
};

struct group {
	int64_t debit, credit;
	struct keys settlements, payments;
	int used;
};

/* Book minor units on a role: negative money leaves the gateway: debit. */
static void
book(struct group *g, int64_t minor, const char *settlement,
     const char *payment)
{
	if (minor < 0)
		g->debit -= minor;
	else
		g->credit += minor;
	g->used = 1;
	if (settlement != NULL)
		*PUSH(g->settlements.v, g->settlements.n, g->settlements.cap) =
		    settlement;
	if (payment != NULL)
		*PUSH(g->payments.v, g->payments.n, g->payments.cap) = payment;
}

static int
by_text(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Write keys as a sorted array without repeats.  A payout of a
 * million-order day lists hundreds of thousands: kept as borrowed
 * pointers and written as text, not as a jv array of strings.
 */
static void
write_keys(struct jw *w, struct keys *k)
{
	size_t i;

	if (k->n > 1)
		qsort(k->v, k->n, sizeof(*k->v), by_text);
	jw_array(w);
	for (i = 0; i < k->n; i++)
		if (i == 0 || strcmp(k->v[i - 1], k->v[i]) != 0)
			jw_string(w, k->v[i]);
	jw_end(w);
}

static jv
money_jv(int64_t minor, int exp)
{
	char buf[MONEY_TEXT_MAX];

	money_format(minor, exp, buf);
	return jv_string(buf);
}

static jv
str_or_null(const char *s)
{
	return s ? jv_string(s) : jv_null();
}

/* Shopify's summary categories, and where each line type falls. */
static const char *const categories[] = {"charges",	    "refunds",
					 "adjustments",	    "reserved_funds",
					 "retried_payouts", "advance"};
#define NCAT (sizeof(categories) / sizeof(categories[0]))

static size_t
category_of(const char *type)
{
	if (strcmp(type, "charge") == 0)
		return 0;
	if (strcmp(type, "refund") == 0)
		return 1;
	if (strcmp(type, "reserve") == 0)
		return 3;
	if (strcmp(type, "payout_failure") == 0 ||
	    strcmp(type, "payout_cancellation") == 0)
		return 4;
	if (strcmp(type, "advance") == 0)
		return 5;
	return 2;
}

static struct jr_doc summary_doc; /* the summary being checked */

/* "ok", "mismatch" or "absent": the payout's summary against its lines. */
static const char *
summary_check(const struct payout *p, const int64_t gross[NCAT],
	      const int64_t fee[NCAT])
{
	const char *result = "ok";
	size_t c;
	jr s;

	if (p->summary == NULL)
		return "absent";
	s = read_json(&summary_doc, p->summary, strlen(p->summary));
	if (jr_kind(s) != JR_OBJECT)
		return "absent";
	for (c = 0; c < NCAT; c++) {
		char name[40];
		int k;

		for (k = 0; k < 2; k++) {
			const char *t, *w;
			int64_t v, have = k ? fee[c] : gross[c];

			snprintf(name, sizeof(name), "%s_%s", categories[c],
				 k ? "fee" : "gross");
			t = jr_get_str(s, name);
			/* A category the summary leaves out must be empty. */
			if (t == NULL)
				v = 0;
			else if (money_parse(t, strlen(t), p->exp, &v, &w) < 0)
				v = INT64_MIN;
			if (v != have)
				result = "mismatch";
		}
	}
	return result;
}

static unsigned long n_unbalanced, n_incomplete, n_unmatched, n_duplicate;

/*
 * Write p's payout_recon record into w; its status and difference (or
 * NULL when unknown) into *status_out and diff_text.
 */
static void
reconcile(const struct payout *p, struct jw *w, const char **status_out,
	  char diff_text[MONEY_TEXT_MAX])
{
	struct group g[NROLES];
	int64_t lines_net = 0, gross[NCAT] = {0}, fee[NCAT] = {0}, diff = 0;
	unsigned long counts[5] = {0};
	static const char *const statuses[5] = {
	    "matched", "unmatched", "duplicate", "ambiguous", "not_applicable"};
	int payout_row = 0, r, overflow = 0;
	const char *status, *check;
	char shop[128], key[300];
	size_t i, k;

	for (r = 0; r < NROLES; r++)
		memset(&g[r], 0, sizeof(g[r]));
	for (i = 0; i < p->nlines; i++) {
		const struct sline *l = &lines[p->lines[i]];
		int matched = strcmp(l->status, "matched") == 0;

		for (k = 0; k < 5; k++)
			if (strcmp(l->status, statuses[k]) == 0)
				counts[k]++;
		if (strcmp(l->status, "duplicate") == 0)
			continue; /* counted once, where it was first seen */
		if (strcmp(l->type, "payout") == 0) {
			payout_row = 1;
			book(&g[R_BANK], 0, l->key, NULL);
			continue;
		}
		if (strcmp(l->currency, p->currency) != 0)
			overflow = 1; /* not summable: unbalanced below */
		if (money_add(lines_net, l->net, &lines_net) < 0)
			overflow = 1;
		k = category_of(l->type);
		gross[k] += l->amount;
		fee[k] += l->fee;
		if (strcmp(l->type, "dispute") == 0) {
			book(&g[R_CHARGEBACKS], l->amount, l->key, NULL);
			if (l->fee != 0)
				book(&g[R_CHARGEBACK_FEES], -l->fee, l->key,
				     NULL);
			continue;
		}
		if (strcmp(l->type, "charge") == 0 ||
		    strcmp(l->type, "refund") == 0) {
			/* Refunds odoo-load paid out of clearing go back
			 * through it; one without its transaction cannot. */
			if (l->amount >= 0)
				r = R_PAYMENTS;
			else if (matched || strcmp(l->type, "charge") == 0)
				r = R_REFUNDS_CLEARING;
			else
				r = R_REFUNDS;
			book(&g[r], l->amount, l->key,
			     r != R_REFUNDS && matched ? l->m_payment : NULL);
		} else if (strcmp(l->type, "reserve") == 0) {
			book(&g[R_RESERVES], l->amount, l->key, NULL);
		} else {
			book(&g[R_ADJUSTMENTS], l->amount, l->key, NULL);
		}
		if (l->fee != 0)
			book(&g[R_FEES], -l->fee, l->key, NULL);
	}
	shop_of(p->key, shop, sizeof(shop));
	check = p->known ? summary_check(p, gross, fee) : "absent";
	if (p->known)
		diff = p->amount - lines_net;
	if (!p->known || p->nlines == 0 ||
	    (!payout_row &&
	     strcmp(p->gateway ? p->gateway : "", "shopify_payments") == 0 &&
	     diff != 0))
		status = "incomplete";
	else if (diff != 0 || overflow || strcmp(check, "mismatch") == 0)
		status = "unbalanced";
	else
		status = "balanced";
	if (strcmp(status, "unbalanced") == 0)
		n_unbalanced++;
	else if (strcmp(status, "incomplete") == 0)
		n_incomplete++;

	*status_out = status;
	if (p->known)
		money_format(diff, p->exp, diff_text);
	else
		diff_text[0] = '\0';

	jw_object(w);
	jw_put_string(w, "kind", "payout_recon");
	snprintf(key, sizeof(key), "%s/payout_recon/%s", shop,
		 p->id ? p->id : strrchr(p->key, '/') + 1);
	jw_put_string(w, "key", key);
	jw_put_string(w, "shop", shop);
	jw_put_int(w, "v", SCHEMA_VERSION);
	jw_key(w, "src");
	if (p->src != NULL)
		jw_raw(w, p->src, strlen(p->src)); /* canonical_text */
	else
		jw_null(w);
	jw_put_string(w, "payout_key", p->key);
	jw_put_string(w, "gateway", p->gateway);
	jw_put_string(w, "currency", p->currency);
	jw_put_string(w, "date", p->date);
	jw_key(w, "amount");
	if (p->known)
		jw_money(w, p->amount, p->exp);
	else
		jw_null(w);
	jw_put_money(w, "lines_net", lines_net, p->exp);
	jw_key(w, "difference");
	if (p->known)
		jw_money(w, diff, p->exp);
	else
		jw_null(w);
	jw_put_string(w, "summary_check", check);
	jw_put_string(w, "status", status);
	jw_key(w, "counts");
	jw_object(w);
	for (k = 0; k < 5; k++) {
		jw_put_int(w, statuses[k], (long long)counts[k]);
	}
	jw_end(w);

	jw_key(w, "entry");
	if (p->known) {
		int64_t debit = 0, credit = 0;

		/* The bank line is the deposit; a gap is shown, not hidden. */
		book(&g[R_BANK], -p->amount, NULL, NULL);
		for (r = 0; r < NROLES; r++) {
			debit += g[r].debit;
			credit += g[r].credit;
		}
		if (debit != credit)
			book(&g[R_DIFFERENCE], debit - credit, NULL, NULL);
		jw_object(w);
		jw_put_string(w, "date", p->date);
		jw_put_string(w, "ref", p->id);
		jw_key(w, "lines");
		jw_array(w);
		for (r = 0; r < NROLES; r++) {
			int side;

			if (!g[r].used)
				continue;
			/* Net each role to one side, as an accountant would. */
			side = g[r].credit > g[r].debit;
			jw_object(w);
			jw_put_string(w, "account_role", role_name[r]);
			jw_put_string(w, "name", role_label[r][side]);
			jw_put_money(w, "debit",
				     side ? 0 : g[r].debit - g[r].credit,
				     p->exp);
			jw_put_money(w, "credit",
				     side ? g[r].credit - g[r].debit : 0,
				     p->exp);
			jw_key(w, "settlements");
			write_keys(w, &g[r].settlements);
			jw_key(w, "payments");
			write_keys(w, &g[r].payments);
			jw_end(w);
		}
		jw_end(w);
		jw_end(w);
	} else {
		jw_null(w);
	}
	for (r = 0; r < NROLES; r++) {
		free(g[r].settlements.v);
		free(g[r].payments.v);
	}

	jw_key(w, "adjusting");
	jw_array(w);
	for (i = 0; i < nadjustings; i++) {
		const struct adjusting *a = &adjustings[i];
		int e = currency_exponent(a->currency);

		if (strcmp(a->payout_key, p->key) != 0)
			continue;
		jw_object(w);
		jw_put_string(w, "order_key", a->order_key);
		jw_put_string(w, "currency", a->currency);
		jw_put_money(w, "order_total", a->order_total, e);
		jw_put_money(w, "collected", a->collected, e);
		jw_put_money(w, "difference", a->order_total - a->collected, e);
		jw_key(w, "settlements");
		jw_array(w);
		for (k = 0; k < a->nsettlements; k++)
			jw_string(w, a->settlements[k]);
		jw_end(w);
		jw_end(w);
	}
	jw_end(w);
	jw_end(w);
}

/* ------------------------------------------------------------------ */
/* Output. */

static void
write_match_block(struct jw *w, const struct sline *l)
{
	jw_object(w);
	jw_put_string(w, "status", l->status);
	jw_put_string(w, "rule", l->rule);
	jw_put_string(w, "payment_key", l->m_payment);
	jw_put_string(w, "refund_key", l->m_refund);
	jw_put_string(w, "order_key", l->m_order);
	jw_put_string(w, "duplicate_of", l->duplicate_of);
	if (strcmp(l->status, "ambiguous") == 0) {
		int32_t k;

		jw_key(w, "candidates");
		jw_array(w);
		for (k = 0; k < l->ncand; k++)
			jw_string(w, candidates[l->cand_first + k]);
		jw_end(w);
	}
	jw_end(w);
}

/*
 * The settlement line rec with its match block, canonical, as one line
 * of w; the block replaces a "match" the line may bring.
 */
static void
write_settlement(struct jw *w, jr rec, const struct sline *l)
{
	jw_reset(w);
	jw_object(w);
	jw_jr_members(w, rec);
	jw_key(w, "match");
	write_match_block(w, l);
	jw_end(w);
	jw_newline(w);
}

static int warned;

static void warn_limited(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* A message for each of the first problems --fail-on is looking for. */
static void
warn_limited(const char *fmt, ...)
{
	char buf[600];
	va_list ap;

	if (warned++ >= MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	msg_warn("%s", buf);
}

static struct jw line_text; /* a settlement line written out */

/* Write the spooled day with match blocks.  Returns 0 or -1 on I/O. */
static int
write_day(struct stage *st)
{
	char *row = NULL;
	const char *text;
	size_t cap = 0, t, li = 0;
	ssize_t n;
	int rc = 0;

	if (fflush(spool) != 0 || fseek(spool, 0, SEEK_SET) < 0)
		return -1;
	for (t = 0; t < ntags; t++) {
		if ((n = getline(&row, &cap, spool)) <= 0) {
			rc = -1;
			break;
		}
		if (!(tags[t] & SETTLEMENT_TAG)) {
			counters_add(&st->out_kind, kind_names[tags[t]]);
			st->out++;
			st->passed++;
			if (fwrite(row, 1, (size_t)n, stdout) != (size_t)n)
				rc = -1;
			continue;
		}
		while (!lines[li].today)
			li++;
		{
			/* The row read into process(), read once more. */
			jr rec = read_json(&rec_doc, row, (size_t)n - 1);
			const struct sline *l = &lines[li++];
			size_t len;

			write_settlement(&line_text, rec, l);
			counters_add(&st->out_kind, "settlement");
			st->out++;
			text = jw_text(&line_text, &len);
			if (jw_failed(&line_text) ||
			    fwrite(text, 1, len, stdout) != len ||
			    ferror(stdout))
				rc = -1;
			if (strcmp(l->status, "unmatched") == 0 ||
			    strcmp(l->status, "ambiguous") == 0) {
				n_unmatched++;
				if (fail_on & FAIL_UNMATCHED)
					warn_limited("settlement '%s' is %s",
						     l->key, l->status);
			} else if (strcmp(l->status, "duplicate") == 0) {
				n_duplicate++;
				if (fail_on & FAIL_DUPLICATE)
					warn_limited("settlement '%s' is %s",
						     l->key, l->status);
			}
		}
	}
	free(row);
	jw_release(&line_text);
	return rc;
}

static struct jw recon_text;

static int
write_recons(struct stage *st)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < nrecon; i++) {
		const struct payout *p = &payouts[recon[i]];
		char diff[MONEY_TEXT_MAX];
		const char *status, *text;
		size_t len;

		jw_reset(&recon_text);
		reconcile(p, &recon_text, &status, diff);
		if (strcmp(status, "unbalanced") == 0 &&
		    (fail_on & FAIL_UNBALANCED))
			warn_limited("payout '%s' is unbalanced by %s", p->key,
				     diff[0] ? diff : "an unknown amount");
		if (strcmp(status, "incomplete") == 0 &&
		    (fail_on & FAIL_INCOMPLETE))
			warn_limited("payout '%s' is %s", p->key, status);
		counters_add(&st->out_kind, "payout_recon");
		st->out++;
		st->split++;
		jw_newline(&recon_text);
		text = jw_text(&recon_text, &len);
		if (jw_failed(&recon_text) ||
		    fwrite(text, 1, len, stdout) != len)
			rc = -1;
	}
	jw_release(&recon_text);
	return rc;
}

static int
cmp_payment_key(const void *a, const void *b)
{
	return strcmp(payments[*(const int32_t *)a].key,
		      payments[*(const int32_t *)b].key);
}

static unsigned long n_overdue;

/* Payments of a settling gateway that no payout carried in time. */
static int
write_overdue(struct stage *st)
{
	int32_t *late = NULL;
	size_t nlate = 0, caplate = 0, i;
	long today;
	int rc = 0;

	if (run_day[0] == '\0' || overdue_days < 0)
		return 0;
	today = utc_day_number(run_day);
	for (i = 0; i < npayments; i++) {
		const struct payment *p = &payments[i];

		if (p->dead || !p->moves_money || p->test || p->settled ||
		    p->date == NULL || p->gateway == NULL ||
		    strmap_get(&settling_gateways, p->gateway) < 0)
			continue;
		if (today - utc_day_number(p->date) > overdue_days)
			*PUSH(late, nlate, caplate) = (int32_t)i;
	}
	if (nlate > 0)
		qsort(late, nlate, sizeof(*late), cmp_payment_key);
	for (i = 0; i < nlate; i++) {
		const struct payment *p = &payments[late[i]];
		char shop[128];
		jv rec = jv_object(), src = jv_null();

		shop_of(p->key, shop, sizeof(shop));
		if (p->src_sha256 != NULL) {
			src = jv_object();
			src = json_set_str(src, "sha256", p->src_sha256);
			src = jv_object_set(src, jv_string("file"),
					    str_or_null(p->src_file));
		}
		rec = json_set_str(rec, "kind", "payment_overdue");
		rec = jv_object_set(
		    rec, jv_string("key"),
		    jv_string_fmt("%s/payment_overdue/%s", shop,
				  p->id ? p->id : strrchr(p->key, '/') + 1));
		rec = json_set_str(rec, "shop", shop);
		rec = jv_object_set(rec, jv_string("v"),
				    jv_number(SCHEMA_VERSION));
		rec = jv_object_set(rec, jv_string("src"), src);
		rec = json_set_str(rec, "payment_key", p->key);
		rec = jv_object_set(rec, jv_string("order_key"),
				    str_or_null(p->order_key));
		rec = jv_object_set(rec, jv_string("order_name"),
				    str_or_null(p->order_name));
		rec = jv_object_set(rec, jv_string("gateway"),
				    str_or_null(p->gateway));
		rec = json_set_str(rec, "type", p->type);
		rec = json_set_str(rec, "currency", p->currency);
		rec = jv_object_set(
		    rec, jv_string("amount"),
		    money_jv(p->amount, currency_exponent(p->currency)));
		rec = json_set_str(rec, "date", p->date);
		rec = json_set_str(rec, "as_of", run_day);
		rec = jv_object_set(
		    rec, jv_string("days"),
		    jv_number((double)(today - utc_day_number(p->date))));
		if (fail_on & FAIL_UNBALANCED)
			warn_limited("payment '%s' has not settled since %s",
				     p->key, p->date);
		n_overdue++;
		counters_add(&st->out_kind, "payment_overdue");
		st->out++;
		st->split++;
		if (json_emit(stdout, rec) < 0)
			rc = -1;
	}
	free(late);
	return rc;
}

static void
release_all(void)
{
	size_t i;

	for (i = 0; i < npayouts; i++)
		free(payouts[i].lines);
	for (i = 0; i < nadjustings; i++)
		free(adjustings[i].settlements);
	free(payments);
	free(lines);
	free(payouts);
	free(refunds);
	free(orders);
	free(candidates);
	free(cand);
	free(tags);
	free(recon);
	free(adjustings);
	free(index_buf);
	strmap_free(&payment_by_key);
	strmap_free(&line_by_key);
	strmap_free(&payout_by_key);
	strmap_free(&refund_by_payment);
	strmap_free(&today_assigned);
	strmap_free(&order_head);
	strmap_free(&auth_head);
	strmap_free(&name_head);
	strmap_free(&payout_line_head);
	strmap_free(&order_line_head);
	strmap_free(&settling_gateways);
	strmap_free(&kind_index);
	strmap_free(&common_index);
	free(kind_names);
	free(commons);
	jr_release(&rec_doc);
	jr_release(&summary_doc);
	jw_release(&text_writer);
	textpool_release(&arena);
}

static int
parse_fail_on(const char *arg)
{
	char buf[200], *tok, *save_ptr;

	snprintf(buf, sizeof(buf), "%s", arg);
	for (tok = strtok_r(buf, ",", &save_ptr); tok != NULL;
	     tok = strtok_r(NULL, ",", &save_ptr)) {
		if (strcmp(tok, "unbalanced") == 0)
			fail_on |= FAIL_UNBALANCED;
		else if (strcmp(tok, "incomplete") == 0)
			fail_on |= FAIL_INCOMPLETE;
		else if (strcmp(tok, "unmatched") == 0)
			fail_on |= FAIL_UNMATCHED;
		else if (strcmp(tok, "duplicate") == 0)
			fail_on |= FAIL_DUPLICATE;
		else
			return -1;
	}
	return 0;
}

static int
parse_days(const char *arg, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < 0 || v > 36500)
		return -1;
	*out = v;
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: match-settlement [--index DIR [--index-readonly]] "
		"[--date YYYY-MM-DD]\n"
		"                        [--overdue-days N] [--date-window N] "
		"[--fail-on WHAT]\n"
		"                        [--rejects FILE] [--stats FILE] "
		"[FILE ...]\n"
		"       match-settlement --help | --version\n"
		"Canonical records in (stdin or FILEs, .gz read "
		"transparently); settlement lines\n"
		"with a match block, one payout_recon per payout and the "
		"overdue payments out.\n"
		"WHAT: unbalanced, incomplete, unmatched, duplicate, "
		"comma-separated.\n"
		"Exit: 0 ok, 64 usage, 65 records rejected or --fail-on met, "
		"66 cannot open input,\n"
		"      73 cannot create the index, 74 I/O error, 75 index "
		"locked by another run.\n");
}

/*
 * match-settlement: the day's canonical records and the index in; the
 * same records, settlement lines matched, and the payouts' proofs out.
 */
int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"index", required_argument, NULL, 'i'},
	    {"index-readonly", no_argument, NULL, 'R'},
	    {"date", required_argument, NULL, 'd'},
	    {"overdue-days", required_argument, NULL, 'o'},
	    {"date-window", required_argument, NULL, 'w'},
	    {"fail-on", required_argument, NULL, 'f'},
	    {"rejects", required_argument, NULL, 'r'},
	    {"stats", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *rejects = NULL, *stats = NULL, *line, *why;
	struct ndjson_reader rd;
	struct stage st;
	int ch, rc, status = 0, io_error = 0, input_error = 0;
	int index_failed = 0;
	size_t len;

	msg_init("match-settlement");
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			index_dir = optarg;
			break;
		case 'R':
			index_readonly = 1;
			break;
		case 'd':
			if (utc_check_date(optarg, &why) < 0) {
				msg_warn("--date: '%s' is not a date "
					 "YYYY-MM-DD",
					 optarg);
				return EX_USAGE;
			}
			snprintf(run_day, sizeof(run_day), "%s", optarg);
			break;
		case 'o':
			if (parse_days(optarg, &overdue_days) < 0) {
				msg_warn("--overdue-days: '%s' is not a "
					 "number of days",
					 optarg);
				return EX_USAGE;
			}
			break;
		case 'w':
			if (parse_days(optarg, &date_window) < 0) {
				msg_warn("--date-window: '%s' is not a "
					 "number of days",
					 optarg);
				return EX_USAGE;
			}
			break;
		case 'f':
			if (parse_fail_on(optarg) < 0) {
				msg_warn("--fail-on: '%s' is not a list of "
					 "unbalanced, incomplete, unmatched, "
					 "duplicate",
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
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("match-settlement (tillroll) %s\n",
			       TILLROLL_VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (index_readonly && index_dir == NULL) {
		msg_warn("--index-readonly needs --index");
		usage(stderr);
		return EX_USAGE;
	}
	auto_day = run_day[0] == '\0';

	if ((spool = tmpfile()) == NULL)
		return msg_fail(EX_CANTCREAT,
				"cannot create a temporary file:");
	if ((rc = stage_init(&st, "match-settlement", rejects, stats)) != 0) {
		fclose(spool);
		return rc;
	}
	ndjson_reader_init(&rd, argc, argv);
	while ((rc = ndjson_reader_next(&rd, &line, &len)) != 0) {
		if (rc < 0) {
			msg_warn("%s", rd.err);
			status = exit_worst(status, rd.status);
			input_error = 1;
			continue;
		}
		process(&st, line, len, rd.name, rd.lineno, &io_error);
		if (io_error)
			break;
	}
	ndjson_reader_release(&rd);
	if (io_error) {
		msg_warn("cannot write the temporary spool:");
		status = exit_worst(status, EX_IOERR);
	}

	if (status == 0 && index_dir != NULL) {
		if (run_day[0] == '\0')
			snprintf(run_day, sizeof(run_day), "0000-00-00");
		if ((rc = load_index()) != 0) {
			status = exit_worst(status, rc);
			index_failed = 1;
		}
	}
	if (!index_failed &&
	    (status == 0 || status == EX_DATAERR || input_error)) {
		register_day();
		build_chains();
		match_day();
		find_edits();
		collect_payouts();
		if (write_day(&st) < 0 || write_recons(&st) < 0 ||
		    write_overdue(&st) < 0)
			io_error = 1;
	}
	if (index_failed) {
		/* Nothing is written without the index: say so in the ledger.
		 */
		size_t t;

		for (t = 0; t < ntags; t++) {
			st.dropped++;
			counters_add(&st.drops, "index_unusable");
		}
	}
	fclose(spool);
	if (io_error && !ferror(stdout))
		status = exit_worst(status, EX_IOERR);
	status = stage_flush_stdout(status);
	if (warned > MAX_WARNINGS)
		msg_warn("%d more problems not shown", warned - MAX_WARNINGS);
	if (((fail_on & FAIL_UNBALANCED) && (n_unbalanced || n_overdue)) ||
	    ((fail_on & FAIL_INCOMPLETE) && n_incomplete) ||
	    ((fail_on & FAIL_UNMATCHED) && n_unmatched) ||
	    ((fail_on & FAIL_DUPLICATE) && n_duplicate))
		status = exit_worst(status, EX_DATAERR);
	/* The index takes the day only from a run that read it all. */
	if (index_dir != NULL && !index_readonly && !input_error &&
	    !index_failed && (status == 0 || status == EX_DATAERR) &&
	    lock_fd >= 0 && strcmp(run_day, "0000-00-00") != 0)
		status = exit_worst(status, save_index());
	status = stage_finish(&st, status);
	release_all();
	if (lock_fd >= 0)
		close(lock_fd);
	return stage_close_stdout(status);
}
