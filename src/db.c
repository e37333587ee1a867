/* PostgreSQL through libpq: connect, store an event, classify failures. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

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
 * Collect the result of the query just sent, with a deadline of our own:
 * statement_timeout only helps while the server is there to enforce it,
 * and a vanished host or a half-open connection would otherwise hang the
 * worker.  NULL with *timed_out set when the deadline passed; the
 * connection is then not to be trusted.  Otherwise the result, an error
 * result when one came.
 */
static PGresult *
await_result(struct db *db, PGconn *conn, int *timed_out)
{
	PGresult	*res, *keep = NULL;
	long		 deadline;
	int		 r;

	*timed_out = 0;
	deadline = monotonic_ms() + db->settings->db_timeout_ms + DB_GRACE_MS;
	while ((r = PQflush(conn)) == 1)
		if ((r = wait_socket(conn, POLLOUT | POLLIN, deadline)) != 1)
			goto wait_failed;
	if (r == -1)
		return NULL;
	for (;;) {
		while (!PQisBusy(conn)) {
			if ((res = PQgetResult(conn)) == NULL)
				return keep;
			if (keep == NULL ||
			    PQresultStatus(res) == PGRES_FATAL_ERROR) {
				PQclear(keep);
				keep = res;
			} else
				PQclear(res);
		}
		if ((r = wait_socket(conn, POLLIN, deadline)) != 1)
			goto wait_failed;
		if (!PQconsumeInput(conn)) {
			PQclear(keep);
			return NULL;
		}
	}
wait_failed:
	if (r == 0)
		*timed_out = 1;
	PQclear(keep);
	return NULL;
}

/*
 * Run sql on conn within the deadline.  With stmt set (and prepared
 * statements allowed), it is prepared once per connection under that name
 * and executed as such after: no parsing and planning per event.
 */
static PGresult *
exec_bounded(struct db *db, PGconn *conn, const char *stmt, const char *sql,
    int nparams, const char *const *params, int *timed_out)
{
	PGresult *res;

	*timed_out = 0;
	if (stmt != NULL && db->settings->prepare && !db->prepared) {
		if (!PQsendPrepare(conn, stmt, sql, nparams, NULL))
			return NULL;
		res = await_result(db, conn, timed_out);
		if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
			return res;
		PQclear(res);
		db->prepared = 1;
	}
	if (stmt != NULL && db->settings->prepare ?
	    !PQsendQueryPrepared(conn, stmt, nparams, params, NULL, NULL, 0) :
	    !PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0))
		return NULL;
	return await_result(db, conn, timed_out);
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

static json_t *
jstr(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
jts(const struct timestamp *t)
{
	return t->set ? json_string(t->text) : json_null();
}

/* json_object_set_new that remembers a failure instead of returning it. */
static void
put(json_t *obj, const char *key, json_t *v, int *bad)
{
	if (v == NULL || json_object_set_new(obj, key, v) == -1)
		*bad = 1;
}

static json_t *
booking_row(const struct event *ev, int *bad)
{
	const struct booking	*b = &ev->booking;
	json_t			*row, *arr;
	size_t			 i;

	if ((row = json_object()) == NULL) {
		*bad = 1;
		return NULL;
	}
	put(row, "kind", json_string("booking"), bad);
	put(row, "id", json_string(ev->id), bad);
	put(row, "status", json_string(b->cancelled ? "cancelled" : "booked"),
	    bad);
	put(row, "start_at", jts(&b->start), bad);
	put(row, "end_at", jts(&b->end), bad);
	put(row, "rescheduled_at", jts(&b->rescheduled_at), bad);
	put(row, "cancelled_at", jts(&b->cancelled_at), bad);
	put(row, "cancel_reason", jstr(b->cancel_reason), bad);
	put(row, "channel", jstr(b->channel), bad);
	put(row, "meeting_link", jstr(b->meeting_link), bad);
	put(row, "location", jstr(b->location), bad);
	put(row, "meeting_type_id", jstr(b->meeting_type_id), bad);
	put(row, "meeting_type_slug", jstr(b->meeting_type_slug), bad);
	put(row, "meeting_type_name", jstr(b->meeting_type_name), bad);
	put(row, "duration_minutes", b->has_duration ?
	    json_integer(b->duration_minutes) : json_null(), bad);
	put(row, "company_id", jstr(b->company_id), bad);
	put(row, "created_at", jts(&b->created_at), bad);
	put(row, "updated_at", jts(&b->updated_at), bad);
	put(row, "last_event_type", json_string(ev->type_name), bad);
	put(row, "event_rank", json_integer(ev->rank), bad);

	if (b->has_attendees) {
		put(row, "attendees", arr = json_array(), bad);
		for (i = 0; arr != NULL && i < b->nattendees; i++) {
			const struct attendee	*a = &b->attendees[i];
			json_t			*o = json_object();

			if (o == NULL || json_array_append_new(arr, o) == -1) {
				*bad = 1;
				break;
			}
			put(o, "attendee_id", jstr(a->id), bad);
			put(o, "email", jstr(a->email), bad);
			put(o, "firstname", jstr(a->firstname), bad);
			put(o, "lastname", jstr(a->lastname), bad);
			put(o, "fullname", jstr(a->fullname), bad);
			put(o, "phone", jstr(a->phone), bad);
			put(o, "timezone", jstr(a->timezone), bad);
			put(o, "language", jstr(a->language), bad);
		}
		if (b->remove_attendees)
			put(row, "attendees_mode", json_string("remove"), bad);
	}
	if (b->has_hosts) {
		put(row, "hosts", arr = json_array(), bad);
		for (i = 0; arr != NULL && i < b->nhosts; i++) {
			const struct host	*h = &b->hosts[i];
			json_t			*o = json_object();

			if (o == NULL || json_array_append_new(arr, o) == -1) {
				*bad = 1;
				break;
			}
			put(o, "host_id", jstr(h->id), bad);
			put(o, "email", jstr(h->email), bad);
			put(o, "full_name", jstr(h->full_name), bad);
			put(o, "slug", jstr(h->slug), bad);
		}
	}
	return row;
}

char *
db_event_row(const struct event *ev)
{
	json_t	*row = NULL;
	char	*text = NULL;
	int	 bad = 0;

	switch (ev->type) {
	case EVENT_BOOKING_CREATED:
	case EVENT_BOOKING_RESCHEDULED:
	case EVENT_BOOKING_CANCELLED:
		row = booking_row(ev, &bad);
		break;
	case EVENT_NEW_EMPLOYEE:
		if ((row = json_object()) == NULL)
			return NULL;
		put(row, "kind", json_string("employee"), &bad);
		put(row, "id", json_string(ev->id), &bad);
		put(row, "email", jstr(ev->employee.email), &bad);
		put(row, "full_name", jstr(ev->employee.full_name), &bad);
		put(row, "company_id", jstr(ev->employee.company_id), &bad);
		put(row, "created_at", jts(&ev->employee.created_at), &bad);
		put(row, "updated_at", jts(&ev->employee.updated_at), &bad);
		break;
	case EVENT_FORM_SUBMISSION:
		if ((row = json_object()) == NULL)
			return NULL;
		put(row, "kind", json_string("form"), &bad);
		put(row, "form_id", jstr(ev->form.form_id), &bad);
		put(row, "submission_id", json_string(ev->form.submission_id),
		    &bad);
		put(row, "company_id", jstr(ev->form.company_id), &bad);
		put(row, "submitted_at", jts(&ev->form.submitted_at), &bad);
		break;
	case EVENT_UNKNOWN:
		return NULL;
	}
	/*
	 * The payload itself is not repeated here: the SQL takes the stored
	 * one, or its "data" in the envelope shape.
	 */
	if (row != NULL && ev->subject != ev->root)
		put(row, "subject", json_string("data"), &bad);
	if (row != NULL && !bad)
		text = json_dumps(row, JSON_COMPACT);
	json_decref(row);
	return text;
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
run(struct db *db, const char *stmt, const char *sql, int nparams,
    const char *const *params, struct error *err)
{
	PGresult	*res;
	PGconn		*conn;
	enum failure	 f;
	int		 attempt, timed_out;

	for (attempt = 0; attempt < 2; attempt++) {
		if ((conn = db_conn(db, err)) == NULL)
			return NULL;
		res = exec_bounded(db, conn, stmt, sql, nparams, params,
		    &timed_out);
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
db_store(struct db *db, const char *event_key, const struct event *ev,
    const char *reason, enum outcome *outcome, long *deliveries,
    struct error *err)
{
	static const char sql[] =
	    "SELECT outcome, deliveries FROM meetergo.store_event("
	    "$1, $2, $3, $4, $5, $6::jsonb, $7::jsonb)";
	const char	*params[7], *errstr;
	char		*payload = NULL, *row = NULL;
	PGresult	*res = NULL;
	int		 rc = -1;

	if ((payload = json_dumps(ev->root, JSON_COMPACT)) == NULL) {
		error_set(err, 500, "", "out of memory encoding the payload");
		goto done;
	}
	if (reason == NULL && ev->type != EVENT_UNKNOWN &&
	    (row = db_event_row(ev)) == NULL) {
		error_set(err, 500, "", "out of memory mapping the event");
		goto done;
	}
	params[0] = event_key;
	params[1] = ev->type_name;
	params[2] = ev->type == EVENT_NEW_EMPLOYEE ||
	    ev->type == EVENT_FORM_SUBMISSION ? NULL : ev->id;
	params[3] = reason != NULL ? "rejected" :
	    ev->type == EVENT_UNKNOWN ? "ignored" : "apply";
	params[4] = reason;
	params[5] = payload;
	params[6] = row;

	if ((res = run(db, "meetergo_store_event", sql, 7, params, err)) == NULL)
		goto done;
	if (PQntuples(res) != 1 || PQnfields(res) != 2 ||
	    parse_outcome(PQgetvalue(res, 0, 0), outcome) == -1) {
		error_set(err, 500, "", "meetergo.store_event answered "
		    "something unexpected");
		goto done;
	}
	if (parse_long(PQgetvalue(res, 0, 1), 1, LONG_MAX, deliveries,
	    &errstr) == -1) {
		error_set(err, 500, "", "delivery count is %s", errstr);
		goto done;
	}
	rc = 0;
done:
	PQclear(res);
	free(row);
	free(payload);
	return rc;
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

	if ((res = run(db, NULL, sql, 0, NULL, err)) == NULL)
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
