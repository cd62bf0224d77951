/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_MSG_H
#define TILLROLL_MSG_H

/*
 * Messages to people, on stderr, in one grammar (git's CodingGuidelines):
 * "<program>: [<file>: ]line <n>: <what is wrong>", lowercase, no final
 * period, the subject in single quotes.  A format ending in ':' gets
 * ": <strerror(errno)>" appended, as sbase's eprintf does.
 *
 * The library never exits: msg_fail() prints and returns the status it was
 * given, so a program writes "return msg_fail(EX_NOINPUT, ...)" or
 * "exit(msg_fail(...))" and the library stays usable from tests and fuzzers.
 *
 * Exit statuses are those of <sysexits.h>, as DESIGN section 3 assigns them.
 */

#include <sysexits.h>

/*
 * Set the program name used as the prefix of every message.  The string is
 * borrowed and must outlive every later call; main passes a literal.
 */
void msg_init(const char *progname);

/* The name given to msg_init(), or "tillroll" before it. */
const char *msg_progname(void);

/* Print "<prog>: <message>" on stderr.  Returns nothing. */
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print as msg_warn() and return status, for "return msg_fail(...)". */
int msg_fail(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The number in the option argument s of option opt (for messages), when
 * it is a whole decimal number from min to max; otherwise say so
 * ("<prog>: --retries: 'x' is not a number from 1 to 100") and return -1.
 */
long arg_number(const char *opt, const char *s, long min, long max);

/*
 * The worse of two exit statuses, for a program that goes on after an error
 * and must report the gravest one: any failure beats 0, and among failures
 * an operational one (I/O, software, remote) beats a data one (65), because
 * the data error is already recorded in the rejects file.
 */
int exit_worst(int a, int b);

#endif
