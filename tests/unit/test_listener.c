/* The listener's address rule, FCGI_WEB_SERVER_ADDRS, and the reaper. */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "listener.h"
#include "reaper.h"
#include "util.h"

/* An address as a sockaddr: IPv6 when it holds a ':'. */
static const struct sockaddr *
addr(const char *text, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr),
		    1);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &in->sin_addr), 1);
	}
	return (const struct sockaddr *)ss;
}

static void
test_loopback(void **state)
{
	static const char *const yes[] = { "127.0.0.1", "127.1.2.3",
	    "127.255.255.255", "::1", "::ffff:127.0.0.1" };
	static const char *const no[] = { "0.0.0.0", "::", "10.0.0.1",
	    "192.168.1.1", "128.0.0.1", "126.255.255.255", "::2",
	    "::ffff:10.0.0.1", "fe80::1", "::127.0.0.1" };
	struct sockaddr_storage	ss;
	struct sockaddr_un	un;
	size_t			i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!listener_is_loopback(addr(yes[i], &ss)))
			fail_msg("%s: not loopback", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (listener_is_loopback(addr(no[i], &ss)))
			fail_msg("%s: loopback", no[i]);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_true(listener_is_loopback((struct sockaddr *)&un));
}

static void
peers_ok(struct listener_peers *p, const char *list, size_t n)
{
	struct error err;

	error_init(&err);
	if (listener_parse_peers(p, list, &err) != 0)
		fail_msg("\"%s\": %s", list != NULL ? list : "NULL", err.text);
	assert_int_equal(p->n, n);
}

static void
peers_fail(const char *list, const char *want)
{
	struct listener_peers	p;
	struct error		err;

	error_init(&err);
	if (listener_parse_peers(&p, list, &err) != -1)
		fail_msg("\"%s\" accepted", list);
	assert_int_equal(err.kind, ERROR_INTERNAL);
	if (strstr(err.text, "FCGI_WEB_SERVER_ADDRS") == NULL ||
	    strstr(err.text, want) == NULL)
		fail_msg("\"%s\": message \"%s\" lacks \"%s\"", list, err.text,
		    want);
}

static void
test_peers_parse(void **state)
{
	struct listener_peers	p;
	char			many[2048] = "";
	int			i;

	peers_ok(&p, NULL, 0);
	peers_ok(&p, "", 0);
	peers_ok(&p, " \t", 0);
	peers_ok(&p, "127.0.0.1", 1);
	peers_ok(&p, " 127.0.0.1 , ::1,10.0.0.7 ", 3);
	peers_ok(&p, "127.0.0.1,,127.0.0.2,", 2);
	peers_fail("localhost", "\"localhost\"");
	peers_fail("127.0.0.1,127.0.0.300", "\"127.0.0.300\"");
	peers_fail("127.0.0.1 127.0.0.2", "\"127.0.0.1 127.0.0.2\"");
	peers_fail("10.0.0.0/8", "\"10.0.0.0/8\"");
	peers_fail(" , ", "no address");
	for (i = 0; i <= LISTENER_MAX_PEERS; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
		    "10.0.0.%d,", i);
	peers_fail(many, "more than");
}

static void
test_peers_allowed(void **state)
{
	struct listener_peers	p;
	struct sockaddr_storage	ss;
	struct sockaddr_un	un;

	/* None listed: everyone, as libfcgi. */
	peers_ok(&p, NULL, 0);
	assert_true(listener_peer_allowed(&p, addr("192.0.2.1", &ss)));

	peers_ok(&p, "127.0.0.1, 192.0.2.10, 2001:db8::1", 3);
	assert_true(listener_peer_allowed(&p, addr("127.0.0.1", &ss)));
	assert_true(listener_peer_allowed(&p, addr("192.0.2.10", &ss)));
	assert_true(listener_peer_allowed(&p, addr("2001:db8::1", &ss)));
	/* An IPv4 peer of an IPv6 listener. */
	assert_true(listener_peer_allowed(&p,
	    addr("::ffff:192.0.2.10", &ss)));
	assert_false(listener_peer_allowed(&p, addr("127.0.0.2", &ss)));
	assert_false(listener_peer_allowed(&p, addr("192.0.2.1", &ss)));
	assert_false(listener_peer_allowed(&p, addr("::1", &ss)));
	assert_false(listener_peer_allowed(&p, addr("2001:db8::2", &ss)));
	/* A Unix socket's file mode says who may connect. */
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_true(listener_peer_allowed(&p, (struct sockaddr *)&un));
}

/* An address off loopback is refused before anything is bound. */
static void
test_open_public(void **state)
{
	static const char *const refused[] = { ":9", "*:9", "0.0.0.0:9",
	    "[::]:9", "192.0.2.1:9" };
	static const char *const malformed[] = { "9000", "127.0.0.1",
	    "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:x", "::1:9000",
	    "unix:relative.sock" };
	struct error	err;
	size_t		i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		error_init(&err);
		assert_int_equal(listener_open(refused[i], 8, 0, &err), -1);
		if (strstr(err.text, "not loopback") == NULL ||
		    strstr(err.text, "--listen-public") == NULL)
			fail_msg("%s: \"%s\"", refused[i], err.text);
	}
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		error_init(&err);
		assert_int_equal(listener_open(malformed[i], 8, 1, &err), -1);
		if (strstr(err.text, "--listen") == NULL)
			fail_msg("%s: \"%s\"", malformed[i], err.text);
	}
}

/* A read blocked on a watched connection returns at the deadline. */
static void
test_reaper(void **state)
{
	struct reaper	*r;
	struct watch	*w;
	char		 c;
	long		 t0, took;
	int		 sv[2], d, fired;

	assert_non_null(r = reaper_new(2));
	assert_null(reaper_watch(r, 2));
	w = reaper_watch(r, 1);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_true((d = dup(sv[0])) >= 0);
	watch_set(w, d);
	/* Lifted, then armed again: only the last deadline counts. */
	watch_arm(w, 50);
	watch_arm(w, 0);
	watch_arm(w, 200);
	t0 = monotonic_ms();
	assert_int_equal(read(sv[0], &c, 1), 0);
	took = monotonic_ms() - t0;
	if (took < 150 || took > 5000)
		fail_msg("the read returned after %ld ms, want about 200",
		    took);
	assert_int_equal(watch_release(w, &fired), d);
	assert_int_equal(fired, 1);
	close(d);
	close(sv[0]);
	close(sv[1]);

	/* Released before its deadline: never shut down. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	watch_set(w, sv[0]);
	watch_arm(w, 100);
	assert_int_equal(watch_release(w, &fired), sv[0]);
	assert_int_equal(fired, 0);
	usleep(300 * 1000);
	assert_int_equal(write(sv[1], "x", 1), 1);
	assert_int_equal(read(sv[0], &c, 1), 1);
	assert_int_equal(watch_release(w, &fired), -1);
	close(sv[0]);
	close(sv[1]);
	reaper_free(r);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_peers_parse),
		cmocka_unit_test(test_peers_allowed),
		cmocka_unit_test(test_open_public),
		cmocka_unit_test(test_reaper),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("listener", tests, NULL, NULL);
}
