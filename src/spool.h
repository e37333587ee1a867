/* Durable files for events that arrive while the database is away. */
#ifndef MW_SPOOL_H
#define MW_SPOOL_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "error.h"
#include "outcome.h"

/*
 * A spool is a directory of files "<seconds>.<microseconds>.<key>.event",
 * each holding one body as it is to be stored (the appointment secret
 * already cut out) under key, the event's identity: the hex SHA-256 of
 * the body as it was delivered.  Names sort oldest first.  A file whose
 * own statement failed n times (see spool_drain) is named
 * "<seconds>.<microseconds>.<key>.<n>.event".  Files being written are
 * ".<key>.<pid>.<n>.tmp"; those a crash left behind count against the
 * limits until spool_drain removes them, SPOOL_TMP_GRACE seconds old.
 * Files that fail for a permanent reason move to failed/, next to a
 * ".reason" file.
 *
 * The spool only reads what it wrote: a regular file, not a link, owned
 * by the owner of the directory.  Anything else there is skipped with a
 * warning, never followed nor waited on.
 */
struct spool {
	const char	*dir;		/* borrowed */
	long		 max_files;
	long		 max_bytes;
};

/* Stores that failed for a cause of the file's own before it is set aside. */
#define SPOOL_TRIES	3
/*
 * Between two of them, the drains between requests leave the file alone
 * this many seconds, doubled after each: a row locked for a while is not
 * a poison event, and a poison event does not cost every drain a timeout.
 */
#define SPOOL_TRY_AFTER	5
/* A temporary file older than this was left by a crash. */
#define SPOOL_TMP_GRACE	120

void	spool_init(struct spool *, const char *dir, long max_files,
	    long max_bytes);

/*
 * Write body under key (64 hex digits) durably: a temporary file is
 * written, fsynced, renamed into place and the directory fsynced.  0 only
 * once all of that succeeded; -1 with err set (ERROR_BUSY) when the spool
 * is full, missing or not writable.
 */
int	spool_put(const struct spool *, const char *key, const char *body,
	    size_t len, struct error *err);

/* What a spool holds. */
struct spool_state {
	long	files, bytes;		/* events waiting */
	long	tmp_files, tmp_bytes;	/* being written, or left by a crash */
	long	oldest;			/* age of the oldest event, seconds;
					   -1 when none waits */
};

/* Look at the directory; 0, or -1 with errno when it cannot be read. */
int	spool_scan(const struct spool *, struct spool_state *);

/* 1 when the spool can take another event: writable, under both limits. */
int	spool_has_room(const struct spool *);

/* The files set aside in failed/ (0 when there is none); -1 with errno. */
long	spool_failed(const struct spool *);

/*
 * The store of one file for spool_drain: key (NULL when the name does not
 * carry one) and the body.  0 stored (or kept as rejected), else -1 with
 * err set.  A failure of a permanent kind (the body does not decode, is
 * too large, its data is refused: not transient, busy nor internal) sets
 * the file aside.  Any other keeps it and stops the drain; return -2
 * instead of -1 when that failure is the file's own (the database serves
 * all else), to count it against the file: after SPOOL_TRIES it is set
 * aside, and meanwhile the drain goes on with the next file.
 */
typedef int	(*spool_store_fn)(void *arg, const char *key,
		    const char *body, size_t len, struct error *err);

/*
 * Remove the temporary files a crash left, then process the waiting files
 * oldest first through fn.  Files another process is draining are
 * skipped, and so, when patient, are files whose last try is more recent
 * than SPOOL_TRY_AFTER allows (the operator's drain tries every file).
 * Stops after max files (0: no limit) or once deadline_ms have passed
 * (0: none).  *done counts the files stored or set aside; 0, or -1 with
 * err set when the spool cannot be read, fn failed (not for a permanent
 * reason), or a file waits for another try.
 */
int	spool_drain(const struct spool *, spool_store_fn fn, void *arg,
	    int patient, long max, long deadline_ms, long *done,
	    struct error *err);

/*
 * Move the files set aside in failed/ back into the spool, their count of
 * tries reset and their ".reason" removed (drain --retry-failed).
 * *moved counts them; 0, or -1 with err set.
 */
int	spool_retry_failed(const struct spool *, long *moved,
	    struct error *err);

/*
 * Remove the files set aside in failed/ that were spooled before
 * `before` (the time their name carries, else their mtime), each with its
 * ".reason"; with dry_run only count them.  *removed counts them; 0, or
 * -1 with err set.
 */
int	spool_prune_failed(const struct spool *, time_t before, int dry_run,
	    long *removed, struct error *err);

/*
 * An edit of one spooled body for spool_edit: 1 with the new body in out
 * (which the caller made), 0 to leave the file as it is, -1 with err.
 */
typedef int	(*spool_edit_fn)(void *arg, const char *body, size_t len,
		    struct buf *out, struct error *err);

/*
 * Offer every event file, waiting or set aside in failed/, to fn, each
 * locked against drains meanwhile (a drain in progress is waited for).
 * A file fn changes is, unless dry_run, rewritten under its own name (the
 * name carries the event's key): a temporary file is written and
 * fsynced, renamed over it, and the directory fsynced.  *changed counts
 * the files fn changed; 0, or -1 with err set.
 */
int	spool_edit(const struct spool *, spool_edit_fn fn, void *arg,
	    int dry_run, long *changed, struct error *err);

#endif
