/* PostgreSQL through libpq: connect, store an event, classify failures. */
#ifndef MW_DB_H
#define MW_DB_H

#include <libpq-fe.h>

#include "error.h"
#include "outcome.h"
#include "payload.h"
#include "settings.h"

/* The schema version this program's statements expect. */
#define DB_SCHEMA_VERSION	1

/*
 * One connection, opened on first use and reopened when a statement finds
 * it broken.  db_new borrows the settings, which must outlive the db.
 */
struct db;

struct db	*db_new(const struct settings *);
void		 db_free(struct db *);

/*
 * The open connection, connecting if needed; NULL with err set (503 when
 * the server cannot be reached).  Owned by the db.
 */
PGconn		*db_conn(struct db *, struct error *err);

/*
 * One delivery to store: the raw event under event_key (hex SHA-256 of
 * the raw body), its outcome and the change it makes.  db_item_init
 * encodes what is sent, in the caller's thread; the item borrows
 * event_key, ev (and its text) and reason until db_item_release.  A
 * rejected event is passed with ev->root set and reason; for others
 * reason is NULL.
 */
struct db_item {
	const char	*params[7];
	const char	*lock_key;	/* the id whose row the event locks */
	char		*row;		/* owned */
	size_t		 size;		/* bytes of the parameters */
	/* Set by db_store_batch. */
	int		 rc;		/* 0 stored, -1 with err set; 1 pending */
	enum outcome	 outcome;
	long		 deliveries;
	struct error	 err;
};

int		 db_item_init(struct db_item *, const char *event_key,
		    const struct event *ev, const char *reason,
		    struct error *err);
void		 db_item_release(struct db_item *);

/*
 * Store items[0..n) in one transaction, and so with one commit (one WAL
 * flush) for all of them; one item is a batch of one.  Each item ends with
 * rc 0 and its outcome and delivery count, or rc -1 and its own err: 503
 * when the database is unreachable or busy (after one retry on a fresh
 * connection), 422 when it refuses the item's data, 500 for anything else.
 * An item whose statement fails for a cause of its own (422, a 500 of its
 * own) fails alone: the others are stored again without it.  A cause that
 * concerns them all (503, a failed commit) fails them all.  The order of
 * items may change.
 */
void		 db_store_batch(struct db *, struct db_item **items, size_t n);

/* 0 when the database answers and has our schema, else -1 with err. */
int		 db_ping(struct db *, struct error *err);

/*
 * Truncate the booking tables and apply every stored event again in
 * order, in one transaction.  *applied and *total count events.
 */
int		 db_replay(struct db *, int keep_secret, long *applied,
		    long *total, struct error *err);

/*
 * The mapping of ev that meetergo.apply_event() takes with the payload, as
 * JSON text, or NULL for an event that changes no table.  Caller frees.
 */
char		*db_event_row(const struct event *ev);

#endif
