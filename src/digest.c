/* SHA-256 and base64 from libcrypto: the event key, the signing keys. */
#include "config.h"

#include <limits.h>

#include <openssl/evp.h>

#include "digest.h"

int
digest_sha256(const void *p, size_t n, unsigned char out[DIGEST_SHA256_LEN])
{
	unsigned int len = 0;

	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 ||
	    len != DIGEST_SHA256_LEN)
		return -1;
	return 0;
}

int
digest_sha256_hex(const void *p, size_t n, char out[DIGEST_HEX_LEN])
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		md[DIGEST_SHA256_LEN];
	size_t			i;

	if (digest_sha256(p, n, md) == -1)
		return -1;
	for (i = 0; i < DIGEST_SHA256_LEN; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[2 * DIGEST_SHA256_LEN] = '\0';
	return 0;
}

int
digest_base64_decode(const char *in, size_t inlen, unsigned char *out,
    size_t outsize, size_t *outlen)
{
	int	n;
	size_t	pad = 0;

	if (inlen == 0 || inlen % 4 != 0 || inlen / 4 * 3 > outsize ||
	    inlen > INT_MAX)
		return -1;
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)in,
	    (int)inlen)) < 0)
		return -1;
	if (in[inlen - 1] == '=')
		pad++;
	if (in[inlen - 2] == '=')
		pad++;
	*outlen = (size_t)n - pad;
	return 0;
}
