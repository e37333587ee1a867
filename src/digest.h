/* SHA-256 and base64 from libcrypto: the event key, the signing keys. */
#ifndef MW_DIGEST_H
#define MW_DIGEST_H

#include <stddef.h>

#define DIGEST_SHA256_LEN	32
#define DIGEST_HEX_LEN		(2 * DIGEST_SHA256_LEN + 1)

/* 0, or -1 if libcrypto failed. */
int	digest_sha256(const void *, size_t, unsigned char out[DIGEST_SHA256_LEN]);
int	digest_sha256_hex(const void *, size_t, char out[DIGEST_HEX_LEN]);

/* Standard base64 with padding into out; -1 if malformed or too long. */
int	digest_base64_decode(const char *in, size_t inlen, unsigned char *out,
	    size_t outsize, size_t *outlen);

#endif
