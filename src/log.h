/* One log API: a line per event or failure on standard error. */
#ifndef MW_LOG_H
#define MW_LOG_H

/* Lines start with the program name; call once before logging. */
void	log_init(const char *progname);
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Silence log_info (the tools' quiet mode); warnings still show. */
void	log_set_quiet(int);

#endif
