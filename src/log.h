/* One log API: a line per event or failure on standard error. */
#ifndef MW_LOG_H
#define MW_LOG_H

/*
 * Lines start with the program name, and with a syslog priority ("<3>"
 * error, "<4>" warning, "<6>" info) when standard error is the journal's
 * stream (JOURNAL_STREAM).  Call once before logging.
 */
void	log_init(const char *progname);
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Silence log_info (the tools' quiet mode); warnings still show. */
void	log_set_quiet(int);

/*
 * Copy src into dst for a log line: at most dstsize - 1 bytes, control
 * characters and backslashes replaced by '?', double quotes by single
 * ones, cut with "..." when long.  A NULL src gives "-".
 */
void	log_safe(char *dst, size_t dstsize, const char *src);

#endif
