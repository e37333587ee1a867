/* The program's state, opened one way by CGI, FastCGI and the tool. */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "service.h"

int
service_open(struct service *svc, long workers, long threads,
    struct error *err)
{
	memset(svc, 0, sizeof(*svc));
	settings_init(&svc->settings);
	if (settings_load(&svc->settings, err) == -1)
		return -1;
	if (workers != 0)
		svc->settings.workers = workers;
	if (threads != 0)
		svc->settings.threads = threads;
	settings_size(&svc->settings, sysconf(_SC_NPROCESSORS_ONLN));
	if ((svc->db = db_new(&svc->settings)) == NULL ||
	    (svc->group = group_new(svc->db,
	    (size_t)svc->settings.threads)) == NULL) {
		error_set(err, ERROR_INTERNAL, "", "out of memory");
		return -1;
	}
	handler_init(&svc->handler, &svc->settings, svc->group);
	return 0;
}

void
service_close(struct service *svc)
{
	group_free(svc->group);
	db_free(svc->db);
	settings_release(&svc->settings);
	memset(svc, 0, sizeof(*svc));
}
