/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_MONEY_H
#define TILLROLL_MONEY_H

/*
 * Money is held as int64 minor units of one ISO 4217 currency and written as
 * a decimal string with exactly the currency's minor-unit digits: 1230 EUR
 * cents is "12.30", 1000 JPY is "1000", 1500 KWD fils is "1.500".  Nothing
 * here touches a double.  Every function returns 0 on success and -1 on
 * failure (bad text, overflow); none allocates, none prints.
 */

#include <stddef.h>
#include <stdint.h>

/* Longest text money_format() writes: sign, 19 digits, point, NUL. */
#define MONEY_TEXT_MAX 24

/*
 * The minor-unit exponent of an ISO 4217 code (2 for EUR, 0 for JPY, 3 for
 * KWD), or -1 when code is not three upper-case ASCII letters.  Codes not in
 * the table of exceptions have 2 digits, as ISO 4217 gives most currencies.
 */
int currency_exponent(const char *code);

/*
 * Parse the decimal text s (n bytes, not NUL-terminated necessarily) in a
 * currency of the given exponent into *minor.  Accepted: an optional '-',
 * one or more digits, optionally a '.' and one or more digits.  Fewer
 * fraction digits than the exponent are padded ("-41.9" is -4190 cents);
 * more are accepted only when the extra ones are zeros ("348.0" in JPY is
 * 348, "1.005" in EUR is an error), because anything else would change the
 * number.  On failure *why points to a static phrase that completes
 * "'<field>' ..." in a message, e.g. "is not a decimal amount".
 */
int money_parse(const char *s, size_t n, int exponent, int64_t *minor,
		const char **why);

/*
 * Write minor in the currency's exponent into buf (at least MONEY_TEXT_MAX
 * bytes): 1230,2 is "12.30", -5,2 is "-0.05", 7,0 is "7", 0,3 is "0.000".
 */
void money_format(int64_t minor, int exponent, char *buf);

/* *sum = a + b, or -1 on int64 overflow (then *sum is unchanged). */
int money_add(int64_t a, int64_t b, int64_t *sum);

/* *product = a * b, or -1 on int64 overflow. */
int money_mul(int64_t a, int64_t b, int64_t *product);

#endif
