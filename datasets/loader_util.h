/* Private helpers shared by the loaders in this folder. */
#ifndef HOP_DATASETS_LOADER_UTIL_H
#define HOP_DATASETS_LOADER_UTIL_H

#include <stddef.h>

#include "hop/loaders.h"

/* Returns 1 when text ends in suffix, compared without regard to ASCII case. */
int hop_has_suffix(const char *text, const char *suffix);

/* Returns a malloc'ed copy of length bytes of text plus a NUL, or NULL when out of memory. */
char *hop_strndup(const char *text, size_t length);

/* Returns a malloc'ed copy of text, or NULL for a NULL text or when out of memory. */
char *hop_strdup(const char *text);

/* Frees count strings and the array. */
void hop_free_strings(char **strings, int count);

/* Loads the image at path with options->channels and resizes it when options sets a size. */
hop_status hop_image_load_resized(const char *path, const hop_image_load_options *options,
                                  hop_image *out, hop_error *err);

#endif
