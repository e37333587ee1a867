/* Settings from the environment, with defaults and bounds. */
#ifndef MW_SETTINGS_H
#define MW_SETTINGS_H

#include <stddef.h>

#include "error.h"

#define SETTINGS_MAX_TOKENS		16
#define SETTINGS_DEFAULT_MAX_BODY	262144L
#define SETTINGS_DEFAULT_TIMEOUT_MS	5000L
#define SETTINGS_MAX_WORKERS		256
#define SETTINGS_MAX_THREADS		64	/* GROUP_MAX */
#define SETTINGS_DEFAULT_THREADS	8
#define SETTINGS_DEFAULT_SPOOL_FILES	10000L
#define SETTINGS_DEFAULT_SPOOL_BYTES	(256L * 1024 * 1024)

enum auth_mode {
	AUTH_TOKEN,
	AUTH_NONE
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
	char		*signing_secrets;	/* NULL when unset */
	long		 max_body;
	char		*spool_dir;	/* NULL when unset */
	long		 spool_max_files;
	long		 spool_max_bytes;
	long		 db_timeout_ms;
	int		 keep_secret;
	long		 workers;	/* FastCGI worker processes */
	long		 threads;	/* requests in hand per worker */
	int		 prepare;	/* prepared statements allowed */
};

void	settings_init(struct settings *);
/* Read the process environment.  0, or -1 with err set (status 500). */
int	settings_load(struct settings *, struct error *err);
void	settings_release(struct settings *);

#endif
