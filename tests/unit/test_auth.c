/* auth_check_token() and auth_check_signature() over made-up requests. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "auth.h"
#include "error.h"
#include "response.h"
#include "settings.h"

#define TOKEN		"s3cret-T0ken_value"
#define OLD_TOKEN	"old-token-1"
#define NEW_TOKEN	"new-token-2"
#define WRONG		"Wr0ng-t0k3n"

/* The Standard Webhooks test vector (standard-webhooks spec, libraries). */
#define SW_SECRET	"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SW_ID		"msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SW_TS		"1614265330"
#define SW_NOW		((time_t)1614265330)
#define SW_BODY		"{\"test\": 2432232314}"
#define SW_SIG		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
/* Another valid secret, base64 of 24 bytes. */
#define OTHER_SECRET	"whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCEh"

/* Settings as settings_load would leave them, with these tokens. */
static void
settings_with(struct settings *s, const char *const *tokens,
    const char *secrets)
{
	settings_init(s);
	s->dsn = strdup("");
	assert_non_null(s->dsn);
	for (; tokens != NULL && *tokens != NULL; tokens++) {
		assert_true(s->ntokens < SETTINGS_MAX_TOKENS);
		s->tokens[s->ntokens] = strdup(*tokens);
		assert_non_null(s->tokens[s->ntokens]);
		s->ntokens++;
	}
	if (secrets != NULL) {
		struct error err;

		error_init(&err);
		assert_int_equal(settings_set_signing_secrets(s, secrets, &err),
		    0);
	}
}

static int
setup_one_token(void **state)
{
	static const char *const tokens[] = { TOKEN, NULL };
	struct settings *s;

	if ((s = malloc(sizeof(*s))) == NULL)
		return -1;
	settings_with(s, tokens, NULL);
	*state = s;
	return 0;
}

static int
setup_rotation(void **state)
{
	static const char *const tokens[] = { OLD_TOKEN, NEW_TOKEN, NULL };
	struct settings *s;

	if ((s = malloc(sizeof(*s))) == NULL)
		return -1;
	settings_with(s, tokens, NULL);
	*state = s;
	return 0;
}

static int
teardown_settings(void **state)
{
	struct settings *s = *state;

	settings_release(s);
	free(s);
	return 0;
}

static void
token_ok(const struct settings *s, const char *query, const char *authz,
    const char *xtoken)
{
	struct error err;

	error_init(&err);
	if (auth_check_token(s, query, authz, xtoken, &err) != 0)
		fail_msg("query %s, authorization %s, x-webhook-token %s: "
		    "%d %s", query != NULL ? query : "-",
		    authz != NULL ? authz : "-", xtoken != NULL ? xtoken : "-",
		    response_error_status(&err), err.text);
	assert_int_equal(err.kind, ERROR_NONE);
}

/* Refused with status; the message holds no token, given or configured. */
static void
token_refused(const struct settings *s, const char *query, const char *authz,
    const char *xtoken, int status)
{
	struct error	err;
	size_t		i;

	error_init(&err);
	if (auth_check_token(s, query, authz, xtoken, &err) != -1)
		fail_msg("query %s, authorization %s, x-webhook-token %s: "
		    "accepted", query != NULL ? query : "-",
		    authz != NULL ? authz : "-", xtoken != NULL ? xtoken : "-");
	assert_int_equal(response_error_status(&err), status);
	assert_true(err.text[0] != '\0');
	for (i = 0; i < s->ntokens; i++)
		assert_null(strstr(err.text, s->tokens[i]));
	if (xtoken != NULL && *xtoken != '\0')
		assert_null(strstr(err.text, xtoken));
	if (authz != NULL && strlen(authz) > 7)
		assert_null(strstr(err.text, authz + 7));
	if (query != NULL && strstr(query, "token=") != NULL &&
	    strstr(query, "token=")[6] != '\0')
		assert_null(strstr(err.text, strstr(query, "token=") + 6));
}

static void
test_token_query(void **state)
{
	const struct settings *s = *state;

	token_ok(s, "token=" TOKEN, NULL, NULL);
	token_ok(s, "a=1&token=" TOKEN, NULL, NULL);
	token_ok(s, "token=" TOKEN "&b=2", NULL, NULL);
	token_ok(s, "a=1&token=" TOKEN "&b=2", NULL, NULL);
	/* Other parameters that merely contain "token" do not count. */
	token_ok(s, "xtoken=nope&token=" TOKEN "&token2=nope", NULL, NULL);
}

static void
test_token_query_percent_encoded(void **state)
{
	static const char *const tokens[] = { "a b/c+d=e&f%", NULL };
	struct settings s;

	settings_with(&s, tokens, NULL);
	token_ok(&s, "token=a%20b%2Fc%2Bd%3De%26f%25", NULL, NULL);
	token_ok(&s, "token=a+b%2fc%2bd%3de%26f%25", NULL, NULL);
	token_refused(&s, "token=a b/c+d=e", NULL, NULL, 401);
	token_refused(&s, "token=a%20b%2Fc%2Bd%3De%26f%2", NULL, NULL, 401);
	token_refused(&s, "token=a%zzb", NULL, NULL, 401);
	settings_release(&s);

	/* An ordinary token sent percent-encoded letter by letter. */
	token_ok(*state, "token=%73%33cret-T0ken_value", NULL, NULL);
}

static void
test_token_bearer(void **state)
{
	const struct settings *s = *state;

	token_ok(s, NULL, "Bearer " TOKEN, NULL);
	token_ok(s, NULL, "bearer " TOKEN, NULL);
	token_ok(s, NULL, "BEARER " TOKEN, NULL);
	token_ok(s, NULL, "BeArEr " TOKEN, NULL);
	token_ok(s, NULL, "Bearer  " TOKEN " ", NULL);
	token_refused(s, NULL, "Bearer " TOKEN "x", NULL, 401);
	token_refused(s, NULL, "Bearer", NULL, 401);
	token_refused(s, NULL, "Bearer ", NULL, 401);
	/* Not a bearer token: nothing is presented. */
	token_refused(s, NULL, "Basic dXNlcjpwYXNz", NULL, 401);
	token_refused(s, NULL, "Token " TOKEN, NULL, 401);
	token_refused(s, NULL, TOKEN, NULL, 401);
}

static void
test_token_header(void **state)
{
	const struct settings *s = *state;

	token_ok(s, NULL, NULL, TOKEN);
	token_refused(s, NULL, NULL, "s3cret", 401);
	token_refused(s, NULL, NULL, "", 401);
}

static void
test_token_rotation(void **state)
{
	const struct settings *s = *state;

	token_ok(s, "token=" OLD_TOKEN, NULL, NULL);
	token_ok(s, "token=" NEW_TOKEN, NULL, NULL);
	token_ok(s, NULL, "Bearer " OLD_TOKEN, NULL);
	token_ok(s, NULL, NULL, NEW_TOKEN);
	token_refused(s, "token=" TOKEN, NULL, NULL, 401);
	token_refused(s, "token=old-token", NULL, NULL, 401);
	token_refused(s, "token=" OLD_TOKEN NEW_TOKEN, NULL, NULL, 401);
	/* Two tokens that are each configured but disagree: refused. */
	token_ok(s, "token=" NEW_TOKEN, "Bearer " NEW_TOKEN, NULL);
	token_refused(s, "token=" OLD_TOKEN, "Bearer " NEW_TOKEN, NULL, 401);
	token_refused(s, "token=" OLD_TOKEN "&token=" NEW_TOKEN, NULL, NULL,
	    401);
}

static void
test_token_wrong(void **state)
{
	const struct settings *s = *state;

	token_refused(s, "token=" WRONG, NULL, NULL, 401);
	token_refused(s, "token=", NULL, NULL, 401);
	token_refused(s, "token=" TOKEN "x", NULL, NULL, 401);
	token_refused(s, "token=s3cret-T0ken_valu", NULL, NULL, 401);
	token_refused(s, "token=S3CRET-T0KEN_VALUE", NULL, NULL, 401);
	token_refused(s, NULL, "Bearer " WRONG, NULL, 401);
	token_refused(s, NULL, NULL, WRONG, 401);
}

static void
test_token_missing(void **state)
{
	const struct settings *s = *state;

	token_refused(s, NULL, NULL, NULL, 401);
	token_refused(s, "", NULL, NULL, 401);
	token_refused(s, "a=1&b=2", NULL, NULL, 401);
	token_refused(s, "token", NULL, NULL, 401);
	token_refused(s, "Token=" TOKEN, NULL, NULL, 401);
	token_refused(s, "xtoken=" TOKEN, NULL, NULL, 401);
}

/* Every token presented must be right: one wrong one spoils the lot. */
static void
test_token_disagree(void **state)
{
	const struct settings *s = *state;

	token_ok(s, "token=" TOKEN, "Bearer " TOKEN, TOKEN);
	token_refused(s, "token=" TOKEN, "Bearer " WRONG, NULL, 401);
	token_refused(s, "token=" WRONG, "Bearer " TOKEN, NULL, 401);
	token_refused(s, "token=" TOKEN, NULL, WRONG, 401);
	token_refused(s, NULL, "Bearer " TOKEN, WRONG, 401);
	token_refused(s, "token=" TOKEN "&token=" WRONG, NULL, NULL, 401);
	token_refused(s, "token=" WRONG "&token=" TOKEN, NULL, NULL, 401);
}

static void
test_token_auth_none(void **state)
{
	struct settings s;

	settings_with(&s, NULL, NULL);
	s.auth = AUTH_NONE;
	token_ok(&s, NULL, NULL, NULL);
	token_ok(&s, "token=anything", "Bearer x", "y");
	settings_release(&s);
}

static void
test_token_not_configured(void **state)
{
	struct settings	s;
	struct error	err;

	settings_with(&s, NULL, NULL);
	token_refused(&s, NULL, NULL, NULL, 500);
	token_refused(&s, "token=" TOKEN, NULL, NULL, 500);
	error_init(&err);
	assert_int_equal(auth_check_token(&s, NULL, "Bearer " TOKEN, NULL,
	    &err), -1);
	assert_int_equal(response_error_status(&err), 500);
	assert_non_null(strstr(err.text, "MEETERGO_WEBHOOK_TOKEN"));
	settings_release(&s);
}

/* A token far longer than any sane one is refused, not overflowed. */
static void
test_token_long(void **state)
{
	const struct settings	*s = *state;
	char			*q;
	size_t			 n = 8192;

	q = malloc(n + 7);
	assert_non_null(q);
	memcpy(q, "token=", 6);
	memset(q + 6, 'a', n);
	q[6 + n] = '\0';
	token_refused(s, q, NULL, NULL, 401);
	token_refused(s, NULL, NULL, q + 6, 401);
	free(q);
}

static void
sig_ok(const struct settings *s, const char *id, const char *ts,
    const char *sig, const char *body, time_t now)
{
	struct error err;

	error_init(&err);
	if (auth_check_signature(s, id, ts, sig, body,
	    body != NULL ? strlen(body) : 0, now, &err) != 0)
		fail_msg("signature \"%s\" refused: %d %s",
		    sig != NULL ? sig : "-", response_error_status(&err),
		    err.text);
	assert_int_equal(err.kind, ERROR_NONE);
}

static void
sig_refused(const struct settings *s, const char *id, const char *ts,
    const char *sig, const char *body, time_t now, int status)
{
	struct error err;

	error_init(&err);
	if (auth_check_signature(s, id, ts, sig, body,
	    body != NULL ? strlen(body) : 0, now, &err) != -1)
		fail_msg("signature \"%s\" at %ld accepted",
		    sig != NULL ? sig : "-", (long)now);
	assert_int_equal(response_error_status(&err), status);
	/* Neither the secret nor its base64 body leaks. */
	assert_null(strstr(err.text, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
}

static void
test_signature_vector(void **state)
{
	struct settings s;

	settings_with(&s, NULL, SW_SECRET);
	sig_ok(&s, SW_ID, SW_TS, SW_SIG, SW_BODY, SW_NOW);
	/* The secret without its "whsec_" prefix is the same key. */
	settings_release(&s);
	settings_with(&s, NULL, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
	sig_ok(&s, SW_ID, SW_TS, SW_SIG, SW_BODY, SW_NOW);
	settings_release(&s);
}

static void
test_signature_several_in_header(void **state)
{
	struct settings s;

	settings_with(&s, NULL, SW_SECRET);
	sig_ok(&s, SW_ID, SW_TS,
	    "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= " SW_SIG,
	    SW_BODY, SW_NOW);
	sig_ok(&s, SW_ID, SW_TS,
	    SW_SIG " v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    SW_BODY, SW_NOW);
	/* Other schemes and junk entries are skipped, not fatal. */
	sig_ok(&s, SW_ID, SW_TS, "v1a,abc v2,xyz junk " SW_SIG, SW_BODY,
	    SW_NOW);
	sig_ok(&s, SW_ID, SW_TS, "  " SW_SIG "  ", SW_BODY, SW_NOW);
	settings_release(&s);
}

static void
test_signature_several_secrets(void **state)
{
	struct settings s;

	settings_with(&s, NULL, OTHER_SECRET " " SW_SECRET);
	sig_ok(&s, SW_ID, SW_TS, SW_SIG, SW_BODY, SW_NOW);
	settings_release(&s);
	settings_with(&s, NULL, SW_SECRET "  " OTHER_SECRET);
	sig_ok(&s, SW_ID, SW_TS, SW_SIG, SW_BODY, SW_NOW);
	settings_release(&s);
	settings_with(&s, NULL, OTHER_SECRET);
	sig_refused(&s, SW_ID, SW_TS, SW_SIG, SW_BODY, SW_NOW, 401);
	settings_release(&s);
}

static void
test_signature_wrong(void **state)
{
	struct settings s;

	settings_with(&s, NULL, SW_SECRET);
	/* One bit off, the digest of another body, another id. */
	sig_refused(&s, SW_ID, SW_TS,
	    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=", SW_BODY,
	    SW_NOW, 401);
	sig_refused(&s, SW_ID, SW_TS, SW_SIG, "{\"test\": 2432232315}",
	    SW_NOW, 401);
	sig_refused(&s, "msg_other", SW_TS, SW_SIG, SW_BODY, SW_NOW, 401);
	/* The right value under another scheme, or cut short. */
	sig_refused(&s, SW_ID, SW_TS,
	    "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", SW_BODY,
	    SW_NOW, 401);
	sig_refused(&s, SW_ID, SW_TS, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3",
	    SW_BODY, SW_NOW, 401);
	sig_refused(&s, SW_ID, SW_TS,
	    "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
	    SW_BODY, SW_NOW, 401);
	sig_refused(&s, SW_ID, SW_TS, "", SW_BODY, SW_NOW, 401);
	sig_refused(&s, SW_ID, SW_TS, "v1,", SW_BODY, SW_NOW, 401);
	sig_refused(&s, SW_ID, SW_TS, "v1,!!!!", SW_BODY, SW_NOW, 401);
	settings_release(&s);
}

static void
test_signature_timestamp(void **state)
{
	struct settings s;

	settings_with(&s, NULL, SW_SECRET);
	/* Five minutes either side is fine, six is not. */
	sig_ok(&s, SW_ID, SW_TS, SW_SIG, SW_BODY, SW_NOW + 300);
	sig_ok(&s, SW_ID, SW_TS, SW_SIG, SW_BODY, SW_NOW - 300);
	sig_refused(&s, SW_ID, SW_TS, SW_SIG, SW_BODY, SW_NOW + 360, 401);
	sig_refused(&s, SW_ID, SW_TS, SW_SIG, SW_BODY, SW_NOW - 360, 401);
	sig_refused(&s, SW_ID, SW_TS, SW_SIG, SW_BODY, time(NULL), 401);
	settings_release(&s);
}

static void
test_signature_timestamp_not_digits(void **state)
{
	static const char *const bad[] = { "1614265330a", "a1614265330",
	    " 1614265330", "1614265330 ", "+1614265330", "-1614265330",
	    "1614265330.0", "0x603a0ef2", "", "abc" };
	struct settings	s;
	size_t		i;

	settings_with(&s, NULL, SW_SECRET);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		sig_refused(&s, SW_ID, bad[i], SW_SIG, SW_BODY, SW_NOW, 401);
	settings_release(&s);
}

static void
test_signature_missing_headers(void **state)
{
	struct settings s;

	settings_with(&s, NULL, SW_SECRET);
	sig_refused(&s, NULL, SW_TS, SW_SIG, SW_BODY, SW_NOW, 401);
	sig_refused(&s, "", SW_TS, SW_SIG, SW_BODY, SW_NOW, 401);
	sig_refused(&s, SW_ID, NULL, SW_SIG, SW_BODY, SW_NOW, 401);
	sig_refused(&s, SW_ID, SW_TS, NULL, SW_BODY, SW_NOW, 401);
	sig_refused(&s, NULL, NULL, NULL, SW_BODY, SW_NOW, 401);
	settings_release(&s);
}

static void
test_signature_not_configured(void **state)
{
	struct settings s;

	settings_with(&s, NULL, NULL);
	sig_ok(&s, NULL, NULL, NULL, SW_BODY, SW_NOW);
	sig_ok(&s, SW_ID, SW_TS, "v1,wrong", SW_BODY, SW_NOW);
	settings_release(&s);
}

/*
 * A secret that is not base64 is the operator's fault, found once when
 * the settings are read, not in every request; the secret is not quoted.
 */
static void
test_signature_bad_secret(void **state)
{
	struct settings	s;
	struct error	err;

	settings_with(&s, NULL, NULL);
	error_init(&err);
	assert_int_equal(settings_set_signing_secrets(&s,
	    SW_SECRET " whsec_!!!not-base64!!!", &err), -1);
	assert_int_equal(err.kind, ERROR_INTERNAL);
	assert_non_null(strstr(err.text, "MEETERGO_WEBHOOK_SIGNING_SECRET"));
	assert_null(strstr(err.text, "not-base64!"));
	settings_release(&s);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_token_query,
		    setup_one_token, teardown_settings),
		cmocka_unit_test_setup_teardown(
		    test_token_query_percent_encoded, setup_one_token,
		    teardown_settings),
		cmocka_unit_test_setup_teardown(test_token_bearer,
		    setup_one_token, teardown_settings),
		cmocka_unit_test_setup_teardown(test_token_header,
		    setup_one_token, teardown_settings),
		cmocka_unit_test_setup_teardown(test_token_rotation,
		    setup_rotation, teardown_settings),
		cmocka_unit_test_setup_teardown(test_token_wrong,
		    setup_one_token, teardown_settings),
		cmocka_unit_test_setup_teardown(test_token_missing,
		    setup_one_token, teardown_settings),
		cmocka_unit_test_setup_teardown(test_token_disagree,
		    setup_one_token, teardown_settings),
		cmocka_unit_test(test_token_auth_none),
		cmocka_unit_test(test_token_not_configured),
		cmocka_unit_test_setup_teardown(test_token_long,
		    setup_one_token, teardown_settings),
		cmocka_unit_test(test_signature_vector),
		cmocka_unit_test(test_signature_several_in_header),
		cmocka_unit_test(test_signature_several_secrets),
		cmocka_unit_test(test_signature_wrong),
		cmocka_unit_test(test_signature_timestamp),
		cmocka_unit_test(test_signature_timestamp_not_digits),
		cmocka_unit_test(test_signature_missing_headers),
		cmocka_unit_test(test_signature_not_configured),
		cmocka_unit_test(test_signature_bad_secret),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
