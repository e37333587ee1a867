/* Rebuild the booking tables from the stored event log. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pq.h"
#include "replay.h"
#include "row.h"

/* Events fetched from the cursor at a time. */
#define REPLAY_FETCH	"FETCH 500 FROM replay"

/*
 * The events that changed the tables live, in the order key of the ON
 * CONFLICT clause: creations first, then updatedAt, then rank, then first
 * receipt.  An event is applied live only when its key is above the stored
 * one, so the applied events of a booking arrived in this very order:
 * replaying them repeats live delivery step for step, and stale events,
 * which changed nothing, are left out.
 *
 * A booking or employee some of whose events were pruned (meetergo.pruned)
 * cannot be rebuilt from what is left: it stays as it is, and its events
 * are not applied; so does a form submission whose event was pruned (its
 * event_key is NULL).  The lock on meetergo.pruned keeps a prune from
 * adding to it meanwhile.
 */
static const char *const replay_begin[] = {
	"LOCK TABLE meetergo.bookings, meetergo.employees, "
	    "meetergo.form_submissions, meetergo.booking_attendees, "
	    "meetergo.booking_hosts IN ACCESS EXCLUSIVE MODE",
	"LOCK TABLE meetergo.pruned IN SHARE MODE",
	"DELETE FROM meetergo.bookings b WHERE NOT EXISTS (SELECT 1 "
	    "FROM meetergo.pruned p WHERE p.kind = 'booking' AND p.id = b.id)",
	"DELETE FROM meetergo.employees e WHERE NOT EXISTS (SELECT 1 "
	    "FROM meetergo.pruned p WHERE p.kind = 'employee' AND p.id = e.id)",
	"DELETE FROM meetergo.form_submissions WHERE event_key IS NOT NULL",
};
static const char replay_declare[] = "DECLARE replay NO SCROLL CURSOR FOR "
    "SELECT event_key, payload::text FROM meetergo.webhook_events e "
    "WHERE outcome = 'applied' AND NOT EXISTS (SELECT 1 "
    "FROM meetergo.event_subject(e.event_type, e.booking_id, e.payload) s "
    "JOIN meetergo.pruned p USING (kind, id)) "
    "ORDER BY coalesce(event_rank, 0) > 1, "
    "event_updated_at NULLS FIRST, event_rank, received_at, event_key";

/* Say what stays as it is because its events were pruned. */
static int
replay_kept(struct db *db, struct error *err)
{
	PGresult *res;

	if ((res = db_exec(db, "SELECT "
	    "(SELECT count(*) FROM meetergo.bookings), "
	    "(SELECT count(*) FROM meetergo.employees), "
	    "(SELECT count(*) FROM meetergo.form_submissions)", 0, NULL,
	    err)) == NULL)
		return -1;
	if (strcmp(PQgetvalue(res, 0, 0), "0") != 0 ||
	    strcmp(PQgetvalue(res, 0, 1), "0") != 0 ||
	    strcmp(PQgetvalue(res, 0, 2), "0") != 0)
		log_info("replay: %s bookings, %s employees and %s form "
		    "submissions kept as they are: their events were pruned",
		    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
		    PQgetvalue(res, 0, 2));
	PQclear(res);
	return 0;
}

/*
 * Apply one stored event.  1 applied, 0 left as it was (it no longer
 * decodes, or the tables already hold something newer), -1 with err.
 */
static int
replay_one(struct db *db, const char *key, const char *text, int keep_secret,
    struct error *err)
{
	static const char apply[] =
	    "SELECT meetergo.apply_event($1, $2::jsonb, $3::jsonb)";
	PGresult	*res;
	struct event	 ev;
	struct error	 perr, e;
	char		*row = NULL;
	int		 rc = -1;

	event_init(&ev);
	error_init(&perr);
	error_init(&e);
	/*
	 * No cap on attendees: the event was applied once, within the cap
	 * of its day, and a replay rebuilds what live delivery did.
	 */
	if (payload_decode(text, strlen(text), keep_secret, SIZE_MAX, &ev,
	    &perr) == -1 || ev.type == EVENT_UNKNOWN) {
		log_warn("replay: event %.12s no longer decodes: %s", key,
		    perr.text);
		rc = 0;
		goto done;
	}
	if ((row = row_json(&ev)) == NULL) {
		error_set(err, ERROR_INTERNAL, "", "out of memory");
		goto done;
	}
	if ((res = db_exec(db, apply, 3, (const char *[]){ key, text, row },
	    &e)) == NULL) {
		error_set(err, e.kind, "", "replay of event %.12s: %s", key,
		    e.text);
		goto done;
	}
	rc = strcmp(PQgetvalue(res, 0, 0), "applied") == 0;
	PQclear(res);
done:
	free(row);
	event_release(&ev);
	return rc;
}

/* One round of the cursor: -1 with err, else the events it held. */
static int
replay_fetch(struct db *db, int keep_secret, long *applied,
    struct error *err)
{
	PGresult	*res;
	int		 i, n, r;

	if ((res = db_exec(db, REPLAY_FETCH, 0, NULL, err)) == NULL)
		return -1;
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		if ((r = replay_one(db, PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1), keep_secret, err)) == -1) {
			n = -1;
			break;
		}
		*applied += r;
	}
	PQclear(res);
	return n;
}

int
replay_run(struct db *db, int keep_secret, long *applied, long *total,
    struct error *err)
{
	size_t	i;
	int	n;

	*applied = *total = 0;
	if (db_begin(db, err) == -1)
		return -1;
	for (i = 0; i < sizeof(replay_begin) / sizeof(replay_begin[0]); i++)
		if (db_command(db, replay_begin[i], err) == -1)
			goto fail;
	if (replay_kept(db, err) == -1 ||
	    db_command(db, replay_declare, err) == -1)
		goto fail;
	while ((n = replay_fetch(db, keep_secret, applied, err)) > 0)
		*total += n;
	if (n == -1 || db_command(db, "CLOSE replay", err) == -1 ||
	    db_command(db, "COMMIT", err) == -1)
		goto fail;
	return 0;
fail:
	/* A failed transaction is rolled back; a second failure is moot. */
	db_rollback(db);
	return -1;
}
