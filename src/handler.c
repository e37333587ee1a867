/* One request from start to answer: read, authenticate, decode, store. */
#include "config.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "digest.h"
#include "handler.h"
#include "log.h"
#include "payload.h"
#include "request.h"
#include "response.h"
#include "util.h"

/* Between two requests, a drain takes at most this long or this many. */
#define HANDLER_DRAIN_MS	200
#define HANDLER_DRAIN_BATCH	100
/*
 * What is left of a refused body is read and dropped up to this much, for
 * up to this long: a front end sends at once what it has.
 */
#define HANDLER_DISCARD_MAX	(4 * 1024 * 1024)
#define HANDLER_DISCARD_MS	1000

void
handler_init(struct handler *h, const struct settings *s,
    struct group *group)
{
	h->settings = s;
	h->group = group;
	h->has_spool = s->spool_dir != NULL;
	if (h->has_spool)
		spool_init(&h->spool, s->spool_dir, s->spool_max_files,
		    s->spool_max_bytes);
	atomic_init(&h->db_up, 0);
	atomic_init(&h->spool_checked_ms, 0);
}

/*
 * The one log line of an event or failure.  Never a token or secret.  A
 * failure of ours (5xx) is an error line, to be seen among the others.
 */
static void
log_event(const char *type, const char *id, const char *key,
    const char *outcome, int status, const struct error *err)
{
	char	stype[72], sid[80], serr[ERROR_TEXT_MAX];
	void	(*logf)(const char *, ...) = status >= 500 ? log_err : log_info;

	log_safe(stype, sizeof(stype), type);
	log_safe(sid, sizeof(sid), id);
	if (err != NULL && error_isset(err)) {
		log_safe(serr, sizeof(serr), err->text);
		logf("event=%s id=%s key=%.12s outcome=%s status=%d "
		    "error=\"%s\"", stype, sid, key != NULL ? key : "-",
		    outcome, status, serr);
	} else
		logf("event=%s id=%s key=%.12s outcome=%s status=%d",
		    stype, sid, key != NULL ? key : "-", outcome, status);
}

/* A refusal or failure, logged with the status it is answered with. */
static void
log_failure(const struct event *ev, const char *key, const char *word,
    const struct error *err)
{
	log_event(ev != NULL && ev->type_name != NULL ? ev->type_name : "-",
	    ev != NULL ? ev->id : NULL, key, word, response_error_status(err),
	    err);
}

/*
 * The database could not take the event (serr): keep the raw body in the
 * spool instead, when there is one and may_spool.  0 spooled, else -1
 * with err set to what the sender is to be told.
 */
static int
spool_body(struct handler *h, const struct event *ev, const char *key,
    const char *body, size_t len, int may_spool, const struct error *serr,
    struct error *err)
{
	struct error perr;

	error_init(&perr);
	if (!error_is_transient(serr) || !may_spool || !h->has_spool) {
		log_failure(ev, key, "failed", serr);
		*err = *serr;
		return -1;
	}
	if (spool_put(&h->spool, key, body, len, &perr) == -1) {
		log_failure(ev, key, "failed", &perr);
		*err = *serr;
		return -1;
	}
	log_event(ev->type_name, ev->id, key, "spooled", 200, serr);
	return 0;
}

/*
 * The way in for every body: decode, store, and if the database is away
 * and may_spool, keep the raw body in the spool instead.
 */
static int
store_body(struct handler *h, const char *body, size_t len, int may_spool,
    enum outcome *outcome, struct error *err)
{
	struct event	 ev;
	struct error	 serr, reason;
	char		 key[DIGEST_HEX_LEN];
	long		 deliveries = 0;
	int		 rc = -1;

	event_init(&ev);
	error_init(&serr);
	error_init(&reason);	/* why the event is kept as rejected */
	if (digest_sha256_hex(body, len, key) == -1) {
		error_set(err, ERROR_INTERNAL, "", "SHA-256 failed");
		log_failure(NULL, NULL, "failed", err);
		goto done;
	}
	if (payload_decode(body, len, h->settings->keep_secret, &ev,
	    err) == -1) {
		if (err->kind != ERROR_DATA || ev.root == NULL) {
			log_failure(&ev, key, "refused", err);
			goto done;
		}
		/* A malformed known event is kept, as rejected. */
		reason = *err;
		error_init(err);
	}
	if (group_store(h->group, key, &ev, &reason, outcome, &deliveries,
	    &serr) == 0) {
		atomic_store(&h->db_up, 1);
		if (*outcome == OUTCOME_REJECTED) {
			*err = reason;
			log_failure(&ev, key, response_word(*outcome), err);
		} else
			log_event(ev.type_name, ev.id, key,
			    response_word(*outcome), response_status(*outcome),
			    NULL);
		rc = 0;
		goto done;
	}
	if (error_is_transient(&serr))
		atomic_store(&h->db_up, 0);
	if (spool_body(h, &ev, key, body, len, may_spool, &serr, err) == 0) {
		/* Spooled, an event refused is still answered as rejected. */
		*outcome = OUTCOME_SPOOLED;
		if (error_isset(&reason)) {
			*outcome = OUTCOME_REJECTED;
			*err = reason;
		}
		rc = 0;
	}
done:
	event_release(&ev);
	return rc;
}

int
handler_event(struct handler *h, const char *body, size_t len,
    enum outcome *outcome, struct error *err)
{
	return store_body(h, body, len, 1, outcome, err);
}

/* spool_drain's callback: a body kept as rejected is done with too. */
static int
drain_store(void *arg, const char *body, size_t len, struct error *err)
{
	enum outcome outcome;

	return store_body(arg, body, len, 0, &outcome, err);
}

int
handler_drain(struct handler *h, long *done, struct error *err)
{
	*done = 0;
	if (!h->has_spool) {
		error_set(err, ERROR_INTERNAL, "", "MEETERGO_WEBHOOK_SPOOL_DIR "
		    "is not set");
		return -1;
	}
	return spool_drain(&h->spool, drain_store, h, 0, 0, done, err);
}

void
handler_idle(struct handler *h)
{
	struct error	err;
	long		done, now, last;

	if (!h->has_spool || !atomic_load(&h->db_up))
		return;
	/* A look at the directory at most once a second, by one thread. */
	now = monotonic_ms();
	last = atomic_load(&h->spool_checked_ms);
	if ((last != 0 && now - last < 1000) ||
	    !atomic_compare_exchange_strong(&h->spool_checked_ms, &last, now))
		return;
	if (spool_count(&h->spool, NULL) <= 0)
		return;
	error_init(&err);
	if (spool_drain(&h->spool, drain_store, h, HANDLER_DRAIN_BATCH,
	    HANDLER_DRAIN_MS, &done, &err) == -1)
		log_warn("spool: drain stopped: %s", err.text);
	if (done > 0) {
		log_info("spool: drained %ld file%s", done,
		    done == 1 ? "" : "s");
		/* More may wait: look again after the next request. */
		atomic_store(&h->spool_checked_ms, 0);
	}
}

static void
serve_health(struct handler *h, struct io *io, int head)
{
	struct error err;

	error_init(&err);
	if (group_ping(h->group, &err) == 0) {
		response_send(io, 200, "status", "ok", head);
		return;
	}
	/* The cause goes to the log, not to whoever asked. */
	log_warn("health: %s", err.text);
	if (h->has_spool && spool_has_room(&h->spool)) {
		response_send(io, 200, "status", "ok", head);
		return;
	}
	response_send(io, 503, "status", "unavailable", head);
}

/*
 * The answer to a failure: its message, but for 5xx only a word, since
 * the cause (socket paths, SQL) is for the log, not for the sender.
 */
static void
answer_error(struct io *io, const struct error *err)
{
	struct error pub;

	if (response_error_status(err) < 500) {
		response_error(io, err, 0);
		return;
	}
	error_init(&pub);
	error_set(&pub, err->kind, "", "%s", error_is_transient(err) ?
	    "database unavailable" : "internal error");
	response_error(io, &pub, 0);
}

static void
serve_request(struct handler *h, struct io *io, struct buf *body)
{
	struct error	err;
	enum outcome	outcome;
	enum method	method;

	error_init(&err);
	method = request_method(io->param(io, "REQUEST_METHOD"));
	switch (method) {
	case METHOD_GET:
	case METHOD_HEAD:
		serve_health(h, io, method == METHOD_HEAD);
		return;
	case METHOD_OTHER:
		error_set(&err, ERROR_METHOD, "", "method not allowed");
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
	    request_read_body(io, body, &err) == -1 ||
	    auth_check_signature(h->settings, io->param(io, "HTTP_WEBHOOK_ID"),
	    io->param(io, "HTTP_WEBHOOK_TIMESTAMP"),
	    io->param(io, "HTTP_WEBHOOK_SIGNATURE"), body->data,
	    body->len, time(NULL), &err) == -1) {
		if (response_error_status(&err) >= 500)
			log_err("%s", err.text);
		else
			log_failure(NULL, NULL, "refused", &err);
		answer_error(io, &err);
		return;
	}

	if (handler_event(h, buf_str(body), body->len, &outcome, &err) == -1 ||
	    outcome == OUTCOME_REJECTED)
		answer_error(io, &err);
	else
		response_outcome(io, outcome, 0);
}

void
handler_serve(struct handler *h, struct io *io, struct buf *body)
{
	serve_request(h, io, body);
	/* A refused sender may still be sending; bounded, it does no harm. */
	request_discard(io, HANDLER_DISCARD_MAX, HANDLER_DISCARD_MS);
}

void
handler_misconfigured(struct io *io)
{
	struct error	err;
	enum method	method;

	method = request_method(io->param(io, "REQUEST_METHOD"));
	error_init(&err);
	error_set(&err, ERROR_INTERNAL, "", "server misconfigured");
	response_error(io, &err, method == METHOD_HEAD);
	request_discard(io, HANDLER_DISCARD_MAX, HANDLER_DISCARD_MS);
}
