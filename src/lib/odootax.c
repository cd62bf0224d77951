/* See LICENSE file for copyright and license details. */
/*
 * Odoo's tax computation in integers; the rules are listed in odootax.h.
 * Intermediate products are held in 128 bits so that no step rounds
 * before Odoo does.
 */
#include <stdint.h>

#include "odootax.h"

__extension__ typedef __int128 wide;

/* Limits that keep every product below 2^127 (see odootax_line_compute). */
#define MAX_PRICE 100000000000000LL  /* 10^14 units of price_digits */
#define MAX_QUANTITY 10000000LL	     /* 10^7 */
#define MAX_TAX_AMOUNT 10000000000LL /* 10^10 units of 10^-4 */
#define MAX_DIGITS 6

static const int64_t pow10[] = {1,
				10,
				100,
				1000,
				10000,
				100000,
				1000000,
				10000000,
				100000000,
				1000000000,
				10000000000LL,
				100000000000LL,
				1000000000000LL};

/* n / d rounded half away from zero; d > 0. */
static wide
div_round(wide n, wide d)
{
	wide q = n / d, r = n % d;

	if (r < 0)
		r = -r;
	if (2 * r >= d)
		q += n < 0 ? -1 : 1;
	return q;
}

static int
fits(wide v)
{
	return v >= INT64_MIN && v <= INT64_MAX;
}

static wide
absolute(wide v)
{
	return v < 0 ? -v : v;
}

int
odootax_prec_check(const struct odootax_prec *p, const char **why)
{
	if (p->currency_digits < 0 || p->currency_digits > MAX_DIGITS ||
	    p->price_digits < 0 || p->price_digits > MAX_DIGITS ||
	    p->discount_digits < 0 || p->discount_digits > MAX_DIGITS) {
		*why = "has a precision outside 0 to 6 digits";
		return -1;
	}
	if (p->price_digits < p->currency_digits) {
		*why = "has a price precision below the currency's";
		return -1;
	}
	if (p->rounding != ODOOTAX_ROUND_PER_LINE &&
	    p->rounding != ODOOTAX_ROUND_GLOBALLY) {
		*why = "has an unknown rounding method";
		return -1;
	}
	return 0;
}

int
odootax_line_compute(const struct odootax_prec *p,
		     const struct odootax_line *line, struct odootax_result *r,
		     const char **why)
{
	const wide amount_scale = pow10[ODOOTAX_AMOUNT_DIGITS];
	const wide cur = pow10[p->currency_digits];
	const wide fine_scale = p->rounding == ODOOTAX_ROUND_GLOBALLY
				    ? pow10[ODOOTAX_GLOBAL_DIGITS]
				    : 1;
	wide dscale = 100 * (wide)pow10[p->discount_digits];
	wide base, b, q, untaxed, incl_percent = 0, incl_fixed = 0;
	wide base_fine, untaxed_fine, total_fine, left_over = 0, v;
	int sign, checkpoint = -1;
	size_t i;

	if (odootax_prec_check(p, why) < 0)
		return -1;
	if (line->ntaxes > ODOOTAX_MAX_LINE_TAXES) {
		*why = "has too many taxes on one line";
		return -1;
	}
	if (line->price_unit > MAX_PRICE || line->price_unit < -MAX_PRICE ||
	    line->quantity > MAX_QUANTITY || line->quantity < -MAX_QUANTITY) {
		*why = "has a price or quantity too large";
		return -1;
	}
	if (line->discount < 0 || line->discount > dscale) {
		*why = "has a discount outside 0 to 100 %";
		return -1;
	}
	/* Rule 1: the discounted price times the quantity, rounded. */
	base = div_round((wide)line->price_unit * line->quantity *
			     (dscale - line->discount),
			 dscale * pow10[p->price_digits - p->currency_digits]);
	if (!fits(base)) {
		*why = "has an amount too large";
		return -1;
	}
	r->base = (int64_t)base;
	if (line->ntaxes == 0) { /* rule 2 */
		r->subtotal = r->total = r->base;
		r->tax = 0;
		return 0;
	}
	/* Rule 3: work on the absolute value. */
	sign = base < 0 ? -1 : 1;
	b = absolute(base);
	q = absolute((wide)line->quantity);
	for (i = 0; i < line->ntaxes; i++) {
		const struct odootax_tax *t = line->taxes[i];

		if (t->amount > MAX_TAX_AMOUNT || t->amount < -MAX_TAX_AMOUNT) {
			*why = "has a tax amount too large";
			return -1;
		}
		if (!t->price_include)
			continue;
		if (t->fixed)
			incl_fixed += t->amount;
		else
			incl_percent += t->amount;
		if (t->amount != 0)
			checkpoint = (int)i;
	}
	/* Rule 4: the untaxed amount, always rounded to the currency. */
	if (100 * amount_scale + incl_percent <= 0) {
		*why = "has included taxes of -100 % or less";
		return -1;
	}
	untaxed = div_round((b * amount_scale - q * incl_fixed * cur) * 100,
			    100 * amount_scale + incl_percent);
	base_fine = b * fine_scale;
	untaxed_fine = untaxed * fine_scale;
	total_fine = untaxed_fine;
	/* Rule 5, in Odoo's order. */
	for (i = 0; i < line->ntaxes; i++) {
		const struct odootax_tax *t = line->taxes[i];

		if (t->price_include && (int)i == checkpoint) {
			v = base_fine - (untaxed_fine + left_over);
			left_over = 0;
		} else if (t->fixed) {
			v = div_round(q * t->amount * cur * fine_scale,
				      amount_scale);
		} else {
			v = div_round(untaxed * t->amount * fine_scale,
				      100 * amount_scale);
		}
		if (t->price_include && (int)i != checkpoint)
			left_over += v;
		total_fine += v;
		if (!fits(v * sign)) {
			*why = "has a tax amount too large";
			return -1;
		}
		r->fine[i] = (int64_t)(v * sign);
	}
	/* Rule 6. */
	v = div_round(total_fine, fine_scale);
	if (!fits(v) || !fits(untaxed)) {
		*why = "has an amount too large";
		return -1;
	}
	r->subtotal = (int64_t)(untaxed * sign);
	r->total = (int64_t)(v * sign);
	r->tax = r->total - r->subtotal;
	return 0;
}

void
odootax_move_init(struct odootax_move *m, const struct odootax_prec *p)
{
	m->prec = *p;
	m->untaxed = 0;
	m->ntax = 0;
}

int
odootax_move_add(struct odootax_move *m, const struct odootax_line *line,
		 const struct odootax_result *r, const char **why)
{
	size_t i, j;

	if (__builtin_add_overflow(m->untaxed, r->subtotal, &m->untaxed)) {
		*why = "has an amount too large";
		return -1;
	}
	for (i = 0; i < line->ntaxes; i++) {
		for (j = 0; j < m->ntax; j++)
			if (m->tax[j] == line->taxes[i])
				break;
		if (j == m->ntax) {
			if (m->ntax == ODOOTAX_MAX_MOVE_TAXES) {
				*why = "has too many distinct taxes";
				return -1;
			}
			m->tax[j] = line->taxes[i];
			m->fine[j] = 0;
			m->ntax++;
		}
		if (__builtin_add_overflow(m->fine[j], r->fine[i],
					   &m->fine[j])) {
			*why = "has an amount too large";
			return -1;
		}
	}
	return 0;
}

int
odootax_move_totals(const struct odootax_move *m, int64_t *untaxed,
		    int64_t *tax, int64_t *total, const char **why)
{
	wide sum = 0;
	size_t j;

	/* Rule 7: per line the amounts are already whole minor units. */
	for (j = 0; j < m->ntax; j++)
		sum += m->prec.rounding == ODOOTAX_ROUND_GLOBALLY
			   ? div_round(m->fine[j], pow10[ODOOTAX_GLOBAL_DIGITS])
			   : m->fine[j];
	if (!fits(sum) || !fits(m->untaxed + sum)) {
		*why = "has an amount too large";
		return -1;
	}
	*untaxed = m->untaxed;
	*tax = (int64_t)sum;
	*total = (int64_t)(m->untaxed + sum);
	return 0;
}
