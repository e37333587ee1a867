/* Versioned, idempotent schema migrations from the sql/ files. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
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
read_file(const char *path, struct buf *b, struct error *err)
{
	if (buf_load(b, path) == -1) {
		error_set(err, 500, "", "cannot read \"%s\": %s", path,
		    errno == EMSGSIZE ? "too large" : strerror(errno));
		return -1;
	}
	return 0;
}

static int
exec(PGconn *conn, const char *sql, const char *what, struct error *err)
{
	PGresult	*res = PQexec(conn, sql);
	const char	*msg;
	int		 rc = 0;

	if (res == NULL || (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)) {
		msg = res != NULL ? PQresultErrorMessage(res) :
		    PQerrorMessage(conn);
		error_set(err, 500, "", "%s: %.*s", what,
		    (int)strcspn(msg, "\n"), msg);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

static int
read_version(PGconn *conn, int *version, struct error *err)
{
	PGresult	*res;
	const char	*errstr, *msg;
	long		 v = 0;
	int		 rc = -1;

	res = PQexec(conn, "SELECT coalesce(max(version), 0)::text "
	    "FROM meetergo.schema_version");
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		msg = res != NULL ? PQresultErrorMessage(res) :
		    PQerrorMessage(conn);
		error_set(err, 500, "", "reading the schema version: %.*s",
		    (int)strcspn(msg, "\n"), msg);
		goto done;
	}
	if (parse_long(PQgetvalue(res, 0, 0), 0, SCHEMA_MAX_FILES, &v,
	    &errstr) == -1) {
		error_set(err, 500, "", "schema version \"%s\" is %s",
		    PQgetvalue(res, 0, 0), errstr);
		goto done;
	}
	*version = (int)v;
	rc = 0;
done:
	PQclear(res);
	return rc;
}

int
schema_version(PGconn *conn, int *version, struct error *err)
{
	PGresult	*res;
	int		 exists;

	res = PQexec(conn, "SELECT to_regclass('meetergo.schema_version') "
	    "IS NOT NULL");
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		error_set(err, 503, "", "database: %.*s",
		    (int)strcspn(PQerrorMessage(conn), "\n"),
		    PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!exists) {
		*version = 0;
		return 0;
	}
	return read_version(conn, version, err);
}

int
schema_apply(PGconn *conn, const char *sqldir, const char *name,
    struct error *err)
{
	struct buf	text;
	char		path[4096];
	int		rc = -1;

	buf_init(&text, SCHEMA_FILE_MAX);
	snprintf(path, sizeof(path), "%s/%s", sqldir, name);
	if (read_file(path, &text, err) == -1)
		goto done;
	if (exec(conn, "BEGIN", "begin", err) == -1)
		goto done;
	if (exec(conn, text.data != NULL ? text.data : "", name, err) == -1) {
		PQclear(PQexec(conn, "ROLLBACK"));
		goto done;
	}
	if (exec(conn, "COMMIT", "commit", err) == -1)
		goto done;
	rc = 0;
done:
	buf_release(&text);
	return rc;
}

static int
record_version(PGconn *conn, const struct migration *m, struct error *err)
{
	char		 num[16];
	const char	*params[2] = { num, m->name };
	PGresult	*res;
	int		 ok;

	snprintf(num, sizeof(num), "%d", m->version);
	res = PQexecParams(conn, "INSERT INTO meetergo.schema_version "
	    "(version, name) VALUES ($1::integer, $2)", 2, NULL, params,
	    NULL, NULL, 0);
	ok = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok)
		error_set(err, 500, "", "recording schema version %d failed",
		    m->version);
	return ok ? 0 : -1;
}

int
schema_migrate(PGconn *conn, const char *sqldir, int *from, int *to,
    struct error *err)
{
	struct migration	*m = NULL;
	struct dirent		*de;
	struct buf		 text;
	DIR			*dir = NULL;
	size_t			 n = 0, i;
	char			 path[4096];
	int			 rc = -1, v;

	buf_init(&text, SCHEMA_FILE_MAX);
	if ((dir = opendir(sqldir)) == NULL) {
		error_set(err, 500, "", "cannot open the SQL directory "
		    "\"%s\": %s", sqldir, strerror(errno));
		goto done;
	}
	if ((m = calloc(SCHEMA_MAX_FILES, sizeof(*m))) == NULL) {
		error_set(err, 500, "", "out of memory");
		goto done;
	}
	while ((de = readdir(dir)) != NULL) {
		if ((v = file_version(de->d_name)) == -1)
			continue;
		if (n == SCHEMA_MAX_FILES ||
		    (m[n].name = strdup(de->d_name)) == NULL) {
			error_set(err, 500, "", "out of memory");
			goto done;
		}
		m[n++].version = v;
	}
	if (n == 0) {
		error_set(err, 500, "", "no NNN_name.sql files in \"%s\"",
		    sqldir);
		goto done;
	}
	qsort(m, n, sizeof(*m), by_version);
	for (i = 1; i < n; i++)
		if (m[i].version == m[i - 1].version) {
			error_set(err, 500, "", "\"%s\" and \"%s\" have the "
			    "same version", m[i - 1].name, m[i].name);
			goto done;
		}

	if (exec(conn, "BEGIN", "begin", err) == -1)
		goto done;
	/* Two operators migrating at once take turns. */
	if (exec(conn, "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK_KEY ")",
	    "lock", err) == -1 ||
	    exec(conn, "SET LOCAL client_min_messages = warning", "set",
	    err) == -1 ||
	    exec(conn, "CREATE SCHEMA IF NOT EXISTS meetergo", "schema",
	    err) == -1 ||
	    exec(conn, "CREATE TABLE IF NOT EXISTS meetergo.schema_version ("
	    "version integer PRIMARY KEY, "
	    "name text NOT NULL, "
	    "applied_at timestamptz NOT NULL DEFAULT now())",
	    "schema_version", err) == -1 ||
	    read_version(conn, from, err) == -1)
		goto rollback;
	*to = *from;
	for (i = 0; i < n; i++) {
		if (m[i].version <= *from)
			continue;
		snprintf(path, sizeof(path), "%s/%s", sqldir, m[i].name);
		buf_reset(&text);
		if (read_file(path, &text, err) == -1 ||
		    exec(conn, text.data != NULL ? text.data : "", m[i].name,
		    err) == -1)
			goto rollback;
		if (record_version(conn, &m[i], err) == -1)
			goto rollback;
		*to = m[i].version;
	}
	if (exec(conn, "COMMIT", "commit", err) == -1)
		goto done;
	rc = 0;
	goto done;
rollback:
	PQclear(PQexec(conn, "ROLLBACK"));
done:
	if (dir != NULL)
		closedir(dir);
	for (i = 0; m != NULL && i < n; i++)
		free(m[i].name);
	free(m);
	buf_release(&text);
	return rc;
}
