#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "ids.h"
#include "json.h"
#include "proc.h"
#include "queue.h"

/* ---- names and attributes --------------------------------------------------- */

void queue_defaults(struct queue *q)
{
	memset(q, 0, sizeof *q);
	q->visibility_ms = Q_DEFAULT_VISIBILITY_MS;
	q->retention_ms = Q_DEFAULT_RETENTION_MS;
	q->max_size = Q_MAX_SIZE;
}

void queue_free(struct queue *q)
{
	free(q->name);
	free(q->dlq);
	free(q->on_wake);
	q->name = q->dlq = q->on_wake = NULL;
}

char *queue_name_of(const char *s)
{
	struct arn a;
	if (arn_parse(s, &a) == 0) {
		if (a.service_len != 3 || memcmp(a.service, "sqs", 3) != 0)
			return NULL;
		return xstrndup(a.resource, a.resource_len);
	}
	if (strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0) {
		const char *slash = strrchr(s, '/');
		return slash && slash[1] ? xstrdup(slash + 1) : NULL;
	}
	return xstrdup(s);
}

int queue_name_check(const char *name, int fifo, struct buf *why)
{
	size_t n = strlen(name), base = n;
	int ends_fifo = n > 5 && strcmp(name + n - 5, ".fifo") == 0;
	if (ends_fifo)
		base = n - 5;
	if (n == 0 || n > 80) {
		buf_printf(why, "queue name '%s' must be 1 to 80 characters", name);
		return -1;
	}
	for (size_t i = 0; i < base; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_')) {
			buf_printf(why, "queue name '%s' may hold only letters, digits, '-' and '_'%s",
			           name, fifo ? " before '.fifo'" : "");
			return -1;
		}
	}
	if (fifo && !ends_fifo) {
		buf_printf(why, "the name of a FIFO queue must end with '.fifo': '%s'", name);
		return -1;
	}
	if (!fifo && ends_fifo) {
		buf_printf(why, "'%s' ends with '.fifo': a FIFO queue needs --fifo", name);
		return -1;
	}
	return 0;
}

void queue_url(struct buf *b, const char *name)
{
	buf_printf(b, "https://sqs.%s.amazonaws.com/%s/%s", ids_region(), ids_account(), name);
}

#define Q_COLUMNS "name, fifo, content_dedup, visibility_ms, delay_ms, retention_ms, " \
	"wait_ms, max_size, dlq, max_receive, created_ms, modified_ms, purged_ms, on_wake"

static void row_to_queue(sqlite3_stmt *s, struct queue *q)
{
	q->name = xstrdup((const char *)sqlite3_column_text(s, 0));
	q->fifo = sqlite3_column_int(s, 1);
	q->content_dedup = sqlite3_column_int(s, 2);
	q->visibility_ms = sqlite3_column_int64(s, 3);
	q->delay_ms = sqlite3_column_int64(s, 4);
	q->retention_ms = sqlite3_column_int64(s, 5);
	q->wait_ms = sqlite3_column_int64(s, 6);
	q->max_size = sqlite3_column_int64(s, 7);
	q->dlq = sqlite3_column_type(s, 8) == SQLITE_NULL ? NULL
	         : xstrdup((const char *)sqlite3_column_text(s, 8));
	q->max_receive = sqlite3_column_int(s, 9);
	q->created_ms = sqlite3_column_int64(s, 10);
	q->modified_ms = sqlite3_column_int64(s, 11);
	q->purged_ms = sqlite3_column_int64(s, 12);
	q->on_wake = sqlite3_column_type(s, 13) == SQLITE_NULL ? NULL
	             : xstrdup((const char *)sqlite3_column_text(s, 13));
}

int queue_get(struct state *st, const char *name_url_arn, struct queue *out)
{
	char *name = queue_name_of(name_url_arn);
	if (!name)
		return EK_NO;
	sqlite3_stmt *s = state_prepare(st, "SELECT " Q_COLUMNS " FROM queues WHERE name = ?1");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
	free(name);
	int sr = sqlite3_step(s), rc;
	if (sr == SQLITE_ROW) {
		row_to_queue(s, out);
		rc = EK_OK;
	} else {
		rc = sr == SQLITE_DONE ? EK_NO : state_error(st, sr, "reading queues");
	}
	sqlite3_reset(s);
	return rc;
}

static int same_attrs(const struct queue *a, const struct queue *b)
{
	return a->fifo == b->fifo && a->content_dedup == b->content_dedup &&
	       a->visibility_ms == b->visibility_ms && a->delay_ms == b->delay_ms &&
	       a->retention_ms == b->retention_ms && a->wait_ms == b->wait_ms &&
	       a->max_size == b->max_size && a->max_receive == b->max_receive &&
	       ((!a->dlq && !b->dlq) || (a->dlq && b->dlq && strcmp(a->dlq, b->dlq) == 0)) &&
	       ((!a->on_wake && !b->on_wake) ||
	        (a->on_wake && b->on_wake && strcmp(a->on_wake, b->on_wake) == 0));
}

/* The dead-letter queue must exist and be of the same kind. */
static int check_dlq(struct state *st, const struct queue *q)
{
	if (!q->dlq)
		return EK_OK;
	struct queue d;
	int rc = queue_get(st, q->dlq, &d);
	if (rc == EK_NO) {
		warnf("dead-letter queue '%s' does not exist: create it first", q->dlq);
		return EK_USAGE;
	}
	if (rc)
		return rc;
	if (d.fifo != q->fifo) {
		warnf("the dead-letter queue of a %s queue must be a %s queue too",
		      q->fifo ? "FIFO" : "standard", q->fifo ? "FIFO" : "standard");
		rc = EK_USAGE;
	} else if (strcmp(d.name, q->name) == 0) {
		warnf("a queue cannot be its own dead-letter queue");
		rc = EK_USAGE;
	}
	queue_free(&d);
	return rc;
}

static int write_queue(struct state *st, const struct queue *q, int insert)
{
	int64_t now = clock_now_ms();
	sqlite3_stmt *s = state_prepare(st, insert
		? "INSERT INTO queues (name, fifo, content_dedup, visibility_ms, delay_ms, "
		  "retention_ms, wait_ms, max_size, dlq, max_receive, created_ms, modified_ms, "
		  "on_wake) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12)"
		: "UPDATE queues SET fifo = ?2, content_dedup = ?3, visibility_ms = ?4, "
		  "delay_ms = ?5, retention_ms = ?6, wait_ms = ?7, max_size = ?8, dlq = ?9, "
		  "max_receive = ?10, modified_ms = ?11, on_wake = ?12 WHERE name = ?1");
	sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, q->fifo);
	sqlite3_bind_int(s, 3, q->content_dedup);
	sqlite3_bind_int64(s, 4, q->visibility_ms);
	sqlite3_bind_int64(s, 5, q->delay_ms);
	sqlite3_bind_int64(s, 6, q->retention_ms);
	sqlite3_bind_int64(s, 7, q->wait_ms);
	sqlite3_bind_int64(s, 8, q->max_size);
	if (q->dlq)
		sqlite3_bind_text(s, 9, q->dlq, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 10, q->max_receive);
	sqlite3_bind_int64(s, 11, now);
	if (q->on_wake)
		sqlite3_bind_text(s, 12, q->on_wake, -1, SQLITE_STATIC);
	int sr = sqlite3_step(s);
	sqlite3_reset(s);
	return sr == SQLITE_DONE ? EK_OK : state_error(st, sr, "storing the queue");
}

int queue_create(struct state *st, const struct queue *q)
{
	int rc = state_begin(st);
	if (rc)
		return rc;
	struct queue old;
	rc = queue_get(st, q->name, &old);
	if (rc == EK_OK) {
		/* CreateQueue is idempotent for the same attributes. */
		int same = same_attrs(&old, q);
		queue_free(&old);
		state_rollback(st);
		if (!same) {
			warnf("queue '%s' already exists with other attributes "
			      "(set-attributes changes them)", q->name);
			return EK_USAGE;
		}
		return EK_OK;
	}
	if (rc != EK_NO || (rc = check_dlq(st, q)) || (rc = write_queue(st, q, 1))) {
		state_rollback(st);
		return rc;
	}
	return state_commit(st);
}

int queue_update(struct state *st, const struct queue *q)
{
	int rc = state_begin(st);
	if (rc)
		return rc;
	if ((rc = check_dlq(st, q)) || (rc = write_queue(st, q, 0))) {
		state_rollback(st);
		return rc;
	}
	return state_commit(st);
}

int queue_delete(struct state *st, const char *name_url_arn)
{
	static const char *const owned[] = {
		"DELETE FROM messages WHERE queue = ?1",
		"DELETE FROM dedup WHERE queue = ?1",
		NULL,
	};
	char *name = queue_name_of(name_url_arn);
	if (!name)
		return EK_NO;
	int rc = state_delete_owned(st, name, "DELETE FROM queues WHERE name = ?1", owned,
	                            "deleting the queue");
	free(name);
	return rc;
}

int queue_list(struct state *st, void (*each)(const struct queue *q, void *arg), void *arg)
{
	sqlite3_stmt *s = state_prepare(st, "SELECT " Q_COLUMNS " FROM queues ORDER BY name");
	int sr;
	while ((sr = sqlite3_step(s)) == SQLITE_ROW) {
		struct queue q;
		row_to_queue(s, &q);
		each(&q, arg);
		queue_free(&q);
	}
	sqlite3_reset(s);
	return sr == SQLITE_DONE ? EK_OK : state_error(st, sr, "listing queues");
}

int queue_counts(struct state *st, const struct queue *q, struct qcounts *c)
{
	sqlite3_stmt *s = state_prepare(st,
		"SELECT coalesce(sum(visible_ms <= ?2), 0), "
		"coalesce(sum(visible_ms > ?2 AND receipt IS NOT NULL), 0), "
		"coalesce(sum(visible_ms > ?2 AND receipt IS NULL), 0) "
		"FROM messages WHERE queue = ?1 AND sent_ms > ?2 - ?3");
	sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, clock_now_ms());
	/* Messages past retention are dropped lazily, by the next receive:
	 * until then they are gone for every purpose, counts included. */
	sqlite3_bind_int64(s, 3, q->retention_ms);
	int sr = sqlite3_step(s);
	if (sr == SQLITE_ROW) {
		c->visible = sqlite3_column_int64(s, 0);
		c->in_flight = sqlite3_column_int64(s, 1);
		c->delayed = sqlite3_column_int64(s, 2);
	}
	sqlite3_reset(s);
	return sr == SQLITE_ROW ? EK_OK : state_error(st, sr, "counting messages");
}

/* SQS states durations in whole seconds; evkit keeps milliseconds (for
 * tests), and shows a fraction only when there is one. */
static jv seconds(int64_t ms)
{
	char b[40];
	if (ms % 1000 == 0)
		snprintf(b, sizeof b, "%lld", (long long)(ms / 1000));
	else
		snprintf(b, sizeof b, "%.3f", (double)ms / 1000);
	return jv_string(b);
}

static jv number_string(long long n)
{
	char b[32];
	snprintf(b, sizeof b, "%lld", n);
	return jv_string(b);
}

jv queue_attributes(const struct queue *q, const struct qcounts *c)
{
	struct buf arn = BUF_INIT;
	ids_arn(&arn, "sqs", q->name);
	jv a = jv_object();
	a = jv_object_set(a, jv_string("QueueArn"), jv_string(arn.s));
	a = jv_object_set(a, jv_string("ApproximateNumberOfMessages"), number_string(c->visible));
	a = jv_object_set(a, jv_string("ApproximateNumberOfMessagesNotVisible"),
	                  number_string(c->in_flight));
	a = jv_object_set(a, jv_string("ApproximateNumberOfMessagesDelayed"),
	                  number_string(c->delayed));
	a = jv_object_set(a, jv_string("CreatedTimestamp"), number_string(q->created_ms / 1000));
	a = jv_object_set(a, jv_string("LastModifiedTimestamp"), number_string(q->modified_ms / 1000));
	a = jv_object_set(a, jv_string("VisibilityTimeout"), seconds(q->visibility_ms));
	a = jv_object_set(a, jv_string("MaximumMessageSize"), number_string(q->max_size));
	a = jv_object_set(a, jv_string("MessageRetentionPeriod"), seconds(q->retention_ms));
	a = jv_object_set(a, jv_string("DelaySeconds"), seconds(q->delay_ms));
	a = jv_object_set(a, jv_string("ReceiveMessageWaitTimeSeconds"), seconds(q->wait_ms));
	if (q->dlq) {
		struct buf d = BUF_INIT, policy = BUF_INIT;
		ids_arn(&d, "sqs", q->dlq);
		jv p = jv_object();
		p = jv_object_set(p, jv_string("deadLetterTargetArn"), jv_string(d.s));
		p = jv_object_set(p, jv_string("maxReceiveCount"), jv_number(q->max_receive));
		jx_dump(&policy, p);
		jv_free(p);
		a = jv_object_set(a, jv_string("RedrivePolicy"), jv_string(policy.s));
		buf_free(&d);
		buf_free(&policy);
	}
	if (q->on_wake)  /* evkit's own: the wake-up command, as JSON text */
		a = jv_object_set(a, jv_string("OnWakeCommand"), jv_string(q->on_wake));
	if (q->fifo) {
		a = jv_object_set(a, jv_string("FifoQueue"), jv_string("true"));
		a = jv_object_set(a, jv_string("ContentBasedDeduplication"),
		                  jv_string(q->content_dedup ? "true" : "false"));
	}
	buf_free(&arn);
	return jv_object_set(jv_object(), jv_string("Attributes"), a);
}

/* ---- digests --------------------------------------------------------------- */

static void hex(const unsigned char *d, unsigned n, char *out)
{
	static const char h[] = "0123456789abcdef";
	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = h[d[i] >> 4];
		out[2 * i + 1] = h[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static void digest(const EVP_MD *md, const void *data, size_t n, char *out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_Digest(data, n, d, &len, md, NULL);
	hex(d, len, out);
}

void queue_md5(const void *data, size_t n, char out[33])
{
	digest(EVP_md5(), data, n, out);
}

static void add_len_prefixed(struct buf *b, const void *p, size_t n)
{
	unsigned char l[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16),
	                       (unsigned char)(n >> 8), (unsigned char)n };
	buf_add(b, l, 4);
	buf_add(b, p, n);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* SQS's rule for attribute names: 1 to 256 of [A-Za-z0-9_.-], no leading,
 * trailing or doubled period, and no "AWS." or "Amazon." prefix in any
 * case. */
static int attr_name_check(const char *name, struct buf *why)
{
	size_t n = strlen(name);
	int ok = n >= 1 && n <= 256 && name[0] != '.' && name[n - 1] != '.' &&
	         !strstr(name, "..") && strncasecmp(name, "AWS.", 4) && strncasecmp(name, "Amazon.", 7);
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)name[i]) || strchr("_-.", name[i]);
	if (!ok)
		buf_printf(why, "The message attribute name '%s' is invalid: names are 1 to 256 "
		           "letters, digits, '_', '-' and '.', with no leading, trailing or doubled "
		           "'.', and may not start with 'AWS.' or 'Amazon.'.", name);
	return ok ? 0 : -1;
}

/* A Number attribute's value: a decimal number with at most 38 digits. */
static int attr_number_ok(const char *s)
{
	if (!s)
		return 0;
	const char *p = s;
	int digits = 0, dot = 0;
	if (*p == '-' || *p == '+')
		p++;
	for (; *p && *p != 'e' && *p != 'E'; p++) {
		if (*p == '.' && !dot)
			dot = 1;
		else if (isdigit((unsigned char)*p))
			digits++;
		else
			return 0;
	}
	if (*p) {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
		if (*p)
			return 0;
	}
	return digits >= 1 && digits <= 38;
}

/*
 * SQS's MD5OfMessageAttributes: the attributes sorted by name, each as
 * length-prefixed (4 bytes, big-endian) name, data type, then one byte for
 * the transport (1 string, 2 binary) and the length-prefixed value.
 */
int queue_md5_attrs(jv attrs, char out[33], struct buf *why)
{
	if (jv_get_kind(attrs) != JV_KIND_OBJECT) {
		buf_adds(why, "MessageAttributes must be an object");
		return -1;
	}
	int n = jv_object_length(jv_copy(attrs)), k = 0;
	if (n > 10) {
		buf_printf(why, "Number of message attributes [%d] exceeds the allowed maximum [10].", n);
		return -1;
	}
	const char **names = xcalloc((size_t)n + 1, sizeof *names);
	jv_object_foreach(attrs, key, val) {
		names[k++] = jv_string_value(key); /* still owned by attrs */
		jv_free(key);
		jv_free(val);
	}
	qsort(names, (size_t)n, sizeof *names, cmp_str);
	struct buf b = BUF_INIT;
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		jv v = jx_get(attrs, names[i]);
		const char *type = jx_str(v, "DataType");
		if (attr_name_check(names[i], why) < 0) {
			rc = -1;
		} else if (!type || (strncmp(type, "String", 6) && strncmp(type, "Number", 6) &&
		                     strncmp(type, "Binary", 6))) {
			buf_printf(why, "The message attribute '%s' must have a DataType of String, "
			           "Number or Binary.", names[i]);
			rc = -1;
		} else if ((type[6] && (type[6] != '.' || !type[7])) || strlen(type) > 256) {
			buf_printf(why, "The message attribute '%s' has the DataType '%s': a custom "
			           "label follows a '.' (String.label), 256 characters in all.",
			           names[i], type);
			rc = -1;
		} else if (strncmp(type, "Number", 6) == 0 && !attr_number_ok(jx_str(v, "StringValue"))) {
			buf_printf(why, "The message attribute '%s' with type 'Number' must have a "
			           "StringValue holding a number of at most 38 digits.", names[i]);
			rc = -1;
		} else if (strncmp(type, "Binary", 6) == 0) {
			const char *v64 = jx_str(v, "BinaryValue");
			size_t l = v64 ? strlen(v64) : 0;
			unsigned char *raw = xmalloc(l + 3);
			int got = v64 ? EVP_DecodeBlock(raw, (const unsigned char *)v64, (int)l) : -1;
			if (got <= 0) {
				buf_printf(why, "The message attribute '%s' with type 'Binary' must use "
				           "field 'BinaryValue' (base64).", names[i]);
				rc = -1;
			} else {
				/* DecodeBlock counts padding as bytes: take them off. */
				while (l && v64[l - 1] == '=' && got > 0)
					got--, l--;
				add_len_prefixed(&b, names[i], strlen(names[i]));
				add_len_prefixed(&b, type, strlen(type));
				buf_addc(&b, 2);
				add_len_prefixed(&b, raw, (size_t)got);
			}
			free(raw);
		} else {
			const char *sv = jx_str(v, "StringValue");
			if (!sv || !*sv) {
				buf_printf(why, "The message attribute '%s' with type '%s' must use "
				           "field 'StringValue', not empty.", names[i], type);
				rc = -1;
			} else {
				add_len_prefixed(&b, names[i], strlen(names[i]));
				add_len_prefixed(&b, type, strlen(type));
				buf_addc(&b, 1);
				add_len_prefixed(&b, sv, strlen(sv));
			}
		}
		jv_free(v);
	}
	if (rc == 0)
		queue_md5(b.s ? b.s : "", b.len, out);
	buf_free(&b);
	free(names);
	return rc;
}

/* ---- sending ------------------------------------------------------------------ */

/* SQS's allowed characters: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to
 * #xFFFD | #x10000 to #x10FFFF, in valid UTF-8. 0 or the first bad code
 * point's byte offset + 1. */
static size_t bad_char_at(const char *s, size_t n, unsigned *cp_out)
{
	size_t bad = jx_utf8_invalid_at(s, n);
	if (bad) {
		*cp_out = (unsigned char)s[bad - 1];
		return bad;
	}
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned c = p[i], cp, len;
		if (c < 0x80) { cp = c; len = 1; }
		else if (c < 0xe0) { cp = c & 0x1f; len = 2; }
		else if (c < 0xf0) { cp = c & 0x0f; len = 3; }
		else { cp = c & 0x07; len = 4; }
		for (unsigned k = 1; k < len; k++)
			cp = (cp << 6) | (p[i + k] & 0x3f);
		if ((cp < 0x20 && cp != 9 && cp != 10 && cp != 13) || cp == 0xfffe || cp == 0xffff) {
			*cp_out = cp;
			return i + 1;
		}
		i += len;
	}
	return 0;
}

static void nonce(char *out)
{
	char u[40];
	ids_uuid(u);
	size_t k = 0;
	for (size_t i = 0; u[i]; i++)
		if (u[i] != '-')
			out[k++] = u[i];
	out[k] = '\0';
}

/* Validate one message; NULL or the error code with why filled. */
static const char *check_message(const struct queue *q, const struct qsend *m,
                                 struct qsent *r)
{
	unsigned cp;
	size_t at;
	if (m->len == 0) {
		buf_adds(&r->why, "The request must contain the parameter MessageBody.");
		return "MissingParameter";
	}
	if ((at = bad_char_at(m->body, m->len, &cp)) != 0) {
		buf_printf(&r->why, "Invalid binary character '#x%X' was found in the message body "
		           "(byte %zu), the set of allowed characters is #x9 | #xA | #xD | #x20 to "
		           "#xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF", cp, at);
		return "InvalidMessageContents";
	}
	size_t size = m->len;
	r->md5_attrs[0] = '\0';
	if (jv_get_kind(m->attrs) != JV_KIND_NULL && jv_get_kind(m->attrs) != JV_KIND_INVALID) {
		if (queue_md5_attrs(m->attrs, r->md5_attrs, &r->why) != 0)
			return "InvalidParameterValue";
		jv_object_foreach(m->attrs, k, v) {
			size += (size_t)jv_string_length_bytes(jv_copy(k));
			const char *t = jx_str(v, "DataType");
			const char *sv = jx_str(v, "StringValue");
			const char *bv = jx_str(v, "BinaryValue");
			size += (t ? strlen(t) : 0) + (sv ? strlen(sv) : 0) + (bv ? strlen(bv) * 3 / 4 : 0);
			jv_free(k);
			jv_free(v);
		}
	}
	if ((int64_t)size > q->max_size) {
		buf_printf(&r->why, "One or more parameters are invalid. Reason: Message must be "
		           "shorter than %lld bytes.", (long long)q->max_size);
		return "InvalidParameterValue";
	}
	if (m->delay_ms > Q_MAX_DELAY_MS) {
		buf_printf(&r->why, "Value %lld for parameter DelaySeconds is invalid. Reason: "
		           "DelaySeconds must be >= 0 and <= 900.", (long long)(m->delay_ms / 1000));
		return "InvalidParameterValue";
	}
	if (q->fifo) {
		if (m->delay_ms > 0) {
			buf_printf(&r->why, "Value %lld for parameter DelaySeconds is invalid. Reason: "
			           "The request include parameter that is not valid for this queue type.",
			           (long long)(m->delay_ms / 1000));
			return "InvalidParameterValue";
		}
		if (!m->group || !*m->group) {
			buf_adds(&r->why, "The request must contain the parameter MessageGroupId.");
			return "MissingParameter";
		}
		if ((!m->dedup || !*m->dedup) && !q->content_dedup) {
			buf_adds(&r->why, "The queue should either have ContentBasedDeduplication "
			         "enabled or MessageDeduplicationId provided explicitly");
			return "InvalidParameterValue";
		}
		if (strlen(m->group) > 128 || (m->dedup && strlen(m->dedup) > 128)) {
			buf_adds(&r->why, "MessageGroupId and MessageDeduplicationId can be up to "
			         "128 characters long.");
			return "InvalidParameterValue";
		}
	}
	return NULL;
}

/* FIFO: a message with the same deduplication id within 5 minutes is
 * accepted but not queued; r gets the first one's MessageId. 1 when it
 * is a duplicate, 0 when not, -1 on a state error (*rc set). */
static int deduplicate(struct state *st, const struct queue *q, const char *dedup,
                       int64_t now, struct qsent *r, int *rc)
{
	sqlite3_stmt *s = state_prepare(st, "SELECT message_id, seq FROM dedup "
	                                    "WHERE queue = ?1 AND dedup_id = ?2 AND expires_ms > ?3");
	sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, dedup, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	int sr = sqlite3_step(s);
	if (sr == SQLITE_ROW) {
		snprintf(r->message_id, sizeof r->message_id, "%s", sqlite3_column_text(s, 0));
		snprintf(r->seq, sizeof r->seq, "%s",
		         sqlite3_column_text(s, 1) ? (const char *)sqlite3_column_text(s, 1) : "");
		sqlite3_reset(s);
		return 1;
	}
	sqlite3_reset(s);
	if (sr != SQLITE_DONE) {
		*rc = state_error(st, sr, "reading deduplication ids");
		return -1;
	}
	return 0;
}

/*
 * The queue went from empty to non-empty: run its on_wake command,
 * detached (the sender does not wait), its output appended to
 * logs/wake-QUEUE.log beside the state file. A command that cannot start
 * is reported; the send has succeeded all the same.
 */
static void wake(struct state *st, const struct queue *q)
{
	jv argv = jx_parse(q->on_wake, strlen(q->on_wake), NULL);
	int n = jv_get_kind(argv) == JV_KIND_ARRAY ? jv_array_length(jv_copy(argv)) : 0;
	if (n == 0) {
		jv_free(argv);
		return;
	}
	char **av = xcalloc((size_t)n + 1, sizeof *av);
	for (int i = 0; i < n; i++) {
		jv e = jv_array_get(jv_copy(argv), i);
		av[i] = xstrdup(jv_get_kind(e) == JV_KIND_STRING ? jv_string_value(e) : "");
		jv_free(e);
	}
	jv_free(argv);
	struct buf dir = BUF_INIT, log = BUF_INIT, e1 = BUF_INIT, e2 = BUF_INIT;
	char *path = state_file_abs(st);
	const char *slash = strrchr(path, '/');
	if (slash)
		buf_add(&dir, path, (size_t)(slash - path));
	else
		buf_adds(&dir, ".");
	buf_adds(&dir, "/logs");
	mkdir(dir.s, 0700);
	buf_printf(&log, "%s/wake-%s.log", dir.s, q->name);
	buf_printf(&e1, "SQS_QUEUE_NAME=%s", q->name);
	buf_printf(&e2, "EVKIT_STATE=%s", path);
	char *env[] = { e1.s, e2.s, NULL };
	struct proc_opts o = { av, env, 0, 0 };
	pid_t pid;
	int rc = proc_detach(&o, log.s, &pid);
	if (rc)
		warnf("%s: the wake-up command '%s' cannot start: %s", q->name, av[0], strerror(rc));
	for (int i = 0; i < n; i++)
		free(av[i]);
	free(av);
	buf_free(&dir);
	buf_free(&log);
	buf_free(&e1);
	buf_free(&e2);
	free(path);
}

int queue_send(struct state *st, const struct queue *q, const struct qsend *m, int n,
               struct qsent *out)
{
	int64_t now = clock_now_ms();
	for (int i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof out[i]);
		out[i].error = check_message(q, &m[i], &out[i]);
	}
	int rc = state_begin(st);
	if (rc)
		return rc;
	int was_empty = 0;
	if (q->on_wake) {
		sqlite3_stmt *s = state_prepare(st, "SELECT NOT EXISTS (SELECT 1 FROM messages "
		                                    "WHERE queue = ?1)");
		sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			was_empty = sqlite3_column_int(s, 0);
		sqlite3_reset(s);
	}
	if (q->fifo && (now / 1000) % 64 == 0) {
		/* Now and then, forget deduplication ids past their window. */
		sqlite3_stmt *s = state_prepare(st, "DELETE FROM dedup WHERE queue = ?1 AND expires_ms <= ?2");
		sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, now);
		sqlite3_step(s);
		sqlite3_reset(s);
	}
	for (int i = 0; i < n; i++) {
		struct qsent *r = &out[i];
		if (r->error)
			continue;
		queue_md5(m[i].body, m[i].len, r->md5);
		char sha[65];
		const char *dedup = m[i].dedup;
		if (q->fifo && (!dedup || !*dedup)) {
			digest(EVP_sha256(), m[i].body, m[i].len, sha);
			dedup = sha;
		}
		if (q->fifo) {
			int d = deduplicate(st, q, dedup, now, r, &rc);
			if (d < 0)
				goto fail;
			if (d > 0)
				continue;
			sqlite3_stmt *s = state_prepare(st, "UPDATE queues SET seq = seq + 1 "
			                                    "WHERE name = ?1 RETURNING seq");
			sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
			if (sqlite3_step(s) != SQLITE_ROW) {
				rc = state_error(st, sqlite3_errcode(state_db(st)), "numbering the message");
				sqlite3_reset(s);
				goto fail;
			}
			snprintf(r->seq, sizeof r->seq, "%020lld", (long long)sqlite3_column_int64(s, 0));
			sqlite3_reset(s);
		}
		ids_uuid(r->message_id);
		int64_t delay = m[i].delay_ms >= 0 ? m[i].delay_ms : q->delay_ms;
		char *attrs = NULL;
		if (r->md5_attrs[0])
			attrs = jx_dumps(m[i].attrs);
		sqlite3_stmt *s = state_prepare(st,
			"INSERT INTO messages (queue, message_id, body, md5, attrs, md5_attrs, sent_ms, "
			"visible_ms, group_id, dedup_id, seq) "
			"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
		sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, r->message_id, -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 3, m[i].body, (int)m[i].len, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, r->md5, -1, SQLITE_STATIC);
		if (attrs) {
			sqlite3_bind_text(s, 5, attrs, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 6, r->md5_attrs, -1, SQLITE_STATIC);
		}
		sqlite3_bind_int64(s, 7, now);
		sqlite3_bind_int64(s, 8, now + delay);
		if (q->fifo) {
			sqlite3_bind_text(s, 9, m[i].group, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 10, dedup, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 11, r->seq, -1, SQLITE_STATIC);
		}
		int sr = sqlite3_step(s);
		sqlite3_reset(s);
		free(attrs);
		if (sr != SQLITE_DONE) {
			rc = state_error(st, sr, "storing the message");
			goto fail;
		}
		if (q->fifo) {
			s = state_prepare(st, "INSERT OR REPLACE INTO dedup (queue, dedup_id, expires_ms, "
			                      "message_id, seq) VALUES (?1, ?2, ?3, ?4, ?5)");
			sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 2, dedup, -1, SQLITE_STATIC);
			sqlite3_bind_int64(s, 3, now + Q_DEDUP_WINDOW_MS);
			sqlite3_bind_text(s, 4, r->message_id, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 5, r->seq, -1, SQLITE_STATIC);
			sr = sqlite3_step(s);
			sqlite3_reset(s);
			if (sr != SQLITE_DONE) {
				rc = state_error(st, sr, "storing the deduplication id");
				goto fail;
			}
		}
	}
	if ((rc = state_commit(st)))
		return rc;
	queue_notify(st, q->name);
	int sent = 0;
	for (int i = 0; i < n; i++)
		sent += !out[i].error;
	if (was_empty && sent)
		wake(st, q);
	return EK_OK;
fail:
	state_rollback(st);
	return rc;
}

/* ---- receiving -------------------------------------------------------------- */

void qmsg_free(struct qmsg *m)
{
	free(m->message_id);
	free(m->receipt);
	free(m->body);
	free(m->attrs);
	free(m->md5_attrs);
	free(m->group);
	free(m->dedup);
	free(m->seq);
}

static char *col_dup(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL ? NULL
	       : xstrdup((const char *)sqlite3_column_text(s, i));
}

static const char *holder;

void queue_set_holder(const char *worker_id)
{
	holder = worker_id;
}

/*
 * One receive, as it goes: the messages delivered so far (with their row
 * ids, so that a message shown again at once by a zero visibility timeout
 * is not delivered twice in one receive), and the dead-letter queue's
 * usability, looked up only when a message is due to move.
 */
struct receive {
	const struct queue *q;
	int64_t now, vis;
	int max;
	int dlq_ok;              /* -1 until looked up */
	int to_dlq;              /* messages moved to the dead-letter queue */
	struct qmsg *out;        /* max slots, n filled */
	int n;
	int64_t id[10];          /* the row ids of out[] */
	char *group[10];         /* FIFO: the groups delivered from */
	int ngroups;
	char nonce[40];          /* one per receive: a handle also holds the
	                            row id and message id, so it is unique */
};

/*
 * Deliver rows ids[0..k), whose messages the candidates' SELECT has read
 * into out[n..n+k), in one statement: a new receipt handle each,
 * invisible until now + vis, receive counts up. What the statement writes
 * is computed here too, rather than read back with RETURNING: that would
 * copy every row once more through a temporary table.
 */
static int deliver(struct state *st, struct receive *r, const int64_t *ids, int k)
{
	if (k == 0)
		return EK_OK;
	sqlite3_stmt *s = state_prepare(st,
		"UPDATE messages SET visible_ms = ?1, receive_count = receive_count + 1, "
		"first_receive_ms = coalesce(first_receive_ms, ?2), "
		"receipt = id || '.' || message_id || '.' || ?3, holder = ?4 "
		"WHERE id IN (?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
	sqlite3_bind_int64(s, 1, r->now + r->vis);
	sqlite3_bind_int64(s, 2, r->now);
	sqlite3_bind_text(s, 3, r->nonce, -1, SQLITE_STATIC);
	if (holder)
		sqlite3_bind_text(s, 4, holder, -1, SQLITE_STATIC);
	for (int j = 0; j < k; j++)
		sqlite3_bind_int64(s, 5 + j, ids[j]);
	int sr = sqlite3_step(s);
	sqlite3_reset(s);
	int changed = sqlite3_changes(state_db(st));
	for (int j = 0; j < k; j++) {
		struct qmsg *m = &r->out[r->n];
		struct buf h = BUF_INIT;
		buf_printf(&h, "%lld.%s.%s", (long long)ids[j], m->message_id, r->nonce);
		m->receipt = buf_detach(&h);
		m->receive_count++;
		if (m->first_receive_ms < 0)
			m->first_receive_ms = r->now;
		r->id[r->n++] = ids[j];
	}
	if (sr != SQLITE_DONE || changed != k)
		return state_error(st, sr == SQLITE_DONE ? SQLITE_CORRUPT : sr, "receiving");
	return EK_OK;
}

/* Run sql with ?1 the row id and, where the statement has them, ?2 a text
 * and ?3 the time (binding a parameter a statement lacks does nothing). */
static int exec_id(struct state *st, const char *sql, int64_t id, const char *a,
                   int64_t now, const char *doing)
{
	sqlite3_stmt *s = state_prepare(st, sql);
	sqlite3_bind_int64(s, 1, id);
	if (a)
		sqlite3_bind_text(s, 2, a, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	int sr = sqlite3_step(s);
	sqlite3_reset(s);
	return sr == SQLITE_DONE ? EK_OK : state_error(st, sr, doing);
}

/* The redrive policy applies when the queue has one whose dead-letter
 * queue exists: looked up once per receive, and only when a message has
 * reached maxReceiveCount, which most receives never meet. */
static int dlq_usable(struct state *st, struct receive *r)
{
	if (r->dlq_ok < 0) {
		struct queue d;
		r->dlq_ok = 0;
		if (r->q->dlq && r->q->max_receive > 0 && queue_get(st, r->q->dlq, &d) == EK_OK) {
			queue_free(&d);
			r->dlq_ok = 1;
		}
	}
	return r->dlq_ok;
}

/*
 * What happens to a candidate before delivery: 0 deliver it, 1 it was
 * dropped (past retention) or moved to the dead-letter queue, or a state
 * error status (> 1 after the sign flip below: returned negated).
 */
static int before_delivery(struct state *st, struct receive *r, int64_t id, int count,
                           int64_t sent)
{
	const struct queue *q = r->q;
	int rc;
	if (sent + q->retention_ms <= r->now) {
		rc = exec_id(st, "DELETE FROM messages WHERE id = ?1",
		             id, NULL, r->now, "dropping an expired message");
		return rc ? -rc : 1;
	}
	if (q->dlq && q->max_receive > 0 && count >= q->max_receive && dlq_usable(st, r)) {
		rc = exec_id(st, "UPDATE messages SET queue = ?2, source = queue, receipt = NULL, "
		                 "receive_count = 0, first_receive_ms = NULL, visible_ms = ?3 "
		                 "WHERE id = ?1", id, q->dlq, r->now, "moving to the dead-letter queue");
		if (rc == EK_OK)
			r->to_dlq++;
		return rc ? -rc : 1;
	}
	return 0;
}

/* Messages picked for a receive: row id, receive count, sent time, and
 * the message as read (first_receive_ms -1 before its first receive). */
struct candidates {
	int64_t id[10], sent[10];
	int count[10], n;
	struct qmsg m[10];
};

/* What the candidates' SELECTs read, in this order. */
#define CANDIDATE_COLUMNS "id, receive_count, sent_ms, message_id, body, md5, attrs, " \
	"md5_attrs, first_receive_ms, group_id, dedup_id, seq"

static void add_candidate(struct candidates *c, sqlite3_stmt *s)
{
	int i = c->n++;
	struct qmsg *m = &c->m[i];
	memset(m, 0, sizeof *m);
	c->id[i] = sqlite3_column_int64(s, 0);
	c->count[i] = m->receive_count = sqlite3_column_int(s, 1);
	c->sent[i] = m->sent_ms = sqlite3_column_int64(s, 2);
	m->message_id = col_dup(s, 3);
	m->body_len = (size_t)sqlite3_column_bytes(s, 4);
	m->body = xmalloc(m->body_len + 1);
	if (m->body_len)
		memcpy(m->body, sqlite3_column_blob(s, 4), m->body_len);
	m->body[m->body_len] = '\0';
	snprintf(m->md5, sizeof m->md5, "%s", sqlite3_column_text(s, 5));
	m->attrs = col_dup(s, 6);
	m->md5_attrs = col_dup(s, 7);
	m->first_receive_ms = sqlite3_column_type(s, 8) == SQLITE_NULL ? -1
	                      : sqlite3_column_int64(s, 8);
	m->group = col_dup(s, 9);
	m->dedup = col_dup(s, 10);
	m->seq = col_dup(s, 11);
}

/* Deliver the candidates in order, dropping expired ones and moving those
 * past maxReceiveCount; with stop_on_move, stop at the first move. The
 * deliveries are one statement, after the drops and moves: they touch
 * other rows, so the order of the statements does not matter. Takes the
 * candidates' messages: delivered ones go to r->out, the others are
 * freed. */
static int take(struct state *st, struct receive *r, struct candidates *c,
                int stop_on_move, int *delivered)
{
	int64_t ids[10];
	int k = 0, i, rc = EK_OK;
	for (i = 0; i < c->n; i++) {
		int b = before_delivery(st, r, c->id[i], c->count[i], c->sent[i]);
		if (b < 0) {
			rc = -b;
			break;
		}
		if (b == 1) {
			qmsg_free(&c->m[i]);
			if (stop_on_move) {
				i++;
				break;
			}
			continue;
		}
		r->out[r->n + k] = c->m[i];
		ids[k++] = c->id[i];
	}
	for (; i < c->n; i++)
		qmsg_free(&c->m[i]);
	*delivered = k;
	if (rc) {
		for (int j = 0; j < k; j++)
			qmsg_free(&r->out[r->n + j]);
		return rc;
	}
	return deliver(st, r, ids, k);
}

static int delivered_already(const struct receive *r, int64_t id)
{
	for (int i = 0; i < r->n; i++)
		if (r->id[i] == id)
			return 1;
	return 0;
}

static int receive_standard(struct state *st, struct receive *r)
{
	for (;;) {
		int want = r->max - r->n, got = 0, rows = 0, rc;
		if (want <= 0)
			return EK_OK;
		/* As many more rows as were delivered: with a zero visibility
		 * timeout those are visible again, and skipped. */
		sqlite3_stmt *s = state_prepare(st,
			"SELECT " CANDIDATE_COLUMNS " FROM messages "
			"WHERE queue = ?1 AND visible_ms <= ?2 ORDER BY visible_ms, id LIMIT ?3");
		sqlite3_bind_text(s, 1, r->q->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, r->now);
		sqlite3_bind_int(s, 3, want + r->n);
		struct candidates c;
		c.n = 0;
		int sr;
		while ((sr = sqlite3_step(s)) == SQLITE_ROW) {
			rows++;
			int64_t id = sqlite3_column_int64(s, 0);
			if (got == want || delivered_already(r, id))
				continue;
			add_candidate(&c, s);
			got++;
		}
		sqlite3_reset(s);
		if (sr != SQLITE_DONE) {
			for (int i = 0; i < c.n; i++)
				qmsg_free(&c.m[i]);
			return state_error(st, sr, "receiving");
		}
		if (got == 0)
			return EK_OK;
		int delivered;
		if ((rc = take(st, r, &c, 0, &delivered)))
			return rc;
		/* Fewer rows than asked for: every visible message was seen. */
		if (rows < want + r->n - delivered)
			return EK_OK;
	}
}

static int group_taken(const struct receive *r, const char *g)
{
	for (int i = 0; i < r->ngroups; i++)
		if (strcmp(r->group[i], g) == 0)
			return 1;
	return 0;
}

/*
 * FIFO: the first message of each group decides: a group whose first
 * message is in flight (or delayed) is held. From an open group, messages
 * come in order, as many as asked for, before the next group's. A group
 * delivered from is not visited again in the same receive (with a zero
 * visibility timeout it is not held, but its messages are out).
 */
static int receive_fifo(struct state *st, struct receive *r)
{
	int rc;
	for (int rounds = 0; rounds < 1000 && r->n < r->max; rounds++) {
		/* The groups are visited by seeking from one to the next in the
		 * (queue, group_id, id) index, and each head by one more seek:
		 * with few groups and a long backlog this reads a few rows, where
		 * a GROUP BY would read every message of the queue. */
		sqlite3_stmt *s = state_prepare(st,
			"WITH RECURSIVE g(gid) AS ("
			" SELECT (SELECT group_id FROM messages WHERE queue = ?1 AND group_id IS NOT NULL"
			"         ORDER BY group_id LIMIT 1)"
			" UNION ALL"
			" SELECT (SELECT group_id FROM messages WHERE queue = ?1 AND group_id > g.gid"
			"         ORDER BY group_id LIMIT 1) FROM g WHERE g.gid IS NOT NULL) "
			"SELECT h.group_id FROM g JOIN messages h ON h.id = (SELECT min(id) FROM messages"
			" WHERE queue = ?1 AND group_id = g.gid) "
			"WHERE g.gid IS NOT NULL AND h.visible_ms <= ?2 ORDER BY h.id LIMIT ?3");
		sqlite3_bind_text(s, 1, r->q->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, r->now);
		sqlite3_bind_int(s, 3, r->ngroups + 1);
		char *group = NULL;
		int sr;
		while (!group && (sr = sqlite3_step(s)) == SQLITE_ROW)
			if (!group_taken(r, (const char *)sqlite3_column_text(s, 0)))
				group = col_dup(s, 0);
		sqlite3_reset(s);
		if (!group)
			return sr == SQLITE_DONE || sr == SQLITE_ROW ? EK_OK
			       : state_error(st, sr, "receiving");
		/* The group's messages in order, while they are visible. */
		s = state_prepare(st, "SELECT " CANDIDATE_COLUMNS ", visible_ms FROM messages "
		                      "WHERE queue = ?1 AND group_id = ?2 ORDER BY id LIMIT ?3");
		sqlite3_bind_text(s, 1, r->q->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, group, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(s, 3, r->max - r->n);
		struct candidates c;
		c.n = 0;
		while ((sr = sqlite3_step(s)) == SQLITE_ROW && c.n < 10) {
			if (sqlite3_column_int64(s, 12) > r->now)
				break;
			add_candidate(&c, s);
		}
		int got = c.n;
		sqlite3_reset(s);
		/* After a move to the dead-letter queue the rest of the group
		 * waits: order is kept by a new look at the heads. */
		int delivered;
		if ((rc = take(st, r, &c, 1, &delivered))) {
			free(group);
			return rc;
		}
		if (delivered)
			r->group[r->ngroups++] = group;
		else
			free(group);
		if (delivered && r->n < r->max)
			continue;  /* the group is now held; look for another */
		if (!delivered && got == 0)
			return EK_OK;
	}
	return EK_OK;
}

int queue_receive(struct state *st, const struct queue *q, int max, int64_t visibility_ms,
                  struct qmsg **out, int *n)
{
	*out = NULL;
	*n = 0;
	if (max < 1)
		max = 1;
	if (max > 10)
		max = 10;
	struct receive r;
	memset(&r, 0, sizeof r);
	r.q = q;
	r.max = max;
	r.vis = visibility_ms >= 0 ? visibility_ms : q->visibility_ms;
	r.dlq_ok = -1;
	int rc = state_begin(st);
	if (rc)
		return rc;
	r.now = clock_now_ms();
	r.out = xcalloc((size_t)max, sizeof *r.out);
	nonce(r.nonce);
	rc = q->fifo ? receive_fifo(st, &r) : receive_standard(st, &r);
	if (rc == EK_OK)
		rc = state_commit(st);
	else
		state_rollback(st);
	for (int i = 0; i < r.ngroups; i++)
		free(r.group[i]);
	if (rc || r.n == 0) {
		for (int i = 0; i < r.n; i++)
			qmsg_free(&r.out[i]);
		free(r.out);
		return rc;
	}
	*out = r.out;
	*n = r.n;
	if (r.to_dlq)
		queue_notify(st, q->dlq);
	return EK_OK;
}

/* ---- receipts ------------------------------------------------------------------ */

/* A receipt handle is "ROWID.MESSAGEID.NONCE": find its row. Returns 0
 * with the row's fields (*exists 0 when the message is gone), or -1 when
 * the handle is malformed. */
static int parse_receipt(const char *h, int64_t *id, const char **msgid, size_t *msgid_len)
{
	char *end;
	long long v = strtoll(h, &end, 10);
	if (end == h || *end != '.' || v <= 0)
		return -1;
	const char *m = end + 1, *dot = strchr(m, '.');
	if (!dot || dot == m || !dot[1])
		return -1;
	*id = v;
	*msgid = m;
	*msgid_len = (size_t)(dot - m);
	return 0;
}

enum { R_GONE, R_CURRENT, R_STALE, R_INVALID, R_ERROR };

static int find_receipt(struct state *st, const struct queue *q, const char *receipt,
                        int64_t *id, int64_t *visible, struct buf *why, int *status)
{
	const char *mid;
	size_t mlen;
	*status = EK_OK;
	if (parse_receipt(receipt, id, &mid, &mlen) != 0) {
		buf_printf(why, "The input receipt handle \"%.200s\" is not a valid receipt handle.",
		           receipt);
		return R_INVALID;
	}
	sqlite3_stmt *s = state_prepare(st, "SELECT queue, message_id, receipt, visible_ms "
	                                    "FROM messages WHERE id = ?1");
	sqlite3_bind_int64(s, 1, *id);
	int sr = sqlite3_step(s), r;
	if (sr == SQLITE_DONE) {
		r = R_GONE;
	} else if (sr != SQLITE_ROW) {
		*status = state_error(st, sr, "reading the message");
		r = R_ERROR;
	} else {
		const char *qn = (const char *)sqlite3_column_text(s, 0);
		const char *m = (const char *)sqlite3_column_text(s, 1);
		const char *cur = (const char *)sqlite3_column_text(s, 2);
		*visible = sqlite3_column_int64(s, 3);
		if (strlen(m) != mlen || memcmp(m, mid, mlen) != 0) {
			r = R_GONE;  /* the row was reused: that message is gone */
		} else if (strcmp(qn, q->name) != 0) {
			buf_printf(why, "The input receipt handle \"%.200s\" is not a valid receipt "
			           "handle for queue %s.", receipt, q->name);
			r = R_INVALID;
		} else if (!cur || strcmp(cur, receipt) != 0) {
			buf_printf(why, "The receipt handle has expired: the message was received "
			           "again since (ReceiptHandle \"%.200s\").", receipt);
			r = R_STALE;
		} else {
			r = R_CURRENT;
		}
	}
	sqlite3_reset(s);
	return r;
}

/*
 * The usual case: the handle is its message's current one, and one
 * statement checks that and deletes the row. *done says whether it did.
 */
static int delete_if_current(struct state *st, const struct queue *q, const char *receipt,
                             int *done)
{
	const char *mid;
	size_t mlen;
	int64_t id;
	*done = 0;
	if (parse_receipt(receipt, &id, &mid, &mlen) != 0)
		return EK_OK;
	sqlite3_stmt *s = state_prepare(st,
		"DELETE FROM messages WHERE id = ?1 AND receipt = ?2 AND queue = ?3");
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, receipt, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, q->name, -1, SQLITE_STATIC);
	int sr = sqlite3_step(s);
	sqlite3_reset(s);
	if (sr != SQLITE_DONE)
		return state_error(st, sr, "deleting the message");
	*done = sqlite3_changes(state_db(st)) == 1;
	return EK_OK;
}

int queue_delete_batch(struct state *st, const struct queue *q, const char *const *receipts,
                       int n, const char **codes, struct buf *whys)
{
	int status = state_begin(st), done = 1;
	if (status)
		return status;
	for (int i = 0; i < n && done; i++) {
		if ((status = delete_if_current(st, q, receipts[i], &done))) {
			state_rollback(st);
			return status;
		}
		codes[i] = NULL;
	}
	if (done)
		return state_commit(st);
	/* Some handle is not current: undo, and take the handles one by one,
	 * in order, so that each is judged as it would be alone (a stale
	 * handle before its message's current one fails, after it finds the
	 * message gone). */
	state_rollback(st);
	if ((status = state_begin(st)))
		return status;
	for (int i = 0; i < n; i++) {
		int64_t id, visible;
		int r = find_receipt(st, q, receipts[i], &id, &visible, &whys[i], &status);
		if (r == R_CURRENT)
			status = exec_id(st, "DELETE FROM messages WHERE id = ?1",
			                 id, NULL, 0, "deleting the message");
		if (r == R_ERROR || status) {
			state_rollback(st);
			return status ? status : EK_STATE;
		}
		codes[i] = r == R_INVALID || r == R_STALE ? "ReceiptHandleIsInvalid" : NULL;
	}
	return state_commit(st);
}

const char *queue_delete_message(struct state *st, const struct queue *q,
                                 const char *receipt, struct buf *why, int *status)
{
	const char *code = NULL;
	*status = queue_delete_batch(st, q, &receipt, 1, &code, why);
	return *status ? "InternalError" : code;
}

const char *queue_change_visibility(struct state *st, const struct queue *q,
                                    const char *receipt, int64_t visibility_ms,
                                    struct buf *why, int *status)
{
	int64_t id, visible, now = clock_now_ms();
	if (visibility_ms < 0 || visibility_ms > Q_MAX_VISIBILITY_MS) {
		*status = EK_OK;
		buf_printf(why, "Value %lld for parameter VisibilityTimeout is invalid. Reason: "
		           "Must be between 0 and 43200.", (long long)(visibility_ms / 1000));
		return "InvalidParameterValue";
	}
	if ((*status = state_begin(st)))
		return "InternalError";
	int r = find_receipt(st, q, receipt, &id, &visible, why, status);
	const char *code = NULL;
	if (r == R_GONE) {
		buf_printf(why, "The input receipt handle \"%.200s\" is not a valid receipt handle: "
		           "its message was deleted.", receipt);
		code = "ReceiptHandleIsInvalid";
	} else if (r == R_INVALID || r == R_STALE) {
		code = "ReceiptHandleIsInvalid";
	} else if (r == R_CURRENT && visible <= now) {
		buf_adds(why, "Message does not exist or is not available for visibility timeout change.");
		code = "MessageNotInflight";
	} else if (r == R_CURRENT) {
		sqlite3_stmt *s = state_prepare(st, "UPDATE messages SET visible_ms = ?2 WHERE id = ?1");
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int64(s, 2, now + visibility_ms);
		int sr = sqlite3_step(s);
		sqlite3_reset(s);
		if (sr != SQLITE_DONE) {
			*status = state_error(st, sr, "changing the visibility");
			r = R_ERROR;
		}
	}
	if (r == R_ERROR) {
		state_rollback(st);
		return "InternalError";
	}
	if ((*status = state_commit(st)))
		return "InternalError";
	if (!code && visibility_ms == 0)
		queue_notify(st, q->name);
	return code;
}

const char *queue_purge(struct state *st, const struct queue *q, struct buf *why, int *status)
{
	int64_t now = clock_now_ms();
	if ((*status = state_begin(st)))
		return "InternalError";
	sqlite3_stmt *s = state_prepare(st, "SELECT purged_ms FROM queues WHERE name = ?1");
	sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
	int64_t last = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	if (last && now - last < Q_PURGE_INTERVAL_MS) {
		state_rollback(st);
		buf_printf(why, "Only one PurgeQueue operation on %s is allowed every 60 seconds.",
		           q->name);
		return "PurgeQueueInProgress";
	}
	s = state_prepare(st, "DELETE FROM messages WHERE queue = ?1 AND sent_ms <= ?2");
	sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	int sr = sqlite3_step(s);
	sqlite3_reset(s);
	if (sr == SQLITE_DONE) {
		s = state_prepare(st, "UPDATE queues SET purged_ms = ?2 WHERE name = ?1");
		sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, now);
		sr = sqlite3_step(s);
		sqlite3_reset(s);
	}
	if (sr != SQLITE_DONE) {
		*status = state_error(st, sr, "purging");
		state_rollback(st);
		return "InternalError";
	}
	*status = state_commit(st);
	return *status ? "InternalError" : NULL;
}

int queue_redrive(struct state *st, const struct queue *dlq, const char *dest, long *moved)
{
	int64_t now = clock_now_ms();
	*moved = 0;
	int rc = state_begin(st);
	if (rc)
		return rc;
	/* Which queues will get messages, to wake their receivers after. */
	sqlite3_stmt *s = state_prepare(st,
		"SELECT DISTINCT coalesce(?2, source) FROM messages WHERE queue = ?1 "
		"AND coalesce(?2, source) IN (SELECT name FROM queues)");
	sqlite3_bind_text(s, 1, dlq->name, -1, SQLITE_STATIC);
	if (dest)
		sqlite3_bind_text(s, 2, dest, -1, SQLITE_STATIC);
	struct buf targets = BUF_INIT;
	while (sqlite3_step(s) == SQLITE_ROW) {
		buf_adds(&targets, (const char *)sqlite3_column_text(s, 0));
		buf_addc(&targets, '\n');
	}
	sqlite3_reset(s);
	s = state_prepare(st,
		"UPDATE messages SET queue = coalesce(?2, source), source = NULL, receipt = NULL, "
		"receive_count = 0, first_receive_ms = NULL, visible_ms = ?3 "
		"WHERE queue = ?1 AND coalesce(?2, source) IN (SELECT name FROM queues)");
	sqlite3_bind_text(s, 1, dlq->name, -1, SQLITE_STATIC);
	if (dest)
		sqlite3_bind_text(s, 2, dest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	int sr = sqlite3_step(s);
	sqlite3_reset(s);
	if (sr != SQLITE_DONE) {
		rc = state_error(st, sr, "redriving");
		state_rollback(st);
		buf_free(&targets);
		return rc;
	}
	*moved = sqlite3_changes(state_db(st));
	if ((rc = state_commit(st)) == EK_OK) {
		for (char *t = targets.s; t && *t;) {
			char *nl = strchr(t, '\n');
			*nl = '\0';
			queue_notify(st, t);
			t = nl + 1;
		}
	}
	buf_free(&targets);
	return rc;
}

int64_t queue_next_visible(struct state *st, const struct queue *q)
{
	sqlite3_stmt *s = state_prepare(st, "SELECT min(visible_ms) FROM messages "
	                                    "WHERE queue = ?1 AND visible_ms > ?2");
	sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, clock_now_ms());
	int64_t t = -1;
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
		t = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return t;
}

/* ---- waking receivers ------------------------------------------------------------ */

static char *wake_path(struct state *st, const char *name, int make_dir)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s-wake", state_file(st));
	if (make_dir)
		mkdir(b.s, 0700);
	buf_printf(&b, "/%s", name);
	return buf_detach(&b);
}

void queue_notify(struct state *st, const char *name)
{
	char *p = wake_path(st, name, 0);
	/* No FIFO, or nobody has it open (ENXIO): nobody is waiting. */
	int fd = open(p, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t w = write(fd, "!", 1);
		(void)w;  /* a full FIFO has been woken already */
		close(fd);
	}
	free(p);
}

struct qwaiter {
	int fd;
};

struct qwaiter *queue_waiter(struct state *st, const char *name)
{
	struct qwaiter *w = xcalloc(1, sizeof *w);
	char *p = wake_path(st, name, 1);
	if (mkfifo(p, 0600) != 0 && errno != EEXIST)
		w->fd = -1;
	else
		/* Read and write: then the FIFO always has a writer (us), and
		 * poll does not report a hang-up between notifications. */
		w->fd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	free(p);
	return w;
}

int queue_wait(struct qwaiter *w, int64_t timeout_ms, int extra_fd)
{
	/* Not drained before polling: a notification that came after the
	 * caller last looked at the queue must wake this wait at once. */
	char drain[256];
	struct pollfd p[2];
	int np = 0;
	if (w->fd >= 0) {
		p[np].fd = w->fd;
		p[np].events = POLLIN;
		np++;
	}
	if (extra_fd >= 0) {
		p[np].fd = extra_fd;
		p[np].events = POLLIN;
		np++;
	}
	if (timeout_ms < 0)
		timeout_ms = 0;
	int r = poll(p, (nfds_t)np, timeout_ms > 1000000 ? 1000000 : (int)timeout_ms);
	if (r > 0 && w->fd >= 0)
		while (read(w->fd, drain, sizeof drain) > 0)
			;
	return r > 0;
}

void queue_waiter_free(struct qwaiter *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}
