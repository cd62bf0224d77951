/* See LICENSE file for copyright and license details. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

int
http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void
http_global_cleanup(void)
{
	curl_global_cleanup();
}

int
http_client_init(struct http_client *c, const char *cacert)
{
	memset(c, 0, sizeof(*c));
	c->connect_timeout_ms = 10000;
	c->timeout_ms = 60000;
	c->max_attempts = 6;
	c->backoff_ms = 1000;
	c->backoff_max_ms = 30000;
	c->budget_ms = 300000;
	c->seed = 0x9e3779b97f4a7c15ULL ^ (unsigned long long)time(NULL);
	if ((c->curl = curl_easy_init()) == NULL) {
		snprintf(c->err, sizeof(c->err), "cannot start libcurl");
		return -1;
	}
	if (cacert != NULL && (c->cacert = strdup(cacert)) == NULL) {
		snprintf(c->err, sizeof(c->err), "out of memory");
		return -1;
	}
	return 0;
}

int
http_client_header(struct http_client *c, const char *header)
{
	struct curl_slist *l = curl_slist_append(c->headers, header);

	if (l == NULL)
		return -1;
	c->headers = l;
	return 0;
}

/* The body collector: grow res->body, keep it NUL-terminated. */
static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_response *res = arg;
	size_t n = size * nmemb;
	char *grown;

	if ((grown = realloc(res->body, res->len + n + 1)) == NULL)
		return 0; /* libcurl turns this into CURLE_WRITE_ERROR */
	res->body = grown;
	memcpy(res->body + res->len, data, n);
	res->len += n;
	res->body[res->len] = '\0';
	return n;
}

static enum http_failure
classify(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return HTTP_OK;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SSL_CONNECT_ERROR:
		return HTTP_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_TIMEOUT;
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		return HTTP_BROKEN;
	default:
		return HTTP_OTHER;
	}
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start an attempt: a fresh response, no failure yet, one more attempt. */
static void
begin_attempt(struct http_client *c, struct http_response *res)
{
	memset(res, 0, sizeof(*res));
	res->retry_after_s = -1;
	c->failure = HTTP_OK;
	c->err[0] = '\0';
	c->attempts++;
}

/*
 * The options every request has: the URL, where curl says what failed,
 * the connect timeout, TLS checked, http(s) only, the CA file if given.
 */
static void
set_common_options(struct http_client *c, const char *url, char *curlerr)
{
	CURL *h = c->curl;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curlerr);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->cacert != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
}

/* The status of a completed request, and the Retry-After it gave. */
static void
read_status(struct http_client *c, struct http_response *res)
{
	curl_off_t retry_after = -1;

	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &res->status);
	if (curl_easy_getinfo(c->curl, CURLINFO_RETRY_AFTER, &retry_after) ==
		CURLE_OK &&
	    retry_after > 0)
		res->retry_after_s = (long)retry_after;
}

int
http_post(struct http_client *c, const char *url, const char *body, size_t len,
	  struct http_response *res)
{
	char curlerr[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	long start = now_ms();
	CURL *h = c->curl;

	begin_attempt(c, res);
	set_common_options(c, url, curlerr);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, res);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	rc = curl_easy_perform(h);
	res->elapsed_ms = now_ms() - start;
	if (rc != CURLE_OK) {
		c->failure = classify(rc);
		snprintf(c->err, sizeof(c->err), "%s",
			 curlerr[0] ? curlerr : curl_easy_strerror(rc));
		free(res->body);
		res->body = NULL;
		res->len = 0;
		res->status = 0;
		goto log;
	}
	read_status(c, res);
	if (res->body == NULL && (res->body = calloc(1, 1)) == NULL) {
		c->failure = HTTP_OTHER;
		snprintf(c->err, sizeof(c->err), "out of memory");
		return -1;
	}
log:
	if (c->log != NULL) {
		char line[512];

		if (rc == CURLE_OK)
			snprintf(line, sizeof(line),
				 "POST %.300s -> %ld, %zu bytes, %ld ms", url,
				 res->status, res->len, res->elapsed_ms);
		else
			snprintf(line, sizeof(line),
				 "POST %.300s -> failed (%.120s), %ld ms", url,
				 c->err, res->elapsed_ms);
		c->log(c->log_arg, line);
	}
	return rc == CURLE_OK ? 0 : -1;
}

int
http_retryable(const struct http_client *c, int rc,
	       const struct http_response *res)
{
	if (rc != 0)
		return c->failure == HTTP_CONNECT ||
		       c->failure == HTTP_TIMEOUT || c->failure == HTTP_BROKEN;
	switch (res->status) {
	case 408:
	case 429:
	case 500:
	case 502:
	case 503:
	case 504:
	case 522:
	case 524:
		return 1;
	default:
		return 0;
	}
}

long
http_backoff(struct http_client *c, int attempt,
	     const struct http_response *res)
{
	long wait;
	int i;

	if (res != NULL && res->retry_after_s >= 0) {
		wait = res->retry_after_s * 1000;
		return wait > c->backoff_max_ms ? c->backoff_max_ms : wait;
	}
	wait = c->backoff_ms;
	for (i = 1; i < attempt && wait < c->backoff_max_ms; i++)
		wait *= 2;
	if (wait > c->backoff_max_ms)
		wait = c->backoff_max_ms;
	/* splitmix64 step: jitter so that parallel runs do not align. */
	c->seed += 0x9e3779b97f4a7c15ULL;
	{
		unsigned long long z = c->seed;

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		wait += (long)(z % (unsigned long long)(wait / 4 + 1));
	}
	return wait;
}

void
http_sleep_ms(long ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* One attempt of a request, for retrying(). */
typedef int attempt_fn(struct http_client *c, void *ctx,
		       struct http_response *res);

/*
 * Make attempts until one is not worth retrying, waiting between them as
 * http_backoff says, within the attempts and the time budget.  The one
 * retry loop of the module: http_post_retrying and
 * http_download_retrying differ only in their attempt.
 */
static int
retrying(struct http_client *c, attempt_fn *once, void *ctx,
	 struct http_response *res)
{
	long waited = 0, wait;
	int attempt, rc, limited = 0;

	for (attempt = 1;; attempt++) {
		rc = once(c, ctx, res);
		if (rc != 0 && !http_retryable(c, rc, res))
			return EX_UNAVAILABLE;
		if (!http_retryable(c, rc, res))
			return 0;
		limited = rc != 0 ? c->failure == HTTP_TIMEOUT
				  : res->status == 429 || res->status == 408;
		if (rc == 0)
			snprintf(c->err, sizeof(c->err), "HTTP %ld",
				 res->status);
		wait = http_backoff(c, attempt, res);
		http_response_release(res);
		if (attempt >= c->max_attempts || waited + wait > c->budget_ms)
			break;
		http_sleep_ms(wait);
		waited += wait;
		c->retries++;
	}
	{
		char last[sizeof(c->err)];

		snprintf(last, sizeof(last), "%s", c->err);
		snprintf(c->err, sizeof(c->err),
			 "gave up after %d attempts: %.200s", attempt, last);
	}
	return limited ? EX_TEMPFAIL : EX_UNAVAILABLE;
}

struct post_args {
	const char *url;  /* where */
	const char *body; /* what (borrowed) */
	size_t len;	  /* its length */
};

static int
post_once(struct http_client *c, void *ctx, struct http_response *res)
{
	struct post_args *a = ctx;

	return http_post(c, a->url, a->body, a->len, res);
}

int
http_post_retrying(struct http_client *c, const char *url, const char *body,
		   size_t len, struct http_response *res)
{
	struct post_args a = {url, body, len};

	return retrying(c, post_once, &a, res);
}

void
http_response_release(struct http_response *res)
{
	free(res->body);
	res->body = NULL;
	res->len = 0;
}

void
http_client_release(struct http_client *c)
{
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	free(c->cacert);
	c->curl = NULL;
	c->headers = NULL;
	c->cacert = NULL;
}

/* A download's sink: the stream, and the first bytes kept for messages. */
struct sink {
	FILE *f;
	struct http_response *res;
	int failed;
};

#define SINK_KEEP 4096

static size_t
on_download(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *k = arg;
	struct http_response *res = k->res;
	size_t n = size * nmemb;

	if (res->len < SINK_KEEP) {
		size_t keep =
		    n < SINK_KEEP - res->len ? n : SINK_KEEP - res->len;

		memcpy(res->body + res->len, data, keep);
		res->body[res->len + keep] = '\0';
	}
	if (fwrite(data, 1, n, k->f) != n) {
		k->failed = 1;
		return 0;
	}
	res->len += n;
	return n;
}

int
http_download(struct http_client *c, const char *url, FILE *f,
	      struct http_response *res)
{
	char curlerr[CURL_ERROR_SIZE] = "";
	struct sink k = {f, res, 0};
	CURLcode rc;
	long start = now_ms();
	CURL *h = c->curl;

	begin_attempt(c, res);
	if ((res->body = calloc(1, SINK_KEEP + 1)) == NULL) {
		c->failure = HTTP_OTHER;
		snprintf(c->err, sizeof(c->err), "out of memory");
		return -1;
	}
	if (fflush(f) != 0 || ftruncate(fileno(f), 0) != 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		c->failure = HTTP_OTHER;
		snprintf(c->err, sizeof(c->err),
			 "cannot truncate the download file: %s",
			 strerror(errno));
		return -1;
	}
	set_common_options(c, url, curlerr);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_download);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &k);
	/* A result file can be large: bound the stall, not the whole. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
			 (c->timeout_ms + 999) / 1000);
	rc = curl_easy_perform(h);
	res->elapsed_ms = now_ms() - start;
	if (rc == CURLE_OK && fflush(f) != 0)
		k.failed = 1;
	if (rc != CURLE_OK || k.failed) {
		c->failure = k.failed ? HTTP_OTHER : classify(rc);
		if (k.failed)
			snprintf(c->err, sizeof(c->err),
				 "cannot write the download file: %s",
				 strerror(errno));
		else
			snprintf(c->err, sizeof(c->err), "%s",
				 curlerr[0] ? curlerr : curl_easy_strerror(rc));
		res->status = 0;
	} else {
		read_status(c, res);
	}
	if (c->log != NULL) {
		char line[512];
		/* The URL is signed: its query string is a credential. */
		int n = (int)strcspn(url, "?");

		if (c->failure == HTTP_OK)
			snprintf(line, sizeof(line),
				 "GET %.*s -> %ld, %zu bytes, %ld ms",
				 n > 300 ? 300 : n, url, res->status, res->len,
				 res->elapsed_ms);
		else
			snprintf(line, sizeof(line),
				 "GET %.*s -> failed (%.120s), %ld ms",
				 n > 300 ? 300 : n, url, c->err,
				 res->elapsed_ms);
		c->log(c->log_arg, line);
	}
	if (c->failure != HTTP_OK) {
		http_response_release(res);
		return -1;
	}
	return 0;
}

struct download_args {
	const char *url; /* where */
	FILE *f;	 /* into what */
};

static int
download_once(struct http_client *c, void *ctx, struct http_response *res)
{
	struct download_args *a = ctx;

	return http_download(c, a->url, a->f, res);
}

int
http_download_retrying(struct http_client *c, const char *url, FILE *f,
		       struct http_response *res)
{
	struct download_args a = {url, f};

	return retrying(c, download_once, &a, res);
}
