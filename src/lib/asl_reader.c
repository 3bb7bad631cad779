/*
 * asl_reader.c: a Map state's ItemReader, over local files. S3's
 * "Bucket" and "Key" name the file ROOT/BUCKET/KEY, so a folder tree
 * stands in for S3:
 *
 *   arn:aws:states:::s3:getObject       one file: JSON (an array), JSONL
 *                                       (one value a line) or CSV (rows as
 *                                       objects, headers from the first row
 *                                       or CSVHeaders)
 *   arn:aws:states:::s3:listObjectsV2   the files under ROOT/BUCKET/Prefix,
 *                                       as {Key, Size, LastModified}
 *
 * The whole file is read into memory; a file is at most what a state's
 * items can hold anyway. Failures are States.ItemReaderFailed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "asl_int.h"
#include "json.h"
#include "util.h"

static int fail(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char **err, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	*err = buf_detach(&b);
	return -1;
}

static const char *str_param(jv params, const char *key)
{
	if (jv_get_kind(params) != JV_KIND_OBJECT)
		return NULL;
	jv v = jv_object_get(jv_copy(params), jv_string(key));
	const char *s = NULL;
	/* the string lives as long as params holds it */
	if (jv_get_kind(v) == JV_KIND_STRING)
		s = jv_string_value(v);
	jv_free(v);
	return s;
}

static int safe_component(const char *s)
{
	/* no climbing out of the root */
	return s && !strstr(s, "..") && s[0] != '/';
}

static int read_all(const char *path, struct buf *b, char **err)
{
	if (buf_read_file(b, path) < 0)
		return fail(err, "%s: %s", path, strerror(errno));
	return 0;
}

/* One CSV record starting at *p (RFC 4180 quoting); advances *p past it. */
static jv csv_record(const char **p, const char *end)
{
	jv row = jv_array();
	struct buf field = BUF_INIT;
	const char *s = *p;
	for (;;) {
		buf_reset(&field);
		if (s < end && *s == '"') {
			s++;
			while (s < end) {
				if (*s == '"') {
					if (s + 1 < end && s[1] == '"') {
						buf_addc(&field, '"');
						s += 2;
						continue;
					}
					s++;
					break;
				}
				buf_addc(&field, *s++);
			}
			while (s < end && *s != ',' && *s != '\n')
				s++;
		} else {
			while (s < end && *s != ',' && *s != '\n') {
				if (*s != '\r')
					buf_addc(&field, *s);
				s++;
			}
		}
		row = jv_array_append(row, jv_string_sized(field.s ? field.s : "", (int)field.len));
		if (s < end && *s == ',') {
			s++;
			continue;
		}
		if (s < end && *s == '\n')
			s++;
		break;
	}
	buf_free(&field);
	*p = s;
	return row;
}

static int parse_csv(const struct buf *b, jv config, jv *items, char **err)
{
	const char *p = b->s ? b->s : "", *end = p + b->len;
	jv headers = jv_invalid();
	jv loc = jv_get_kind(config) == JV_KIND_OBJECT
	       ? jv_object_get(jv_copy(config), jv_string("CSVHeaderLocation")) : jv_invalid();
	if (jv_get_kind(loc) == JV_KIND_STRING && !strcmp(jv_string_value(loc), "GIVEN")) {
		headers = jv_object_get(jv_copy(config), jv_string("CSVHeaders"));
		if (jv_get_kind(headers) != JV_KIND_ARRAY) {
			jv_free(headers);
			jv_free(loc);
			return fail(err, "CSVHeaderLocation GIVEN needs a CSVHeaders array");
		}
	} else if (p < end) {
		headers = csv_record(&p, end);
	} else {
		headers = jv_array();
	}
	jv_free(loc);
	int nh = jv_array_length(jv_copy(headers));
	jv r = jv_array();
	while (p < end) {
		if (*p == '\n') {
			p++;
			continue;
		}
		jv row = csv_record(&p, end);
		int n = jv_array_length(jv_copy(row));
		if (n > nh) {
			jv_free(row);
			jv_free(r);
			jv_free(headers);
			return fail(err, "a CSV row has more fields than there are headers");
		}
		jv o = jv_object();
		for (int i = 0; i < nh; i++) {
			jv h = jv_array_get(jv_copy(headers), i);
			jv v = i < n ? jv_array_get(jv_copy(row), i) : jv_string("");
			if (jv_get_kind(h) == JV_KIND_STRING)
				o = jv_object_set(o, h, v);
			else {
				jv_free(h);
				jv_free(v);
			}
		}
		jv_free(row);
		r = jv_array_append(r, o);
	}
	jv_free(headers);
	*items = r;
	return 0;
}

static int list_dir(const char *root, const char *rel, const char *prefix, jv *items, char **err)
{
	struct buf dir = BUF_INIT;
	buf_printf(&dir, "%s/%s", root, rel);
	DIR *d = opendir(buf_str(&dir));
	if (!d) {
		int rc = fail(err, "%s: %s", buf_str(&dir), strerror(errno));
		buf_free(&dir);
		return rc;
	}
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		struct buf key = BUF_INIT, path = BUF_INIT;
		buf_printf(&key, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		buf_printf(&path, "%s/%s", root, buf_str(&key));
		struct stat st;
		if (stat(buf_str(&path), &st) == 0) {
			if (S_ISDIR(st.st_mode)) {
				rc = list_dir(root, buf_str(&key), prefix, items, err);
			} else if (!strncmp(buf_str(&key), prefix, strlen(prefix))) {
				char t[32];
				asl_format_time((double)st.st_mtime, t);
				jv o = jv_object();
				o = jv_object_set(o, jv_string("Key"), jv_string(buf_str(&key)));
				o = jv_object_set(o, jv_string("Size"), jv_number((double)st.st_size));
				o = jv_object_set(o, jv_string("LastModified"), jv_string(t));
				*items = jv_array_append(*items, o);
			}
		}
		buf_free(&key);
		buf_free(&path);
	}
	closedir(d);
	buf_free(&dir);
	return rc;
}

int asl_read_items(const char *root, jv reader, jv params, jv *items, char **err)
{
	if (!root)
		root = ".";
	jv res = jv_object_get(jv_copy(reader), jv_string("Resource"));
	jv config = jv_object_get(jv_copy(reader), jv_string("ReaderConfig"));
	const char *rs = jv_get_kind(res) == JV_KIND_STRING ? jv_string_value(res) : "";
	const char *bucket = str_param(params, "Bucket");
	int rc;
	*items = jv_invalid();
	if (!safe_component(bucket)) {
		rc = fail(err, "the ItemReader needs a Bucket parameter naming a folder under %s", root);
	} else if (strstr(rs, "s3:listObjectsV2")) {
		const char *prefix = str_param(params, "Prefix");
		*items = jv_array();
		struct buf b = BUF_INIT;
		buf_printf(&b, "%s/%s", root, bucket);
		rc = list_dir(buf_str(&b), "", prefix ? prefix : "", items, err);
		buf_free(&b);
	} else if (strstr(rs, "s3:getObject")) {
		const char *key = str_param(params, "Key");
		jv type = jv_get_kind(config) == JV_KIND_OBJECT
		        ? jv_object_get(jv_copy(config), jv_string("InputType")) : jv_invalid();
		const char *t = jv_get_kind(type) == JV_KIND_STRING ? jv_string_value(type) : "JSON";
		struct buf path = BUF_INIT, data = BUF_INIT;
		if (!safe_component(key)) {
			rc = fail(err, "the ItemReader needs a Key parameter");
		} else {
			buf_printf(&path, "%s/%s/%s", root, bucket, key);
			rc = read_all(buf_str(&path), &data, err);
		}
		if (rc == 0 && !strcmp(t, "CSV")) {
			rc = parse_csv(&data, config, items, err);
		} else if (rc == 0 && !strcmp(t, "JSONL")) {
			jv r = jv_array();
			const char *p = data.s ? data.s : "", *end = p + data.len;
			long line = 0;
			while (rc == 0 && p < end) {
				const char *nl = memchr(p, '\n', (size_t)(end - p));
				const char *e = nl ? nl : end;
				line++;
				if (e > p) {
					struct buf why = BUF_INIT;
					jv v = jx_parse(p, (size_t)(e - p), &why);
					if (!jv_is_valid(v)) {
						jv_free(v);
						rc = fail(err, "%s:%ld: %s", buf_str(&path), line, buf_str(&why));
					} else {
						r = jv_array_append(r, v);
					}
					buf_free(&why);
				}
				p = nl ? nl + 1 : end;
			}
			if (rc == 0)
				*items = r;
			else
				jv_free(r);
		} else if (rc == 0) {
			jv v = jx_parse(data.s ? data.s : "", data.len, NULL);
			if (jv_get_kind(v) != JV_KIND_ARRAY) {
				jv_free(v);
				rc = fail(err, "%s: the file does not hold a JSON array", buf_str(&path));
			} else {
				*items = v;
			}
		}
		jv_free(type);
		buf_free(&path);
		buf_free(&data);
	} else {
		rc = fail(err, "the ItemReader resource %s is not supported locally", rs);
	}
	if (rc == 0 && jv_get_kind(config) == JV_KIND_OBJECT) {
		jv mx = jv_object_get(jv_copy(config), jv_string("MaxItems"));
		if (jv_get_kind(mx) == JV_KIND_NUMBER) {
			double m = jv_number_value(mx);
			int len = jv_array_length(jv_copy(*items));
			if (m >= 1 && m < len)
				*items = jv_array_slice(*items, 0, (int)m);
		}
		jv_free(mx);
	}
	jv_free(res);
	jv_free(config);
	return rc;
}

/* ---- ResultWriter ---------------------------------------------------------- */

/* Make the folders of PATH below ROOT (ROOT itself must exist). */
static int make_parents(const char *root, const char *path, char **err)
{
	char *p = xstrdup(path);
	for (char *s = p + strlen(root) + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST) {
			fail(err, "%s: %s", p, strerror(errno));
			free(p);
			return -1;
		}
		*s = '/';
	}
	free(p);
	return 0;
}

/* Write TEXT to ROOT/BUCKET/KEY, whole or not at all (a temporary file
 * renamed into place). */
static int put_object(const char *root, const char *bucket, const char *key,
                      const char *text, size_t len, char **err)
{
	struct buf path = BUF_INIT, tmp = BUF_INIT;
	buf_printf(&path, "%s/%s/%s", root, bucket, key);
	struct stat st;
	int rc = 0;
	buf_printf(&tmp, "%s/%s", root, bucket);
	if (stat(buf_str(&tmp), &st) < 0 || !S_ISDIR(st.st_mode)) {
		rc = fail(err, "the bucket %s does not exist (no folder %s)", bucket, buf_str(&tmp));
		goto out;
	}
	if (make_parents(root, buf_str(&path), err) < 0) {
		rc = -1;
		goto out;
	}
	buf_reset(&tmp);
	buf_printf(&tmp, "%s.tmp", buf_str(&path));
	FILE *f = fopen(buf_str(&tmp), "w");
	if (!f) {
		rc = fail(err, "%s: %s", buf_str(&tmp), strerror(errno));
		goto out;
	}
	int bad = fwrite(text, 1, len, f) != len;
	bad |= fclose(f) != 0;
	if (bad || rename(buf_str(&tmp), buf_str(&path)) < 0) {
		rc = fail(err, "%s: %s", buf_str(&path), strerror(errno));
		remove(buf_str(&tmp));
	}
out:
	buf_free(&path);
	buf_free(&tmp);
	return rc;
}

int asl_write_results(const char *root, jv params, const char *map_run_arn, const char *run_id,
                      jv succeeded, jv failed, jv *details, char **err)
{
	if (!root)
		root = ".";
	const char *bucket = str_param(params, "Bucket");
	const char *prefix = str_param(params, "Prefix");
	if (!bucket || !*bucket)
		return fail(err, "the ResultWriter needs a Bucket parameter");
	if (!safe_component(bucket) || strchr(bucket, '/') || (prefix && !safe_component(prefix)))
		return fail(err, "the Bucket or Prefix leaves the S3 root: %s/%s", bucket,
		            prefix ? prefix : "");
	struct buf base = BUF_INIT;
	if (prefix && *prefix)
		buf_printf(&base, "%s%s", prefix, prefix[strlen(prefix) - 1] == '/' ? "" : "/");
	buf_printf(&base, "%s/", run_id);
	jv files = jv_object();
	const struct { const char *status; jv records; } kinds[] = {
		{ "FAILED", failed }, { "PENDING", jv_null() }, { "SUCCEEDED", succeeded },
	};
	int rc = 0;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && rc == 0; i++) {
		jv list = jv_array();
		if (jv_get_kind(kinds[i].records) == JV_KIND_ARRAY &&
		    jv_array_length(jv_copy(kinds[i].records)) > 0) {
			struct buf key = BUF_INIT, text = BUF_INIT;
			buf_printf(&key, "%s%s_0.json", buf_str(&base), kinds[i].status);
			asl_json_dump(kinds[i].records, &text);
			rc = put_object(root, bucket, buf_str(&key), text.s, text.len, err);
			jv entry = jv_object_set(jv_object(), jv_string("Key"), jv_string(buf_str(&key)));
			list = jv_array_append(list, jv_object_set(entry, jv_string("Size"),
			                                           jv_number((double)text.len)));
			buf_free(&key);
			buf_free(&text);
		}
		files = jv_object_set(files, jv_string(kinds[i].status), list);
	}
	struct buf key = BUF_INIT;
	buf_printf(&key, "%smanifest.json", buf_str(&base));
	if (rc == 0) {
		jv m = jv_object_set(jv_object(), jv_string("DestinationBucket"), jv_string(bucket));
		m = jv_object_set(m, jv_string("MapRunArn"), jv_string(map_run_arn));
		m = jv_object_set(m, jv_string("ResultFiles"), jv_copy(files));
		struct buf text = BUF_INIT;
		asl_json_dump(m, &text);
		jv_free(m);
		rc = put_object(root, bucket, buf_str(&key), text.s, text.len, err);
		buf_free(&text);
	}
	if (rc == 0) {
		jv d = jv_object_set(jv_object(), jv_string("Bucket"), jv_string(bucket));
		*details = jv_object_set(d, jv_string("Key"), jv_string(buf_str(&key)));
	}
	jv_free(files);
	buf_free(&key);
	buf_free(&base);
	return rc;
}
