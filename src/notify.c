/* systemd's notification protocol (sd_notify(3)), without libsystemd. */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "schema.h"
#include "service.h"
#include "util.h"

int
notify_send(const char *state)
{
	struct sockaddr_un	 sa;
	const char		*name = getenv("NOTIFY_SOCKET");
	size_t			 len;
	ssize_t			 n;
	int			 fd, saved;

	if (name == NULL || *name == '\0')
		return 0;
	/* Paths and abstract names only; not vsock ("vsock:CID:PORT"). */
	len = strlen(name);
	if ((name[0] != '/' && name[0] != '@') || len < 2 ||
	    len > sizeof(sa.sun_path) - (name[0] == '/')) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	else
		len++;		/* a path: with its NUL */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	n = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un,
	    sun_path) + len));
	saved = errno;
	close(fd);
	errno = saved;
	return n == -1 ? -1 : 1;
}

void
notifier_init(struct notifier *n, struct service *svc, long workers)
{
	const char *name = getenv("NOTIFY_SOCKET");

	memset(n, 0, sizeof(n[0]));
	n->svc = svc;
	n->workers = workers;
	n->on = name != NULL && *name != '\0';
}

static void
send_state(struct notifier *n, const char *state)
{
	if (notify_send(state) == -1) {
		log_warn("NOTIFY_SOCKET: %s; not notifying systemd",
		    strerror(errno));
		n->on = 0;
	}
}

/* Whether the service can take events; why not in err. */
static int
can_take_events(struct service *svc, struct error *err)
{
	struct db	*db;
	int		 rc;

	if (svc->handler.has_spool && spool_has_room(&svc->handler.spool))
		return 1;
	if ((db = db_new(&svc->settings)) == NULL) {
		error_set(err, ERROR_INTERNAL, "", "out of memory");
		return 0;
	}
	db_unnamed(db);
	rc = schema_check(db, err);
	db_free(db);
	return rc == 0;
}

/* The status line of a service that is ready: workers, counts, spool. */
static void
ready_status(struct notifier *n, char *line, size_t size)
{
	struct stats_view	v;
	struct spool_state	ss;
	struct metrics		m;
	int			len;

	len = snprintf(line, size, "STATUS=%ld worker%s", n->workers,
	    n->workers == 1 ? "" : "s");
	memset(&m, 0, sizeof(m));
	if (stats_view_mine(&v) == 0) {
		metrics_sum(&m, v.slots, v.nslots);
		len += snprintf(line + len, size - (size_t)len, "; counted: "
		    "%llu stored, %llu duplicate, %llu spooled, %llu rejected, "
		    "%llu failed",
		    (unsigned long long)m.total.events[OUTCOME_APPLIED],
		    (unsigned long long)m.total.events[OUTCOME_DUPLICATE],
		    (unsigned long long)m.total.events[OUTCOME_SPOOLED],
		    (unsigned long long)m.total.events[OUTCOME_REJECTED],
		    (unsigned long long)m.total.events[STATS_FAILED]);
	}
	if (len < (int)size && n->svc->handler.has_spool &&
	    spool_scan(&n->svc->handler.spool, &ss) == 0)
		snprintf(line + len, size - (size_t)len, "; spool: %ld file%s",
		    ss.files, ss.files == 1 ? "" : "s");
}

void
notifier_tick(struct notifier *n)
{
	struct error	err;
	char		line[ERROR_TEXT_MAX + 200];
	long		now = monotonic_ms();

	if (!n->on || now < n->next_ms)
		return;
	if (n->ready) {
		ready_status(n, line, sizeof(line));
		send_state(n, line);
		n->next_ms = now + NOTIFY_STATUS_MS;
		return;
	}
	error_init(&err);
	if (!can_take_events(n->svc, &err)) {
		snprintf(line, sizeof(line), "STATUS=waiting for the database "
		    "(%s)", err.text);
		send_state(n, line);
		n->next_ms = monotonic_ms() + NOTIFY_PROBE_MS;
		return;
	}
	n->ready = 1;
	memcpy(line, "READY=1\n", 8);
	ready_status(n, line + 8, sizeof(line) - 8);
	send_state(n, line);
	n->next_ms = monotonic_ms() + NOTIFY_STATUS_MS;
}

void
notifier_stopping(struct notifier *n)
{
	if (n->on)
		send_state(n, "STOPPING=1\nSTATUS=stopping: finishing the "
		    "requests in hand");
}
