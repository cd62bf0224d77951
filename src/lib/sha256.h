/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_SHA256_H
#define TILLROLL_SHA256_H

/*
 * SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), written for lineage
 * (the digest of a raw line in every record's src) and for keyed hashing
 * of personal data, so that the suite needs no crypto library.  Nothing
 * allocates.
 */

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32
#define SHA256_HEX_LEN 65 /* 64 hex digits and a NUL */

struct sha256 {
	uint32_t state[8];	 /* the running hash */
	uint64_t total;		 /* bytes hashed so far */
	unsigned char block[64]; /* bytes waiting for a whole block */
	size_t used;		 /* bytes in block */
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t n);
/* Finish and write the 32-byte digest; c must be re-initialised to reuse. */
void sha256_final(struct sha256 *c, unsigned char out[SHA256_LEN]);

/* The digest of n bytes as 64 lower-case hex digits and a NUL in hex. */
void sha256_hex(const void *data, size_t n, char hex[SHA256_HEX_LEN]);

/* HMAC-SHA256 of data under key, as 64 lower-case hex digits and a NUL. */
void hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t n,
		     char hex[SHA256_HEX_LEN]);

#endif
