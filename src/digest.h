/* SHA-256 from libcrypto, as the event key. */
#ifndef MW_DIGEST_H
#define MW_DIGEST_H

#include <stddef.h>

#define DIGEST_SHA256_LEN	32
#define DIGEST_HEX_LEN		(2 * DIGEST_SHA256_LEN + 1)

/* 0, or -1 if libcrypto failed. */
int	digest_sha256(const void *, size_t, unsigned char out[DIGEST_SHA256_LEN]);
int	digest_sha256_hex(const void *, size_t, char out[DIGEST_HEX_LEN]);

#endif
