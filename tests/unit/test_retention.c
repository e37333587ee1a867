/* retention_parse(): the durations prune takes, and those it refuses. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "retention.h"

static void
test_units(void **state)
{
	static const struct {
		const char	*in;
		long		 seconds;
	} ok[] = {
		{ "1s", 1 }, { "90s", 90 }, { "5m", 300 }, { "36h", 129600 },
		{ "90d", 7776000 }, { "12w", 7257600 }, { "007d", 604800 },
		{ "36600d", 36600L * 86400 },
		{ "3162240000s", RETENTION_MAX_SECONDS },
	};
	const char	*why;
	long		 s;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		s = -1;
		why = NULL;
		assert_int_equal(retention_parse(ok[i].in, &s, &why), 0);
		assert_int_equal(s, ok[i].seconds);
	}
}

/* Each refusal leaves *seconds alone and says why in one phrase. */
static void
refused(const char *in, const char *why_part)
{
	const char	*why = NULL;
	long		 s = -7;

	assert_int_equal(retention_parse(in, &s, &why), -1);
	assert_int_equal(s, -7);
	assert_non_null(why);
	assert_non_null(strstr(why, why_part));
}

static void
test_nonsense(void **state)
{
	static const char *const bad[] = {
		"", "d", "90", "90x", "90D", "-5d", "+5d", " 5d", "5d ", "5 d",
		"1.5d", "0x10d", "5dd", "d5", "5s5", "1e3s",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i], "not a duration");
	refused(NULL, "not a duration");
}

static void
test_zero(void **state)
{
	(void)state;
	refused("0s", "more than zero");
	refused("0d", "more than zero");
	refused("000w", "more than zero");
}

static void
test_overflow(void **state)
{
	(void)state;
	refused("3162240001s", "too large");
	refused("36601d", "too large");
	refused("5300000w", "too large");
	/* Past what a long holds, before and after the unit. */
	refused("9223372036854775807w", "too large");
	refused("99999999999999999999999999d", "too large");
	refused("152503001d", "too large");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_nonsense),
		cmocka_unit_test(test_zero),
		cmocka_unit_test(test_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
