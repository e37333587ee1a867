/* Erasure: forget a person, by e-mail address, everywhere we keep data. */
#ifndef MW_ERASE_H
#define MW_ERASE_H

#include "service.h"

/*
 * meetergo-webhookctl forget --email ADDRESS [--dry-run]: erase the
 * person's address, names and phone numbers from every table and payload
 * of schema meetergo (one transaction) and from every spool file, and
 * print the rows and files changed (with --dry-run, that would change,
 * and nothing changes).  The log names the address by a hash only.  The
 * exit status.
 */
int	erase_cmd(struct service *, int argc, char **argv);

#endif
