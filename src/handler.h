/* One request from start to answer: read, authenticate, decode, store. */
#ifndef MW_HANDLER_H
#define MW_HANDLER_H

#include <stddef.h>

#include "buf.h"
#include "db.h"
#include "error.h"
#include "io.h"
#include "outcome.h"
#include "settings.h"

/*
 * Per-worker state kept across requests: the settings and database
 * connection (borrowed) and the body buffer (owned, reused).
 */
struct handler {
	const struct settings	*settings;
	const struct error	*startup_error;	/* borrowed; NULL if none */
	struct db		*db;
	struct buf		 body;
};

/* startup_error, when set, makes every answer a 500 naming it. */
void	handler_init(struct handler *, const struct settings *,
	    const struct error *startup_error, struct db *);
void	handler_release(struct handler *);

/* Serve one request and write its answer; logs one line. */
void	handler_serve(struct handler *, struct io *);

/*
 * Decode and store one raw body, as a request or "webhookctl ingest" does.
 * 0 with *outcome set (OUTCOME_REJECTED with err set to 422 for a
 * malformed known event that was kept), or -1 with err set.
 */
int	handler_event(struct handler *, const char *body, size_t len,
	    enum outcome *outcome, struct error *err);

#endif
