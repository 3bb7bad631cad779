/*
 * test_asl_validate.c: asl_validate as ValidateStateMachineDefinition
 * judges definitions: JSONata expressions that do not parse, JSONata
 * values in JSONPath states, service integration ARNs, and where AWS puts
 * its diagnostics. Tables of definition and expected first diagnostic
 * (message and location), or none.
 */
#include <stdlib.h>
#include <string.h>

#include "asl.h"
#include "util.h"
#include "unit.h"

/* The first diagnostic of DEF as "message at location", or "" when the
 * definition is valid; the caller frees it. */
static char *first_diag(const char *def, const char *type)
{
	jv r = asl_validate_type(jv_parse(def), type);
	jv d = jv_array_get(jv_object_get(r, jv_string("diagnostics")), 0);
	if (!jv_is_valid(d)) {
		jv_free(d);
		return xstrdup("");
	}
	jv msg = jv_object_get(jv_copy(d), jv_string("message"));
	jv loc = jv_object_get(d, jv_string("location"));
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s at %s", jv_string_value(msg),
	           jv_get_kind(loc) == JV_KIND_STRING ? jv_string_value(loc) : "-");
	jv_free(msg);
	jv_free(loc);
	return buf_detach(&b);
}

/* The first diagnostic of DEF with VALUE (consumed) set at PATH, a jq
 * path as JSON text. */
static char *diag_with(const char *def, const char *path, jv value, const char *type)
{
	jv d = jv_setpath(jv_parse(def), jv_parse(path), value);
	jv text = jv_dump_string(d, 0);
	char *r = first_diag(jv_string_value(text), type);
	jv_free(text);
	return r;
}

/* A JSONata Pass state whose Output is the expression EXPR. */
static char *jsonata_output(const char *expr)
{
	return diag_with("{\"QueryLanguage\":\"JSONata\",\"StartAt\":\"X\","
	                 "\"States\":{\"X\":{\"Type\":\"Pass\",\"End\":true}}}",
	                 "[\"States\",\"X\",\"Output\"]", jv_string_fmt("{%% %s %%}", expr),
	                 "STANDARD");
}

static void test_jsonata_valid(void)
{
	static const char *const ok[] = {
		"$states.input.a",
		"$sum($states.input.items.numbers)",
		"$states.input.Account.Order[0].Product.Price",
		"$states.input.Order.Product[Price > 30].Description",
		"$count($states.input.Phone[type='mobile'])",
		"\"a\" & 'b' & \"\\u00e9\\n\\\"\"",
		"[1..5, 7]",
		"$map([1,2,3], function($v, $i) { $v * $i })",
		"\xce\xbb($x){$x*2}(3)",
		"(function($x)<n:n>{$x+1})(2)",
		"($x := 5; $y := $x * 2; $y)",
		"$states.input.Phone{type: number}",
		"$states.input.Order^(>Price, <Name)",
		"$states.input.Order#$i[$i < 2]",
		"$states.input.Employee@$e.Contact[ssn = $e.SSN]",
		"$states.input ~> |Order.Product|{'Price': Price * 1.2}, ['Tax']|",
		"$states.input.a ? 1 : 2",
		"$states.input.a ?: 'default'",
		"$states.input.a ?? 'default'",
		"$match('abc', /a[/]c/i)",
		"$states.input.**.Postcode",
		"$states.input.*.Price",
		"-5 - -$states.input.n",
		"$states.input.a in [1,2] and true or null",
		"$string(10 / 2) & (10 % 3)",
		"/* a comment */ 1",
		"{\"a\": 1, \"b\": [1, {\"c\": null}], \"d\": {}}",
		"[]",
		"$substring(?, 0, 5)('abcdefg')",
		"$states.input.`field name`.x",
		"$states.input.a[][0][1]",
		"1e3 + 0.5 + 1.5E-3",
		"$states.input.(a + b)",
		"$sort($states.input.p, function($l, $r) { $l.Price > $r.Price })",
		"$states.input ~> $substringAfter('S') ~> $uppercase()",
		"$states.input.a != 1 and $states.input.b <= 2 and $states.input.c >= 3",
		"$states.context.Execution.Id",
		"$parse('{\"a\":1}').a",
	};
	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		char *d = jsonata_output(ok[i]);
		CHECK_STR(d, "");
		if (*d)
			printf("#   expression: %s\n", ok[i]);
		free(d);
	}
}

static void test_jsonata_invalid(void)
{
	static const struct { const char *expr, *diag; } bad[] = {
		{ "10 + * 2", "Syntax error: \"2\" at /States/X/Output" },
		{ "$sum($states.input.items", "Expected \")\" before end of expression at /States/X/Output" },
		{ "420.", "Unexpected end of expression at /States/X/Output" },
		{ "$.store.book[?(@.price < 10)].title",
		  "The symbol \"?\" cannot be used as a unary operator at /States/X/Output" },
		{ "\"abc", "String literal must be terminated by a matching quote at /States/X/Output" },
		{ "[1, 2", "Expected \"]\" before end of expression at /States/X/Output" },
		{ "{\"a\" 1}", "Expected \":\", got \"1\" at /States/X/Output" },
		{ "$a ~ $b", "Unknown operator: \"~\" at /States/X/Output" },
		{ "$states.input.5", "A number, true, false or null cannot be used as a step within a path expression at /States/X/Output" },
		{ "5 := 1", "The left side of := must be a variable name (start with $) at /States/X/Output" },
		{ "$states.input.a@b", "The right side of @ must be a variable name (start with $) at /States/X/Output" },
		{ "$match('a', /abc)", "No terminating / in regular expression at /States/X/Output" },
		{ "function(a){1}", "Parameters of a function definition must be variable names (start with $) at /States/X/Output" },
		{ "\"\\q\"", "Unsupported escape sequence: \\q at /States/X/Output" },
		{ "\"\\u12\"", "The escape sequence \\u must be followed by 4 hex digits at /States/X/Output" },
		{ "/* open", "Comment has no closing tag at /States/X/Output" },
		{ "`abc", "Quoted property name must be terminated with a backquote (`) at /States/X/Output" },
		{ "", "Unexpected end of expression at /States/X/Output" },
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char *d = jsonata_output(bad[i].expr);
		CHECK_STR(d, bad[i].diag);
		free(d);
	}
	/* deep nesting is refused, not a stack overflow */
	struct buf b = BUF_INIT;
	for (int i = 0; i < 5000; i++)
		buf_addc(&b, '(');
	char *d = jsonata_output(buf_str(&b));
	CHECK(strstr(d, "nested more than") != NULL);
	free(d);
	buf_free(&b);
}

/* Where expressions are looked for, and where they are not. */
static void test_jsonata_fields(void)
{
	static const struct { const char *def, *diag; } t[] = {
		/* nested in a template, with its location */
		{ "{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"QueryLanguage\":\"JSONata\","
		  "\"Assign\":{\"top\":{\"array\":[{\"child\":\"{% 420. %}\"}]}},\"End\":true}}}",
		  "Unexpected end of expression at /States/P/Assign/top/array/0/child" },
		/* a choice rule's Condition */
		{ "{\"QueryLanguage\":\"JSONata\",\"StartAt\":\"C\",\"States\":{\"C\":{\"Type\":\"Choice\","
		  "\"Choices\":[{\"Condition\":\"{% $states.input.a = %}\",\"Next\":\"S\"}],\"Default\":\"S\"},"
		  "\"S\":{\"Type\":\"Succeed\"}}}",
		  "Unexpected end of expression at /States/C/Choices/0/Condition" },
		/* comments and strings that are not wholly "{% ... %}" are not expressions */
		{ "{\"QueryLanguage\":\"JSONata\",\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\","
		  "\"Comment\":\"{% not an expression %}\",\"Output\":{\"a\":\" {% states.input %} \","
		  "\"b\":\"10 %}\",\"c\":\"{% 10 %\"},\"End\":true}}}", "" },
		/* in a JSONPath state "{% ... %}" is a plain string */
		{ "{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\","
		  "\"Result\":{\"a\":\"{% 10 + %}\"},\"End\":true}}}", "" },
		/* a JSONata number field takes an expression, a JSONPath one does not */
		{ "{\"QueryLanguage\":\"JSONata\",\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\","
		  "\"Seconds\":\"{% 1 + 1 %}\",\"End\":true}}}", "" },
		{ "{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\","
		  "\"Seconds\":\"{% 1 %}\",\"End\":true}}}",
		  "The value for the field 'Seconds' must be a INTEGER at /States/W/Seconds" },
		/* AWS's recording: a JSONata Timestamp in a JSONPath state */
		{ "{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\","
		  "\"Timestamp\":\"{% '2016-03-14T01:59:00Z' %}\",\"End\":true}}}",
		  "String does not match RFC3339 timestamp at /States/W/Timestamp" },
		{ "{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"QueryLanguage\":\"JSONata\","
		  "\"Timestamp\":\"{% '2016-03-14T01:59:00Z' %}\",\"End\":true}}}", "" },
	};
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		char *d = first_diag(t[i].def, "STANDARD");
		CHECK_STR(d, t[i].diag);
		free(d);
	}
}

/* A Task state whose Resource is RESOURCE. */
static char *task(const char *resource, const char *type)
{
	return diag_with("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"End\":true}}}",
	                 "[\"States\",\"T\",\"Resource\"]", jv_string(resource), type);
}

static void test_integrations(void)
{
	static const char *const ok[] = {
		"arn:aws:states:::lambda:invoke",
		"arn:aws:states:::lambda:invoke.waitForTaskToken",
		"arn:aws:states:::dynamodb:getItem",
		"arn:aws:states:::dynamodb:putItem",
		"arn:aws:states:::dynamodb:updateItem",
		"arn:aws:states:::dynamodb:deleteItem",
		"arn:aws:states:::aws-sdk:dynamodb:query",
		"arn:aws:states:::aws-sdk:s3:listBuckets.waitForTaskToken",
		"arn:aws:states:::sqs:sendMessage.waitForTaskToken",
		"arn:aws:states:::sns:publish",
		"arn:aws:states:::events:putEvents.waitForTaskToken",
		"arn:aws:states:::states:startExecution.sync:2",
		"arn:aws:states:::states:startExecution.sync",
		"arn:aws:states:::batch:submitJob.sync",
		"arn:aws:states:::ecs:runTask.waitForTaskToken",
		"arn:aws:states:::glue:startJobRun.sync",
		"arn:aws:states:::http:invoke",
		"arn:aws-us-gov:states:::sns:publish",
		/* a service this table does not close is not judged */
		"arn:aws:states:::sagemaker:createTrainingJob.sync",
		"arn:aws:lambda:us-east-1:111111111111:function:fn",
		"arn:aws:states:us-east-1:111111111111:activity:act",
		"${LambdaArn}",
	};
	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		char *d = task(ok[i], "STANDARD");
		CHECK_STR(d, "");
		free(d);
	}
	static const struct { const char *resource, *diag; } bad[] = {
		{ "arn:aws:states:::dynamodb:query",
		  "The resource provided arn:<partition>:states:::dynamodb:query is not recognized. The value is not a valid resource ARN, or the resource is not available in this region. at /States/T/Resource" },
		{ "arn:aws:states:::dynamodb:getItem.waitForTaskToken",
		  "The resource provided arn:<partition>:states:::dynamodb:getItem.waitForTaskToken is not recognized. The value is not a valid resource ARN, or the resource is not available in this region. at /States/T/Resource" },
		{ "arn:aws:states:::lambda:invoke.sync",
		  "The resource provided arn:<partition>:states:::lambda:invoke.sync is not recognized. The value is not a valid resource ARN, or the resource is not available in this region. at /States/T/Resource" },
		{ "arn:aws:states:::aws-sdk:s3:getObject.sync",
		  "The resource provided arn:<partition>:states:::aws-sdk:s3:getObject.sync is not recognized. The value is not a valid resource ARN, or the resource is not available in this region. at /States/T/Resource" },
		{ "arn:aws:states:::sns:publish.waitForTaskTokens",
		  "The resource provided arn:<partition>:states:::sns:publish.waitForTaskTokens is not recognized. The value is not a valid resource ARN, or the resource is not available in this region. at /States/T/Resource" },
		{ "arn:aws:states:::aws-sdk:s3",
		  "The resource provided arn:<partition>:states:::aws-sdk:s3 is not recognized. The value is not a valid resource ARN, or the resource is not available in this region. at /States/T/Resource" },
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char *d = task(bad[i].resource, "STANDARD");
		CHECK_STR(d, bad[i].diag);
		free(d);
	}
	/* AWS's words for what an Express machine cannot wait for */
	char *d = task("arn:aws:states:us-east-1:111111111111:activity:act", "EXPRESS");
	CHECK_STR(d, "Express state machine does not support Activity ARN at /States/T/Resource");
	free(d);
	d = task("arn:aws:states:::sns:publish.waitForTaskToken", "EXPRESS");
	CHECK_STR(d, "Express state machine does not support '.waitForTaskToken' service integration  at /States/T/Resource");
	free(d);
}

/* AWS puts a bad ".$" value's diagnostic at the object that holds it. */
static void test_template_location(void)
{
	char *d = first_diag("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\","
	                     "\"Parameters\":{\"parsed.$\":\"States.StringToJson($.a\"},\"End\":true}}}",
	                     "STANDARD");
	CHECK_STR(d, "The value for the field 'parsed.$' must be a valid JSONPath or a valid intrinsic function call at /States/P/Parameters");
	free(d);
}

int main(void)
{
	RUN(test_jsonata_valid);
	RUN(test_jsonata_invalid);
	RUN(test_jsonata_fields);
	RUN(test_integrations);
	RUN(test_template_location);
	return UNIT_DONE();
}
