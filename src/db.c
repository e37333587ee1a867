/* PostgreSQL: one connection, bounded waits, failures classified. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pq.h"
#include "stats.h"
#include "util.h"

struct db *
db_new(const struct settings *s)
{
	struct db *db;

	if ((db = calloc(1, sizeof(*db))) == NULL)
		return NULL;
	db->settings = s;
	db->prepare = s->prepare;
	snprintf(db->timeout, sizeof(db->timeout), "%ld", s->db_timeout_ms);
	return db;
}

void
db_unnamed(struct db *db)
{
	db->prepare = 0;
}

void
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

long
db_deadline(const struct db *db)
{
	return monotonic_ms() + db->settings->db_timeout_ms + DB_GRACE_MS;
}

void
db_timeout_left(long deadline, char *buf, size_t size)
{
	long left = deadline - DB_GRACE_MS - monotonic_ms();

	snprintf(buf, size, "%ld", left > 0 ? left : 1);
}

/*
 * What is tried again is the statement on a new connection: when making
 * that connection is what failed, another one at once would fail alike.
 */
int
db_retry(const struct db *db, const struct error *err, int attempt)
{
	return err->kind == ERROR_TRANSIENT && attempt == 0 &&
	    !db->unreachable;
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
db_pgconn(struct db *db, long deadline, struct error *err)
{
	char		 timeout[24], msg[200];
	const char	*keys[5], *vals[5];
	long		 left;

	if (db->conn != NULL)
		return db->conn;
	/*
	 * libpq's connect_timeout counts whole seconds, at least 2 (per
	 * host of a multi-host DSN): the whole seconds left, or no try at
	 * all when not one is left, since the statements would have no
	 * time.  A connect that hangs may thus overrun the deadline by
	 * less than a second.
	 */
	left = (deadline - monotonic_ms()) / 1000;
	if (left < 1) {
		db_fail_timeout(db, err);
		return NULL;
	}
	db->unreachable = 1;

	/*
	 * Our defaults come before the DSN so that the operator's own
	 * connect_timeout in MEETERGO_WEBHOOK_DSN wins.  No options: the
	 * session's settings come with each transaction (DB_SETTINGS_SQL).
	 */
	snprintf(timeout, sizeof(timeout), "%ld",
	    left < DB_CONNECT_MIN_S ? DB_CONNECT_MIN_S : left);
	keys[0] = "connect_timeout";		vals[0] = timeout;
	keys[1] = "fallback_application_name";	vals[1] = "meetergo-webhook";
	keys[2] = "client_encoding";		vals[2] = "UTF8";
	keys[3] = "dbname";			vals[3] = db->settings->dsn;
	keys[4] = NULL;				vals[4] = NULL;

	if ((db->conn = PQconnectdbParams(keys, vals, 1)) == NULL) {
		error_set(err, ERROR_TRANSIENT, "", "database: out of memory");
		return NULL;
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		first_line(msg, sizeof(msg), PQerrorMessage(db->conn));
		error_set(err, ERROR_TRANSIENT, "", "database unreachable: %s",
		    msg);
		db_disconnect(db);
		return NULL;
	}
	/* Sends never block: every wait is bounded by our deadline. */
	if (PQsetnonblocking(db->conn, 1) != 0) {
		first_line(msg, sizeof(msg), PQerrorMessage(db->conn));
		error_set(err, ERROR_TRANSIENT, "", "database: %s", msg);
		db_disconnect(db);
		return NULL;
	}
	db->unreachable = 0;
	if (db->connected)
		stats_reconnect();
	db->connected = 1;
	return db->conn;
}

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
 * The deadline is our own: statement_timeout only helps while the server
 * is there to enforce it, and a vanished host or a half-open connection
 * would otherwise hang the thread.
 */
int
pq_wait(PGconn *conn, long deadline, int *timed_out)
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

int
pq_send_all(PGconn *conn, long deadline, int *timed_out)
{
	int r;

	while ((r = PQflush(conn)) == 1) {
		if ((r = wait_socket(conn, POLLOUT | POLLIN, deadline)) != 1) {
			if (r == 0)
				*timed_out = 1;
			return -1;
		}
		if (!PQconsumeInput(conn))
			return -1;
	}
	return r;
}

/*
 * libpq ends the results of each query of a pipeline with a NULL: two in
 * a row mean nothing more is on its way.
 */
PGresult *
pq_next(PGconn *conn, long deadline, int *timed_out)
{
	PGresult	*res;
	int		 nulls = 0;

	while (pq_wait(conn, deadline, timed_out) == 0) {
		if ((res = PQgetResult(conn)) != NULL)
			return res;
		if (++nulls == 2 || PQstatus(conn) == CONNECTION_BAD)
			break;
	}
	return NULL;
}

enum error_kind
db_classify(const PGresult *res)
{
	const char *state;

	state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state == NULL)
		/* libpq's own error: the connection failed under us. */
		return ERROR_TRANSIENT;
	if (strncmp(state, "08", 2) == 0 ||
	    strcmp(state, "57P01") == 0 ||	/* admin_shutdown */
	    strcmp(state, "57P02") == 0 ||	/* crash_shutdown */
	    strcmp(state, "57P03") == 0 ||	/* cannot_connect_now */
	    strcmp(state, "25006") == 0 ||	/* read-only: a standby now? */
	    strcmp(state, "26000") == 0 ||	/* our prepared statement gone */
	    strcmp(state, "40001") == 0 ||	/* serialization_failure */
	    strcmp(state, "40P01") == 0)	/* deadlock_detected */
		return ERROR_TRANSIENT;
	if (strcmp(state, "57014") == 0 ||	/* query_canceled (timeout) */
	    strncmp(state, "53", 2) == 0)	/* insufficient_resources */
		return ERROR_BUSY;
	if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
		return ERROR_DATA;
	return ERROR_INTERNAL;
}

void
db_fail(struct db *db, const PGresult *res, enum error_kind kind,
    struct error *err)
{
	const char	*state;
	char		 msg[200];

	first_line(msg, sizeof(msg), res != NULL ?
	    PQresultErrorMessage(res) : PQerrorMessage(db->conn));
	state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	switch (kind) {
	case ERROR_TRANSIENT:
	case ERROR_BUSY:
		error_set(err, kind, "", "database unavailable: %s", msg);
		break;
	case ERROR_DATA:
		error_set(err, kind, "", "database refused the event: %s",
		    msg);
		break;
	default:
		if (state != NULL && (strcmp(state, "42883") == 0 ||
		    strcmp(state, "3F000") == 0 || strcmp(state, "42P01") == 0))
			error_set(err, kind, "", "database schema missing or "
			    "old (run meetergo-webhookctl migrate): %s", msg);
		else
			error_set(err, kind, "", "database error %s: %s",
			    state != NULL ? state : "-", msg);
		break;
	}
}

void
db_fail_timeout(struct db *db, struct error *err)
{
	error_set(err, ERROR_BUSY, "", "database did not answer within %ld ms",
	    db->settings->db_timeout_ms + DB_GRACE_MS);
}

/* Send sql: several statements in one go when it has no parameters. */
static int
send_query(PGconn *conn, const char *sql, int nparams,
    const char *const *params)
{
	if (nparams == 0)
		return PQsendQuery(conn, sql);
	return PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL,
	    0);
}

/*
 * Every result of what was sent, all within one deadline: the first
 * failure, else the last result, into *keep.  -1 when the connection
 * failed or (*timed_out) the deadline passed.
 */
static int
read_results(PGconn *conn, long deadline, PGresult **keep, int *timed_out)
{
	PGresult *res;

	for (;;) {
		if (pq_wait(conn, deadline, timed_out) == -1)
			return -1;
		if ((res = PQgetResult(conn)) == NULL)
			return 0;
		if (*keep == NULL ||
		    PQresultStatus(*keep) != PGRES_FATAL_ERROR) {
			PQclear(*keep);
			*keep = res;
		} else
			PQclear(res);
	}
}

PGresult *
db_exec(struct db *db, const char *sql, int nparams,
    const char *const *params, struct error *err)
{
	PGconn		*conn;
	PGresult	*res = NULL;
	enum error_kind	 kind;
	long		 deadline = db_deadline(db);
	int		 timed_out = 0;

	/* One deadline for the call, the connect included. */
	if ((conn = db_pgconn(db, deadline, err)) == NULL)
		return NULL;
	if (!send_query(conn, sql, nparams, params) ||
	    read_results(conn, deadline, &res, &timed_out) == -1) {
		if (timed_out)
			db_fail_timeout(db, err);
		else
			db_fail(db, NULL, ERROR_TRANSIENT, err);
		db_disconnect(db);
		goto fail;
	}
	switch (res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR) {
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
		return res;
	case PGRES_FATAL_ERROR:
		/* No event's data is at stake here: a refusal is no DATA. */
		kind = db_classify(res);
		db_fail(db, res, kind == ERROR_DATA ? ERROR_INTERNAL : kind,
		    err);
		if (kind == ERROR_TRANSIENT)
			db_disconnect(db);
		break;
	default:
		/* An empty query, a COPY: nothing we ever send. */
		error_set(err, ERROR_INTERNAL, "", "database answered %s",
		    PQresStatus(PQresultStatus(res)));
		break;
	}
fail:
	PQclear(res);
	return NULL;
}

int
db_command(struct db *db, const char *sql, struct error *err)
{
	PGresult *res;

	if ((res = db_exec(db, sql, 0, NULL, err)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
db_count_at(const PGresult *res, int row, int col, long *n,
    struct error *err)
{
	const char *why;

	if (parse_long(PQgetvalue(res, row, col), 0, LONG_MAX, n, &why) == 0)
		return 0;
	error_set(err, ERROR_INTERNAL, "", "database answered \"%.40s\" for "
	    "a count: %s", PQgetvalue(res, row, col), why);
	return -1;
}

int
db_begin(struct db *db, struct error *err)
{
	PGresult		*res;
	const char *const	 params[1] = { db->timeout };

	if (db_command(db, "BEGIN", err) == -1)
		return -1;
	if ((res = db_exec(db, DB_SETTINGS_SQL, 1, params, err)) == NULL) {
		db_rollback(db);
		return -1;
	}
	PQclear(res);
	return 0;
}

int
db_statement_lost(struct db *db, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (state == NULL || !db->prepare || (strcmp(state, "42P05") != 0 &&
	    strcmp(state, "26000") != 0))
		return 0;
	db->prepare = 0;
	db->prepared = 0;
	log_warn("database: prepared statements are not kept (a pooler in "
	    "transaction mode?): using unnamed statements from now on; "
	    "set MEETERGO_WEBHOOK_PREPARE=0 to start that way");
	return 1;
}

void
db_rollback(struct db *db)
{
	struct error ignored;

	error_init(&ignored);
	if (db->conn != NULL)
		db_command(db, "ROLLBACK", &ignored);
}

/* What a transaction of ours runs with, as the server reports it. */
static int
describe_settings(struct db *db, char *buf, size_t size, struct error *err)
{
	PGresult *res;

	if (db_begin(db, err) == -1)
		return -1;
	res = db_exec(db, "SELECT current_setting('statement_timeout'), "
	    "current_setting('synchronous_commit')", 0, NULL, err);
	db_rollback(db);
	if (res == NULL)
		return -1;
	snprintf(buf, size, "statement_timeout %s and synchronous_commit %s "
	    "in each transaction, %s statements", PQgetvalue(res, 0, 0),
	    PQgetvalue(res, 0, 1), db->prepare ? "prepared" : "unnamed");
	PQclear(res);
	return 0;
}

int
db_describe(struct db *db, char *server, size_t ssize, char *session,
    size_t size, struct error *err)
{
	PGconn *conn;

	if ((conn = db_pgconn(db, db_deadline(db), err)) == NULL)
		return -1;
	snprintf(server, ssize, "server %d, database \"%s\"",
	    PQserverVersion(conn), PQdb(conn));
	return describe_settings(db, session, size, err);
}
