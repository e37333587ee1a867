/* The program's state, opened one way by CGI, FastCGI and the tool. */
#ifndef MW_SERVICE_H
#define MW_SERVICE_H

#include "db.h"
#include "error.h"
#include "group.h"
#include "handler.h"
#include "settings.h"

/* Everything a request or a command needs; service_close releases it. */
struct service {
	struct settings	 settings;
	struct db	*db;
	struct group	*group;
	struct handler	 handler;
};

/*
 * Read the settings from the environment and set up the database
 * connection (opened on first use), a group for threads requests at once
 * and the handler.  workers and threads, when not 0, override the
 * settings; what neither gives is sized to the machine (settings_size).  A bad setting fails here,
 * the same way in every mode, with err naming it.  0, or -1 with err set;
 * service_close either way.
 */
int	service_open(struct service *, long workers, long threads,
	    struct error *err);
void	service_close(struct service *);

#endif
