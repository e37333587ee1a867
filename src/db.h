/* PostgreSQL: one connection, with bounded waits and one retry policy. */
#ifndef MW_DB_H
#define MW_DB_H

#include <stddef.h>

#include "error.h"
#include "settings.h"

/*
 * One connection, opened on first use and reopened when a statement finds
 * it broken.  db_new borrows the settings, which must outlive the db.
 * libpq itself stays behind db.c and its neighbours (pq.h).
 *
 * The retry policy: a batch, or the health check, that fails because
 * its connection failed (ERROR_TRANSIENT: the server restarted or went
 * away, a failover, a deadlock) gets one more try on a new connection
 * (db_retry says when).  A statement inside an explicit transaction
 * (replay, migrate) is not tried again: the transaction is gone with the
 * connection.  A timeout or an overload (ERROR_BUSY) is answered 503 or
 * spooled by the handler; within a batch, an event whose data the
 * database refuses (ERROR_DATA) is kept as rejected and the others are
 * sent again without it (batch.c); the spool keeps a file while the cause
 * is transient.
 */
struct db;

struct db	*db_new(const struct settings *);
void		 db_free(struct db *);
/*
 * Send every statement unnamed, whatever MEETERGO_WEBHOOK_PREPARE says:
 * for a process that serves one request on its connection (plain CGI),
 * where a named statement saves nothing and, through a pooler in
 * transaction mode, fails on every server connection that another
 * process prepared it on.
 */
void		 db_unnamed(struct db *);

/*
 * Connect if needed and describe, for meetergo-webhookctl check, the
 * server ("server 150018, database \"x\"") and what our transactions run
 * with (the statement timeout, synchronous_commit, prepared statements),
 * as the server reports it.  0, or -1 with err.
 */
int		 db_describe(struct db *, char *server, size_t ssize,
		    char *session, size_t size, struct error *err);

#endif
