/* meetergo-webhook: the responder, as plain CGI or a FastCGI server. */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "db.h"
#include "handler.h"
#include "io.h"
#include "log.h"
#include "settings.h"
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
	    "\n"
	    "Receives meetergo webhooks and stores them in PostgreSQL.\n"
	    "Runs as plain CGI when GATEWAY_INTERFACE is set, as FastCGI\n"
	    "when standard input is a listening socket (spawn-fcgi, systemd,\n"
	    "mod_fcgid), or as a FastCGI server on ADDR:\n"
	    "\n"
	    "  --listen ADDR   HOST:PORT, :PORT or unix:/PATH\n"
	    "  --backlog N     listen queue length (default 128)\n"
	    "  --workers N     worker processes, each serving one request at\n"
	    "                  a time on its own database connection (default\n"
	    "                  MEETERGO_WEBHOOK_WORKERS, else 1)\n"
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
	struct settings	 settings;
	struct error	 err;
	struct handler	 h;
	struct io	 io;
	struct db	*db;

	settings_init(&settings);
	error_init(&err);
	settings_load(&settings, &err);
	if ((db = db_new(&settings)) == NULL) {
		log_err("out of memory");
		return 1;
	}
	handler_init(&h, &settings, error_isset(&err) ? &err : NULL, db);
	io_init_cgi(&io);
	handler_serve(&h, &io);
	/* The answer is complete once stdout closes; then help the spool. */
	fclose(stdout);
	close(STDOUT_FILENO);
	handler_idle(&h);
	handler_release(&h);
	db_free(db);
	settings_release(&settings);
	return 0;
}

/* One worker: accept and serve until SIGTERM. */
static int
serve(int fd, const struct settings *settings)
{
	struct handler	 h;
	struct io	 io;
	struct db	*db;
	FCGX_Request	 req;
	sigset_t	 term, waitmask;
	int		 r, rc = 1;

	if ((db = db_new(settings)) == NULL) {
		log_err("out of memory");
		return 1;
	}
	if (FCGX_InitRequest(&req, fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_err("cannot set up the FastCGI request");
		db_free(db);
		return 1;
	}
	handler_init(&h, settings, NULL, db);

	/*
	 * SIGTERM is let in only while waiting for a request, by ppoll, which
	 * unblocks it atomically: a request in hand is always finished, and
	 * no signal can slip in between a check of quit and the wait.  The
	 * socket is non-blocking, so when another worker took the connection
	 * accept fails with EAGAIN instead of sleeping with SIGTERM blocked.
	 */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	sigprocmask(SIG_BLOCK, &term, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	for (;;) {
		struct pollfd pfd;

		if (quit)
			break;
		/* A kept connection (FCGI_KEEP_CONN) brings the next one. */
		pfd.fd = req.ipcFd >= 0 ? req.ipcFd : fd;
		pfd.events = POLLIN;
		if (ppoll(&pfd, 1, NULL, &waitmask) == -1) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			break;
		}
		if ((r = FCGX_Accept_r(&req)) < 0) {
			if (r == -EAGAIN || r == -EWOULDBLOCK || r == -EINTR)
				continue;
			log_err("FastCGI accept failed: %s", strerror(-r));
			break;
		}
		io_init_fcgx(&io, &req);
		handler_serve(&h, &io);
		FCGX_Finish_r(&req);
		if (!quit)
			handler_idle(&h);
	}
	rc = quit ? 0 : 1;
	FCGX_Free(&req, 1);
	handler_release(&h);
	db_free(db);
	return rc;
}

static pid_t
spawn(int fd, const struct settings *settings)
{
	pid_t pid;

	if ((pid = fork()) == -1) {
		log_err("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int rc = serve(fd, settings);

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
supervise(int fd, const struct settings *settings, long n)
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
		if ((pids[i] = spawn(fd, settings)) > 0)
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
				if ((pids[i] = spawn(fd, settings)) > 0) {
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
run_fastcgi(int fd, long workers)
{
	struct sigaction sa;
	struct settings	 settings;
	struct error	 err;
	int		 flags, rc;

	settings_init(&settings);
	error_init(&err);
	if (settings_load(&settings, &err) == -1) {
		log_err("%s", err.text);
		return 1;
	}
	if (workers == 0)
		workers = settings.workers;
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
		log_err("listening socket: %s", strerror(errno));
		settings_release(&settings);
		return 1;
	}

	/* No SA_RESTART: a blocked accept or wait must return on SIGTERM. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	rc = workers > 1 ? supervise(fd, &settings, workers) :
	    serve(fd, &settings);
	settings_release(&settings);
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

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "listen",	required_argument,	NULL, 'l' },
		{ "backlog",	required_argument,	NULL, 'b' },
		{ "workers",	required_argument,	NULL, 'w' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	const char	*listen_addr = NULL, *errstr;
	long		 backlog = 128, workers = 0;
	int		 ch, fd, rc;

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

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			listen_addr = optarg;
			break;
		case 'b':
			if (parse_long(optarg, 1, 65535, &backlog,
			    &errstr) == -1) {
				log_err("--backlog \"%s\" is %s (want 1 to "
				    "65535)", optarg, errstr);
				return 2;
			}
			break;
		case 'w':
			if (parse_long(optarg, 1, SETTINGS_MAX_WORKERS, &workers,
			    &errstr) == -1) {
				log_err("--workers \"%s\" is %s (want 1 to %d)",
				    optarg, errstr, SETTINGS_MAX_WORKERS);
				return 2;
			}
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
	}
	if (optind < argc) {
		log_err("unexpected argument \"%s\"", argv[optind]);
		return 2;
	}

	if (listen_addr != NULL) {
		if ((fd = open_listener(listen_addr, (int)backlog)) < 0)
			return 1;
	} else if (!FCGX_IsCGI()) {
		fd = 0;		/* spawn-fcgi, systemd, mod_fcgid */
	} else if ((fd = systemd_listener()) == -1) {
		log_err("not started as CGI (GATEWAY_INTERFACE unset) nor "
		    "FastCGI (stdin is not a listening socket); use --listen");
		return 2;
	}
	rc = run_fastcgi(fd, workers);
	io_shutdown();
	return rc;
}
