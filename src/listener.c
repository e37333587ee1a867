/* The FastCGI listener: the addresses it may use, the peers it admits. */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "util.h"

/* An address as text for messages: "127.0.0.1:9000", "[::1]:9000". */
static void
format_addr(const struct sockaddr *sa, char *buf, size_t len, int port)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		if (port)
			snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
		else
			snprintf(buf, len, "%s", host);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		if (port)
			snprintf(buf, len, "[%s]:%u", host,
			    ntohs(in6->sin6_port));
		else
			snprintf(buf, len, "%s", host);
	} else
		snprintf(buf, len, "unix socket");
}

/* The IPv4-mapped IPv6 address of v4. */
static void
map_v4(const struct in_addr *v4, struct in6_addr *out)
{
	memset(out, 0, sizeof(*out));
	out->s6_addr[10] = 0xff;
	out->s6_addr[11] = 0xff;
	memcpy(&out->s6_addr[12], v4, 4);
}

/* sa's address as IPv6, IPv4 mapped; -1 for what has none (AF_UNIX). */
static int
as_in6(const struct sockaddr *sa, struct in6_addr *out)
{
	if (sa->sa_family == AF_INET6) {
		*out = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		return 0;
	}
	if (sa->sa_family == AF_INET) {
		map_v4(&((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    out);
		return 0;
	}
	return -1;
}

int
listener_is_loopback(const struct sockaddr *sa)
{
	struct in6_addr a;

	if (as_in6(sa, &a) == -1)
		return sa->sa_family == AF_UNIX;
	if (IN6_IS_ADDR_LOOPBACK(&a))
		return 1;
	return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
}

/* One entry of FCGI_WEB_SERVER_ADDRS, len bytes at s, into *out. */
static int
parse_peer(const char *s, size_t len, struct in6_addr *out,
    struct error *err)
{
	struct in_addr	v4;
	char		text[INET6_ADDRSTRLEN];

	if (len >= sizeof(text))
		goto bad;
	memcpy(text, s, len);
	text[len] = '\0';
	if (inet_pton(AF_INET6, text, out) == 1)
		return 0;
	if (inet_pton(AF_INET, text, &v4) == 1) {
		map_v4(&v4, out);
		return 0;
	}
bad:
	error_set(err, ERROR_INTERNAL, "", "FCGI_WEB_SERVER_ADDRS holds "
	    "\"%.*s\", which is not an IP address", (int)(len > 60 ? 60 : len),
	    s);
	return -1;
}

int
listener_parse_peers(struct listener_peers *p, const char *list,
    struct error *err)
{
	const char *s = list, *start, *end;

	memset(p, 0, sizeof(*p));
	if (list == NULL || list[strspn(list, " \t")] == '\0')
		return 0;
	while (*s != '\0') {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		for (start = s; *s != '\0' && *s != ','; s++)
			;
		for (end = s; end > start && (end[-1] == ' ' ||
		    end[-1] == '\t'); end--)
			;
		if (end == start)
			continue;
		if (p->n == LISTENER_MAX_PEERS) {
			error_set(err, ERROR_INTERNAL, "", "FCGI_WEB_SERVER_ADDRS "
			    "lists more than %d addresses", LISTENER_MAX_PEERS);
			return -1;
		}
		if (parse_peer(start, (size_t)(end - start), &p->addr[p->n],
		    err) == -1)
			return -1;
		p->n++;
	}
	if (p->n == 0) {
		error_set(err, ERROR_INTERNAL, "", "FCGI_WEB_SERVER_ADDRS is set "
		    "but holds no address");
		return -1;
	}
	return 0;
}

int
listener_peer_allowed(const struct listener_peers *p,
    const struct sockaddr *sa)
{
	struct in6_addr	a;
	size_t		i;

	if (p->n == 0 || as_in6(sa, &a) == -1)
		return 1;
	for (i = 0; i < p->n; i++)
		if (memcmp(&p->addr[i], &a, sizeof(a)) == 0)
			return 1;
	return 0;
}

/* The refusal of an address that is not loopback, the way out named. */
static int
refuse_public(const struct sockaddr *sa, struct error *err)
{
	char text[INET6_ADDRSTRLEN + 8];

	format_addr(sa, text, sizeof(text), 1);
	error_set(err, ERROR_INTERNAL, "", "listening on %s: not loopback, "
	    "anyone reaching it may speak FastCGI to us; use 127.0.0.1 or "
	    "unix:, or --listen-public (MEETERGO_WEBHOOK_LISTEN_PUBLIC=1) with "
	    "FCGI_WEB_SERVER_ADDRS", text);
	return -1;
}

static int
open_unix(const char *path, int backlog, struct error *err)
{
	struct sockaddr_un	un;
	int			fd;

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	if (*path != '/' || strlen(path) >= sizeof(un.sun_path)) {
		error_set(err, ERROR_INTERNAL, "", "--listen \"unix:%.80s\": "
		    "want an absolute path of at most %zu bytes", path,
		    sizeof(un.sun_path) - 1);
		return -1;
	}
	memcpy(un.sun_path, path, strlen(path));
	/* A stale socket from an earlier run would make bind fail. */
	if (unlink(path) == -1 && errno != ENOENT) {
		error_set(err, ERROR_INTERNAL, "", "--listen: cannot remove "
		    "\"%.80s\": %s", path, strerror(errno));
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&un, sizeof(un)) == -1 ||
	    listen(fd, backlog) == -1) {
		error_set(err, ERROR_INTERNAL, "", "--listen \"unix:%.80s\": %s",
		    path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/* The host part of "HOST:PORT" into host; the port, or -1 with err set. */
static long
split_host_port(const char *addr, char *host, size_t hostlen,
    struct error *err)
{
	const char	*colon = strrchr(addr, ':'), *h = addr, *errstr;
	size_t		 len;
	long		 port;

	if (colon == NULL ||
	    parse_long(colon + 1, 1, 65535, &port, &errstr) == -1)
		goto bad;
	len = (size_t)(colon - addr);
	if (len >= 2 && addr[0] == '[' && addr[len - 1] == ']') {
		h++;
		len -= 2;
	} else if (memchr(addr, ':', len) != NULL)
		goto bad;	/* IPv6 wants its brackets */
	if (len >= hostlen)
		goto bad;
	memcpy(host, h, len);
	host[len] = '\0';
	return port;
bad:
	error_set(err, ERROR_INTERNAL, "", "--listen \"%.80s\": want "
	    "HOST:PORT, [IPV6]:PORT, :PORT or unix:/PATH", addr);
	return -1;
}

static int
open_tcp(const char *addr, int backlog, int allow_public, struct error *err)
{
	struct addrinfo	 hints, *ai = NULL;
	char		 host[256], port[8];
	long		 n;
	int		 fd = -1, on = 1, r;

	if ((n = split_host_port(addr, host, sizeof(host), err)) == -1)
		return -1;
	snprintf(port, sizeof(port), "%ld", n);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	/* No host: every IPv4 interface, as libfcgi has always read it. */
	if (host[0] == '\0' || strcmp(host, "*") == 0)
		hints.ai_family = AF_INET;
	if ((r = getaddrinfo(hints.ai_family == AF_INET ? NULL : host, port,
	    &hints, &ai)) != 0) {
		error_set(err, ERROR_INTERNAL, "", "--listen \"%.80s\": %s",
		    addr, gai_strerror(r));
		return -1;
	}
	if (!allow_public && !listener_is_loopback(ai->ai_addr)) {
		refuse_public(ai->ai_addr, err);
		goto done;
	}
	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	    ai->ai_protocol)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, backlog) == -1) {
		error_set(err, ERROR_INTERNAL, "", "--listen \"%.80s\": %s",
		    addr, strerror(errno));
		if (fd != -1)
			close(fd);
		fd = -1;
	}
done:
	freeaddrinfo(ai);
	return fd;
}

int
listener_open(const char *addr, int backlog, int allow_public,
    struct error *err)
{
	if (strncmp(addr, "unix:", 5) == 0)
		return open_unix(addr + 5, backlog, err);
	return open_tcp(addr, backlog, allow_public, err);
}

int
listener_check(int fd, int allow_public, struct error *err)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		error_set(err, ERROR_INTERNAL, "", "the listening socket: %s",
		    strerror(errno));
		return -1;
	}
	if (!allow_public && !listener_is_loopback((struct sockaddr *)&ss))
		return refuse_public((struct sockaddr *)&ss, err);
	return 0;
}

int
listener_accept(int fd, const struct listener_peers *peers)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);
	char			text[INET6_ADDRSTRLEN + 8];
	int			c, on = 1;

	if ((c = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC)) == -1)
		return -1;
	if (ss.ss_family == AF_UNIX)
		return c;
	if (!listener_peer_allowed(peers, (struct sockaddr *)&ss)) {
		format_addr((struct sockaddr *)&ss, text, sizeof(text), 0);
		log_warn("refused a connection from %s: not in "
		    "FCGI_WEB_SERVER_ADDRS", text);
		close(c);
		errno = EAGAIN;
		return -1;
	}
	/* Records go out whole; no reply waits for a delayed ACK. */
	(void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return c;
}
