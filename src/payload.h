/* meetergo webhook JSON to a plain C description of the event. */
#ifndef MW_PAYLOAD_H
#define MW_PAYLOAD_H

#include <stddef.h>

#include <jansson.h>

#include "error.h"
#include "jsonmem.h"
#include "timestamp.h"

#define PAYLOAD_ID_MAX	255
/* Attendees, and hosts, an event may list: MEETERGO_WEBHOOK_MAX_ATTENDEES. */
#define PAYLOAD_MAX_PEOPLE	10000

enum event_type {
	EVENT_UNKNOWN,
	EVENT_BOOKING_CREATED,
	EVENT_BOOKING_RESCHEDULED,
	EVENT_BOOKING_CANCELLED,
	EVENT_NEW_EMPLOYEE,
	EVENT_FORM_SUBMISSION
};

/* Every const char * below is borrowed from event.root; NULL if absent. */
struct attendee {
	const char	*id, *email, *firstname, *lastname, *fullname;
	const char	*phone, *timezone, *language;
};

struct host {
	const char	*id, *email, *full_name, *slug;
};

struct booking {
	int			 cancelled;
	struct timestamp	 start, end, rescheduled_at, cancelled_at;
	struct timestamp	 created_at, updated_at;
	const char		*cancel_reason, *channel, *meeting_link;
	const char		*location, *meeting_type_id, *meeting_type_slug;
	const char		*meeting_type_name, *company_id;
	int			 has_duration;
	long			 duration_minutes;
	/* attendees: absent (keep what is stored), replace, or remove. */
	int			 has_attendees;
	int			 remove_attendees;
	struct attendee		*attendees;	/* owned array */
	size_t			 nattendees;
	int			 has_hosts;
	struct host		*hosts;		/* owned array */
	size_t			 nhosts;
};

struct employee {
	const char		*email, *full_name, *company_id;
	struct timestamp	 created_at, updated_at;
};

struct form {
	const char		*form_id, *submission_id, *company_id;
	struct timestamp	 submitted_at;
};

struct event {
	json_t		*root;		/* owned: the body, secret removed */
	struct jsonmem	 mem;		/* owned: where root's nodes live */
	char		*text;		/* owned: root as JSON text to store */
	json_t		*subject;	/* borrowed: root, or its "data" */
	enum event_type	 type;
	const char	*type_name;	/* as sent */
	const char	*id;		/* appointment, employee or submission */
	int		 rank;		/* 1 created, 2 rescheduled, 3 cancelled */
	struct booking	 booking;
	struct employee	 employee;
	struct form	 form;
};

void	event_init(struct event *);
void	event_release(struct event *);

/*
 * Decode buf into ev, which the caller releases in every case.  Returns 0
 * for an event to store (type EVENT_UNKNOWN is stored as ignored), or -1
 * with err set: ERROR_MALFORMED when the body is not a JSON object naming
 * its event (ev->root is NULL then), ERROR_DATA when a known event is
 * malformed or any event holds a number PostgreSQL's jsonb cannot hold
 * (ev->root and ev->type_name are set so that it can be kept as
 * rejected; such numbers are strings of their text in ev->root and
 * ev->text then), ERROR_INTERNAL when out of memory.  Unless
 * keep_secret, the appointment "secret" is removed from ev->root.
 * Whenever ev->root is set, so is ev->text: the body's own text with the
 * secret cut out, which equals ev->root as JSON.  No message quotes the
 * body's bytes but a timestamp or id found wanting.  A booking listing
 * more than max_people attendees, or hosts, is refused as data before
 * any of them is mapped: the mapping's memory grows with that count.
 */
int	payload_decode(const char *buf, size_t len, int keep_secret,
	    size_t max_people, struct event *ev, struct error *err);

const char	*event_type_name(enum event_type);

#endif
