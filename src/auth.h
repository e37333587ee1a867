/* Token and signature checks over the raw request, in constant time. */
#ifndef MW_AUTH_H
#define MW_AUTH_H

#include <stddef.h>
#include <time.h>

#include "error.h"
#include "settings.h"

/*
 * The request must present a token (query parameter "token", header
 * "Authorization: Bearer", header "X-Webhook-Token"; any may be NULL)
 * that equals one of the configured tokens; when it presents several
 * (repeated or in several places), they must all be that same token.
 * 0, or -1 with err set: ERROR_UNAUTHORIZED for a missing or wrong token,
 * ERROR_INTERNAL when no token is configured and MEETERGO_WEBHOOK_AUTH is
 * not "none".  The token
 * never reaches err or a log.
 */
int	auth_check_token(const struct settings *, const char *query_string,
	    const char *authorization, const char *x_webhook_token,
	    struct error *err);

/*
 * Standard Webhooks: with signing secrets configured, one "v1,<base64>"
 * entry of the webhook-signature header must be the HMAC-SHA256 of
 * "<webhook-id>.<webhook-timestamp>.<body>" under one of the secrets, and
 * the timestamp must be within five minutes of now.  0 when it is, or when
 * no secret is configured; -1 with err set otherwise (ERROR_UNAUTHORIZED,
 * or ERROR_INTERNAL when libcrypto fails).
 */
int	auth_check_signature(const struct settings *, const char *webhook_id,
	    const char *webhook_timestamp, const char *webhook_signature,
	    const char *body, size_t bodylen, time_t now, struct error *err);

#endif
