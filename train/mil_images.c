/* Image-patch bags and Fashion-MNIST bags for hop mil. */
#include "mil_images.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const mil_fashion_classes[10] = {"T-shirt/top", "trouser",   "pullover", "dress",
                                             "coat",        "sandal",    "shirt",    "sneaker",
                                             "bag",         "ankle boot"};

/* Writes the class folder names of folder into list as "a", "b", ... */
static void class_list(const hop_image_folder *folder, char *list, size_t size)
{
    list[0] = '\0';
    for (int c = 0; c < folder->n_classes; c++) {
        size_t used = strlen(list);
        snprintf(list + used, size - used, "%s\"%s\"", c ? ", " : "", folder->class_names[c]);
    }
}

static hop_status check_positive_class(const char *dir, const char *name, hop_error *err)
{
    hop_image_folder folder = {0};
    hop_status status = hop_image_folder_list(dir, &folder, err);
    if (status != HOP_OK)
        return status;
    bool found = false;
    for (int c = 0; name && c < folder.n_classes; c++)
        found = found || strcmp(folder.class_names[c], name) == 0;
    char list[1024];
    class_list(&folder, list, sizeof list);
    if (name && !found)
        status = hop_error_set(err, HOP_ERR_ARG,
                               "%s: no class folder is named \"%s\"; the classes are %s", dir, name,
                               list);
    else if (!name && folder.n_classes != 2)
        status = hop_error_set(err, HOP_ERR_ARG,
                               "%s has %d class folders (%s); choose one with --positive-class "
                               "NAME, or use exactly two",
                               dir, folder.n_classes, list);
    hop_image_folder_free(&folder);
    return status;
}

hop_status mil_images_load(const char *dir, const hop_image_bag_options *options,
                           hop_image_bags *out, hop_error *err)
{
    memset(out, 0, sizeof *out);
    hop_status status = check_positive_class(dir, options->positive_class, err);
    if (status != HOP_OK)
        return status;
    return hop_image_bags_from_folder(dir, options, out, err);
}

static hop_status pick_bag(const hop_image_bags *images, int bag, int *drawn, hop_error *err)
{
    const hop_mil_dataset *ds = &images->bags;
    if (bag >= ds->n_bags)
        return hop_error_set(err, HOP_ERR_ARG,
                             "--attention-bag %d is out of range; %s has %d "
                             "bags (0 to %d)",
                             bag, ds->source, ds->n_bags, ds->n_bags - 1);
    *drawn = bag;
    for (int b = 0; *drawn < 0 && b < ds->n_bags; b++)
        if (ds->labels[b] == 1)
            *drawn = b;
    if (*drawn < 0)
        return hop_error_set(err, HOP_ERR_DATA, "%s has no positive bag to draw", ds->source);
    return HOP_OK;
}

hop_status mil_images_attention(hop_mil_trainer *trainer, const hop_image_bags *images,
                                const hop_image_load_options *load, int bag, const char *path,
                                int *drawn, int *max_patch, hop_error *err)
{
    hop_status status = pick_bag(images, bag, drawn, err);
    if (status != HOP_OK)
        return status;

    hop_mil_dataset single = {0};
    status = hop_mil_subset(&images->bags, drawn, 1, &single, err);
    if (status != HOP_OK)
        return status;
    int n = single.n_instances;
    float *weights = malloc((size_t)(n > 0 ? n : 1) * sizeof *weights);
    float score = 0.0f;
    if (!weights)
        status = hop_error_set(err, HOP_ERR_NOMEM, "out of memory for %d attention weights", n);
    if (status == HOP_OK)
        status = hop_mil_trainer_score_features(trainer, &single, &score, weights, err);

    *max_patch = 0;
    for (int i = 1; status == HOP_OK && i < n; i++)
        if (weights[i] > weights[*max_patch])
            *max_patch = i;
    hop_attention_png_options png = {.scale = 8};
    if (status == HOP_OK)
        status = hop_image_bags_attention_png(images, *drawn, load, weights, n, path, &png, err);
    free(weights);
    hop_mil_free(&single);
    return status;
}

/* Finds dir/name, or dir/name without ".gz", and writes the one that exists into path. */
static hop_status fashion_file(const char *dir, const char *name, char *path, size_t size,
                               hop_error *err)
{
    snprintf(path, size, "%s/%s", dir, name);
    if (access(path, R_OK) == 0)
        return HOP_OK;
    snprintf(path, size, "%s/%.*s", dir, (int)(strlen(name) - 3), name);
    if (access(path, R_OK) == 0)
        return HOP_OK;
    return hop_error_set(err, HOP_ERR_IO,
                         "Fashion-MNIST file %s/%s not found; install the Debian package "
                         "dataset-fashion-mnist (scripts/install-deps.sh) or give --fashion-dir "
                         "DIR",
                         dir, name);
}

static hop_status fashion_load(const char *dir, const char *images, const char *labels,
                               hop_image_set *out, hop_error *err)
{
    char image_path[1024], label_path[1024];
    hop_status status = fashion_file(dir, images, image_path, sizeof image_path, err);
    if (status == HOP_OK)
        status = fashion_file(dir, labels, label_path, sizeof label_path, err);
    if (status == HOP_OK)
        status = hop_idx_images_load(image_path, label_path, out, err);
    return status;
}

/*
 * Builds bags from one split. hop_class_bags_make always makes train and test bags from a
 * random split of its pool, so the unused side gets one bag from a 1% pool and is freed.
 */
static hop_status split_bags(const hop_image_set *set, const mil_fashion_options *o, bool test,
                             hop_rng *rng, hop_mil_dataset *out, hop_error *err)
{
    hop_class_bag_options options = hop_class_bag_defaults();
    options.n_train_bags = test ? 1 : o->n_train_bags;
    options.n_test_bags = test ? o->n_test_bags : 1;
    options.test_fraction = test ? 0.99 : 0.01;
    options.mean_size = o->mean_size;
    options.std_size = o->std_size;
    options.target_class = o->target_class;
    options.with_replacement = 0;
    hop_mil_dataset train = {0}, held_out = {0};
    int dim = set->width * set->height * set->channels;
    hop_status status = hop_class_bags_make(set->pixels, set->labels, set->n, dim, &options, rng,
                                            &train, &held_out, err);
    if (status != HOP_OK)
        return status;
    *out = test ? held_out : train;
    hop_mil_free(test ? &train : &held_out);
    return HOP_OK;
}

hop_status mil_fashion_bags(const mil_fashion_options *o, hop_mil_dataset *train,
                            hop_mil_dataset *test, hop_error *err)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (o->target_class < 0 || o->target_class > 9)
        return hop_error_set(err, HOP_ERR_ARG, "Fashion-MNIST class %d is invalid; use 0 to 9",
                             o->target_class);
    hop_image_set train_set = {0}, test_set = {0};
    hop_status status = fashion_load(o->dir, "train-images-idx3-ubyte.gz",
                                     "train-labels-idx1-ubyte.gz", &train_set, err);
    if (status == HOP_OK)
        status = fashion_load(o->dir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                              &test_set, err);

    hop_rng rng;
    hop_rng_seed(&rng, o->seed);
    if (status == HOP_OK)
        status = split_bags(&train_set, o, false, &rng, train, err);
    if (status == HOP_OK)
        status = split_bags(&test_set, o, true, &rng, test, err);
    hop_image_set_free(&train_set);
    hop_image_set_free(&test_set);
    if (status != HOP_OK) {
        hop_mil_free(train);
        hop_mil_free(test);
    }
    return status;
}
