/* libpq behind the database modules: the connection and bounded waits. */
#ifndef MW_PQ_H
#define MW_PQ_H

#include <libpq-fe.h>

#include "db.h"
#include "error.h"

/* Past the statement timeout, how long before we stop waiting ourselves. */
#define DB_GRACE_MS	1000
/* libpq waits at least this long for a connection (connect_timeout). */
#define DB_CONNECT_MIN_S	2

struct db {
	const struct settings	*settings;
	PGconn			*conn;
	int			 prepare;	/* named statements may be used */
	int			 prepared;	/* our statement, on conn */
	int			 unreachable;	/* the last connect failed */
	int			 connected;	/* once: the next is a reconnect */
	char			 timeout[24];	/* statement_timeout, in ms */
};

/*
 * The settings the guarantees rest on, for the transaction in progress
 * only (set_config's third argument): a statement timeout, and
 * synchronous_commit at least on (a stronger remote_apply is kept), so
 * that a 200 means the event is durable whatever the server's default.
 * Set at the head of every transaction, they reach PostgreSQL through a
 * pooler in transaction or session mode, which options at connect time
 * do not (PgBouncer refuses them), and no pooled server connection keeps
 * them for its next client.  $1 is the db's timeout.
 */
#define DB_SETTINGS_SQL	"SELECT set_config('statement_timeout', $1, true), " \
			"set_config('synchronous_commit', CASE WHEN " \
			"current_setting('synchronous_commit') IN " \
			"('off', 'local') THEN 'on' ELSE " \
			"current_setting('synchronous_commit') END, true)"

/*
 * The open connection, connecting if needed by deadline (libpq's
 * connect_timeout: the whole seconds left, but at least DB_CONNECT_MIN_S,
 * per host); NULL with err set (ERROR_TRANSIENT when the server cannot
 * be reached, ERROR_BUSY when not a second of the deadline is left).
 * Owned by the db.
 */
PGconn		*db_pgconn(struct db *, long deadline, struct error *err);
/* Drop the connection: it is not to be trusted any more. */
void		 db_disconnect(struct db *);
/*
 * When what is sent now is overdue: the timeout and our grace.  A batch,
 * or a db_exec call, takes one when it starts, for all it does.
 */
long		 db_deadline(const struct db *);
/*
 * The statement timeout (ms, as text) that ends a statement sent now by
 * deadline less our grace, so that the server cancels it before we stop
 * waiting; at least 1.
 */
void		 db_timeout_left(long deadline, char *buf, size_t size);
/* One more try?  The retry policy of db.h, for the attempt that failed. */
int		 db_retry(const struct db *, const struct error *err,
		    int attempt);

/*
 * Send what libpq holds and wait, until deadline, until a result can be
 * taken without blocking.  0, or -1 when the connection failed or
 * (*timed_out) the deadline passed.
 */
int		 pq_wait(PGconn *, long deadline, int *timed_out);
/*
 * Send all that libpq holds, until deadline, taking in what the server
 * answers meanwhile (so that neither side waits on the other's full
 * socket).  0, or -1 when the connection failed or (*timed_out) the
 * deadline passed.
 */
int		 pq_send_all(PGconn *, long deadline, int *timed_out);
/*
 * The next result of a pipeline within deadline; NULL when none can come
 * (the connection failed, or *timed_out).
 */
PGresult	*pq_next(PGconn *, long deadline, int *timed_out);

/* The kind of failure a result (NULL: libpq's own) stands for. */
enum error_kind	 db_classify(const PGresult *);
/* Fill err from a failed result (NULL: the connection's message). */
void		 db_fail(struct db *, const PGresult *, enum error_kind,
		    struct error *err);
/* A statement that took longer than db_deadline allowed. */
void		 db_fail_timeout(struct db *, struct error *err);

/*
 * Run sql once within the deadline.  Its result (PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK), which the caller clears, or NULL with err set; the
 * connection is dropped when it failed or timed out.  Several statements
 * in sql run in one go (no parameters then).
 */
PGresult	*db_exec(struct db *, const char *sql, int nparams,
		    const char *const *params, struct error *err);
/* db_exec for a statement whose rows do not matter: 0, or -1 with err. */
int		 db_command(struct db *, const char *sql, struct error *err);
/* The field (row, col) of res as a count, 0 or more: 0, or -1 with err. */
int		 db_count_at(const PGresult *res, int row, int col, long *n,
		    struct error *err);
/* BEGIN and the settings of DB_SETTINGS_SQL: 0, or -1 with err. */
int		 db_begin(struct db *, struct error *err);
/* End the transaction in progress, if the connection is still there. */
void		 db_rollback(struct db *);
/*
 * The server connection did not keep our named statement (26000) or
 * already has one of that name (42P05): a pooler in transaction mode
 * shares server connections between its clients.  From now on every statement is sent
 * unnamed.  1 when res says so (and the switch is made), else 0.
 */
int		 db_statement_lost(struct db *, const PGresult *res);

#endif
