/* Deadlines for connections: a thread shuts down those past theirs. */
#ifndef MW_REAPER_H
#define MW_REAPER_H

#include <stddef.h>

/*
 * libfcgi reads and writes with blocking calls and no timeout: a request
 * thread blocked in one is lost to every other sender for as long as its
 * peer likes.  So each request thread owns a watch: a descriptor of its
 * connection and a deadline.  The reaper thread shuts down (shutdown(2),
 * SHUT_RDWR) the connection of each watch whose deadline passed; the
 * blocked call then returns, the request fails, and the thread moves on.
 *
 * The descriptor a watch holds is the thread's own (a dup of libfcgi's,
 * which libfcgi closes when it likes).  The reaper touches it only under
 * the reaper's mutex, and watch_release takes it back under the same
 * mutex before the owner closes it: the reaper never shuts down a
 * descriptor number that was reused for another connection.
 */
struct reaper;
struct watch;

/*
 * A reaper with n watches, its thread started (it inherits the caller's
 * signal mask).  NULL with errno set on failure.  reaper_free stops the
 * thread and frees it; the watches' descriptors stay their owners'.
 */
struct reaper	*reaper_new(size_t n);
void		 reaper_free(struct reaper *);

/* Watch i (< n), for one thread to own. */
struct watch	*reaper_watch(struct reaper *, size_t i);

/* Watch fd (the caller's; kept open until watch_release), no deadline. */
void	watch_set(struct watch *, int fd);
/* Shut fd down ms milliseconds from now; 0 lifts the deadline. */
void	watch_arm(struct watch *, long ms);
/*
 * Stop watching: the descriptor back for the caller to close (-1 when
 * none), and *fired set to 1 when the deadline had passed.
 */
int	watch_release(struct watch *, int *fired);

#endif
