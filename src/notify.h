/* systemd's notification protocol (sd_notify(3)), without libsystemd. */
#ifndef MW_NOTIFY_H
#define MW_NOTIFY_H

/*
 * Send state ("READY=1\nSTATUS=...") as one datagram to the socket named
 * by NOTIFY_SOCKET: a path, or an abstract name written "@name".  1 sent,
 * 0 when NOTIFY_SOCKET is unset (not started by systemd as Type=notify),
 * -1 with errno.
 */
int	notify_send(const char *state);

struct service;

/*
 * What the main process of a FastCGI server tells systemd (Type=notify):
 * READY=1 once the database answers (with our schema) or the spool can
 * take events, and a STATUS= line, refreshed every NOTIFY_STATUS_MS, of
 * the workers and the counters.  Until it is ready the database is tried
 * every NOTIFY_PROBE_MS on a connection of its own, never the workers'.
 */
#define NOTIFY_STATUS_MS	10000
#define NOTIFY_PROBE_MS		2000

struct notifier {
	struct service	*svc;		/* borrowed */
	long		 workers;
	int		 on;		/* NOTIFY_SOCKET is set */
	int		 ready;
	long		 next_ms;	/* monotonic: the next probe or status */
};

void	notifier_init(struct notifier *, struct service *, long workers);
/* Between two waits: probe or refresh the status when it is time. */
void	notifier_tick(struct notifier *);
/* STOPPING=1, as the service begins to stop. */
void	notifier_stopping(struct notifier *);

#endif
