#include "hop/base.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *hop_status_string(hop_status status)
{
    static const char *names[HOP_STATUS_COUNT] = {
        "ok",        "invalid argument", "shape error",  "out of memory",
        "I/O error", "parse error",      "invalid data", "numeric error",
    };
    if ((int)status < 0 || status >= HOP_STATUS_COUNT)
        return "unknown status";
    return names[status];
}

hop_status hop_error_setv(hop_error *err, hop_status status, const char *format, va_list args)
{
    if (err) {
        err->status = status;
        vsnprintf(err->message, sizeof err->message, format, args);
    }
    return status;
}

hop_status hop_error_set(hop_error *err, hop_status status, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    hop_error_setv(err, status, format, args);
    va_end(args);
    return status;
}

void hop_error_clear(hop_error *err)
{
    if (err) {
        err->status = HOP_OK;
        err->message[0] = '\0';
    }
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void hop_rng_seed(hop_rng *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t hop_rng_u64(hop_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float hop_rng_uniform(hop_rng *rng)
{
    /* 24 random bits give every representable float in [0, 1) with spacing 2^-24. */
    return (float)(hop_rng_u64(rng) >> 40) * (1.0f / 16777216.0f);
}

uint64_t hop_rng_below(hop_rng *rng, uint64_t n)
{
    /* Rejection sampling removes the modulo bias. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = hop_rng_u64(rng);
    } while (x >= limit);
    return x % n;
}

float hop_rng_normal(hop_rng *rng)
{
    double u1 = ((double)(hop_rng_u64(rng) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (double)(hop_rng_u64(rng) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void hop_rng_shuffle_int(hop_rng *rng, int *values, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)hop_rng_below(rng, i);
        int t = values[i - 1];
        values[i - 1] = values[j];
        values[j] = t;
    }
}
