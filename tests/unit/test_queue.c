/* queue.h: SQS's digests against known values, and the queue's life with
 * a moved clock: visibility, receive counts, the dead-letter move, FIFO
 * groups, stale receipts. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "json.h"
#include "queue.h"
#include "unit.h"

static char dir[64];
static struct state *st;

static void digests(void)
{
	char md5[33];
	struct buf why = BUF_INIT;
	queue_md5("hello", 5, md5);
	CHECK_STR(md5, "5d41402abc4b2a76b9719d911017c592");
	/* Values published with two SQS clients' tests. */
	const char *a = "{\"ordinal\":{\"DataType\":\"Number\",\"StringValue\":\"1\"},"
	                "\"category\":{\"DataType\":\"String\",\"StringValue\":\"test\"}}";
	jv v = jx_parse(a, strlen(a), NULL);
	CHECK_INT(queue_md5_attrs(v, md5, &why), 0);
	CHECK_STR(md5, "d21ae90c49061e927f57df5f5d72be1f");
	jv_free(v);
	const char *b = "{\"SellerName\":{\"DataType\":\"String\",\"StringValue\":\"Example Store\"}}";
	v = jx_parse(b, strlen(b), NULL);
	CHECK_INT(queue_md5_attrs(v, md5, &why), 0);
	CHECK_STR(md5, "cd28f3b68aeee4b2eac9c66f2f694b58");
	jv_free(v);
	const char *bad = "{\"x\":{\"DataType\":\"Blob\",\"StringValue\":\"1\"}}";
	v = jx_parse(bad, strlen(bad), NULL);
	CHECK_INT(queue_md5_attrs(v, md5, &why), -1);
	CHECK(strstr(why.s, "DataType") != NULL);
	jv_free(v);
	buf_free(&why);
}

static void send_bodies(const struct queue *q, const char **bodies, int n, const char *group)
{
	struct qsend m[10];
	struct qsent r[10];
	memset(m, 0, sizeof m);
	for (int i = 0; i < n; i++) {
		m[i].body = bodies[i];
		m[i].len = strlen(bodies[i]);
		m[i].delay_ms = -1;
		m[i].attrs = jv_null();
		m[i].group = group;
	}
	CHECK_INT(queue_send(st, q, m, n, r), EK_OK);
	for (int i = 0; i < n; i++) {
		CHECK(r[i].error == NULL);
		buf_free(&r[i].why);
	}
}

static int recv_into(const struct queue *q, int max, char bodies[][16], char receipts[][128])
{
	struct qmsg *m;
	int n;
	if (queue_receive(st, q, max, -1, &m, &n) != EK_OK)
		return -1;
	for (int i = 0; i < n; i++) {
		snprintf(bodies[i], 16, "%s", m[i].body);
		snprintf(receipts[i], 128, "%s", m[i].receipt);
		qmsg_free(&m[i]);
	}
	free(m);
	return n;
}

static void life(void)
{
	struct queue dlq, q, got;
	queue_defaults(&dlq);
	dlq.name = xstrdup("dead");
	CHECK_INT(queue_create(st, &dlq), EK_OK);
	queue_defaults(&q);
	q.name = xstrdup("work");
	q.visibility_ms = 30000;
	q.dlq = xstrdup("dead");
	q.max_receive = 2;
	CHECK_INT(queue_create(st, &q), EK_OK);
	CHECK_INT(queue_create(st, &q), EK_OK);            /* same attributes: fine */
	CHECK_INT(queue_get(st, "https://sqs.us-east-1.amazonaws.com/000000000000/work", &got), EK_OK);
	CHECK_STR(got.dlq, "dead");
	queue_free(&got);

	const char *b[] = { "one" };
	send_bodies(&q, b, 1, NULL);
	char bodies[10][16], rec[10][128], old[128];
	CHECK_INT(recv_into(&q, 10, bodies, rec), 1);
	snprintf(old, sizeof old, "%s", rec[0]);
	CHECK_INT(recv_into(&q, 10, bodies, rec), 0);        /* hidden */
	clock_advance(30000);
	CHECK_INT(recv_into(&q, 10, bodies, rec), 1);        /* back, receive 2 */
	struct buf why = BUF_INIT;
	int status;
	CHECK_STR(queue_delete_message(st, &q, old, &why, &status), "ReceiptHandleIsInvalid");
	CHECK_STR(queue_delete_message(st, &q, "garbage", &why, &status), "ReceiptHandleIsInvalid");
	clock_advance(30000);
	CHECK_INT(recv_into(&q, 10, bodies, rec), 0);        /* third receive: moved */
	struct qcounts c;
	CHECK_INT(queue_counts(st, &dlq, &c), EK_OK);
	CHECK_INT(c.visible, 1);
	CHECK_INT(recv_into(&dlq, 10, bodies, rec), 1);
	CHECK_STR(bodies[0], "one");
	CHECK(queue_delete_message(st, &dlq, rec[0], &why, &status) == NULL);
	CHECK(queue_delete_message(st, &dlq, rec[0], &why, &status) == NULL); /* gone: fine */
	buf_free(&why);
	queue_free(&q);
	queue_free(&dlq);
}

static void fifo(void)
{
	struct queue q;
	queue_defaults(&q);
	q.name = xstrdup("f.fifo");
	q.fifo = 1;
	q.content_dedup = 1;
	CHECK_INT(queue_create(st, &q), EK_OK);
	const char *a[] = { "a1", "a2", "a3" }, *b[] = { "b1" };
	send_bodies(&q, a, 3, "A");
	send_bodies(&q, b, 1, "B");
	char bodies[10][16], rec[10][128];
	CHECK_INT(recv_into(&q, 2, bodies, rec), 2);
	CHECK_STR(bodies[0], "a1");
	CHECK_STR(bodies[1], "a2");
	CHECK_INT(recv_into(&q, 10, bodies, rec), 1);        /* A is held */
	CHECK_STR(bodies[0], "b1");
	CHECK_INT(recv_into(&q, 10, bodies, rec), 0);
	queue_free(&q);
}

/* A zero visibility timeout shows a message again at once: one receive
 * still delivers it once. A batch delete sorts current, stale, repeated,
 * malformed and gone handles as one-by-one deletes would. */
static void zero_visibility_and_batch_delete(void)
{
	struct queue q;
	queue_defaults(&q);
	q.name = xstrdup("zero");
	CHECK_INT(queue_create(st, &q), EK_OK);
	const char *b[] = { "x", "y", "z" };
	send_bodies(&q, b, 3, NULL);
	struct qmsg *m;
	int n;
	CHECK_INT(queue_receive(st, &q, 10, 0, &m, &n), EK_OK);
	CHECK_INT(n, 3);
	for (int i = 0; i < n; i++) {
		CHECK_STR(m[i].body, b[i]);
		CHECK_INT(m[i].receive_count, 1);
		qmsg_free(&m[i]);
	}
	free(m);
	char bodies[10][16], stale[10][128], cur[10][128];
	CHECK_INT(recv_into(&q, 10, bodies, stale), 3);       /* shown again at once */
	clock_advance(q.visibility_ms);
	CHECK_INT(recv_into(&q, 10, bodies, cur), 3);
	const char *h[] = { stale[0], cur[0], cur[0], "12.bad", cur[1], "999999.gone.x", cur[2] };
	const char *codes[7];
	struct buf whys[7];
	for (int i = 0; i < 7; i++)
		whys[i] = (struct buf)BUF_INIT;
	CHECK_INT(queue_delete_batch(st, &q, h, 7, codes, whys), EK_OK);
	CHECK_STR(codes[0], "ReceiptHandleIsInvalid");
	CHECK(codes[1] == NULL && codes[2] == NULL);
	CHECK_STR(codes[3], "ReceiptHandleIsInvalid");
	CHECK(codes[4] == NULL && codes[5] == NULL && codes[6] == NULL);
	for (int i = 0; i < 7; i++)
		buf_free(&whys[i]);
	struct qcounts c;
	CHECK_INT(queue_counts(st, &q, &c), EK_OK);
	CHECK_INT(c.visible + c.in_flight + c.delayed, 0);
	queue_free(&q);
}

/* A receive that moves and drops messages on the way: FIFO stops at a
 * move and looks at the group again; a standard queue goes on past an
 * expired message. Each delivers the rest in order. */
static void moves_on_the_way(void)
{
	struct queue dlq, q, s;
	queue_defaults(&dlq);
	dlq.name = xstrdup("dead.fifo");
	dlq.fifo = 1;
	CHECK_INT(queue_create(st, &dlq), EK_OK);
	queue_defaults(&q);
	q.name = xstrdup("moves.fifo");
	q.fifo = 1;
	q.content_dedup = 1;
	q.dlq = xstrdup("dead.fifo");
	q.max_receive = 1;
	CHECK_INT(queue_create(st, &q), EK_OK);
	const char *a[] = { "m1" }, *b[] = { "m2", "m3" };
	send_bodies(&q, a, 1, "G");
	char bodies[10][16], rec[10][128];
	CHECK_INT(recv_into(&q, 1, bodies, rec), 1);
	send_bodies(&q, b, 2, "G");
	clock_advance(q.visibility_ms);
	/* m1 has had its one receive: it moves, and m2, m3 follow in order. */
	CHECK_INT(recv_into(&q, 10, bodies, rec), 2);
	CHECK_STR(bodies[0], "m2");
	CHECK_STR(bodies[1], "m3");
	CHECK_INT(recv_into(&dlq, 10, bodies, rec), 1);
	CHECK_STR(bodies[0], "m1");

	queue_defaults(&s);
	s.name = xstrdup("short");
	s.retention_ms = Q_MIN_RETENTION_MS;
	CHECK_INT(queue_create(st, &s), EK_OK);
	const char *old[] = { "o1", "o2" }, *young[] = { "y1", "y2" };
	send_bodies(&s, old, 2, NULL);
	clock_advance(Q_MIN_RETENTION_MS - 1000);
	send_bodies(&s, young, 2, NULL);
	clock_advance(1000);
	CHECK_INT(recv_into(&s, 10, bodies, rec), 2);  /* o1, o2 dropped */
	CHECK_STR(bodies[0], "y1");
	CHECK_STR(bodies[1], "y2");
	struct qcounts c;
	CHECK_INT(queue_counts(st, &s, &c), EK_OK);
	CHECK_INT(c.visible + c.in_flight, 2);
	queue_free(&q);
	queue_free(&dlq);
	queue_free(&s);
}

int main(void)
{
	setenv("EVKIT_NOW", "2027-05-01T00:00:00Z", 1);
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_ACCOUNT_ID");
	if (unit_tmpdir(dir, "queue") != 0)
		return 1;
	char path[128];
	snprintf(path, sizeof path, "%s/state.db", dir);
	if (state_open(path, STATE_CREATE, &st) != EK_OK)
		return 1;
	RUN(digests);
	RUN(life);
	RUN(fifo);
	RUN(zero_visibility_and_batch_delete);
	RUN(moves_on_the_way);
	state_close(st);
	unit_rmrf(dir);
	return UNIT_DONE();
}
