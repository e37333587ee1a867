/* payload_decode() over the cases in tests/unit/payload. */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "buf.h"
#include "error.h"
#include "payload.h"
#include "response.h"

#define FILE_MAX	(4 * 1024 * 1024)

/*
 * A case is a directory holding the body, as input.json or as a file
 * "fixture" naming a file in $FIXTURES, an optional "options" file
 * ("keep_secret=1") and "expected": the dump of what payload_decode made
 * of it, one "key=value" line each, "key~text" when the value need only
 * contain text, or "prefix.*" to allow keys under prefix that are not
 * listed.  Every listed line must match and every dumped key be listed.
 */
struct pcase {
	char		*name;
	char		*dir;
	char		*input;
	size_t		 inputlen;
	char		*expected;
	struct event	 ev;
	struct buf	 dump;
};

static const char	*top_srcdir = ".";
static char		*fixtures;

static char *
path_join(const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s", a, b) == -1)
		return NULL;
	return p;
}

/* The whole file, NUL-terminated; NULL if it cannot be read. */
static char *
read_file(const char *path, size_t *lenp)
{
	FILE	*f = NULL;
	char	*data = NULL;
	size_t	 len = 0, n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if ((data = malloc(FILE_MAX + 1)) == NULL)
		goto fail;
	while ((n = fread(data + len, 1, FILE_MAX - len, f)) > 0)
		len += n;
	if (ferror(f) || len == FILE_MAX)
		goto fail;
	data[len] = '\0';
	fclose(f);
	if (lenp != NULL)
		*lenp = len;
	return data;
fail:
	free(data);
	fclose(f);
	return NULL;
}

static char *
read_fixture(const char *name, size_t *lenp)
{
	char	*path, *data;

	if ((path = path_join(fixtures, name)) == NULL)
		return NULL;
	data = read_file(path, lenp);
	free(path);
	return data;
}

static void
chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
	    s[n - 1] == ' '))
		s[--n] = '\0';
}

/* One "key=value" line; control characters as \xHH, NULL as <null>. */
static void
put(struct buf *b, const char *key, const char *value)
{
	const unsigned char *p;

	assert_int_equal(buf_appendf(b, "%s=", key), 0);
	if (value == NULL)
		value = "<null>";
	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			assert_int_equal(buf_appendf(b, "\\x%02x", *p), 0);
		else
			assert_int_equal(buf_append(b, p, 1), 0);
	}
	assert_int_equal(buf_append(b, "\n", 1), 0);
}

static void
putf(struct buf *b, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
putf(struct buf *b, const char *key, const char *fmt, ...)
{
	char	value[64];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	put(b, key, value);
}

static void
put_ts(struct buf *b, const char *key, const struct timestamp *ts)
{
	put(b, key, ts->set ? ts->text : NULL);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The object's keys, sorted and comma-separated. */
static void
put_keys(struct buf *b, const char *key, const json_t *obj)
{
	const char	**keys, *k;
	struct buf	  list;
	json_t		 *v;
	size_t		  i = 0, n = json_object_size(obj);

	keys = calloc(n + 1, sizeof(*keys));
	assert_non_null(keys);
	json_object_foreach((json_t *)obj, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	buf_init(&list, 64 * 1024);
	for (i = 0; i < n; i++)
		if (buf_appendf(&list, "%s%s", i > 0 ? "," : "",
		    keys[i]) == -1)
			break;
	free(keys);
	put(b, key, list.data != NULL ? list.data : "");
	buf_release(&list);
}

static void
dump_booking(struct buf *b, const struct booking *bk)
{
	char	key[64];
	size_t	i;

	put(b, "booking.status", bk->cancelled ? "cancelled" : "booked");
	putf(b, "booking.remove_attendees", "%d", bk->remove_attendees);
	put_ts(b, "booking.start", &bk->start);
	put_ts(b, "booking.end", &bk->end);
	put_ts(b, "booking.rescheduled_at", &bk->rescheduled_at);
	put_ts(b, "booking.cancelled_at", &bk->cancelled_at);
	put_ts(b, "booking.created_at", &bk->created_at);
	put_ts(b, "booking.updated_at", &bk->updated_at);
	put(b, "booking.cancel_reason", bk->cancel_reason);
	put(b, "booking.channel", bk->channel);
	put(b, "booking.meeting_link", bk->meeting_link);
	put(b, "booking.location", bk->location);
	put(b, "booking.meeting_type.id", bk->meeting_type_id);
	put(b, "booking.meeting_type.slug", bk->meeting_type_slug);
	put(b, "booking.meeting_type.name", bk->meeting_type_name);
	if (bk->has_duration)
		putf(b, "booking.duration_minutes", "%ld",
		    bk->duration_minutes);
	else
		put(b, "booking.duration_minutes", NULL);
	put(b, "booking.company_id", bk->company_id);

	if (bk->has_attendees)
		putf(b, "booking.attendees", "%zu", bk->nattendees);
	else
		put(b, "booking.attendees", "absent");
	for (i = 0; i < bk->nattendees; i++) {
		const struct attendee *a = &bk->attendees[i];

#define ATTENDEE(f) \
	snprintf(key, sizeof(key), "booking.attendee.%zu." #f, i); \
	put(b, key, a->f)
		ATTENDEE(id);
		ATTENDEE(email);
		ATTENDEE(firstname);
		ATTENDEE(lastname);
		ATTENDEE(fullname);
		ATTENDEE(phone);
		ATTENDEE(timezone);
		ATTENDEE(language);
#undef ATTENDEE
	}

	if (bk->has_hosts)
		putf(b, "booking.hosts", "%zu", bk->nhosts);
	else
		put(b, "booking.hosts", "absent");
	for (i = 0; i < bk->nhosts; i++) {
		const struct host *h = &bk->hosts[i];

#define HOST(f) \
	snprintf(key, sizeof(key), "booking.host.%zu." #f, i); \
	put(b, key, h->f)
		HOST(id);
		HOST(email);
		HOST(full_name);
		HOST(slug);
#undef HOST
	}
}

static void
dump_event(struct buf *b, int rc, const struct event *ev,
    const struct error *err)
{
	putf(b, "status", "%d", rc == 0 ? 0 : response_error_status(err));
	if (rc != 0) {
		put(b, "error.path", err->path);
		put(b, "error.text", err->text);
		put(b, "root", ev->root != NULL ? "set" : "null");
		/* A 422 body is kept as rejected: say what would be kept. */
		if (ev->root != NULL) {
			put(b, "type_name", ev->type_name);
			put_keys(b, "root.keys", ev->root);
		}
		return;
	}
	put(b, "type", event_type_name(ev->type));
	put(b, "type_name", ev->type_name);
	put(b, "id", ev->id);
	putf(b, "rank", "%d", ev->rank);
	put_keys(b, "root.keys", ev->root);
	if (ev->subject != NULL && ev->subject != ev->root)
		put_keys(b, "subject.keys", ev->subject);

	switch (ev->type) {
	case EVENT_BOOKING_CREATED:
	case EVENT_BOOKING_RESCHEDULED:
	case EVENT_BOOKING_CANCELLED:
		dump_booking(b, &ev->booking);
		break;
	case EVENT_NEW_EMPLOYEE:
		put(b, "employee.email", ev->employee.email);
		put(b, "employee.full_name", ev->employee.full_name);
		put(b, "employee.company_id", ev->employee.company_id);
		put_ts(b, "employee.created_at", &ev->employee.created_at);
		put_ts(b, "employee.updated_at", &ev->employee.updated_at);
		break;
	case EVENT_FORM_SUBMISSION:
		put(b, "form.form_id", ev->form.form_id);
		put(b, "form.submission_id", ev->form.submission_id);
		put(b, "form.company_id", ev->form.company_id);
		put_ts(b, "form.submitted_at", &ev->form.submitted_at);
		break;
	case EVENT_UNKNOWN:
		break;
	}
}

struct line {
	char	*key;
	char	 op;		/* '=', '~', or '*' for a prefix */
	char	*value;
	int	 seen;
};

/* Split text in place into lines; blank lines and "#" comments dropped. */
static size_t
split_lines(char *text, struct line *lines, size_t max)
{
	char	*p, *save = NULL;
	size_t	 n = 0;

	for (p = strtok_r(text, "\n", &save); p != NULL;
	    p = strtok_r(NULL, "\n", &save)) {
		size_t k;

		chomp(p);
		if (*p == '\0' || *p == '#')
			continue;
		assert_true(n < max);
		k = strcspn(p, "=~");
		lines[n].key = p;
		lines[n].seen = 0;
		if (p[k] == '\0') {
			size_t len = strlen(p);

			/* "prefix.*": drop the '*', keep the dot. */
			assert_true(len >= 2 && p[len - 1] == '*');
			p[len - 1] = '\0';
			lines[n].op = '*';
			lines[n].value = NULL;
		} else {
			lines[n].op = p[k];
			p[k] = '\0';
			lines[n].value = p + k + 1;
		}
		n++;
	}
	return n;
}

static void
compare_dump(const char *name, char *got, char *want)
{
	struct line	*g, *w;
	size_t		 ng, nw, i, j;
	int		 bad = 0;

	g = calloc(8192, sizeof(*g));
	w = calloc(8192, sizeof(*w));
	assert_non_null(g);
	assert_non_null(w);
	ng = split_lines(got, g, 8192);
	nw = split_lines(want, w, 8192);

	for (i = 0; i < nw; i++) {
		if (w[i].op == '*')
			continue;
		for (j = 0; j < ng; j++)
			if (strcmp(g[j].key, w[i].key) == 0)
				break;
		if (j == ng) {
			print_error("%s: %s: missing, want \"%s\"\n", name,
			    w[i].key, w[i].value);
			bad++;
			continue;
		}
		g[j].seen = 1;
		if (w[i].op == '=' ? strcmp(g[j].value, w[i].value) != 0 :
		    strstr(g[j].value, w[i].value) == NULL) {
			print_error("%s: %s: got \"%s\", want %s\"%s\"\n",
			    name, w[i].key, g[j].value,
			    w[i].op == '~' ? "it to contain " : "", w[i].value);
			bad++;
		}
	}
	for (j = 0; j < ng; j++) {
		int allowed = g[j].seen;

		for (i = 0; i < nw && !allowed; i++)
			if (w[i].op == '*' && strncmp(g[j].key, w[i].key,
			    strlen(w[i].key)) == 0)
				allowed = 1;
		if (!allowed) {
			print_error("%s: %s=%s: not in expected\n", name,
			    g[j].key, g[j].value);
			bad++;
		}
	}
	free(g);
	free(w);
	if (bad > 0)
		fail_msg("%s: %d line(s) differ from expected", name, bad);
}

/* Every mapped person is borrowed from its own element of the body. */
static void
check_people(const struct event *ev)
{
	static const char *const akeys[] = { "id", "email", "firstname",
	    "lastname", "fullname", "phone", "timezone", "language" };
	const struct booking	*bk = &ev->booking;
	const json_t		*arr, *v;
	size_t			 i, n = 0;

	if (!bk->has_attendees)
		return;
	arr = json_object_get(ev->subject, "attendees");
	assert_true(json_is_array(arr));
	json_array_foreach(arr, i, v) {
		const struct attendee	*a;
		const char		*got[8];
		size_t			 k;

		if (!json_is_object(v))
			continue;
		assert_true(n < bk->nattendees);
		a = &bk->attendees[n++];
		got[0] = a->id; got[1] = a->email; got[2] = a->firstname;
		got[3] = a->lastname; got[4] = a->fullname; got[5] = a->phone;
		got[6] = a->timezone; got[7] = a->language;
		for (k = 0; k < 8; k++)
			assert_ptr_equal(got[k],
			    json_string_value(json_object_get(v, akeys[k])));
	}
	assert_int_equal(n, bk->nattendees);
}

/* The text to store says exactly what the tree holds. */
static void
assert_text_is_root(const struct event *ev)
{
	json_t		*parsed;
	json_error_t	 jerr;

	assert_non_null(ev->text);
	parsed = json_loads(ev->text, JSON_REJECT_DUPLICATES, &jerr);
	if (parsed == NULL)
		fail_msg("text does not parse: %s: %s", jerr.text, ev->text);
	if (!json_equal(parsed, ev->root))
		fail_msg("text differs from the tree: %s", ev->text);
	json_decref(parsed);
}

static void
test_case(void **state)
{
	struct pcase	*c = *state;
	struct error	 err;
	char		*path = NULL, *fixture = NULL, *options;
	int		 keep_secret = 0, rc;

	/* The body: input.json, or the fixture the case names. */
	path = path_join(c->dir, "fixture");
	assert_non_null(path);
	if ((fixture = read_file(path, NULL)) != NULL) {
		chomp(fixture);
		c->input = read_fixture(fixture, &c->inputlen);
		free(fixture);
	} else {
		free(path);
		path = path_join(c->dir, "input.json");
		assert_non_null(path);
		c->input = read_file(path, &c->inputlen);
	}
	free(path);
	if (c->input == NULL)
		fail_msg("%s: cannot read its input or fixture", c->name);

	path = path_join(c->dir, "options");
	assert_non_null(path);
	if ((options = read_file(path, NULL)) != NULL) {
		keep_secret = strstr(options, "keep_secret=1") != NULL;
		free(options);
	}
	free(path);

	path = path_join(c->dir, "expected");
	assert_non_null(path);
	c->expected = read_file(path, NULL);
	free(path);
	if (c->expected == NULL)
		fail_msg("%s: no expected file", c->name);

	error_init(&err);
	rc = payload_decode(c->input, c->inputlen, keep_secret,
	    PAYLOAD_MAX_PEOPLE, &c->ev, &err);
	if (rc == 0) {
		assert_int_equal(err.kind, ERROR_NONE);
		assert_non_null(c->ev.root);
	} else
		assert_int_equal(rc, -1);
	if (c->ev.root != NULL)
		assert_text_is_root(&c->ev);
	dump_event(&c->dump, rc, &c->ev, &err);
	if (rc == 0 && c->ev.type >= EVENT_BOOKING_CREATED &&
	    c->ev.type <= EVENT_BOOKING_CANCELLED)
		check_people(&c->ev);
	compare_dump(c->name, c->dump.data, c->expected);
}

static int
case_teardown(void **state)
{
	struct pcase *c = *state;

	event_release(&c->ev);
	buf_release(&c->dump);
	free(c->input);
	free(c->expected);
	c->input = c->expected = NULL;
	return 0;
}

static int
cmp_case(const void *a, const void *b)
{
	return strcmp(((const struct pcase *)a)->name,
	    ((const struct pcase *)b)->name);
}

/* The case directories under tests/unit/payload, sorted by name. */
static struct pcase *
load_cases(size_t *np)
{
	struct pcase	*cases = NULL, *tmp;
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	char		*root, *dir;
	size_t		 n = 0;

	*np = 0;
	if ((root = path_join(top_srcdir, "tests/unit/payload")) == NULL)
		return NULL;
	if ((d = opendir(root)) == NULL) {
		free(root);
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((dir = path_join(root, de->d_name)) == NULL)
			break;
		if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
			free(dir);
			continue;
		}
		if ((tmp = realloc(cases, (n + 1) * sizeof(*cases))) == NULL) {
			free(dir);
			break;
		}
		cases = tmp;
		memset(&cases[n], 0, sizeof(cases[n]));
		cases[n].dir = dir;
		cases[n].name = strdup(de->d_name);
		event_init(&cases[n].ev);
		buf_init(&cases[n].dump, FILE_MAX);
		n++;
	}
	closedir(d);
	free(root);
	qsort(cases, n, sizeof(*cases), cmp_case);
	*np = n;
	return cases;
}

static struct pcase	*cases;
static size_t		 ncases;
static size_t		 nrefused;

/*
 * Guard against a runner that silently finds no data, and against case
 * names too long for the tarball: automake's default tar format drops
 * paths over 99 bytes, "meetergo-webhook-x.y.z/tests/unit/payload/"
 * plus the name plus "/input.json".
 */
static void
test_cases_found(void **state)
{
	size_t i;

	assert_true(ncases >= 40);
	assert_true(nrefused >= 20);
	for (i = 0; i < ncases; i++)
		if (strlen(cases[i].name) > 44)
			fail_msg("case name \"%s\" is over 44 bytes",
			    cases[i].name);
}

/* Each fixture has a case whose "fixture" file names it. */
static void
test_every_fixture_has_a_case(void **state)
{
	struct dirent	*de;
	DIR		*d;
	int		 nfix = 0;

	d = opendir(fixtures);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t	 len = strlen(de->d_name), i;
		int	 found = 0;

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		nfix++;
		for (i = 0; i < ncases && !found; i++) {
			char *p = path_join(cases[i].dir, "fixture"), *f;

			assert_non_null(p);
			if ((f = read_file(p, NULL)) != NULL) {
				chomp(f);
				found = strcmp(f, de->d_name) == 0;
				free(f);
			}
			free(p);
		}
		if (!found)
			print_error("fixture %s has no case\n", de->d_name);
		assert_true(found);
	}
	closedir(d);
	assert_true(nfix >= 14);
}

/*
 * Hostile timestamps, from tests/unit/timestamp/cases.json, in every
 * timestamp field of every event kind: 422 naming the field, body kept.
 */
static json_t *ts_cases;

static void
expect_422(const char *body, const char *type_name, const char *path,
    const char *value)
{
	struct event	ev;
	struct error	err;
	int		rc;

	event_init(&ev);
	error_init(&err);
	rc = payload_decode(body, strlen(body), 0, PAYLOAD_MAX_PEOPLE, &ev,
	    &err);
	if (rc != -1 || response_error_status(&err) != 422 || strcmp(err.path,
	    path) != 0 ||
	    ev.root == NULL || ev.type_name == NULL ||
	    strcmp(ev.type_name, type_name) != 0)
		print_error("\"%s\" in %s: rc %d, status %d, path \"%s\", "
		    "root %s\n", value, path, rc, response_error_status(&err),
		    err.path, ev.root != NULL ? "set" : "null");
	assert_int_equal(rc, -1);
	assert_int_equal(response_error_status(&err), 422);
	assert_string_equal(err.path, path);
	assert_non_null(ev.root);
	assert_non_null(ev.type_name);
	assert_string_equal(ev.type_name, type_name);
	event_release(&ev);
}

static void
hostile_in(const char *fixture, const char *parent, const char *field,
    const char *path, json_t *value)
{
	json_t	*root, *obj;
	char	*input, *body;

	input = read_fixture(fixture, NULL);
	assert_non_null(input);
	root = json_loads(input, 0, NULL);
	free(input);
	assert_non_null(root);
	obj = json_object_get(root, "data");
	if (obj == NULL)
		obj = root;
	if (parent != NULL)
		obj = json_object_get(obj, parent);
	assert_true(json_is_object(obj));
	assert_int_equal(json_object_set(obj, field, value), 0);
	body = json_dumps(root, JSON_COMPACT);
	assert_non_null(body);
	expect_422(body, json_string_value(json_object_get(root,
	    json_object_get(root, "event") != NULL ? "event" : "webhookType")),
	    path, json_string_value(value));
	free(body);
	json_decref(root);
}

static void
test_hostile_timestamp(void **state)
{
	static const struct {
		const char	*fixture, *parent, *field, *path;
	} fields[] = {
		{ "booking_cancelled.flat.json", NULL, "start", "start" },
		{ "booking_cancelled.flat.json", NULL, "end", "end" },
		{ "booking_cancelled.flat.json", NULL, "rescheduledAt",
		    "rescheduledAt" },
		{ "booking_cancelled.flat.json", NULL, "createdAt",
		    "createdAt" },
		{ "booking_cancelled.flat.json", NULL, "updatedAt",
		    "updatedAt" },
		{ "booking_cancelled.flat.json", "cancel", "actionAt",
		    "cancel.actionAt" },
		{ "booking_created.envelope.json", NULL, "start",
		    "data.start" },
		{ "booking_rescheduled.flat.json", NULL, "rescheduledAt",
		    "rescheduledAt" },
		{ "new_employee.flat.json", NULL, "createdAt", "createdAt" },
		{ "new_employee.envelope.json", NULL, "updatedAt",
		    "data.updatedAt" },
		{ "form_submission.flat.json", NULL, "createdAt",
		    "createdAt" },
	};
	json_t	*value = *state;
	size_t	 i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		hostile_in(fields[i].fixture, fields[i].parent,
		    fields[i].field, fields[i].path, value);
}

/* A timestamp that is not a string is refused the same way. */
static void
test_timestamp_not_a_string(void **state)
{
	json_t	*values[4];
	size_t	 i;

	values[0] = json_integer(1710770400);
	values[1] = json_true();
	values[2] = json_object();
	values[3] = json_array();
	for (i = 0; i < 4; i++) {
		assert_non_null(values[i]);
		hostile_in("booking_created.flat.json", NULL, "start",
		    "start", values[i]);
		hostile_in("booking_cancelled.flat.json", "cancel",
		    "actionAt", "cancel.actionAt", values[i]);
		json_decref(values[i]);
	}
}

/*
 * The secret is cut out of the body's own text wherever it stands; where
 * the text cannot be cut with certainty the tree is encoded instead.
 */
static void
test_text_cuts(void **state)
{
	static const struct {
		const char	*body;
		const char	*text;	/* NULL: the tree encoded instead */
	} tcases[] = {
		{ "{\"secret\":\"s\",\"webhookType\":\"x\"}",
		  "{\"webhookType\":\"x\"}" },
		{ "{\"webhookType\":\"x\",\"secret\":\"s\"}",
		  "{\"webhookType\":\"x\"}" },
		{ "{\"webhookType\":\"x\", \"secret\" : \"s\" , \"a\":[1,"
		  "{\"secret\":\"inner\"}]}",
		  "{\"webhookType\":\"x\", \"a\":[1,{\"secret\":\"inner\"}]}" },
		{ " \n{\"webhookType\":\"x\",\n\t\"secret\":\"s\"\r\n}\n ",
		  " \n{\"webhookType\":\"x\"\r\n}\n " },
		{ "{\"webhookType\":\"x\",\"a\":\"secret\",\"secret\":1e5}",
		  "{\"webhookType\":\"x\",\"a\":\"secret\"}" },
		{ "{\"webhookType\":\"x\",\"secret\":{\"a\":\"}\\\"{[\"},"
		  "\"b\":\"\\\\\\\"\"}",
		  "{\"webhookType\":\"x\",\"b\":\"\\\\\\\"\"}" },
		{ "{\"webhookType\":\"x\",\"secret\":[true,null,{}],\"c\":-0.5}",
		  "{\"webhookType\":\"x\",\"c\":-0.5}" },
		{ "{\"event\":\"x\",\"secret\":\"r\",\"data\":{\"secret\":\"s\","
		  "\"id\":\"1\"}}",
		  "{\"event\":\"x\",\"data\":{\"id\":\"1\"}}" },
		{ "{\"event\":\"x\",\"data\":{\"id\":\"1\",\"secret\":\"s\"},"
		  "\"secret\":\"r\"}",
		  "{\"event\":\"x\",\"data\":{\"id\":\"1\"}}" },
		{ "{\"event\":\"x\",\"data\":{\"secret\":\"s\"}}",
		  "{\"event\":\"x\",\"data\":{}}" },
		{ "{\"event\":\"x\",\"data\":[],\"secret\":\"s\"}",
		  "{\"event\":\"x\",\"data\":[]}" },
		{ "{\"webhookType\":\"x\",\"a\":1}",
		  "{\"webhookType\":\"x\",\"a\":1}" },
		{ "{\"webhookType\":\"x\",\"secr\\u0065t\":\"s\"}", NULL },
		{ "{\"event\":\"x\",\"data\":{\"\\u0073ecret\":\"s\"}}", NULL },
	};
	static const char nul[] =
	    "{\"webhookType\":\"x\",\"secret\":\"s\",\0\"a\":\"b\"}";
	struct error	 err;
	struct event	 ev;
	json_t		*data;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(tcases) / sizeof(tcases[0]); i++) {
		error_init(&err);
		event_init(&ev);
		if (payload_decode(tcases[i].body, strlen(tcases[i].body), 0,
		    PAYLOAD_MAX_PEOPLE, &ev, &err) != 0)
			fail_msg("case %zu: %d %s", i,
			    response_error_status(&err), err.text);
		assert_null(json_object_get(ev.root, "secret"));
		data = json_object_get(ev.root, "data");
		if (json_is_object(data))
			assert_null(json_object_get(data, "secret"));
		assert_text_is_root(&ev);
		if (tcases[i].text != NULL)
			assert_string_equal(ev.text, tcases[i].text);
		else {
			char *dumped = json_dumps(ev.root, JSON_COMPACT);

			assert_non_null(dumped);
			assert_string_equal(ev.text, dumped);
			free(dumped);
		}
		event_release(&ev);

		/* Kept, the secret makes the text the body itself. */
		event_init(&ev);
		assert_int_equal(payload_decode(tcases[i].body,
		    strlen(tcases[i].body), 1, PAYLOAD_MAX_PEOPLE, &ev, &err),
		    0);
		assert_string_equal(ev.text, tcases[i].body);
		event_release(&ev);
	}

	/* jansson reads past a NUL byte between tokens: the tree it is. */
	event_init(&ev);
	error_init(&err);
	if (payload_decode(nul, sizeof(nul) - 1, 0, PAYLOAD_MAX_PEOPLE, &ev,
	    &err) == 0) {
		assert_text_is_root(&ev);
		assert_null(strstr(ev.text, "secret"));
	}
	event_release(&ev);
}

/*
 * Numbers jansson takes but PostgreSQL's numeric cannot hold (more than
 * 16383 digits after the point, an exponent past INT_MAX / 2) are refused
 * as data, and kept as strings of their own text; the others pass.
 */
static void
test_number_range(void **state)
{
	static const struct {
		const char	*body;
		const char	*text;	/* NULL: accepted as it is */
	} ncases[] = {
		{ "{\"webhookType\":\"x\",\"a\":1e-20000}",
		  "{\"webhookType\":\"x\",\"a\":\"1e-20000\"}" },
		{ "{\"webhookType\":\"x\",\"a\":[2,-1.5E-16383,0.5,0e-16384]}",
		  "{\"webhookType\":\"x\",\"a\":[2,\"-1.5E-16383\",0.5,"
		  "\"0e-16384\"]}" },
		{ "{\"webhookType\":\"x\",\"a\":0e99999999999}",
		  "{\"webhookType\":\"x\",\"a\":\"0e99999999999\"}" },
		{ "{\"webhookType\":\"x\",\"a\":0e1073741823}",
		  "{\"webhookType\":\"x\",\"a\":\"0e1073741823\"}" },
		{ "{\"webhookType\":\"booking_created\",\"secret\":\"s3cr3t\","
		  "\"id\":\"b\",\"a\":{\"b\":1e-99999}}",
		  "{\"webhookType\":\"booking_created\",\"id\":\"b\","
		  "\"a\":{\"b\":\"1e-99999\"}}" },
		{ "{\"event\":\"booking_created\",\"data\":{\"id\":\"b\","
		  "\"n\":1e-16384}}",
		  "{\"event\":\"booking_created\",\"data\":{\"id\":\"b\","
		  "\"n\":\"1e-16384\"}}" },
		{ "{\"webhookType\":\"x\",\"a\":1e-16383,\"b\":1.5e-16382}",
		  NULL },
		{ "{\"webhookType\":\"x\",\"a\":0e1073741822,\"b\":1e-400}",
		  NULL },
		{ "{\"webhookType\":\"x\",\"1e-20000\":\"1e-20000\"}", NULL },
		{ "{\"webhookType\":\"x\",\"a\":-0.0e+0,\"b\":123E+00002}",
		  NULL },
	};
	struct error	 err;
	struct event	 ev;
	char		*body;
	size_t		 i, n;
	int		 rc;

	(void)state;
	for (i = 0; i < sizeof(ncases) / sizeof(ncases[0]); i++) {
		error_init(&err);
		event_init(&ev);
		rc = payload_decode(ncases[i].body, strlen(ncases[i].body), 0,
		    PAYLOAD_MAX_PEOPLE, &ev, &err);
		if (ncases[i].text == NULL) {
			if (rc != 0)
				fail_msg("case %zu: %s", i, err.text);
			assert_string_equal(ev.text, ncases[i].body);
		} else {
			assert_int_equal(rc, -1);
			assert_int_equal(response_error_status(&err), 422);
			assert_non_null(strstr(err.text, "out of PostgreSQL's "
			    "range at line 1, column "));
			assert_non_null(ev.root);
			assert_non_null(ev.type_name);
			assert_string_equal(ev.text, ncases[i].text);
			assert_text_is_root(&ev);
		}
		event_release(&ev);
	}

	/* 16383 digits after the point fit; 16384 do not. */
	n = 16384;
	body = malloc(n + 64);
	assert_non_null(body);
	for (i = 0; i <= 1; i++) {
		snprintf(body, n + 64, "{\"webhookType\":\"x\",\"a\":0.%0*d}",
		    (int)(n - 1 + i), 1);
		error_init(&err);
		event_init(&ev);
		rc = payload_decode(body, strlen(body), 0, PAYLOAD_MAX_PEOPLE,
		    &ev, &err);
		assert_int_equal(rc, i == 0 ? 0 : -1);
		if (i == 1)
			assert_int_equal(response_error_status(&err), 422);
		event_release(&ev);
	}
	free(body);
}

/*
 * jansson's own message quotes up to 20 bytes of the body, which may be
 * the appointment secret: the error says where and what kind, and quotes
 * nothing.
 */
static void
test_syntax_error_quotes_nothing(void **state)
{
	static const struct {
		const char	*body;
		const char	*kind;
	} scases[] = {
		{ "{\"webhookType\":\"booking_created\",\"secret\" "
		  "\"sk-9f8e7d6c5b4a\"}", "invalid syntax" },
		{ "{\"webhookType\":\"booking_created\",\"secret\":"
		  "\"sk-9f8e7d6c5b4a", "premature end of input" },
		{ "{\"webhookType\":\"booking_created\",\"secret\":"
		  "\"sk-9f8e7d6c5b4a\\x\"}", "invalid syntax" },
		{ "{\"webhookType\":\"booking_created\",\"secret\":"
		  "\"sk-9f8e7d6c5b4a\x01\"}", "invalid syntax" },
		{ "{\"webhookType\":\"booking_created\",\"secret\":"
		  "sk-9f8e7d6c5b4a}", "invalid syntax" },
		{ "{\"secret\":\"sk-9f8e7d6c5b4a\",\"secret\":"
		  "\"sk-9f8e7d6c5b4a\"}", "duplicate object key" },
	};
	struct error	 err;
	struct event	 ev;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(scases) / sizeof(scases[0]); i++) {
		error_init(&err);
		event_init(&ev);
		assert_int_equal(payload_decode(scases[i].body,
		    strlen(scases[i].body), 0, PAYLOAD_MAX_PEOPLE, &ev, &err),
		    -1);
		assert_int_equal(response_error_status(&err), 400);
		if (strstr(err.text, "sk-") != NULL ||
		    strstr(err.text, "near") != NULL ||
		    strstr(err.path, "sk-") != NULL)
			fail_msg("case %zu quotes the body: %s", i, err.text);
		assert_non_null(strstr(err.text, "body is not valid JSON at "
		    "line 1, column "));
		assert_non_null(strstr(err.text, scases[i].kind));
		event_release(&ev);
	}
}

/*
 * Attendees and hosts beyond the cap are refused as data (kept as
 * rejected) before any is mapped; up to the cap they are taken.
 */
static void
test_people_cap(void **state)
{
	static const struct {
		const char	*body;
		const char	*path;	/* NULL: accepted */
	} pcases[] = {
		{ "{\"webhookType\":\"booking_created\",\"id\":\"b\","
		  "\"attendees\":[{},{},{}],\"hosts\":[{},{},{}]}", NULL },
		{ "{\"webhookType\":\"booking_created\",\"id\":\"b\","
		  "\"attendees\":[{},{},{},{}]}", "attendees" },
		{ "{\"webhookType\":\"booking_cancelled\",\"id\":\"b\","
		  "\"attendees\":[1,2,3,4]}", "attendees" },
		{ "{\"webhookType\":\"booking_rescheduled\",\"id\":\"b\","
		  "\"hosts\":[{},{},{},{}]}", "hosts" },
		{ "{\"event\":\"booking_created\",\"data\":{\"id\":\"b\","
		  "\"attendees\":[{},{},{},{}]}}", "data.attendees" },
		/* Only the bookings' people are mapped, and capped. */
		{ "{\"webhookType\":\"new_employee\",\"id\":\"e\","
		  "\"attendees\":[{},{},{},{}]}", NULL },
	};
	struct error	 err;
	struct event	 ev;
	struct buf	 big;
	size_t		 i;
	int		 rc;

	(void)state;
	for (i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		error_init(&err);
		event_init(&ev);
		rc = payload_decode(pcases[i].body, strlen(pcases[i].body), 0,
		    3, &ev, &err);
		if (pcases[i].path == NULL) {
			if (rc != 0)
				fail_msg("case %zu: %s", i, err.text);
		} else {
			assert_int_equal(rc, -1);
			assert_int_equal(response_error_status(&err), 422);
			assert_string_equal(err.path, pcases[i].path);
			assert_non_null(strstr(err.text, "4 entries, over the "
			    "limit of 3"));
			assert_non_null(ev.root);
			assert_null(ev.booking.attendees);
			assert_null(ev.booking.hosts);
		}
		event_release(&ev);
	}

	/* The largest body of "{}" attendees, under the default cap. */
	buf_init(&big, 262144);
	assert_int_equal(buf_appendf(&big, "{\"webhookType\":\"booking_created"
	    "\",\"id\":\"b\",\"attendees\":[{}"), 0);
	while (big.len + 5 <= 262144)
		assert_int_equal(buf_append(&big, ",{}", 3), 0);
	assert_int_equal(buf_append(&big, "]}", 2), 0);
	error_init(&err);
	event_init(&ev);
	assert_int_equal(payload_decode(big.data, big.len, 0,
	    PAYLOAD_MAX_PEOPLE, &ev, &err), -1);
	assert_int_equal(response_error_status(&err), 422);
	assert_string_equal(err.path, "attendees");
	assert_null(ev.booking.attendees);
	event_release(&ev);
	buf_release(&big);
}

/* One event reused across decodes, failures included, leaks nothing. */
static void
test_decode_reuses_event(void **state)
{
	static const char good[] = "{\"webhookType\":\"booking_created\","
	    "\"id\":\"b-1\",\"attendees\":[{\"id\":\"a\"}]}";
	static const char bad[] = "{\"webhookType\":\"booking_created\"}";
	struct event	ev;
	struct error	err;

	event_init(&ev);
	error_init(&err);
	assert_int_equal(payload_decode(good, strlen(good), 0,
	    PAYLOAD_MAX_PEOPLE, &ev, &err), 0);
	assert_int_equal(ev.booking.nattendees, 1);
	assert_int_equal(payload_decode(bad, strlen(bad), 0, PAYLOAD_MAX_PEOPLE,
	    &ev, &err), -1);
	assert_int_equal(response_error_status(&err), 422);
	assert_int_equal(ev.booking.nattendees, 0);
	assert_null(ev.booking.attendees);
	error_init(&err);
	assert_int_equal(payload_decode("[]", 2, 0, PAYLOAD_MAX_PEOPLE, &ev,
	    &err), -1);
	assert_int_equal(response_error_status(&err), 400);
	assert_null(ev.root);
	event_release(&ev);
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_cases_found),
		cmocka_unit_test(test_every_fixture_has_a_case),
		cmocka_unit_test(test_timestamp_not_a_string),
		cmocka_unit_test(test_text_cuts),
		cmocka_unit_test(test_number_range),
		cmocka_unit_test(test_syntax_error_quotes_nothing),
		cmocka_unit_test(test_people_cap),
		cmocka_unit_test(test_decode_reuses_event),
	};
	const size_t	 nfixed = sizeof(fixed) / sizeof(fixed[0]);
	struct CMUnitTest *tests;
	const json_t	*refused;
	const char	*v;
	char		*path;
	size_t		 i, n;
	int		 rc;

	cmocka_set_message_output(CM_OUTPUT_TAP);
	if ((v = getenv("top_srcdir")) != NULL && *v != '\0')
		top_srcdir = v;
	if ((v = getenv("FIXTURES")) != NULL && *v != '\0')
		fixtures = strdup(v);
	else
		fixtures = path_join(top_srcdir, "tests/fixtures/meetergo");
	if (fixtures == NULL)
		return 1;

	cases = load_cases(&ncases);
	if ((path = path_join(top_srcdir,
	    "tests/unit/timestamp/cases.json")) == NULL)
		return 1;
	ts_cases = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
	free(path);
	refused = json_object_get(ts_cases, "refused");
	nrefused = json_array_size(refused);

	/* One group, so that TAP sees one plan. */
	tests = calloc(nfixed + ncases + nrefused + 1, sizeof(*tests));
	if (tests == NULL)
		return 1;
	memcpy(tests, fixed, sizeof(fixed));
	n = nfixed;
	for (i = 0; i < ncases; i++) {
		tests[n].name = cases[i].name;
		tests[n].test_func = test_case;
		tests[n].teardown_func = case_teardown;
		tests[n].initial_state = &cases[i];
		n++;
	}
	for (i = 0; i < nrefused; i++) {
		json_t	*value = json_array_get(refused, i);
		char	*q, *name;

		/* JSON-quoted, so a "\n" in the value stays on one line. */
		if (!json_is_string(value) ||
		    (q = json_dumps(value, JSON_ENCODE_ANY)) == NULL)
			continue;
		if (asprintf(&name, "hostile timestamp %s in every field",
		    q) == -1) {
			free(q);
			continue;
		}
		free(q);
		tests[n].name = name;
		tests[n].test_func = test_hostile_timestamp;
		tests[n].initial_state = value;
		n++;
	}

	rc = _cmocka_run_group_tests("payload", tests, n, NULL, NULL);

	for (i = nfixed + ncases; i < n; i++)
		free((char *)tests[i].name);
	for (i = 0; i < ncases; i++) {
		free(cases[i].name);
		free(cases[i].dir);
	}
	free(cases);
	free(tests);
	json_decref(ts_cases);
	free(fixtures);
	return rc;
}
