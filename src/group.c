/* Group commit: events that arrive together share one transaction. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>

#include "batch.h"
#include "group.h"
#include "log.h"
#include "schema.h"
#include "stats.h"
#include "util.h"

struct waiter {
	struct batch_item	 item;
	enum {
		QUEUED,
		TAKEN,		/* in the batch being stored */
		DONE
	}		 state;
	struct waiter	*next;
};

struct group {
	struct db	*db;
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;		/* a batch ended */
	struct waiter	*head, **tail;	/* queued, oldest first */
	int		 busy;		/* a thread has the connection */
	size_t		 max;
	/* The leader's, max long: batch_store may reorder items. */
	struct waiter	**taken;
	struct batch_item	**items;
	/* What the database last said, for group_health. */
	long		 health_ms;	/* when, monotonic; 0: not yet */
	struct error	 health;	/* why it did not answer, if it did not */
};

struct group *
group_new(struct db *db, size_t max)
{
	struct group *g;

	if (max < 1 || max > GROUP_MAX || (g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	if ((g->taken = calloc(max, sizeof(*g->taken))) == NULL ||
	    (g->items = calloc(max, sizeof(*g->items))) == NULL)
		goto fail;
	if (pthread_mutex_init(&g->lock, NULL) != 0)
		goto fail;
	if (pthread_cond_init(&g->cond, NULL) != 0) {
		pthread_mutex_destroy(&g->lock);
		goto fail;
	}
	g->db = db;
	g->tail = &g->head;
	g->max = max;
	return g;
fail:
	free(g->items);
	free(g->taken);
	free(g);
	return NULL;
}

void
group_free(struct group *g)
{
	if (g == NULL)
		return;
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	free(g->items);
	free(g->taken);
	free(g);
}

/* Wait, with the lock held, until the connection is ours. */
static void
acquire(struct group *g)
{
	while (g->busy)
		pthread_cond_wait(&g->cond, &g->lock);
	g->busy = 1;
}

static void
release(struct group *g)
{
	g->busy = 0;
	pthread_cond_broadcast(&g->cond);
}

/* What batch_store made of an item, for the caller; the item released. */
static int
finish(struct batch_item *item, struct error *refused, enum outcome *outcome,
    long *deliveries, struct error *err)
{
	int rc = item->rc == 0 ? 0 : -1;

	*refused = item->refused;
	if (rc == 0) {
		*outcome = error_isset(refused) ? OUTCOME_REJECTED :
		    item->outcome;
		*deliveries = item->deliveries;
	} else
		*err = item->err;
	batch_item_release(item);
	return rc;
}

/*
 * Note, with the lock held, that the database answered (err NULL) or not.
 * Only a change is logged: health checks come many times a second.
 */
static void
learn(struct group *g, const struct error *err)
{
	if (err == NULL && error_isset(&g->health))
		log_info("database: answers again");
	else if (err != NULL && !error_isset(&g->health))
		log_warn("database: %s", err->text);
	if (err == NULL)
		error_init(&g->health);
	else
		g->health = *err;
	g->health_ms = monotonic_ms();
}

/*
 * What a batch tells of the database: it answered when one event was
 * stored; it was away when they all failed for a cause that may pass.
 * Anything else (one event's own failure) says nothing of it.
 */
static void
learn_from_batch(struct group *g, struct batch_item **items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (items[i]->rc == 0) {
			learn(g, NULL);
			return;
		}
	if (n > 0 && error_is_transient(&items[0]->err))
		learn(g, &items[0]->err);
}

/* A batch of which the database took at least one event: its size. */
static void
count_batch(struct batch_item **items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (items[i]->rc == 0) {
			stats_batch(n);
			return;
		}
}

int
group_store(struct group *g, const char *event_key, const struct event *ev,
    struct error *refused, enum outcome *outcome, long *deliveries,
    struct error *err)
{
	struct waiter	 self, *w, *next;
	size_t		 n, i, bytes;

	/* The encoding is done here, in parallel, not by the leader. */
	if (batch_item_init(&self.item, event_key, ev,
	    error_isset(refused) ? refused : NULL, err) == -1)
		return -1;
	self.state = QUEUED;
	self.next = NULL;

	pthread_mutex_lock(&g->lock);
	*g->tail = &self;
	g->tail = &self.next;
	while (self.state != DONE) {
		if (g->busy) {
			pthread_cond_wait(&g->cond, &g->lock);
			continue;
		}
		/* Lead: take what is queued, store it without the lock. */
		g->busy = 1;
		bytes = 0;
		for (n = 0, w = g->head; w != NULL && n < g->max &&
		    (n == 0 || bytes + w->item.size <= GROUP_BYTES); w = next) {
			next = w->next;
			bytes += w->item.size;
			w->state = TAKEN;
			g->taken[n] = w;
			g->items[n++] = &w->item;
		}
		g->head = w;
		if (w == NULL)
			g->tail = &g->head;
		pthread_mutex_unlock(&g->lock);

		batch_store(g->db, g->items, n);
		count_batch(g->items, n);

		pthread_mutex_lock(&g->lock);
		for (i = 0; i < n; i++)
			g->taken[i]->state = DONE;
		learn_from_batch(g, g->items, n);
		release(g);
	}
	pthread_mutex_unlock(&g->lock);
	return finish(&self.item, refused, outcome, deliveries, err);
}

int
group_store_alone(struct group *g, const char *event_key,
    const struct event *ev, struct error *refused, enum outcome *outcome,
    long *deliveries, struct error *err)
{
	struct batch_item	 item, *items[1] = { &item };

	if (batch_item_init(&item, event_key, ev,
	    error_isset(refused) ? refused : NULL, err) == -1)
		return -1;
	pthread_mutex_lock(&g->lock);
	acquire(g);
	pthread_mutex_unlock(&g->lock);

	batch_store(g->db, items, 1);

	pthread_mutex_lock(&g->lock);
	release(g);
	pthread_mutex_unlock(&g->lock);
	return finish(&item, refused, outcome, deliveries, err);
}

int
group_health(struct group *g, struct error *err)
{
	struct error	e;
	int		rc;

	pthread_mutex_lock(&g->lock);
	if (g->busy || (g->health_ms != 0 &&
	    monotonic_ms() - g->health_ms < GROUP_HEALTH_MS)) {
		e = g->health;
		pthread_mutex_unlock(&g->lock);
		goto answer;
	}
	g->busy = 1;
	pthread_mutex_unlock(&g->lock);

	error_init(&e);
	rc = schema_check(g->db, &e);

	pthread_mutex_lock(&g->lock);
	learn(g, rc == 0 ? NULL : &e);
	release(g);
	pthread_mutex_unlock(&g->lock);
answer:
	if (!error_isset(&e))
		return 0;
	error_set(err, e.kind, e.path, "%s", e.text);
	return -1;
}

int
group_ping(struct group *g, struct error *err)
{
	int rc;

	pthread_mutex_lock(&g->lock);
	acquire(g);
	pthread_mutex_unlock(&g->lock);
	rc = schema_check(g->db, err);
	pthread_mutex_lock(&g->lock);
	learn(g, rc == 0 ? NULL : err);
	release(g);
	pthread_mutex_unlock(&g->lock);
	return rc;
}
