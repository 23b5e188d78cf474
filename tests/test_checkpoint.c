/* Training checkpoints: bit-for-bit resume, model files, hop predict and load errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hop/blas.h"
#include "hop/io.h"
#include "hop/mil.h"
#include "support/shell.h"

static void small_sequences(hop_seq_dataset *ds)
{
    hop_seq_generator g = hop_seq_generator_defaults();
    g.n_bags = 10;
    g.bag_size = 20;
    g.witness_rate = 0.1;
    hop_rng rng;
    hop_rng_seed(&rng, 11);
    hop_error err;
    cr_assert_eq(hop_seq_generate(&g, &rng, ds, &err), HOP_OK, "%s", err.message);
}

static void small_features(hop_mil_dataset *ds)
{
    int sizes[8] = {3, 4, 2, 5, 3, 3, 4, 2}, labels[8] = {1, 0, 1, 0, 1, 0, 1, 0};
    float features[26 * 5];
    hop_rng rng;
    hop_rng_seed(&rng, 4);
    for (int i = 0; i < 26 * 5; i++)
        features[i] = hop_rng_normal(&rng);
    hop_error err;
    cr_assert_eq(hop_mil_from_arrays(8, 5, features, sizes, labels, NULL, NULL, "small", ds, &err),
                 HOP_OK, "%s", err.message);
}

static hop_mil_train_config train_config(void)
{
    hop_mil_train_config tc;
    hop_mil_train_defaults(&tc);
    tc.epochs = 3;
    tc.batch_size = 3;
    tc.seed = 9;
    return tc;
}

static void init_trainer(hop_mil_trainer *t, hop_mil_kind kind, const void *data)
{
    hop_mil_train_config tc = train_config();
    hop_error err;
    if (kind == HOP_MIL_SEQUENCES) {
        hop_seq_model_config sc;
        hop_seq_model_defaults(&sc);
        sc.kmer = 2;
        sc.dropout = 0.1f;
        cr_assert_eq(hop_mil_trainer_init_sequences(t, &sc, &tc, 9, &err), HOP_OK, "%s",
                     err.message);
        cr_assert_eq(hop_mil_trainer_attach_sequences(t, data, &err), HOP_OK, "%s", err.message);
        return;
    }
    hop_mil_model_config mc;
    hop_mil_model_defaults(&mc, 5);
    mc.embed_width = 16;
    mc.input_dropout = 0.2f;
    cr_assert_eq(hop_mil_trainer_init_features(t, &mc, &tc, 9, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(hop_mil_trainer_attach_features(t, data, false, &err), HOP_OK, "%s", err.message);
}

/* Trains straight through and with a save and load after `split` steps; compares weights. */
static void check_resume(hop_mil_kind kind, const void *data, long split)
{
    hop_blas_set_threads(1);
    hop_error err;
    hop_mil_trainer straight, first, resumed;
    init_trainer(&straight, kind, data);
    cr_assert_eq(hop_mil_trainer_run(&straight, -1, NULL, NULL, 0, -1, &err), HOP_OK, "%s",
                 err.message);
    cr_assert(straight.step > split, "only %ld steps", straight.step);

    init_trainer(&first, kind, data);
    cr_assert_eq(hop_mil_trainer_run(&first, split, NULL, NULL, 0, -1, &err), HOP_OK);
    cr_assert_eq(first.step, split);
    char path[] = "/tmp/hop-ckpt-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(hop_mil_trainer_save(&first, path, true, &err), HOP_OK, "%s", err.message);
    hop_mil_trainer_free(&first);

    bool checkpoint = false;
    cr_assert_eq(hop_mil_trainer_load(&resumed, path, &checkpoint, &err), HOP_OK, "%s",
                 err.message);
    cr_assert(checkpoint);
    cr_assert_eq(resumed.step, split);
    if (kind == HOP_MIL_SEQUENCES)
        cr_assert_eq(hop_mil_trainer_attach_sequences(&resumed, data, &err), HOP_OK, "%s",
                     err.message);
    else
        cr_assert_eq(hop_mil_trainer_attach_features(&resumed, data, true, &err), HOP_OK, "%s",
                     err.message);
    cr_assert_eq(hop_mil_trainer_run(&resumed, -1, NULL, NULL, 0, -1, &err), HOP_OK, "%s",
                 err.message);

    cr_assert_eq(resumed.step, straight.step);
    cr_assert_eq(resumed.params.total, straight.params.total);
    cr_assert_eq(memcmp(resumed.params.values, straight.params.values,
                        straight.params.total * sizeof(float)),
                 0, "weights differ after resuming at step %ld", split);
    cr_assert_eq(memcmp(resumed.opt.m, straight.opt.m, straight.opt.size * sizeof(float)), 0);
    cr_assert_eq(resumed.last_loss, straight.last_loss);
    hop_mil_trainer_free(&straight);
    hop_mil_trainer_free(&resumed);
    remove(path);
}

Test(checkpoint, sequences_resume_is_bit_exact)
{
    hop_seq_dataset ds;
    small_sequences(&ds);
    check_resume(HOP_MIL_SEQUENCES, &ds, 5);
    check_resume(HOP_MIL_SEQUENCES, &ds, 4);
    hop_seq_free(&ds);
}

Test(checkpoint, features_resume_is_bit_exact)
{
    hop_mil_dataset ds;
    small_features(&ds);
    check_resume(HOP_MIL_FEATURES, &ds, 4);
    check_resume(HOP_MIL_FEATURES, &ds, 3);
    hop_mil_free(&ds);
}

Test(checkpoint, model_file_keeps_names_and_standardizer)
{
    hop_mil_dataset ds;
    small_features(&ds);
    hop_mil_trainer t, back;
    init_trainer(&t, HOP_MIL_FEATURES, &ds);
    char path[] = "/tmp/hop-model-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    hop_error err;
    cr_assert_eq(hop_mil_trainer_save(&t, path, false, &err), HOP_OK, "%s", err.message);

    hop_safetensors st;
    cr_assert_eq(hop_safetensors_read(path, &st, &err), HOP_OK, "%s", err.message);
    cr_assert_str_eq(hop_safetensors_metadata(&st, "format"), "hop-model");
    cr_assert_not_null(hop_safetensors_find(&st, "embed.0.weight"));
    cr_assert_not_null(hop_safetensors_find(&st, "output.bias"));
    cr_assert_not_null(hop_safetensors_find(&st, "standardizer.mean"));
    cr_assert_null(hop_safetensors_find(&st, "optimizer.adamw.m"));
    hop_safetensors_free(&st);

    bool checkpoint = true;
    cr_assert_eq(hop_mil_trainer_load(&back, path, &checkpoint, &err), HOP_OK, "%s", err.message);
    cr_assert(!checkpoint);
    cr_assert_eq(memcmp(back.params.values, t.params.values, t.params.total * sizeof(float)), 0);
    cr_assert_eq(memcmp(back.standardizer.std, t.standardizer.std, 5 * sizeof(double)), 0);
    float a[8], b[8];
    cr_assert_eq(hop_mil_trainer_score_features(&t, &ds, a, NULL, &err), HOP_OK);
    cr_assert_eq(hop_mil_trainer_score_features(&back, &ds, b, NULL, &err), HOP_OK, "%s",
                 err.message);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    hop_mil_trainer_free(&t);
    hop_mil_trainer_free(&back);
    hop_mil_free(&ds);
    remove(path);
}

Test(checkpoint, resume_rejects_other_data)
{
    hop_seq_dataset ds, other;
    small_sequences(&ds);
    hop_seq_generator g = hop_seq_generator_defaults();
    g.n_bags = 12;
    g.bag_size = 5;
    hop_rng rng;
    hop_rng_seed(&rng, 2);
    hop_error err;
    cr_assert_eq(hop_seq_generate(&g, &rng, &other, &err), HOP_OK);
    hop_mil_trainer t;
    init_trainer(&t, HOP_MIL_SEQUENCES, &ds);
    char path[] = "/tmp/hop-ckpt-XXXXXX";
    close(mkstemp(path));
    cr_assert_eq(hop_mil_trainer_save(&t, path, true, &err), HOP_OK);
    hop_mil_trainer_free(&t);
    cr_assert_eq(hop_mil_trainer_load(&t, path, NULL, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(hop_mil_trainer_attach_sequences(&t, &other, &err), HOP_ERR_DATA);
    cr_assert(strstr(err.message, "trained on 10 bags but the data has 12") != NULL, "message: %s",
              err.message);
    hop_mil_trainer_free(&t);
    hop_seq_free(&ds);
    hop_seq_free(&other);
    remove(path);
}

Test(checkpoint, load_rejects_foreign_file)
{
    hop_st_writer w;
    hop_st_writer_init(&w);
    hop_error err;
    float x = 1.0f;
    int64_t one = 1;
    cr_assert_eq(hop_st_writer_add(&w, "weight", HOP_DTYPE_F32, 1, &one, &x, &err), HOP_OK);
    char path[] = "/tmp/hop-foreign-XXXXXX";
    close(mkstemp(path));
    cr_assert_eq(hop_st_writer_save(&w, path, &err), HOP_OK);
    hop_st_writer_free(&w);
    hop_mil_trainer t;
    cr_assert_eq(hop_mil_trainer_load(&t, path, NULL, &err), HOP_ERR_DATA);
    cr_assert(strstr(err.message, "metadata 'format' is missing") != NULL, "message: %s",
              err.message);
    remove(path);
}

static void expect_same_params(const char *a_path, const char *b_path)
{
    hop_safetensors a, b;
    hop_error err;
    cr_assert_eq(hop_safetensors_read(a_path, &a, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(hop_safetensors_read(b_path, &b, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(a.count, b.count);
    for (int i = 0; i < a.count; i++) {
        const hop_st_tensor *other = hop_safetensors_find(&b, a.tensors[i].name);
        cr_assert_not_null(other, "%s missing", a.tensors[i].name);
        cr_assert_eq(other->nbytes, a.tensors[i].nbytes);
        cr_assert_eq(memcmp(other->data, a.tensors[i].data, other->nbytes), 0, "%s differs",
                     a.tensors[i].name);
    }
    hop_safetensors_free(&a);
    hop_safetensors_free(&b);
}

Test(checkpoint, cli_resume_and_predict, .timeout = 120)
{
    char dir[] = "/tmp/hop-cli-ckpt-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char command[1024], out[8192];
    const char *common = "--epochs 3 --batch 3 --seed 4 --threads 1 --quiet --no-cv --kmer 2";
    snprintf(command, sizeof command,
             "cd %s && %s mil --generate-sequences s.tsv --bags 10 --bag-size 20 "
             "--witness-rate 0.1 --seed 2 2>&1 && "
             "%s mil --sequences s.tsv %s --save-model straight.st 2>&1 && "
             "%s mil --sequences s.tsv %s --checkpoint c.st --stop-after 5 2>&1 && "
             "%s mil --sequences s.tsv --resume c.st --threads 1 --quiet --save-model resumed.st "
             "2>&1",
             dir, HOP_CLI_PATH, HOP_CLI_PATH, common, HOP_CLI_PATH, common, HOP_CLI_PATH);
    cr_assert_eq(test_run_command(command, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "stopped after 5 steps") != NULL, "output: %s", out);
    char a[128], b[128];
    snprintf(a, sizeof a, "%s/straight.st", dir);
    snprintf(b, sizeof b, "%s/resumed.st", dir);
    expect_same_params(a, b);

    snprintf(command, sizeof command,
             "cd %s && %s predict --model straight.st --data s.tsv --out bags.csv "
             "--attention att.csv 2>&1 && head -2 bags.csv && head -2 att.csv && wc -l < att.csv",
             dir, HOP_CLI_PATH);
    cr_assert_eq(test_run_command(command, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "bag_id,label,probability\nbag1,") != NULL, "output: %s", out);
    cr_assert(strstr(out, "bag_id,instance,weight,sequence,witness\nbag1,1,0.") != NULL,
              "output: %s", out);
    cr_assert(strstr(out, "\n201\n") != NULL, "att.csv should have 200 rows: %s", out);

    snprintf(command, sizeof command, "cd %s && %s predict --model c.st --data missing.tsv 2>&1",
             dir, HOP_CLI_PATH);
    cr_assert_eq(test_run_command(command, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "hop predict: cannot open \"missing.tsv\"") != NULL, "output: %s", out);
    snprintf(command, sizeof command,
             "cd %s && rm -f s.tsv bags.csv att.csv straight.st resumed.st c.st && rmdir %s", dir,
             dir);
    test_run_command(command, out, sizeof out);
}

/* Trains two steps on the small feature bags and returns the trainer. */
static void two_step_features(hop_mil_trainer *t, hop_mil_dataset *ds)
{
    hop_blas_set_threads(1);
    small_features(ds);
    init_trainer(t, HOP_MIL_FEATURES, ds);
    hop_error err;
    cr_assert_eq(hop_mil_trainer_run(t, 2, NULL, NULL, 0, -1, &err), HOP_OK, "%s", err.message);
}

Test(checkpoint, load_rejects_nan_weight)
{
    hop_mil_dataset ds;
    hop_mil_trainer t, loaded;
    two_step_features(&t, &ds);
    t.params.values[t.params.info[1].offset + 2] = NAN;
    char path[] = "/tmp/hop-nan-XXXXXX";
    close(mkstemp(path));
    hop_error err;
    cr_assert_eq(hop_mil_trainer_save(&t, path, false, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(hop_mil_trainer_load(&loaded, path, NULL, &err), HOP_ERR_DATA);
    char expected[256];
    snprintf(expected, sizeof expected, "tensor '%s' has the non-finite value nan at flat index 2",
             t.params.info[1].name);
    cr_assert(strstr(err.message, expected) != NULL, "message: %s", err.message);

    char command[512], out[4096];
    snprintf(command, sizeof command, "%s predict --model %s --data /dev/null 2>&1", HOP_CLI_PATH,
             path);
    cr_assert_eq(test_run_command(command, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, expected) != NULL, "output: %s", out);
    remove(path);
    hop_mil_trainer_free(&t);
    hop_mil_free(&ds);
}

Test(checkpoint, load_rejects_nan_moment)
{
    hop_mil_dataset ds;
    hop_mil_trainer t, loaded;
    two_step_features(&t, &ds);
    t.opt.v[3] = -1.0f;
    char path[] = "/tmp/hop-nan-XXXXXX";
    close(mkstemp(path));
    hop_error err;
    cr_assert_eq(hop_mil_trainer_save(&t, path, true, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(hop_mil_trainer_load(&loaded, path, NULL, &err), HOP_ERR_DATA);
    cr_assert(strstr(err.message, "'optimizer.adamw.v' has the invalid value -1 at index 3") !=
                  NULL,
              "message: %s", err.message);
    remove(path);
    hop_mil_trainer_free(&t);
    hop_mil_free(&ds);
}

Test(checkpoint, predict_names_sequence_input_to_features_model)
{
    hop_mil_dataset ds;
    hop_mil_trainer t;
    two_step_features(&t, &ds);
    char dir[] = "/tmp/hop-predict-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char model[128], data[128];
    snprintf(model, sizeof model, "%s/m.st", dir);
    snprintf(data, sizeof data, "%s/s.tsv", dir);
    hop_error err;
    cr_assert_eq(hop_mil_trainer_save(&t, model, false, &err), HOP_OK, "%s", err.message);
    FILE *f = fopen(data, "w");
    cr_assert_not_null(f);
    fputs("bag1\t1\tCASSLG\nbag1\t1\tCASSQE\nbag2\t0\tCASRTG\n", f);
    fclose(f);

    char command[512], out[4096];
    snprintf(command, sizeof command, "%s predict --model %s --data %s 2>&1", HOP_CLI_PATH, model,
             data);
    cr_assert_eq(test_run_command(command, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "does not look like a MIL bag file") != NULL, "output: %s", out);
    cr_assert(strstr(out, "UCI Musk format needs") == NULL, "output: %s", out);
    remove(model);
    remove(data);
    rmdir(dir);
    hop_mil_trainer_free(&t);
    hop_mil_free(&ds);
}

Test(checkpoint, load_limits_match_cli)
{
    hop_mil_dataset ds;
    hop_mil_trainer t, loaded;
    two_step_features(&t, &ds);
    t.model_config.heads = 300; /* above the 256 that --heads accepts */
    char path[] = "/tmp/hop-heads-XXXXXX";
    close(mkstemp(path));
    hop_error err;
    cr_assert_eq(hop_mil_trainer_save(&t, path, false, &err), HOP_OK, "%s", err.message);
    cr_assert_eq(hop_mil_trainer_load(&loaded, path, NULL, &err), HOP_ERR_DATA);
    cr_assert(strstr(err.message,
                     "metadata 'model.heads' is '300'; expected a number in [1, 256]") != NULL,
              "message: %s", err.message);
    remove(path);
    hop_mil_trainer_free(&t);
    hop_mil_free(&ds);
}

Test(checkpoint, cli_rejects_oversized_model)
{
    char command[512], out[4096];
    snprintf(command, sizeof command,
             "%s mil --data /nonexistent/bags.csv --heads 256 --head-dim 65536 2>&1", HOP_CLI_PATH);
    cr_assert_eq(test_run_command(command, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "above the limit of 2147483647") != NULL, "output: %s", out);
    cr_assert(strstr(out, "--heads (256), --head-dim (65536)") != NULL, "output: %s", out);
    cr_assert(strstr(out, "--embed-width (128)") != NULL, "output: %s", out);
    cr_assert(strstr(out, "out of memory") == NULL, "output: %s", out);
}

Test(checkpoint, cli_resume_warns_about_ignored_flags, .timeout = 60)
{
    hop_mil_dataset ds;
    hop_mil_trainer t;
    two_step_features(&t, &ds);
    char dir[] = "/tmp/hop-resume-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char ck[128], data[128];
    snprintf(ck, sizeof ck, "%s/ck.st", dir);
    snprintf(data, sizeof data, "%s/bags.csv", dir);
    hop_error err;
    cr_assert_eq(hop_mil_trainer_save(&t, ck, true, &err), HOP_OK, "%s", err.message);
    FILE *f = fopen(data, "w");
    cr_assert_not_null(f);
    for (int b = 0; b < ds.n_bags; b++)
        for (int i = ds.bag_start[b]; i < ds.bag_start[b + 1]; i++) {
            fprintf(f, "%d,%s", ds.labels[b], ds.bag_names[b]);
            for (int j = 0; j < ds.dim; j++)
                fprintf(f, ",%.9g", ds.features[(size_t)i * ds.dim + j]);
            fputc('\n', f);
        }
    fclose(f);

    char command[1024], out[8192];
    snprintf(command, sizeof command,
             "%s mil --data %s --resume %s --epochs 2 --folds=3 --lr 0.5 --quiet --threads 1 2>&1",
             HOP_CLI_PATH, data, ck);
    cr_assert_eq(test_run_command(command, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "--epochs, --folds, --lr are ignored") != NULL, "output: %s", out);
    cr_assert(strstr(out, "the resumed model is not saved") != NULL, "output: %s", out);

    snprintf(command, sizeof command,
             "%s mil --data %s --resume %s --quiet --threads 1 --save-model %s/m.st 2>&1",
             HOP_CLI_PATH, data, ck, dir);
    cr_assert_eq(test_run_command(command, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "warning") == NULL, "output: %s", out);

    snprintf(command, sizeof command, "rm -rf %s", dir);
    cr_assert_eq(system(command), 0);
    hop_mil_trainer_free(&t);
    hop_mil_free(&ds);
}
