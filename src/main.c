/* meetergo-webhook: the responder, as plain CGI or a FastCGI server. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <fcgios.h>

#include "db.h"
#include "handler.h"
#include "io.h"
#include "log.h"
#include "settings.h"
#include "util.h"

static volatile sig_atomic_t	quit;

static void
on_term(int sig)
{
	(void)sig;
	quit = 1;
	/* Only sets a flag in libfcgi: makes a blocked accept give up. */
	FCGX_ShutdownPending();
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: meetergo-webhook [--listen ADDR] [--backlog N]\n"
	    "\n"
	    "Receives meetergo webhooks and stores them in PostgreSQL.\n"
	    "Runs as plain CGI when GATEWAY_INTERFACE is set, as FastCGI\n"
	    "when standard input is a listening socket (spawn-fcgi, systemd,\n"
	    "mod_fcgid), or as a FastCGI server on ADDR:\n"
	    "\n"
	    "  --listen ADDR   HOST:PORT, :PORT or unix:/PATH\n"
	    "  --backlog N     listen queue length (default 128)\n"
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

static int
run_fastcgi(int fd)
{
	struct sigaction sa;
	struct settings	 settings;
	struct error	 err;
	struct handler	 h;
	struct io	 io;
	struct db	*db = NULL;
	FCGX_Request	 req;
	int		 rc = 1;

	settings_init(&settings);
	error_init(&err);
	if (settings_load(&settings, &err) == -1) {
		log_err("%s", err.text);
		return 1;
	}
	if ((db = db_new(&settings)) == NULL) {
		log_err("out of memory");
		goto done;
	}

	/* No SA_RESTART: a blocked accept must return on SIGTERM. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if (FCGX_InitRequest(&req, fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_err("cannot set up the FastCGI request");
		goto done;
	}
	handler_init(&h, &settings, NULL, db);
	while (!quit) {
		if (FCGX_Accept_r(&req) < 0) {
			if (!quit)
				log_err("FastCGI accept failed");
			break;
		}
		io_init_fcgx(&io, &req);
		handler_serve(&h, &io);
		FCGX_Finish_r(&req);
		if (!quit)
			handler_idle(&h);
	}
	FCGX_Free(&req, 1);
	handler_release(&h);
	rc = quit ? 0 : 1;
done:
	db_free(db);
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
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	const char	*listen_addr = NULL, *errstr;
	long		 backlog = 128;
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
	if (FCGX_IsCGI() && getenv("GATEWAY_INTERFACE") != NULL)
		return run_cgi();

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
	rc = run_fastcgi(fd);
	OS_LibShutdown();
	return rc;
}
