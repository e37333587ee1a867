/* Bounded number parsing and other small string helpers. */
#ifndef MW_UTIL_H
#define MW_UTIL_H

#include <stddef.h>

/*
 * Parse all of str as a decimal integer in [min, max].  Only digits, with
 * an optional leading '-' when min < 0: no blanks, no '+', no base prefix.
 * Returns 0 and sets *out, or -1 and sets *errstr to "invalid", "too small"
 * or "too large".
 */
int	parse_long(const char *str, long min, long max, long *out,
	    const char **errstr);

/* Write all n bytes to fd, through EINTR; 0, or -1 with errno set. */
int	write_all(int fd, const void *, size_t n);

/* Milliseconds of CLOCK_MONOTONIC, for deadlines. */
long	monotonic_ms(void);
/* Microseconds of it, for durations. */
long	monotonic_us(void);

/* Case-insensitive ASCII comparison of the first n bytes. */
int	ascii_casecmp_n(const char *, const char *, size_t);

#endif
