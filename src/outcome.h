/* What became of one delivery. */
#ifndef MW_OUTCOME_H
#define MW_OUTCOME_H

enum outcome {
	OUTCOME_APPLIED,	/* stored and applied */
	OUTCOME_DUPLICATE,	/* body seen before: delivery counted */
	OUTCOME_STALE,		/* stored; what is stored is newer */
	OUTCOME_IGNORED,	/* stored; unknown event type */
	OUTCOME_REJECTED,	/* stored as rejected (malformed known event) */
	OUTCOME_SPOOLED		/* database away: fsynced to the spool */
};

#endif
