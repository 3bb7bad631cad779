/* ids.h: UUID v4 shape and uniqueness, ARNs, the event envelope. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ids.h"
#include "json.h"
#include "unit.h"

static void uuids(void)
{
	char a[40], b[40];
	ids_uuid(a);
	ids_uuid(b);
	CHECK_INT(strlen(a), 36);
	CHECK(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
	CHECK(a[14] == '4');                             /* version 4 */
	CHECK(strchr("89ab", a[19]) != NULL);            /* RFC 4122 variant */
	CHECK(strcmp(a, b) != 0);
	CHECK(strspn(a, "0123456789abcdef-") == 36);
}

static void arns(void)
{
	struct arn a;
	unsetenv("AWS_ACCOUNT_ID");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	CHECK_INT(arn_parse("arn:aws:lambda:eu-west-1:123456789012:function:f:prod", &a), 0);
	CHECK(a.service_len == 6 && memcmp(a.service, "lambda", 6) == 0);
	CHECK(a.region_len == 9 && a.account_len == 12);
	CHECK(a.resource_len == 15 && memcmp(a.resource, "function:f:prod", 15) == 0);
	CHECK_INT(arn_parse("arn:aws:lambda", &a), -1);
	CHECK_INT(arn_parse("not-an-arn", &a), -1);
	CHECK_INT(arn_parse("arn::lambda:r:a:x", &a), -1);

	char *n = ids_name_from("arn:aws:lambda:us-east-1:000000000000:function:hello", "lambda", "function");
	CHECK_STR(n, "hello");
	free(n);
	n = ids_name_from("arn:aws:lambda:us-east-1:000000000000:function:hello:$LATEST", "lambda", "function");
	CHECK_STR(n, "hello");
	free(n);
	n = ids_name_from("plain-name", "lambda", "function");
	CHECK_STR(n, "plain-name");
	free(n);
	CHECK(ids_name_from("arn:aws:sqs:us-east-1:000000000000:q", "lambda", "function") == NULL);
	/* Another region's or account's function is not ours. */
	CHECK(ids_name_from("arn:aws:lambda:eu-west-1:000000000000:function:f", "lambda", "function") == NULL);
	CHECK(ids_name_from("arn:aws:lambda:us-east-1:123456789012:function:f", "lambda", "function") == NULL);
	CHECK(ids_name_from("arn:aws:lambda:us-east-1:1:layer:x", "lambda", "function") == NULL);

	unsetenv("AWS_ACCOUNT_ID");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	struct buf b = BUF_INIT;
	ids_arn(&b, "states", "stateMachine:m");
	CHECK_STR(b.s, "arn:aws:states:us-east-1:000000000000:stateMachine:m");
	setenv("AWS_ACCOUNT_ID", "123456789012", 1);
	setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
	buf_reset(&b);
	ids_arn(&b, "sqs", "q");
	CHECK_STR(b.s, "arn:aws:sqs:eu-west-1:123456789012:q");
	setenv("AWS_REGION", "ap-south-1", 1);   /* AWS_REGION wins */
	CHECK_STR(ids_region(), "ap-south-1");
	buf_free(&b);
}

static void envelope(void)
{
	setenv("EVKIT_NOW", "2026-02-03T04:05:06Z", 1);
	jv e = ids_event("evkit.test", "Thing Happened", jx_parse("{\"x\":1}", 7, NULL), jv_null());
	char *s = jx_dumps(e);
	/* AWS's key order; the id is random, so compare around it. */
	CHECK(strncmp(s, "{\"version\":\"0\",\"id\":\"", 20) == 0);
	CHECK(strstr(s, "\",\"detail-type\":\"Thing Happened\",\"source\":\"evkit.test\","
	                "\"account\":\"123456789012\",\"time\":\"2026-02-03T04:05:06Z\","
	                "\"region\":\"ap-south-1\",\"resources\":[],\"detail\":{\"x\":1}}") != NULL);
	free(s);
	jv_free(e);
}

int main(void)
{
	RUN(uuids);
	RUN(arns);
	RUN(envelope);
	return UNIT_DONE();
}
