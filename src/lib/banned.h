/*
 * banned.h: functions evkit code must not call, turned into compile errors.
 * Each has a bounded or reentrant replacement: snprintf or buf_printf for
 * sprintf, memcpy with a checked length for strcpy/strcat, strtok_r for
 * strtok, gmtime_r/localtime_r for their static-buffer versions.
 * Included last by util.h, so every module that includes util.h gets it.
 */
#ifndef EVKIT_BANNED_H
#define EVKIT_BANNED_H

#define BANNED(f) sorry_##f##_is_banned_in_evkit

#undef strcpy
#define strcpy(a, b) BANNED(strcpy)
#undef strcat
#define strcat(a, b) BANNED(strcat)
#undef strncpy
#define strncpy(a, b, n) BANNED(strncpy)
#undef strncat
#define strncat(a, b, n) BANNED(strncat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(a, b) BANNED(strtok)
#undef gmtime
#define gmtime(t) BANNED(gmtime)
#undef localtime
#define localtime(t) BANNED(localtime)
#undef gets
#define gets(s) BANNED(gets)

#endif
