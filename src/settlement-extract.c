/* See LICENSE file for copyright and license details. */
/*
 * settlement-extract: gateway settlement files into raw envelopes.
 *
 * Reads the files that payment gateways send instead of an API: the
 * Shopify admin's payout-transactions export, PayPal's Settlement Report
 * (SRF) and Stripe's itemized balance-change CSV, with libcsv in strict
 * mode.  Writes one envelope a data row,
 *
 *   {"data":{<column>:<text>},"file":..,"kind":"paypal.srf.row","line":7,
 *    "occurrence":1,"row":5,"sha256":<file digest>,"shop":"demo"}
 *
 * with every value copied as text, so that normalize, not this program,
 * decides what an amount means.
 *
 * A file is the unit of trust: one that cannot be read whole and
 * consistent (a malformed quote, a row with the wrong number of fields, a
 * PayPal footer whose counts or totals differ from the rows above it, a
 * PayPal file without its footers) is rejected whole, its rows to the
 * rejects file and none to the output, because a half-read settlement is
 * worse than none.  Envelopes of a file are therefore held until its end.
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

#include "csvread.h"
#include "json.h"
#include "msg.h"
#include "sha256.h"
#include "stage.h"

enum format { FMT_NONE, FMT_SHOPIFY, FMT_PAYPAL, FMT_STRIPE };

static const char *const shopify_columns[] = {
    "Transaction Date", "Type", "Amount", "Fee", "Net", "Currency", NULL};
static const char *const paypal_columns[] = {"Transaction ID",
					     "Transaction Event Code",
					     "Transaction Debit or Credit",
					     "Gross Transaction Amount",
					     "Gross Transaction Currency",
					     "Fee Debit or Credit",
					     "Fee Amount",
					     NULL};
static const char *const stripe_columns[] = {
    "balance_transaction_id", "currency", "gross", "fee", "net",
    "reporting_category",     NULL};

static const struct format_info {
	const char *name;	     /* as --format names it */
	const char *kind;	     /* the envelopes' kind */
	const char *const *required; /* columns the file must have */
} formats[] = {
    [FMT_NONE] = {NULL, NULL, NULL},
    [FMT_SHOPIFY] = {"shopify-payouts", "shopify.csv.payout_row",
		     shopify_columns},
    [FMT_PAYPAL] = {"paypal-srf", "paypal.srf.row", paypal_columns},
    [FMT_STRIPE] = {"stripe-balance", "stripe.balance.row", stripe_columns},
};

/* PayPal footer totals of one currency, in hundredths as the file has. */
struct totals {
	char currency[8];
	int64_t gross_cr, gross_dr, fee_cr, fee_dr;
	unsigned long rows; /* body rows in this currency */
	int footed;	    /* a footer row named this currency */
};

struct ledger {
	struct totals *v;
	size_t n, cap;
};

/* Where a PayPal file is in its fixed record order. */
enum srf_place {
	SRF_START,	  /* nothing read */
	SRF_REPORT_HEAD,  /* after RH */
	SRF_FILE_HEAD,	  /* after FH, or after a section's SC */
	SRF_SECTION,	  /* after SH */
	SRF_BODY,	  /* after CH or SB */
	SRF_SECTION_FOOT, /* after SF */
	SRF_REPORT_FOOT,  /* after RF */
	SRF_REPORT_COUNT, /* after RC */
	SRF_END		  /* after FF */
};

/* One file being read; its envelopes are held until it is known good. */
struct file_state {
	const char *name;	 /* operand, for envelopes and messages */
	enum format fmt;	 /* given or detected */
	char **col;		 /* column names, owned */
	size_t ncol;		 /* how many */
	char *buf;		 /* held envelopes, see hold() */
	size_t len, cap;	 /* bytes in buf, allocated */
	size_t *off;		 /* where each held envelope starts */
	unsigned long *line;	 /* and the line of its row */
	char **withdrawal;	 /* PayPal: its id, for a withdrawal row */
	unsigned *section_of;	 /* PayPal: the section it is in */
	size_t nheld, heldcap;	 /* held envelopes, allocated */
	jv seen;		 /* digest of a row's fields -> count */
	int failed;		 /* the file is rejected */
	int status;		 /* the sysexits status that calls for */
	const char *reason;	 /* short code */
	unsigned long fail_line; /* the line at fault, 0 for none */
	char detail[400];	 /* the sentence */
	/* PayPal */
	enum srf_place place;	    /* where we are */
	char account[80];	    /* account id from SH */
	unsigned long section_line; /* line of the current SH */
	unsigned long section_rows, file_rows;
	unsigned sections; /* sections begun so far */
	struct ledger section, report;
	int ix_gross, ix_dc, ix_cur, ix_fee, ix_fdc, ix_fcur;
	int ix_tid, ix_tcode; /* Transaction ID, Event Code */
};

static const char *shop_json; /* --shop as a JSON string, owned */
static struct stage st;

static void fail(struct file_state *fs, const char *reason, unsigned long line,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
fail(struct file_state *fs, const char *reason, unsigned long line,
     const char *fmt, ...)
{
	va_list ap;

	if (fs->failed)
		return;
	fs->failed = 1;
	fs->status = EX_DATAERR;
	fs->reason = reason;
	fs->fail_line = line;
	va_start(ap, fmt);
	vsnprintf(fs->detail, sizeof(fs->detail), fmt, ap);
	va_end(ap);
}

/* 1 when a and b are equal once runs of spaces count as one space. */
static int
same_name(const char *a, const char *b)
{
	for (;;) {
		if (*a == ' ' && *b == ' ') {
			while (*a == ' ')
				a++;
			while (*b == ' ')
				b++;
			continue;
		}
		if (*a != *b)
			return 0;
		if (*a == '\0')
			return 1;
		a++, b++;
	}
}

/* Index of column name (spaces collapsed), or -1. */
static int
column(const struct file_state *fs, const char *name)
{
	size_t i;

	for (i = 0; i < fs->ncol; i++)
		if (same_name(fs->col[i], name))
			return (int)i;
	return -1;
}

static void
free_columns(struct file_state *fs)
{
	size_t i;

	for (i = 0; i < fs->ncol; i++)
		free(fs->col[i]);
	free(fs->col);
	fs->col = NULL;
	fs->ncol = 0;
}

/*
 * Take the column names from fields first..n-1 of row; check they are
 * unique and that the format's required columns are there.
 */
static int
set_columns(struct file_state *fs, const struct csv_row *r, size_t first)
{
	const char *const *need = formats[fs->fmt].required;
	size_t i, j;

	free_columns(fs);
	if (r->n <= first) {
		fail(fs, "bad_header", r->line, "the header has no columns");
		return -1;
	}
	if ((fs->col = calloc(r->n - first, sizeof(char *))) == NULL) {
		fail(fs, "no_memory", r->line, "out of memory");
		return -1;
	}
	for (i = first; i < r->n; i++) {
		if ((fs->col[fs->ncol] = strdup(r->field[i])) == NULL) {
			fail(fs, "no_memory", r->line, "out of memory");
			return -1;
		}
		fs->ncol++;
		for (j = 0; j + 1 < fs->ncol; j++)
			if (same_name(fs->col[j], r->field[i])) {
				fail(fs, "bad_header", r->line,
				     "column '%.80s' appears twice in the "
				     "header",
				     r->field[i]);
				return -1;
			}
	}
	for (i = 0; need[i] != NULL; i++)
		if (column(fs, need[i]) < 0) {
			fail(fs, "bad_header", r->line,
			     "the header has no '%s' column, which a %s file "
			     "has",
			     need[i], formats[fs->fmt].name);
			return -1;
		}
	return 0;
}

/* The format a first row announces, or FMT_NONE. */
static enum format
detect(const struct csv_row *r)
{
	int ledger = 0, bt = 0, date = 0, net = 0;
	size_t i;

	if (r->n >= 1 && strcmp(r->field[0], "RH") == 0)
		return FMT_PAYPAL;
	for (i = 0; i < r->n; i++) {
		bt |= strcmp(r->field[i], "balance_transaction_id") == 0;
		ledger |= strcmp(r->field[i], "gross") == 0;
		date |= strcmp(r->field[i], "Transaction Date") == 0;
		net |= strcmp(r->field[i], "Net") == 0;
	}
	if (bt && ledger)
		return FMT_STRIPE;
	if (date && net)
		return FMT_SHOPIFY;
	return FMT_NONE;
}

/*
 * Hold one envelope: its canonical JSON without the closing brace, so
 * that the file's digest and the shop ("sha256" and "shop" sort after
 * every other key) can be appended once the whole file is read.
 */
static void
hold(struct file_state *fs, jv env, unsigned long line)
{
	jv text = jv_dump_string(env, JV_PRINT_SORTED);
	const char *s = jv_string_value(text);
	size_t n = strlen(s) - 1; /* without "}" */

	if (fs->nheld == fs->heldcap) {
		size_t cap = fs->heldcap ? fs->heldcap * 2 : 64;
		size_t *off = realloc(fs->off, cap * sizeof(*off));
		unsigned long *ln;
		char **wd;
		unsigned *sec;

		if (off != NULL)
			fs->off = off;
		ln = realloc(fs->line, cap * sizeof(*ln));
		if (ln != NULL)
			fs->line = ln;
		wd = realloc(fs->withdrawal, cap * sizeof(*wd));
		if (wd != NULL)
			fs->withdrawal = wd;
		sec = realloc(fs->section_of, cap * sizeof(*sec));
		if (sec != NULL)
			fs->section_of = sec;
		if (off == NULL || ln == NULL || wd == NULL || sec == NULL) {
			jv_free(text);
			fail(fs, "no_memory", line, "out of memory");
			fs->status = EX_OSERR;
			return;
		}
		fs->heldcap = cap;
	}
	if (fs->len + n + 1 > fs->cap) {
		size_t cap = fs->cap ? fs->cap : 65536;
		char *b;

		while (cap < fs->len + n + 1)
			cap *= 2;
		if ((b = realloc(fs->buf, cap)) == NULL) {
			jv_free(text);
			fail(fs, "no_memory", line, "out of memory");
			fs->status = EX_OSERR;
			return;
		}
		fs->buf = b;
		fs->cap = cap;
	}
	fs->off[fs->nheld] = fs->len;
	fs->line[fs->nheld] = line;
	fs->withdrawal[fs->nheld] = NULL;
	fs->section_of[fs->nheld] = fs->sections;
	fs->nheld++;
	memcpy(fs->buf + fs->len, s, n);
	fs->len += n;
	fs->buf[fs->len++] = '\0';
	jv_free(text);
}

/*
 * One data row: count it in, and hold its envelope.  The occurrence
 * numbers rows whose fields are all equal within the file, so that two
 * identical rows (the same refund twice in one second) stay two records
 * while the same row in a re-sent file keeps its number.
 */
static void
data_row(struct file_state *fs, const struct csv_row *r, size_t first)
{
	struct sha256 h;
	unsigned char d[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];
	jv data = jv_object(), env = jv_object(), n;
	double occurrence = 1;
	size_t i;

	st.in++;
	counters_add(&st.in_kind, formats[fs->fmt].kind);
	sha256_init(&h);
	for (i = first; i < r->n; i++) {
		char len[24];

		snprintf(len, sizeof(len), "%zu:", r->len[i]);
		sha256_update(&h, len, strlen(len));
		sha256_update(&h, r->field[i], r->len[i]);
		data =
		    jv_object_set(data, jv_string(fs->col[i - first]),
				  jv_string_sized(r->field[i], (int)r->len[i]));
	}
	sha256_final(&h, d);
	for (i = 0; i < SHA256_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	n = jv_object_get(jv_copy(fs->seen), jv_string(hex));
	if (jv_get_kind(n) == JV_KIND_NUMBER)
		occurrence = jv_number_value(n) + 1;
	jv_free(n);
	fs->seen =
	    jv_object_set(fs->seen, jv_string(hex), jv_number(occurrence));
	env = json_set_str(env, "kind", formats[fs->fmt].kind);
	env = json_set_str(env, "file", fs->name);
	env = jv_object_set(env, jv_string("row"), jv_number((double)r->row));
	env = jv_object_set(env, jv_string("line"), jv_number((double)r->line));
	env =
	    jv_object_set(env, jv_string("occurrence"), jv_number(occurrence));
	if (fs->fmt == FMT_PAYPAL)
		env = json_set_str(env, "account", fs->account);
	env = jv_object_set(env, jv_string("data"), data);
	hold(fs, env, r->line);
}

/* --- PayPal Settlement Report ----------------------------------------- */

/* Unsigned hundredths: digits only.  Empty is 0 when empty_ok. */
static int
hundredths(const char *s, int empty_ok, int64_t *out)
{
	size_t i, n = strlen(s);

	*out = 0;
	if (n == 0)
		return empty_ok ? 0 : -1;
	if (n > 18)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*out = *out * 10 + (s[i] - '0');
	}
	return 0;
}

static struct totals *
totals_of(struct file_state *fs, struct ledger *l, const char *currency)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].currency, currency) == 0)
			return &l->v[i];
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		struct totals *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL) {
			fail(fs, "no_memory", 0, "out of memory");
			return NULL;
		}
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	snprintf(l->v[l->n].currency, sizeof(l->v[l->n].currency), "%s",
		 currency);
	return &l->v[l->n++];
}

static const char *
field_or_empty(const struct csv_row *r, int ix)
{
	return ix >= 0 && (size_t)ix + 1 < r->n ? r->field[ix + 1] : "";
}

/* Add one body row's amounts to a ledger. */
static void
add_amounts(struct file_state *fs, struct ledger *l, const char *cur,
	    const char *fcur, const char *dc, int64_t gross, const char *fdc,
	    int64_t fee)
{
	struct totals *t = totals_of(fs, l, cur), *f;

	if (t == NULL)
		return;
	t->rows++;
	if (strcmp(dc, "CR") == 0)
		t->gross_cr += gross;
	else
		t->gross_dr += gross;
	if (fee == 0)
		return;
	if ((f = totals_of(fs, l, fcur)) == NULL)
		return;
	if (strcmp(fdc, "CR") == 0)
		f->fee_cr += fee;
	else
		f->fee_dr += fee;
}

static void
srf_body(struct file_state *fs, const struct csv_row *r)
{
	const char *dc, *fdc, *cur, *fcur;
	int64_t gross, fee;

	if (fs->place != SRF_BODY) {
		fail(fs, "bad_structure", r->line,
		     "a body row (SB) outside a section with a column "
		     "header (CH)");
		return;
	}
	if (r->n != fs->ncol + 1) {
		fail(fs, "bad_row", r->line,
		     "the row has %zu fields but the column header (CH) has "
		     "%zu",
		     r->n, fs->ncol + 1);
		return;
	}
	dc = field_or_empty(r, fs->ix_dc);
	fdc = field_or_empty(r, fs->ix_fdc);
	cur = field_or_empty(r, fs->ix_cur);
	fcur = field_or_empty(r, fs->ix_fcur);
	if (*fcur == '\0')
		fcur = cur;
	if (hundredths(field_or_empty(r, fs->ix_gross), 0, &gross) < 0) {
		fail(fs, "bad_amount", r->line,
		     "'Gross Transaction Amount' is not an unsigned number of "
		     "hundredths");
		return;
	}
	if (strcmp(dc, "CR") != 0 && strcmp(dc, "DR") != 0) {
		fail(fs, "bad_amount", r->line,
		     "'Transaction Debit or Credit' is not CR or DR");
		return;
	}
	if (hundredths(field_or_empty(r, fs->ix_fee), 1, &fee) < 0) {
		fail(fs, "bad_amount", r->line,
		     "'Fee Amount' is not an unsigned number of hundredths");
		return;
	}
	if (fee != 0 && strcmp(fdc, "CR") != 0 && strcmp(fdc, "DR") != 0) {
		fail(fs, "bad_amount", r->line,
		     "'Fee Debit or Credit' is not CR or DR");
		return;
	}
	if (*cur == '\0') {
		fail(fs, "bad_row", r->line,
		     "'Gross Transaction Currency' is empty");
		return;
	}
	add_amounts(fs, &fs->section, cur, fcur, dc, gross, fdc, fee);
	add_amounts(fs, &fs->report, cur, fcur, dc, gross, fdc, fee);
	fs->section_rows++;
	fs->file_rows++;
	data_row(fs, r, 1);
	/* T04xx: money withdrawn to the bank, the PayPal payout. */
	if (!fs->failed && fs->nheld > 0 &&
	    strncmp(field_or_empty(r, fs->ix_tcode), "T04", 3) == 0 &&
	    *field_or_empty(r, fs->ix_tid) != '\0' &&
	    (fs->withdrawal[fs->nheld - 1] =
		 strdup(field_or_empty(r, fs->ix_tid))) == NULL) {
		fail(fs, "no_memory", r->line, "out of memory");
		fs->status = EX_OSERR;
	}
}

/*
 * A footer row (SF or RF): currency, then total gross credits, gross
 * debits, fee credits, fee debits, in hundredths.  They must equal the
 * body rows' sums; the balances that follow are kept in the file only.
 */
static void
srf_footer(struct file_state *fs, const struct csv_row *r, struct ledger *l,
	   const char *what)
{
	static const char *const names[] = {"gross credits", "gross debits",
					    "fee credits", "fee debits"};
	struct totals *t;
	int64_t said[4], summed[4];
	int i;

	if (r->n < 6) {
		fail(fs, "bad_footer", r->line,
		     "the %s has %zu fields, fewer than its 6 totals", what,
		     r->n);
		return;
	}
	if ((t = totals_of(fs, l, r->field[1])) == NULL)
		return;
	if (t->footed) {
		fail(fs, "bad_footer", r->line, "a second %s for %s", what,
		     r->field[1]);
		return;
	}
	t->footed = 1;
	summed[0] = t->gross_cr;
	summed[1] = t->gross_dr;
	summed[2] = t->fee_cr;
	summed[3] = t->fee_dr;
	for (i = 0; i < 4; i++) {
		if (hundredths(r->field[2 + i], 0, &said[i]) < 0) {
			fail(fs, "bad_footer", r->line,
			     "the %s's %s is not an unsigned number of "
			     "hundredths",
			     what, names[i]);
			return;
		}
		if (said[i] != summed[i]) {
			fail(fs, "bad_footer", r->line,
			     "the %s says %s %s are %lld hundredths but the "
			     "rows add up to %lld",
			     what, r->field[1], names[i], (long long)said[i],
			     (long long)summed[i]);
			return;
		}
	}
}

/* A count row (SC, RC, FF): its count must equal the body rows. */
static void
srf_count(struct file_state *fs, const struct csv_row *r, unsigned long rows,
	  const char *what)
{
	int64_t said;

	if (r->n < 2 || hundredths(r->field[1], 0, &said) < 0) {
		fail(fs, "bad_footer", r->line, "the %s has no record count",
		     what);
		return;
	}
	if ((uint64_t)said != rows)
		fail(fs, "bad_footer", r->line,
		     "the %s says %lld body rows but there are %lu", what,
		     (long long)said, rows);
}

/* Every currency with body rows must have had its footer. */
static void
srf_all_footed(struct file_state *fs, struct ledger *l, unsigned long line,
	       const char *what)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (!l->v[i].footed && l->v[i].rows > 0) {
			fail(fs, "bad_footer", line,
			     "the %s has rows in %s but no %s footer for them",
			     what, l->v[i].currency, l->v[i].currency);
			return;
		}
}

static void
srf_row(struct file_state *fs, const struct csv_row *r)
{
	const char *type = r->n > 0 ? r->field[0] : "";
	enum srf_place p = fs->place;

	if (p == SRF_END) {
		fail(fs, "bad_structure", r->line,
		     "a row after the file footer (FF)");
	} else if (strcmp(type, "RH") == 0 && p == SRF_START) {
		fs->place = SRF_REPORT_HEAD;
	} else if (strcmp(type, "FH") == 0 && p == SRF_REPORT_HEAD) {
		fs->place = SRF_FILE_HEAD;
	} else if (strcmp(type, "SH") == 0 && p == SRF_FILE_HEAD) {
		fs->place = SRF_SECTION;
		fs->section_line = r->line;
		fs->section_rows = 0;
		fs->section.n = 0;
		fs->sections++;
		snprintf(fs->account, sizeof(fs->account), "%s",
			 r->n > 3 ? r->field[3] : "");
	} else if (strcmp(type, "CH") == 0 && p == SRF_SECTION) {
		if (set_columns(fs, r, 1) == 0) {
			fs->ix_gross = column(fs, "Gross Transaction Amount");
			fs->ix_dc = column(fs, "Transaction Debit or Credit");
			fs->ix_cur = column(fs, "Gross Transaction Currency");
			fs->ix_fee = column(fs, "Fee Amount");
			fs->ix_fdc = column(fs, "Fee Debit or Credit");
			fs->ix_fcur = column(fs, "Fee Currency");
			fs->ix_tid = column(fs, "Transaction ID");
			fs->ix_tcode = column(fs, "Transaction Event Code");
			fs->place = SRF_BODY;
		}
	} else if (strcmp(type, "SB") == 0) {
		srf_body(fs, r);
	} else if (strcmp(type, "SF") == 0 &&
		   (p == SRF_BODY || p == SRF_SECTION_FOOT)) {
		srf_footer(fs, r, &fs->section, "section footer (SF)");
		fs->place = SRF_SECTION_FOOT;
	} else if (strcmp(type, "SC") == 0 &&
		   (p == SRF_BODY || p == SRF_SECTION_FOOT)) {
		srf_all_footed(fs, &fs->section, r->line, "section");
		srf_count(fs, r, fs->section_rows, "section count (SC)");
		fs->place = SRF_FILE_HEAD;
	} else if (strcmp(type, "RF") == 0 &&
		   (p == SRF_FILE_HEAD || p == SRF_REPORT_FOOT)) {
		srf_footer(fs, r, &fs->report, "report footer (RF)");
		fs->place = SRF_REPORT_FOOT;
	} else if (strcmp(type, "RC") == 0 && p == SRF_REPORT_FOOT) {
		srf_all_footed(fs, &fs->report, r->line, "report");
		srf_count(fs, r, fs->file_rows, "report count (RC)");
		fs->place = SRF_REPORT_COUNT;
	} else if (strcmp(type, "FF") == 0 &&
		   (p == SRF_REPORT_COUNT || p == SRF_FILE_HEAD)) {
		srf_count(fs, r, fs->file_rows, "file footer (FF)");
		fs->place = SRF_END;
	} else if (strlen(type) == 2 &&
		   strstr("RH FH SH CH SF SC RF RC FF", type) != NULL) {
		fail(fs, "bad_structure", r->line,
		     "a '%s' row out of its place in the report", type);
	} else {
		fail(fs, "bad_structure", r->line,
		     "'%.20s' is not a settlement report record type", type);
	}
}

/* The end of a PayPal file: it must have ended with its file footer. */
static void
srf_end(struct file_state *fs, unsigned long lines)
{
	static const char *const missing[] = {
	    [SRF_START] = "its report header (RH)",
	    [SRF_REPORT_HEAD] = "its file header (FH)",
	    [SRF_FILE_HEAD] = "its file footer (FF)",
	    [SRF_SECTION] = "the section's column header (CH)",
	    [SRF_BODY] = "the section's footer (SF) and count (SC)",
	    [SRF_SECTION_FOOT] = "the section's count (SC)",
	    [SRF_REPORT_FOOT] = "its report count (RC)",
	    [SRF_REPORT_COUNT] = "its file footer (FF)",
	    [SRF_END] = "",
	};

	if (fs->place != SRF_END)
		fail(fs, "truncated", lines,
		     "the file ends without %s: it is truncated",
		     missing[fs->place]);
}

/* --- one file ---------------------------------------------------------- */

static int
on_row(const struct csv_row *r, void *arg)
{
	struct file_state *fs = arg;

	if (r->row == 1 && fs->fmt == FMT_NONE &&
	    (fs->fmt = detect(r)) == FMT_NONE) {
		fail(fs, "unknown_format", r->line,
		     "the header is not that of a Shopify payout export, a "
		     "PayPal settlement report or a Stripe balance report; "
		     "name the format with --format");
		return 1;
	}
	if (fs->fmt == FMT_PAYPAL) {
		if (r->row == 1 && (r->n == 0 || strcmp(r->field[0], "RH"))) {
			fail(fs, "bad_header", r->line,
			     "a PayPal settlement report begins with a "
			     "report header (RH)");
			return 1;
		}
		srf_row(fs, r);
	} else if (r->row == 1) {
		set_columns(fs, r, 0);
	} else if (r->n != fs->ncol) {
		fail(fs, "bad_row", r->line,
		     "the row has %zu fields but the header has %zu", r->n,
		     fs->ncol);
	} else {
		data_row(fs, r, 0);
	}
	return fs->failed;
}

/* Reject every held envelope of a failed file, without a message each. */
static void
reject_file(struct file_state *fs, const char *digest)
{
	size_t i;

	for (i = 0; i < fs->nheld; i++) {
		jv rec, rej = jv_object();
		char *text;
		size_t n = strlen(fs->buf + fs->off[i]);

		st.rejected++;
		counters_add(&st.reasons, fs->reason);
		if (st.rejects == NULL)
			continue;
		if ((text = malloc(n + SHA256_HEX_LEN + strlen(shop_json) +
				   32)) == NULL) {
			st.io_failed = 1;
			continue;
		}
		sprintf(text, "%s,\"sha256\":\"%s\",\"shop\":%s}",
			fs->buf + fs->off[i], digest, shop_json);
		rec = jv_parse(text);
		free(text);
		rej = json_set_str(rej, "stage", "settlement-extract");
		rej = json_set_str(rej, "file", fs->name);
		rej = jv_object_set(rej, jv_string("line"),
				    jv_number((double)fs->line[i]));
		rej = json_set_str(rej, "reason", fs->reason);
		rej = json_set_str(rej, "detail", fs->detail);
		rej = jv_object_set(rej, jv_string("record"), rec);
		if (json_emit(st.rejects, rej) < 0)
			st.io_failed = 1;
	}
}

/*
 * Write every held envelope, completed with the digest and the shop.  A
 * PayPal row also names the withdrawal that took it to the bank: the
 * first withdrawal at or after it in its section.  The report says no
 * more; rows after a section's last withdrawal are still in the PayPal
 * balance and name none.
 */
static int
write_file(struct file_state *fs, const char *digest)
{
	const char **by = NULL, *next = NULL;
	size_t i;
	unsigned sec = 0;

	if (fs->fmt == FMT_PAYPAL && fs->nheld > 0 &&
	    (by = calloc(fs->nheld, sizeof(*by))) == NULL)
		return -1;
	for (i = fs->nheld; by != NULL && i-- > 0;) {
		if (fs->section_of[i] != sec) {
			sec = fs->section_of[i];
			next = NULL;
		}
		if (fs->withdrawal[i] != NULL)
			next = fs->withdrawal[i];
		by[i] = next;
	}
	for (i = 0; i < fs->nheld; i++) {
		printf("%s,\"sha256\":\"%s\",\"shop\":%s", fs->buf + fs->off[i],
		       digest, shop_json);
		if (by != NULL && by[i] != NULL) {
			jv id = jv_dump_string(jv_string(by[i]), 0);

			printf(",\"withdrawal\":%s", jv_string_value(id));
			jv_free(id);
		}
		puts("}");
		st.out++;
		counters_add(&st.out_kind, formats[fs->fmt].kind);
	}
	free(by);
	return ferror(stdout) ? -1 : 0;
}

/*
 * Read one file (path, or stdin for "-" or NULL) and write its envelopes,
 * or reject it whole.  Returns the exit status it calls for.
 */
static int
extract(const char *path, enum format fmt, int *io_error)
{
	struct file_state fs;
	struct csv_file cf;
	FILE *f;
	int rc, status = 0;

	memset(&fs, 0, sizeof(fs));
	fs.name = path == NULL || strcmp(path, "-") == 0 ? "<stdin>" : path;
	fs.fmt = fmt;
	fs.seen = jv_object();
	if (path == NULL || strcmp(path, "-") == 0)
		f = stdin;
	else if ((f = fopen(path, "rb")) == NULL)
		return msg_fail(EX_NOINPUT, "cannot open '%s':", path);
	rc = csv_read_stream(f, on_row, &fs, &cf);
	if (rc < 0) {
		fail(&fs, cf.reason, cf.err_line, "%s", cf.err);
		fs.status = cf.status;
	} else if (!fs.failed && cf.rows == 0) {
		fail(&fs, "empty", 0, "the file is empty");
	} else if (!fs.failed && fs.fmt == FMT_PAYPAL) {
		srf_end(&fs, cf.lines);
	}
	if (f != stdin)
		fclose(f);
	if (fs.failed) {
		if (fs.fail_line > 0)
			msg_warn("%s: line %lu: %s; the file is rejected, "
				 "nothing of it is written",
				 fs.name, fs.fail_line, fs.detail);
		else
			msg_warn("%s: %s; the file is rejected, nothing of it "
				 "is written",
				 fs.name, fs.detail);
		reject_file(&fs, cf.sha256);
		status = fs.status;
	} else if (write_file(&fs, cf.sha256) < 0) {
		*io_error = 1;
	}
	free_columns(&fs);
	free(fs.buf);
	for (size_t i = 0; i < fs.nheld; i++)
		free(fs.withdrawal[i]);
	free(fs.withdrawal);
	free(fs.section_of);
	free(fs.off);
	free(fs.line);
	free(fs.section.v);
	free(fs.report.v);
	jv_free(fs.seen);
	return status;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: settlement-extract --shop HANDLE "
		"[--format shopify-payouts|paypal-srf|stripe-balance]\n"
		"                          [--rejects FILE] [--stats FILE] "
		"[FILE ...]\n"
		"       settlement-extract --help | --version\n"
		"Gateway settlement files in (stdin or FILEs), raw envelopes "
		"out, one a data row.\n"
		"Exit: 0 ok, 64 usage, 65 a file rejected, 66 cannot open "
		"input, 74 I/O error.\n");
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"shop", required_argument, NULL, 'S'},
	    {"format", required_argument, NULL, 'f'},
	    {"rejects", required_argument, NULL, 'r'},
	    {"stats", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *rejects = NULL, *stats = NULL, *shop = NULL;
	enum format fmt = FMT_NONE;
	int ch, i, rc, status = 0, io_error = 0;
	jv dumped;

	msg_init("settlement-extract");
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'S':
			shop = optarg;
			break;
		case 'f':
			for (fmt = FMT_SHOPIFY; fmt <= FMT_STRIPE; fmt++)
				if (strcmp(optarg, formats[fmt].name) == 0)
					break;
			if (fmt > FMT_STRIPE) {
				msg_warn("--format: '%s' is not "
					 "shopify-payouts, paypal-srf or "
					 "stripe-balance",
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
			printf("settlement-extract (tillroll) %s\n",
			       TILLROLL_VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	/* The envelopes must say whose they are, or normalize cannot key them.
	 */
	if (shop == NULL) {
		msg_warn("--shop is required");
		usage(stderr);
		return EX_USAGE;
	}
	if (*shop == '\0' || strchr(shop, '/') != NULL) {
		msg_warn("--shop: '%s' is not a shop handle", shop);
		return EX_USAGE;
	}
	dumped = jv_dump_string(jv_string(shop), 0);
	shop_json = strdup(jv_string_value(dumped));
	jv_free(dumped);
	if (shop_json == NULL)
		return msg_fail(EX_OSERR, "out of memory");
	if ((rc = stage_init(&st, "settlement-extract", rejects, stats)) != 0)
		return rc;

	if (argc == 0)
		status = extract(NULL, fmt, &io_error);
	for (i = 0; i < argc && !io_error; i++)
		status = exit_worst(status, extract(argv[i], fmt, &io_error));
	/* io_error is a failed write to stdout, which ferror remembers. */
	status = stage_flush_stdout(status);
	status = stage_finish(&st, status);
	free((char *)shop_json);
	return stage_close_stdout(status);
}
