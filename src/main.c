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
#include "log.h"
#include "service.h"
#include "util.h"

static volatile sig_atomic_t	quit;

/*
 * Only a flag.  Not FCGX_ShutdownPending(): libfcgi then fails every read,
 * also of the body of the request in hand.
 */
static void
on_term(int sig)
{
	(void)sig;
	quit = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: meetergo-webhook [--listen ADDR] [--backlog N] [--workers N]\n"
	    "                        [--threads N]\n"
	    "\n"
	    "Receives meetergo webhooks and stores them in PostgreSQL.\n"
	    "Runs as plain CGI when GATEWAY_INTERFACE is set, as FastCGI\n"
	    "when standard input is a listening socket (spawn-fcgi, systemd,\n"
	    "mod_fcgid), or as a FastCGI server on ADDR:\n"
	    "\n"
	    "  --listen ADDR   HOST:PORT, :PORT or unix:/PATH\n"
	    "  --backlog N     listen queue length (default 128)\n"
	    "  --workers N     worker processes, each with its own database\n"
	    "                  connection (default MEETERGO_WEBHOOK_WORKERS,\n"
	    "                  else 1)\n"
	    "  --threads N     requests each worker serves at once; those that\n"
	    "                  arrive together share one commit (default\n"
	    "                  MEETERGO_WEBHOOK_THREADS, else 8)\n"
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
	if (service_open(&svc, 1, &err) == -1) {
		log_err("%s", err.text);
		handler_misconfigured(&io);
		service_close(&svc);
		return 0;
	}
	/* One request, one connection: nothing to prepare for. */
	db_unnamed(svc.db);
	buf_init(&body, (size_t)svc.settings.max_body);
	handler_serve(&svc.handler, &io, &body);
	/* The answer is complete once stdout closes; then help the spool. */
	fclose(stdout);
	close(STDOUT_FILENO);
	handler_idle(&svc.handler);
	buf_release(&body);
	service_close(&svc);
	return 0;
}

/* Each thread's events go into the group's batches. */
_Static_assert(SETTINGS_MAX_THREADS <= GROUP_MAX,
    "a worker has more threads than a batch has room");

/* A thread keeps a body buffer up to this size between requests. */
#define KEEP_BODY_BUFFER	(64 * 1024)

/* What the request threads of one worker process share. */
struct worker {
	struct handler		*handler;
	int			 fd;		/* listening socket */
	int			 wake;		/* readable once we are to stop */
	atomic_int		 failed;
};

/* A request thread: accept and serve until the wake pipe is readable. */
static void *
serve_requests(void *arg)
{
	struct worker	*w = arg;
	struct buf	 body;
	struct io	 io;
	FCGX_Request	 req;
	struct pollfd	 pfd[2];
	int		 r;

	if (FCGX_InitRequest(&req, w->fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_err("cannot set up the FastCGI request");
		goto fail;
	}
	buf_init(&body, (size_t)w->handler->settings->max_body);
	pfd[1].fd = w->wake;
	pfd[1].events = POLLIN;
	for (;;) {
		/* A kept connection (FCGI_KEEP_CONN) brings the next one. */
		pfd[0].fd = req.ipcFd >= 0 ? req.ipcFd : w->fd;
		pfd[0].events = POLLIN;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents != 0) {
			r = 0;
			goto done;
		}
		/*
		 * The socket is non-blocking: when another thread or worker
		 * took the connection, accept fails with EAGAIN.
		 */
		if ((r = FCGX_Accept_r(&req)) < 0) {
			if (r == -EAGAIN || r == -EWOULDBLOCK || r == -EINTR)
				continue;
			log_err("FastCGI accept failed: %s", strerror(-r));
			break;
		}
		io_init_fcgx(&io, &req);
		handler_serve(w->handler, &io, &body);
		FCGX_Finish_r(&req);
		/*
		 * After a large body, its buffer and the freed tree would stay
		 * in this thread's malloc arena: each thread would keep the
		 * most it ever needed.  Give them back.
		 */
		if (body.cap > KEEP_BODY_BUFFER) {
			buf_release(&body);
#ifdef HAVE_MALLOC_TRIM
			malloc_trim(0);
#endif
		}
		/* Not once we are to stop: a drain can take a while. */
		if (poll(&pfd[1], 1, 0) == 0)
			handler_idle(w->handler);
	}
	r = -1;
done:
	FCGX_Free(&req, 1);
	buf_release(&body);
	if (r == 0)
		return NULL;
fail:
	/* The process stops: the supervisor, if any, starts a new one. */
	atomic_store(&w->failed, 1);
	kill(getpid(), SIGTERM);
	return NULL;
}

/*
 * One worker process: its threads serve requests and share one database
 * connection through the group, which stores the events they have in hand
 * together.  Signals are blocked in every thread and taken here by
 * sigwait: a request in hand is always finished, SIGTERM only wakes the
 * threads that wait for one.
 */
static int
run_worker(int fd, struct service *svc)
{
	struct worker	 w;
	pthread_t	*threads = NULL;
	sigset_t	 term;
	long		 i, started = 0, n = svc->settings.threads;
	int		 pipefd[2] = { -1, -1 }, sig, rc = 1;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	pthread_sigmask(SIG_BLOCK, &term, NULL);

	memset(&w, 0, sizeof(w));
	atomic_init(&w.failed, 0);
	w.fd = fd;
	w.handler = &svc->handler;
	if ((threads = calloc((size_t)n, sizeof(*threads))) == NULL) {
		log_err("out of memory");
		goto done;
	}
	if (pipe2(pipefd, O_CLOEXEC) == -1) {
		log_err("pipe: %s", strerror(errno));
		goto done;
	}
	w.wake = pipefd[0];
	/* jansson seeds its hashes on first use: before the threads. */
	json_object_seed(0);
	for (i = 0; i < n; i++) {
		if ((errno = pthread_create(&threads[i], NULL, serve_requests,
		    &w)) != 0) {
			log_err("cannot start a thread: %s", strerror(errno));
			atomic_store(&w.failed, 1);
			break;
		}
		started++;
	}
	/* quit: a SIGTERM that came before it was blocked. */
	if (started == n && !quit)
		while (sigwait(&term, &sig) != 0)
			;
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
	free(threads);
	return rc;
}

static pid_t
spawn(int fd, struct service *svc)
{
	pid_t pid;

	if ((pid = fork()) == -1) {
		log_err("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int rc = run_worker(fd, svc);

		service_close(svc);
		io_shutdown();
		_exit(rc);
	}
	return pid;
}

/*
 * Several workers share the listening socket, each with its own database
 * connection.  The parent only restarts a worker that died and passes
 * SIGTERM on: each worker finishes the request in hand and exits.
 */
static int
supervise(int fd, struct service *svc, long n)
{
	pid_t	*pids;
	pid_t	 pid;
	time_t	 last_restart = 0;
	long	 i, alive = 0;
	int	 status, rc = 0;

	if ((pids = calloc((size_t)n, sizeof(*pids))) == NULL) {
		log_err("out of memory");
		return 1;
	}
	for (i = 0; i < n; i++)
		if ((pids[i] = spawn(fd, svc)) > 0)
			alive++;
	while (alive > 0) {
		if ((pid = waitpid(-1, &status, 0)) == -1) {
			if (errno != EINTR)
				break;
			if (quit)
				for (i = 0; i < n; i++)
					if (pids[i] > 0)
						kill(pids[i], SIGTERM);
			continue;
		}
		for (i = 0; i < n && pids[i] != pid; i++)
			;
		if (i == n)
			continue;
		pids[i] = 0;
		alive--;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			rc = 1;
			if (!quit) {
				log_warn("worker %ld exited (%s %d); restarting",
				    (long)pid, WIFEXITED(status) ? "status" :
				    "signal", WIFEXITED(status) ?
				    WEXITSTATUS(status) : WTERMSIG(status));
				/* A worker that dies at once must not spin. */
				if (time(NULL) - last_restart < 1)
					sleep(1);
				last_restart = time(NULL);
				if ((pids[i] = spawn(fd, svc)) > 0) {
					alive++;
					rc = 0;
				}
			}
		}
	}
	free(pids);
	return rc;
}

static int
run_fastcgi(int fd, long workers, long threads)
{
	struct sigaction sa;
	struct service	 svc;
	struct error	 err;
	int		 flags, rc = 1;

	error_init(&err);
	if (service_open(&svc, threads, &err) == -1) {
		log_err("%s", err.text);
		goto done;
	}
	if (workers == 0)
		workers = svc.settings.workers;
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
		log_err("listening socket: %s", strerror(errno));
		goto done;
	}

	/* No SA_RESTART: a blocked accept or wait must return on SIGTERM. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	rc = workers > 1 ? supervise(fd, &svc, workers) :
	    run_worker(fd, &svc);
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

static int
open_listener(const char *addr, int backlog)
{
	int fd;

	if (strncmp(addr, "unix:", 5) == 0) {
		addr += 5;
		if (*addr != '/') {
			log_err("--listen \"unix:%s\": want an absolute path",
			    addr);
			return -1;
		}
		/* A stale socket from an earlier run would make bind fail. */
		if (unlink(addr) == -1 && errno != ENOENT) {
			log_err("--listen: cannot remove \"%s\": %s", addr,
			    strerror(errno));
			return -1;
		}
	} else if (strchr(addr, ':') == NULL) {
		log_err("--listen \"%s\": want HOST:PORT, :PORT or "
		    "unix:/PATH", addr);
		return -1;
	}
	if ((fd = FCGX_OpenSocket(addr, backlog)) < 0) {
		log_err("--listen \"%s\": cannot listen", addr);
		return -1;
	}
	return fd;
}

/* The command line of the FastCGI modes. */
struct options {
	const char	*listen;	/* NULL: the inherited socket */
	long		 backlog;
	long		 workers;	/* 0: the setting */
	long		 threads;	/* 0: the setting */
};

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
	int		fd, rc;

	log_init(argc > 0 ? argv[0] : NULL);
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0) {
		log_err("cannot initialise libfcgi");
		return 1;
	}

	/*
	 * Under CGI, Apache passes a query string without '=' as argv:
	 * the words are data, never options or commands.
	 */
	if (FCGX_IsCGI() && getenv("GATEWAY_INTERFACE") != NULL) {
		rc = run_cgi();
		io_shutdown();
		return rc;
	}
	if ((rc = parse_options(argc, argv, &o)) != -1)
		return rc;
	if (o.listen != NULL) {
		if ((fd = open_listener(o.listen, (int)o.backlog)) < 0)
			return 1;
	} else if (!FCGX_IsCGI()) {
		fd = 0;		/* spawn-fcgi, systemd, mod_fcgid */
	} else if ((fd = systemd_listener()) == -1) {
		log_err("not started as CGI (GATEWAY_INTERFACE unset) nor "
		    "FastCGI (stdin is not a listening socket); use --listen");
		return 2;
	}
	rc = run_fastcgi(fd, o.workers, o.threads);
	io_shutdown();
	return rc;
}
