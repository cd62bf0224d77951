/* See LICENSE file for copyright and license details. */
#include "utf8.h"

int
utf8_sequence(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int more, i;

	if (n == 0)
		return 0;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		more = 1;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		more = 2;
		if (s[0] == 0xe0)
			lo = 0xa0; /* no overlong forms */
		if (s[0] == 0xed)
			hi = 0x9f; /* no surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		more = 3;
		if (s[0] == 0xf0)
			lo = 0x90;
		if (s[0] == 0xf4)
			hi = 0x8f; /* nothing above U+10FFFF */
	} else {
		return 0;
	}
	if (n <= (size_t)more || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i <= more; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return more + 1;
}

int
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	int k;

	while (i < n) {
		if (s[i] == 0)
			return 0;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_sequence(s + i, n - i)) == 0)
			return 0;
		i += (size_t)k;
	}
	return 1;
}
