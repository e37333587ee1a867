/* The FastCGI listener: the addresses it may use, the peers it admits. */
#ifndef MW_LISTENER_H
#define MW_LISTENER_H

#include <stddef.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "error.h"

#define LISTENER_MAX_PEERS	32

/*
 * The peers FCGI_WEB_SERVER_ADDRS admits to a TCP listener, IPv4 ones as
 * IPv4-mapped IPv6 addresses.  n == 0: every peer.  Unix sockets are
 * guarded by their file's mode instead, as libfcgi does.
 */
struct listener_peers {
	struct in6_addr	addr[LISTENER_MAX_PEERS];
	size_t		n;
};

/*
 * Parse FCGI_WEB_SERVER_ADDRS (list: NULL or blank for none): IPv4 and
 * IPv6 addresses separated by commas, blanks around them ignored.  An
 * entry that is not an address, or a list set but without one, fails,
 * where libfcgi would silently admit nobody.  0, or -1 with err set.
 */
int	listener_parse_peers(struct listener_peers *, const char *list,
	    struct error *err);

/* 1 when peers admit sa (always for a Unix socket), else 0. */
int	listener_peer_allowed(const struct listener_peers *,
	    const struct sockaddr *sa);

/*
 * 1 when a listener bound to sa can be reached from this host only: a
 * Unix socket, 127.0.0.0/8, ::1, or ::ffff:127.0.0.0/104.  0 for any
 * other address, the wildcards 0.0.0.0 and :: included.
 */
int	listener_is_loopback(const struct sockaddr *sa);

/*
 * Open a listening socket on addr: "unix:/PATH" (a stale socket file is
 * replaced), "HOST:PORT" ("[V6]:PORT" for IPv6), ":PORT" or "*:PORT" (all
 * IPv4 interfaces, as libfcgi reads it).  An address that is not loopback
 * is refused unless allow_public.  The descriptor, or -1 with err set.
 */
int	listener_open(const char *addr, int backlog, int allow_public,
	    struct error *err);

/*
 * The same rule for a listening socket we were given (spawn-fcgi,
 * systemd, mod_fcgid): 0, or -1 with err set.
 */
int	listener_check(int fd, int allow_public, struct error *err);

/*
 * Accept one connection on the non-blocking listener fd, blocking
 * itself, close-on-exec.  A TCP peer that peers do not admit is logged
 * and closed.  The descriptor, or -1 with errno set (EAGAIN: none
 * waiting, or none admitted).
 */
int	listener_accept(int fd, const struct listener_peers *peers);

#endif
