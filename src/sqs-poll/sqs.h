/*
 * sqs.h: what the parts of sqs-poll share: the option ids, the parsed
 * options of a command, and the commands themselves.
 */
#ifndef EVKIT_SQS_H
#define EVKIT_SQS_H

#include <stdint.h>

#include "cli.h"
#include "ndjson.h"
#include "queue.h"
#include "state.h"

enum {
	OP_VIS = 0x100, OP_DELAY, OP_RETENTION, OP_WAIT, OP_MAX_SIZE, OP_DLQ, OP_MAX_RECEIVE,
	OP_FIFO, OP_CBD, OP_ENTRIES, OP_GROUP, OP_DEDUP, OP_BATCH, OP_ATTRS, OP_UNTIL_EMPTY,
	OP_QUEUE, OP_TO, OP_ID, OP_CONCURRENCY = 'c', OP_HEARTBEAT = 0x200, OP_ASYNC,
	OP_RETRY_DELAY, OP_IDLE_EXIT, OP_NUM = 'n', OP_ON_WAKE = 0x300, OP_NO_ON_WAKE, OP_NO_DLQ,
};

struct opts {
	const char *state;
	/* queue attributes given on the command line (-1: not given) */
	int64_t vis, delay, retention, wait, max_size, max_receive;
	const char *dlq;
	int fifo, cbd;
	int on_wake, no_on_wake, no_dlq;
	/* messages */
	int entries, batch, num, until_empty, whole_queue;
	const char *group, *dedup, *attrs, *to, *id;
	/* worker */
	int concurrency, async;
	int64_t heartbeat, retry_delay, idle_exit;
	struct nd_rejects rj;
	/* operands */
	int nops;
	char **ops;
	/* after "--" (work) */
	char **cmd;
};

extern const struct cli_prog sqs_prog;

/* Open the state file (create: 1 to create it) and find queue name; exits
 * with the right status on failure. */
struct state *sqs_open(const struct opts *o, int create);
void sqs_queue(struct state *st, const char *name, struct queue *q);

int cmd_send(struct opts *o);
int cmd_recv(struct opts *o);
int cmd_delete(struct opts *o);
int cmd_change_visibility(struct opts *o);
int cmd_work(struct opts *o);
int cmd_workers(struct opts *o);
int cmd_drain(struct opts *o);

#endif
