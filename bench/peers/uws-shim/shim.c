/*
 * glibc shim for the uWebSockets.js peer (bench only).
 *
 * The Linux binaries of the npm republish @btc-vision/uwebsockets.js were linked against
 * glibc >= 2.38, whose headers (with _GNU_SOURCE or C23) redirect strtol, sscanf and friends
 * to new ISO C23 entry points versioned GLIBC_2.38 (`__isoc23_strtol`, ...). An older glibc
 * (Debian 12 has 2.36) lacks them, so the binary fails to load. bench/uws.ts copies the
 * binary, drops those GLIBC_2.38 version requirements (the references become unversioned)
 * and loads this library first with RTLD_GLOBAL, so the references bind to the functions
 * below, which forward to the C17 functions of the running glibc.
 *
 * The C23 functions differ from the C17 ones only in accepting binary numbers: strto* take a
 * "0b"/"0B" prefix when the base is 0 or 2 (done here), the scanf family adds `%b` and the
 * prefix for `%i` (not done: the scanf forwards are plain C17; uWS's only formats are "%lu"
 * and "%lx", whose meaning is the same in both).
 *
 * It is also a (do-nothing) Node-API module, so Node's process.dlopen() keeps it loaded.
 *
 * Build: cc -O2 -fPIC -shared -std=gnu11 -o uws-glibc-shim.so shim.c
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* On glibc >= 2.38 with C23 features on, strtol would itself be __isoc23_strtol, and the
 * forwards below would call themselves. The shim is only needed (and built) on older glibc. */
#if defined(__GLIBC_USE_C2X_STRTOL) && __GLIBC_USE_C2X_STRTOL
#error "this glibc already has the C23 functions; the shim is not needed"
#endif

#define EXPORT __attribute__((visibility("default")))

/* When `s` (as strtol reads it: blanks, a sign, then digits) starts with a C23 binary prefix
 * for `base`, returns the first binary digit and sets *neg; otherwise NULL. */
static const char *binary_digits(const char *s, int base, int *neg) {
  if (base != 0 && base != 2) return NULL;
  while (*s == ' ' || (*s >= '\t' && *s <= '\r')) s++;
  *neg = *s == '-';
  if (*s == '-' || *s == '+') s++;
  if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B') && (s[2] == '0' || s[2] == '1')) return s + 2;
  return NULL;
}

/* The magnitude of a binary number at `digits`, saturated and flagged like strtoull. */
static unsigned long long binary_value(const char *digits, char **end, int *overflow) {
  int saved = errno;
  errno = 0;
  unsigned long long v = strtoull(digits, end, 2);
  *overflow = errno == ERANGE;
  errno = saved;
  return v;
}

#define SIGNED(NAME, T, MIN, MAX, C17)                                             \
  EXPORT T NAME(const char *restrict s, char **restrict end, int base) {           \
    int neg, overflow;                                                             \
    const char *digits = binary_digits(s, base, &neg);                             \
    if (!digits) return C17(s, end, base);                                         \
    unsigned long long mag = binary_value(digits, end, &overflow);                 \
    unsigned long long limit = neg ? (unsigned long long)(MAX) + 1 : (MAX);        \
    if (overflow || mag > limit) {                                                 \
      errno = ERANGE;                                                              \
      return neg ? (MIN) : (MAX);                                                  \
    }                                                                              \
    return neg ? (T)(0 - mag) : (T)mag;                                            \
  }

#define UNSIGNED(NAME, T, MAX, C17)                                                \
  EXPORT T NAME(const char *restrict s, char **restrict end, int base) {           \
    int neg, overflow;                                                             \
    const char *digits = binary_digits(s, base, &neg);                             \
    if (!digits) return C17(s, end, base);                                         \
    unsigned long long mag = binary_value(digits, end, &overflow);                 \
    if (overflow || mag > (MAX)) {                                                 \
      errno = ERANGE;                                                              \
      return (MAX);                                                                \
    }                                                                              \
    return neg ? (T)(0 - mag) : (T)mag;                                            \
  }

SIGNED(__isoc23_strtol, long, LONG_MIN, LONG_MAX, strtol)
SIGNED(__isoc23_strtoll, long long, LLONG_MIN, LLONG_MAX, strtoll)
SIGNED(__isoc23_strtoimax, intmax_t, INTMAX_MIN, INTMAX_MAX, strtoimax)
UNSIGNED(__isoc23_strtoul, unsigned long, ULONG_MAX, strtoul)
UNSIGNED(__isoc23_strtoull, unsigned long long, ULLONG_MAX, strtoull)
UNSIGNED(__isoc23_strtoumax, uintmax_t, UINTMAX_MAX, strtoumax)

EXPORT int __isoc23_vsscanf(const char *restrict s, const char *restrict format, va_list ap) {
  return vsscanf(s, format, ap);
}

EXPORT int __isoc23_sscanf(const char *restrict s, const char *restrict format, ...) {
  va_list ap;
  va_start(ap, format);
  int n = vsscanf(s, format, ap);
  va_end(ap);
  return n;
}

EXPORT int __isoc23_vfscanf(FILE *restrict f, const char *restrict format, va_list ap) {
  return vfscanf(f, format, ap);
}

EXPORT int __isoc23_fscanf(FILE *restrict f, const char *restrict format, ...) {
  va_list ap;
  va_start(ap, format);
  int n = vfscanf(f, format, ap);
  va_end(ap);
  return n;
}

EXPORT int __isoc23_vscanf(const char *restrict format, va_list ap) {
  return vscanf(format, ap);
}

EXPORT int __isoc23_scanf(const char *restrict format, ...) {
  va_list ap;
  va_start(ap, format);
  int n = vscanf(format, ap);
  va_end(ap);
  return n;
}

/* Node-API entry point: lets process.dlopen(RTLD_GLOBAL) load this library and keep it. */
EXPORT void *napi_register_module_v1(void *env, void *exports) {
  (void)env;
  return exports;
}
