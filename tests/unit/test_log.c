/* Log lines, with a syslog priority when standard error is the journal. */
#include "config.h"

#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/*
 * Standard error into a temporary file, JOURNAL_STREAM set to value (or
 * to that file's "device:inode" when value is NULL, as systemd sets it),
 * one line at each level; what was written.
 */
static char *
lines_with(const char *value)
{
	static char	 got[1024];
	struct stat	 st;
	char		 path[] = "/tmp/test_log.XXXXXX", stream[64];
	FILE		*f;
	size_t		 n;
	int		 fd, saved;

	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	snprintf(stream, sizeof(stream), "%llu:%llu",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	if (value == NULL)
		value = stream;
	if (*value == '\0')
		unsetenv("JOURNAL_STREAM");
	else
		setenv("JOURNAL_STREAM", value, 1);
	fflush(stderr);
	assert_true((saved = dup(STDERR_FILENO)) >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	log_init("/usr/sbin/meetergo-webhook");
	log_err("e %d", 1);
	log_warn("w");
	log_info("i");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_non_null(f = fdopen(fd, "r"));
	rewind(f);
	n = fread(got, 1, sizeof(got) - 1, f);
	got[n] = '\0';
	fclose(f);
	unlink(path);
	return got;
}

static void
test_journal(void **state)
{
	assert_string_equal(lines_with(NULL),
	    "<3>meetergo-webhook: error: e 1\n"
	    "<4>meetergo-webhook: warning: w\n"
	    "<6>meetergo-webhook: i\n");
}

/* Unset, or another stream (a child's stderr that went elsewhere). */
static void
test_not_journal(void **state)
{
	static const char *const values[] = { "", "1:2", "x", "12", ":", "1:",
	    "1:2x", "99999999999999999999999:1" };
	size_t i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		assert_string_equal(lines_with(values[i]),
		    "meetergo-webhook: error: e 1\n"
		    "meetergo-webhook: warning: w\n"
		    "meetergo-webhook: i\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal),
		cmocka_unit_test(test_not_journal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
