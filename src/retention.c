/* Retention: prune raw events and set-aside spool files past an age. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pq.h"
#include "retention.h"
#include "spool.h"
#include "util.h"

/*
 * Events deleted per transaction: each batch holds its row locks for a
 * moment only, and a delivery of one of those events waits that long.
 */
#define RETENTION_BATCH		"500"
#define RETENTION_BATCH_N	500

int
retention_parse(const char *str, long *seconds, const char **errstr)
{
	static const struct {
		char	unit;
		long	seconds;
	} units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
		{ 'w', 7 * 86400 },
	};
	char		 num[64];
	size_t		 n, i;
	long		 v;
	const char	*e;

	*errstr = "not a duration (a number and s, m, h, d or w, e.g. 90d)";
	if (str == NULL || (n = strlen(str)) < 2 || n > sizeof(num))
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (str[n - 1] == units[i].unit)
			break;
	if (i == sizeof(units) / sizeof(units[0]))
		return -1;
	memcpy(num, str, n - 1);
	num[n - 1] = '\0';
	if (parse_long(num, 0, LONG_MAX, &v, &e) == -1) {
		if (strcmp(e, "too large") == 0)
			*errstr = "too large (at most 100 years)";
		return -1;
	}
	if (v == 0) {
		*errstr = "must be more than zero";
		return -1;
	}
	if (v > RETENTION_MAX_SECONDS / units[i].seconds) {
		*errstr = "too large (at most 100 years)";
		return -1;
	}
	*seconds = v * units[i].seconds;
	return 0;
}

/* The database's now() less seconds, as timestamptz text, into cutoff. */
static int
db_cutoff(struct db *db, long seconds, char *cutoff, size_t size,
    struct error *err)
{
	PGresult	*res;
	char		 secs[24];

	snprintf(secs, sizeof(secs), "%ld", seconds);
	if ((res = db_exec(db, "SELECT (now() - $1::bigint * interval "
	    "'1 second')::text", 1, (const char *[]){ secs }, err)) == NULL)
		return -1;
	snprintf(cutoff, size, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* One number from a one-row result of sql; -1 with err. */
static long
db_count(struct db *db, const char *sql, int nparams,
    const char *const *params, struct error *err)
{
	PGresult	*res;
	long		 n;

	if ((res = db_exec(db, sql, nparams, params, err)) == NULL)
		return -1;
	if (db_count_at(res, 0, 0, &n, err) == -1)
		n = -1;
	PQclear(res);
	return n;
}

/* One batch in a transaction of its own: the events it deleted, or -1. */
static long
prune_batch(struct db *db, const char *cutoff, struct error *err)
{
	long n;

	if (db_begin(db, err) == -1)
		return -1;
	if ((n = db_count(db, "SELECT meetergo.prune_events($1::timestamptz, "
	    RETENTION_BATCH ")", 1, (const char *[]){ cutoff }, err)) == -1 ||
	    db_command(db, "COMMIT", err) == -1) {
		db_rollback(db);
		return -1;
	}
	return n;
}

/* The events past cutoff deleted (counted, when dry_run) into *events. */
static int
prune_events(struct db *db, const char *cutoff, int dry_run, long *events,
    struct error *err)
{
	long n;

	*events = 0;
	if (dry_run) {
		*events = db_count(db, "SELECT meetergo.prune_count("
		    "$1::timestamptz)", 1, (const char *[]){ cutoff }, err);
		return *events == -1 ? -1 : 0;
	}
	do {
		if ((n = prune_batch(db, cutoff, err)) == -1)
			return -1;
		*events += n;
	} while (n == RETENTION_BATCH_N);
	return 0;
}

static int
prune_usage(void)
{
	log_err("usage: prune --older-than DURATION [--dry-run]");
	return 2;
}

int
retention_cmd(struct service *svc, int argc, char **argv)
{
	struct spool	 sp;
	struct error	 err;
	const char	*age = NULL, *why;
	char		 cutoff[64];
	long		 seconds, events = 0, files = 0;
	int		 i, dry_run = 0;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0)
			dry_run = 1;
		else if (strcmp(argv[i], "--older-than") == 0 && i + 1 < argc)
			age = argv[++i];
		else
			return prune_usage();
	}
	if (age == NULL)
		return prune_usage();
	if (retention_parse(age, &seconds, &why) == -1) {
		log_err("prune: --older-than \"%.32s\": %s", age, why);
		return 2;
	}
	error_init(&err);
	if (db_cutoff(svc->db, seconds, cutoff, sizeof(cutoff), &err) == -1 ||
	    prune_events(svc->db, cutoff, dry_run, &events, &err) == -1)
		goto fail;
	if (svc->settings.spool_dir != NULL) {
		spool_init(&sp, svc->settings.spool_dir, 0, 0);
		if (spool_prune_failed(&sp, time(NULL) - seconds, dry_run,
		    &files, &err) == -1)
			goto fail;
	}
	printf("%s %ld event%s and %ld set-aside spool file%s older than "
	    "%s (before %s)\n", dry_run ? "would prune" : "pruned", events,
	    events == 1 ? "" : "s", files, files == 1 ? "" : "s", age,
	    cutoff);
	log_info("prune%s: %ld events, %ld set-aside spool files older than "
	    "%s", dry_run ? " --dry-run" : "", events, files, age);
	return 0;
fail:
	if (events > 0 && !dry_run)
		printf("pruned %ld event%s before the failure\n", events,
		    events == 1 ? "" : "s");
	log_err("prune: %s", err.text);
	return 1;
}
