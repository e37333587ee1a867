/* One request from start to answer: read, authenticate, decode, store. */
#include "config.h"

#include <stdio.h>
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
#include "stats.h"
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
 * The database could not take the event (serr): keep it in the spool
 * instead, when there is one and may_spool.  What is spooled is the text
 * that is to be stored (ev->text: the body without the appointment
 * secret, unless it is kept), under key, the hash of the body as it was
 * delivered: drained, it is the same event as if it had been stored now.
 * 0 spooled, else -1 with err set to what the sender is to be told.
 */
static int
spool_body(struct handler *h, const struct event *ev, const char *key,
    const char *body, size_t len, int may_spool, const struct error *serr,
    struct error *err)
{
	struct error perr;

	if (ev->text != NULL) {
		body = ev->text;
		len = strlen(ev->text);
	}

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
 * The way in for every body: decode, store, and if the database is away,
 * keep it in the spool instead.  spool_key is NULL for a delivery; for a
 * body from the spool it is the event's key, and the body is stored in a
 * transaction of its own, never spooled again.
 */
static int
store_body(struct handler *h, const char *body, size_t len,
    const char *spool_key, enum outcome *outcome, struct error *err)
{
	struct event	 ev;
	struct error	 serr, reason;
	char		 key[DIGEST_HEX_LEN];
	long		 deliveries = 0;
	int		 rc = -1;

	event_init(&ev);
	error_init(&serr);
	error_init(&reason);	/* why the event is kept as rejected */
	if (spool_key != NULL)
		snprintf(key, sizeof(key), "%s", spool_key);
	else if (digest_sha256_hex(body, len, key) == -1) {
		error_set(err, ERROR_INTERNAL, "", "SHA-256 failed");
		log_failure(NULL, NULL, "failed", err);
		goto done;
	}
	if (payload_decode(body, len, h->settings->keep_secret,
	    (size_t)h->settings->max_people, &ev, err) == -1) {
		if (err->kind != ERROR_DATA || ev.root == NULL) {
			log_failure(&ev, key, "refused", err);
			goto done;
		}
		/* A malformed known event is kept, as rejected. */
		reason = *err;
		error_init(err);
	}
	if (spool_key == NULL)
		stats_event_type(ev.type);
	if ((spool_key != NULL ? group_store_alone : group_store)(h->group,
	    key, &ev, &reason, outcome, &deliveries, &serr) == 0) {
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
	if (spool_body(h, &ev, key, body, len, spool_key == NULL, &serr,
	    err) == 0) {
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
	return store_body(h, body, len, NULL, outcome, err);
}

/*
 * spool_drain's callback: a body kept as rejected is done with too.  A
 * name without a key is a file put there by hand: its body is its key.
 * A timeout or a fault of ours is the file's own when the database
 * otherwise answers and can store events (a poison event: one whose
 * statement outlasts the timeout); a connection lost, or a schema or
 * privilege missing (an upgrade under way), is not.
 */
static int
drain_store(void *arg, const char *key, const char *body, size_t len,
    struct error *err)
{
	struct handler	*h = arg;
	struct error	 perr;
	enum outcome	 outcome;
	char		 hex[DIGEST_HEX_LEN];

	if (key == NULL) {
		if (digest_sha256_hex(body, len, hex) == -1) {
			error_set(err, ERROR_INTERNAL, "", "SHA-256 failed");
			return -1;
		}
		key = hex;
	}
	if (store_body(h, body, len, key, &outcome, err) == 0)
		return 0;
	if (err->kind != ERROR_BUSY && err->kind != ERROR_INTERNAL)
		return -1;
	error_init(&perr);
	return group_ping(h->group, &perr) == 0 ? -2 : -1;
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
	return spool_drain(&h->spool, drain_store, h, 0, 0, 0, done, err);
}

int
handler_retry_failed(struct handler *h, long *moved, struct error *err)
{
	*moved = 0;
	if (!h->has_spool) {
		error_set(err, ERROR_INTERNAL, "", "MEETERGO_WEBHOOK_SPOOL_DIR "
		    "is not set");
		return -1;
	}
	return spool_retry_failed(&h->spool, moved, err);
}

void
handler_idle(struct handler *h)
{
	struct spool_state	ss;
	struct error		err;
	long			done, now, last;

	if (!h->has_spool || !atomic_load(&h->db_up))
		return;
	/* A look at the directory at most once a second, by one thread. */
	now = monotonic_ms();
	last = atomic_load(&h->spool_checked_ms);
	if ((last != 0 && now - last < 1000) ||
	    !atomic_compare_exchange_strong(&h->spool_checked_ms, &last, now))
		return;
	/* Temporary files too: those a crash left are swept by the drain. */
	if (spool_scan(&h->spool, &ss) == -1 || ss.files + ss.tmp_files == 0)
		return;
	error_init(&err);
	if (spool_drain(&h->spool, drain_store, h, 1, HANDLER_DRAIN_BATCH,
	    HANDLER_DRAIN_MS, &done, &err) == -1)
		log_warn("spool: drain stopped: %s", err.text);
	if (done > 0) {
		log_info("spool: drained %ld file%s", done,
		    done == 1 ? "" : "s");
		/* More may wait: look again after the next request. */
		atomic_store(&h->spool_checked_ms, 0);
	}
}

/* The answer to GET or HEAD; its status. */
static int
serve_health(struct handler *h, struct io *io, int head)
{
	struct error err;

	/* The cause went to the log (group.c), not to whoever asked. */
	error_init(&err);
	if (group_health(h->group, &err) == 0 ||
	    (h->has_spool && spool_has_room(&h->spool))) {
		response_send(io, 200, "status", "ok", head);
		return 200;
	}
	response_send(io, 503, "status", "unavailable", head);
	return 503;
}

/*
 * The answer to a failure: its message, but for 5xx only a word, since
 * the cause (socket paths, SQL) is for the log, not for the sender.
 */
static int
answer_error(struct io *io, const struct error *err)
{
	struct error	pub;
	int		status = response_error_status(err);

	if (status < 500) {
		response_error(io, err, 0);
		return status;
	}
	error_init(&pub);
	error_set(&pub, err->kind, "", "%s", error_is_transient(err) ?
	    "database unavailable" : "internal error");
	response_error(io, &pub, 0);
	return status;
}

/* A delivery that was read and authenticated; the status answered. */
static int
serve_delivery(struct handler *h, struct io *io, struct buf *body)
{
	struct error	err;
	enum outcome	outcome;

	error_init(&err);
	if (handler_event(h, buf_str(body), body->len, &outcome, &err) == -1) {
		/* Refused before it was an event (400) is no delivery. */
		if (response_error_status(&err) >= 500)
			stats_event(STATS_FAILED);
		return answer_error(io, &err);
	}
	stats_event(outcome);
	if (outcome == OUTCOME_REJECTED)
		return answer_error(io, &err);
	response_outcome(io, outcome, 0);
	return response_status(outcome);
}

/* One request answered; the status it was answered with. */
static int
serve_request(struct handler *h, struct io *io, struct buf *body)
{
	struct error	err;
	enum method	method;

	error_init(&err);
	method = request_method(io->param(io, "REQUEST_METHOD"));
	switch (method) {
	case METHOD_GET:
	case METHOD_HEAD:
		return serve_health(h, io, method == METHOD_HEAD);
	case METHOD_OTHER:
		error_set(&err, ERROR_METHOD, "", "method not allowed");
		response_error(io, &err, 0);
		return response_error_status(&err);
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
		return answer_error(io, &err);
	}
	return serve_delivery(h, io, body);
}

void
handler_serve(struct handler *h, struct io *io, struct buf *body)
{
	long	start = monotonic_us();
	int	status;

	status = serve_request(h, io, body);
	stats_request(status, monotonic_us() - start);
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
