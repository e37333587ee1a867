/* PostgreSQL through libpq: connect, store an event, classify failures. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "util.h"

struct db {
	const struct settings	*settings;
	PGconn			*conn;
	int			 prepared;	/* on this connection */
};

/* How a failed statement should be handled. */
enum failure {
	FAIL_RETRY,		/* connection or server going away: reconnect */
	FAIL_BUSY,		/* overloaded or timed out: 503 */
	FAIL_DATA,		/* the data is refused: 422 */
	FAIL_FAULT		/* our fault or unknown: 500 */
};

/* Past the statement timeout, how long before we stop waiting ourselves. */
#define DB_GRACE_MS	1000

/* Wait for the connection's socket; 1 ready, 0 past deadline, -1 error. */
static int
wait_socket(PGconn *conn, short events, long deadline)
{
	struct pollfd	pfd;
	long		left;
	int		r;

	pfd.fd = PQsocket(conn);
	pfd.events = events;
	if (pfd.fd < 0)
		return -1;
	for (;;) {
		if ((left = deadline - monotonic_ms()) <= 0)
			return 0;
		r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r == -1 && errno == EINTR)
			continue;	/* SIGTERM: finish the request in hand */
		return r > 0 ? 1 : r;
	}
}

/*
 * Send what libpq holds and wait, within the deadline, until a result can
 * be taken without blocking.  The deadline is our own: statement_timeout
 * only helps while the server is there to enforce it, and a vanished host
 * or a half-open connection would otherwise hang the thread.  0, or -1
 * when the connection failed or (*timed_out) the deadline passed; the
 * connection is then not to be trusted.
 */
static int
ready(PGconn *conn, long deadline, int *timed_out)
{
	int r;

	while ((r = PQflush(conn)) == 1)
		if ((r = wait_socket(conn, POLLOUT | POLLIN, deadline)) != 1)
			goto wait_failed;
	if (r == -1)
		return -1;
	while (PQisBusy(conn)) {
		if ((r = wait_socket(conn, POLLIN, deadline)) != 1)
			goto wait_failed;
		if (!PQconsumeInput(conn))
			return -1;
	}
	return 0;
wait_failed:
	if (r == 0)
		*timed_out = 1;
	return -1;
}

/*
 * Run sql on conn within the deadline: its result, an error result when
 * one came, or NULL when none could (*timed_out when the deadline passed).
 */
static PGresult *
exec_bounded(struct db *db, PGconn *conn, const char *sql, int nparams,
    const char *const *params, int *timed_out)
{
	PGresult	*res, *keep = NULL;
	long		 deadline;

	*timed_out = 0;
	if (!PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0))
		return NULL;
	deadline = monotonic_ms() + db->settings->db_timeout_ms + DB_GRACE_MS;
	for (;;) {
		if (ready(conn, deadline, timed_out) == -1) {
			PQclear(keep);
			return NULL;
		}
		if ((res = PQgetResult(conn)) == NULL)
			return keep;
		if (keep == NULL || PQresultStatus(res) == PGRES_FATAL_ERROR) {
			PQclear(keep);
			keep = res;
		} else
			PQclear(res);
	}
}

struct db *
db_new(const struct settings *s)
{
	struct db *db;

	if ((db = calloc(1, sizeof(*db))) == NULL)
		return NULL;
	db->settings = s;
	return db;
}

static void
db_disconnect(struct db *db)
{
	PQfinish(db->conn);
	db->conn = NULL;
	db->prepared = 0;
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	db_disconnect(db);
	free(db);
}

/* The first line of a libpq message, for a one-line log entry. */
static void
first_line(char *dst, size_t size, const char *msg)
{
	size_t n;

	if (msg == NULL)
		msg = "";
	n = strcspn(msg, "\n");
	snprintf(dst, size, "%.*s", (int)n, msg);
}

PGconn *
db_conn(struct db *db, struct error *err)
{
	char		 timeout[24], options[96], msg[200];
	const char	*keys[6], *vals[6];

	if (db->conn != NULL)
		return db->conn;

	/*
	 * Our defaults come before the DSN so that the operator's own
	 * connect_timeout or options in MEETERGO_WEBHOOK_DSN win.
	 */
	snprintf(timeout, sizeof(timeout), "%ld",
	    (db->settings->db_timeout_ms + 999) / 1000);
	/*
	 * A 200 promises the event is durable, whatever the server's
	 * default: synchronous_commit is set on for our sessions.
	 */
	snprintf(options, sizeof(options), "-c statement_timeout=%ld "
	    "-c synchronous_commit=on", db->settings->db_timeout_ms);
	keys[0] = "connect_timeout";		vals[0] = timeout;
	keys[1] = "options";			vals[1] = options;
	keys[2] = "fallback_application_name";	vals[2] = "meetergo-webhook";
	keys[3] = "client_encoding";		vals[3] = "UTF8";
	keys[4] = "dbname";			vals[4] = db->settings->dsn;
	keys[5] = NULL;				vals[5] = NULL;

	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL) {
		error_set(err, 503, "", "database: out of memory");
		return NULL;
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		first_line(msg, sizeof(msg), PQerrorMessage(db->conn));
		error_set(err, 503, "", "database unreachable: %s", msg);
		db_disconnect(db);
		return NULL;
	}
	/* Sends never block: every wait is bounded by our deadline. */
	if (PQsetnonblocking(db->conn, 1) != 0) {
		first_line(msg, sizeof(msg), PQerrorMessage(db->conn));
		error_set(err, 503, "", "database: %s", msg);
		db_disconnect(db);
		return NULL;
	}
	return db->conn;
}

static enum failure
classify(const PGresult *res)
{
	const char *state;

	state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state == NULL)
		/* libpq's own error: the connection failed under us. */
		return FAIL_RETRY;
	if (strncmp(state, "08", 2) == 0 ||
	    strcmp(state, "57P01") == 0 ||	/* admin_shutdown */
	    strcmp(state, "57P02") == 0 ||	/* crash_shutdown */
	    strcmp(state, "57P03") == 0 ||	/* cannot_connect_now */
	    strcmp(state, "25006") == 0 ||	/* read-only: a standby now? */
	    strcmp(state, "26000") == 0 ||	/* our prepared statement gone */
	    strcmp(state, "40001") == 0 ||	/* serialization_failure */
	    strcmp(state, "40P01") == 0)	/* deadlock_detected */
		return FAIL_RETRY;
	if (strcmp(state, "53300") == 0 ||	/* too_many_connections */
	    strcmp(state, "57014") == 0 ||	/* query_canceled (timeout) */
	    strncmp(state, "53", 2) == 0)	/* insufficient_resources */
		return FAIL_BUSY;
	if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
		return FAIL_DATA;
	return FAIL_FAULT;
}

static void
fail_error(struct db *db, const PGresult *res, enum failure f,
    struct error *err)
{
	const char	*state;
	char		 msg[200];

	first_line(msg, sizeof(msg), res != NULL ?
	    PQresultErrorMessage(res) : PQerrorMessage(db->conn));
	state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	switch (f) {
	case FAIL_RETRY:
	case FAIL_BUSY:
		error_set(err, 503, "", "database unavailable: %s", msg);
		break;
	case FAIL_DATA:
		error_set(err, 422, "", "database refused the event: %s", msg);
		break;
	case FAIL_FAULT:
		if (state != NULL && (strcmp(state, "42883") == 0 ||
		    strcmp(state, "3F000") == 0 || strcmp(state, "42P01") == 0))
			error_set(err, 500, "", "database schema missing or "
			    "old (run meetergo-webhookctl migrate): %s", msg);
		else
			error_set(err, 500, "", "database error %s: %s",
			    state != NULL ? state : "-", msg);
		break;
	}
}

/*
 * The mapped row is written as JSON text directly: its keys are ours and
 * fixed, its values plain strings and numbers, and a tree of json_t only
 * to be dumped would cost more than the rest of the mapping.
 */
struct row {
	struct buf	b;
	int		first;		/* nothing written yet at this level */
	int		bad;		/* out of memory */
};

static void
w_raw(struct row *w, const char *s, size_t n)
{
	if (buf_append(&w->b, s, n) == -1)
		w->bad = 1;
}

static void
w_sep(struct row *w)
{
	if (!w->first)
		w_raw(w, ",", 1);
	w->first = 0;
}

static void
w_open(struct row *w, const char *c)
{
	w_raw(w, c, 1);
	w->first = 1;
}

static void
w_close(struct row *w, const char *c)
{
	w_raw(w, c, 1);
	w->first = 0;
}

/* Keys are our own names: nothing in them to escape. */
static void
w_key(struct row *w, const char *key)
{
	w_sep(w);
	w_raw(w, "\"", 1);
	w_raw(w, key, strlen(key));
	w_raw(w, "\":", 2);
}

/* A string as JSON, or null.  Values come from jansson: valid UTF-8. */
static void
w_str(struct row *w, const char *key, const char *s)
{
	const char	*p, *run;
	char		 esc[8];

	w_key(w, key);
	if (s == NULL) {
		w_raw(w, "null", 4);
		return;
	}
	w_raw(w, "\"", 1);
	for (run = p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		w_raw(w, run, (size_t)(p - run));
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			w_raw(w, esc, 2);
		} else {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			w_raw(w, esc, 6);
		}
		run = p + 1;
	}
	w_raw(w, run, (size_t)(p - run));
	w_raw(w, "\"", 1);
}

static void
w_ts(struct row *w, const char *key, const struct timestamp *t)
{
	w_str(w, key, t->set ? t->text : NULL);
}

static void
w_long(struct row *w, const char *key, long v)
{
	w_key(w, key);
	if (buf_appendf(&w->b, "%ld", v) == -1)
		w->bad = 1;
}

static void
booking_row(struct row *w, const struct event *ev)
{
	const struct booking	*b = &ev->booking;
	size_t			 i;

	w_str(w, "kind", "booking");
	w_str(w, "id", ev->id);
	w_str(w, "status", b->cancelled ? "cancelled" : "booked");
	w_ts(w, "start_at", &b->start);
	w_ts(w, "end_at", &b->end);
	w_ts(w, "rescheduled_at", &b->rescheduled_at);
	w_ts(w, "cancelled_at", &b->cancelled_at);
	w_str(w, "cancel_reason", b->cancel_reason);
	w_str(w, "channel", b->channel);
	w_str(w, "meeting_link", b->meeting_link);
	w_str(w, "location", b->location);
	w_str(w, "meeting_type_id", b->meeting_type_id);
	w_str(w, "meeting_type_slug", b->meeting_type_slug);
	w_str(w, "meeting_type_name", b->meeting_type_name);
	if (b->has_duration)
		w_long(w, "duration_minutes", b->duration_minutes);
	else
		w_str(w, "duration_minutes", NULL);
	w_str(w, "company_id", b->company_id);
	w_ts(w, "created_at", &b->created_at);
	w_ts(w, "updated_at", &b->updated_at);
	w_str(w, "last_event_type", ev->type_name);
	w_long(w, "event_rank", ev->rank);

	if (b->has_attendees) {
		w_key(w, "attendees");
		w_open(w, "[");
		for (i = 0; i < b->nattendees; i++) {
			const struct attendee *a = &b->attendees[i];

			w_sep(w);
			w_open(w, "{");
			w_str(w, "attendee_id", a->id);
			w_str(w, "email", a->email);
			w_str(w, "firstname", a->firstname);
			w_str(w, "lastname", a->lastname);
			w_str(w, "fullname", a->fullname);
			w_str(w, "phone", a->phone);
			w_str(w, "timezone", a->timezone);
			w_str(w, "language", a->language);
			w_close(w, "}");
		}
		w_close(w, "]");
		if (b->remove_attendees)
			w_str(w, "attendees_mode", "remove");
	}
	if (b->has_hosts) {
		w_key(w, "hosts");
		w_open(w, "[");
		for (i = 0; i < b->nhosts; i++) {
			const struct host *h = &b->hosts[i];

			w_sep(w);
			w_open(w, "{");
			w_str(w, "host_id", h->id);
			w_str(w, "email", h->email);
			w_str(w, "full_name", h->full_name);
			w_str(w, "slug", h->slug);
			w_close(w, "}");
		}
		w_close(w, "]");
	}
}

char *
db_event_row(const struct event *ev)
{
	struct row w;

	if (ev->type == EVENT_UNKNOWN)
		return NULL;
	/*
	 * Every value comes from the body, escaped as it was there; only
	 * the keys add to it, a few hundred bytes for an attendee that
	 * takes two ("{}") in the body.
	 */
	buf_init(&w.b, 128 * strlen(ev->text != NULL ? ev->text : "") + 4096);
	w.bad = 0;
	w_open(&w, "{");
	switch (ev->type) {
	case EVENT_BOOKING_CREATED:
	case EVENT_BOOKING_RESCHEDULED:
	case EVENT_BOOKING_CANCELLED:
		booking_row(&w, ev);
		break;
	case EVENT_NEW_EMPLOYEE:
		w_str(&w, "kind", "employee");
		w_str(&w, "id", ev->id);
		w_str(&w, "email", ev->employee.email);
		w_str(&w, "full_name", ev->employee.full_name);
		w_str(&w, "company_id", ev->employee.company_id);
		w_ts(&w, "created_at", &ev->employee.created_at);
		w_ts(&w, "updated_at", &ev->employee.updated_at);
		break;
	case EVENT_FORM_SUBMISSION:
		w_str(&w, "kind", "form");
		w_str(&w, "form_id", ev->form.form_id);
		w_str(&w, "submission_id", ev->form.submission_id);
		w_str(&w, "company_id", ev->form.company_id);
		w_ts(&w, "submitted_at", &ev->form.submitted_at);
		break;
	case EVENT_UNKNOWN:
		break;
	}
	/*
	 * The payload itself is not repeated here: the SQL takes the stored
	 * one, or its "data" in the envelope shape.
	 */
	if (ev->subject != ev->root)
		w_str(&w, "subject", "data");
	w_close(&w, "}");
	if (w.bad) {
		buf_release(&w.b);
		return NULL;
	}
	return w.b.data;	/* the caller frees it */
}

static int
parse_outcome(const char *s, enum outcome *out)
{
	static const struct {
		const char	*name;
		enum outcome	 outcome;
	} names[] = {
		{ "applied",	OUTCOME_APPLIED },
		{ "duplicate",	OUTCOME_DUPLICATE },
		{ "stale",	OUTCOME_STALE },
		{ "ignored",	OUTCOME_IGNORED },
		{ "rejected",	OUTCOME_REJECTED },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0) {
			*out = names[i].outcome;
			return 0;
		}
	return -1;
}

/*
 * Run one statement of the responder's, returning its rows, or NULL with
 * err set.  A connection kept across requests may have died since the last
 * one (server restart, idle timeout): that costs one retry on a new
 * connection, decided from the failed result.
 */
static PGresult *
run(struct db *db, const char *sql, int nparams,
    const char *const *params, struct error *err)
{
	PGresult	*res;
	PGconn		*conn;
	enum failure	 f;
	int		 attempt, timed_out;

	for (attempt = 0; attempt < 2; attempt++) {
		if ((conn = db_conn(db, err)) == NULL)
			return NULL;
		res = exec_bounded(db, conn, sql, nparams, params, &timed_out);
		if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK)
			return res;
		if (timed_out) {
			db_disconnect(db);
			error_set(err, 503, "", "database did not answer within "
			    "%ld ms", db->settings->db_timeout_ms + DB_GRACE_MS);
			return NULL;
		}
		f = classify(res);
		if (f != FAIL_RETRY || attempt == 1) {
			fail_error(db, res, f, err);
			PQclear(res);
			if (f == FAIL_RETRY)
				db_disconnect(db);
			return NULL;
		}
		PQclear(res);
		db_disconnect(db);
	}
	return NULL;
}

int
db_item_init(struct db_item *item, const char *event_key,
    const struct event *ev, const char *reason, struct error *err)
{
	size_t i;

	memset(item, 0, sizeof(*item));
	error_init(&item->err);
	if (reason == NULL && ev->type != EVENT_UNKNOWN &&
	    (item->row = db_event_row(ev)) == NULL) {
		error_set(err, 500, "", "out of memory mapping the event");
		db_item_release(item);
		return -1;
	}
	item->lock_key = ev->id != NULL ? ev->id : "";
	item->params[0] = event_key;
	item->params[1] = ev->type_name;
	item->params[2] = ev->type == EVENT_NEW_EMPLOYEE ||
	    ev->type == EVENT_FORM_SUBMISSION ? NULL : ev->id;
	item->params[3] = reason != NULL ? "rejected" :
	    ev->type == EVENT_UNKNOWN ? "ignored" : "apply";
	item->params[4] = reason;
	item->params[5] = ev->text;
	item->params[6] = item->row;
	for (i = 0; i < 7; i++)
		if (item->params[i] != NULL)
			item->size += strlen(item->params[i]);
	return 0;
}

void
db_item_release(struct db_item *item)
{
	free(item->row);
	item->row = NULL;
}

/* What store_event answered for one item. */
static void
item_result(struct db_item *item, const PGresult *res)
{
	const char *errstr;

	if (PQntuples(res) != 1 || PQnfields(res) != 2 ||
	    parse_outcome(PQgetvalue(res, 0, 0), &item->outcome) == -1)
		error_set(&item->err, 500, "", "meetergo.store_event answered "
		    "something unexpected");
	else if (parse_long(PQgetvalue(res, 0, 1), 1, LONG_MAX,
	    &item->deliveries, &errstr) == -1)
		error_set(&item->err, 500, "", "delivery count is %s", errstr);
}

/*
 * The next result of a pipeline within the deadline; NULL when none can
 * come (the connection failed, or *timed_out).  libpq ends the results of
 * each query with a NULL: two in a row mean nothing more is on its way.
 */
static PGresult *
pipe_result(PGconn *conn, long deadline, int *timed_out)
{
	PGresult	*res;
	int		 nulls = 0;

	while (ready(conn, deadline, timed_out) == 0) {
		if ((res = PQgetResult(conn)) != NULL)
			return res;
		if (++nulls == 2 || PQstatus(conn) == CONNECTION_BAD)
			break;
	}
	return NULL;
}

/*
 * A fault that is no event's own: the schema or a privilege missing, a
 * statement PostgreSQL cannot parse (class 42), a schema name wrong (3F).
 */
static int
concerns_all(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return state != NULL && (strncmp(state, "42", 2) == 0 ||
	    strncmp(state, "3F", 2) == 0);
}

/* What one pipeline came to. */
enum pipe_end {
	PIPE_COMMITTED,		/* every pending item has its answer */
	PIPE_ITEM_FAILED,	/* one item failed on its own; rolled back */
	PIPE_FAILED		/* the pipeline as a whole failed */
};

/*
 * One try at the items still pending (rc 1) in one pipeline: the prepare
 * when the connection lacks it, one execute per item, and a sync.  The
 * statements between two syncs run in one implicit transaction, committed
 * (and, with synchronous_commit on, flushed) before the sync's answer, so
 * one commit makes them all durable.
 *
 * PIPE_COMMITTED: each pending item has rc 0, or -1 with its own error.
 * PIPE_ITEM_FAILED: the statement of one item failed for a cause of its
 * own (refused data, a fault); that item has rc -1 and its error, the
 * transaction was rolled back and the others are pending still.
 * PIPE_FAILED: err set; a cause that concerns them all (connection,
 * timeout, lock wait, deadlock, the prepare or the commit failing), and
 * *retry when another try on a new connection may succeed.
 */
static enum pipe_end
pipeline_once(struct db *db, struct db_item **items, size_t n, int *retry,
    struct error *err)
{
	static const char sql[] =
	    "SELECT outcome, deliveries FROM meetergo.store_event("
	    "$1, $2, $3, $4, $5, $6::jsonb, $7::jsonb)";
	static const char stmt[] = "meetergo_store_event";
	PGconn		*conn;
	PGresult	*res = NULL;
	struct db_item	*culprit = NULL;
	enum failure	 f = FAIL_FAULT;
	long		 deadline = 0;
	size_t		 i;
	int		 prepare, aborted = 0, timed_out = 0, whole = 0;

	*retry = 0;
	if ((conn = db_conn(db, err)) == NULL)
		return PIPE_FAILED;
	prepare = db->settings->prepare && !db->prepared;
	if (!PQenterPipelineMode(conn) ||
	    (prepare && !PQsendPrepare(conn, stmt, sql, 7, NULL)))
		goto lost;
	for (i = 0; i < n; i++) {
		if (items[i]->rc != 1)
			continue;
		if (db->settings->prepare ?
		    !PQsendQueryPrepared(conn, stmt, 7, items[i]->params,
		    NULL, NULL, 0) :
		    !PQsendQueryParams(conn, sql, 7, NULL, items[i]->params,
		    NULL, NULL, 0))
			goto lost;
	}
	if (!PQpipelineSync(conn))
		goto lost;

	/*
	 * A statement may take up to statement_timeout: the deadline is
	 * for the next result, and moves on with each one.
	 */
	deadline = monotonic_ms() + db->settings->db_timeout_ms + DB_GRACE_MS;
	if (prepare) {
		if ((res = pipe_result(conn, deadline, &timed_out)) == NULL)
			goto lost;
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			goto all_refused;
		db->prepared = 1;
		PQclear(res);
		res = NULL;
	}
	for (i = 0; i < n; i++) {
		if (items[i]->rc != 1)
			continue;
		if ((res = pipe_result(conn, deadline, &timed_out)) == NULL)
			goto lost;
		deadline = monotonic_ms() + db->settings->db_timeout_ms +
		    DB_GRACE_MS;
		switch (PQresultStatus(res)) {
		case PGRES_PIPELINE_ABORTED:
			aborted = 1;
			break;
		case PGRES_FATAL_ERROR:
			if (culprit == NULL) {
				culprit = items[i];
				f = classify(res);
				fail_error(db, res, f, &culprit->err);
				whole = concerns_all(res);
			}
			break;
		default:
			/* Rows, or an answer item_result calls unexpected. */
			item_result(items[i], res);
			break;
		}
		PQclear(res);
		res = NULL;
	}
	/* The sync's answer comes once the commit is flushed. */
	if ((res = pipe_result(conn, deadline, &timed_out)) == NULL)
		goto lost;
	if (PQresultStatus(res) != PGRES_PIPELINE_SYNC)
		goto all_refused;
	PQclear(res);
	res = NULL;
	/* Past the sync the answers hold, whatever becomes of conn. */
	if (!PQexitPipelineMode(conn))
		db_disconnect(db);

	if (culprit == NULL && !aborted) {
		for (i = 0; i < n; i++)
			if (items[i]->rc == 1)
				items[i]->rc = error_isset(&items[i]->err) ?
				    -1 : 0;
		return PIPE_COMMITTED;
	}
	/* Rolled back: the answers of the others do not hold. */
	for (i = 0; i < n; i++)
		if (items[i]->rc == 1 && items[i] != culprit)
			error_init(&items[i]->err);
	if (culprit == NULL) {
		error_set(err, 500, "", "database rolled back the events "
		    "without an error");
		return PIPE_FAILED;
	}
	if ((f == FAIL_DATA || f == FAIL_FAULT) && !whole) {
		culprit->rc = -1;
		return PIPE_ITEM_FAILED;
	}
	/*
	 * A timeout (a lock wait, most likely), a deadlock, a lost prepared
	 * statement, the schema or a privilege missing: the others would
	 * meet it too.
	 */
	*err = culprit->err;
	error_init(&culprit->err);
	if (f == FAIL_RETRY) {
		db_disconnect(db);
		*retry = 1;
	}
	return PIPE_FAILED;

all_refused:
	/*
	 * The prepare or the commit failed: that concerns every event, and
	 * is no fault of any one's data (not a 422, whatever the SQLSTATE).
	 */
	f = classify(res);
	fail_error(db, res, f == FAIL_DATA ? FAIL_FAULT : f, err);
	PQclear(res);
	res = NULL;
	if (f == FAIL_RETRY) {
		db_disconnect(db);
		*retry = 1;
		goto done;
	}
	/* Read what is left, so the connection can serve again. */
	while ((res = pipe_result(conn, deadline, &timed_out)) != NULL &&
	    PQresultStatus(res) != PGRES_PIPELINE_SYNC)
		PQclear(res);
	if (res == NULL || !PQexitPipelineMode(conn))
		db_disconnect(db);
	goto done;
lost:
	/* Connection lost or no answer in time: it is not to be trusted. */
	if (timed_out)
		error_set(err, 503, "", "database did not answer within %ld ms",
		    db->settings->db_timeout_ms + DB_GRACE_MS);
	else {
		fail_error(db, res, FAIL_RETRY, err);
		*retry = 1;
	}
	db_disconnect(db);
done:
	PQclear(res);
	for (i = 0; i < n; i++)
		if (items[i]->rc == 1)
			error_init(&items[i]->err);
	return PIPE_FAILED;
}

/*
 * Rows are locked in one order in every batch, that of their ids and then
 * of the event keys, so that two workers' batches seldom wait for each
 * other in a circle.  (They still can: store_event takes the event's row
 * before the booking's, and one body may sit in two batches.  PostgreSQL
 * then cancels one, and that batch is sent again.)  Two events of one
 * booking in one batch came at the same time: neither was sent after the
 * other was answered, so no order between them is lost.
 */
static int
lock_order(const struct db_item *a, const struct db_item *b)
{
	int c;

	if ((c = strcmp(a->lock_key, b->lock_key)) != 0)
		return c;
	return strcmp(a->params[0], b->params[0]);
}

void
db_store_batch(struct db *db, struct db_item **items, size_t n)
{
	struct db_item	*t;
	struct error	 err;
	size_t		 i, j, pending;
	int		 attempt = 0, retry;

	for (i = 1; i < n; i++) {
		t = items[i];
		for (j = i; j > 0 && lock_order(items[j - 1], t) > 0; j--)
			items[j] = items[j - 1];
		items[j] = t;
	}
	for (i = 0; i < n; i++) {
		items[i]->rc = 1;
		error_init(&items[i]->err);
	}
	/*
	 * Each failure of one item's own takes that item out; a failure of
	 * the whole pipeline gets one more try on a new connection.
	 */
	for (;;) {
		for (i = 0, pending = 0; i < n; i++)
			pending += items[i]->rc == 1;
		if (pending == 0)
			return;
		error_init(&err);
		switch (pipeline_once(db, items, n, &retry, &err)) {
		case PIPE_COMMITTED:
			return;
		case PIPE_ITEM_FAILED:
			continue;
		case PIPE_FAILED:
			break;
		}
		if (!retry || attempt++ == 1)
			break;
	}
	for (i = 0; i < n; i++)
		if (items[i]->rc == 1) {
			items[i]->rc = -1;
			items[i]->err = err;
		}
}

int
db_ping(struct db *db, struct error *err)
{
	static const char sql[] =
	    "SELECT max(version) FROM meetergo.schema_version";
	PGresult	*res;
	const char	*errstr;
	long		 version;
	int		 rc = -1;

	if ((res = run(db, sql, 0, NULL, err)) == NULL)
		return -1;
	if (PQgetisnull(res, 0, 0) || parse_long(PQgetvalue(res, 0, 0), 0,
	    INT_MAX, &version, &errstr) == -1 || version != DB_SCHEMA_VERSION) {
		error_set(err, 503, "", "database schema is at version %s, "
		    "this program wants %d (run meetergo-webhookctl migrate)",
		    PQgetisnull(res, 0, 0) ? "none" : PQgetvalue(res, 0, 0),
		    DB_SCHEMA_VERSION);
		goto done;
	}
	rc = 0;
done:
	PQclear(res);
	return rc;
}

/* Run a statement that returns no rows; -1 with err set on failure. */
static int
exec_command(PGconn *conn, const char *sql, struct error *err)
{
	PGresult	*res = PQexec(conn, sql);
	char		 msg[200];
	int		 rc = 0;

	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		first_line(msg, sizeof(msg), res != NULL ?
		    PQresultErrorMessage(res) : PQerrorMessage(conn));
		error_set(err, 500, "", "%s", msg);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

int
db_replay(struct db *db, int keep_secret, long *applied, long *total,
    struct error *err)
{
	/*
	 * The events that changed the tables live, in the order key of the
	 * ON CONFLICT clause: creations first, then updatedAt, then rank,
	 * then first receipt.  An event is applied live only when its key is
	 * above the stored one, so the applied events of a booking arrived
	 * in this very order: replaying them repeats live delivery step for
	 * step, and stale events, which changed nothing, are left out.
	 */
	static const char cursor[] =
	    "DECLARE replay NO SCROLL CURSOR FOR "
	    "SELECT event_key, payload::text FROM meetergo.webhook_events "
	    "WHERE outcome = 'applied' "
	    "ORDER BY coalesce(event_rank, 0) > 1, "
	    "event_updated_at NULLS FIRST, event_rank, received_at, event_key";
	static const char apply[] =
	    "SELECT meetergo.apply_event($1, $2::jsonb, $3::jsonb)";
	PGconn		*conn;
	PGresult	*res = NULL, *ares = NULL;
	struct event	 ev;
	struct error	 perr;
	char		*row = NULL, msg[200];
	int		 i, rc = -1;

	event_init(&ev);
	*applied = *total = 0;
	if ((conn = db_conn(db, err)) == NULL)
		return -1;
	if (exec_command(conn, "BEGIN", err) == -1)
		return -1;
	if (exec_command(conn, "LOCK TABLE meetergo.bookings, "
	    "meetergo.employees, meetergo.form_submissions, "
	    "meetergo.booking_attendees, meetergo.booking_hosts "
	    "IN ACCESS EXCLUSIVE MODE", err) == -1 ||
	    exec_command(conn, "TRUNCATE meetergo.booking_attendees, "
	    "meetergo.booking_hosts, meetergo.bookings, meetergo.employees, "
	    "meetergo.form_submissions", err) == -1 ||
	    exec_command(conn, cursor, err) == -1)
		goto fail;

	for (;;) {
		res = PQexec(conn, "FETCH 500 FROM replay");
		if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
			first_line(msg, sizeof(msg), res != NULL ?
			    PQresultErrorMessage(res) : PQerrorMessage(conn));
			error_set(err, 500, "", "replay: %s", msg);
			goto fail;
		}
		if (PQntuples(res) == 0)
			break;
		for (i = 0; i < PQntuples(res); i++) {
			const char *key = PQgetvalue(res, i, 0);
			const char *text = PQgetvalue(res, i, 1);

			(*total)++;
			error_init(&perr);
			if (payload_decode(text, strlen(text), keep_secret,
			    &ev, &perr) == -1 || ev.type == EVENT_UNKNOWN) {
				log_warn("replay: event %.12s no longer "
				    "decodes: %s", key, perr.text);
				continue;
			}
			if ((row = db_event_row(&ev)) == NULL) {
				error_set(err, 500, "", "out of memory");
				goto fail;
			}
			ares = PQexecParams(conn, apply, 3, NULL,
			    (const char *[]){ key, text, row }, NULL, NULL, 0);
			if (ares == NULL ||
			    PQresultStatus(ares) != PGRES_TUPLES_OK) {
				first_line(msg, sizeof(msg), ares != NULL ?
				    PQresultErrorMessage(ares) :
				    PQerrorMessage(conn));
				error_set(err, 500, "", "replay of event %.12s: "
				    "%s", key, msg);
				goto fail;
			}
			if (strcmp(PQgetvalue(ares, 0, 0), "applied") == 0)
				(*applied)++;
			PQclear(ares);
			ares = NULL;
			free(row);
			row = NULL;
		}
		PQclear(res);
		res = NULL;
	}
	if (exec_command(conn, "CLOSE replay", err) == -1 ||
	    exec_command(conn, "COMMIT", err) == -1)
		goto fail;
	rc = 0;
	goto done;
fail:
	/* A failed transaction is rolled back; ignore a second failure. */
	PQclear(PQexec(conn, "ROLLBACK"));
done:
	free(row);
	PQclear(ares);
	PQclear(res);
	event_release(&ev);
	return rc;
}
