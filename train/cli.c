#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const cli_flag *find_flag(const cli_flag *flags, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(flags[i].name, name) == 0)
            return &flags[i];
    return NULL;
}

static hop_status parse_number(const cli_flag *f, const char *text, hop_error *err)
{
    char *end = NULL;
    errno = 0;
    double value = f->type == CLI_FLOAT ? strtod(text, &end) : (double)strtoll(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(value))
        return hop_error_set(err, HOP_ERR_ARG, "--%s: '%s' is not a valid %s", f->name, text,
                             f->type == CLI_FLOAT ? "number" : "integer");
    if (value < f->min || value > f->max)
        return hop_error_set(err, HOP_ERR_ARG, "--%s: %s is out of range; use %g to %g", f->name,
                             text, f->min, f->max);

    if (f->type == CLI_FLOAT)
        *(float *)f->target = (float)value;
    else if (f->type == CLI_INT)
        *(int *)f->target = (int)value;
    else
        *(uint64_t *)f->target = (uint64_t)value;
    return HOP_OK;
}

hop_status cli_parse(const cli_flag *flags, int n_flags, int argc, char **argv, int first,
                     bool *help, hop_error *err)
{
    *help = false;
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *help = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0)
            return hop_error_set(err, HOP_ERR_ARG, "unexpected argument '%s'; flags start with --",
                                 arg);
        const cli_flag *f = find_flag(flags, n_flags, arg + 2);
        if (!f)
            return hop_error_set(err, HOP_ERR_ARG, "unknown flag '%s'; see --help", arg);
        if (f->type == CLI_BOOL) {
            *(bool *)f->target = true;
            continue;
        }
        if (i + 1 >= argc)
            return hop_error_set(err, HOP_ERR_ARG, "--%s needs a value", f->name);
        const char *value = argv[++i];
        if (f->type == CLI_STRING) {
            *(const char **)f->target = value;
            continue;
        }
        hop_status status = parse_number(f, value, err);
        if (status != HOP_OK)
            return status;
    }
    return HOP_OK;
}

static void format_value(const cli_flag *f, char *buf, size_t size)
{
    switch (f->type) {
    case CLI_INT: snprintf(buf, size, "%d", *(const int *)f->target); break;
    case CLI_FLOAT: snprintf(buf, size, "%g", *(const float *)f->target); break;
    case CLI_SEED: snprintf(buf, size, "%" PRIu64, *(const uint64_t *)f->target); break;
    case CLI_BOOL: snprintf(buf, size, "%s", *(const bool *)f->target ? "on" : "off"); break;
    case CLI_STRING: {
        const char *s = *(const char *const *)f->target;
        snprintf(buf, size, "%s", s ? s : "none");
        break;
    }
    }
}

void cli_print_flags(FILE *out, const cli_flag *flags, int n_flags)
{
    for (int i = 0; i < n_flags; i++) {
        const cli_flag *f = &flags[i];
        char value[64], name[48];
        format_value(f, value, sizeof value);
        snprintf(name, sizeof name, "--%s%s", f->name, f->type == CLI_BOOL ? "" : " V");
        fprintf(out, "  %-24s %s", name, f->help);
        if (f->unit && f->unit[0])
            fprintf(out, " [%s]", f->unit);
        fprintf(out, " (default %s)\n", value);
    }
}
