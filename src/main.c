/* meetergo-webhook: the responder, as plain CGI or a FastCGI server. */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_MALLOC_H
#include <malloc.h>
#endif

#include <fcgiapp.h>
#include <jansson.h>

#include "handler.h"
#include "io.h"
#include "listener.h"
#include "log.h"
#include "notify.h"
#include "reaper.h"
#include "service.h"
#include "stats.h"
#include "util.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: meetergo-webhook [--listen ADDR] [--listen-public]\n"
	    "                        [--backlog N] [--workers N] [--threads N]\n"
	    "\n"
	    "Receives meetergo webhooks and stores them in PostgreSQL.\n"
	    "Runs as plain CGI when GATEWAY_INTERFACE is set, as FastCGI\n"
	    "when standard input is a listening socket (spawn-fcgi, systemd,\n"
	    "mod_fcgid), or as a FastCGI server on ADDR:\n"
	    "\n"
	    "  --listen ADDR   unix:/PATH, or HOST:PORT on loopback\n"
	    "                  (127.0.0.1:9000, [::1]:9000)\n"
	    "  --listen-public allow a TCP address that is not loopback\n"
	    "                  (also MEETERGO_WEBHOOK_LISTEN_PUBLIC=1); admit\n"
	    "                  the front end only, with FCGI_WEB_SERVER_ADDRS\n"
	    "  --backlog N     listen queue length (default 128)\n"
	    "  --workers N     worker processes, each with its own database\n"
	    "                  connection (default MEETERGO_WEBHOOK_WORKERS,\n"
	    "                  else one per online CPU, at most 16)\n"
	    "  --threads N     requests each worker serves at once; those that\n"
	    "                  arrive together share one commit (default\n"
	    "                  MEETERGO_WEBHOOK_THREADS, else enough for 32\n"
	    "                  in all, at least 8 per worker)\n"
	    "  --help          show this help\n"
	    "  --version       show the version\n"
	    "\n"
	    "Settings come from MEETERGO_WEBHOOK_* environment variables;\n"
	    "see meetergo-webhook(8).\n");
}

/* Plain CGI: one request from the environment and stdin. */
static int
run_cgi(void)
{
	struct service	svc;
	struct error	err;
	struct buf	body;
	struct io	io;

	error_init(&err);
	io_init_cgi(&io);
	if (service_open(&svc, 1, 1, &err) == -1) {
		log_err("%s", err.text);
		handler_misconfigured(&io);
		service_close(&svc);
		return 0;
	}
	/* One request, one connection: nothing to prepare for. */
	db_unnamed(svc.db);
	stats_start(svc.settings.state_dir, svc.settings.state_dir_default);
	stats_claim();
	buf_init(&body, (size_t)svc.settings.max_body);
	handler_serve(&svc.handler, &io, &body);
	/* The answer is complete once stdout closes; then help the spool. */
	fclose(stdout);
	close(STDOUT_FILENO);
	handler_idle(&svc.handler);
	buf_release(&body);
	stats_close();
	service_close(&svc);
	return 0;
}

/* The command line of the FastCGI modes. */
struct options {
	const char	*listen;	/* NULL: the inherited socket */
	long		 backlog;
	long		 workers;	/* 0: the setting */
	long		 threads;	/* 0: the setting */
	int		 listen_public;	/* or MEETERGO_WEBHOOK_LISTEN_PUBLIC */
};

/* Each thread's events go into the group's batches. */
_Static_assert(SETTINGS_MAX_THREADS <= GROUP_MAX,
    "a worker has more threads than a batch has room");

/* A thread keeps a body buffer up to this size between requests. */
#define KEEP_BODY_BUFFER	(64 * 1024)

/* malloc arenas a worker's threads share. */
#define WORKER_ARENAS	2

/* An accept that fails for want of resources is tried again after this. */
#define ACCEPT_PAUSE_MS		100

/* What the request threads of one worker process share. */
struct worker {
	struct handler		*handler;
	const struct listener_peers *peers;
	struct reaper		*reaper;	/* one watch per thread */
	long			 params_ms, body_ms;
	int			 fd;		/* listening socket */
	int			 wake;		/* readable once we are to stop */
	atomic_long		 next_watch;
	atomic_int		 failed;
};

/*
 * A request thread's connection, and how long its peer may take.
 *
 * libfcgi blocks in read(2) and write(2) without a timeout.  So we accept
 * connections ourselves and hand each to libfcgi in req.ipcFd, with
 * listen_sock -1: FCGX_Accept_r then reads the request from that
 * connection, and when the request fails it closes it and returns (its
 * accept of descriptor -1 fails) instead of accepting another.  A dup of
 * the connection, which only we close, sits in the thread's watch (see
 * reaper.h): the reaper shuts the connection down when the peer has not
 * sent the request's parameters within params_ms of its first record (a
 * front end sends them at once), or the rest of it within body_ms after
 * them.  These are totals, not timeouts per read: a peer sending a byte
 * now and then is cut all the same.  A kept connection (FCGI_KEEP_CONN)
 * waits for its next request without a thread's deadline, in our poll,
 * at most body_ms; the next request's deadline counts from its first
 * record.
 */
struct conn {
	FCGX_Request	 req;
	struct watch	*watch;
	long		 armed_ms;	/* the deadline set last */
};

static void
conn_arm(struct conn *c, long ms)
{
	c->armed_ms = ms;
	watch_arm(c->watch, ms);
}

/* A new connection fd: to libfcgi, and its dup to the watch. */
static int
conn_open(struct conn *c, int fd, long params_ms)
{
	int d;

	if ((d = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("connection: %s", strerror(errno));
		close(fd);
		return -1;
	}
	watch_set(c->watch, d);
	conn_arm(c, params_ms);
	c->req.ipcFd = fd;
	/* Else FCGX_Accept_r, finishing the request before, would close it. */
	c->req.keepConnection = 1;
	return 0;
}

/* libfcgi has let the connection go (or never had it): we do too. */
static void
conn_done(struct conn *c)
{
	int fd, fired;

	if ((fd = watch_release(c->watch, &fired)) == -1)
		return;
	close(fd);
	if (fired)
		log_warn("closed a connection whose request was not complete "
		    "within %ld ms", c->armed_ms);
}

/* Close a kept connection between requests. */
static void
conn_close(struct conn *c)
{
	int fd, fired;

	if ((fd = watch_release(c->watch, &fired)) != -1) {
		/* libfcgi waits for the peer to close: not for long. */
		(void)shutdown(fd, SHUT_RDWR);
		close(fd);
	}
	FCGX_Free(&c->req, 1);
}

/*
 * Wait for the next request: on the kept connection if there is one, else
 * on a new one.  0 with its deadline set; 1 to wait again (another thread
 * took the connection, or the kept one was idle too long); -1 to stop.
 */
static int
next_request(struct worker *w, struct conn *c)
{
	struct pollfd	pfd[2];
	int		kept = c->req.ipcFd >= 0, fd, n;

	pfd[0].fd = kept ? c->req.ipcFd : w->fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = w->wake;
	pfd[1].events = POLLIN;
	if ((n = poll(pfd, 2, kept ? (int)w->body_ms : -1)) == -1) {
		if (errno == EINTR)
			return 1;
		log_err("poll: %s", strerror(errno));
		return -1;
	}
	if (pfd[1].revents != 0)
		return -1;
	if (n == 0) {
		conn_close(c);
		return 1;
	}
	if (kept) {
		conn_arm(c, w->params_ms);
		return 0;
	}
	/* The listener is non-blocking: another thread may have been first. */
	if ((fd = listener_accept(w->fd, w->peers)) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
		    errno == ECONNABORTED || errno == EPROTO)
			return 1;
		if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS &&
		    errno != ENOMEM) {
			log_err("accept: %s", strerror(errno));
			return -1;
		}
		log_warn("accept: %s", strerror(errno));
		(void)poll(NULL, 0, ACCEPT_PAUSE_MS);
		return 1;
	}
	return conn_open(c, fd, w->params_ms) == 0 ? 0 : 1;
}

/* One request on c, from its parameters to its end. */
static void
serve_one(struct worker *w, struct conn *c, struct buf *body)
{
	struct io	io;
	char		scratch[512];

	/* A failed request: libfcgi closed the connection. */
	if (FCGX_Accept_r(&c->req) < 0) {
		if (c->req.ipcFd >= 0)
			conn_close(c);
		conn_done(c);
		return;
	}
	conn_arm(c, w->body_ms);
	io_init_fcgx(&io, &c->req, c->watch);
	handler_serve(w->handler, &io, body);
	/*
	 * A kept connection is idle only once this request's stdin has
	 * ended: nginx may send a GET's empty stdin record after our answer,
	 * and next_request would take it for the next request's start.
	 * Within the deadline handler_serve left armed.
	 */
	if (c->req.keepConnection)
		while (FCGX_GetStr(scratch, sizeof(scratch), c->req.in) > 0)
			;
	FCGX_Finish_r(&c->req);
	if (c->req.ipcFd < 0)
		conn_done(c);
	else
		conn_arm(c, 0);		/* kept: next_request bounds the wait */
	/*
	 * After a large body, its buffer and the freed tree would stay in
	 * this thread's malloc arena: each thread would keep the most it
	 * ever needed.  Give them back.
	 */
	if (body->cap > KEEP_BODY_BUFFER) {
		buf_release(body);
#ifdef HAVE_MALLOC_TRIM
		malloc_trim(0);
#endif
	}
}

/* A request thread: accept and serve until the wake pipe is readable. */
static void *
serve_requests(void *arg)
{
	struct worker	*w = arg;
	struct pollfd	 wake = { .fd = w->wake, .events = POLLIN };
	struct conn	 c;
	struct buf	 body;
	int		 r;

	memset(&c, 0, sizeof(c));
	c.watch = reaper_watch(w->reaper,
	    (size_t)atomic_fetch_add(&w->next_watch, 1));
	/* -1: libfcgi accepts nothing itself, see struct conn. */
	FCGX_InitRequest(&c.req, -1, 0);
	buf_init(&body, (size_t)w->handler->settings->max_body);
	while ((r = next_request(w, &c)) >= 0) {
		if (r == 1)
			continue;
		serve_one(w, &c, &body);
		/* Not once we are to stop: a drain can take a while. */
		if (poll(&wake, 1, 0) == 0)
			handler_idle(w->handler);
	}
	if (c.req.ipcFd >= 0)
		conn_close(&c);
	FCGX_Free(&c.req, 1);
	buf_release(&body);
	if (poll(&wake, 1, 0) == 1)
		return NULL;
	/* The process stops: the supervisor, if any, starts a new one. */
	atomic_store(&w->failed, 1);
	kill(getpid(), SIGTERM);
	return NULL;
}

/* The signals that stop the service. */
static void
stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

/* Start n request threads; how many started. */
static long
start_threads(struct worker *w, pthread_t *threads, long n)
{
	long i;

	for (i = 0; i < n; i++)
		if ((errno = pthread_create(&threads[i], NULL, serve_requests,
		    w)) != 0) {
			log_err("cannot start a thread: %s", strerror(errno));
			atomic_store(&w->failed, 1);
			break;
		}
	return i;
}

/*
 * Wait for a stop signal; the main process of a lone worker (notifier
 * set) meanwhile tells systemd how it goes.
 */
static void
wait_stop(const sigset_t *stop, struct notifier *notifier)
{
	struct timespec	ts = { .tv_sec = 1 };

	for (;;) {
		if (notifier != NULL)
			notifier_tick(notifier);
		if (sigtimedwait(stop, NULL, notifier != NULL ? &ts : NULL) > 0)
			break;
	}
	if (notifier != NULL)
		notifier_stopping(notifier);
}

/*
 * One worker process: its threads serve requests and share one database
 * connection through the group, which stores the events they have in hand
 * together.  The stop signals are blocked in every thread since main()
 * and taken here (wait_stop): a request in hand is always finished,
 * SIGTERM only wakes the threads that wait for one.
 */
static int
run_worker(int fd, struct service *svc, const struct listener_peers *peers,
    struct notifier *notifier)
{
	struct worker	 w;
	pthread_t	*threads = NULL;
	sigset_t	 stop;
	long		 i, started = 0, n = svc->settings.threads;
	int		 pipefd[2] = { -1, -1 }, rc = 1;

	stop_signals(&stop);
	stats_claim();
	memset(&w, 0, sizeof(w));
	atomic_init(&w.failed, 0);
	atomic_init(&w.next_watch, 0);
	w.fd = fd;
	w.handler = &svc->handler;
	w.peers = peers;
	w.params_ms = svc->settings.params_timeout_ms;
	w.body_ms = svc->settings.body_timeout_ms;
	if ((threads = calloc((size_t)n, sizeof(*threads))) == NULL ||
	    (w.reaper = reaper_new((size_t)n)) == NULL) {
		log_err("cannot start the worker: %s", strerror(errno));
		goto done;
	}
	if (pipe2(pipefd, O_CLOEXEC) == -1) {
		log_err("pipe: %s", strerror(errno));
		goto done;
	}
	w.wake = pipefd[0];
	/* jansson seeds its hashes on first use: before the threads. */
	json_object_seed(0);
#ifdef HAVE_MALLOPT
	/*
	 * glibc gives each thread an arena of its own, up to eight per
	 * CPU, and each keeps pages of the largest body its thread served
	 * around the chunks still in use: after 97 KB bodies 16 threads
	 * held 14.5 MB.  Two arenas share the threads (tcache still serves
	 * most allocations without a lock) and keep a worker near 7 MB.
	 */
	mallopt(M_ARENA_MAX, WORKER_ARENAS);
#endif
	if ((started = start_threads(&w, threads, n)) == n)
		wait_stop(&stop, notifier);
	/* Readable from now on: every thread waiting for a request wakes. */
	if (write(pipefd[1], "", 1) == -1)
		log_err("wake pipe: %s", strerror(errno));
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	rc = atomic_load(&w.failed) ? 1 : 0;
done:
	if (pipefd[0] != -1) {
		close(pipefd[0]);
		close(pipefd[1]);
	}
	reaper_free(w.reaper);
	free(threads);
	return rc;
}

/* The supervisor's part: what a worker process is started with. */
struct pool {
	struct service			*svc;
	const struct listener_peers	*peers;
	int				 fd;
	pid_t				*pids;	/* 0: none; -1: to restart */
	long				 n, alive;
	long				 last_spawn_ms;
};

static pid_t
spawn(struct pool *p)
{
	sigset_t	chld;
	pid_t		pid;

	if ((pid = fork()) == -1) {
		log_err("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int rc;

		/* The stop signals stay blocked, for run_worker's sigwait. */
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		sigprocmask(SIG_UNBLOCK, &chld, NULL);
		rc = run_worker(p->fd, p->svc, p->peers, NULL);
		service_close(p->svc);
		io_shutdown();
		_exit(rc);
	}
	p->alive++;
	return pid;
}

/*
 * Collect the workers that exited; one that failed while we are not
 * stopping is marked for a restart.  1 when one failed after the stop.
 */
static int
reap_workers(struct pool *p, int stopping)
{
	pid_t	pid;
	long	i;
	int	status, failed = 0;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < p->n && p->pids[i] != pid; i++)
			;
		if (i == p->n)
			continue;
		p->pids[i] = 0;
		p->alive--;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		if (stopping) {
			failed = 1;
			continue;
		}
		log_warn("worker %ld exited (%s %d); restarting", (long)pid,
		    WIFEXITED(status) ? "status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		p->pids[i] = -1;
	}
	return failed;
}

/*
 * Restart the workers that are due, at most one a second, so that a
 * worker that dies at once does not spin.  The time to wait until the
 * next may start, in ms; -1 when none waits.
 */
static long
spawn_due(struct pool *p)
{
	long	i, now;

	for (i = 0; i < p->n; i++) {
		if (p->pids[i] != -1)
			continue;
		now = monotonic_ms();
		if (p->last_spawn_ms != 0 && now - p->last_spawn_ms < 1000)
			return p->last_spawn_ms + 1000 - now;
		p->last_spawn_ms = now;
		p->pids[i] = spawn(p);
	}
	return -1;
}

static void
stop_workers(struct pool *p)
{
	long i;

	for (i = 0; i < p->n; i++)
		if (p->pids[i] > 0)
			kill(p->pids[i], SIGTERM);
}

/*
 * Several workers share the listening socket, each with its own database
 * connection.  The parent only restarts a worker that died and passes
 * SIGTERM on: each worker finishes the request in hand and exits.  The
 * signals stay blocked and are taken by sigtimedwait, never by a handler:
 * one that arrives while we fork or wait to restart a worker is pending,
 * not lost.  SIGCHLD wakes the wait when a worker exits.
 */
static int
supervise(int fd, struct service *svc, const struct listener_peers *peers,
    long n, struct notifier *notifier)
{
	struct pool	 p = { .svc = svc, .peers = peers, .fd = fd, .n = n };
	struct timespec	 ts;
	sigset_t	 set;
	long		 i, wait_ms;
	int		 sig, stopping = 0, rc = 0;

	stop_signals(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((p.pids = calloc((size_t)n, sizeof(*p.pids))) == NULL) {
		log_err("out of memory");
		return 1;
	}
	p.last_spawn_ms = monotonic_ms();
	for (i = 0; i < n; i++)
		p.pids[i] = spawn(&p);
	for (;;) {
		rc |= reap_workers(&p, stopping);
		if (stopping && p.alive == 0)
			break;
		/* Bounded even so: a lost SIGCHLD costs a second at most. */
		wait_ms = stopping ? -1 : spawn_due(&p);
		if (wait_ms < 0 || wait_ms > 1000)
			wait_ms = 1000;
		ts.tv_sec = wait_ms / 1000;
		ts.tv_nsec = (wait_ms % 1000) * 1000000;
		if (!stopping)
			notifier_tick(notifier);
		sig = sigtimedwait(&set, NULL, &ts);
		if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
			stopping = 1;
			notifier_stopping(notifier);
			stop_workers(&p);
		}
	}
	free(p.pids);
	return rc;
}

/* The peers admitted, and the listener, opened or checked. */
static int
open_fastcgi(const struct options *o, const struct settings *s, int *fd,
    struct listener_peers *peers, struct error *err)
{
	int pub = o->listen_public || s->listen_public, flags;

	if (listener_parse_peers(peers, getenv("FCGI_WEB_SERVER_ADDRS"),
	    err) == -1)
		return -1;
	if (o->listen != NULL) {
		if ((*fd = listener_open(o->listen, (int)o->backlog, pub,
		    err)) == -1)
			return -1;
	} else if (listener_check(*fd, pub, err) == -1)
		return -1;
	if ((flags = fcntl(*fd, F_GETFL)) == -1 ||
	    fcntl(*fd, F_SETFL, flags | O_NONBLOCK) == -1) {
		error_set(err, ERROR_INTERNAL, "", "listening socket: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* FastCGI on fd, or on o->listen; the stop signals are blocked. */
static int
run_fastcgi(const struct options *o, int fd)
{
	struct listener_peers	 peers;
	struct service		 svc;
	struct notifier		 notifier;
	struct error		 err;
	int			 rc = 1;

	error_init(&err);
	if (service_open(&svc, o->workers, o->threads, &err) == -1 ||
	    open_fastcgi(o, &svc.settings, &fd, &peers, &err) == -1) {
		log_err("%s", err.text);
		goto done;
	}
	log_info("%ld worker%s of %ld threads, a database connection each",
	    svc.settings.workers, svc.settings.workers == 1 ? "" : "s",
	    svc.settings.threads);
	/* Mapped before the workers fork: they share it. */
	stats_start(svc.settings.state_dir, 0);
	notifier_init(&notifier, &svc, svc.settings.workers);
	rc = svc.settings.workers > 1 ?
	    supervise(fd, &svc, &peers, svc.settings.workers, &notifier) :
	    run_worker(fd, &svc, &peers, &notifier);
	stats_close();
done:
	service_close(&svc);
	return rc;
}

/*
 * systemd socket activation without StandardInput=socket: the socket is
 * fd 3 when LISTEN_PID names us.  -1 when not activated that way.
 */
static int
systemd_listener(void)
{
	const char	*pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	const char	*errstr;
	long		 p, n;

	if (pid == NULL || fds == NULL ||
	    parse_long(pid, 1, LONG_MAX, &p, &errstr) == -1 || p != getpid())
		return -1;
	if (parse_long(fds, 1, 1, &n, &errstr) == -1) {
		log_err("LISTEN_FDS \"%s\": want exactly one socket", fds);
		return -1;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return 3;
}

/* A number option in [min, max]; 0, or -1 after saying what is wrong. */
static int
number_option(const char *name, const char *arg, long min, long max,
    long *out)
{
	const char *errstr;

	if (parse_long(arg, min, max, out, &errstr) == 0)
		return 0;
	log_err("--%s \"%s\" is %s (want %ld to %ld)", name, arg, errstr, min,
	    max);
	return -1;
}

/*
 * Parse the command line into o.  -1 to go on; otherwise the exit status
 * (--help, --version, or 2 for a bad option).
 */
static int
parse_options(int argc, char *argv[], struct options *o)
{
	static const struct option longopts[] = {
		{ "listen",	required_argument,	NULL, 'l' },
		{ "listen-public", no_argument,		NULL, 'p' },
		{ "backlog",	required_argument,	NULL, 'b' },
		{ "workers",	required_argument,	NULL, 'w' },
		{ "threads",	required_argument,	NULL, 't' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	int ch, r;

	memset(o, 0, sizeof(*o));
	o->backlog = 128;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			o->listen = optarg;
			r = 0;
			break;
		case 'p':
			o->listen_public = 1;
			r = 0;
			break;
		case 'b':
			r = number_option("backlog", optarg, 1, 65535,
			    &o->backlog);
			break;
		case 'w':
			r = number_option("workers", optarg, 1,
			    SETTINGS_MAX_WORKERS, &o->workers);
			break;
		case 't':
			r = number_option("threads", optarg, 1,
			    SETTINGS_MAX_THREADS, &o->threads);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("meetergo-webhook %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (r == -1)
			return 2;
	}
	if (optind < argc) {
		log_err("unexpected argument \"%s\"", argv[optind]);
		return 2;
	}
	return -1;
}

int
main(int argc, char *argv[])
{
	struct options	o;
	sigset_t	stop;
	int		fd = -1, rc;

	log_init(argc > 0 ? argv[0] : NULL);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Blocked from the start, so that none is lost, nor taken by the
	 * handler FCGX_Init installs: the FastCGI server waits for them
	 * (sigwait, sigtimedwait).  Plain CGI takes them as it always has.
	 */
	stop_signals(&stop);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	if (FCGX_Init() != 0) {
		log_err("cannot initialise libfcgi");
		return 1;
	}
	/* libfcgi's handler would make every accept fail. */
	signal(SIGUSR1, SIG_IGN);

	/*
	 * Under CGI, Apache passes a query string without '=' as argv:
	 * the words are data, never options or commands.
	 */
	if (FCGX_IsCGI() && getenv("GATEWAY_INTERFACE") != NULL) {
		sigprocmask(SIG_UNBLOCK, &stop, NULL);
		rc = run_cgi();
		io_shutdown();
		return rc;
	}
	if ((rc = parse_options(argc, argv, &o)) != -1)
		return rc;
	if (o.listen != NULL)
		;		/* run_fastcgi opens it, once the settings are read */
	else if (!FCGX_IsCGI())
		fd = 0;		/* spawn-fcgi, systemd, mod_fcgid */
	else if ((fd = systemd_listener()) == -1) {
		log_err("not started as CGI (GATEWAY_INTERFACE unset) nor "
		    "FastCGI (stdin is not a listening socket); use --listen");
		return 2;
	}
	rc = run_fastcgi(&o, fd);
	io_shutdown();
	return rc;
}
