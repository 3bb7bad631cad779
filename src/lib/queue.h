/*
 * queue.h: SQS queues in the state file, with SQS's semantics: visibility
 * timeouts, delays, retention, dead-letter queues (redrive policy), FIFO
 * queues (order within a message group, a group held while one of its
 * messages is in flight, deduplication within 5 minutes), long polling.
 *
 * Every change is one short BEGIN IMMEDIATE transaction; a batch of
 * messages is one transaction. A message is deleted only by its current
 * receipt handle, so delivery is at least once: a receiver that dies
 * leaves its messages to come back when their visibility timeout ends.
 *
 * Names: every function takes a queue name, its URL
 * (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME) or its ARN.
 *
 * Ownership: struct queue and struct qmsg own their strings (queue_free,
 * qmsg_free). Functions that fail append a message to the caller's buffer
 * and return an SQS error code string (static), or NULL on success; state
 * file failures come back as exit statuses where the signature says so.
 */
#ifndef EVKIT_QUEUE_H
#define EVKIT_QUEUE_H

#include <jv.h>
#include <stdint.h>

#include "state.h"
#include "util.h"

struct queue {
	char *name;
	int fifo, content_dedup;
	int64_t visibility_ms, delay_ms, retention_ms, wait_ms, max_size;
	char *dlq;         /* dead-letter queue name, or NULL */
	int max_receive;   /* with dlq: receives before the move */
	int64_t created_ms, modified_ms, purged_ms;
	char *on_wake;     /* argv as JSON text, run when a send takes the
	                      queue from empty to non-empty; or NULL */
};

/* SQS's defaults and limits. */
#define Q_DEFAULT_VISIBILITY_MS 30000
#define Q_MAX_VISIBILITY_MS (12 * 3600 * 1000LL)
#define Q_MAX_DELAY_MS 900000
#define Q_DEFAULT_RETENTION_MS (4 * 86400 * 1000LL)
#define Q_MIN_RETENTION_MS 60000
#define Q_MAX_RETENTION_MS (14 * 86400 * 1000LL)
#define Q_MAX_WAIT_MS 20000
#define Q_MAX_SIZE 262144
#define Q_MIN_SIZE 1024
#define Q_DEDUP_WINDOW_MS 300000
#define Q_PURGE_INTERVAL_MS 60000

void queue_defaults(struct queue *q);
void queue_free(struct queue *q);
/* The name inside a name, URL or ARN (new string), or NULL if not one. */
char *queue_name_of(const char *name_url_arn);
/* SQS's naming rule: 1-80 of [A-Za-z0-9_-], ".fifo" for FIFO queues. */
int queue_name_check(const char *name, int fifo, struct buf *why);
/* "https://sqs.REGION.amazonaws.com/ACCOUNT/NAME", appended. */
void queue_url(struct buf *b, const char *name);

/* Create q, or accept an existing one with the same attributes (as
 * CreateQueue does). EK_OK, EK_USAGE (exists with other attributes, or
 * its dlq does not exist; reported), or a state error status. */
int queue_create(struct state *st, const struct queue *q);
/* EK_OK and *out, EK_NO when there is none, or a state error status. */
int queue_get(struct state *st, const char *name, struct queue *out);
/* Store changed attributes of an existing queue. */
int queue_update(struct state *st, const struct queue *q);
/* Delete the queue and its messages. EK_OK, EK_NO, or a state error. */
int queue_delete(struct state *st, const char *name);
int queue_list(struct state *st, void (*each)(const struct queue *q, void *arg), void *arg);

struct qcounts { long visible, in_flight, delayed; };
int queue_counts(struct state *st, const struct queue *q, struct qcounts *c);
/* GetQueueAttributes's {"Attributes":{...}} (every value a string). */
jv queue_attributes(const struct queue *q, const struct qcounts *c);

/* ---- messages ---------------------------------------------------------------- */

struct qsend {
	const char *body;        /* raw bytes, stored as they are */
	size_t len;
	int64_t delay_ms;        /* -1: the queue's */
	jv attrs;                /* MessageAttributes object, or jv_null() (borrowed) */
	const char *group, *dedup;  /* FIFO: MessageGroupId, MessageDeduplicationId */
};

struct qsent {
	const char *error;       /* NULL, or SQS's error code */
	struct buf why;          /* its message */
	char message_id[40];
	char md5[33], md5_attrs[33];
	char seq[24];            /* FIFO SequenceNumber, else "" */
};

/* Send n messages in one transaction; each gets its result in out[i] (a
 * rejected one its error, the others are still sent). Returns EK_OK or a
 * state error status (then nothing was sent). Free each out[i].why. */
int queue_send(struct state *st, const struct queue *q, const struct qsend *m, int n,
               struct qsent *out);

struct qmsg {
	char *message_id, *receipt, *body;
	size_t body_len;
	char md5[33];
	char *attrs;             /* MessageAttributes JSON text, or NULL */
	char *md5_attrs;
	int receive_count;
	int64_t sent_ms, first_receive_ms;
	char *group, *dedup, *seq;
};
void qmsg_free(struct qmsg *m);

/*
 * Receive up to max (1-10) visible messages, each once at most (even
 * with a visibility_ms of 0), making them invisible for visibility_ms
 * (-1: the queue's). Messages past maxReceiveCount move to the
 * dead-letter queue instead; messages past retention are dropped.
 * *out is a new array of *n messages (caller frees each and the array).
 * Returns EK_OK or a state error status. Does not wait: see queue_wait.
 */
int queue_receive(struct state *st, const struct queue *q, int max, int64_t visibility_ms,
                  struct qmsg **out, int *n);

/* Name the worker that this process receives for (a string that outlives
 * the receives), so that the auto scaler can release the messages of a
 * worker that died. NULL: none. */
void queue_set_holder(const char *worker_id);

/* Delete by receipt handle. NULL on success (a handle whose message is
 * already gone succeeds, as in SQS), else the error code
 * (ReceiptHandleIsInvalid for a stale or malformed handle). *status gets
 * EK_OK or a state error status. */
const char *queue_delete_message(struct state *st, const struct queue *q,
                                 const char *receipt, struct buf *why, int *status);
/* Delete n messages by receipt handle in one transaction: codes[i] and
 * whys[i] as for queue_delete_message. Returns EK_OK, or a state error
 * status (then nothing was deleted). */
int queue_delete_batch(struct state *st, const struct queue *q, const char *const *receipts,
                       int n, const char **codes, struct buf *whys);
const char *queue_change_visibility(struct state *st, const struct queue *q,
                                    const char *receipt, int64_t visibility_ms,
                                    struct buf *why, int *status);

/* Delete every message sent before now; at most once per 60 seconds
 * (else "PurgeQueueInProgress"). */
const char *queue_purge(struct state *st, const struct queue *q, struct buf *why,
                        int *status);
/* Move a dead-letter queue's messages back to the queues they came from
 * (or to dest when not NULL), with their receive counts reset.
 * *moved counts them. */
int queue_redrive(struct state *st, const struct queue *dlq, const char *dest, long *moved);

/* When the next message of q becomes visible (epoch ms), or -1 if none
 * is waiting. For sleeping exactly as long as needed. */
int64_t queue_next_visible(struct state *st, const struct queue *q);

/*
 * Long polling without spinning on the database: queue_wait blocks until
 * another process calls queue_notify for the same queue (after a send, a
 * visibility change or a redrive), or timeout_ms of real time passes, or a
 * stop signal arrives. Notifications travel through a FIFO per queue in
 * the folder STATEFILE-wake/, made on first use (mode 0700).
 */
void queue_notify(struct state *st, const char *name);
struct qwaiter;
struct qwaiter *queue_waiter(struct state *st, const char *name);
/* 1 when woken, 0 at the timeout. extra_fd (-1: none) also wakes it.
 * Use: make the waiter, then loop { look at the queue; queue_wait }: a
 * notification between the look and the wait is not lost. */
int queue_wait(struct qwaiter *w, int64_t timeout_ms, int extra_fd);
void queue_waiter_free(struct qwaiter *w);

/* SQS's MD5 of a body and of a MessageAttributes object (hex). 0, or -1
 * and why when an attribute is malformed. */
void queue_md5(const void *data, size_t n, char out[33]);
int queue_md5_attrs(jv attrs, char out[33], struct buf *why);

#endif
