/* Subcommands of the hop program; each returns the process exit status. */
#ifndef HOP_TRAIN_COMMANDS_H
#define HOP_TRAIN_COMMANDS_H

int cmd_mil(int argc, char **argv);
int cmd_golden(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_proto(int argc, char **argv);
int cmd_memory(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
