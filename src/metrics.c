/* The counters of all slots summed, written for a person or Prometheus. */
#include "config.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "payload.h"
#include "response.h"

#define P	"meetergo_webhook_"

static uint64_t
load(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

static void
sum_array(uint64_t *dst, const uint64_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] += load(&src[i]);
}

void
metrics_sum(struct metrics *m, const struct stats_slot *slots, size_t n)
{
	struct stats_slot	*t = &m->total;
	const struct stats_slot	*s;
	size_t			 i;

	for (i = 0; i < n; i++) {
		s = &slots[i];
		sum_array(t->requests, s->requests, STATS_STATUSES);
		sum_array(t->events, s->events, STATS_OUTCOMES);
		sum_array(t->types, s->types, STATS_TYPES);
		sum_array(t->batches, s->batches, STATS_BATCH_BUCKETS);
		sum_array(t->durations, s->durations, STATS_DURATION_BUCKETS);
		t->batch_events += load(&s->batch_events);
		t->duration_us += load(&s->duration_us);
		t->reconnects += load(&s->reconnects);
	}
}

/* The label value of index i of each counter. */
static void
status_label(size_t i, char *dst, size_t size)
{
	int code = stats_status_code(i);

	if (code == 0)
		snprintf(dst, size, "other");
	else
		snprintf(dst, size, "%d", code);
}

static void
outcome_label(size_t i, char *dst, size_t size)
{
	snprintf(dst, size, "%s", i == STATS_FAILED ? "failed" :
	    response_word((enum outcome)i));
}

static void
type_label(size_t i, char *dst, size_t size)
{
	snprintf(dst, size, "%s", event_type_name((enum event_type)i));
}

static uint64_t
total(const uint64_t *v, size_t n)
{
	uint64_t	sum = 0;
	size_t		i;

	for (i = 0; i < n; i++)
		sum += v[i];
	return sum;
}

static int
head(struct buf *out, const char *name, const char *type, const char *help)
{
	return buf_appendf(out, "# HELP " P "%s %s\n# TYPE " P "%s %s\n",
	    name, help, name, type);
}

/* A counter with one label, a line per value. */
static int
labelled(struct buf *out, const char *name, const char *label,
    const char *help, const uint64_t *v, size_t n,
    void (*label_of)(size_t, char *, size_t))
{
	char	value[32];
	size_t	i;

	if (head(out, name, "counter", help) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		label_of(i, value, sizeof(value));
		if (buf_appendf(out, P "%s{%s=\"%s\"} %" PRIu64 "\n", name,
		    label, value, v[i]) == -1)
			return -1;
	}
	return 0;
}

/* A histogram of buckets that are not cumulative; le(i) < 0 is +Inf. */
static int
histogram(struct buf *out, const char *name, const char *help,
    const uint64_t *v, size_t n, long (*le)(size_t), double scale,
    const char *sum)
{
	uint64_t	cum = 0;
	size_t		i;
	int		rc;

	if (head(out, name, "histogram", help) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		cum += v[i];
		if (le(i) < 0)
			rc = buf_appendf(out, P "%s_bucket{le=\"+Inf\"} %"
			    PRIu64 "\n", name, cum);
		else
			rc = buf_appendf(out, P "%s_bucket{le=\"%g\"} %"
			    PRIu64 "\n", name, (double)le(i) / scale, cum);
		if (rc == -1)
			return -1;
	}
	return buf_appendf(out, P "%s_sum %s\n" P "%s_count %" PRIu64 "\n",
	    name, sum, name, cum);
}

static int
gauge(struct buf *out, const char *name, const char *help, long value)
{
	if (head(out, name, "gauge", help) == -1)
		return -1;
	return buf_appendf(out, P "%s %ld\n", name, value);
}

static int
spool_prometheus(const struct metrics *m, struct buf *out)
{
	if (!m->has_spool)
		return 0;
	if (gauge(out, "spool_files", "Events waiting in the spool.",
	    m->spool_files) == -1 ||
	    gauge(out, "spool_bytes", "Bytes of the events waiting in the "
	    "spool.", m->spool_bytes) == -1 ||
	    gauge(out, "spool_oldest_seconds", "Age of the oldest event "
	    "waiting in the spool (0: none waits).", m->spool_oldest) == -1 ||
	    gauge(out, "spool_failed_files", "Spooled events set aside in "
	    "failed/, waiting for an operator.", m->spool_failed) == -1)
		return -1;
	return 0;
}

int
metrics_prometheus(const struct metrics *m, struct buf *out)
{
	const struct stats_slot	*t = &m->total;
	char			 sum[40], bsum[32];

	snprintf(sum, sizeof(sum), "%" PRIu64 ".%06" PRIu64,
	    t->duration_us / 1000000, t->duration_us % 1000000);
	snprintf(bsum, sizeof(bsum), "%" PRIu64, t->batch_events);
	if (labelled(out, "requests_total", "status", "Requests answered, "
	    "by HTTP status.", t->requests, STATS_STATUSES,
	    status_label) == -1 ||
	    labelled(out, "events_total", "outcome", "Deliveries, by what "
	    "became of them (failed: answered 5xx, not kept).", t->events,
	    STATS_OUTCOMES, outcome_label) == -1 ||
	    labelled(out, "event_types_total", "type", "Deliveries decoded, "
	    "by event type.", t->types, STATS_TYPES, type_label) == -1 ||
	    histogram(out, "batch_size", "Deliveries stored in one "
	    "transaction.", t->batches, STATS_BATCH_BUCKETS, stats_batch_le,
	    1, bsum) == -1 ||
	    histogram(out, "request_duration_seconds", "Time from a "
	    "request's start to its answer.", t->durations,
	    STATS_DURATION_BUCKETS, stats_duration_le, 1e6, sum) == -1 ||
	    head(out, "db_reconnects_total", "counter", "Database "
	    "connections made after a process's first.") == -1 ||
	    buf_appendf(out, P "db_reconnects_total %" PRIu64 "\n",
	    t->reconnects) == -1 ||
	    gauge(out, "processes", "Responder processes counting now.",
	    m->processes) == -1)
		return -1;
	return spool_prometheus(m, out);
}

/* "subject: N (a x, b y)" with the values that are not 0. */
static int
text_line(struct buf *out, const char *subject, const uint64_t *v, size_t n,
    void (*label_of)(size_t, char *, size_t), const char *sep)
{
	char	label[32];
	size_t	i;
	int	first = 1;

	if (buf_appendf(out, "%s: %" PRIu64, subject, total(v, n)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] == 0)
			continue;
		label_of(i, label, sizeof(label));
		if (buf_appendf(out, "%s%s%s%" PRIu64, first ? " (" : ", ",
		    label, sep, v[i]) == -1)
			return -1;
		first = 0;
	}
	return buf_appendf(out, "%s\n", first ? "" : ")");
}

/* The bound under which 99% of the answers came, in ms; -1: above all. */
static double
p99_ms(const struct stats_slot *t)
{
	uint64_t	n = total(t->durations, STATS_DURATION_BUCKETS), cum = 0;
	size_t		i;

	for (i = 0; i < STATS_DURATION_BUCKETS; i++) {
		cum += t->durations[i];
		if (cum * 100 >= n * 99)
			return stats_duration_le(i) < 0 ? -1 :
			    (double)stats_duration_le(i) / 1000;
	}
	return -1;
}

static int
text_times(const struct metrics *m, struct buf *out)
{
	const struct stats_slot	*t = &m->total;
	uint64_t		 n, b;
	double			 p99;

	b = total(t->batches, STATS_BATCH_BUCKETS);
	if (b > 0 && buf_appendf(out, "batches: %" PRIu64 ", %.1f "
	    "deliveries each on average\n", b,
	    (double)t->batch_events / (double)b) == -1)
		return -1;
	n = total(t->durations, STATS_DURATION_BUCKETS);
	if (n == 0)
		return 0;
	if (buf_appendf(out, "answer time: mean %.1f ms",
	    (double)t->duration_us / 1000 / (double)n) == -1)
		return -1;
	if ((p99 = p99_ms(t)) < 0)
		return buf_appendf(out, ", 1%% or more over %g s\n",
		    (double)stats_duration_le(STATS_DURATION_BUCKETS - 2) / 1e6);
	return buf_appendf(out, ", 99%% within %g ms\n", p99);
}

static int
text_spool(const struct metrics *m, struct buf *out)
{
	if (!m->has_spool)
		return buf_appendf(out, "spool: not known here (set "
		    "MEETERGO_WEBHOOK_SPOOL_DIR as the responders have it)\n");
	if (buf_appendf(out, "spool: %ld file%s (%ld bytes) waiting",
	    m->spool_files, m->spool_files == 1 ? "" : "s",
	    m->spool_bytes) == -1 ||
	    (m->spool_files > 0 && buf_appendf(out, ", the oldest %ld s old",
	    m->spool_oldest) == -1))
		return -1;
	return buf_appendf(out, "; %ld set aside in failed/\n",
	    m->spool_failed);
}

int
metrics_text(const struct metrics *m, struct buf *out)
{
	const struct stats_slot	*t = &m->total;
	struct tm		 tm;
	time_t			 since = (time_t)m->since;
	char			 when[40];

	if (gmtime_r(&since, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(when, sizeof(when), "%lld", (long long)m->since);
	if (buf_appendf(out, "counting since %s; %ld process%s counting "
	    "now\n", when, m->processes, m->processes == 1 ? "" : "es") == -1 ||
	    text_line(out, "requests", t->requests, STATS_STATUSES,
	    status_label, ": ") == -1 ||
	    text_line(out, "deliveries", t->events, STATS_OUTCOMES,
	    outcome_label, " ") == -1 ||
	    text_line(out, "event types", t->types, STATS_TYPES,
	    type_label, " ") == -1 ||
	    text_times(m, out) == -1 ||
	    buf_appendf(out, "database reconnects: %" PRIu64 "\n",
	    t->reconnects) == -1)
		return -1;
	return text_spool(m, out);
}
