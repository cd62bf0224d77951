/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_STAGE_H
#define TILLROLL_STAGE_H

/*
 * The accounting every filter keeps (DESIGN section 3): records in, out,
 * rejected, passed through, split out of a parent, and dropped, each by
 * kind or reason; the rejects file; the stats object written at the end.
 *
 * The ledger must balance: in + split == out + rejected + dropped.
 * stage_finish() checks it, so a program that loses a record fails loudly
 * (EX_SOFTWARE) instead of quietly.
 *
 * A struct stage owns the rejects stream it opened and the counters'
 * names (copied).  It prints only what its caller asks for: one message a
 * reject (the first STAGE_MAX_MESSAGES, then a count) and the stats.
 */

#include <stdio.h>
#include <time.h>

#define STAGE_MAX_MESSAGES 20

struct counter {
	char *name;	 /* kind or reason, owned */
	unsigned long n; /* how many */
};

struct counters {
	struct counter *v; /* kept sorted by name */
	size_t n;	   /* entries used */
	size_t cap;	   /* entries allocated */
};

struct stage {
	const char *name;	  /* the stage, e.g. "normalize" (borrowed) */
	FILE *rejects;		  /* where rejects go, or NULL */
	const char *rejects_path; /* its name for messages (borrowed) */
	const char *stats_path;	 /* where stats go; NULL is stderr (borrowed) */
	unsigned long in;	 /* records read */
	unsigned long out;	 /* records written */
	unsigned long rejected;	 /* records sent to rejects */
	unsigned long passed;	 /* of out: records passed through unchanged */
	unsigned long split;	 /* of out: extra records split from a parent */
	unsigned long dropped;	 /* records dropped on purpose, by reason */
	struct counters in_kind; /* in, by kind */
	struct counters out_kind; /* out, by kind */
	struct counters reasons;  /* rejected, by reason */
	struct counters drops;	  /* dropped, by reason */
	struct timespec start;	  /* when stage_init ran, for wall time */
	int io_failed;		  /* writing a reject failed */
};

/*
 * Start the accounting for stage name.  rejects_path, when not NULL, is
 * created (truncated) for the rejects.  Returns 0, or a sysexits status
 * (EX_IOERR) with a message already printed.
 */
int stage_init(struct stage *s, const char *name, const char *rejects_path,
	       const char *stats_path);

/* Add one to counter name in c.  Returns 0, or -1 when out of memory. */
int counters_add(struct counters *c, const char *name);

/*
 * Reject one record.  raw (rawlen bytes) is the input line as read; it is
 * written whole into the rejects file as "record" (as JSON when it parses,
 * as a string when it does not).  reason is a short code
 * ("bad_amount"), detail the sentence for people ("'total_price' is not a
 * decimal amount").  file is the input name, line its line number.  Prints
 * "<prog>: [<file>: ]line <n>: <detail>" for the first few.  Counts it.
 */
void stage_reject(struct stage *s, const char *file, unsigned long line,
		  const char *raw, size_t rawlen, const char *reason,
		  const char *detail);

/*
 * Write the stats object, close the rejects file, check the ledger, free
 * the counters.  status is the program's exit status so far (recorded in
 * the stats); the return value is that status made worse where the stats or
 * rejects could not be written (EX_IOERR), the ledger does not balance
 * (EX_SOFTWARE), or records were rejected (EX_DATAERR).
 */
int stage_finish(struct stage *s, int status);

/*
 * The work a filter does on one input line, called by stage_read: the
 * line (len bytes, NUL-terminated, valid until the next call), the input
 * it came from and its line number there.  Returns 0 to go on, or -1 to
 * stop reading (standard output failed).
 */
typedef int stage_line_fn(struct stage *s, const char *line, size_t len,
    const char *file, unsigned long lineno);

/*
 * Read the n files of paths (stdin when n is 0, "-" is stdin too), gzip
 * or not, and hand every non-blank line to fn.  An input that cannot be
 * opened or read is reported ("<prog>: cannot open 'x': ...") and the
 * next is read, as the filters of sbase go on past a bad file.  Returns
 * 0, or the worst status of the inputs (EX_NOINPUT, EX_IOERR), or
 * EX_IOERR when fn stopped the reading.
 */
int stage_read(struct stage *s, int n, char *const paths[], stage_line_fn *fn);

/*
 * Check that everything written to stdout reached it (fflush, ferror),
 * saying so when not; returns status made worse by EX_IOERR then.  Call
 * before stage_finish, so that the stats record it.
 */
int stage_flush_stdout(int status);

/*
 * Close stdout at the very end; a failure makes a status of 0 EX_IOERR.
 */
int stage_close_stdout(int status);

#endif
