/* Bounded number parsing and other small string helpers. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int
parse_long(const char *str, long min, long max, long *out,
    const char **errstr)
{
	const char	*p = str;
	int		 neg = 0;
	unsigned long	 v = 0, limit;

	if (p == NULL || *p == '\0')
		goto invalid;
	if (*p == '-' && min < 0) {
		neg = 1;
		p++;
	}
	if (*p == '\0' || p[strspn(p, "0123456789")] != '\0')
		goto invalid;
	limit = neg ? (unsigned long)LONG_MAX + 1 : (unsigned long)LONG_MAX;
	for (; *p != '\0'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (limit - d) / 10) {
			*errstr = neg ? "too small" : "too large";
			return -1;
		}
		v = v * 10 + d;
	}
	if (neg) {
		long n = v == (unsigned long)LONG_MAX + 1 ?
		    LONG_MIN : -(long)v;
		if (n < min) {
			*errstr = "too small";
			return -1;
		}
		*out = n;
	} else {
		if ((long)v > max) {
			*errstr = "too large";
			return -1;
		}
		if ((long)v < min) {
			*errstr = "too small";
			return -1;
		}
		*out = (long)v;
	}
	*errstr = NULL;
	return 0;
invalid:
	*errstr = "invalid";
	return -1;
}

int
write_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

long
monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long
monotonic_ms(void)
{
	return monotonic_us() / 1000;
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int
ascii_casecmp_n(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int ca = lower((unsigned char)a[i]);
		int cb = lower((unsigned char)b[i]);

		if (ca != cb)
			return ca - cb;
		if (ca == '\0')
			break;
	}
	return 0;
}
