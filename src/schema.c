/* Versioned, idempotent schema migrations from the sql/ files. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pq.h"
#include "schema.h"
#include "util.h"

#define SCHEMA_FILE_MAX		(1024 * 1024)
#define SCHEMA_MAX_FILES	999
/* An arbitrary constant that names our advisory lock. */
#define SCHEMA_LOCK_KEY		"7388210567"

struct migration {
	int	 version;
	char	*name;
};

static int
by_version(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

/* "NNN_something.sql" gives NNN; anything else -1. */
static int
file_version(const char *name)
{
	size_t		 n = strlen(name);
	const char	*errstr;
	char		 num[4];
	long		 v;

	if (n < 9 || name[3] != '_' || strcmp(name + n - 4, ".sql") != 0)
		return -1;
	memcpy(num, name, 3);
	num[3] = '\0';
	if (parse_long(num, 1, SCHEMA_MAX_FILES, &v, &errstr) == -1)
		return -1;
	return (int)v;
}

static int
read_sql(const char *sqldir, const char *name, struct buf *b,
    struct error *err)
{
	char path[4096];

	if (snprintf(path, sizeof(path), "%s/%s", sqldir, name) >=
	    (int)sizeof(path)) {
		error_set(err, ERROR_INTERNAL, "", "path too long in \"%.80s\"",
		    sqldir);
		return -1;
	}
	buf_reset(b);
	if (buf_load(b, path) == -1) {
		error_set(err, ERROR_INTERNAL, "", "cannot read \"%s\": %s",
		    path, errno == EMSGSIZE ? "too large" : strerror(errno));
		return -1;
	}
	return 0;
}

/* Run sql, naming what it was for in the message when it fails. */
static PGresult *
run_query(struct db *db, const char *sql, const char *what,
    struct error *err)
{
	PGresult	*res;
	struct error	 e;

	error_init(&e);
	if ((res = db_exec(db, sql, 0, NULL, &e)) == NULL)
		error_set(err, e.kind, "", "%s: %s", what, e.text);
	return res;
}

static int
run_step(struct db *db, const char *sql, const char *what,
    struct error *err)
{
	PGresult *res;

	if ((res = run_query(db, sql, what, err)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static int
read_version(struct db *db, int *version, struct error *err)
{
	PGresult	*res;
	const char	*errstr;
	long		 v = 0;
	int		 rc = -1;

	if ((res = run_query(db, "SELECT coalesce(max(version), 0)::text "
	    "FROM meetergo.schema_version", "reading the schema version",
	    err)) == NULL)
		return -1;
	if (parse_long(PQgetvalue(res, 0, 0), 0, SCHEMA_MAX_FILES, &v,
	    &errstr) == -1) {
		error_set(err, ERROR_INTERNAL, "", "schema version \"%s\" is "
		    "%s", PQgetvalue(res, 0, 0), errstr);
		goto done;
	}
	*version = (int)v;
	rc = 0;
done:
	PQclear(res);
	return rc;
}

/*
 * May this role run meetergo.store_event?  Not when an upgrade dropped or
 * renamed it, nor when the grant is missing: the database is up, yet it
 * cannot take events.  0, or -1 with err.
 */
static int
check_store(struct db *db, struct error *err)
{
	PGresult	*res;
	int		 rc = 0;

	if ((res = run_query(db, "SELECT has_function_privilege("
	    "'meetergo.store_event(text, text, text, text, text, jsonb, "
	    "jsonb)', 'EXECUTE')", "checking meetergo.store_event",
	    err)) == NULL)
		return -1;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		error_set(err, ERROR_INTERNAL, "", "this role may not run "
		    "meetergo.store_event (run meetergo-webhookctl migrate "
		    "--roles, and grant meetergo_writer)");
		rc = -1;
	}
	PQclear(res);
	return rc;
}

int
schema_check(struct db *db, struct error *err)
{
	struct error	e;
	int		version = 0, attempt;

	/* A connection kept since the last request may have died since. */
	for (attempt = 0;; attempt++) {
		error_init(&e);
		if (read_version(db, &version, &e) == 0)
			break;
		if (!db_retry(db, &e, attempt)) {
			error_set(err, e.kind, e.path, "%s", e.text);
			return -1;
		}
	}
	if (version == SCHEMA_VERSION && check_store(db, err) == -1)
		return -1;
	if (version != SCHEMA_VERSION) {
		error_set(err, ERROR_INTERNAL, "", "database schema is at "
		    "version %d, this program wants %d (run meetergo-webhookctl "
		    "migrate)", version, SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

int
schema_version(struct db *db, int *version, struct error *err)
{
	PGresult	*res;
	int		 exists;

	if ((res = db_exec(db, "SELECT to_regclass('meetergo.schema_version') "
	    "IS NOT NULL", 0, NULL, err)) == NULL)
		return -1;
	exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!exists) {
		*version = 0;
		return 0;
	}
	return read_version(db, version, err);
}

int
schema_apply(struct db *db, const char *sqldir, const char *name,
    struct error *err)
{
	struct buf	text;
	int		rc = -1;

	buf_init(&text, SCHEMA_FILE_MAX);
	if (read_sql(sqldir, name, &text, err) == -1 ||
	    db_begin(db, err) == -1)
		goto done;
	if (run_step(db, buf_str(&text), name, err) == -1 ||
	    run_step(db, "COMMIT", "commit", err) == -1) {
		db_rollback(db);
		goto done;
	}
	rc = 0;
done:
	buf_release(&text);
	return rc;
}

static int
record_version(struct db *db, const struct migration *m, struct error *err)
{
	char		 num[16];
	const char	*params[2] = { num, m->name };
	PGresult	*res;
	struct error	 e;

	snprintf(num, sizeof(num), "%d", m->version);
	error_init(&e);
	if ((res = db_exec(db, "INSERT INTO meetergo.schema_version "
	    "(version, name) VALUES ($1::integer, $2)", 2, params,
	    &e)) == NULL) {
		error_set(err, e.kind, "", "recording schema version %d "
		    "failed: %s", m->version, e.text);
		return -1;
	}
	PQclear(res);
	return 0;
}

/*
 * The "NNN_name.sql" files of sqldir, by version: *mp and *np, which the
 * caller frees with free_migrations.  0, or -1 with err.
 */
static int
list_migrations(const char *sqldir, struct migration **mp, size_t *np,
    struct error *err)
{
	struct migration	*m;
	struct dirent		*de;
	DIR			*dir;
	size_t			 n = 0, i;
	int			 v;

	*mp = NULL;
	*np = 0;
	if ((dir = opendir(sqldir)) == NULL) {
		error_set(err, ERROR_INTERNAL, "", "cannot open the SQL "
		    "directory \"%s\": %s", sqldir, strerror(errno));
		return -1;
	}
	if ((*mp = m = calloc(SCHEMA_MAX_FILES, sizeof(*m))) == NULL)
		goto nomem;
	while ((de = readdir(dir)) != NULL) {
		if ((v = file_version(de->d_name)) == -1)
			continue;
		if (n == SCHEMA_MAX_FILES ||
		    (m[n].name = strdup(de->d_name)) == NULL)
			goto nomem;
		m[n].version = v;
		*np = ++n;
	}
	closedir(dir);
	if (n == 0) {
		error_set(err, ERROR_INTERNAL, "", "no NNN_name.sql files in "
		    "\"%s\"", sqldir);
		return -1;
	}
	qsort(m, n, sizeof(*m), by_version);
	for (i = 1; i < n; i++)
		if (m[i].version == m[i - 1].version) {
			error_set(err, ERROR_INTERNAL, "", "\"%s\" and \"%s\" "
			    "have the same version", m[i - 1].name, m[i].name);
			return -1;
		}
	return 0;
nomem:
	closedir(dir);
	error_set(err, ERROR_INTERNAL, "", "out of memory");
	return -1;
}

static void
free_migrations(struct migration *m, size_t n)
{
	while (n > 0)
		free(m[--n].name);
	free(m);
}

/* Two operators migrating at once take turns. */
static const struct {
	const char	*what;
	const char	*sql;
} migrate_begin[] = {
	{ "lock", "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK_KEY ")" },
	{ "set", "SET LOCAL client_min_messages = warning" },
	{ "schema", "CREATE SCHEMA IF NOT EXISTS meetergo" },
	{ "schema_version", "CREATE TABLE IF NOT EXISTS "
	    "meetergo.schema_version (version integer PRIMARY KEY, "
	    "name text NOT NULL, "
	    "applied_at timestamptz NOT NULL DEFAULT now())" },
};

int
schema_migrate(struct db *db, const char *sqldir, int *from, int *to,
    struct error *err)
{
	struct migration	*m;
	struct buf		 text;
	size_t			 n, i;
	int			 rc = -1;

	buf_init(&text, SCHEMA_FILE_MAX);
	if (list_migrations(sqldir, &m, &n, err) == -1)
		goto done;
	if (db_begin(db, err) == -1)
		goto done;
	for (i = 0; i < sizeof(migrate_begin) / sizeof(migrate_begin[0]); i++)
		if (run_step(db, migrate_begin[i].sql, migrate_begin[i].what,
		    err) == -1)
			goto rollback;
	if (read_version(db, from, err) == -1)
		goto rollback;
	for (*to = *from, i = 0; i < n; i++) {
		if (m[i].version <= *from)
			continue;
		if (read_sql(sqldir, m[i].name, &text, err) == -1 ||
		    run_step(db, buf_str(&text), m[i].name, err) == -1 ||
		    record_version(db, &m[i], err) == -1)
			goto rollback;
		*to = m[i].version;
	}
	if (run_step(db, "COMMIT", "commit", err) == -1)
		goto done;
	rc = 0;
	goto done;
rollback:
	db_rollback(db);
done:
	free_migrations(m, n);
	buf_release(&text);
	return rc;
}
