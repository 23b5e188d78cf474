/* realpath is an XSI function. */
#define _XOPEN_SOURCE 700

#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int find_flag(const cli_flag *flags, int n, const char *name, size_t length)
{
    for (int i = 0; i < n; i++)
        if (strlen(flags[i].name) == length && strncmp(flags[i].name, name, length) == 0)
            return i;
    return -1;
}

/* A seed: decimal digits only, any value of uint64_t. */
static hop_status parse_seed(const cli_flag *f, const char *text, hop_error *err)
{
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (!isdigit((unsigned char)text[0]) || *end != '\0' || errno == ERANGE)
        return hop_error_set(err, HOP_ERR_ARG,
                             "--%s: '%s' is not a valid seed; use an integer from 0 to %" PRIu64,
                             f->name, text, UINT64_MAX);
    *(uint64_t *)f->target = (uint64_t)value;
    return HOP_OK;
}

/*
 * Reads a finite number written in decimal, with an optional exponent (1e5). Leading
 * spaces and hexadecimal, which strtod would take, are rejected.
 */
static bool read_decimal(const char *text, double *value)
{
    if (text[0] == '\0' || isspace((unsigned char)text[0]) || strpbrk(text, "xX"))
        return false;
    char *end = NULL;
    errno = 0;
    *value = strtod(text, &end);
    return *end == '\0' && errno != ERANGE && isfinite(*value);
}

static hop_status parse_number(const cli_flag *f, const char *text, hop_error *err)
{
    if (f->type == CLI_SEED)
        return parse_seed(f, text, err);
    bool integer = f->type == CLI_INT;
    double value;
    if (!read_decimal(text, &value) || (integer && value != floor(value)))
        return hop_error_set(err, HOP_ERR_ARG, "--%s: '%s' is not a valid %s", f->name, text,
                             integer ? "integer" : "number");
    bool outside = value < f->min || value > f->max;
    if (outside && !integer)
        return hop_error_set(err, HOP_ERR_ARG, "--%s: %s is out of range; use %g to %g", f->name,
                             text, f->min, f->max);
    if (outside)
        return hop_error_set(err, HOP_ERR_ARG, "--%s: %s is out of range; use %.0f to %.0f",
                             f->name, text, f->min, f->max);
    if (!integer && value != 0.0 && (float)value == 0.0f)
        return hop_error_set(err, HOP_ERR_ARG,
                             "--%s: %s is too small for single precision; use 0 or at least %g",
                             f->name, text, (double)FLT_MIN);

    if (integer)
        *(int *)f->target = (int)value;
    else
        *(float *)f->target = (float)value;
    return HOP_OK;
}

/* Parses the flag at argv[*i] (and its value), advancing *i past what it used. */
static hop_status parse_flag(const cli_flag *flags, int n_flags, bool *seen, int argc, char **argv,
                             int *i, hop_error *err)
{
    const char *arg = argv[*i];
    if (strncmp(arg, "--", 2) != 0)
        return hop_error_set(err, HOP_ERR_ARG, "unexpected argument '%s'; flags start with --",
                             arg);
    const char *equals = strchr(arg + 2, '=');
    size_t length = equals ? (size_t)(equals - arg - 2) : strlen(arg + 2);
    int index = find_flag(flags, n_flags, arg + 2, length);
    if (index < 0)
        return hop_error_set(err, HOP_ERR_ARG, "unknown flag '%.*s'; see --help", (int)length + 2,
                             arg);
    const cli_flag *f = &flags[index];
    if (seen[index])
        return hop_error_set(err, HOP_ERR_ARG, "--%s given twice; give each flag once", f->name);
    seen[index] = true;

    if (f->type == CLI_BOOL) {
        if (equals)
            return hop_error_set(err, HOP_ERR_ARG, "--%s takes no value; remove '%s'", f->name,
                                 equals);
        *(bool *)f->target = true;
        return HOP_OK;
    }
    if (!equals && *i + 1 >= argc)
        return hop_error_set(err, HOP_ERR_ARG, "--%s needs a value", f->name);
    const char *value = equals ? equals + 1 : argv[++*i];
    if (f->type == CLI_STRING) {
        *(const char **)f->target = value;
        return HOP_OK;
    }
    return parse_number(f, value, err);
}

hop_status cli_parse(const cli_flag *flags, int n_flags, int argc, char **argv, int first,
                     bool *help, hop_error *err)
{
    *help = false;
    bool *seen = calloc((size_t)n_flags + 1, sizeof *seen);
    if (!seen)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory parsing the flags");

    hop_status status = HOP_OK;
    for (int i = first; i < argc && status == HOP_OK; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            *help = true;
        else if (strncmp(argv[i], "--help=", 7) == 0)
            status =
                hop_error_set(err, HOP_ERR_ARG, "--help takes no value; remove '%s'", argv[i] + 6);
        else
            status = parse_flag(flags, n_flags, seen, argc, argv, &i, err);
    }
    free(seen);
    return status;
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
        const char *mark = strchr(f->help, CLI_DEFAULT_MARK);
        int help_length = mark ? (int)(mark - f->help) : (int)strlen(f->help);
        if (mark)
            snprintf(value, sizeof value, "%s", mark + 1);
        else
            format_value(f, value, sizeof value);
        snprintf(name, sizeof name, "--%s%s", f->name, f->type == CLI_BOOL ? "" : " V");
        fprintf(out, "  %-24s %.*s", name, help_length, f->help);
        if (f->unit && f->unit[0])
            fprintf(out, " [%s]", f->unit);
        fprintf(out, " (default %s)\n", value);
    }
}

/* Returns the absolute path of path, resolving its folder when the file itself is missing. */
static char *resolve_path(const char *path)
{
    char *resolved = realpath(path, NULL);
    if (resolved)
        return resolved;

    const char *slash = strrchr(path, '/');
    char *folder = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    char *real_folder = folder ? realpath(folder, NULL) : NULL;
    free(folder);
    if (!real_folder)
        return strdup(path);
    const char *base = slash ? slash + 1 : path;
    size_t size = strlen(real_folder) + strlen(base) + 2;
    char *joined = malloc(size);
    if (joined)
        snprintf(joined, size, "%s/%s", real_folder, base);
    free(real_folder);
    return joined;
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;

    char *ra = resolve_path(a), *rb = resolve_path(b);
    bool same = ra && rb && strcmp(ra, rb) == 0;
    free(ra);
    free(rb);
    return same;
}

static hop_status check_pair(const cli_path *out, const cli_path *other, hop_error *err)
{
    if (!out->path || !other->path || !same_file(out->path, other->path))
        return HOP_OK;
    return hop_error_set(err, HOP_ERR_ARG,
                         "--%s %s names the same file as --%s, which it would overwrite; give "
                         "another path",
                         out->flag, out->path, other->flag);
}

hop_status cli_check_outputs(const cli_path *outputs, int n_outputs, const cli_path *inputs,
                             int n_inputs, hop_error *err)
{
    for (int o = 0; o < n_outputs; o++) {
        for (int i = 0; i < n_inputs; i++)
            if (check_pair(&outputs[o], &inputs[i], err) != HOP_OK)
                return HOP_ERR_ARG;
        for (int other = o + 1; other < n_outputs; other++)
            if (check_pair(&outputs[other], &outputs[o], err) != HOP_OK)
                return HOP_ERR_ARG;
    }
    return HOP_OK;
}

static hop_status check_writable(const cli_path *output, hop_error *err)
{
    struct stat st;
    if (stat(output->path, &st) == 0 && S_ISDIR(st.st_mode))
        return hop_error_set(err, HOP_ERR_ARG, "--%s %s is a folder; give a file name inside it",
                             output->flag, output->path);

    size_t length = strlen(output->path);
    char *folder = malloc(length + 2);
    if (!folder)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory checking --%s", output->flag);
    memcpy(folder, output->path, length + 1);
    char *slash = strrchr(folder, '/');
    if (!slash)
        strcpy(folder, ".");
    else if (slash == folder)
        folder[1] = '\0';
    else
        *slash = '\0';

    hop_status status = HOP_OK;
    if (stat(folder, &st) != 0 || !S_ISDIR(st.st_mode))
        status = hop_error_set(
            err, HOP_ERR_ARG, "--%s %s: folder %s does not exist; create it or choose another path",
            output->flag, output->path, folder);
    free(folder);
    return status;
}

hop_status cli_check_writable(const cli_path *outputs, int n_outputs, hop_error *err)
{
    for (int i = 0; i < n_outputs; i++) {
        if (!outputs[i].path)
            continue;
        hop_status status = check_writable(&outputs[i], err);
        if (status != HOP_OK)
            return status;
    }
    return HOP_OK;
}
