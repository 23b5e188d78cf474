/* The hop program's exit statuses and messages for good and bad invocations. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/shell.h"

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(cli, version_names_blas)
{
    test_run r = test_run_hop("--version");
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "hop 0.") != NULL, "stdout: %s", r.out);
    cr_assert(strstr(r.out, "BLAS") != NULL, "stdout: %s", r.out);
}

Test(cli, help_lists_subcommands)
{
    test_run r = test_run_hop("--help");
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "mil") != NULL, "stdout: %s", r.out);
}

Test(cli, mil_help_lists_flags_with_defaults)
{
    test_run r = test_run_hop("mil --help");
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "--folds") != NULL, "stdout: %s", r.out);
    cr_assert(strstr(r.out, "(default 10)") != NULL, "stdout: %s", r.out);
    cr_assert(strstr(r.out, "--lr") != NULL, "stdout: %s", r.out);
}

Test(cli, unknown_command_fails)
{
    test_run r = test_run_hop("train");
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "unknown command 'train'") != NULL, "stderr: %s", r.err);
}

Test(cli, unknown_flag_is_named)
{
    test_run r = test_run_hop("mil --demo --fold 3");
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "--fold") != NULL, "stderr: %s", r.err);
}

Test(cli, negative_epochs_rejected)
{
    test_run r = test_run_hop("mil --demo --epochs -5");
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "--epochs") != NULL, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "-5") != NULL, "stderr: %s", r.err);
}

Test(cli, malformed_number_rejected)
{
    test_run r = test_run_hop("mil --demo --lr fast");
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "'fast'") != NULL, "stderr: %s", r.err);
}

Test(cli, missing_value_rejected)
{
    test_run r = test_run_hop("mil --demo --seed");
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "--seed needs a value") != NULL, "stderr: %s", r.err);
}

Test(cli, missing_data_file_named)
{
    test_run r = test_run_hop("mil --data /nonexistent/bags.csv");
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "/nonexistent/bags.csv") != NULL, "stderr: %s", r.err);
}

Test(cli, ragged_row_names_line)
{
    char path[] = "/tmp/hop-ragged-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    write_text(path, "1,1,0.5,0.25\n1,1,0.5\n0,2,0.1,0.2\n");
    char args[128];
    snprintf(args, sizeof args, "mil --data %s", path);
    test_run r = test_run_hop(args);
    remove(path);
    cr_assert_neq(r.status, 0);
    char location[64];
    snprintf(location, sizeof location, "%s:2:", path);
    cr_assert(strstr(r.err, location) != NULL, "stderr: %s", r.err);
}

Test(cli, single_class_dataset_rejected)
{
    char path[] = "/tmp/hop-oneclass-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    write_text(path, "1,1,0.5\n1,2,0.1\n1,3,0.7\n1,4,0.2\n");
    char args[128];
    snprintf(args, sizeof args, "mil --data %s --folds 2", path);
    test_run r = test_run_hop(args);
    remove(path);
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "class") != NULL, "stderr: %s", r.err);
}

Test(cli, too_many_folds_rejected)
{
    char path[] = "/tmp/hop-folds-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    write_text(path, "1,1,0.5\n1,2,0.1\n1,3,0.3\n0,4,0.7\n0,5,0.2\n0,6,0.9\n");
    char args[128];
    snprintf(args, sizeof args, "mil --data %s --folds 5", path);
    test_run r = test_run_hop(args);
    remove(path);
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "fold") != NULL, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "5") != NULL, "stderr: %s", r.err);
}

Test(cli, data_and_demo_exclusive)
{
    test_run r = test_run_hop("mil --demo --data x.csv");
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "either --data FILE or --demo") != NULL, "stderr: %s", r.err);
}

Test(cli, cross_validation_writes_report, .timeout = 120)
{
    char dir[] = "/tmp/hop-report-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char data[128], report[128], args[512];
    snprintf(data, sizeof data, "%s/bags.csv", dir);
    snprintf(report, sizeof report, "%s/report.json", dir);

    /* Positive bags hold one instance far along the first feature. */
    FILE *f = fopen(data, "w");
    cr_assert_not_null(f);
    for (int b = 0; b < 12; b++)
        for (int i = 0; i < 3; i++)
            fprintf(f, "%d,%d,%g,%g\n", b % 2, b + 1, (b % 2 && i == 0) ? 4.0 : 0.1 * i, 0.05 * b);
    fclose(f);

    snprintf(args, sizeof args, "mil --data %s --folds 3 --epochs 30 --quiet --report %s", data,
             report);
    test_run r = test_run_hop(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "AUC") != NULL, "stdout: %s", r.out);

    char json[8192];
    test_read_text(report, json, sizeof json);
    cr_assert(strstr(json, "\"auc_mean\"") != NULL, "report: %s", json);
    cr_assert(strstr(json, "\"acc_std\"") != NULL, "report: %s", json);
    cr_assert(strstr(json, "\"per_fold\"") != NULL, "report: %s", json);
    cr_assert(strstr(json, "\"folds\":\t3") != NULL, "report: %s", json);
    remove(data);
    remove(report);
    rmdir(dir);
}

Test(cli, mixed_bag_labels_rejected)
{
    char path[] = "/tmp/hop-mixed-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    write_text(path, "1,1,0.5\n0,1,0.1\n0,2,0.3\n");
    char args[128];
    snprintf(args, sizeof args, "mil --data %s", path);
    test_run r = test_run_hop(args);
    remove(path);
    cr_assert_neq(r.status, 0);
    char location[64];
    snprintf(location, sizeof location, "%s:2:", path);
    cr_assert(strstr(r.err, location) != NULL, "stderr: %s", r.err);
}

Test(cli, non_numeric_field_named)
{
    char path[] = "/tmp/hop-text-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    write_text(path, "1,1,0.5,0.2\n0,2,abc,0.3\n");
    char args[128];
    snprintf(args, sizeof args, "mil --data %s", path);
    test_run r = test_run_hop(args);
    remove(path);
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "\"abc\"") != NULL, "stderr: %s", r.err);
    char location[64];
    snprintf(location, sizeof location, "%s:2:", path);
    cr_assert(strstr(r.err, location) != NULL, "stderr: %s", r.err);
}

/* Writes 12 bags of 3 instances that the demo settings separate, into dir/name. */
static void write_bags(const char *path)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int b = 0; b < 12; b++)
        for (int i = 0; i < 3; i++)
            fprintf(f, "%d,%d,%g,%g\n", b % 2, b + 1, (b % 2 && i == 0) ? 4.0 : 0.1 * i, 0.05 * b);
    fclose(f);
}

static void remove_tree(const char *dir)
{
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    cr_assert_eq(system(command), 0);
}

Test(cli, report_through_symlink_keeps_link)
{
    char dir[] = "/tmp/hop-cli-link-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char data[64], link[64], real[64], args[512];
    snprintf(data, sizeof data, "%s/good.csv", dir);
    snprintf(link, sizeof link, "%s/link.json", dir);
    snprintf(real, sizeof real, "%s/real.json", dir);
    write_bags(data);
    cr_assert_eq(symlink("real.json", link), 0);
    snprintf(args, sizeof args, "mil --data %s --folds 2 --epochs 1 --quiet --report %s", data,
             link);
    test_run r = test_run_hop(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    struct stat st;
    cr_assert_eq(lstat(link, &st), 0);
    cr_assert(S_ISLNK(st.st_mode), "the report link was replaced by a regular file");
    char json[8192];
    test_read_text(real, json, sizeof json);
    cr_assert(strstr(json, "\"auc_mean\"") != NULL, "report: %s", json);
    remove_tree(dir);
}

Test(cli, report_error_names_user_path)
{
    char dir[] = "/tmp/hop-cli-report-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char data[64], args[512];
    snprintf(data, sizeof data, "%s/good.csv", dir);
    write_bags(data);
    snprintf(args, sizeof args,
             "mil --data %s --folds 2 --epochs 1 --quiet --report /nonexistent/dir/x.json", data);
    test_run r = test_run_hop(args);
    remove_tree(dir);
    /* The folder is checked before training starts, so the run fails at once. */
    cr_assert_eq(r.status, 2, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "--report /nonexistent/dir/x.json: folder /nonexistent/dir does not "
                            "exist") != NULL,
              "stderr: %s", r.err);
    cr_assert(strstr(r.err, ".tmp") == NULL, "stderr: %s", r.err);
}

Test(cli, report_equal_to_data_rejected)
{
    char dir[] = "/tmp/hop-cli-same-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char data[64], args[512], before[4096], after[4096];
    snprintf(data, sizeof data, "%s/good.csv", dir);
    write_bags(data);
    test_read_text(data, before, sizeof before);
    snprintf(args, sizeof args, "mil --data %s --folds 2 --epochs 1 --quiet --report %s/./good.csv",
             data, dir);
    test_run r = test_run_hop(args);
    test_read_text(data, after, sizeof after);
    remove_tree(dir);
    cr_assert_eq(r.status, 2, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "--report") != NULL, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "same file as --data") != NULL, "stderr: %s", r.err);
    cr_assert_str_eq(after, before, "the data file was overwritten");
}

Test(cli, predict_outputs_must_differ_from_inputs)
{
    char dir[] = "/tmp/hop-cli-predict-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char data[64], model[64], args[512];
    snprintf(data, sizeof data, "%s/good.csv", dir);
    snprintf(model, sizeof model, "%s/model.safetensors", dir);
    write_bags(data);
    snprintf(args, sizeof args, "mil --data %s --folds 2 --epochs 1 --quiet --save-model %s", data,
             model);
    test_run r = test_run_hop(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);

    snprintf(args, sizeof args, "predict --model %s --data %s --out %s", model, data, data);
    r = test_run_hop(args);
    cr_assert_eq(r.status, 2, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "--out") != NULL, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "same file as --data") != NULL, "stderr: %s", r.err);

    snprintf(args, sizeof args, "predict --model %s --data %s --out %s", model, data, model);
    r = test_run_hop(args);
    cr_assert_eq(r.status, 2, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "same file as --model") != NULL, "stderr: %s", r.err);

    snprintf(args, sizeof args, "predict --model %s --data %s --out %s/p.csv --attention %s/p.csv",
             model, data, dir, dir);
    r = test_run_hop(args);
    cr_assert_eq(r.status, 2, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "--attention") != NULL, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "same file as --out") != NULL, "stderr: %s", r.err);
    remove_tree(dir);
}

Test(cli, proto_report_equal_to_data_rejected)
{
    char dir[] = "/tmp/hop-cli-proto-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char data[64], args[512];
    snprintf(data, sizeof data, "%s/table.csv", dir);
    write_text(data, "0.1,0.2,0\n0.3,0.1,1\n");
    snprintf(args, sizeof args, "proto --data %s --report %s", data, data);
    test_run r = test_run_hop(args);
    remove_tree(dir);
    cr_assert_eq(r.status, 2, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "same file as --data") != NULL, "stderr: %s", r.err);
}

Test(cli, full_stdout_fails)
{
    const char *commands[] = {"--help", "--version", "mil --help", "predict --help",
                              "proto --help"};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char command[512], err_path[] = "/tmp/hop-cli-full-XXXXXX", err[1024];
        int fd = mkstemp(err_path);
        cr_assert_geq(fd, 0);
        close(fd);
        snprintf(command, sizeof command, "%s %s >/dev/full 2>%s", HOP_CLI_PATH, commands[i],
                 err_path);
        int status = test_exit_status(system(command));
        test_read_text(err_path, err, sizeof err);
        remove(err_path);
        cr_assert_eq(status, 1, "hop %s: status %d", commands[i], status);
        cr_assert(strstr(err, "hop: cannot write to standard output: No space left on device") !=
                      NULL,
                  "hop %s: stderr: %s", commands[i], err);
    }
}

Test(cli, equals_form_accepted)
{
    char dir[] = "/tmp/hop-cli-equals-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char args[512], out[64];
    snprintf(out, sizeof out, "%s/gen.tsv", dir);
    snprintf(args, sizeof args, "mil --generate-sequences=%s --bags=4 --bag-size=2 --seed=3", out);
    test_run r = test_run_hop(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_eq(access(out, F_OK), 0, "%s was not written", out);
    remove_tree(dir);

    r = test_run_hop("mil --demo --epochs=fast");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--epochs: 'fast'") != NULL, "stderr: %s", r.err);
    r = test_run_hop("mil --demo=yes");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--demo takes no value") != NULL, "stderr: %s", r.err);
}

/* A flag value, whether hop accepts it, and a piece of the error otherwise. */
typedef struct value_case {
    const char *args;
    bool accepted;
    const char *message;
} value_case;

static const value_case value_cases[] = {
    {"--seed 18446744073709551615", true, NULL},
    {"--seed 18446744073709551616", false, "--seed: '18446744073709551616' is not a valid seed"},
    {"--seed -1", false, "use an integer from 0 to 18446744073709551615"},
    {"--seed 1e3", false, "--seed: '1e3' is not a valid seed"},
    {"--m 1e1", true, NULL},
    {"--m 2.5", false, "--m: '2.5' is not a valid integer"},
    {"--m ' 8'", false, "--m: ' 8' is not a valid integer"},
    {"--m '8 '", false, "--m: '8 ' is not a valid integer"},
    {"--m 0x10", false, "--m: '0x10' is not a valid integer"},
    {"--m 1e12", false, "--m: 1e12 is out of range"},
};

/* bench sgemm has no --seed flag, so the seed cases run through bench retrieval. */
Test(cli, number_formats)
{
    for (size_t i = 0; i < sizeof value_cases / sizeof value_cases[0]; i++) {
        const value_case *c = &value_cases[i];
        char args[256];
        if (strncmp(c->args, "--seed", 6) == 0)
            snprintf(args, sizeof args, "bench retrieval --n 50 --d 4 --queries 2 --repeats 1 %s",
                     c->args);
        else
            snprintf(args, sizeof args, "bench sgemm --n 4 --k 4 --repeats 1 %s", c->args);
        test_run r = test_run_hop(args);
        if (c->accepted) {
            cr_assert_eq(r.status, 0, "%s: stderr %s", c->args, r.err);
            continue;
        }
        cr_assert_eq(r.status, 2, "%s: status %d", c->args, r.status);
        cr_assert(strstr(r.err, c->message) != NULL, "%s: stderr %s", c->args, r.err);
    }
}

Test(cli, float_values_checked)
{
    const char *base = "bench retrieval --n 50 --d 4 --queries 2 --repeats 1";
    char args[256];
    snprintf(args, sizeof args, "%s --beta 1e-300", base);
    test_run r = test_run_hop(args);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--beta: 1e-300 is too small for single precision") != NULL,
              "stderr: %s", r.err);
    snprintf(args, sizeof args, "%s --beta 0x10", base);
    r = test_run_hop(args);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--beta: '0x10' is not a valid number") != NULL, "stderr: %s", r.err);
    snprintf(args, sizeof args, "%s --beta 2.5e-1", base);
    r = test_run_hop(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "\"beta\":0.25") != NULL, "stdout: %s", r.out);
}

Test(cli, help_with_value_rejected)
{
    test_run r = test_run_hop("bench sgemm --help=1");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--help takes no value; remove '=1'") != NULL, "stderr: %s", r.err);
}

Test(cli, repeated_flag_rejected)
{
    test_run r = test_run_hop("mil --demo --epochs 5 --epochs=3");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--epochs given twice") != NULL, "stderr: %s", r.err);
}

/* Returns the line of text that contains needle, copied into line. */
static void find_line(const char *text, const char *needle, char *line, size_t size)
{
    const char *at = strstr(text, needle);
    cr_assert_not_null(at, "no line with %s in: %s", needle, text);
    while (at > text && at[-1] != '\n')
        at--;
    size_t n = strcspn(at, "\n");
    n = n < size - 1 ? n : size - 1;
    memcpy(line, at, n);
    line[n] = '\0';
}

Test(cli, help_prints_each_default_once)
{
    const char *commands[] = {"mil --help", "predict --help"};
    for (size_t i = 0; i < 2; i++) {
        test_run r = test_run_hop(commands[i]);
        cr_assert_eq(r.status, 0);
        char line[256];
        find_line(r.out, "--threads V", line, sizeof line);
        const char *first = strstr(line, "default");
        cr_assert_not_null(first, "%s", line);
        cr_assert_null(strstr(first + 1, "default"), "default given twice: %s", line);
        cr_assert(strstr(line, "(default the online cores)") != NULL, "%s", line);
    }
}

Test(cli, integer_range_printed_as_integers)
{
    test_run r = test_run_hop("mil --demo --embed-width 9999999");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "use 1 to 65536") != NULL, "stderr: %s", r.err);
    r = test_run_hop("mil --demo --epochs 0");
    cr_assert(strstr(r.err, "use 1 to 1000000") != NULL, "stderr: %s", r.err);
}

Test(cli, usage_and_runtime_exit_codes)
{
    static const struct {
        const char *args;
        int status;
    } cases[] = {
        {"train", 2},
        {"mil --demo --fold 3", 2},
        {"mil --demo --lr fast", 2},
        {"mil --data /nonexistent/bags.csv", 1},
        {"predict --data x.csv", 2},
        {"predict --modle x", 2},
        {"proto --data digits --folds x", 2},
        {"memory capacity --nope", 2},
        {"memory onestep --nope", 2},
        {"memory fixedpoints --nope", 2},
        {"memory images --nope", 2},
        {"golden --nope", 2},
        {"bench sgemm --nope", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_run r = test_run_hop(cases[i].args);
        cr_assert_eq(r.status, cases[i].status, "hop %s: status %d, stderr: %s", cases[i].args,
                     r.status, r.err);
    }
}

Test(cli, version_has_no_stray_space)
{
    test_run r = test_run_hop("--version");
    cr_assert_eq(r.status, 0);
    cr_assert_null(strstr(r.out, " )"), "stdout: %s", r.out);
    cr_assert_null(strstr(r.out, "( "), "stdout: %s", r.out);
}

Test(cli, plot_loss_writes_png, .timeout = 120)
{
    char dir[] = "/tmp/hop-plot-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char png[128], args[256];
    snprintf(png, sizeof png, "%s/loss.png", dir);
    snprintf(args, sizeof args, "mil --demo --epochs 3 --quiet --plot-loss %s", png);
    test_run r = test_run_hop(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);

    FILE *f = fopen(png, "rb");
    cr_assert_not_null(f, "no PNG at %s", png);
    unsigned char signature[8] = {0};
    size_t n = fread(signature, 1, sizeof signature, f);
    fclose(f);
    cr_assert_eq(n, 8);
    cr_assert_eq(memcmp(signature, "\x89PNG\r\n\x1a\n", 8), 0);
    remove(png);
    rmdir(dir);
}

Test(cli, plot_loss_bad_path_fails)
{
    test_run r =
        test_run_hop("mil --demo --epochs 1 --quiet --plot-loss /nonexistent/dir/loss.png");
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "/nonexistent/dir/loss.png") != NULL, "stderr: %s", r.err);
}

Test(cli, plot_loss_over_data_rejected)
{
    char dir[] = "/tmp/hop-cli-plot-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char data[64], args[256];
    snprintf(data, sizeof data, "%s/good.csv", dir);
    write_bags(data);
    snprintf(args, sizeof args, "mil --data %s --epochs 1 --quiet --plot-loss %s", data, data);
    test_run r = test_run_hop(args);
    char first[8] = {0};
    FILE *f = fopen(data, "r");
    size_t n = f ? fread(first, 1, sizeof first - 1, f) : 0;
    if (f)
        fclose(f);
    remove_tree(dir);
    cr_assert_eq(r.status, 2, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "--plot-loss") != NULL, "stderr: %s", r.err);
    cr_assert_gt(n, 0);
    cr_assert_neq(first[0], (char)0x89, "the data file was overwritten by a PNG");
}

Test(cli, output_folder_checked_before_training)
{
    test_run r = test_run_hop("mil --demo --epochs 100000 --quiet --report /tmp");
    cr_assert_eq(r.status, 2, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "--report /tmp is a folder") != NULL, "stderr: %s", r.err);
}
