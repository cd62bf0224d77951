/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_ODOOTAX_H
#define TILLROLL_ODOOTAX_H

/*
 * What Odoo will compute for an invoice or credit note, in integers: each
 * line's price_subtotal, tax and price_total, and the move's
 * amount_untaxed, amount_tax and amount_total, from the price_unit,
 * quantity, discount and taxes that a loader sends.  enrich-tax plans
 * lines with it; a stand-in for Odoo in tests and odoo-load's checks can
 * check with the same rules.  Nothing here allocates, prints or uses
 * floating point.
 *
 * The rules modelled (Odoo 16 account.move.line._compute_totals and
 * account.tax.compute_all; facts in reference/odoo.md 2.4, 2.5 and 5.1 and
 * the tax rounding probe in reference/odoo-transcript.md, which this
 * model reproduces: 55.20 included at 21 % gives 45.62 / 9.58; 3 lines of
 * 8.26 excluded give 5.19 per line and 5.20 globally):
 *
 *  1. The discounted unit price is price_unit * (1 - discount / 100); the
 *     line's base is that times the quantity, rounded to the currency.
 *     price_unit has the "Product Price" precision (price_digits), the
 *     discount the "Discount" precision (discount_digits).
 *  2. A line without taxes: subtotal = total = base.
 *  3. A negative base is computed as its absolute value and negated.
 *  4. Price-included taxes: the untaxed amount is
 *     (base - quantity * Σ included fixed) / (1 + Σ included percent / 100),
 *     rounded to the currency whatever the rounding method.  The last
 *     included tax with a non-zero amount takes what is left of the base
 *     (the "checkpoint"), so included taxes always add up to the base.
 *  5. Other taxes: percent = untaxed * amount / 100, fixed = quantity *
 *     amount, each rounded to the currency under round_per_line, and to the
 *     currency's precision * 1e-5 under round_globally.
 *  6. price_total = untaxed + Σ taxes, rounded to the currency.
 *  7. The move: amount_untaxed = Σ price_subtotal; amount_tax = Σ over
 *     lines and taxes under round_per_line, and under round_globally, for
 *     each tax, the sum of its fine per-line amounts rounded to the
 *     currency, then summed; amount_total = amount_untaxed + amount_tax.
 *  8. Every rounding is half away from zero (Odoo's float_round HALF-UP,
 *     whose epsilon makes a binary float behave as its decimal value).
 *
 * Not modelled: include_base_amount, group, division and python taxes,
 * repartition lines other than one at 100 %, fiscal positions (which may
 * swap the taxes a loader sends), cash rounding.  Taxes apply in the order
 * given, which must be Odoo's sequence order.  The model is exact
 * arithmetic; Odoo's floats agree with it except where an accumulated
 * binary error exceeds float_round's epsilon, which amounts of a shop's
 * size do not reach.
 */

#include <stddef.h>
#include <stdint.h>

/* Digits of an account.tax amount (Odoo's field is digits (16, 4)). */
#define ODOOTAX_AMOUNT_DIGITS 4
/* Most taxes on one line, and distinct taxes on one move. */
#define ODOOTAX_MAX_LINE_TAXES 8
#define ODOOTAX_MAX_MOVE_TAXES 32
/* Extra digits of round_globally (Odoo: prec *= 1e-5). */
#define ODOOTAX_GLOBAL_DIGITS 5

enum odootax_rounding { ODOOTAX_ROUND_PER_LINE, ODOOTAX_ROUND_GLOBALLY };

/* One account.tax, as far as the computation goes. */
struct odootax_tax {
	int64_t amount;	   /* percent or fixed, in 10^-ODOOTAX_AMOUNT_DIGITS */
	int fixed;	   /* amount_type fixed (else percent) */
	int price_include; /* price_include */
};

/* The precisions and rounding method of one company and currency. */
struct odootax_prec {
	int currency_digits; /* the currency's minor digits: 2 for EUR */
	int price_digits;    /* Product Price precision, >= currency_digits */
	int discount_digits; /* Discount precision */
	enum odootax_rounding rounding;
};

/* One invoice line as sent.  taxes is borrowed. */
struct odootax_line {
	int64_t price_unit; /* in 10^-price_digits */
	int64_t quantity;   /* whole units */
	int64_t discount;   /* percent, in 10^-discount_digits */
	const struct odootax_tax *const *taxes;
	size_t ntaxes; /* at most ODOOTAX_MAX_LINE_TAXES */
};

/* What Odoo computes for one line. */
struct odootax_result {
	int64_t base;	  /* discounted price * quantity, minor units */
	int64_t subtotal; /* price_subtotal, minor units */
	int64_t total;	  /* price_total, minor units */
	int64_t tax;	  /* total - subtotal */
	/*
	 * Each tax's amount as the move sums it: minor units under
	 * round_per_line, minor units * 10^ODOOTAX_GLOBAL_DIGITS under
	 * round_globally.
	 */
	int64_t fine[ODOOTAX_MAX_LINE_TAXES];
};

/* The running totals of one move. */
struct odootax_move {
	struct odootax_prec prec; /* copied */
	int64_t untaxed;	  /* Σ price_subtotal */
	const struct odootax_tax *tax[ODOOTAX_MAX_MOVE_TAXES]; /* borrowed */
	int64_t fine[ODOOTAX_MAX_MOVE_TAXES]; /* Σ of each tax's amounts */
	size_t ntax;			      /* distinct taxes seen */
};

/*
 * Check that p is usable: digits from 0 to 6, price_digits not below
 * currency_digits.  Returns 0, or -1 with *why a phrase.
 */
int odootax_prec_check(const struct odootax_prec *p, const char **why);

/*
 * Compute line under p into *r.  Returns 0, or -1 with *why set when an
 * amount overflows, a percentage is negative beyond -100 % or a discount
 * is above 100 %, or there are too many taxes.
 */
int odootax_line_compute(const struct odootax_prec *p,
			 const struct odootax_line *line,
			 struct odootax_result *r, const char **why);

/* Start an empty move under p (copied). */
void odootax_move_init(struct odootax_move *m, const struct odootax_prec *p);

/*
 * Add a computed line (its taxes, in the order given to
 * odootax_line_compute, and its result) to m.  Taxes are told apart by
 * address.  Returns 0, or -1 with *why set (too many taxes, overflow).
 */
int odootax_move_add(struct odootax_move *m, const struct odootax_line *line,
		     const struct odootax_result *r, const char **why);

/*
 * The move's amount_untaxed, amount_tax and amount_total in minor units.
 * Returns 0, or -1 with *why set when a total overflows.
 */
int odootax_move_totals(const struct odootax_move *m, int64_t *untaxed,
			int64_t *tax, int64_t *total, const char **why);

#endif
