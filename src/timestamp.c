/* Strict ISO 8601 date-times, checked and put in canonical form. */
#include "config.h"

#include <string.h>

#include "timestamp.h"

/* Parse exactly n digits at p. */
static int
digits(const char *p, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* n as exactly width digits at p; the place after them. */
static char *
put_digits(char *p, int n, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + n % 10);
		n /= 10;
	}
	return p + width;
}

/*
 * The canonical text, "YYYY-MM-DDTHH:MM:SS.ffffff+HH:MM", written digit
 * by digit: snprintf cost more than the rest of the parse.  v holds the
 * year, month, day, hour, minute, second, microseconds and the offset's
 * hours and minutes.
 */
static void
canonical(char *t, const int v[9], char sign)
{
	static const int	width[9] = { 4, 2, 2, 2, 2, 2, 6, 2, 2 };
	const char		after[9] = { '-', '-', 'T', ':', ':', '.', sign,
				    ':', '\0' };
	int			i;

	for (i = 0; i < 9; i++) {
		t = put_digits(t, v[i], width[i]);
		*t++ = after[i];
	}
}

int
timestamp_parse(const char *s, struct timestamp *ts)
{
	int		 y, mo, d, h, mi, sec, oh = 0, om = 0, n;
	int		 frac = 0;
	char		 sign = '+';
	const char	*p;

	ts->set = 0;
	if (s == NULL || strlen(s) < 20)
		return -1;
	if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, &d) || s[10] != 'T' ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
	    s[16] != ':' || digits(s + 17, 2, &sec))
		return -1;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
	    h > 23 || mi > 59 || sec > 59)
		return -1;
	p = s + 19;
	if (*p == '.') {
		for (p++, n = 0; *p >= '0' && *p <= '9'; p++, n++) {
			if (n == 6)
				return -1;
			frac = frac * 10 + (*p - '0');
		}
		if (n == 0)
			return -1;
		for (; n < 6; n++)
			frac *= 10;
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p;
		/* PostgreSQL takes offsets up to 15:59. */
		if (digits(p + 1, 2, &oh) || p[3] != ':' ||
		    digits(p + 4, 2, &om) || oh > 15 || om > 59)
			return -1;
		p += 6;
	} else
		return -1;
	if (*p != '\0')
		return -1;
	canonical(ts->text,
	    (const int[9]){ y, mo, d, h, mi, sec, frac, oh, om }, sign);
	ts->set = 1;
	return 0;
}
