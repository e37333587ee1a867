/* Erasure: forget a person, by e-mail address, everywhere we keep data. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "erase.h"
#include "log.h"
#include "pq.h"
#include "spool.h"
#include "util.h"

/* The longest address RFC 5321 allows a path to carry. */
#define ERASE_ADDRESS_MAX	320

/* One run of forget. */
struct erase {
	struct db	*db;
	const char	*email;
	char		*terms;		/* text[] literal: what names the person */
	int		 dry_run;
	long		 rows, files;
};

/* Something an address could be: no blank, no control, one '@' inside. */
static int
plausible_address(const char *s)
{
	const char	*at = strchr(s, '@');
	size_t		 n = strlen(s), i;

	if (n < 3 || n > ERASE_ADDRESS_MAX || at == NULL || at == s ||
	    at[1] == '\0' || strchr(at + 1, '@') != NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (iscntrl((unsigned char)s[i]) || s[i] == ' ')
			return 0;
	return 1;
}

/* The first hex digits of the SHA-256 of the address in lower case. */
static void
address_hash(const char *email, char out[DIGEST_HEX_LEN])
{
	char	lower[ERASE_ADDRESS_MAX + 1];
	size_t	i;

	for (i = 0; email[i] != '\0' && i < ERASE_ADDRESS_MAX; i++)
		lower[i] = (char)tolower((unsigned char)email[i]);
	lower[i] = '\0';
	if (digest_sha256_hex(lower, i, out) == -1)
		snprintf(out, DIGEST_HEX_LEN, "-");
}

/* The terms that name the person, from the whole schema: e->terms. */
static int
collect_terms(struct erase *e, struct error *err)
{
	PGresult *res;

	if ((res = db_exec(e->db, "SELECT meetergo.forget_collect($1)::text",
	    1, (const char *[]){ e->email }, err)) == NULL)
		return -1;
	e->terms = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (e->terms == NULL) {
		error_set(err, ERROR_INTERNAL, "", "out of memory");
		return -1;
	}
	return 0;
}

/* spool_edit's fn: the body without the person, by the schema's walk. */
static int
edit_body(void *arg, const char *body, size_t len, struct buf *out,
    struct error *err)
{
	static const char walk[] =
	    "SELECT n::text, n IS DISTINCT FROM d "
	    "FROM (SELECT $1::jsonb AS d) x, "
	    "LATERAL (SELECT meetergo.forget_walk(x.d, $2, $3::text[]) AS n) y";
	struct erase	*e = arg;
	PGresult	*res;
	int		 rc = 0;

	(void)len;
	if ((res = db_exec(e->db, walk, 3, (const char *[]){ body, e->email,
	    e->terms }, err)) == NULL)
		return -1;
	if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
		if (buf_append(out, PQgetvalue(res, 0, 0),
		    (size_t)PQgetlength(res, 0, 0)) == -1)
			error_set(err, ERROR_INTERNAL, "", "the new body is too "
			    "large");
		else
			rc = 1;
	}
	PQclear(res);
	return error_isset(err) ? -1 : rc;
}

/* The rows of one table changed, printed and added to e->rows. */
static int
print_counts(struct erase *e, PGresult *res, struct error *err)
{
	long	n;
	int	i;

	for (i = 0; i < PQntuples(res); i++) {
		if (db_count_at(res, i, 1, &n, err) == -1)
			return -1;
		printf("%s %ld\n", PQgetvalue(res, i, 0), n);
		e->rows += n;
	}
	return 0;
}

/* The tables, in one transaction, rolled back for a dry run. */
static int
forget_tables(struct erase *e, struct error *err)
{
	PGresult	*res;
	int		 rc;

	if (db_begin(e->db, err) == -1)
		return -1;
	if ((res = db_exec(e->db, "SELECT relation, changed FROM "
	    "meetergo.forget($1, $2::text[])", 2, (const char *[]){ e->email,
	    e->terms }, err)) == NULL)
		goto fail;
	rc = print_counts(e, res, err);
	PQclear(res);
	if (rc == -1)
		goto fail;
	if (e->dry_run)
		db_rollback(e->db);
	else if (db_command(e->db, "COMMIT", err) == -1)
		goto fail;
	return 0;
fail:
	db_rollback(e->db);
	return -1;
}

/*
 * The spool first: a drain that has a file is waited for, and what it
 * stored is in the tables by the time they are walked.
 */
static int
forget_run(struct service *svc, struct erase *e, struct error *err)
{
	struct spool sp;

	if (collect_terms(e, err) == -1)
		return -1;
	if (svc->settings.spool_dir != NULL) {
		spool_init(&sp, svc->settings.spool_dir, 0, 0);
		if (spool_edit(&sp, edit_body, e, e->dry_run, &e->files,
		    err) == -1)
			return -1;
	}
	if (forget_tables(e, err) == -1)
		return -1;
	printf("spool files %ld\n", e->files);
	return 0;
}

static int
forget_usage(void)
{
	log_err("usage: forget --email ADDRESS [--dry-run]");
	return 2;
}

int
erase_cmd(struct service *svc, int argc, char **argv)
{
	struct erase	e;
	struct error	err;
	char		hash[DIGEST_HEX_LEN];
	int		i, rc;

	memset(&e, 0, sizeof(e));
	e.db = svc->db;
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0)
			e.dry_run = 1;
		else if (strcmp(argv[i], "--email") == 0 && i + 1 < argc)
			e.email = argv[++i];
		else
			return forget_usage();
	}
	if (e.email == NULL)
		return forget_usage();
	if (!plausible_address(e.email)) {
		log_err("forget: --email: not an e-mail address");
		return 2;
	}
	address_hash(e.email, hash);
	error_init(&err);
	rc = forget_run(svc, &e, &err);
	free(e.terms);
	if (rc == -1) {
		log_err("forget: address sha256 %.12s: %s", hash, err.text);
		return 1;
	}
	printf("%s %ld row%s and %ld spool file%s\n", e.dry_run ?
	    "would change" : "changed", e.rows, e.rows == 1 ? "" : "s",
	    e.files, e.files == 1 ? "" : "s");
	log_info("forget%s: address sha256 %.12s: %ld rows and %ld spool "
	    "files %s", e.dry_run ? " --dry-run" : "", hash, e.rows, e.files,
	    e.dry_run ? "would change" : "changed");
	return 0;
}
