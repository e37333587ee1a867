/* Settings from the environment, with defaults and bounds. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "settings.h"
#include "util.h"

void
settings_init(struct settings *s)
{
	memset(s, 0, sizeof(*s));
	s->auth = AUTH_TOKEN;
	s->max_body = SETTINGS_DEFAULT_MAX_BODY;
	s->max_people = SETTINGS_DEFAULT_MAX_PEOPLE;
	s->db_timeout_ms = SETTINGS_DEFAULT_TIMEOUT_MS;
	s->spool_max_files = SETTINGS_DEFAULT_SPOOL_FILES;
	s->spool_max_bytes = SETTINGS_DEFAULT_SPOOL_BYTES;
	s->prepare = 1;
	s->params_timeout_ms = SETTINGS_DEFAULT_PARAMS_MS;
	s->body_timeout_ms = SETTINGS_DEFAULT_BODY_MS;
}

void
settings_release(struct settings *s)
{
	size_t i;

	free(s->dsn);
	for (i = 0; i < s->ntokens; i++) {
		/* Do not leave the secret lying in freed heap memory. */
		explicit_bzero(s->tokens[i], strlen(s->tokens[i]));
		free(s->tokens[i]);
	}
	explicit_bzero(s->signing_keys, sizeof(s->signing_keys));
	free(s->spool_dir);
	free(s->state_dir);
	settings_init(s);
}

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

static int
env_long(const char *name, long min, long max, long *out, struct error *err)
{
	const char	*v = env(name), *errstr;
	long		 n;

	if (v == NULL)
		return 0;
	if (parse_long(v, min, max, &n, &errstr) == -1) {
		error_set(err, ERROR_INTERNAL, "", "%s \"%.24s\" is %s (want "
		    "%ld to %ld)", name, v, errstr, min, max);
		return -1;
	}
	*out = n;
	return 0;
}

/* Split a comma-separated list, ignoring blanks around entries. */
static int
parse_tokens(struct settings *s, const char *list, struct error *err)
{
	const char *p = list;

	while (*p != '\0') {
		const char	*start, *end;
		size_t		 n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end == start)
			continue;
		n = (size_t)(end - start);
		if (s->ntokens == SETTINGS_MAX_TOKENS) {
			error_set(err, ERROR_INTERNAL, "",
			    "MEETERGO_WEBHOOK_TOKEN lists "
			    "more than %d tokens", SETTINGS_MAX_TOKENS);
			return -1;
		}
		if ((s->tokens[s->ntokens] = strndup(start, n)) == NULL) {
			error_set(err, ERROR_INTERNAL, "", "out of memory");
			return -1;
		}
		s->ntokens++;
	}
	return 0;
}

int
settings_set_signing_secrets(struct settings *s, const char *list,
    struct error *err)
{
	const char		*p = list, *start;
	struct signing_key	*k;
	size_t			 len;

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		for (start = p; *p != '\0' && *p != ' '; p++)
			;
		if ((len = (size_t)(p - start)) == 0)
			continue;
		if (s->nsigning_keys == SETTINGS_MAX_SECRETS) {
			error_set(err, ERROR_INTERNAL, "", "MEETERGO_WEBHOOK_"
			    "SIGNING_SECRET lists more than %d secrets",
			    SETTINGS_MAX_SECRETS);
			return -1;
		}
		if (len > 6 && memcmp(start, "whsec_", 6) == 0) {
			start += 6;
			len -= 6;
		}
		k = &s->signing_keys[s->nsigning_keys];
		if (digest_base64_decode(start, len, k->key, sizeof(k->key),
		    &k->len) == -1) {
			explicit_bzero(k, sizeof(*k));
			error_set(err, ERROR_INTERNAL, "", "MEETERGO_WEBHOOK_"
			    "SIGNING_SECRET holds a secret that is not base64");
			return -1;
		}
		s->nsigning_keys++;
	}
	return 0;
}

static int
dup_env(const char *name, char **out, struct error *err)
{
	const char *v = env(name);

	if (v == NULL)
		return 0;
	if ((*out = strdup(v)) == NULL) {
		error_set(err, ERROR_INTERNAL, "", "out of memory");
		return -1;
	}
	return 0;
}

/* The FastCGI listener's settings. */
static int
load_listener(struct settings *s, struct error *err)
{
	long pub = 0;

	if (env_long("MEETERGO_WEBHOOK_PARAMS_TIMEOUT_MS", 100, 600000,
	    &s->params_timeout_ms, err) == -1 ||
	    env_long("MEETERGO_WEBHOOK_BODY_TIMEOUT_MS", 100, 3600000,
	    &s->body_timeout_ms, err) == -1 ||
	    env_long("MEETERGO_WEBHOOK_LISTEN_PUBLIC", 0, 1, &pub, err) == -1)
		return -1;
	s->listen_public = pub == 1;
	return 0;
}

/* An absolute directory, from name or else dflt; *dflt_used says which. */
static int
load_dir(const char *name, const char *dflt, char **out, int *dflt_used,
    struct error *err)
{
	if (dup_env(name, out, err) == -1)
		return -1;
	if ((*dflt_used = *out == NULL) && (*out = strdup(dflt)) == NULL) {
		error_set(err, ERROR_INTERNAL, "", "out of memory");
		return -1;
	}
	if ((*out)[0] != '/') {
		error_set(err, ERROR_INTERNAL, "", "%s \"%.80s\" is not an "
		    "absolute path", name, *out);
		return -1;
	}
	return 0;
}

int
settings_load(struct settings *s, struct error *err)
{
	const char	*v;
	long		 keep = 0, prepare = 1;

	settings_release(s);
	if (dup_env("MEETERGO_WEBHOOK_DSN", &s->dsn, err) == -1)
		goto fail;
	if (s->dsn == NULL && (s->dsn = strdup("")) == NULL) {
		error_set(err, ERROR_INTERNAL, "", "out of memory");
		goto fail;
	}

	if ((v = env("MEETERGO_WEBHOOK_AUTH")) != NULL) {
		if (strcmp(v, "token") == 0)
			s->auth = AUTH_TOKEN;
		else if (strcmp(v, "none") == 0)
			s->auth = AUTH_NONE;
		else {
			error_set(err, ERROR_INTERNAL, "",
			    "MEETERGO_WEBHOOK_AUTH is "
			    "\"%.40s\" (want token or none)", v);
			goto fail;
		}
	}
	if ((v = env("MEETERGO_WEBHOOK_TOKEN")) != NULL &&
	    parse_tokens(s, v, err) == -1)
		goto fail;
	if ((v = env("MEETERGO_WEBHOOK_SIGNING_SECRET")) != NULL) {
		if (settings_set_signing_secrets(s, v, err) == -1)
			goto fail;
		/* Set but blank must not turn signatures off. */
		if (s->nsigning_keys == 0) {
			error_set(err, ERROR_INTERNAL, "", "MEETERGO_WEBHOOK_"
			    "SIGNING_SECRET holds no secret");
			goto fail;
		}
	}
	if (env_long("MEETERGO_WEBHOOK_MAX_BODY", 1024, 64L * 1024 * 1024,
	    &s->max_body, err) == -1 ||
	    env_long("MEETERGO_WEBHOOK_MAX_ATTENDEES", 1, 1000000,
	    &s->max_people, err) == -1)
		goto fail;
	if (dup_env("MEETERGO_WEBHOOK_SPOOL_DIR", &s->spool_dir, err) == -1)
		goto fail;
	if (s->spool_dir != NULL && s->spool_dir[0] != '/') {
		error_set(err, ERROR_INTERNAL, "", "MEETERGO_WEBHOOK_SPOOL_DIR "
		    "\"%.80s\" is not an absolute path", s->spool_dir);
		goto fail;
	}
	if (env_long("MEETERGO_WEBHOOK_SPOOL_MAX_FILES", 1, 10000000,
	    &s->spool_max_files, err) == -1 ||
	    env_long("MEETERGO_WEBHOOK_SPOOL_MAX_BYTES", 65536,
	    1024L * 1024 * 1024 * 1024, &s->spool_max_bytes, err) == -1)
		goto fail;
	if (env_long("MEETERGO_WEBHOOK_DB_TIMEOUT_MS", 100, 600000,
	    &s->db_timeout_ms, err) == -1)
		goto fail;
	if (env_long("MEETERGO_WEBHOOK_KEEP_SECRET", 0, 1, &keep, err) == -1)
		goto fail;
	s->keep_secret = keep == 1;
	if (env_long("MEETERGO_WEBHOOK_WORKERS", 1, SETTINGS_MAX_WORKERS,
	    &s->workers, err) == -1 ||
	    env_long("MEETERGO_WEBHOOK_THREADS", 1, SETTINGS_MAX_THREADS,
	    &s->threads, err) == -1)
		goto fail;
	/* PgBouncer's transaction pooling cannot keep prepared statements. */
	if (env_long("MEETERGO_WEBHOOK_PREPARE", 0, 1, &prepare, err) == -1)
		goto fail;
	s->prepare = prepare == 1;
	if (load_listener(s, err) == -1 ||
	    load_dir("MEETERGO_WEBHOOK_STATE_DIR", SETTINGS_DEFAULT_STATE_DIR,
	    &s->state_dir, &s->state_dir_default, err) == -1)
		goto fail;
	return 0;
fail:
	settings_release(s);
	return -1;
}

void
settings_size(struct settings *s, long ncpu)
{
	long	t;

	if (s->workers == 0)
		s->workers = ncpu < 1 ? 1 : ncpu > SETTINGS_AUTO_MAX_WORKERS ?
		    SETTINGS_AUTO_MAX_WORKERS : ncpu;
	if (s->threads == 0) {
		t = (SETTINGS_AUTO_CONCURRENCY + s->workers - 1) / s->workers;
		s->threads = t < SETTINGS_MIN_AUTO_THREADS ?
		    SETTINGS_MIN_AUTO_THREADS : t > SETTINGS_MAX_THREADS ?
		    SETTINGS_MAX_THREADS : t;
	}
}
