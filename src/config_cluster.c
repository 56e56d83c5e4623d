/* config_cluster.c - the checks of [cluster] that need the whole section
 * or the whole file (the key parsers are rows of config_keys.c): defaults
 * for node, name and lease when the section ends, and `cluster = once`
 * without a [cluster] anywhere in the file. Any thread, like config_load(). */
#include <string.h>
#include <unistd.h>

#include "config_parser.h"

void config_cluster_section_end(struct parser *p) {
        struct cluster_config *c = p->config->cluster;
        if (!config_key_seen(p, "etcd"))
                lerror(p, p->section_line, "missing etcd= in [cluster]");
        if (!c->node) {
                char host[256] = "";
                if (gethostname(host, sizeof host - 1) < 0 || !host[0] ||
                    !job_name_valid(host, strlen(host), NULL))
                        lerror(p, p->section_line,
                               "missing node= in [cluster], and the host name \"%s\" cannot be used as one", host);
                else
                        c->node = config_strdup(p, host);
        }
        if (!c->name)
                c->name = config_strdup(p, "default");
        if (!c->lease)
                c->lease = CLUSTER_LEASE_DEFAULT;
        if ((c->cert_file == NULL) != (c->key_file == NULL))
                lerror(p, p->section_line, "cert_file= and key_file= in [cluster] go together");
}

void config_cluster_finish(struct parser *p) {
        if (!p->n_cluster_once || p->config->cluster)
                return;
        char more[64] = "";
        if (p->n_cluster_once > 1)
                snprintf(more, sizeof more, " (and %u more jobs)", p->n_cluster_once - 1);
        config_error(p, p->cluster_once_path, p->cluster_once_seq, p->cluster_once_line,
                     "cluster = once in [job:%s] needs a [cluster] section%s", p->cluster_once_job, more);
}
