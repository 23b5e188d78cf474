/* The hop program's exit statuses and messages for good and bad invocations. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct run_result {
    int status;
    char out[8192];
    char err[8192];
} run_result;

static void read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Runs the hop program with args (a shell word list) and captures its output. */
static run_result run_hop(const char *args)
{
    run_result r;
    char dir[] = "/tmp/hop-cli-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char out_path[64], err_path[64], command[2048];
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    snprintf(err_path, sizeof err_path, "%s/err", dir);
    snprintf(command, sizeof command, "%s %s >%s 2>%s", HOP_CLI_PATH, args, out_path, err_path);

    int raw = system(command);
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    read_file(out_path, r.out, sizeof r.out);
    read_file(err_path, r.err, sizeof r.err);
    remove(out_path);
    remove(err_path);
    rmdir(dir);
    return r;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(cli, version_names_blas)
{
    run_result r = run_hop("--version");
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "hop 0.") != NULL, "stdout: %s", r.out);
    cr_assert(strstr(r.out, "BLAS") != NULL, "stdout: %s", r.out);
}

Test(cli, help_lists_subcommands)
{
    run_result r = run_hop("--help");
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "mil") != NULL, "stdout: %s", r.out);
}

Test(cli, mil_help_lists_flags_with_defaults)
{
    run_result r = run_hop("mil --help");
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "--folds") != NULL, "stdout: %s", r.out);
    cr_assert(strstr(r.out, "(default 10)") != NULL, "stdout: %s", r.out);
    cr_assert(strstr(r.out, "--lr") != NULL, "stdout: %s", r.out);
}

Test(cli, unknown_command_fails)
{
    run_result r = run_hop("train");
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "unknown command 'train'") != NULL, "stderr: %s", r.err);
}

Test(cli, unknown_flag_is_named)
{
    run_result r = run_hop("mil --demo --fold 3");
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "--fold") != NULL, "stderr: %s", r.err);
}

Test(cli, negative_epochs_rejected)
{
    run_result r = run_hop("mil --demo --epochs -5");
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "--epochs") != NULL, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "-5") != NULL, "stderr: %s", r.err);
}

Test(cli, malformed_number_rejected)
{
    run_result r = run_hop("mil --demo --lr fast");
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "'fast'") != NULL, "stderr: %s", r.err);
}

Test(cli, missing_value_rejected)
{
    run_result r = run_hop("mil --demo --seed");
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "--seed needs a value") != NULL, "stderr: %s", r.err);
}

Test(cli, missing_data_file_named)
{
    run_result r = run_hop("mil --data /nonexistent/bags.csv");
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
    run_result r = run_hop(args);
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
    run_result r = run_hop(args);
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
    run_result r = run_hop(args);
    remove(path);
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "fold") != NULL, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "5") != NULL, "stderr: %s", r.err);
}

Test(cli, data_and_demo_exclusive)
{
    run_result r = run_hop("mil --demo --data x.csv");
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
    run_result r = run_hop(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "AUC") != NULL, "stdout: %s", r.out);

    char json[8192];
    read_file(report, json, sizeof json);
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
    run_result r = run_hop(args);
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
    run_result r = run_hop(args);
    remove(path);
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "\"abc\"") != NULL, "stderr: %s", r.err);
    char location[64];
    snprintf(location, sizeof location, "%s:2:", path);
    cr_assert(strstr(r.err, location) != NULL, "stderr: %s", r.err);
}
