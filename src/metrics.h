/* The counters of all slots summed, written for a person or Prometheus. */
#ifndef MW_METRICS_H
#define MW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "stats.h"

/* What webhookctl stats reports: the counters and the spool's state. */
struct metrics {
	struct stats_slot total;	/* the sum over the slots; pid unused */
	long		 processes;	/* slots whose process runs */
	int64_t		 since;		/* when counting began, Unix seconds */
	int		 has_spool;	/* the spool fields are known */
	long		 spool_files, spool_bytes;
	long		 spool_oldest;	/* seconds; 0 when none waits */
	long		 spool_failed;	/* set aside in failed/ */
};

/* Add n slots into m->total (zero m first). */
void	metrics_sum(struct metrics *m, const struct stats_slot *slots,
	    size_t n);

/*
 * The Prometheus text format, version 0.0.4, appended to out: HELP and
 * TYPE lines, every label value even at 0.  0, or -1 (out is full).
 */
int	metrics_prometheus(const struct metrics *, struct buf *out);

/* The same for a person, a line a subject.  0, or -1. */
int	metrics_text(const struct metrics *, struct buf *out);

#endif
