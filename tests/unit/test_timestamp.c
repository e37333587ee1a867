/* timestamp_parse(): the cases in tests/unit/timestamp/cases.json. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "payload.h"

/* A valid case is [input, canonical text]; a refused one a string. */
static void
test_valid(void **state)
{
	const json_t		*c = *state;
	const char		*in, *want;
	struct timestamp	 ts;

	in = json_string_value(json_array_get(c, 0));
	want = json_string_value(json_array_get(c, 1));

	assert_non_null(in);
	assert_non_null(want);
	memset(&ts, 'x', sizeof(ts));
	assert_int_equal(timestamp_parse(in, &ts), 0);
	assert_int_equal(ts.set, 1);
	assert_string_equal(ts.text, want);
}

static void
test_refused(void **state)
{
	const char		*in = json_string_value(*state);
	struct timestamp	 ts;

	assert_non_null(in);
	/* A refusal must also clear what an earlier parse left. */
	assert_int_equal(timestamp_parse("2025-03-18T10:00:00Z", &ts), 0);
	assert_int_equal(ts.set, 1);
	assert_int_equal(timestamp_parse(in, &ts), -1);
	assert_int_equal(ts.set, 0);
}

static void
test_null(void **state)
{
	struct timestamp ts;

	ts.set = 1;
	assert_int_equal(timestamp_parse(NULL, &ts), -1);
	assert_int_equal(ts.set, 0);
}

/* A NUL inside the string ends it: what follows is not looked at. */
static void
test_embedded_nul(void **state)
{
	static const char	 s[] = "2025-03-18T10:00:00Z\0junk";
	struct timestamp	 ts;

	assert_int_equal(timestamp_parse(s, &ts), 0);
	assert_string_equal(ts.text, "2025-03-18T10:00:00.000000+00:00");
	assert_int_equal(timestamp_parse("2025-03-18T10:00:00\0Z", &ts), -1);
}

/* The canonical text parses again to itself. */
static void
test_canonical_round_trip(void **state)
{
	const json_t		*valid = *state;
	const json_t		*c;
	struct timestamp	 a, b;
	size_t			 i;

	assert_true(json_array_size(valid) > 0);
	json_array_foreach(valid, i, c) {
		assert_int_equal(timestamp_parse(json_string_value(
		    json_array_get(c, 0)), &a), 0);
		assert_int_equal(timestamp_parse(a.text, &b), 0);
		assert_string_equal(a.text, b.text);
	}
}

/* "name" with the value JSON-quoted, so TAP sees one clean line. */
static char *
case_name(const char *what, const json_t *value)
{
	char	*q, *name;

	if ((q = json_dumps(value, JSON_ENCODE_ANY)) == NULL)
		return NULL;
	if (asprintf(&name, "%s %s", what, q) == -1)
		name = NULL;
	free(q);
	return name;
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_embedded_nul),
	};
	const size_t	 nfixed = sizeof(fixed) / sizeof(fixed[0]);
	struct CMUnitTest *tests;
	json_error_t	 jerr;
	json_t		*root;
	const json_t	*valid, *refused, *c;
	const char	*top;
	char		*path;
	size_t		 i, n, nvalid, nrefused;
	int		 rc;

	cmocka_set_message_output(CM_OUTPUT_TAP);
	if ((top = getenv("top_srcdir")) == NULL || *top == '\0')
		top = ".";
	if (asprintf(&path, "%s/tests/unit/timestamp/cases.json", top) == -1)
		return 1;
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		/* A plan that fails, rather than a silent pass. */
		printf("1..1\nnot ok 1 - %s: %s\n", path, jerr.text);
		free(path);
		return 1;
	}
	free(path);
	valid = json_object_get(root, "valid");
	refused = json_object_get(root, "refused");
	nvalid = json_array_size(valid);
	nrefused = json_array_size(refused);

	tests = calloc(nfixed + 1 + nvalid + nrefused, sizeof(*tests));
	if (tests == NULL)
		return 1;
	memcpy(tests, fixed, sizeof(fixed));
	n = nfixed;
	tests[n].name = "canonical text parses to itself";
	tests[n].test_func = test_canonical_round_trip;
	tests[n].initial_state = (void *)valid;
	n++;
	json_array_foreach(valid, i, c) {
		if ((tests[n].name = case_name("valid",
		    json_array_get(c, 0))) == NULL)
			return 1;
		tests[n].test_func = test_valid;
		tests[n].initial_state = (void *)c;
		n++;
	}
	json_array_foreach(refused, i, c) {
		if ((tests[n].name = case_name("refuse", c)) == NULL)
			return 1;
		tests[n].test_func = test_refused;
		tests[n].initial_state = (void *)c;
		n++;
	}

	rc = _cmocka_run_group_tests("timestamp", tests, n, NULL, NULL);

	for (i = nfixed + 1; i < n; i++)
		free((char *)tests[i].name);
	free(tests);
	json_decref(root);
	return rc;
}
