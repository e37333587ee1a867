/* settings_load() from the environment, and parse_long(). */
#include "config.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "settings.h"
#include "util.h"

static const char *const vars[] = {
	"MEETERGO_WEBHOOK_DSN",
	"MEETERGO_WEBHOOK_TOKEN",
	"MEETERGO_WEBHOOK_AUTH",
	"MEETERGO_WEBHOOK_SIGNING_SECRET",
	"MEETERGO_WEBHOOK_MAX_BODY",
	"MEETERGO_WEBHOOK_MAX_ATTENDEES",
	"MEETERGO_WEBHOOK_SPOOL_DIR",
	"MEETERGO_WEBHOOK_DB_TIMEOUT_MS",
	"MEETERGO_WEBHOOK_KEEP_SECRET",
	"MEETERGO_WEBHOOK_PARAMS_TIMEOUT_MS",
	"MEETERGO_WEBHOOK_BODY_TIMEOUT_MS",
	"MEETERGO_WEBHOOK_LISTEN_PUBLIC",
	"MEETERGO_WEBHOOK_STATE_DIR",
	"MEETERGO_WEBHOOK_WORKERS",
	"MEETERGO_WEBHOOK_THREADS",
};

/* Each test starts from an environment without our settings. */
static int
clean_env(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (unsetenv(vars[i]) == -1)
			return -1;
	return 0;
}

static void
load_ok(struct settings *s)
{
	struct error err;

	error_init(&err);
	settings_init(s);
	if (settings_load(s, &err) != 0)
		fail_msg("settings_load: %s %s", error_kind_name(err.kind),
		    err.text);
	assert_int_equal(err.kind, ERROR_NONE);
}

/* name=value makes settings_load fail with a message naming it. */
static void
load_fails(const char *name, const char *value)
{
	struct settings	s;
	struct error	err;

	assert_int_equal(setenv(name, value, 1), 0);
	settings_init(&s);
	error_init(&err);
	if (settings_load(&s, &err) != -1)
		fail_msg("%s=\"%s\" accepted", name, value);
	assert_int_equal(err.kind, ERROR_INTERNAL);
	if (strstr(err.text, name) == NULL)
		fail_msg("%s=\"%s\": message \"%s\" does not name it", name,
		    value, err.text);
	/* Nothing is left half-loaded. */
	assert_int_equal(s.ntokens, 0);
	assert_null(s.dsn);
	assert_int_equal(s.nsigning_keys, 0);
	assert_null(s.spool_dir);
	settings_release(&s);
	assert_int_equal(unsetenv(name), 0);
}

static void
test_defaults(void **state)
{
	struct settings s;

	load_ok(&s);
	assert_non_null(s.dsn);
	assert_string_equal(s.dsn, "");
	assert_int_equal(s.auth, AUTH_TOKEN);
	assert_int_equal(s.ntokens, 0);
	assert_int_equal(s.nsigning_keys, 0);
	assert_int_equal(s.max_body, 262144);
	assert_null(s.spool_dir);
	assert_int_equal(s.db_timeout_ms, 5000);
	assert_int_equal(s.keep_secret, 0);
	assert_int_equal(s.params_timeout_ms, 2000);
	assert_int_equal(s.body_timeout_ms, 30000);
	assert_int_equal(s.listen_public, 0);
	assert_string_equal(s.state_dir, "/run/meetergo-webhook");
	assert_int_equal(s.state_dir_default, 1);
	settings_release(&s);
}

/* Set but empty is the same as unset. */
static void
test_empty_means_default(void **state)
{
	struct settings	s;
	size_t		i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		assert_int_equal(setenv(vars[i], "", 1), 0);
	load_ok(&s);
	assert_string_equal(s.dsn, "");
	assert_int_equal(s.auth, AUTH_TOKEN);
	assert_int_equal(s.ntokens, 0);
	assert_int_equal(s.nsigning_keys, 0);
	assert_int_equal(s.max_body, 262144);
	assert_null(s.spool_dir);
	assert_int_equal(s.db_timeout_ms, 5000);
	assert_int_equal(s.keep_secret, 0);
	settings_release(&s);
}

static void
test_strings(void **state)
{
	struct settings s;

	setenv("MEETERGO_WEBHOOK_DSN", "host=/run/postgresql dbname=mw", 1);
	setenv("MEETERGO_WEBHOOK_SPOOL_DIR", "/var/spool/meetergo", 1);
	setenv("MEETERGO_WEBHOOK_STATE_DIR", "/run/mw-a", 1);
	setenv("MEETERGO_WEBHOOK_SIGNING_SECRET",
	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_b3RoZXI=", 1);
	load_ok(&s);
	assert_string_equal(s.dsn, "host=/run/postgresql dbname=mw");
	assert_string_equal(s.spool_dir, "/var/spool/meetergo");
	assert_string_equal(s.state_dir, "/run/mw-a");
	assert_int_equal(s.state_dir_default, 0);
	/* Decoded once, here: 24 bytes, then "other". */
	assert_int_equal(s.nsigning_keys, 2);
	assert_int_equal(s.signing_keys[0].len, 24);
	assert_int_equal(s.signing_keys[1].len, 5);
	assert_memory_equal(s.signing_keys[1].key, "other", 5);
	settings_release(&s);
}

/* The directories must be absolute paths. */
static void
test_relative_dirs(void **state)
{
	load_fails("MEETERGO_WEBHOOK_STATE_DIR", "run/meetergo-webhook");
	load_fails("MEETERGO_WEBHOOK_SPOOL_DIR", "spool");
}

/* A signing secret that cannot be decoded stops the start. */
static void
test_signing_secret_bad(void **state)
{
	load_fails("MEETERGO_WEBHOOK_SIGNING_SECRET", "whsec_!!!!");
	load_fails("MEETERGO_WEBHOOK_SIGNING_SECRET",
	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_abc");
	load_fails("MEETERGO_WEBHOOK_SIGNING_SECRET", "whsec_");
	/* Set but blank: refused, not read as "no signatures". */
	load_fails("MEETERGO_WEBHOOK_SIGNING_SECRET", "   ");
	load_fails("MEETERGO_WEBHOOK_SIGNING_SECRET",
	    "b3RoZXI= b3RoZXI= b3RoZXI= b3RoZXI= b3RoZXI= b3RoZXI= "
	    "b3RoZXI= b3RoZXI= b3RoZXI=");
}

static void
test_token(void **state)
{
	struct settings s;

	setenv("MEETERGO_WEBHOOK_TOKEN", "s3cret", 1);
	load_ok(&s);
	assert_int_equal(s.auth, AUTH_TOKEN);
	assert_int_equal(s.ntokens, 1);
	assert_string_equal(s.tokens[0], "s3cret");
	settings_release(&s);
}

static void
test_tokens_split(void **state)
{
	struct settings s;

	setenv("MEETERGO_WEBHOOK_TOKEN", " old ,\tnew\t,, ,next one,", 1);
	load_ok(&s);
	assert_int_equal(s.ntokens, 3);
	assert_string_equal(s.tokens[0], "old");
	assert_string_equal(s.tokens[1], "new");
	assert_string_equal(s.tokens[2], "next one");
	settings_release(&s);

	setenv("MEETERGO_WEBHOOK_TOKEN", "a,b", 1);
	load_ok(&s);
	assert_int_equal(s.ntokens, 2);
	assert_string_equal(s.tokens[0], "a");
	assert_string_equal(s.tokens[1], "b");
	settings_release(&s);

	/* Only separators: no token at all. */
	setenv("MEETERGO_WEBHOOK_TOKEN", " , ,, ", 1);
	load_ok(&s);
	assert_int_equal(s.ntokens, 0);
	settings_release(&s);
}

static void
test_tokens_limit(void **state)
{
	char	list[256];
	size_t	i, n = 0;
	struct settings s;

	for (i = 0; i < SETTINGS_MAX_TOKENS; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%st%zu",
		    i > 0 ? "," : "", i);
	setenv("MEETERGO_WEBHOOK_TOKEN", list, 1);
	load_ok(&s);
	assert_int_equal(s.ntokens, SETTINGS_MAX_TOKENS);
	assert_string_equal(s.tokens[SETTINGS_MAX_TOKENS - 1], "t15");
	settings_release(&s);

	snprintf(list + n, sizeof(list) - n, ",one-too-many");
	load_fails("MEETERGO_WEBHOOK_TOKEN", list);
}

static void
test_auth(void **state)
{
	struct settings s;

	setenv("MEETERGO_WEBHOOK_AUTH", "none", 1);
	load_ok(&s);
	assert_int_equal(s.auth, AUTH_NONE);
	settings_release(&s);

	setenv("MEETERGO_WEBHOOK_AUTH", "token", 1);
	setenv("MEETERGO_WEBHOOK_TOKEN", "x", 1);
	load_ok(&s);
	assert_int_equal(s.auth, AUTH_TOKEN);
	assert_int_equal(s.ntokens, 1);
	settings_release(&s);
}

static void
test_auth_bad(void **state)
{
	struct settings	s;
	struct error	err;

	load_fails("MEETERGO_WEBHOOK_AUTH", "off");
	load_fails("MEETERGO_WEBHOOK_AUTH", "no");
	load_fails("MEETERGO_WEBHOOK_AUTH", "none ");
	load_fails("MEETERGO_WEBHOOK_AUTH", "tokens");

	/* The refused value is quoted in the message. */
	setenv("MEETERGO_WEBHOOK_AUTH", "disabled", 1);
	settings_init(&s);
	error_init(&err);
	assert_int_equal(settings_load(&s, &err), -1);
	assert_non_null(strstr(err.text, "\"disabled\""));
	settings_release(&s);
}

static void
test_max_body(void **state)
{
	struct settings s;

	setenv("MEETERGO_WEBHOOK_MAX_BODY", "1048576", 1);
	load_ok(&s);
	assert_int_equal(s.max_body, 1048576);
	settings_release(&s);

	setenv("MEETERGO_WEBHOOK_MAX_BODY", "1024", 1);
	load_ok(&s);
	assert_int_equal(s.max_body, 1024);
	settings_release(&s);

	setenv("MEETERGO_WEBHOOK_MAX_BODY", "67108864", 1);
	load_ok(&s);
	assert_int_equal(s.max_body, 64L * 1024 * 1024);
	settings_release(&s);
}

static void
test_max_body_bad(void **state)
{
	static const char *const bad[] = { "abc", "256k", "1e6", "-1", "0",
	    "1023", "67108865", "99999999999999999999999", " 4096",
	    "4096 ", "+4096", "0x1000" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		load_fails("MEETERGO_WEBHOOK_MAX_BODY", bad[i]);
}

static void
test_max_attendees(void **state)
{
	static const char *const bad[] = { "0", "-1", "1000001", "10k",
	    "many", " 5", "1e4" };
	struct settings	s;
	size_t		i;

	load_ok(&s);
	assert_int_equal(s.max_people, 10000);
	settings_release(&s);

	setenv("MEETERGO_WEBHOOK_MAX_ATTENDEES", "1", 1);
	load_ok(&s);
	assert_int_equal(s.max_people, 1);
	settings_release(&s);

	setenv("MEETERGO_WEBHOOK_MAX_ATTENDEES", "1000000", 1);
	load_ok(&s);
	assert_int_equal(s.max_people, 1000000);
	settings_release(&s);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		load_fails("MEETERGO_WEBHOOK_MAX_ATTENDEES", bad[i]);
}

static void
test_db_timeout(void **state)
{
	static const char *const bad[] = { "99", "0", "-1", "600001", "5s",
	    "five", "5000.0" };
	struct settings	s;
	size_t		i;

	setenv("MEETERGO_WEBHOOK_DB_TIMEOUT_MS", "100", 1);
	load_ok(&s);
	assert_int_equal(s.db_timeout_ms, 100);
	settings_release(&s);

	setenv("MEETERGO_WEBHOOK_DB_TIMEOUT_MS", "600000", 1);
	load_ok(&s);
	assert_int_equal(s.db_timeout_ms, 600000);
	settings_release(&s);
	unsetenv("MEETERGO_WEBHOOK_DB_TIMEOUT_MS");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		load_fails("MEETERGO_WEBHOOK_DB_TIMEOUT_MS", bad[i]);
}

static void
test_keep_secret(void **state)
{
	struct settings s;

	setenv("MEETERGO_WEBHOOK_KEEP_SECRET", "1", 1);
	load_ok(&s);
	assert_int_equal(s.keep_secret, 1);
	settings_release(&s);

	setenv("MEETERGO_WEBHOOK_KEEP_SECRET", "0", 1);
	load_ok(&s);
	assert_int_equal(s.keep_secret, 0);
	settings_release(&s);
	unsetenv("MEETERGO_WEBHOOK_KEEP_SECRET");

	load_fails("MEETERGO_WEBHOOK_KEEP_SECRET", "2");
	load_fails("MEETERGO_WEBHOOK_KEEP_SECRET", "yes");
	load_fails("MEETERGO_WEBHOOK_KEEP_SECRET", "-1");
}

/* The listener's deadlines and its opt-in to addresses off loopback. */
static void
test_listener(void **state)
{
	static const char *const bad_ms[] = { "99", "0", "-1", "2s", "1e3" };
	struct settings	s;
	size_t		i;

	setenv("MEETERGO_WEBHOOK_PARAMS_TIMEOUT_MS", "100", 1);
	setenv("MEETERGO_WEBHOOK_BODY_TIMEOUT_MS", "3600000", 1);
	setenv("MEETERGO_WEBHOOK_LISTEN_PUBLIC", "1", 1);
	load_ok(&s);
	assert_int_equal(s.params_timeout_ms, 100);
	assert_int_equal(s.body_timeout_ms, 3600000);
	assert_int_equal(s.listen_public, 1);
	settings_release(&s);
	setenv("MEETERGO_WEBHOOK_LISTEN_PUBLIC", "0", 1);
	load_ok(&s);
	assert_int_equal(s.listen_public, 0);
	settings_release(&s);
	clean_env(state);

	for (i = 0; i < sizeof(bad_ms) / sizeof(bad_ms[0]); i++) {
		load_fails("MEETERGO_WEBHOOK_PARAMS_TIMEOUT_MS", bad_ms[i]);
		load_fails("MEETERGO_WEBHOOK_BODY_TIMEOUT_MS", bad_ms[i]);
	}
	load_fails("MEETERGO_WEBHOOK_PARAMS_TIMEOUT_MS", "600001");
	load_fails("MEETERGO_WEBHOOK_BODY_TIMEOUT_MS", "3600001");
	load_fails("MEETERGO_WEBHOOK_LISTEN_PUBLIC", "2");
	load_fails("MEETERGO_WEBHOOK_LISTEN_PUBLIC", "yes");
}

/* Loading into loaded settings replaces them without a leak. */
static void
test_reload(void **state)
{
	struct settings	s;
	struct error	err;

	setenv("MEETERGO_WEBHOOK_TOKEN", "a,b,c", 1);
	setenv("MEETERGO_WEBHOOK_SPOOL_DIR", "/tmp/spool", 1);
	load_ok(&s);
	assert_int_equal(s.ntokens, 3);

	setenv("MEETERGO_WEBHOOK_TOKEN", "d", 1);
	unsetenv("MEETERGO_WEBHOOK_SPOOL_DIR");
	error_init(&err);
	assert_int_equal(settings_load(&s, &err), 0);
	assert_int_equal(s.ntokens, 1);
	assert_string_equal(s.tokens[0], "d");
	assert_null(s.spool_dir);

	/* A failing reload leaves nothing behind either. */
	setenv("MEETERGO_WEBHOOK_MAX_BODY", "x", 1);
	assert_int_equal(settings_load(&s, &err), -1);
	assert_int_equal(s.ntokens, 0);
	settings_release(&s);
	settings_release(&s);
}

struct parse_case {
	const char	*str;
	long		 min, max;
	int		 rc;
	long		 value;		/* when rc is 0 */
	const char	*errstr;	/* when rc is -1 */
};

static void
test_parse_long(void **state)
{
	static const struct parse_case cases[] = {
		{ "0", 0, 10, 0, 0, NULL },
		{ "10", 0, 10, 0, 10, NULL },
		{ "7", 0, 10, 0, 7, NULL },
		{ "007", 0, 10, 0, 7, NULL },
		{ "11", 0, 10, -1, 0, "too large" },
		{ "5", 10, 20, -1, 0, "too small" },
		{ "-5", -10, 10, 0, -5, NULL },
		{ "-10", -10, 10, 0, -10, NULL },
		{ "-11", -10, 10, -1, 0, "too small" },
		{ "-0", -10, 10, 0, 0, NULL },
		/* '-' only where negatives are allowed. */
		{ "-1", 0, 10, -1, 0, "invalid" },
		{ "-0", 0, 10, -1, 0, "invalid" },
		{ "-", -10, 10, -1, 0, "invalid" },
		{ "-", 0, 10, -1, 0, "invalid" },
		{ "--1", -10, 10, -1, 0, "invalid" },
		{ "", 0, 10, -1, 0, "invalid" },
		{ "+1", 0, 10, -1, 0, "invalid" },
		{ " 1", 0, 10, -1, 0, "invalid" },
		{ "1 ", 0, 10, -1, 0, "invalid" },
		{ "1a", 0, 10, -1, 0, "invalid" },
		{ "0x1", 0, 10, -1, 0, "invalid" },
		{ "1.0", 0, 10, -1, 0, "invalid" },
		{ "9223372036854775807", 0, LONG_MAX, 0, LONG_MAX, NULL },
		{ "9223372036854775808", 0, LONG_MAX, -1, 0, "too large" },
		{ "99999999999999999999999999", 0, LONG_MAX, -1, 0,
		    "too large" },
		{ "-9223372036854775808", LONG_MIN, 0, 0, LONG_MIN, NULL },
		{ "-9223372036854775809", LONG_MIN, 0, -1, 0, "too small" },
		{ "-99999999999999999999999999", LONG_MIN, 0, -1, 0,
		    "too small" },
		/* Out of range but within long: the bound decides. */
		{ "9223372036854775807", 0, 1000, -1, 0, "too large" },
		{ "-9223372036854775808", -1000, 0, -1, 0, "too small" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct parse_case	*c = &cases[i];
		const char		*errstr = "unset";
		long			 out = 12345;
		int			 rc;

		rc = parse_long(c->str, c->min, c->max, &out, &errstr);
		if (rc != c->rc || (rc == 0 && out != c->value) ||
		    (rc == -1 && (errstr == NULL ||
		    strcmp(errstr, c->errstr) != 0)))
			fail_msg("parse_long(\"%s\", %ld, %ld): rc %d, "
			    "out %ld, errstr %s; want rc %d, %ld, %s", c->str,
			    c->min, c->max, rc, out,
			    errstr != NULL ? errstr : "NULL", c->rc, c->value,
			    c->errstr != NULL ? c->errstr : "NULL");
	}
}

static void
test_parse_long_null(void **state)
{
	const char	*errstr = NULL;
	long		 out = 0;

	assert_int_equal(parse_long(NULL, 0, 10, &out, &errstr), -1);
	assert_non_null(errstr);
	assert_string_equal(errstr, "invalid");
}

/* The layout sized to the machine, and what the settings keep. */
static void
test_size(void **state)
{
	static const struct {
		const char	*workers, *threads;
		long		 ncpu, want_workers, want_threads;
	} cases[] = {
		{ NULL, NULL, 1, 1, 32 },
		{ NULL, NULL, 2, 2, 16 },
		{ NULL, NULL, 3, 3, 11 },
		{ NULL, NULL, 4, 4, 8 },
		{ NULL, NULL, 64, 16, 8 },
		{ NULL, NULL, -1, 1, 32 },	/* sysconf failed */
		{ "4", NULL, 2, 4, 8 },
		{ "1", NULL, 2, 1, 32 },
		{ NULL, "3", 2, 2, 3 },
		{ "1", "1", 8, 1, 1 },
	};
	struct settings	s;
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		clean_env(state);
		if (cases[i].workers != NULL)
			setenv("MEETERGO_WEBHOOK_WORKERS", cases[i].workers, 1);
		if (cases[i].threads != NULL)
			setenv("MEETERGO_WEBHOOK_THREADS", cases[i].threads, 1);
		load_ok(&s);
		settings_size(&s, cases[i].ncpu);
		if (s.workers != cases[i].want_workers ||
		    s.threads != cases[i].want_threads)
			fail_msg("case %zu: %ld x %ld, want %ld x %ld", i,
			    s.workers, s.threads, cases[i].want_workers,
			    cases[i].want_threads);
		settings_release(&s);
	}
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults, clean_env),
		cmocka_unit_test_setup(test_empty_means_default, clean_env),
		cmocka_unit_test_setup(test_strings, clean_env),
		cmocka_unit_test_setup(test_signing_secret_bad, clean_env),
		cmocka_unit_test_setup(test_token, clean_env),
		cmocka_unit_test_setup(test_tokens_split, clean_env),
		cmocka_unit_test_setup(test_tokens_limit, clean_env),
		cmocka_unit_test_setup(test_auth, clean_env),
		cmocka_unit_test_setup(test_auth_bad, clean_env),
		cmocka_unit_test_setup(test_max_body, clean_env),
		cmocka_unit_test_setup(test_max_body_bad, clean_env),
		cmocka_unit_test_setup(test_max_attendees, clean_env),
		cmocka_unit_test_setup(test_db_timeout, clean_env),
		cmocka_unit_test_setup(test_keep_secret, clean_env),
		cmocka_unit_test_setup(test_listener, clean_env),
		cmocka_unit_test_setup(test_reload, clean_env),
		cmocka_unit_test_setup(test_relative_dirs, clean_env),
		cmocka_unit_test_setup(test_size, clean_env),
		cmocka_unit_test(test_parse_long),
		cmocka_unit_test(test_parse_long_null),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("settings", tests, NULL, NULL);
}
