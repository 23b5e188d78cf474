/* hop: tensors, reverse-mode autodiff and modern Hopfield layers in C11. */
#ifndef HOP_HOP_H
#define HOP_HOP_H

#include "hop/base.h"
#include "hop/graph.h"
#include "hop/params.h"
#include "hop/tensor.h"

#endif
