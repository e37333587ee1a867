/* Events stored together: one libpq pipeline, one transaction, one commit. */
#ifndef MW_BATCH_H
#define MW_BATCH_H

#include <stddef.h>

#include "db.h"
#include "error.h"
#include "outcome.h"
#include "payload.h"

#define BATCH_NPARAMS	7

/*
 * One delivery to store: the raw event under event_key (hex SHA-256 of
 * the raw body), its outcome and the change it makes.  batch_item_init
 * encodes what is sent, in the caller's thread; the item borrows
 * event_key and ev (and its text) until batch_item_release.  An event
 * passed with refused set (a malformed known event) is kept as rejected,
 * with that reason.
 */
struct batch_item {
	const char	*params[BATCH_NPARAMS];
	const char	*lock_key;	/* the id whose row the event locks */
	char		*row;		/* owned */
	char		*text_json;	/* owned: the text as a JSON string */
	size_t		 size;		/* bytes of the parameters */
	struct error	 refused;	/* why it is kept as rejected, if it is */
	/* Set by batch_store. */
	int		 rc;		/* 0 stored, -1 with err set; 1 pending */
	enum outcome	 outcome;
	long		 deliveries;
	struct error	 err;
};

int	batch_item_init(struct batch_item *, const char *event_key,
	    const struct event *ev, const struct error *refused,
	    struct error *err);
void	batch_item_release(struct batch_item *);

/*
 * Store items[0..n) in one transaction, and so with one commit (one WAL
 * flush) for all of them; one item is a batch of one.  Each item ends with
 * rc 0 and its outcome and delivery count, or rc -1 and its own err.
 * An item whose data the database refuses is kept as rejected (rc 0,
 * outcome rejected, refused set), if need be with its payload stored as
 * a JSON string of its text; one that fails for another cause of
 * its own fails alone.  Either way the others are stored again without
 * it.  A cause that concerns them all (the connection, a timeout, a
 * failed commit) fails them all, after the one retry of db.h's policy.
 * The order of items may change.
 */
void	batch_store(struct db *, struct batch_item **items, size_t n);

#endif
