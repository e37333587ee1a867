/* The shared counters (stats.c) and their sum and rendering (metrics.c). */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "error.h"
#include "metrics.h"
#include "stats.h"

static char dir[PATH_MAX];

static int
make_dir(void **state)
{
	snprintf(dir, sizeof(dir), "%s/test_stats.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
remove_dir(void **state)
{
	char path[PATH_MAX + 16];

	stats_close();
	snprintf(path, sizeof(path), "%s/" STATS_FILE, dir);
	unlink(path);
	rmdir(dir);
	return 0;
}

/* The service's totals as webhookctl stats sums them. */
static void
sum_now(struct metrics *m, long *running)
{
	struct stats_view	v;
	struct error		err;

	error_init(&err);
	assert_int_equal(stats_view_open(&v, dir, &err), 0);
	memset(m, 0, sizeof(*m));
	metrics_sum(m, v.slots, v.nslots);
	*running = stats_view_running(&v);
	stats_view_close(&v);
}

/* What the child below counts before it exits. */
static void
count_some(void)
{
	stats_request(200, 3000);
	stats_request(200, 7000);
	stats_request(503, 20000000);
	stats_event(OUTCOME_APPLIED);
	stats_batch(3);
	stats_reconnect();
}

/* A child counts and exits: its counts stay, its slot is taken over. */
static void
test_slots_survive_their_process(void **state)
{
	struct metrics	m;
	struct error	err;
	long		running;
	pid_t		pid;
	int		status;

	error_init(&err);
	assert_int_equal(stats_open(dir, &err), 0);
	if ((pid = fork()) == 0) {
		if (stats_claim() == -1)
			_exit(1);
		count_some();
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	sum_now(&m, &running);
	assert_int_equal(running, 0);
	assert_int_equal(m.total.requests[stats_status_index(200)], 2);
	assert_int_equal(m.total.requests[stats_status_index(503)], 1);
	assert_int_equal(m.total.durations[0], 1);	/* 3 ms: <= 5 ms */
	assert_int_equal(m.total.durations[1], 1);	/* 7 ms: <= 10 ms */
	assert_int_equal(m.total.durations[STATS_DURATION_BUCKETS - 1], 1);
	assert_int_equal(m.total.duration_us, 20010000);
	assert_int_equal(m.total.batches[2], 1);	/* 3: <= 4 */

	/* This process takes the dead child's slot and adds on. */
	assert_int_equal(stats_claim(), 0);
	stats_request(200, 1);
	stats_event_type(EVENT_BOOKING_CREATED);
	sum_now(&m, &running);
	assert_int_equal(running, 1);
	assert_int_equal(m.total.requests[stats_status_index(200)], 3);
	assert_int_equal(m.total.events[OUTCOME_APPLIED], 1);
	assert_int_equal(m.total.types[EVENT_BOOKING_CREATED], 1);
	assert_int_equal(m.total.reconnects, 1);
}

/* A file of another layout is replaced; a missing directory fails. */
static void
test_other_layout(void **state)
{
	struct metrics	m;
	struct error	err;
	char		path[PATH_MAX + 16];
	long		running;
	int		fd;

	snprintf(path, sizeof(path), "%s/" STATS_FILE, dir);
	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0644)) >= 0);
	assert_int_equal(write(fd, "not counters", 12), 12);
	close(fd);
	error_init(&err);
	assert_int_equal(stats_open(dir, &err), 0);
	assert_int_equal(stats_claim(), 0);
	stats_request(401, 10);
	sum_now(&m, &running);
	assert_int_equal(m.total.requests[stats_status_index(401)], 1);

	error_init(&err);
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(stats_open(path, &err), -1);
	assert_non_null(strstr(err.text, "No such file or directory"));
	/* Uncounted: the request path does nothing, and does not crash. */
	assert_int_equal(stats_claim(), -1);
	stats_request(200, 1);
}

static void
test_status_index(void **state)
{
	assert_int_equal(stats_status_code(stats_status_index(422)), 422);
	assert_int_equal(stats_status_index(418), STATS_STATUSES - 1);
	assert_int_equal(stats_status_code(STATS_STATUSES - 1), 0);
	assert_int_equal(stats_batch_le(0), 1);
	assert_int_equal(stats_batch_le(6), 64);
	assert_int_equal(stats_batch_le(7), -1);
	assert_int_equal(stats_duration_le(STATS_DURATION_BUCKETS - 1), -1);
}

/* Two slots of known counts, summed. */
static void
known(struct metrics *m)
{
	struct stats_slot s[2];

	memset(s, 0, sizeof(s));
	memset(m, 0, sizeof(*m));
	s[0].requests[stats_status_index(200)] = 5;
	s[1].requests[stats_status_index(200)] = 2;
	s[1].requests[stats_status_index(413)] = 1;
	s[1].requests[STATS_STATUSES - 1] = 1;
	s[0].events[OUTCOME_APPLIED] = 4;
	s[1].events[OUTCOME_DUPLICATE] = 2;
	s[1].events[STATS_FAILED] = 1;
	s[0].types[EVENT_BOOKING_CANCELLED] = 6;
	s[0].batches[0] = 2;
	s[1].batches[2] = 1;
	s[0].batch_events = 2;
	s[1].batch_events = 4;
	s[0].durations[0] = 6;
	s[1].durations[3] = 2;
	s[1].durations[STATS_DURATION_BUCKETS - 1] = 1;
	s[0].duration_us = 1500000;
	s[1].duration_us = 20000001;
	s[1].reconnects = 3;
	metrics_sum(m, s, 2);
	m->processes = 2;
	m->since = 1700000000;
}

static void
has_line(const char *text, const char *line)
{
	const char	*p = text;
	size_t		 n = strlen(line);

	for (; p != NULL; p = strchr(p, '\n'), p = p != NULL ? p + 1 : p)
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return;
	fail_msg("no line \"%s\" in:\n%s", line, text);
}

static void
test_prometheus(void **state)
{
	struct metrics	m;
	struct buf	out;

	known(&m);
	buf_init(&out, 1024 * 1024);
	assert_int_equal(metrics_prometheus(&m, &out), 0);
	has_line(out.data, "# TYPE meetergo_webhook_requests_total counter");
	has_line(out.data, "meetergo_webhook_requests_total{status=\"200\"} 7");
	has_line(out.data, "meetergo_webhook_requests_total{status=\"413\"} 1");
	has_line(out.data, "meetergo_webhook_requests_total{status=\"401\"} 0");
	has_line(out.data,
	    "meetergo_webhook_requests_total{status=\"other\"} 1");
	has_line(out.data, "meetergo_webhook_events_total{outcome=\"stored\"} 4");
	has_line(out.data,
	    "meetergo_webhook_events_total{outcome=\"duplicate\"} 2");
	has_line(out.data, "meetergo_webhook_events_total{outcome=\"failed\"} 1");
	has_line(out.data,
	    "meetergo_webhook_event_types_total{type=\"booking_cancelled\"} 6");
	/* Cumulative buckets, +Inf = _count. */
	has_line(out.data, "# TYPE meetergo_webhook_batch_size histogram");
	has_line(out.data, "meetergo_webhook_batch_size_bucket{le=\"1\"} 2");
	has_line(out.data, "meetergo_webhook_batch_size_bucket{le=\"2\"} 2");
	has_line(out.data, "meetergo_webhook_batch_size_bucket{le=\"4\"} 3");
	has_line(out.data, "meetergo_webhook_batch_size_bucket{le=\"+Inf\"} 3");
	has_line(out.data, "meetergo_webhook_batch_size_sum 6");
	has_line(out.data, "meetergo_webhook_batch_size_count 3");
	has_line(out.data, "meetergo_webhook_request_duration_seconds_bucket"
	    "{le=\"0.005\"} 6");
	has_line(out.data, "meetergo_webhook_request_duration_seconds_bucket"
	    "{le=\"0.05\"} 8");
	has_line(out.data, "meetergo_webhook_request_duration_seconds_bucket"
	    "{le=\"10\"} 8");
	has_line(out.data, "meetergo_webhook_request_duration_seconds_bucket"
	    "{le=\"+Inf\"} 9");
	has_line(out.data,
	    "meetergo_webhook_request_duration_seconds_sum 21.500001");
	has_line(out.data, "meetergo_webhook_request_duration_seconds_count 9");
	has_line(out.data, "meetergo_webhook_db_reconnects_total 3");
	has_line(out.data, "meetergo_webhook_processes 2");
	/* The spool's lines only when it is known. */
	assert_null(strstr(out.data, "meetergo_webhook_spool_"));
	buf_reset(&out);
	m.has_spool = 1;
	m.spool_files = 3;
	m.spool_oldest = 42;
	m.spool_failed = 1;
	assert_int_equal(metrics_prometheus(&m, &out), 0);
	has_line(out.data, "# TYPE meetergo_webhook_spool_files gauge");
	has_line(out.data, "meetergo_webhook_spool_files 3");
	has_line(out.data, "meetergo_webhook_spool_oldest_seconds 42");
	has_line(out.data, "meetergo_webhook_spool_failed_files 1");
	buf_release(&out);
}

static void
test_text(void **state)
{
	struct metrics	m;
	struct buf	out;

	known(&m);
	buf_init(&out, 1024 * 1024);
	assert_int_equal(metrics_text(&m, &out), 0);
	has_line(out.data, "counting since 2023-11-14 22:13:20 UTC; 2 processes "
	    "counting now");
	has_line(out.data, "requests: 9 (200: 7, 413: 1, other: 1)");
	has_line(out.data, "deliveries: 7 (stored 4, duplicate 2, failed 1)");
	has_line(out.data, "event types: 6 (booking_cancelled 6)");
	has_line(out.data, "batches: 3, 2.0 deliveries each on average");
	has_line(out.data, "answer time: mean 2388.9 ms, 1% or more over 10 s");
	has_line(out.data, "database reconnects: 3");
	has_line(out.data, "spool: not known here (set "
	    "MEETERGO_WEBHOOK_SPOOL_DIR as the responders have it)");
	buf_reset(&out);
	m.total.durations[STATS_DURATION_BUCKETS - 1] = 0;
	m.has_spool = 1;
	m.spool_files = 1;
	m.spool_bytes = 900;
	m.spool_oldest = 42;
	assert_int_equal(metrics_text(&m, &out), 0);
	has_line(out.data, "answer time: mean 2687.5 ms, 99% within 50 ms");
	has_line(out.data, "spool: 1 file (900 bytes) waiting, the oldest 42 s "
	    "old; 0 set aside in failed/");
	buf_release(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_slots_survive_their_process, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_other_layout, make_dir,
		    remove_dir),
		cmocka_unit_test(test_status_index),
		cmocka_unit_test(test_prometheus),
		cmocka_unit_test(test_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
