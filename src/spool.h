/* Durable files for events that arrive while the database is away. */
#ifndef MW_SPOOL_H
#define MW_SPOOL_H

#include <stddef.h>

#include "error.h"
#include "outcome.h"

/*
 * A spool is a directory of files "<seconds>.<microseconds>.<key>.event",
 * each holding one raw request body, so names sort oldest first and any
 * file can be fed to "meetergo-webhookctl ingest".  Files that fail for a
 * permanent reason move to failed/ next to a ".reason" file.
 */
struct spool {
	const char	*dir;		/* borrowed */
	long		 max_files;
	long		 max_bytes;
};

void	spool_init(struct spool *, const char *dir, long max_files,
	    long max_bytes);

/*
 * Write body durably: a temporary file is written, fsynced, renamed into
 * place and the directory fsynced.  0 only once all of that succeeded;
 * -1 with err set (ERROR_BUSY) when the spool is full, missing or not
 * writable.
 */
int	spool_put(const struct spool *, const char *key, const char *body,
	    size_t len, struct error *err);

/* 1 when the spool can take another event: writable, under both limits. */
int	spool_has_room(const struct spool *);

/* Count the waiting files; -1 if the directory cannot be read. */
long	spool_count(const struct spool *, long *bytes);

/*
 * Process the waiting files oldest first through fn, which stores one body
 * and returns 0, or -1 with its error: a transient one stops the drain
 * (the database is away again), another moves the file to failed/, beside
 * a ".reason" file with the kind and the text.  Files another
 * process is draining are skipped.  Stops after max files (0: no limit) or
 * once deadline_ms have passed (0: none).  *done counts the files handled;
 * 0, or -1 with err set when the spool cannot be read.
 */
typedef int	(*spool_store_fn)(void *arg, const char *body, size_t len,
		    struct error *err);
int	spool_drain(const struct spool *, spool_store_fn fn, void *arg,
	    long max, long deadline_ms, long *done, struct error *err);

#endif
