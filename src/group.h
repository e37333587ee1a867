/* Group commit: events that arrive together share one transaction. */
#ifndef MW_GROUP_H
#define MW_GROUP_H

#include <stddef.h>

#include "db.h"
#include "error.h"
#include "outcome.h"
#include "payload.h"

/*
 * The one database connection of a process, shared by its request
 * threads.  A thread that finds the connection idle stores every event
 * queued so far in one transaction (it leads that batch); the others wait
 * for its commit, and the first of them still queued leads the next.  No
 * thread of its own, no timer: a lone event is stored at once, and under
 * load each batch takes what arrived while the one before it committed.
 * group_new borrows the db, which must outlive the group.
 */
struct group;

/*
 * max: the most events in one transaction (1 to GROUP_MAX).  A batch also
 * stops at GROUP_BYTES of parameters (but takes one event whatever its
 * size): libpq's output buffer keeps the size of the largest batch.
 */
#define GROUP_MAX	64
#define GROUP_BYTES	(1024 * 1024)

struct group	*group_new(struct db *, size_t max);
void		 group_free(struct group *);

/*
 * Store one delivery, as batch_store does, in the next transaction to
 * commit; returns once that commit is durable.  refused says why the
 * event is to be kept as rejected (nothing set: it is not), and comes
 * back with the database's reason when the database refused its data.
 * 0 with *outcome and *deliveries set (OUTCOME_REJECTED when refused),
 * or -1 with err set (see batch_store).
 */
int		 group_store(struct group *, const char *event_key,
		    const struct event *ev, struct error *refused,
		    enum outcome *outcome, long *deliveries, struct error *err);

/*
 * group_store in a transaction of its own, between two batches: for an
 * event from the spool, which may have waited because its own statement
 * failed (a timeout), so that no delivery in hand shares its fate.
 */
int		 group_store_alone(struct group *, const char *event_key,
		    const struct event *ev, struct error *refused,
		    enum outcome *outcome, long *deliveries, struct error *err);

/* schema_check, between two batches. */
int		 group_ping(struct group *, struct error *err);

/*
 * Whether the database answers, for a health check: 0, or -1 with err
 * set.  The answer is what this process last learnt, from a batch or a
 * ping, when that is younger than GROUP_HEALTH_MS.  Otherwise one caller
 * pings (schema_check, reconnecting if it must) while the connection is
 * idle; the others, and every caller while a batch runs, get the last
 * answer at once.  A flood of health checks so costs the events one ping
 * a second at most, and never makes one of them wait for a check.
 */
#define GROUP_HEALTH_MS	1000

int		 group_health(struct group *, struct error *err);

#endif
