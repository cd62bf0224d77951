/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_HTTP_H
#define TILLROLL_HTTP_H

/*
 * HTTP POST of JSON bodies over libcurl, for the programs that talk to
 * Shopify and Odoo, with one retry policy for both (the curl tool's, see
 * reference/c-libraries.md section 4): transport failures (refused,
 * timed out, reset, truncated body) and HTTP 408, 429, 500, 502, 503, 504,
 * 522 and 524 are retried with exponential backoff and jitter, or after
 * the server's Retry-After, until the attempts or the time budget run out.
 *
 * TLS verification is always on; a CA file can be named for tests.
 * Timeouts are always set.  Header values (tokens) are never logged or put
 * into error messages: the log hook sees the URL, status, size and time
 * only.
 *
 * A struct http_client owns its curl handle, its header list and its
 * copies of everything it was given.  A struct http_response owns its
 * body; http_response_release() frees it.  Nothing here prints or exits.
 */

#include <stddef.h>
#include <stdio.h>

#include <curl/curl.h>

/* How an attempt failed below HTTP, in http_client.failure. */
enum http_failure {
	HTTP_OK = 0,  /* a whole response arrived (any status) */
	HTTP_CONNECT, /* could not connect (refused, DNS, TLS) */
	HTTP_TIMEOUT, /* connect or transfer timed out */
	HTTP_BROKEN,  /* connection reset or body cut short */
	HTTP_OTHER,   /* anything else libcurl reports */
};

struct http_response {
	long status;	    /* HTTP status, 0 when none arrived */
	char *body;	    /* the body, NUL-terminated (owned) */
	size_t len;	    /* its length without the NUL */
	long retry_after_s; /* Retry-After in seconds, or -1 */
	long elapsed_ms;    /* wall time of the attempt */
};

/* A line for a --verbose log: "POST <url> -> 200 1234 bytes 56 ms". */
typedef void http_log_fn(void *arg, const char *line);

struct http_client {
	CURL *curl;		    /* one handle, reused for its connection */
	struct curl_slist *headers; /* request headers (owned) */
	char *cacert;		    /* CA file, or NULL for the system's */
	long connect_timeout_ms;    /* per attempt */
	long timeout_ms;	    /* per attempt, whole transfer */
	int max_attempts;	    /* attempts for one request, at least 1 */
	long backoff_ms;	    /* first backoff */
	long backoff_max_ms;	    /* longest single wait */
	long budget_ms;		    /* give up when the waits would exceed it */
	unsigned long long seed;    /* jitter state */
	http_log_fn *log;	    /* called once per attempt, or NULL */
	void *log_arg;		    /* passed to log */
	unsigned long attempts;	    /* attempts made, for stats */
	unsigned long retries;	    /* of them, retries */
	enum http_failure failure;  /* how the last attempt failed */
	char err[CURL_ERROR_SIZE + 64]; /* text of the last failure */
};

/*
 * Call once at the top of main, before any other thread: curl's global
 * setup.  Returns 0, or -1 when libcurl cannot start.
 */
int http_global_init(void);
void http_global_cleanup(void);

/*
 * Prepare c with a new curl handle and the defaults: connect timeout
 * 10 s, transfer timeout 60 s, 6 attempts, backoff 1 s doubling to 30 s,
 * a budget of 5 minutes.  cacert (copied) names a CA file or is NULL.
 * Returns 0, or -1 with c->err set.
 */
int http_client_init(struct http_client *c, const char *cacert);

/*
 * Add a request header "Name: value" (copied).  Returns 0 or -1.  Use it
 * for secrets too: headers are never logged.
 */
int http_client_header(struct http_client *c, const char *header);

/*
 * One attempt: POST body (len bytes, borrowed for the call) to url with
 * the client's headers.  Returns 0 when a response arrived, whatever its
 * status, with *res filled (release it); -1 on a transport failure, with
 * c->failure and c->err set and res->status 0.
 */
int http_post(struct http_client *c, const char *url, const char *body,
	      size_t len, struct http_response *res);

/*
 * 1 when the outcome of an attempt (rc from http_post, and res) is worth
 * retrying: a transport failure or a retryable status.
 */
int http_retryable(const struct http_client *c, int rc,
		   const struct http_response *res);

/*
 * How long to wait before retry number attempt (1 for the first retry):
 * the server's Retry-After when it gave one (clamped to the longest
 * wait), else the backoff doubled per attempt, with up to 25% jitter.
 */
long http_backoff(struct http_client *c, int attempt,
		  const struct http_response *res);

/*
 * POST with retries, for requests that are safe to repeat.  Returns 0
 * with the final response in *res (a success, or a status not worth
 * retrying such as 401 or 404: the caller judges it), or, when every
 * attempt failed or a failure is not worth retrying (a bad URL, a TLS
 * certificate that does not verify), a sysexits status with c->err set
 * and *res empty:
 * EX_TEMPFAIL (75) when the last failure was a rate limit or a timeout,
 * so a rerun later is the cure, else EX_UNAVAILABLE (69).
 */
int http_post_retrying(struct http_client *c, const char *url, const char *body,
		       size_t len, struct http_response *res);

/*
 * One attempt: GET url into the stream f (truncated first, so a retry
 * starts over), for downloads such as a bulk operation's result.  The
 * client's headers are NOT sent: such URLs are signed and served by
 * someone else, who must not see the token.  Returns as http_post, with
 * res->len the bytes written and res->body only the first 4 KiB (for
 * error messages).  A write error on f fails the attempt (HTTP_OTHER).
 */
int http_download(struct http_client *c, const char *url, FILE *f,
		  struct http_response *res);

/*
 * http_download with the retry policy of http_post_retrying, and the same
 * return values.  A final status other than 200 is returned with 0, for
 * the caller to judge.
 */
int http_download_retrying(struct http_client *c, const char *url, FILE *f,
			   struct http_response *res);

/* Sleep ms milliseconds (used between attempts; also for callers' own
 * throttling). */
void http_sleep_ms(long ms);

void http_response_release(struct http_response *res);

/* Free the handle, the headers and the copies.  c may be reused after
 * http_client_init. */
void http_client_release(struct http_client *c);

#endif
