/* One request from start to answer: read, authenticate, decode, store. */
#include "config.h"

#include <string.h>
#include <time.h>

#include "auth.h"
#include "digest.h"
#include "handler.h"
#include "log.h"
#include "payload.h"
#include "request.h"
#include "response.h"
#include "util.h"

void
handler_init(struct handler *h, const struct settings *s,
    const struct error *startup_error, struct db *db)
{
	h->settings = s;
	h->startup_error = startup_error;
	h->db = db;
	buf_init(&h->body, (size_t)s->max_body);
}

void
handler_release(struct handler *h)
{
	buf_release(&h->body);
}

/* The one log line of an event or failure.  Never a token or secret. */
static void
log_event(const char *type, const char *id, const char *key,
    const char *outcome, int status, const struct error *err)
{
	char stype[72], sid[80], serr[ERROR_TEXT_MAX];

	log_safe(stype, sizeof(stype), type);
	log_safe(sid, sizeof(sid), id);
	if (err != NULL && error_isset(err)) {
		log_safe(serr, sizeof(serr), err->text);
		log_info("event=%s id=%s key=%.12s outcome=%s status=%d "
		    "error=\"%s\"", stype, sid, key != NULL ? key : "-",
		    outcome, status, serr);
	} else
		log_info("event=%s id=%s key=%.12s outcome=%s status=%d",
		    stype, sid, key != NULL ? key : "-", outcome, status);
}

int
handler_event(struct handler *h, const char *body, size_t len,
    enum outcome *outcome, struct error *err)
{
	struct event	 ev;
	struct error	 serr;
	char		 key[DIGEST_HEX_LEN];
	long		 deliveries = 0;
	int		 rc = -1;

	event_init(&ev);
	if (digest_sha256_hex(body, len, key) == -1) {
		error_set(err, 500, "", "SHA-256 failed");
		log_event("-", NULL, NULL, "failed", 500, err);
		goto done;
	}
	if (payload_decode(body, len, h->settings->keep_secret, &ev,
	    err) == 0) {
		if (db_store(h->db, key, &ev, NULL, outcome, &deliveries,
		    err) == -1) {
			log_event(ev.type_name, ev.id, key, "failed",
			    err->status, err);
			goto done;
		}
		log_event(ev.type_name, ev.id, key, response_word(*outcome),
		    response_status(*outcome), NULL);
		rc = 0;
		goto done;
	}
	if (err->status != 422 || ev.root == NULL) {
		log_event(ev.type_name != NULL ? ev.type_name : "-", ev.id,
		    key, "refused", err->status, err);
		goto done;
	}

	/* A malformed known event is kept, as rejected, with the reason. */
	error_init(&serr);
	if (db_store(h->db, key, &ev, err->text, outcome, &deliveries,
	    &serr) == -1) {
		log_event(ev.type_name, ev.id, key, "rejected-unstored",
		    err->status, &serr);
		goto done;
	}
	log_event(ev.type_name, ev.id, key, *outcome == OUTCOME_DUPLICATE ?
	    "duplicate" : "rejected", err->status, err);
	*outcome = OUTCOME_REJECTED;
	rc = 0;
done:
	event_release(&ev);
	return rc;
}

static void
serve_health(struct handler *h, struct io *io, int head)
{
	struct error err;

	error_init(&err);
	if (db_ping(h->db, &err) == 0) {
		response_send(io, 200, "status", "ok", head);
		return;
	}
	/* The cause goes to the log, not to whoever asked. */
	log_warn("health: %s", err.text);
	response_send(io, 503, "status", "unavailable", head);
}

void
handler_serve(struct handler *h, struct io *io)
{
	struct error	err;
	enum outcome	outcome;
	enum method	method;

	error_init(&err);
	method = request_method(io->param(io, "REQUEST_METHOD"));
	if (h->startup_error != NULL) {
		log_err("%s", h->startup_error->text);
		error_set(&err, 500, "", "server misconfigured");
		response_error(io, &err, method == METHOD_HEAD);
		return;
	}
	switch (method) {
	case METHOD_GET:
	case METHOD_HEAD:
		serve_health(h, io, method == METHOD_HEAD);
		return;
	case METHOD_OTHER:
		error_set(&err, 405, "", "method not allowed");
		response_error(io, &err, 0);
		return;
	case METHOD_POST:
		break;
	}

	if (auth_check_token(h->settings, io->param(io, "QUERY_STRING"),
	    io->param(io, "HTTP_AUTHORIZATION"),
	    io->param(io, "HTTP_X_WEBHOOK_TOKEN"), &err) == -1 ||
	    request_check_content_type(io->param(io, "CONTENT_TYPE"),
	    &err) == -1 ||
	    request_read_body(io, &h->body, &err) == -1 ||
	    auth_check_signature(h->settings, io->param(io, "HTTP_WEBHOOK_ID"),
	    io->param(io, "HTTP_WEBHOOK_TIMESTAMP"),
	    io->param(io, "HTTP_WEBHOOK_SIGNATURE"), h->body.data,
	    h->body.len, time(NULL), &err) == -1) {
		if (err.status >= 500)
			log_err("%s", err.text);
		else
			log_event("-", NULL, NULL, "refused", err.status,
			    &err);
		response_error(io, &err, 0);
		return;
	}

	if (handler_event(h, h->body.data != NULL ? h->body.data : "",
	    h->body.len, &outcome, &err) == -1 || outcome == OUTCOME_REJECTED)
		response_error(io, &err, 0);
	else
		response_outcome(io, outcome, 0);
}
