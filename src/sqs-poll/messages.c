/* sqs-poll send, recv, delete, change-visibility. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "json.h"
#include "pattern.h"
#include "sqs.h"

/* ---- send ------------------------------------------------------------------------ */

struct pending {
	struct qsend m;
	jv entry;            /* the parsed entry (--entries), else jv_null() */
	char *body;          /* owned copy of the body */
	char *id;            /* the entry's Id, or NULL */
	char *where;         /* FILE:LINE */
	char *raw;           /* the input line, for --rejects */
	long lineno;
	const char *file;
};

static int64_t entry_delay(jv e, struct buf *why)
{
	jv d = jx_get(e, "DelaySeconds");
	int64_t ms = -1;
	if (jv_get_kind(d) == JV_KIND_NUMBER) {
		double v = jv_number_value(d);
		if (v < 0 || v > 900)
			buf_printf(why, "DelaySeconds must be >= 0 and <= 900");
		else
			ms = (int64_t)(v * 1000);
	} else if (jv_is_valid(d) && jv_get_kind(d) != JV_KIND_NULL) {
		buf_adds(why, "DelaySeconds must be a number");
	}
	jv_free(d);
	return ms;
}

/* Fill p from a line; 0, or -1 with why (the line is rejected). */
static int make_pending(const struct opts *o, const struct nd_line *l, struct pending *p,
                        struct buf *why)
{
	memset(p, 0, sizeof *p);
	p->entry = jv_null();
	p->m.attrs = jv_null();
	p->m.delay_ms = o->delay;
	p->m.group = o->group;
	p->m.dedup = o->dedup;
	p->lineno = l->lineno;
	p->file = l->file;
	if (!o->entries) {
		p->body = xstrndup(l->raw, l->len);
		p->m.body = p->body;
		p->m.len = l->len;
		return 0;
	}
	jv e = nd_parse(l, why);
	if (!jv_is_valid(e))
		return -1;
	if (jv_get_kind(e) != JV_KIND_OBJECT) {
		buf_printf(why, "a SendMessage entry must be an object, not %s",
		           jx_kind_name(jv_get_kind(e)));
		jv_free(e);
		return -1;
	}
	/* The body's length from the string itself: a "\u0000" in it must
	 * reach the check of SQS's characters, not cut the body short. */
	jv bj = jx_get(e, "MessageBody");
	if (jv_get_kind(bj) != JV_KIND_STRING) {
		jv_free(bj);
		buf_adds(why, "the entry has no MessageBody string");
		jv_free(e);
		return -1;
	}
	int64_t d = entry_delay(e, why);
	if (why->len) {
		jv_free(bj);
		jv_free(e);
		return -1;
	}
	if (d >= 0)
		p->m.delay_ms = d;
	jv a = jx_get(e, "MessageAttributes");
	if (jv_is_valid(a)) {
		p->m.attrs = a;
	}
	p->m.len = (size_t)jv_string_length_bytes(jv_copy(bj));
	p->body = xstrndup(jv_string_value(bj), p->m.len);
	p->m.body = p->body;
	jv_free(bj);
	if (jx_str(e, "MessageGroupId"))
		p->m.group = jx_str(e, "MessageGroupId");
	if (jx_str(e, "MessageDeduplicationId"))
		p->m.dedup = jx_str(e, "MessageDeduplicationId");
	if (jx_str(e, "Id"))
		p->id = xstrdup(jx_str(e, "Id"));
	p->entry = e;   /* keeps the strings above alive */
	return 0;
}

static void free_pending(struct pending *p)
{
	jv_free(p->entry);
	jv_free(p->m.attrs);
	free(p->body);
	free(p->id);
	free(p->raw);
}

/* Written by hand rather than through jv values: send and recv spend
 * much of their time writing lines at tens of thousands of messages a
 * second. The shapes are the AWS CLI's send-message result and its
 * receive-message Messages[] element. */
static void add_field(struct buf *b, int *first, const char *key, const char *val)
{
	buf_adds(b, *first ? "\"" : ",\"");
	buf_adds(b, key);
	buf_adds(b, "\":");
	jx_add_string(b, val, strlen(val));
	*first = 0;
}

static void print_sent(const struct pending *p, const struct qsent *r)
{
	static struct buf b = BUF_INIT;
	int first = 1;
	buf_reset(&b);
	buf_addc(&b, '{');
	if (p->id)
		add_field(&b, &first, "Id", p->id);
	add_field(&b, &first, "MessageId", r->message_id);
	add_field(&b, &first, "MD5OfMessageBody", r->md5);
	if (r->md5_attrs[0])
		add_field(&b, &first, "MD5OfMessageAttributes", r->md5_attrs);
	if (r->seq[0])
		add_field(&b, &first, "SequenceNumber", r->seq);
	buf_addc(&b, '}');
	nd_write(b.s, b.len);
}

/* Send the batch; report each result. Returns EK_OK or a state error;
 * *stop is set when --strict met a rejection. */
static int flush_batch(struct state *st, const struct queue *q, struct opts *o,
                       struct pending *b, int n, int *stop)
{
	struct qsend m[10];
	struct qsent r[10];
	memset(m, 0, sizeof m);
	for (int i = 0; i < n; i++)
		m[i] = b[i].m;
	int rc = queue_send(st, q, m, n, r);
	for (int i = 0; i < n; i++) {
		if (rc == EK_OK && !r[i].error) {
			print_sent(&b[i], &r[i]);
		} else if (rc == EK_OK) {
			struct buf why = BUF_INIT;
			buf_printf(&why, "%s: %s", r[i].error, r[i].why.s);
			struct nd_line l = { b[i].raw, strlen(b[i].raw), b[i].lineno, b[i].file };
			if (nd_reject(&o->rj, &l, why.s))
				*stop = 1;
			buf_free(&why);
		}
		buf_free(&r[i].why);
		free_pending(&b[i]);
	}
	return rc;
}

int cmd_send(struct opts *o)
{
	nd_rejects_open(&o->rj);
	struct state *st = sqs_open(o, 0);
	struct queue q;
	sqs_queue(st, o->ops[0], &q);
	int rc = EK_OK, stop = 0;
	/* A batch is checked in the library as it is sent: with --strict, one
	 * line at a time, so that nothing after the first rejection is sent. */
	if (o->rj.strict)
		o->batch = 1;
	if (o->nops == 2) {
		/* One body from the command line. */
		struct nd_line l = { o->ops[1], strlen(o->ops[1]), 1, "BODY" };
		struct pending p;
		struct buf why = BUF_INIT;
		if (make_pending(o, &l, &p, &why) != 0)
			dief(EK_USAGE, "BODY: %s", why.s);
		p.raw = xstrdup(o->ops[1]);
		rc = flush_batch(st, &q, o, &p, 1, &stop);
	} else {
		struct nd_reader *r = nd_open(NULL);
		struct nd_line l;
		struct pending b[10];
		struct buf why = BUF_INIT;
		int n = 0, got;
		while (!stop && (got = nd_next(r, &l)) == 1) {
			buf_reset(&why);
			if (make_pending(o, &l, &b[n], &why) != 0) {
				free_pending(&b[n]);
				if (nd_reject(&o->rj, &l, why.s))
					stop = 1;
			} else {
				b[n].raw = xstrndup(l.raw, l.len);
				n++;
			}
			/* Send what has arrived: a full batch, or all that is here
			 * before the reader would have to wait. */
			if (n == o->batch || (n && !nd_ready(r)) || cli_stopping()) {
				rc = flush_batch(st, &q, o, b, n, &stop);
				n = 0;
				if (rc || cli_stopping())
					break;
			}
		}
		if (n && rc == EK_OK)
			rc = flush_batch(st, &q, o, b, n, &stop);
		else
			for (int i = 0; i < n; i++)
				free_pending(&b[i]);
		buf_free(&why);
		nd_close(r);
	}
	nd_rejects_close(&o->rj);
	queue_free(&q);
	state_close(st);
	return rc ? rc : o->rj.count ? EK_REJECTED : EK_OK;
}

/* ---- recv ------------------------------------------------------------------------ */

static int want_attr(const char *list, const char *name)
{
	if (!list || strcmp(list, "All") == 0)
		return 1;
	if (strcmp(list, "None") == 0)
		return 0;
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		size_t l = strcspn(p, ",");
		if ((l == n && strncmp(p, name, n) == 0) || (l == 3 && strncmp(p, "All", 3) == 0))
			return 1;
		p += l + (p[l] == ',');
	}
	return 0;
}

static void add_num_field(struct buf *b, int *first, const char *key, long long v)
{
	char n[32];
	snprintf(n, sizeof n, "%lld", v);
	add_field(b, first, key, n);
}

static void print_message(const struct opts *o, const struct queue *q, const struct qmsg *m)
{
	static struct buf b = BUF_INIT;
	buf_reset(&b);
	int first = 1;
	buf_addc(&b, '{');
	add_field(&b, &first, "MessageId", m->message_id);
	add_field(&b, &first, "ReceiptHandle", m->receipt);
	add_field(&b, &first, "MD5OfBody", m->md5);
	/* The body's bytes are what was sent; a JSON string holds them. */
	buf_adds(&b, ",\"Body\":");
	jx_add_string(&b, m->body, m->body_len);
	const char *l = o->attrs;
	int afirst = 1;
	size_t mark = b.len;
	buf_adds(&b, ",\"Attributes\":{");
	if (want_attr(l, "ApproximateReceiveCount"))
		add_num_field(&b, &afirst, "ApproximateReceiveCount", m->receive_count);
	if (want_attr(l, "SentTimestamp"))
		add_num_field(&b, &afirst, "SentTimestamp", m->sent_ms);
	if (want_attr(l, "ApproximateFirstReceiveTimestamp"))
		add_num_field(&b, &afirst, "ApproximateFirstReceiveTimestamp", m->first_receive_ms);
	if (q->fifo) {
		if (want_attr(l, "MessageGroupId") && m->group)
			add_field(&b, &afirst, "MessageGroupId", m->group);
		if (want_attr(l, "MessageDeduplicationId") && m->dedup)
			add_field(&b, &afirst, "MessageDeduplicationId", m->dedup);
		if (want_attr(l, "SequenceNumber") && m->seq)
			add_field(&b, &afirst, "SequenceNumber", m->seq);
	}
	if (afirst) {
		b.len = mark;  /* no attribute asked for: no Attributes */
		b.s[b.len] = '\0';
	} else {
		buf_addc(&b, '}');
	}
	if (m->attrs) {
		add_field(&b, &first, "MD5OfMessageAttributes", m->md5_attrs);
		/* Stored as compact JSON text by send. */
		buf_adds(&b, ",\"MessageAttributes\":");
		buf_adds(&b, m->attrs);
	}
	buf_addc(&b, '}');
	nd_write(b.s, b.len);
}

int cmd_recv(struct opts *o)
{
	struct state *st = sqs_open(o, 0);
	struct queue q;
	sqs_queue(st, o->ops[0], &q);
	int64_t wait = o->wait >= 0 ? o->wait : q.wait_ms;
	int64_t deadline = clock_mono_ms() + wait;
	struct qwaiter *w = wait > 0 ? queue_waiter(st, q.name) : NULL;
	long total = 0;
	int rc = EK_OK;
	for (;;) {
		struct qmsg *m;
		int n;
		if ((rc = queue_receive(st, &q, o->num, o->vis, &m, &n)))
			break;
		for (int i = 0; i < n; i++) {
			print_message(o, &q, &m[i]);
			qmsg_free(&m[i]);
		}
		free(m);
		total += n;
		if (n && !o->until_empty)
			break;
		if (n)
			continue;
		if (total && o->until_empty)
			break;
		/* Nothing yet: long-poll until a sender wakes us, a delayed or
		 * hidden message comes due, or the wait is over. */
		int64_t left = deadline - clock_mono_ms();
		if (!w || left <= 0 || cli_stopping())
			break;
		int64_t next = queue_next_visible(st, &q);
		if (next >= 0 && next - clock_now_ms() < left)
			left = next - clock_now_ms() + 1;
		nd_flush();
		queue_wait(w, left, -1);
	}
	queue_waiter_free(w);
	queue_free(&q);
	state_close(st);
	return rc ? rc : total ? EK_OK : EK_NO;
}

/* ---- delete, change-visibility ----------------------------------------------------------- */

/* Handles deleted in one transaction at most. DeleteMessageBatch takes 10
 * per request, but a request is not a transaction here: behind a recv
 * that has got ahead, one transaction for all the handles that have
 * arrived holds the state file's write lock far fewer times for the same
 * work, which is what a recv | delete pipeline is limited by. */
enum { DEL_MAX = 100 };

/* The receipt handle in a line: the line itself, a JSON string, or a
 * received message's ReceiptHandle. NULL and why when there is none.
 * JSON lines go through pattern.h's strict tree, which decodes the one
 * string needed without making libjq values (a delete reads tens of
 * thousands of lines a second); a line it refuses, or that is not valid
 * UTF-8, is parsed again by nd_parse for its usual message. */
static char *handle_of(const struct nd_line *l, struct buf *why)
{
	if (l->raw[0] != '{' && l->raw[0] != '"')
		return xstrndup(l->raw, l->len);
	struct pj_doc *d = jx_utf8_invalid_at(l->raw, l->len) ? NULL
	                   : pj_parse(l->raw, l->len, NULL, 0);
	if (d) {
		const struct pj *v = pj_root(d);
		if (v->type == PJ_OBJ)
			v = pj_get(v, "ReceiptHandle");
		char *h = v && v->type == PJ_STR ? xstrdup(v->str) : NULL;
		if (!h)
			buf_adds(why, "no ReceiptHandle in this line");
		pj_free(d);
		return h;
	}
	jv v = nd_parse(l, why);
	char *h = NULL;
	if (jv_get_kind(v) == JV_KIND_STRING)
		h = xstrdup(jv_string_value(v));
	else if (jx_str(v, "ReceiptHandle"))
		h = xstrdup(jx_str(v, "ReceiptHandle"));
	else if (jv_is_valid(v))
		buf_adds(why, "no ReceiptHandle in this line");
	jv_free(v);
	return h;
}

static int delete_one(struct state *st, const struct queue *q, const char *h,
                      const char *file, long line, int *failed)
{
	struct buf why = BUF_INIT;
	int status;
	const char *code = queue_delete_message(st, q, h, &why, &status);
	if (!status && code) {
		warn_at(file, line, "%s: %s", code, why.s);
		(*failed)++;
	}
	buf_free(&why);
	return status;
}

int cmd_delete(struct opts *o)
{
	nd_rejects_open(&o->rj);
	struct state *st = sqs_open(o, 0);
	struct queue q;
	sqs_queue(st, o->ops[0], &q);
	int rc = EK_OK, failed = 0;
	if (o->nops > 1) {
		for (int i = 1; i < o->nops && rc == EK_OK; i++)
			rc = delete_one(st, &q, o->ops[i], "HANDLE", i, &failed);
	} else {
		/* All the handles that have arrived, without waiting for more,
		 * up to DEL_MAX, in one transaction. */
		struct nd_reader *r = nd_open(NULL);
		struct nd_line l;
		struct buf why = BUF_INIT, whys[DEL_MAX];
		char *h[DEL_MAX];
		long lines[DEL_MAX];
		const char *codes[DEL_MAX];
		int n = 0, stop = 0;
		for (int i = 0; i < DEL_MAX; i++)
			whys[i] = (struct buf)BUF_INIT;
		while (rc == EK_OK && !stop) {
			int got = nd_next(r, &l);
			if (got == 1) {
				buf_reset(&why);
				char *one = handle_of(&l, &why);
				if (!one) {
					stop = nd_reject(&o->rj, &l, why.s);
				} else {
					h[n] = one;
					lines[n++] = l.lineno;
				}
			}
			if (n && (n == DEL_MAX || got != 1 || stop || !nd_ready(r) || cli_stopping())) {
				rc = queue_delete_batch(st, &q, (const char *const *)h, n, codes, whys);
				for (int i = 0; i < n; i++) {
					if (rc == EK_OK && codes[i]) {
						warn_at("stdin", lines[i], "%s: %s", codes[i], whys[i].s);
						failed++;
					}
					buf_reset(&whys[i]);
					free(h[i]);
				}
				n = 0;
			}
			if (got != 1 || cli_stopping())
				break;
		}
		for (int i = 0; i < DEL_MAX; i++)
			buf_free(&whys[i]);
		buf_free(&why);
		nd_close(r);
	}
	nd_rejects_close(&o->rj);
	queue_free(&q);
	state_close(st);
	return rc ? rc : failed ? EK_FAIL : o->rj.count ? EK_REJECTED : EK_OK;
}

int cmd_change_visibility(struct opts *o)
{
	int64_t ms;
	if (clock_parse_duration(o->ops[2], &ms) != 0)
		dief(EK_USAGE, "TIME: '%s' is not a time (seconds, or 500ms, 30s, 5m, 12h)", o->ops[2]);
	struct state *st = sqs_open(o, 0);
	struct queue q;
	sqs_queue(st, o->ops[0], &q);
	struct buf why = BUF_INIT;
	int status;
	const char *code = queue_change_visibility(st, &q, o->ops[1], ms, &why, &status);
	if (!status && code)
		warnf("%s: %s", code, why.s);
	buf_free(&why);
	queue_free(&q);
	state_close(st);
	return status ? status : code ? EK_FAIL : EK_OK;
}
