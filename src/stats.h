/* The responders' counters, shared through a file in the state directory. */
#ifndef MW_STATS_H
#define MW_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "outcome.h"
#include "payload.h"

/*
 * MEETERGO_WEBHOOK_STATE_DIR/counters is a header and a fixed array of
 * slots, mapped shared by every responder process of a service.  A
 * process claims a slot by a compare-and-swap of its pid over 0 or over
 * the pid of a process that is gone, and keeps the counts already there:
 * the sum over the slots is the service's total, and a worker started
 * again, or the next plain CGI process, adds on.  The request path only
 * does relaxed atomic adds to its own slot: no lock, no system call.
 * Counts live as long as the file: until the directory is emptied (a
 * reboot, for one under /run).
 */
#define STATS_FILE		"counters"
#define STATS_MAGIC		0x4d57434eU	/* "MWCN" */
#define STATS_VERSION		1
/* Worker processes and plain CGI processes that run at once. */
#define STATS_SLOTS		1024

/* The statuses counted one by one; any other is counted as the last. */
#define STATS_STATUSES		11
/* An outcome of outcome.h, or a delivery answered 5xx: not stored. */
#define STATS_FAILED		(OUTCOME_SPOOLED + 1)
#define STATS_OUTCOMES		(STATS_FAILED + 1)
/* By enum event_type. */
#define STATS_TYPES		(EVENT_FORM_SUBMISSION + 1)
/* Events per batch: 1, 2, 4, ... 64 (GROUP_MAX), and more. */
#define STATS_BATCH_BUCKETS	8
/* Time from a request's start to its answer, see stats_duration_le. */
#define STATS_DURATION_BUCKETS	12

struct stats_slot {
	int32_t		 pid;		/* 0: never used */
	uint32_t	 unused;
	uint64_t	 requests[STATS_STATUSES];
	uint64_t	 events[STATS_OUTCOMES];
	uint64_t	 types[STATS_TYPES];
	uint64_t	 batches[STATS_BATCH_BUCKETS];	/* not cumulative */
	uint64_t	 batch_events;
	uint64_t	 durations[STATS_DURATION_BUCKETS]; /* not cumulative */
	uint64_t	 duration_us;
	uint64_t	 reconnects;	/* database connections after the first */
} __attribute__((aligned(64)));

struct stats_header {
	uint32_t	 magic;
	uint32_t	 version;
	uint32_t	 slots;
	uint32_t	 slot_size;
	int64_t		 created;	/* when counting began, Unix seconds */
} __attribute__((aligned(64)));

/* The status of index i < STATS_STATUSES - 1 (the last: any other). */
int		 stats_status_code(size_t i);
size_t		 stats_status_index(int status);
/* The upper bound of duration bucket i in microseconds; -1: none. */
long		 stats_duration_le(size_t i);
/* The upper bound of batch bucket i in events; -1: none. */
long		 stats_batch_le(size_t i);

/*
 * Map DIR/counters shared, creating it (mode 0644: counts are no secret)
 * or replacing one of another layout.  For the whole process and, when
 * it forks, its children; nothing is counted until stats_claim.  0, or
 * -1 with err set.
 */
int		 stats_open(const char *dir, struct error *err);
/*
 * stats_open for a responder, which serves all the same when it cannot
 * count: then it says so once, in a warning, unless quiet (a plain CGI
 * process never given a directory would say it with every request).
 */
void		 stats_start(const char *dir, int quiet);
/*
 * Take a slot for this process (a worker, after fork).  0, or -1 when
 * nothing was mapped, or every slot belongs to a live process (said in a
 * warning): then nothing is counted.
 */
int		 stats_claim(void);
void		 stats_close(void);

/* The request path: no-ops while this process has no slot. */
void		 stats_request(int status, long duration_us);
void		 stats_event(size_t outcome);	/* < STATS_OUTCOMES */
void		 stats_event_type(enum event_type);
void		 stats_batch(size_t events);
void		 stats_reconnect(void);

/* The counters as a reader sees them: webhookctl stats, the supervisor. */
struct stats_view {
	const struct stats_header	*header;
	const struct stats_slot		*slots;
	size_t				 nslots;
	void				*map;	/* ours to unmap, or NULL */
	size_t				 len;
};

/* 0, or -1 with err set (no such file: no responder counted there). */
int		 stats_view_open(struct stats_view *, const char *dir,
		    struct error *err);
/* The file stats_open mapped; 0, or -1 when there is none. */
int		 stats_view_mine(struct stats_view *);
void		 stats_view_close(struct stats_view *);
/* The slots whose process runs. */
long		 stats_view_running(const struct stats_view *);

#endif
