/* Deadlines for connections: a thread shuts down those past theirs. */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "reaper.h"
#include "util.h"

struct watch {
	struct reaper	*reaper;
	int		 fd;		/* -1: nothing watched */
	long		 deadline;	/* monotonic ms; 0: none */
	int		 fired;
};

struct reaper {
	pthread_mutex_t	 mu;	/* guards everything below */
	pthread_cond_t	 cond;	/* a deadline was set, or stop */
	pthread_t	 thread;
	int		 stop;
	size_t		 n;
	struct watch	*w;
};

/* Shut down what is past its deadline; the next deadline, or 0. */
static long
reap_due(struct reaper *r, long now)
{
	struct watch	*w;
	long		 next = 0;
	size_t		 i;

	for (i = 0; i < r->n; i++) {
		w = &r->w[i];
		if (w->fd == -1 || w->deadline == 0)
			continue;
		if (w->deadline <= now) {
			(void)shutdown(w->fd, SHUT_RDWR);
			w->deadline = 0;
			w->fired = 1;
		} else if (next == 0 || w->deadline < next)
			next = w->deadline;
	}
	return next;
}

static void *
reap(void *arg)
{
	struct reaper	*r = arg;
	struct timespec	 ts;
	long		 next;

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		if ((next = reap_due(r, monotonic_ms())) == 0) {
			pthread_cond_wait(&r->cond, &r->mu);
			continue;
		}
		/* The condition's clock is CLOCK_MONOTONIC, as monotonic_ms. */
		ts.tv_sec = next / 1000;
		ts.tv_nsec = (next % 1000) * 1000000;
		pthread_cond_timedwait(&r->cond, &r->mu, &ts);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

struct reaper *
reaper_new(size_t n)
{
	struct reaper		*r;
	pthread_condattr_t	 ca;
	size_t			 i;
	int			 e;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->w = calloc(n, sizeof(*r->w))) == NULL) {
		free(r);
		return NULL;
	}
	r->n = n;
	for (i = 0; i < n; i++) {
		r->w[i].reaper = r;
		r->w[i].fd = -1;
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((e = pthread_create(&r->thread, NULL, reap, r)) != 0) {
		pthread_cond_destroy(&r->cond);
		pthread_mutex_destroy(&r->mu);
		free(r->w);
		free(r);
		errno = e;
		return NULL;
	}
	return r;
}

void
reaper_free(struct reaper *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mu);
	free(r->w);
	free(r);
}

struct watch *
reaper_watch(struct reaper *r, size_t i)
{
	return i < r->n ? &r->w[i] : NULL;
}

void
watch_set(struct watch *w, int fd)
{
	pthread_mutex_lock(&w->reaper->mu);
	w->fd = fd;
	w->deadline = 0;
	w->fired = 0;
	pthread_mutex_unlock(&w->reaper->mu);
}

void
watch_arm(struct watch *w, long ms)
{
	pthread_mutex_lock(&w->reaper->mu);
	w->deadline = ms > 0 ? monotonic_ms() + ms : 0;
	/* The reaper may sleep until a later deadline: it looks again. */
	if (w->deadline != 0)
		pthread_cond_signal(&w->reaper->cond);
	pthread_mutex_unlock(&w->reaper->mu);
}

int
watch_release(struct watch *w, int *fired)
{
	int fd;

	pthread_mutex_lock(&w->reaper->mu);
	fd = w->fd;
	*fired = w->fired;
	w->fd = -1;
	w->deadline = 0;
	w->fired = 0;
	pthread_mutex_unlock(&w->reaper->mu);
	return fd;
}
