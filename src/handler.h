/* One request from start to answer: read, authenticate, decode, store. */
#ifndef MW_HANDLER_H
#define MW_HANDLER_H

#include <stdatomic.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "group.h"
#include "io.h"
#include "outcome.h"
#include "settings.h"
#include "spool.h"

/*
 * What the request threads of a process share: the settings and the group
 * of its database connection (borrowed), and what is known of the
 * database and the spool.  Each request brings its own body buffer.
 */
struct handler {
	const struct settings	*settings;
	struct group		*group;
	struct spool		 spool;
	int			 has_spool;
	atomic_int		 db_up;		/* the last store succeeded */
	atomic_long		 spool_checked_ms;
};

void	handler_init(struct handler *, const struct settings *,
	    struct group *);

/*
 * Between requests: when the database is known to be up and the spool
 * holds files, store a bounded batch of them, oldest first.  One thread
 * of a process looks at a time, at most once a second.
 */
void	handler_idle(struct handler *);

/*
 * Store every spooled file (webhookctl drain).  0 with *done counted, or
 * -1 with err set (transient: the database is away).
 */
int	handler_drain(struct handler *, long *done, struct error *err);

/*
 * Move the files set aside in the spool's failed/ back (webhookctl drain
 * --retry-failed).  0 with *moved counted, or -1 with err set.
 */
int	handler_retry_failed(struct handler *, long *moved, struct error *err);

/*
 * Serve one request and write its answer; logs one line.  The body is
 * read into body, whose maximum should be the max_body setting.
 */
void	handler_serve(struct handler *, struct io *, struct buf *body);

/*
 * Decode and store one raw body, as a request or "webhookctl ingest" does;
 * while the database is away the body goes to the spool, if there is one.
 * 0 with *outcome set (OUTCOME_REJECTED with err set to the reason for
 * an event kept as rejected), or -1 with err set.
 */
int	handler_event(struct handler *, const char *body, size_t len,
	    enum outcome *outcome, struct error *err);

/*
 * The answer of a program whose settings are wrong (plain CGI: one
 * request, answered all the same): 500, with the cause in the log only.
 */
void	handler_misconfigured(struct io *);

#endif
