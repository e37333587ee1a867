/* Token and signature checks over the raw request, in constant time. */
#include "config.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "auth.h"
#include "digest.h"
#include "util.h"

#define TOKEN_MAX		512
#define SIG_TOLERANCE		300	/* seconds either side of now */

/*
 * Compare digests rather than the tokens themselves, so the time taken
 * tells nothing of the configured tokens' lengths or contents.
 */
static int
token_matches(const struct settings *s, const unsigned char *got)
{
	unsigned char	want[DIGEST_SHA256_LEN];
	size_t		i;
	int		match = 0;

	for (i = 0; i < s->ntokens; i++) {
		if (digest_sha256(s->tokens[i], strlen(s->tokens[i]),
		    want) == -1)
			continue;
		match |= CRYPTO_memcmp(want, got, sizeof(want)) == 0;
	}
	return match;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode [p, end) into out; -1 if malformed or too long. */
static int
url_decode(const char *p, const char *end, char *out, size_t outsize,
    size_t *outlen)
{
	size_t n = 0;

	while (p < end) {
		int c = (unsigned char)*p++;

		if (c == '+')
			c = ' ';
		else if (c == '%') {
			int hi, lo;

			if (end - p < 2 || (hi = hexval(p[0])) == -1 ||
			    (lo = hexval(p[1])) == -1)
				return -1;
			c = hi << 4 | lo;
			p += 2;
		}
		if (n + 1 >= outsize)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	*outlen = n;
	return 0;
}

/*
 * The tokens a request presents: all must be the same, and configured.
 * Work goes on after a mismatch, so timing does not tell which of several
 * presented tokens was wrong.
 */
struct presented {
	int		count;
	int		bad;
	unsigned char	first[DIGEST_SHA256_LEN];
};

static void
check_one(const struct settings *s, const char *tok, size_t len,
    struct presented *p)
{
	unsigned char got[DIGEST_SHA256_LEN];

	if (len == 0 || len > TOKEN_MAX || digest_sha256(tok, len, got) == -1) {
		p->count++;
		p->bad = 1;
		return;
	}
	if (p->count++ == 0)
		memcpy(p->first, got, sizeof(got));
	else if (CRYPTO_memcmp(p->first, got, sizeof(got)) != 0)
		p->bad = 1;
	if (!token_matches(s, got))
		p->bad = 1;
	OPENSSL_cleanse(got, sizeof(got));
}

int
auth_check_token(const struct settings *s, const char *query,
    const char *authorization, const char *xtoken, struct error *err)
{
	struct presented	p = { 0, 0, { 0 } };
	char			tok[TOKEN_MAX + 1];
	size_t			len;

	if (s->auth == AUTH_NONE)
		return 0;
	if (s->ntokens == 0) {
		error_set(err, ERROR_INTERNAL, "", "MEETERGO_WEBHOOK_TOKEN is "
		    "not set "
		    "(set it, or MEETERGO_WEBHOOK_AUTH=none on a private "
		    "network)");
		return -1;
	}

	while (query != NULL && *query != '\0') {
		const char *end = strchr(query, '&'), *eq;

		if (end == NULL)
			end = query + strlen(query);
		eq = memchr(query, '=', (size_t)(end - query));
		if (eq != NULL && eq - query == 5 &&
		    memcmp(query, "token", 5) == 0) {
			if (url_decode(eq + 1, end, tok, sizeof(tok),
			    &len) == -1)
				check_one(s, "", 0, &p);
			else
				check_one(s, tok, len, &p);
		}
		query = *end == '&' ? end + 1 : end;
	}

	if (authorization != NULL && ascii_casecmp_n(authorization,
	    "Bearer ", 7) == 0) {
		const char *b = authorization + 7, *end;

		while (*b == ' ')
			b++;
		end = b + strlen(b);
		while (end > b && end[-1] == ' ')
			end--;
		check_one(s, b, (size_t)(end - b), &p);
	}

	if (xtoken != NULL)
		check_one(s, xtoken, strlen(xtoken), &p);

	explicit_bzero(tok, sizeof(tok));
	OPENSSL_cleanse(p.first, sizeof(p.first));
	if (p.count == 0) {
		error_set(err, ERROR_UNAUTHORIZED, "", "no token");
		return -1;
	}
	if (p.bad) {
		error_set(err, ERROR_UNAUTHORIZED, "", p.count > 1 ? "wrong or "
		    "disagreeing tokens" : "wrong token");
		return -1;
	}
	return 0;
}

static int
ts_ok(const char *ts, time_t now)
{
	const char	*errstr;
	long		 t;

	if (parse_long(ts, 0, 99999999999L, &t, &errstr) == -1)
		return 0;
	return t >= (long)now - SIG_TOLERANCE && t <= (long)now + SIG_TOLERANCE;
}

/* The HMAC-SHA256 of "<id>.<ts>.<body>" under key into mac. */
static int
sign(const struct signing_key *key, const char *id, const char *ts,
    const char *body, size_t bodylen, unsigned char *mac, size_t *maclen,
    size_t macsize)
{
	EVP_MAC		*hmac;
	EVP_MAC_CTX	*ctx = NULL;
	OSSL_PARAM	 params[2];
	int		 ok;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = (hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) != NULL &&
	    (ctx = EVP_MAC_CTX_new(hmac)) != NULL &&
	    EVP_MAC_init(ctx, key->key, key->len, params) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)id, strlen(id)) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)".", 1) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)ts, strlen(ts)) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)".", 1) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)body, bodylen) == 1 &&
	    EVP_MAC_final(ctx, mac, maclen, macsize) == 1;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(hmac);
	return ok ? 0 : -1;
}

/* "v1,<base64> v1,<base64> ...": 1 when any entry is mac. */
static int
signature_listed(const char *sigs, const unsigned char *mac, size_t maclen)
{
	unsigned char	 sig[64];
	const char	*p, *e;
	size_t		 siglen;
	int		 match = 0;

	for (p = sigs; *p != '\0'; p = e) {
		while (*p == ' ')
			p++;
		for (e = p; *e != '\0' && *e != ' '; e++)
			;
		if (e - p > 3 && memcmp(p, "v1,", 3) == 0 &&
		    digest_base64_decode(p + 3, (size_t)(e - p - 3), sig,
		    sizeof(sig), &siglen) == 0 && siglen == maclen)
			match |= CRYPTO_memcmp(sig, mac, maclen) == 0;
	}
	return match;
}

int
auth_check_signature(const struct settings *s, const char *id,
    const char *ts, const char *sigs, const char *body, size_t bodylen,
    time_t now, struct error *err)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	size_t		 i, maclen;
	int		 match = 0;

	if (s->nsigning_keys == 0)
		return 0;
	if (id == NULL || ts == NULL || sigs == NULL || *id == '\0') {
		error_set(err, ERROR_UNAUTHORIZED, "", "no webhook-id, "
		    "webhook-timestamp and webhook-signature headers");
		return -1;
	}
	if (!ts_ok(ts, now)) {
		error_set(err, ERROR_UNAUTHORIZED, "", "webhook-timestamp is "
		    "not within five minutes of now");
		return -1;
	}
	for (i = 0; i < s->nsigning_keys; i++) {
		if (sign(&s->signing_keys[i], id, ts, body, bodylen, mac,
		    &maclen, sizeof(mac)) == -1) {
			OPENSSL_cleanse(mac, sizeof(mac));
			error_set(err, ERROR_INTERNAL, "", "HMAC-SHA256 "
			    "failed");
			return -1;
		}
		match |= signature_listed(sigs, mac, maclen);
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	if (!match) {
		error_set(err, ERROR_UNAUTHORIZED, "", "bad webhook-signature");
		return -1;
	}
	return 0;
}
