/*
 * pattern_ops.c: the value operators of event patterns that need more than
 * a byte comparison: case folding, wildcards (with their complexity limit),
 * IP addresses and CIDR blocks, and the I-Regexp translation for PCRE2.
 *
 * These are internal to the pattern module (declared in pattern.c, which is
 * their only caller); they live here to keep pattern.c about rules and
 * events.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"
#include "pattern_int.h"
#include "util.h"

/*
 * Case folding for equals-ignore-case: ASCII, Latin-1, Latin Extended-A,
 * Greek and Cyrillic capitals become small letters. Each mapping keeps the
 * UTF-8 length of the character, so OUT (n bytes) lines up with S byte for
 * byte; bytes that are not valid UTF-8 are copied unchanged.
 */
size_t pat_fold(const char *s, size_t n, char *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned char c = p[i];
		if (c < 0x80) {
			out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0 && i + 1 < n && (p[i + 1] & 0xc0) == 0x80) {
			unsigned cp = ((unsigned)(c & 0x1f) << 6) | (p[i + 1] & 0x3f);
			unsigned lc = cp;
			if ((cp >= 0xc0 && cp <= 0xde && cp != 0xd7))
				lc = cp + 0x20;
			else if (cp >= 0x100 && cp <= 0x177 && (cp & 1) == 0 && cp != 0x130)
				lc = cp + 1;
			else if (cp >= 0x391 && cp <= 0x3ab && cp != 0x3a2)
				lc = cp + 0x20;
			else if (cp >= 0x410 && cp <= 0x42f)
				lc = cp + 0x20;
			else if (cp >= 0x400 && cp <= 0x40f)
				lc = cp + 0x50;
			out[i] = (char)(0xc0 | (lc >> 6));
			out[i + 1] = (char)(0x80 | (lc & 0x3f));
			i += 2;
			continue;
		}
		out[i] = (char)c;
		i++;
	}
	return n;
}

/*
 * Wildcard text to glob form: OUT (at most 2n bytes) holds the literal
 * bytes, each wildcard as the pair 0xff 0x00 and each literal 0xff byte
 * (never valid UTF-8, but events are not checked for UTF-8) as 0xff 0x01. With escapes (wildcard), "\*"
 * is a literal star and "\\" a backslash, any other backslash is an error;
 * without (shellstyle) a backslash is literal. "**" is an error. Positions
 * in messages count from the opening quote, as event-ruler's do.
 */
int pat_glob_parse(const char *s, size_t n, int escapes, char *out, size_t *outlen,
                   char *err, size_t errlen)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '*') {
			if (i + 1 < n && s[i + 1] == '*') {
				snprintf(err, errlen, "Consecutive wildcard characters at pos %zu", i + 1);
				return -1;
			}
			out[k++] = (char)0xff;
			out[k++] = 0;
		} else if (c == '\\' && escapes) {
			if (i + 1 < n && (s[i + 1] == '*' || s[i + 1] == '\\')) {
				out[k++] = s[++i];
			} else {
				snprintf(err, errlen, "Invalid escape character at pos %zu", i + 1);
				return -1;
			}
		} else if (c == 0xff) {
			out[k++] = (char)0xff;
			out[k++] = 1;
		} else {
			out[k++] = (char)c;
		}
	}
	*outlen = k;
	return 0;
}

/* Is pat[i] a wildcard (0xff not followed by the 0xfe escape)? */
static int is_star(const char *pat, size_t plen, size_t i)
{
	return (unsigned char)pat[i] == 0xff && i + 1 < plen && pat[i + 1] == 0;
}

/*
 * Glob match over whole strings: the classic two-pointer walk that returns
 * to the last wildcard on a mismatch, O(n * m) at worst and without
 * recursion.
 */
int pat_glob_match(const char *pat, size_t plen, const char *s, size_t n)
{
	size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
	while (si < n) {
		if (pi < plen && is_star(pat, plen, pi)) {
			pi += 2;
			star_p = pi;
			star_s = si;
			continue;
		}
		if (pi < plen) {
			unsigned char pc = (unsigned char)pat[pi];
			size_t adv = 1;
			if (pc == 0xff) adv = 2;  /* escaped literal 0xff */
			if ((unsigned char)s[si] == pc) {
				pi += adv;
				si++;
				continue;
			}
		}
		if (star_p == (size_t)-1)
			return 0;
		pi = star_p;
		si = ++star_s;
	}
	while (pi < plen && is_star(pat, plen, pi))
		pi += 2;
	return pi == plen;
}

/*
 * The complexity of a wildcard as AWS limits it: the largest number of the
 * pattern's prefixes that one input can match at the same time (event-ruler
 * calls these "wildcard rule prefixes"; "*a*a*a*" reaches 7 on "aaa"). Found
 * by exploring the sets of live pattern positions over the pattern's own
 * bytes plus one "other" byte. Exploration stops at LIMIT + 1, or after a
 * bounded number of position sets, which counts as too complex: the cost of
 * the check must stay bounded for any input.
 */
int pat_glob_complexity(const char *pat, size_t plen, int limit)
{
	/* tokens: -1 for a star, else the byte */
	int *tok = xmalloc((plen + 1) * sizeof *tok);
	size_t nt = 0;
	for (size_t i = 0; i < plen; i++) {
		if (is_star(pat, plen, i)) { tok[nt++] = -1; i++; }
		else if ((unsigned char)pat[i] == 0xff) { tok[nt++] = 0xff; i++; }
		else tok[nt++] = (unsigned char)pat[i];
	}
	int stars = 0;
	for (size_t i = 0; i < nt; i++) stars += tok[i] < 0;
	if (stars == 0) {
		free(tok);
		return 1;
	}
	/* alphabet: distinct literal bytes plus one that is none of them */
	int alpha[257], na = 0, seen[256] = { 0 };
	for (size_t i = 0; i < nt; i++)
		if (tok[i] >= 0 && !seen[tok[i]]) { seen[tok[i]] = 1; alpha[na++] = tok[i]; }
	for (int c = 1; c < 256; c++) if (!seen[c]) { alpha[na++] = c; break; }

	size_t words = (nt + 1 + 63) / 64;
	enum { MAX_SETS = 4096 };
	uint64_t *sets = xcalloc((size_t)MAX_SETS * words, sizeof *sets);
	size_t nsets = 0, head = 0;
	int best = 0;
	uint64_t *cur = xcalloc(words, sizeof *cur);
	/* start: position 0, closed over stars */
	uint64_t *st = sets;
	st[0] |= 1;
	for (size_t k = 0; k < nt && tok[k] < 0; k++) st[(k + 1) / 64] |= 1ull << ((k + 1) % 64);
	nsets = 1;
	while (head < nsets && best <= limit) {
		uint64_t *S = sets + head * words;
		head++;
		int cnt = 0;
		for (size_t k = 1; k <= nt; k++)
			if (S[k / 64] >> (k % 64) & 1) cnt++;
		if (cnt > best) best = cnt;
		for (int a = 0; a < na; a++) {
			memset(cur, 0, words * sizeof *cur);
			int any = 0;
			for (size_t k = 0; k < nt; k++) {
				if (!(S[k / 64] >> (k % 64) & 1)) continue;
				if (tok[k] < 0) { cur[k / 64] |= 1ull << (k % 64); any = 1; }
				else if (tok[k] == alpha[a]) { cur[(k + 1) / 64] |= 1ull << ((k + 1) % 64); any = 1; }
			}
			if (!any) continue;
			for (size_t k = 0; k < nt; k++)
				if (tok[k] < 0 && (cur[k / 64] >> (k % 64) & 1))
					cur[(k + 1) / 64] |= 1ull << ((k + 1) % 64);
			int dup = 0;
			for (size_t j = 0; j < nsets && !dup; j++)
				if (memcmp(sets + j * words, cur, words * sizeof *cur) == 0) dup = 1;
			if (dup) continue;
			if (nsets == MAX_SETS) { best = limit + 1; goto out; }
			memcpy(sets + nsets * words, cur, words * sizeof *cur);
			nsets++;
		}
	}
out:
	free(cur);
	free(sets);
	free(tok);
	return best;
}

/*
 * An IP address literal, as event-ruler recognises one: dotted decimal with
 * four parts, or hex digits and colons with at least one colon (then
 * inet_pton decides). Returns 4 or 16 (the bytes in out), 0 when S does not
 * look like an address, -1 when it looks like one but is not valid.
 */
int pat_parse_ip(const char *s, size_t n, unsigned char out[16])
{
	size_t i, dots = 0, colons = 0, digits = 0;
	int v4 = 1, v6 = 1;
	if (n == 0 || n > 45) return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= '0' && c <= '9') { digits++; continue; }
		if (c == '.') { dots++; v6 = 0; continue; }
		if (c == ':') { colons++; v4 = 0; continue; }
		if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) { v4 = 0; continue; }
		return 0;
	}
	if (v4 && dots == 3) {
		unsigned part = 0, nparts = 0, len = 0;
		for (i = 0; i <= n; i++) {
			if (i == n || s[i] == '.') {
				if (len == 0) return 0;
				if (part > 255) return -1;
				out[nparts++] = (unsigned char)part;
				part = 0;
				len = 0;
			} else {
				if (part <= 255) part = part * 10 + (unsigned)(s[i] - '0');
				len++;
			}
		}
		return 4;
	}
	if (v6 && colons > 0) {
		char tmp[48];
		memcpy(tmp, s, n);
		tmp[n] = 0;
		return inet_pton(AF_INET6, tmp, out) == 1 ? 16 : -1;
	}
	(void)digits;
	return 0;
}

/*
 * A CIDR block: the address range [lo, hi] (the base masked, as AWS matches
 * it). Returns the address length (4 or 16), or -1 with event-ruler's
 * message in err. The '/' split follows Java's String.split, which drops
 * trailing empty parts.
 */
int pat_parse_cidr(const char *s, size_t n, unsigned char lo[16], unsigned char hi[16],
                   char *err, size_t errlen)
{
	size_t parts = 0, slash = n;
	size_t end = n;
	while (end > 0 && s[end - 1] == '/') end--;
	for (size_t i = 0; i < end; i++)
		if (s[i] == '/') { if (slash == n) slash = i; parts++; }
	parts = end == 0 ? 0 : parts + 1;
	if (parts != 2) {
		snprintf(err, errlen, "Malformed CIDR, one '/' required");
		return -1;
	}
	const char *m = s + slash + 1;
	size_t ml = end - slash - 1, j = 0;
	int neg = 0;
	long long bits = 0;
	if (ml > 0 && (m[0] == '+' || m[0] == '-')) { neg = m[0] == '-'; j = 1; }
	if (j == ml) goto notint;
	for (; j < ml; j++) {
		if (m[j] < '0' || m[j] > '9') goto notint;
		bits = bits * 10 + (m[j] - '0');
		if (bits > (long long)INT_MAX + 1) goto notint;
	}
	if (neg) bits = -bits;
	if (bits > INT_MAX || bits < INT_MIN) goto notint;
	if (bits < 0) {
		snprintf(err, errlen, "Malformed CIDR, mask bits must not be negative");
		return -1;
	}
	unsigned char ip[16];
	int len = pat_parse_ip(s, slash, ip);
	if (len < 0) {
		snprintf(err, errlen, "Invalid IP address: %.*s", (int)slash, s);
		return -1;
	}
	if (len == 0) {
		snprintf(err, errlen, "Nonstandard IP address: %.*s", (int)slash, s);
		return -1;
	}
	if (len == 4 && bits > 32) {
		snprintf(err, errlen, "IPv4 mask bits must be < 32");
		return -1;
	}
	if (len == 16 && bits > 128) {
		snprintf(err, errlen, "IPv6 mask bits must be < 128");
		return -1;
	}
	for (int i = 0; i < len; i++) {
		int b = (int)bits - i * 8;
		unsigned char mask = b >= 8 ? 0xff : b <= 0 ? 0 : (unsigned char)(0xff << (8 - b));
		lo[i] = ip[i] & mask;
		hi[i] = ip[i] | (unsigned char)~mask;
	}
	return len;
notint:
	snprintf(err, errlen, "Malformed CIDR, mask bits must be an integer");
	return -1;
}

/*
 * I-Regexp (RFC 9485) with quamina's '~' escape character, to a PCRE2
 * pattern that means the same: '.' is any character but CR and LF, '^' and
 * '$' are ordinary characters, "~p{..}" is a Unicode property, and nothing
 * beyond I-Regexp ("(?", backreferences, lazy quantifiers) gets through.
 * The caller compiles it anchored at both ends.
 */
int pat_iregexp_to_pcre(const char *s, size_t n, struct buf *out, char *err, size_t errlen)
{
	int in_class = 0;
	size_t i;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c == '~') {
			if (i + 1 >= n) {
				snprintf(err, errlen, "regexp: '~' at the end of the pattern");
				return -1;
			}
			char e = s[++i];
			switch (e) {
			case 'n': buf_adds(out, "\\n"); break;
			case 'r': buf_adds(out, "\\r"); break;
			case 't': buf_adds(out, "\\t"); break;
			case 'p': case 'P': {
				size_t j = i + 1;
				if (j >= n || s[j] != '{') goto bad_escape;
				while (j < n && s[j] != '}') j++;
				if (j >= n) goto bad_escape;
				buf_addc(out, '\\');
				buf_add(out, s + i, j - i + 1);
				i = j;
				break;
			}
			case '(': case ')': case '*': case '+': case '.': case '?': case '[':
			case ']': case '^': case '-': case '{': case '|': case '}': case '~':
			case '$':
				buf_addc(out, '\\');
				buf_addc(out, e);
				break;
			default:
				goto bad_escape;
			}
			continue;
		}
		if (c == '\\') { buf_adds(out, "\\\\"); continue; }
		if (in_class) {
			if (c == ']') in_class = 0;
			if (c == '[') { buf_adds(out, "\\["); continue; }
			buf_addc(out, c);
			continue;
		}
		switch (c) {
		case '[':
			in_class = 1;
			buf_addc(out, '[');
			if (i + 1 < n && s[i + 1] == '^') { buf_addc(out, '^'); i++; }
			if (i + 1 < n && s[i + 1] == ']') {
				snprintf(err, errlen, "regexp: empty character class at offset %zu", i);
				return -1;
			}
			break;
		case '.': buf_adds(out, "[^\\n\\r]"); break;
		case '^': buf_adds(out, "\\^"); break;
		case '$': buf_adds(out, "\\$"); break;
		case '(':
			if (i + 1 < n && s[i + 1] == '?') {
				snprintf(err, errlen, "regexp: '(?' is not I-Regexp, at offset %zu", i);
				return -1;
			}
			buf_addc(out, c);
			break;
		case '*': case '+': case '?': case '}':
			if (i + 1 < n && s[i + 1] && strchr("?+*{", s[i + 1])) {
				snprintf(err, errlen, "regexp: a quantifier may not follow a quantifier, at offset %zu", i + 1);
				return -1;
			}
			buf_addc(out, c);
			break;
		default:
			buf_addc(out, c);
		}
	}
	if (in_class) {
		snprintf(err, errlen, "regexp: unterminated character class");
		return -1;
	}
	return 0;
bad_escape:
	snprintf(err, errlen, "regexp: invalid escape '~%c'", s[i]);
	return -1;
}
