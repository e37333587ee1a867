/* meetergo-webhookctl: migrate, check, drain, replay, ingest, prune, forget. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "buf.h"
#include "erase.h"
#include "log.h"
#include "metrics.h"
#include "replay.h"
#include "response.h"
#include "retention.h"
#include "schema.h"
#include "service.h"
#include "spool.h"
#include "stats.h"

#ifndef PKGDATADIR
#define PKGDATADIR "/usr/local/share/meetergo-webhook"
#endif

struct ctl {
	struct service	 svc;		/* a group of one: events one by one */
	const char	*sqldir;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: meetergo-webhookctl [--sql-dir DIR] COMMAND [ARG...]\n"
	    "\n"
	    "commands:\n"
	    "  migrate [--roles]\n"
	    "                 create or upgrade the schema (safe to repeat);\n"
	    "                 --roles also grants meetergo_writer and\n"
	    "                 meetergo_reader their privileges\n"
	    "  check          settings, database, schema version and spool\n"
	    "  drain [--retry-failed]\n"
	    "                 load spooled events into the database;\n"
	    "                 --retry-failed first moves the files set\n"
	    "                 aside in failed/ back.  As root, it runs as\n"
	    "                 the spool directory's owner\n"
	    "  replay         rebuild the booking tables from the event log\n"
	    "  ingest FILE... store payload files as if they were delivered\n"
	    "  stats [--prometheus] the responders' counters, and the spool\n"
	    "  prune --older-than DURATION [--dry-run]\n"
	    "                 delete events and set-aside spool files older\n"
	    "                 than DURATION (90d; s, m, h, d or w)\n"
	    "  forget --email ADDRESS [--dry-run]\n"
	    "                 erase a person's data from the tables, the\n"
	    "                 payloads and the spool\n"
	    "\n"
	    "options:\n"
	    "  --sql-dir DIR  migrations directory (default %s,\n"
	    "                 or MEETERGO_WEBHOOK_SQL_DIR)\n"
	    "  --help         show this help\n"
	    "  --version      show the version\n"
	    "\n"
	    "Settings come from MEETERGO_WEBHOOK_* environment variables;\n"
	    "see meetergo-webhookctl(8).\n", PKGDATADIR);
}

static int
cmd_migrate(struct ctl *c, int argc, char **argv)
{
	struct error	 err;
	int		 from = 0, to = 0, roles = 0;

	error_init(&err);
	if (argc == 1 && strcmp(argv[0], "--roles") == 0)
		roles = 1;
	else if (argc != 0) {
		log_err("usage: migrate [--roles]");
		return 2;
	}
	if (schema_migrate(c->svc.db, c->sqldir, &from, &to, &err) == -1) {
		log_err("migrate: %s", err.text);
		return 1;
	}
	if (from == to)
		printf("schema is at version %d, nothing to do\n", to);
	else
		printf("schema migrated from version %d to %d\n", from, to);
	if (roles) {
		if (schema_apply(c->svc.db, c->sqldir, "roles.sql",
		    &err) == -1) {
			log_err("migrate --roles: %s", err.text);
			return 1;
		}
		printf("roles meetergo_writer and meetergo_reader granted\n");
	}
	return 0;
}

/* What check says of the settings; 1 when they cannot work. */
static int
check_settings(const struct settings *s)
{
	if (s->auth == AUTH_TOKEN && s->ntokens == 0) {
		printf("settings: MEETERGO_WEBHOOK_TOKEN is not set: every "
		    "POST would be refused\n");
		return 1;
	}
	printf("settings: ok (auth %s, %zu token%s, max body %ld bytes, "
	    "database timeout %ld ms%s)\n",
	    s->auth == AUTH_NONE ? "none" : "token", s->ntokens,
	    s->ntokens == 1 ? "" : "s", s->max_body, s->db_timeout_ms,
	    s->nsigning_keys > 0 ? ", signatures required" : "");
	return 0;
}

static int
check_database(struct db *db)
{
	struct error	err;
	char		server[200], session[200];
	int		version = 0;

	error_init(&err);
	if (db_describe(db, server, sizeof(server), session, sizeof(session),
	    &err) == -1) {
		printf("database: %s\n", err.text);
		return 1;
	}
	printf("database: reachable (%s)\n", server);
	printf("session: %s\n", session);
	if (schema_version(db, &version, &err) == -1) {
		printf("schema: %s\n", err.text);
		return 1;
	}
	if (version != SCHEMA_VERSION) {
		printf("schema: version %d, want %d (run meetergo-webhookctl "
		    "migrate)\n", version, SCHEMA_VERSION);
		return 1;
	}
	printf("schema: version %d\n", version);
	return 0;
}

/*
 * What check says of the spool; 1 when it cannot take events, or when
 * events answered 200 are set aside in failed/ and wait for an operator.
 */
static int
check_spool(const struct settings *s)
{
	struct spool_state	ss;
	struct spool		sp;
	struct stat		st;
	long			failed;

	if (s->spool_dir == NULL) {
		printf("spool: not configured (503 while the database is "
		    "away)\n");
		return 0;
	}
	if (stat(s->spool_dir, &st) == -1 || !S_ISDIR(st.st_mode) ||
	    access(s->spool_dir, W_OK | X_OK) == -1) {
		printf("spool: \"%s\" is not a writable directory\n",
		    s->spool_dir);
		return 1;
	}
	spool_init(&sp, s->spool_dir, s->spool_max_files, s->spool_max_bytes);
	if (spool_scan(&sp, &ss) == -1 || (failed = spool_failed(&sp)) == -1) {
		printf("spool: \"%s\" cannot be read: %s\n", s->spool_dir,
		    strerror(errno));
		return 1;
	}
	printf("spool: \"%s\" is writable, %ld file%s (%ld bytes) waiting",
	    s->spool_dir, ss.files, ss.files == 1 ? "" : "s", ss.bytes);
	if (ss.oldest >= 0)
		printf(", the oldest spooled %ld s ago", ss.oldest);
	printf("\n");
	if (ss.tmp_files > 0)
		printf("spool: %ld temporary file%s (%ld bytes) being written "
		    "or left by a crash (removed by drain after %d s)\n",
		    ss.tmp_files, ss.tmp_files == 1 ? "" : "s", ss.tmp_bytes,
		    SPOOL_TMP_GRACE);
	if (failed == 0)
		return 0;
	printf("spool: %ld file%s set aside in \"%s/failed\" (see the "
	    ".reason beside each; \"meetergo-webhookctl drain "
	    "--retry-failed\" puts them back)\n", failed,
	    failed == 1 ? "" : "s", s->spool_dir);
	return 1;
}

static int
cmd_check(struct ctl *c, int argc, char **argv)
{
	int bad;

	if (argc != 0) {
		log_err("check takes no arguments");
		return 2;
	}
	bad = check_settings(&c->svc.settings);
	bad |= check_database(c->svc.db);
	bad |= check_spool(&c->svc.settings);
	return bad;
}

/*
 * The spool only reads files of its directory's owner, and root's would
 * be unreadable to the responder: as root, become that owner first.  A
 * spool owned by root stays root's.  0, or -1 after saying why not.
 */
static int
become_spool_owner(const struct settings *s, const char *cmd)
{
	struct passwd	*pw;
	struct stat	 st;
	gid_t		 gid;

	if (geteuid() != 0 || s->spool_dir == NULL)
		return 0;
	if (stat(s->spool_dir, &st) == -1) {
		log_err("%s: spool \"%s\": %s", cmd, s->spool_dir,
		    strerror(errno));
		return -1;
	}
	if (st.st_uid == 0)
		return 0;
	pw = getpwuid(st.st_uid);
	gid = pw != NULL ? pw->pw_gid : st.st_gid;
	if ((pw != NULL ? initgroups(pw->pw_name, gid) :
	    setgroups(0, NULL)) == -1 || setgid(gid) == -1 ||
	    setuid(st.st_uid) == -1 || setuid(0) != -1) {
		log_err("%s: running as root, cannot become uid %ld, the owner "
		    "of the spool \"%s\": %s", cmd, (long)st.st_uid,
		    s->spool_dir, strerror(errno));
		return -1;
	}
	log_info("%s: running as root: switched to uid %ld (%s), the owner "
	    "of the spool \"%s\"", cmd, (long)st.st_uid,
	    pw != NULL ? pw->pw_name : "no name", s->spool_dir);
	return 0;
}

static int
cmd_drain(struct ctl *c, int argc, char **argv)
{
	struct error	err;
	long		done = 0, moved = 0;
	int		rc, retry = 0;

	if (argc == 1 && strcmp(argv[0], "--retry-failed") == 0)
		retry = 1;
	else if (argc != 0) {
		log_err("usage: drain [--retry-failed]");
		return 2;
	}
	if (become_spool_owner(&c->svc.settings, "drain") == -1)
		return 1;
	error_init(&err);
	if (retry) {
		if (handler_retry_failed(&c->svc.handler, &moved, &err) == -1) {
			log_err("drain --retry-failed: %s", err.text);
			return 1;
		}
		printf("moved %ld set-aside file%s back\n", moved,
		    moved == 1 ? "" : "s");
	}
	rc = handler_drain(&c->svc.handler, &done, &err);
	printf("drained %ld file%s\n", done, done == 1 ? "" : "s");
	if (rc == -1) {
		log_err("drain: %s", err.text);
		return 1;
	}
	return 0;
}

static int
cmd_replay(struct ctl *c, int argc, char **argv)
{
	struct error	err;
	long		applied, total;

	if (argc != 0) {
		log_err("replay takes no arguments");
		return 2;
	}
	error_init(&err);
	if (replay_run(c->svc.db, c->svc.settings.keep_secret, &applied,
	    &total, &err) == -1) {
		log_err("replay: %s", err.text);
		return 1;
	}
	printf("replayed %ld events, %ld applied\n", total, applied);
	return 0;
}

/* A payload file into b, refused as a request with that body would be. */
static int
read_payload(const char *path, struct buf *b, struct error *err)
{
	if (buf_load(b, path) == -1) {
		if (errno == EMSGSIZE)
			error_set(err, ERROR_TOO_LARGE, "", "over the limit of "
			    "%zu bytes", b->max);
		else
			error_set(err, ERROR_INTERNAL, "", "%s",
			    strerror(errno));
		return -1;
	}
	if (memchr(buf_str(b), '\0', b->len) != NULL) {
		error_set(err, ERROR_MALFORMED, "", "contains a NUL byte");
		return -1;
	}
	return 0;
}

static int
cmd_ingest(struct ctl *c, int argc, char **argv)
{
	struct buf	body;
	struct error	err;
	enum outcome	outcome;
	int		i, bad = 0;

	if (argc == 0) {
		log_err("ingest: name at least one FILE");
		return 2;
	}
	buf_init(&body, (size_t)c->svc.settings.max_body);
	for (i = 0; i < argc; i++) {
		error_init(&err);
		if (read_payload(argv[i], &body, &err) == -1 ||
		    handler_event(&c->svc.handler, buf_str(&body), body.len,
		    &outcome, &err) == -1) {
			printf("%s: failed (%d): %s\n", argv[i],
			    response_error_status(&err), err.text);
			bad = 1;
			continue;
		}
		if (outcome == OUTCOME_REJECTED) {
			printf("%s: rejected: %s\n", argv[i], err.text);
			bad = 1;
		} else
			printf("%s: %s\n", argv[i], response_word(outcome));
	}
	buf_release(&body);
	return bad;
}

/*
 * The counters of the responders sharing MEETERGO_WEBHOOK_STATE_DIR, and
 * the spool as it is now when MEETERGO_WEBHOOK_SPOOL_DIR is set here.  A
 * spool that cannot be read leaves its lines out and fails the command.
 */
static int
cmd_stats(struct ctl *c, int argc, char **argv)
{
	struct handler		*h = &c->svc.handler;
	struct stats_view	 v;
	struct spool_state	 ss;
	struct metrics		 m;
	struct error		 err;
	struct buf		 out;
	int			 prom = 0, rc = 0;

	if (argc == 1 && strcmp(argv[0], "--prometheus") == 0)
		prom = 1;
	else if (argc != 0) {
		log_err("usage: stats [--prometheus]");
		return 2;
	}
	error_init(&err);
	if (stats_view_open(&v, c->svc.settings.state_dir, &err) == -1) {
		log_err("stats: %s", err.text);
		return 1;
	}
	memset(&m, 0, sizeof(m));
	metrics_sum(&m, v.slots, v.nslots);
	m.processes = stats_view_running(&v);
	m.since = v.header->created;
	stats_view_close(&v);
	if (h->has_spool && (spool_scan(&h->spool, &ss) == -1 ||
	    (m.spool_failed = spool_failed(&h->spool)) == -1)) {
		log_err("stats: spool \"%s\": %s", h->spool.dir,
		    strerror(errno));
		rc = 1;
	} else if (h->has_spool) {
		m.has_spool = 1;
		m.spool_files = ss.files;
		m.spool_bytes = ss.bytes;
		m.spool_oldest = ss.oldest > 0 ? ss.oldest : 0;
	}
	buf_init(&out, 1024 * 1024);
	if ((prom ? metrics_prometheus : metrics_text)(&m, &out) == -1) {
		log_err("stats: %s", strerror(errno));
		rc = 1;
	} else
		fwrite(out.data, 1, out.len, stdout);
	buf_release(&out);
	return rc;
}

/* As drain does, so that rewritten spool files stay the owner's. */
static int
cmd_prune(struct ctl *c, int argc, char **argv)
{
	if (become_spool_owner(&c->svc.settings, "prune") == -1)
		return 1;
	return retention_cmd(&c->svc, argc, argv);
}

static int
cmd_forget(struct ctl *c, int argc, char **argv)
{
	if (become_spool_owner(&c->svc.settings, "forget") == -1)
		return 1;
	return erase_cmd(&c->svc, argc, argv);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "sql-dir",	required_argument,	NULL, 's' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	static const struct {
		const char	*name;
		int		 (*fn)(struct ctl *, int, char **);
	} cmds[] = {
		{ "migrate",	cmd_migrate },
		{ "check",	cmd_check },
		{ "drain",	cmd_drain },
		{ "replay",	cmd_replay },
		{ "ingest",	cmd_ingest },
		{ "stats",	cmd_stats },
		{ "prune",	cmd_prune },
		{ "forget",	cmd_forget },
	};
	struct ctl	 c;
	struct error	 err;
	size_t		 i;
	int		 ch, rc;

	log_init(argc > 0 ? argv[0] : NULL);
	memset(&c, 0, sizeof(c));
	c.sqldir = getenv("MEETERGO_WEBHOOK_SQL_DIR");
	if (c.sqldir == NULL || *c.sqldir == '\0')
		c.sqldir = PKGDATADIR;

	/* "+": stop at the command, so its arguments are its own. */
	while ((ch = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			c.sqldir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("meetergo-webhookctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		log_err("no command (try --help)");
		return 2;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[optind], cmds[i].name) == 0)
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0])) {
		log_err("unknown command \"%s\" (try --help)", argv[optind]);
		return 2;
	}

	error_init(&err);
	if (service_open(&c.svc, 1, 1, &err) == -1) {
		log_err("%s", err.text);
		service_close(&c.svc);
		return 1;
	}
	rc = cmds[i].fn(&c, argc - optind - 1, argv + optind + 1);
	service_close(&c.svc);
	return rc;
}
