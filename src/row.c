/* The mapping of an event as JSON text, written without a tree. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "row.h"

/*
 * The mapped row is written as JSON text directly: its keys are ours and
 * fixed, its values plain strings and numbers, and a tree of json_t only
 * to be dumped would cost more than the rest of the mapping.
 */
struct row {
	struct buf	b;
	int		first;		/* nothing written yet at this level */
	int		bad;		/* out of memory */
};

static void
put_raw(struct row *w, const char *s, size_t n)
{
	if (buf_append(&w->b, s, n) == -1)
		w->bad = 1;
}

static void
put_sep(struct row *w)
{
	if (!w->first)
		put_raw(w, ",", 1);
	w->first = 0;
}

static void
put_open(struct row *w, const char *c)
{
	put_raw(w, c, 1);
	w->first = 1;
}

static void
put_close(struct row *w, const char *c)
{
	put_raw(w, c, 1);
	w->first = 0;
}

/* Keys are our own names: nothing in them to escape. */
static void
put_key(struct row *w, const char *key)
{
	put_sep(w);
	put_raw(w, "\"", 1);
	put_raw(w, key, strlen(key));
	put_raw(w, "\":", 2);
}

/* A string as JSON, or null.  Values come from jansson: valid UTF-8. */
static void
put_str(struct row *w, const char *key, const char *s)
{
	const char	*p, *run;
	char		 esc[8];

	put_key(w, key);
	if (s == NULL) {
		put_raw(w, "null", 4);
		return;
	}
	put_raw(w, "\"", 1);
	for (run = p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put_raw(w, run, (size_t)(p - run));
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put_raw(w, esc, 2);
		} else {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put_raw(w, esc, 6);
		}
		run = p + 1;
	}
	put_raw(w, run, (size_t)(p - run));
	put_raw(w, "\"", 1);
}

static void
put_time(struct row *w, const char *key, const struct timestamp *t)
{
	put_str(w, key, t->set ? t->text : NULL);
}

static void
put_long(struct row *w, const char *key, long v)
{
	put_key(w, key);
	if (buf_appendf(&w->b, "%ld", v) == -1)
		w->bad = 1;
}

static void
booking_row(struct row *w, const struct event *ev)
{
	const struct booking	*b = &ev->booking;
	size_t			 i;

	put_str(w, "kind", "booking");
	put_str(w, "id", ev->id);
	put_str(w, "status", b->cancelled ? "cancelled" : "booked");
	put_time(w, "start_at", &b->start);
	put_time(w, "end_at", &b->end);
	put_time(w, "rescheduled_at", &b->rescheduled_at);
	put_time(w, "cancelled_at", &b->cancelled_at);
	put_str(w, "cancel_reason", b->cancel_reason);
	put_str(w, "channel", b->channel);
	put_str(w, "meeting_link", b->meeting_link);
	put_str(w, "location", b->location);
	put_str(w, "meeting_type_id", b->meeting_type_id);
	put_str(w, "meeting_type_slug", b->meeting_type_slug);
	put_str(w, "meeting_type_name", b->meeting_type_name);
	if (b->has_duration)
		put_long(w, "duration_minutes", b->duration_minutes);
	else
		put_str(w, "duration_minutes", NULL);
	put_str(w, "company_id", b->company_id);
	put_time(w, "created_at", &b->created_at);
	put_time(w, "updated_at", &b->updated_at);
	put_str(w, "last_event_type", ev->type_name);
	put_long(w, "event_rank", ev->rank);

	if (b->has_attendees) {
		put_key(w, "attendees");
		put_open(w, "[");
		for (i = 0; i < b->nattendees; i++) {
			const struct attendee *a = &b->attendees[i];

			put_sep(w);
			put_open(w, "{");
			put_str(w, "attendee_id", a->id);
			put_str(w, "email", a->email);
			put_str(w, "firstname", a->firstname);
			put_str(w, "lastname", a->lastname);
			put_str(w, "fullname", a->fullname);
			put_str(w, "phone", a->phone);
			put_str(w, "timezone", a->timezone);
			put_str(w, "language", a->language);
			put_close(w, "}");
		}
		put_close(w, "]");
		if (b->remove_attendees)
			put_str(w, "attendees_mode", "remove");
	}
	if (b->has_hosts) {
		put_key(w, "hosts");
		put_open(w, "[");
		for (i = 0; i < b->nhosts; i++) {
			const struct host *h = &b->hosts[i];

			put_sep(w);
			put_open(w, "{");
			put_str(w, "host_id", h->id);
			put_str(w, "email", h->email);
			put_str(w, "full_name", h->full_name);
			put_str(w, "slug", h->slug);
			put_close(w, "}");
		}
		put_close(w, "]");
	}
}

char *
row_json(const struct event *ev)
{
	struct row w;

	if (ev->type == EVENT_UNKNOWN)
		return NULL;
	/*
	 * Every value comes from the body, escaped as it was there; only
	 * the keys add to it, a few hundred bytes for an attendee that
	 * takes two ("{}") in the body.
	 */
	buf_init(&w.b, 128 * strlen(ev->text != NULL ? ev->text : "") + 4096);
	w.bad = 0;
	put_open(&w, "{");
	switch (ev->type) {
	case EVENT_BOOKING_CREATED:
	case EVENT_BOOKING_RESCHEDULED:
	case EVENT_BOOKING_CANCELLED:
		booking_row(&w, ev);
		break;
	case EVENT_NEW_EMPLOYEE:
		put_str(&w, "kind", "employee");
		put_str(&w, "id", ev->id);
		put_str(&w, "email", ev->employee.email);
		put_str(&w, "full_name", ev->employee.full_name);
		put_str(&w, "company_id", ev->employee.company_id);
		put_time(&w, "created_at", &ev->employee.created_at);
		put_time(&w, "updated_at", &ev->employee.updated_at);
		break;
	case EVENT_FORM_SUBMISSION:
		put_str(&w, "kind", "form");
		put_str(&w, "form_id", ev->form.form_id);
		put_str(&w, "submission_id", ev->form.submission_id);
		put_str(&w, "company_id", ev->form.company_id);
		put_time(&w, "submitted_at", &ev->form.submitted_at);
		break;
	case EVENT_UNKNOWN:
		break;
	}
	/*
	 * The payload itself is not repeated here: the SQL takes the stored
	 * one, or its "data" in the envelope shape.
	 */
	if (ev->subject != ev->root)
		put_str(&w, "subject", "data");
	put_close(&w, "}");
	if (w.bad) {
		buf_release(&w.b);
		return NULL;
	}
	return w.b.data;	/* the caller frees it */
}
