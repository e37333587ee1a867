/* Events stored together: one libpq pipeline, one transaction, one commit. */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "pq.h"
#include "row.h"
#include "util.h"

#define STORE_SQL	"SELECT outcome, deliveries FROM meetergo.store_event(" \
			"$1, $2, $3, $4, $5, $6::jsonb, $7::jsonb)"
#define STORE_STMT	"meetergo_store_event"
/* Parameters a batch sends at most before it waits for them to leave. */
#define BATCH_SEND_BYTES	(64 * 1024)

int
batch_item_init(struct batch_item *item, const char *event_key,
    const struct event *ev, const struct error *refused, struct error *err)
{
	size_t i;

	memset(item, 0, sizeof(*item));
	error_init(&item->err);
	error_init(&item->refused);
	if (refused != NULL)
		item->refused = *refused;
	if (refused == NULL && ev->type != EVENT_UNKNOWN &&
	    (item->row = row_json(ev)) == NULL) {
		error_set(err, ERROR_INTERNAL, "", "out of memory mapping the "
		    "event");
		batch_item_release(item);
		return -1;
	}
	item->lock_key = ev->id != NULL ? ev->id : "";
	item->params[0] = event_key;
	item->params[1] = ev->type_name;
	item->params[2] = ev->type == EVENT_NEW_EMPLOYEE ||
	    ev->type == EVENT_FORM_SUBMISSION ? NULL : ev->id;
	item->params[3] = refused != NULL ? "rejected" :
	    ev->type == EVENT_UNKNOWN ? "ignored" : "apply";
	item->params[4] = refused != NULL ? item->refused.text : NULL;
	item->params[5] = ev->text;
	item->params[6] = item->row;
	for (i = 0; i < BATCH_NPARAMS; i++)
		if (item->params[i] != NULL)
			item->size += strlen(item->params[i]);
	return 0;
}

void
batch_item_release(struct batch_item *item)
{
	free(item->row);
	item->row = NULL;
	free(item->text_json);
	item->text_json = NULL;
}

/*
 * The database refused what the mapping let through: the event is kept
 * as rejected all the same, with the database's reason, in the next try.
 */
static void
reject(struct batch_item *item)
{
	item->refused = item->err;
	error_init(&item->err);
	item->params[3] = "rejected";
	item->params[4] = item->refused.text;
	item->params[6] = NULL;
}

/*
 * The database refused an event kept as rejected: its payload, which
 * jsonb does not take although jansson did (payload.c finds the numbers
 * it knows of; another server version may know others).  The raw event
 * is kept all the same, its text as one JSON string, which jsonb always
 * takes (the text is valid UTF-8 without NUL).  0, or -1 when it already
 * was, or out of memory.
 */
static int
reject_as_text(struct batch_item *item)
{
	json_t *s;

	if (item->text_json != NULL || item->params[5] == NULL ||
	    (s = json_string(item->params[5])) == NULL)
		return -1;
	item->text_json = json_dumps(s, JSON_ENCODE_ANY);
	json_decref(s);
	if (item->text_json == NULL)
		return -1;
	error_init(&item->err);
	item->params[5] = item->text_json;
	return 0;
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

/* What store_event answered for one item. */
static void
item_result(struct batch_item *item, const PGresult *res)
{
	const char *errstr;

	if (PQntuples(res) != 1 || PQnfields(res) != 2 ||
	    parse_outcome(PQgetvalue(res, 0, 0), &item->outcome) == -1)
		error_set(&item->err, ERROR_INTERNAL, "",
		    "meetergo.store_event answered something unexpected");
	else if (parse_long(PQgetvalue(res, 0, 1), 1, LONG_MAX,
	    &item->deliveries, &errstr) == -1)
		error_set(&item->err, ERROR_INTERNAL, "", "delivery count is "
		    "%s", errstr);
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

/* One try at the pending items (rc 1), and what it found out. */
struct try {
	PGconn			*conn;
	long			 deadline;	/* the batch's, for every wait */
	char			 timeout[24];	/* statement_timeout left */
	int			 named;		/* our prepared statement */
	int			 prepare;	/* and its prepare goes first */
	int			 timed_out;
	int			 aborted;	/* a statement was skipped */
	struct batch_item	*culprit;	/* the first that failed */
	enum error_kind		 kind;		/* and why */
	int			 whole;		/* its cause concerns all */
	int			 lost;		/* named statements not kept */
};

/* What one try came to. */
enum try_end {
	TRY_COMMITTED,		/* every pending item has its answer */
	TRY_ITEM_FAILED,	/* one item failed on its own; rolled back */
	TRY_UNNAMED,		/* rolled back; to be sent again unnamed */
	TRY_FAILED		/* the try as a whole failed */
};

/*
 * The settings of the transaction, the prepare when the connection lacks
 * it, one execute per pending item, and a sync.  The statements between
 * two syncs run in one implicit transaction, committed (and, with
 * synchronous_commit on, flushed) before the sync's answer, so one commit
 * makes them all durable.
 */
static int
send_batch(struct try *t, struct batch_item **items, size_t n)
{
	const char *const	 settings[1] = { t->timeout };
	size_t			 i, unsent = 0;
	int			 ok;

	if (!PQenterPipelineMode(t->conn) ||
	    !PQsendQueryParams(t->conn, DB_SETTINGS_SQL, 1, NULL, settings,
	    NULL, NULL, 0) ||
	    (t->prepare && !PQsendPrepare(t->conn, STORE_STMT, STORE_SQL,
	    BATCH_NPARAMS, NULL)))
		return -1;
	for (i = 0; i < n; i++) {
		if (items[i]->rc != 1)
			continue;
		ok = t->named ?
		    PQsendQueryPrepared(t->conn, STORE_STMT, BATCH_NPARAMS,
		    items[i]->params, NULL, NULL, 0) :
		    PQsendQueryParams(t->conn, STORE_SQL, BATCH_NPARAMS, NULL,
		    items[i]->params, NULL, NULL, 0);
		if (!ok)
			return -1;
		/*
		 * libpq's output buffer grows to hold what is not yet sent
		 * and never shrinks: sent on the way, it holds one large
		 * event at most, not a whole batch of them.
		 */
		if ((unsent += items[i]->size) >= BATCH_SEND_BYTES) {
			if (pq_send_all(t->conn, t->deadline,
			    &t->timed_out) == -1)
				return -1;
			unsent = 0;
		}
	}
	return PQpipelineSync(t->conn) ? 0 : -1;
}

/* One item's result: its answer, or the first failure of the try. */
static void
take_result(struct db *db, struct try *t, struct batch_item *item,
    const PGresult *res)
{
	switch (PQresultStatus(res)) {
	case PGRES_PIPELINE_ABORTED:
		t->aborted = 1;
		break;
	case PGRES_FATAL_ERROR:
		if (db_statement_lost(db, res))
			t->lost = 1;
		else if (t->culprit == NULL) {
			t->culprit = item;
			t->kind = db_classify(res);
			db_fail(db, res, t->kind, &item->err);
			t->whole = concerns_all(res);
		}
		break;
	default:
		/* Rows, or an answer item_result calls unexpected. */
		item_result(item, res);
		break;
	}
}

/*
 * Read every answer up to the sync's, which comes once the commit is
 * flushed, all within the batch's deadline: results that come slowly one
 * by one do not hold the batch longer.  0 through the sync; -1 when the
 * connection failed or the deadline passed; -2 when the prepare or the
 * commit failed, with that result in *refused.
 */
static int
collect(struct db *db, struct try *t, struct batch_item **items, size_t n,
    PGresult **refused)
{
	PGresult	*res;
	size_t		 i;

	if ((res = pq_next(t->conn, t->deadline, &t->timed_out)) == NULL)
		return -1;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		*refused = res;
		return -2;
	}
	PQclear(res);
	if (t->prepare) {
		if ((res = pq_next(t->conn, t->deadline,
		    &t->timed_out)) == NULL)
			return -1;
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			*refused = res;
			return -2;
		}
		db->prepared = 1;
		PQclear(res);
	}
	for (i = 0; i < n; i++) {
		if (items[i]->rc != 1)
			continue;
		if ((res = pq_next(t->conn, t->deadline,
		    &t->timed_out)) == NULL)
			return -1;
		take_result(db, t, items[i], res);
		PQclear(res);
	}
	if ((res = pq_next(t->conn, t->deadline, &t->timed_out)) == NULL)
		return -1;
	if (PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
		*refused = res;
		return -2;
	}
	PQclear(res);
	return 0;
}

/*
 * The settings, the prepare or the commit failed: that concerns every
 * event, and is no fault of any one's data (not ERROR_DATA, whatever the
 * SQLSTATE).  What is left is read, so that the connection can serve
 * again.
 */
static void
refused_all(struct db *db, struct try *t, PGresult *res, struct error *err)
{
	enum error_kind kind = db_classify(res);

	if (db_statement_lost(db, res))
		t->lost = 1;
	else
		db_fail(db, res, kind == ERROR_DATA ? ERROR_INTERNAL : kind,
		    err);
	PQclear(res);
	if (kind == ERROR_TRANSIENT) {
		db_disconnect(db);
		return;
	}
	while ((res = pq_next(t->conn, t->deadline, &t->timed_out)) != NULL &&
	    PQresultStatus(res) != PGRES_PIPELINE_SYNC)
		PQclear(res);
	if (res == NULL || !PQexitPipelineMode(t->conn))
		db_disconnect(db);
	PQclear(res);
}

/* The answers of the pending items but keep's do not hold: rolled back. */
static void
forget_answers(struct batch_item **items, size_t n,
    const struct batch_item *keep)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (items[i]->rc == 1 && items[i] != keep)
			error_init(&items[i]->err);
}

/* Past the sync: what the answers mean for each item and for the try. */
static enum try_end
settle(struct db *db, struct try *t, struct batch_item **items, size_t n,
    struct error *err)
{
	size_t i;

	if (t->lost) {
		forget_answers(items, n, NULL);
		return TRY_UNNAMED;
	}
	if (t->culprit == NULL && !t->aborted) {
		for (i = 0; i < n; i++)
			if (items[i]->rc == 1)
				items[i]->rc = error_isset(&items[i]->err) ?
				    -1 : 0;
		return TRY_COMMITTED;
	}
	forget_answers(items, n, t->culprit);
	if (t->culprit == NULL) {
		error_set(err, ERROR_INTERNAL, "", "database rolled back the "
		    "events without an error");
		return TRY_FAILED;
	}
	if ((t->kind == ERROR_DATA || t->kind == ERROR_INTERNAL) &&
	    !t->whole) {
		if (t->kind == ERROR_DATA && !error_isset(&t->culprit->refused))
			reject(t->culprit);
		else if (t->kind != ERROR_DATA ||
		    reject_as_text(t->culprit) == -1)
			t->culprit->rc = -1;
		return TRY_ITEM_FAILED;
	}
	/*
	 * A timeout (a lock wait, most likely), a deadlock, a lost prepared
	 * statement, the schema or a privilege missing: the others would
	 * meet it too.
	 */
	*err = t->culprit->err;
	error_init(&t->culprit->err);
	if (t->kind == ERROR_TRANSIENT)
		db_disconnect(db);
	return TRY_FAILED;
}

static enum try_end
try_batch(struct db *db, struct batch_item **items, size_t n, long deadline,
    struct error *err)
{
	struct try	 t;
	PGresult	*refused = NULL;
	int		 r = -1;

	memset(&t, 0, sizeof(t));
	t.deadline = deadline;
	if ((t.conn = db_pgconn(db, deadline, err)) == NULL)
		return TRY_FAILED;
	db_timeout_left(deadline, t.timeout, sizeof(t.timeout));
	t.named = db->prepare;
	t.prepare = db->prepare && !db->prepared;
	if (send_batch(&t, items, n) == 0)
		r = collect(db, &t, items, n, &refused);
	if (r == 0) {
		/* Past the sync the answers hold, whatever becomes of conn. */
		if (!PQexitPipelineMode(t.conn))
			db_disconnect(db);
		return settle(db, &t, items, n, err);
	}
	if (r == -2)
		refused_all(db, &t, refused, err);
	else {
		/* Lost, or no answer in time: conn is not to be trusted. */
		if (t.timed_out)
			db_fail_timeout(db, err);
		else
			db_fail(db, NULL, ERROR_TRANSIENT, err);
		db_disconnect(db);
	}
	forget_answers(items, n, NULL);
	/* Lost or late, the connection decides: a statement gone is moot. */
	return t.lost && r == -2 ? TRY_UNNAMED : TRY_FAILED;
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
lock_order(const struct batch_item *a, const struct batch_item *b)
{
	int c;

	if ((c = strcmp(a->lock_key, b->lock_key)) != 0)
		return c;
	return strcmp(a->params[0], b->params[0]);
}

static void
sort_items(struct batch_item **items, size_t n)
{
	struct batch_item	*t;
	size_t			 i, j;

	for (i = 1; i < n; i++) {
		t = items[i];
		for (j = i; j > 0 && lock_order(items[j - 1], t) > 0; j--)
			items[j] = items[j - 1];
		items[j] = t;
	}
}

static size_t
pending(struct batch_item **items, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += items[i]->rc == 1;
	return k;
}

void
batch_store(struct db *db, struct batch_item **items, size_t n)
{
	struct error	err;
	size_t		i;
	long		deadline = db_deadline(db);
	int		attempt = 0;

	sort_items(items, n);
	for (i = 0; i < n; i++) {
		items[i]->rc = 1;
		error_init(&items[i]->err);
	}
	error_init(&err);
	/*
	 * Each failure of one item's own takes that item out (or keeps it
	 * as rejected); a failure of the whole try is tried again as db.h's
	 * policy says.  All tries share the one deadline: however many items
	 * fail one after another, the batch holds its threads no longer.
	 */
	while (pending(items, n) > 0) {
		error_init(&err);
		if (monotonic_ms() >= deadline) {
			db_fail_timeout(db, &err);
			break;
		}
		switch (try_batch(db, items, n, deadline, &err)) {
		case TRY_COMMITTED:
			return;
		case TRY_ITEM_FAILED:
		case TRY_UNNAMED:	/* once: then no statement is named */
			continue;
		case TRY_FAILED:
			break;
		}
		if (!db_retry(db, &err, attempt++))
			break;
	}
	for (i = 0; i < n; i++)
		if (items[i]->rc == 1) {
			items[i]->rc = -1;
			items[i]->err = err;
		}
}
