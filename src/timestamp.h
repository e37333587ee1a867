/* Strict ISO 8601 date-times, checked and put in canonical form. */
#ifndef MW_TIMESTAMP_H
#define MW_TIMESTAMP_H

/*
 * A strict ISO 8601 / RFC 3339 date-time, "YYYY-MM-DDTHH:MM:SS", optional
 * fraction of 1 to 6 digits, then "Z" or "+HH:MM" / "-HH:MM".  text is the
 * canonical form, safe to hand to PostgreSQL as timestamptz.
 */
struct timestamp {
	int	set;
	char	text[48];
};

/* 0 and *ts filled, or -1 for anything that is not such a date-time. */
int	timestamp_parse(const char *, struct timestamp *ts);

#endif
