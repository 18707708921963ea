/*
 * cli/opts.c: the option tables (cli.h). One table per command drives getopt_long, the
 * usage synopsis, --help and `heaplab help CMD`, so what a command accepts and what it
 * documents cannot drift apart (tests/cli/test_docs.sh also diffs it against docs/cli.md).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define HELP_COLUMN 26 /* where option descriptions start */
#define WRAP_COLUMN 92 /* synopsis lines wrap before this */

static const struct cli_opt help_opt = {
    .key = 'h', .short_name = 'h', .name = "help", .help = "this help"
};

/* The command's options followed by -h/--help; `i` walks them, NULL at the end. */
static const struct cli_opt *opt_at(const struct cli_command *c, size_t i)
{
    size_t n = 0;
    while (c->opts && c->opts[n].name)
        n++;
    if (i < n) return &c->opts[i];
    return i == n ? &help_opt : NULL;
}

static const struct cli_opt *opt_by_key(const struct cli_command *c, int key)
{
    const struct cli_opt *o;
    for (size_t i = 0; (o = opt_at(c, i)); i++)
        if (o->key == key) return o;
    return NULL;
}

static void put_word(FILE *fp, const char *w, size_t *col, size_t indent)
{
    size_t len = strlen(w);
    if (*col + 1 + len > WRAP_COLUMN && *col > indent) {
        fprintf(fp, "\n%*s", (int)indent, "");
        *col = indent;
    } else if (*col != indent) {
        fputc(' ', fp);
        (*col)++;
    }
    fputs(w, fp);
    *col += len;
}

void cli_print_usage(const struct cli_command *c, FILE *fp)
{
    char word[160];
    size_t col = (size_t)fprintf(fp, "usage: heaplab %s", c->name), indent = col + 1;
    if (c->args_before) put_word(fp, c->args_before, &col, indent);
    const struct cli_opt *o;
    for (size_t i = 0; (o = opt_at(c, i)); i++) {
        if (o->key == 'h' || o->hidden) continue;
        snprintf(word, sizeof word, "[--%s%s%s]", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        put_word(fp, word, &col, indent);
    }
    if (c->args_after) put_word(fp, c->args_after, &col, indent);
    fputc('\n', fp);
}

/* "  -w, --workload LIST" and the description, continuation lines aligned. */
static void print_opt(const struct cli_opt *o, FILE *fp)
{
    char left[128];
    int n = snprintf(left, sizeof left, "  %s%c%s--%s%s%s", o->short_name ? "-" : " ",
                     o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ", o->name,
                     o->arg ? " " : "", o->arg ? o->arg : "");
    fputs(left, fp);
    const char *h = o->help;
    if (n + 1 >= HELP_COLUMN) fputc('\n', fp), n = 0;
    while (*h) {
        size_t len = strcspn(h, "\n");
        fprintf(fp, "%*s%.*s\n", HELP_COLUMN - n, "", (int)len, h);
        n = 0;
        h += len;
        if (*h) h++;
    }
}

/* An alias is listed as an option of its own, "same as --name". */
static void print_aliases(const struct cli_opt *o, FILE *fp)
{
    char help[96];
    snprintf(help, sizeof help, "same as --%s", o->name);
    for (const char *const *a = o->aliases; a && *a; a++) {
        struct cli_opt alias = { .key = o->key, .name = *a, .arg = o->arg, .help = help };
        print_opt(&alias, fp);
    }
}

void cli_print_help(const struct cli_command *c, FILE *fp)
{
    cli_print_usage(c, fp);
    if (c->about) fprintf(fp, "\n%s\n", c->about);
    fputs("\noptions:\n", fp);
    const struct cli_opt *o;
    for (size_t i = 0; (o = opt_at(c, i)); i++)
        if (!o->hidden) {
            print_opt(o, fp);
            print_aliases(o, fp);
        }
    if (c->notes) fprintf(fp, "\n%s\n", c->notes);
}

int cli_usage(const struct cli_command *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("heaplab: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    cli_print_usage(c, stderr);
    return EXIT_USAGE;
}

void cli_parser_init(struct cli_parser *p, const struct cli_command *c, int argc, char **argv)
{
    memset(p, 0, sizeof *p);
    p->cmd = c;
    p->argc = argc;
    p->argv = argv;
    size_t k = 0, s = 0;
    p->shortopts[s++] = '+'; /* stop at the first operand (run -- CMD, replay FILE) */
    p->shortopts[s++] = ':'; /* a missing value returns ':' */
    const struct cli_opt *o;
    for (size_t i = 0; (o = opt_at(c, i)) && k + 1 < CLI_MAX_OPTS; i++) {
        p->longopts[k++] =
                (struct option){ o->name, o->arg ? required_argument : no_argument, NULL, o->key };
        if (o->short_name && s + 3 < sizeof p->shortopts) {
            p->shortopts[s++] = o->short_name;
            if (o->arg) p->shortopts[s++] = ':';
        }
        for (const char *const *a = o->aliases; a && *a && k + 1 < CLI_MAX_OPTS; a++)
            p->longopts[k++] =
                    (struct option){ *a, o->arg ? required_argument : no_argument, NULL, o->key };
    }
    p->longopts[k] = (struct option){ NULL, 0, NULL, 0 };
    p->shortopts[s] = 0;
    optind = 0; /* a full re-initialization of getopt (commands may parse twice) */
    opterr = 0;
}

int cli_next(struct cli_parser *p)
{
    int ch = getopt_long(p->argc, p->argv, p->shortopts, p->longopts, NULL);
    p->optind = optind;
    p->value = optarg;
    if (ch == -1) return CLI_DONE;
    if (ch == 'h' && opt_by_key(p->cmd, 'h') == &help_opt) {
        cli_print_help(p->cmd, stdout);
        return CLI_HELP;
    }
    if (ch == ':') {
        const struct cli_opt *o = opt_by_key(p->cmd, optopt);
        if (o)
            cli_usage(p->cmd, "option --%s needs a value", o->name);
        else
            cli_usage(p->cmd, "option \"%s\" needs a value", p->argv[optind - 1]);
        return CLI_BAD;
    }
    if (ch == '?') {
        if (optopt && optopt < 256 && !p->argv[optind - 1][1 + (p->argv[optind - 1][1] == '-')])
            cli_usage(p->cmd, "unknown option \"-%c\"", optopt);
        else if (optopt && optopt < 256 && p->argv[optind - 1][1] != '-')
            cli_usage(p->cmd, "unknown option \"-%c\" in \"%s\"", optopt, p->argv[optind - 1]);
        else
            cli_usage(p->cmd, "unknown option \"%s\"", p->argv[optind - 1]);
        return CLI_BAD;
    }
    p->opt = opt_by_key(p->cmd, ch);
    return ch;
}

int cli_bad_value(const struct cli_parser *p, const char *why)
{
    const char *name = p->opt ? p->opt->name : "?";
    if (why && *why) return cli_usage(p->cmd, "bad --%s \"%s\" (%s)", name, p->value, why);
    return cli_usage(p->cmd, "bad --%s \"%s\"", name, p->value);
}

int cli_value_count(const struct cli_parser *p, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char why[64];
    if (cli_parse_count(p->value, out) == 0 && *out >= lo && *out <= hi) return 0;
    cli_format_range(why, sizeof why, lo, hi, 0);
    cli_bad_value(p, why);
    return -1;
}

int cli_value_bytes(const struct cli_parser *p, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char why[64];
    if (cli_parse_bytes(p->value, out) == 0 && *out >= lo && *out <= hi) return 0;
    cli_format_range(why, sizeof why, lo, hi, 1);
    cli_bad_value(p, why);
    return -1;
}

int cli_value_number(const struct cli_parser *p, double lo, double hi, double *out)
{
    char *end = NULL;
    double v = strtod(p->value, &end);
    char why[64];
    if (end != p->value && *end == 0 && v >= lo && v <= hi) {
        *out = v;
        return 0;
    }
    snprintf(why, sizeof why, "a number, %g..%g", lo, hi);
    cli_bad_value(p, why);
    return -1;
}

int cli_value_list(const struct cli_parser *p, const char *what, const char **list, size_t *n,
                   size_t cap)
{
    size_t before = *n;
    if (cli_split(p->value, list, n, cap) != 0) {
        cli_bad_value(p, "a comma-separated list without empty items");
        return -1;
    }
    for (size_t i = before; i < *n; i++) {
        for (size_t k = 0; k < i; k++) {
            if (strcmp(list[k], list[i]) == 0) {
                cli_usage(p->cmd, "%s \"%s\" named twice", what, list[i]);
                return -1;
            }
        }
    }
    return 0;
}
