/* Settings from the environment, with defaults and bounds. */
#ifndef MW_SETTINGS_H
#define MW_SETTINGS_H

#include <stddef.h>

#include "error.h"

#define SETTINGS_MAX_TOKENS		16
#define SETTINGS_MAX_SECRETS		8
#define SETTINGS_SECRET_MAX		256	/* bytes of a decoded key */
#define SETTINGS_DEFAULT_MAX_BODY	262144L
#define SETTINGS_DEFAULT_MAX_PEOPLE	10000L	/* PAYLOAD_MAX_PEOPLE */
#define SETTINGS_DEFAULT_TIMEOUT_MS	5000L
#define SETTINGS_MAX_WORKERS		256
#define SETTINGS_MAX_THREADS		64	/* GROUP_MAX */
#define SETTINGS_MIN_AUTO_THREADS	8
/* The layout chosen at start: see settings_size. */
#define SETTINGS_AUTO_MAX_WORKERS	16
#define SETTINGS_AUTO_CONCURRENCY	32
#define SETTINGS_DEFAULT_SPOOL_FILES	10000L
#define SETTINGS_DEFAULT_SPOOL_BYTES	(256L * 1024 * 1024)
#define SETTINGS_DEFAULT_PARAMS_MS	2000L
#define SETTINGS_DEFAULT_BODY_MS	30000L
#define SETTINGS_DEFAULT_STATE_DIR	"/run/meetergo-webhook"

enum auth_mode {
	AUTH_TOKEN,
	AUTH_NONE
};

/* A Standard Webhooks signing secret, decoded from "whsec_<base64>". */
struct signing_key {
	unsigned char	key[SETTINGS_SECRET_MAX];
	size_t		len;
};

/*
 * Every string is owned by the settings and freed by settings_release.
 * A setting that is unset or empty takes its default; a setting that is
 * present but malformed makes settings_load fail with a message naming it.
 */
struct settings {
	char		*dsn;		/* "" means libpq's PG* defaults */
	enum auth_mode	 auth;
	char		*tokens[SETTINGS_MAX_TOKENS];
	size_t		 ntokens;
	struct signing_key signing_keys[SETTINGS_MAX_SECRETS];
	size_t		 nsigning_keys;	/* 0: no signature required */
	long		 max_body;
	long		 max_people;	/* attendees, and hosts, per event */
	char		*spool_dir;	/* NULL when unset */
	long		 spool_max_files;
	long		 spool_max_bytes;
	long		 db_timeout_ms;
	int		 keep_secret;
	long		 workers;	/* FastCGI worker processes; 0: unset */
	long		 threads;	/* requests in hand per worker; 0: unset */
	int		 prepare;	/* prepared statements allowed */
	/* FastCGI: how long a peer may take to send a request */
	long		 params_timeout_ms;	/* up to its parameters */
	long		 body_timeout_ms;	/* then its body */
	int		 listen_public;	/* a listener not on loopback */
	/* the shared counters (stats.h); never NULL once loaded */
	char		*state_dir;
	int		 state_dir_default;	/* not set: the default */
};

void	settings_init(struct settings *);
/*
 * Read the process environment.  0, or -1 with err set (ERROR_INTERNAL,
 * naming the setting).
 */
int	settings_load(struct settings *, struct error *err);
/*
 * Decode the space-separated secrets of MEETERGO_WEBHOOK_SIGNING_SECRET
 * into s, once, so that a malformed one stops the start, not a request.
 * 0, or -1 with err set.
 */
int	settings_set_signing_secrets(struct settings *, const char *list,
	    struct error *err);
void	settings_release(struct settings *);
/*
 * Fill in the workers and threads that neither the environment nor the
 * command line gave, for a machine with ncpu online CPUs: a worker per
 * CPU, at most SETTINGS_AUTO_MAX_WORKERS (each holds a database
 * connection), and threads enough for the workers to hold
 * SETTINGS_AUTO_CONCURRENCY requests at once, SETTINGS_MIN_AUTO_THREADS
 * each at least.
 */
void	settings_size(struct settings *, long ncpu);

#endif
