/* Image-patch bags and Fashion-MNIST bags for hop mil. */
#ifndef HOP_TRAIN_MIL_IMAGES_H
#define HOP_TRAIN_MIL_IMAGES_H

#include <stdint.h>

#include "hop/loaders.h"
#include "hop/mil.h"

/*
 * Loads dir (one subfolder per class) as patch bags. Checks positive_class against the class
 * folders first, so a missing name or a folder without exactly two classes gets an error that
 * lists the class folders.
 */
hop_status mil_images_load(const char *dir, const hop_image_bag_options *options,
                           hop_image_bags *out, hop_error *err);

/*
 * Scores bag (or the first positive bag when bag is negative) with the trained model and
 * writes the association weights over its image as a PNG heatmap to path. *drawn receives
 * the bag index and *max_patch the patch with the largest weight.
 */
hop_status mil_images_attention(hop_mil_trainer *trainer, const hop_image_bags *images,
                                const hop_image_load_options *load, int bag, const char *path,
                                int *drawn, int *max_patch, hop_error *err);

/* Settings of the Fashion-MNIST bag demo. */
typedef struct mil_fashion_options {
    const char *dir;  /* folder with the four IDX files (.gz or not) */
    int target_class; /* 0 to 9; a bag is positive when it contains this class */
    int n_train_bags;
    int n_test_bags;
    double mean_size;
    double std_size;
    uint64_t seed;
} mil_fashion_options;

/* Class names of Fashion-MNIST labels 0 to 9. */
extern const char *const mil_fashion_classes[10];

/*
 * Builds train bags from the 60000 training images and test bags from the 10000 test images
 * with hop_class_bags_make, so no image is in both splits.
 */
hop_status mil_fashion_bags(const mil_fashion_options *options, hop_mil_dataset *train,
                            hop_mil_dataset *test, hop_error *err);

#endif
