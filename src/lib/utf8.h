/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_UTF8_H
#define TILLROLL_UTF8_H

#include <stddef.h>

/*
 * The length (2 to 4) of the well-formed UTF-8 sequence (RFC 3629) that
 * starts at s, whose first byte is not ASCII, reading at most n bytes; 0
 * when the bytes there are no such sequence: a stray continuation byte,
 * an overlong form, a surrogate, a code point past U+10FFFF, or a
 * sequence cut short.  This is what libjq keeps as it is; it replaces
 * anything else with U+FFFD.
 */
int utf8_sequence(const unsigned char *s, size_t n);

/* 1 when the n bytes at s are well-formed UTF-8 holding no NUL, else 0. */
int utf8_valid(const unsigned char *s, size_t n);

#endif
