/* See LICENSE file for copyright and license details. */
#include <string.h>

#include "money.h"

/* ISO 4217 currencies whose minor unit is not two digits. */
static const struct {
	char code[4];
	int exponent;
} exceptions[] = {
    {"BHD", 3}, {"BIF", 0}, {"CLF", 4}, {"CLP", 0}, {"DJF", 0}, {"GNF", 0},
    {"IQD", 3}, {"ISK", 0}, {"JOD", 3}, {"JPY", 0}, {"KMF", 0}, {"KRW", 0},
    {"KWD", 3}, {"LYD", 3}, {"OMR", 3}, {"PYG", 0}, {"RWF", 0}, {"TND", 3},
    {"UGX", 0}, {"UYI", 0}, {"UYW", 4}, {"VND", 0}, {"VUV", 0}, {"XAF", 0},
    {"XOF", 0}, {"XPF", 0},
};

int
currency_exponent(const char *code)
{
	size_t i;

	if (code == NULL || strlen(code) != 3)
		return -1;
	for (i = 0; i < 3; i++)
		if (code[i] < 'A' || code[i] > 'Z')
			return -1;
	for (i = 0; i < sizeof(exceptions) / sizeof(exceptions[0]); i++)
		if (memcmp(exceptions[i].code, code, 3) == 0)
			return exceptions[i].exponent;
	return 2;
}

int
money_parse(const char *s, size_t n, int exponent, int64_t *minor,
	    const char **why)
{
	const char *end = s + n;
	const char *p = s;
	uint64_t magnitude = 0;
	int negative = 0, intdigits = 0, fracdigits = 0;

	*why = "is not a decimal amount";
	if (exponent < 0 || exponent > 9)
		return -1;
	if (p < end && *p == '-') {
		negative = 1;
		p++;
	}
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (magnitude > (UINT64_MAX - 9) / 10)
			goto range;
		magnitude = magnitude * 10 + (uint64_t)(*p - '0');
		intdigits++;
	}
	if (intdigits == 0)
		return -1;
	if (p < end && *p == '.') {
		p++;
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			if (fracdigits >= exponent) {
				if (*p != '0') {
					*why = "has more decimal places than "
					       "its currency";
					return -1;
				}
			} else {
				if (magnitude > (UINT64_MAX - 9) / 10)
					goto range;
				magnitude =
				    magnitude * 10 + (uint64_t)(*p - '0');
			}
			fracdigits++;
		}
		if (fracdigits == 0)
			return -1;
	}
	if (p != end)
		return -1;
	for (; fracdigits < exponent; fracdigits++) {
		if (magnitude > UINT64_MAX / 10)
			goto range;
		magnitude *= 10;
	}
	if (magnitude > (uint64_t)INT64_MAX)
		goto range;
	*minor = negative ? -(int64_t)magnitude : (int64_t)magnitude;
	return 0;
range:
	*why = "is out of range";
	return -1;
}

void
money_format(int64_t minor, int exponent, char *buf)
{
	char digits[24];
	uint64_t magnitude;
	int len, i, o = 0;

	magnitude = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
	len = 0;
	do {
		digits[len++] = (char)('0' + magnitude % 10);
		magnitude /= 10;
	} while (magnitude > 0);
	while (len <= exponent)
		digits[len++] = '0';
	if (minor < 0)
		buf[o++] = '-';
	for (i = len - 1; i >= 0; i--) {
		buf[o++] = digits[i];
		if (i == exponent && exponent > 0)
			buf[o++] = '.';
	}
	buf[o] = '\0';
}

int
money_add(int64_t a, int64_t b, int64_t *sum)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return -1;
	*sum = r;
	return 0;
}

int
money_mul(int64_t a, int64_t b, int64_t *product)
{
	int64_t r;

	if (__builtin_mul_overflow(a, b, &r))
		return -1;
	*product = r;
	return 0;
}
