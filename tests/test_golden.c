/*
 * Golden-file parser tests and parity of hop's Hopfield layers with the reference package
 * hflayers: outputs, association matrices and gradients of every HopfieldPooling and
 * Hopfield case of the shared golden file.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hop/golden.h"
#include "hop/layers.h"

#define GOLDEN_PATH HOP_SHARED_DIR "/golden/hflayers_golden.txt"

/* Parser. */

static hop_status parse_text(const char *text, hop_golden_file *file, hop_error *err)
{
    hop_error_clear(err);
    return hop_golden_parse(text, strlen(text), file, err);
}

static const char two_cases[] = "# hflayers-golden-v1 test\n"
                                "case first\n"
                                "class HopfieldPooling\n"
                                "kwargs {\"input_size\":3,\"num_heads\":1}\n"
                                "input_kind tensor\n"
                                "projection_path generic\n"
                                "update_steps_taken 2\n"
                                "tensor param pooling_weights 3 1 1 3\n"
                                "0.5 -1 2e-3\n"
                                "tensor output64 output 2 1 2\n"
                                "0.10000000000000001 -7\n"
                                "none grad_param hopfield.norm_state_pattern.bias\n"
                                "loss 1.5\n"
                                "loss64 1.25\n"
                                "end\n"
                                "\n"
                                "case second\r\n"
                                "class Hopfield\r\n"
                                "update_steps_taken 0 3 1\r\n"
                                "tensor mask stored_pattern_padding_mask 2 1 2\r\n"
                                "0 1\r\n"
                                "end";

Test(golden_parse, reads_every_record_kind)
{
    hop_golden_file file;
    hop_error err;
    cr_assert_eq(parse_text(two_cases, &file, &err), HOP_OK, "%s", err.message);
    cr_assert_str_eq(file.header, "hflayers-golden-v1 test");
    cr_assert_eq(file.n_cases, 2);

    const hop_golden_case *c = &file.cases[0];
    cr_expect_str_eq(c->name, "first");
    cr_expect_str_eq(c->class_name, "HopfieldPooling");
    cr_expect_str_eq(c->kwargs, "{\"input_size\":3,\"num_heads\":1}");
    cr_expect_str_eq(c->input_kind, "tensor");
    cr_expect_str_eq(c->projection_path, "generic");
    cr_expect_eq(c->n_update_steps, 1);
    cr_expect_eq(c->update_steps[0], 2);
    cr_expect_eq(c->line, 2);
    cr_assert_eq(c->n_tensors, 3);
    cr_expect(c->has_loss && c->loss == 1.5);
    cr_expect(c->has_loss64 && c->loss64 == 1.25);

    const hop_golden_tensor *w = hop_golden_find(c, HOP_GOLDEN_PARAM, "pooling_weights");
    cr_assert_not_null(w);
    cr_expect_eq(w->ndim, 3);
    cr_expect_eq(w->shape[2], 3);
    cr_expect_eq(w->numel, 3);
    cr_expect_eq(w->values[2], (double)2e-3f, "float32 records are read with strtof");
    cr_expect_eq(w->line, 8);

    const hop_golden_tensor *out = hop_golden_find(c, HOP_GOLDEN_OUTPUT64, "output");
    cr_assert_not_null(out);
    cr_expect_eq(out->values[0], 0.1, "float64 records are read with strtod");

    const hop_golden_tensor *none =
        hop_golden_find(c, HOP_GOLDEN_GRAD_PARAM, "hopfield.norm_state_pattern.bias");
    cr_assert_not_null(none);
    cr_expect(none->none);
    cr_expect_null(none->values);

    const hop_golden_case *second = &file.cases[1];
    cr_expect_str_eq(second->class_name, "Hopfield");
    cr_expect_str_eq(second->kwargs, "{}");
    cr_expect_null(second->input_kind);
    cr_expect_eq(second->n_update_steps, 3);
    cr_expect_eq(second->update_steps[1], 3);
    const hop_golden_tensor *mask =
        hop_golden_find(second, HOP_GOLDEN_MASK, "stored_pattern_padding_mask");
    cr_assert_not_null(mask);
    cr_expect_eq(mask->values[1], 1.0);
    hop_golden_free(&file);
}

/* One malformed text and the words its error message must contain. */
typedef struct bad_text {
    const char *text;
    const char *expected[2];
} bad_text;

static const bad_text bad_texts[] = {
    {"case a\nclass Hopfield\nfrobnicate 3\nend\n", {"line 3", "frobnicate"}},
    {"class Hopfield\n", {"line 1", "outside a case"}},
    {"case a\nclass Hopfield\n", {"line 2", "ends inside case 'a'"}},
    {"case a\nclass X\ntensor input x 2 2 2\n1 2 3\nend\n", {"line 4", "3 values"}},
    {"case a\nclass X\ntensor input x 1 2\n1 2 3\nend\n", {"line 4", "more than 2"}},
    {"case a\nclass X\ntensor input x 1 2\n1 oops\nend\n", {"line 4", "value 2"}},
    {"case a\nclass X\ntensor input x 1 2\n", {"line 3", "file ends"}},
    {"case a\nclass X\ntensor weird x 1 2\n1 2\nend\n", {"line 3", "weird"}},
    {"case a\nclass X\ntensor input x 1 -2\n\nend\n", {"line 3", "extent -2"}},
    {"case a\nclass X\nkwargs {\"a\":\nend\n", {"line 3", "JSON"}},
    {"case a\nclass X\nkwargs [1]\nend\n", {"line 3", "JSON object"}},
    {"case a\nend\n", {"line 2", "no 'class'"}},
    {"case a\nclass X\nclass Y\nend\n", {"line 3", "second 'class'"}},
    {"case a\nclass X\nupdate_steps_taken 1 x\nend\n", {"line 3", "'x'"}},
    {"case a\nclass X\nloss abc\nend\n", {"line 3", "'abc'"}},
    {"case a\ncase b\n", {"line 2", "no 'end'"}},
    {"case a\nclass X\ntensor input x 1 1\n1\ntensor input x 1 1\n1\nend\n",
     {"line 5", "second input record 'x'"}},
};

Test(golden_parse, errors_name_the_line)
{
    for (size_t i = 0; i < sizeof bad_texts / sizeof bad_texts[0]; i++) {
        hop_golden_file file;
        hop_error err;
        hop_status status = parse_text(bad_texts[i].text, &file, &err);
        cr_expect_eq(status, HOP_ERR_PARSE, "text %zu parsed with status %d", i, status);
        for (int k = 0; k < 2; k++)
            cr_expect(strstr(err.message, bad_texts[i].expected[k]) != NULL,
                      "text %zu: message '%s' lacks '%s'", i, err.message,
                      bad_texts[i].expected[k]);
        cr_expect_eq(file.n_cases, 0, "a failed parse leaves the file empty");
    }
}

Test(golden_parse, reads_buffer_without_terminator)
{
    const char text[] = "case a\nclass Hopfield\nloss 2\nend\nGARBAGE";
    hop_golden_file file;
    hop_error err;
    size_t length = strlen(text) - strlen("GARBAGE");
    cr_assert_eq(hop_golden_parse(text, length, &file, &err), HOP_OK, "%s", err.message);
    cr_expect_eq(file.n_cases, 1);
    hop_golden_free(&file);
}

Test(golden_parse, missing_file_is_an_io_error)
{
    hop_golden_file file;
    hop_error err;
    cr_expect_eq(hop_golden_load("/nonexistent/golden.txt", &file, &err), HOP_ERR_IO);
    cr_expect(strstr(err.message, "/nonexistent/golden.txt") != NULL, "%s", err.message);
}

Test(golden_parse, binary_input_is_not_text)
{
    const char text[] = "case a\n\x7f"
                        "ELF\x02\x01\x00\x00\xff\n";
    hop_golden_file file;
    hop_error err;
    cr_assert_eq(hop_golden_parse(text, sizeof text - 1, &file, &err), HOP_ERR_PARSE);
    cr_expect(strstr(err.message, "byte 14 is NUL, so this is not a text file") != NULL, "%s",
              err.message);
    cr_expect(strstr(err.message, "ELF") == NULL, "%s", err.message);
}

Test(golden_parse, control_bytes_are_escaped)
{
    hop_golden_file file;
    hop_error err;
    cr_assert_eq(parse_text("case a\nzz\x01\xff\n", &file, &err), HOP_ERR_PARSE);
    cr_expect(strstr(err.message, "unknown record 'zz\\x01\\xFF'") != NULL, "%s", err.message);
}

Test(golden_parse, long_word_is_shortened)
{
    char text[1024];
    memset(text, 'x', sizeof text - 2);
    text[sizeof text - 2] = '\n';
    text[sizeof text - 1] = '\0';
    hop_golden_file file;
    hop_error err;
    cr_assert_eq(parse_text(text, &file, &err), HOP_ERR_PARSE);
    cr_expect_lt(strlen(err.message), 240, "%s", err.message);
    cr_expect(strstr(err.message, "...") != NULL, "%s", err.message);
}

Test(golden_parse, json_input_points_to_text_file)
{
    hop_golden_file file;
    hop_error err;
    cr_assert_eq(parse_text("  {\"cases\": [{\"name\": \"hopfield_default_init\"}]}", &file, &err),
                 HOP_ERR_PARSE);
    cr_expect(strstr(err.message, "the file is JSON") != NULL, "%s", err.message);
    cr_expect(strstr(err.message, "the .txt file of the same name") != NULL, "%s", err.message);
    cr_expect(strstr(err.message, "hopfield_default_init") == NULL, "%s", err.message);
}

Test(golden_parse, directory_names_the_reason)
{
    char dir[] = "/tmp/hop-golden-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    hop_golden_file file;
    hop_error err;
    cr_expect_eq(hop_golden_load(dir, &file, &err), HOP_ERR_IO);
    cr_expect(strstr(err.message, "Is a directory") != NULL, "%s", err.message);
    rmdir(dir);
}

/* Kwargs mapping. */

static hop_golden_case kwargs_case(const char *class_name, const char *kwargs)
{
    hop_golden_case c;
    memset(&c, 0, sizeof c);
    c.name = "kwargs";
    c.class_name = (char *)class_name;
    c.kwargs = (char *)kwargs;
    c.line = 7;
    return c;
}

Test(golden_kwargs, maps_options_onto_configs)
{
    hop_golden_case c = kwargs_case(
        "HopfieldPooling", "{\"input_size\":8,\"num_heads\":2,\"quantity\":3,\"scaling\":2.0,"
                           "\"update_steps_max\":null,\"update_steps_eps\":1e-30,"
                           "\"normalize_state_pattern\":false,"
                           "\"normalize_state_pattern_affine\":false,\"trainable\":false,"
                           "\"hidden_size\":null,\"batch_first\":true,"
                           "\"association_activation\":\"tanh\",\"add_zero_association\":true}");
    hop_golden_config config;
    hop_error err;
    cr_assert_eq(hop_golden_case_config(&c, &config, &err), HOP_OK, "%s", err.message);
    cr_expect_eq(config.module, HOP_GOLDEN_POOLING);
    cr_expect_eq(config.hopfield.input_size, 8);
    cr_expect_eq(config.hopfield.num_heads, 2);
    cr_expect_eq(config.quantity, 3);
    cr_expect_eq(config.hopfield.scaling, 2.0f);
    cr_expect_eq(config.hopfield.update_steps_max, -1, "null update_steps_max is unbounded");
    cr_expect_eq(config.hopfield.update_steps_eps, 1e-30f);
    cr_expect_not(config.hopfield.normalize_state_pattern);
    cr_expect(config.hopfield.normalize_stored_pattern, "absent keys keep the defaults");
    cr_expect_not(config.trainable);
    cr_expect_eq(config.hopfield.hidden_size, 0);
    cr_expect_eq(config.hopfield.association_activation, HOP_HOPFIELD_ACTIVATION_TANH);
    cr_expect(config.hopfield.add_zero_association);
    cr_expect_null(config.hopfield.head_scaling);
}

Test(golden_kwargs, maps_layer_and_tensor_scaling)
{
    hop_golden_case c =
        kwargs_case("HopfieldLayer", "{\"input_size\":8,\"num_heads\":2,\"quantity\":6,"
                                     "\"scaling\":{\"tensor\":[0.3,1.2]},\"scaling_unused\":1}");
    hop_golden_config config;
    hop_error err;
    cr_expect_eq(hop_golden_case_config(&c, &config, &err), HOP_ERR_DATA);
    cr_expect(strstr(err.message, "'scaling_unused'") != NULL, "%s", err.message);

    c = kwargs_case("HopfieldLayer", "{\"input_size\":8,\"num_heads\":2,\"quantity\":6,"
                                     "\"scaling\":{\"tensor\":[0.3,1.2]},"
                                     "\"lookup_weights_as_separated\":true,"
                                     "\"lookup_targets_as_trainable\":false}");
    cr_assert_eq(hop_golden_case_config(&c, &config, &err), HOP_OK, "%s", err.message);
    cr_expect_eq(config.module, HOP_GOLDEN_LAYER);
    cr_expect_eq(config.quantity, 6);
    cr_expect(config.lookup_weights_as_separated);
    cr_expect_not(config.lookup_targets_as_trainable);
    cr_expect_eq(config.n_head_scaling, 2);
    cr_assert_not_null(config.hopfield.head_scaling);
    cr_expect_eq(config.hopfield.head_scaling[1], 1.2f);
    cr_expect(isnan(config.hopfield.scaling), "the scalar stays at its default");
}

typedef struct bad_kwargs {
    const char *class_name;
    const char *kwargs;
    hop_status status;
    const char *expected;
} bad_kwargs;

static const bad_kwargs bad_kwargs_table[] = {
    {"Hopfield", "{\"input_size\":8,\"num_heads\":2,\"scaling\":{\"tensor\":[0.3]}}", HOP_ERR_DATA,
     "one entry per head"},
    {"Hopfield", "{\"input_size\":8,\"scaling\":{\"values\":[1]}}", HOP_ERR_PARSE, "'scaling'"},
    {"Hopfield", "{\"input_size\":8,\"num_heads\":\"two\"}", HOP_ERR_PARSE, "'num_heads'"},
    {"Hopfield", "{\"input_size\":8.5}", HOP_ERR_PARSE, "'input_size'"},
    {"Hopfield", "{\"input_size\":8,\"quantity\":2}", HOP_ERR_DATA, "'quantity'"},
    {"Hopfield", "{\"input_size\":8,\"batch_first\":false}", HOP_ERR_DATA, "'batch_first'"},
    {"Hopfield", "{\"input_size\":8,\"association_activation\":\"gelu\"}", HOP_ERR_DATA,
     "'association_activation'"},
    {"Hopfield", "{\"input_size\":8,\"update_steps_max\":[1,2]}", HOP_ERR_DATA,
     "'update_steps_max'"},
    {"HopfieldPooling", "{\"input_size\":8,\"trainable\":1}", HOP_ERR_PARSE, "'trainable'"},
    {"HopfieldPooling", "{\"input_size\":8,\"lookup_weights_as_separated\":true}", HOP_ERR_DATA,
     "'lookup_weights_as_separated'"},
    {"HopfieldDecoder", "{\"input_size\":8}", HOP_ERR_ARG, "HopfieldDecoder"},
};

Test(golden_kwargs, rejects_unsupported_and_malformed_options)
{
    for (size_t i = 0; i < sizeof bad_kwargs_table / sizeof bad_kwargs_table[0]; i++) {
        const bad_kwargs *bad = &bad_kwargs_table[i];
        hop_golden_case c = kwargs_case(bad->class_name, bad->kwargs);
        hop_error err;
        hop_golden_config config;
        hop_status status = hop_golden_case_config(&c, &config, &err);
        cr_expect_eq(status, bad->status, "kwargs %s: status %d, expected %d", bad->kwargs, status,
                     bad->status);
        cr_expect(strstr(err.message, bad->expected) != NULL, "kwargs %s: message '%s'",
                  bad->kwargs, err.message);
    }
}

/* Parity runs through the shared runner. */

typedef struct class_stats {
    int passed, departures, failed;
    double worst;
    char worst_what[256];
} class_stats;

static void check_result(const hop_golden_case *c, const hop_golden_result *r, class_stats *stats)
{
    for (int i = 0; i < r->n_checks; i++) {
        const hop_golden_check *check = &r->checks[i];
        if (r->verdict == HOP_GOLDEN_DEPARTURE)
            continue;
        cr_expect(check->passed,
                  "case %s: %s: max|hop - ref| = %.3g at element %zu (hop %.9g, ref %.17g), "
                  "bound %.3g",
                  c->name, check->what, check->max_diff, check->worst, check->hop_value,
                  check->ref_value, HOP_GOLDEN_TOLERANCE * check->scale);
    }
    stats->passed += r->verdict == HOP_GOLDEN_PASS;
    stats->departures += r->verdict == HOP_GOLDEN_DEPARTURE;
    stats->failed += r->verdict == HOP_GOLDEN_FAIL;
    if (r->verdict != HOP_GOLDEN_DEPARTURE && r->worst_relative > stats->worst &&
        r->worst_check >= 0) {
        stats->worst = r->worst_relative;
        snprintf(stats->worst_what, sizeof stats->worst_what, "%s: %s", c->name,
                 r->checks[r->worst_check].what);
    }
}

static class_stats run_class(const char *class_name)
{
    class_stats stats = {0};
    hop_golden_file file;
    hop_error err;
    cr_assert_eq(hop_golden_load(GOLDEN_PATH, &file, &err), HOP_OK, "%s", err.message);
    for (int i = 0; i < file.n_cases; i++) {
        const hop_golden_case *c = &file.cases[i];
        if (strcmp(c->class_name, class_name) != 0)
            continue;
        hop_golden_result result;
        hop_error_clear(&err);
        hop_status status = hop_golden_run_case(c, &result, &err);
        cr_expect_eq(status, HOP_OK, "case %s cannot be run: %s", c->name, err.message);
        if (status != HOP_OK)
            continue;
        check_result(c, &result, &stats);
        hop_golden_result_free(&result);
    }
    hop_golden_free(&file);
    cr_log_info("golden %s: %d pass, %d known departures, %d fail; largest difference %.3g of "
                "max(1, max|ref|) (%s)",
                class_name, stats.passed, stats.departures, stats.failed, stats.worst,
                stats.worst_what);
    return stats;
}

Test(golden, shared_file_parses)
{
    hop_golden_file file;
    hop_error err;
    cr_assert_eq(hop_golden_load(GOLDEN_PATH, &file, &err), HOP_OK, "%s", err.message);
    cr_expect_gt(file.n_cases, 0);
    for (int i = 0; i < file.n_cases; i++)
        cr_expect_gt(file.cases[i].n_update_steps, 0, "case %s has no update step counts",
                     file.cases[i].name);
    hop_golden_free(&file);
}

Test(golden, pooling_cases_match_reference, .timeout = 120)
{
    class_stats stats = run_class("HopfieldPooling");
    cr_expect_gt(stats.passed, 0, "no HopfieldPooling case ran");
    cr_expect_eq(stats.failed + stats.departures, 0);
}

Test(golden, layer_cases_match_reference, .timeout = 120)
{
    class_stats stats = run_class("HopfieldLayer");
    cr_expect_gt(stats.passed, 0, "no HopfieldLayer case ran");
    cr_expect_eq(stats.failed + stats.departures, 0);
}

Test(golden, hopfield_cases_match_reference, .timeout = 120)
{
    class_stats stats = run_class("Hopfield");
    cr_expect_gt(stats.passed, 0, "no Hopfield case ran");
    cr_expect_eq(stats.failed, 0);
    cr_expect_leq(stats.departures, 1, "only the per-head scaling case departs");
}

/* A changed reference value makes a case fail, so the runner can fail. */
Test(golden, corrupted_reference_fails)
{
    hop_golden_file file;
    hop_error err;
    cr_assert_eq(hop_golden_load(GOLDEN_PATH, &file, &err), HOP_OK, "%s", err.message);
    hop_golden_case *c = &file.cases[1];
    hop_golden_tensor *out = (hop_golden_tensor *)hop_golden_find(c, HOP_GOLDEN_OUTPUT64, "output");
    cr_assert_not_null(out);
    out->values[3] += 1e-3;

    hop_golden_result result;
    cr_assert_eq(hop_golden_run_case(c, &result, &err), HOP_OK, "%s", err.message);
    cr_expect_eq(result.verdict, HOP_GOLDEN_FAIL);
    cr_assert_geq(result.worst_check, 0);
    cr_expect_str_eq(result.checks[result.worst_check].what, "output");
    hop_golden_result_free(&result);
    hop_golden_free(&file);
}

/* The CLI runs a file of the same format with other sizes and options. */
Test(golden, cli_runs_file_and_reports_failure)
{
    char path[] = "/tmp/hop_golden_cli_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("case broken\nclass Hopfield\nkwargs {\"input_size\":4,\"frobnicate\":1}\nend\n", f);
    fclose(f);
    char command[512];
    snprintf(command, sizeof command, "%s golden %s > /dev/null", HOP_CLI_PATH, path);
    int rc = system(command);
    cr_expect_neq(rc, 0, "a case that cannot be run makes hop golden fail");
    snprintf(command, sizeof command, "%s golden %s > /dev/null", HOP_CLI_PATH, GOLDEN_PATH);
    rc = system(command);
    cr_expect_eq(rc, 0, "the shared golden file passes, its departure included");
    remove(path);
}
