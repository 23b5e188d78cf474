#include "loader_util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int hop_has_suffix(const char *text, const char *suffix)
{
    size_t length = strlen(text);
    size_t suffix_length = strlen(suffix);
    return length >= suffix_length && strcasecmp(text + length - suffix_length, suffix) == 0;
}

char *hop_strndup(const char *text, size_t length)
{
    char *copy = malloc(length + 1);
    if (!copy)
        return NULL;
    memcpy(copy, text, length);
    copy[length] = '\0';
    return copy;
}

char *hop_strdup(const char *text)
{
    return text ? hop_strndup(text, strlen(text)) : NULL;
}

void hop_free_strings(char **strings, int count)
{
    if (!strings)
        return;
    for (int i = 0; i < count; i++)
        free(strings[i]);
    free(strings);
}
