/* etcd_url.c - the parts of the etcd client that exist in every build:
 * etcd_available() and the endpoint URL parser (see etcd.h). Pure: no
 * descriptors, no global state; callable from any thread. */
#include "etcd.h"

#include <ctype.h>

bool etcd_available(void) {
#ifdef EVD_HAVE_ETCD
        return true;
#else
        return false;
#endif
}

static int url_fail(char **ret_error, const char *text, const char *why) {
        if (ret_error)
                *ret_error = strdup_printf("bad etcd endpoint \"%s\": %s", text, why);
        return -EINVAL;
}

static bool host_name_ok(const char *h, size_t n) {
        /* Letters, digits, '-' and '.' (names and IPv4 addresses), no empty
         * label, no '-' at a label's edge. */
        size_t label = 0;
        for (size_t i = 0; i < n; i++) {
                char ch = h[i];
                if (ch == '.') {
                        if (label == 0 || h[i - 1] == '-')
                                return false;
                        label = 0;
                } else if (isalnum((unsigned char)ch) || ch == '-') {
                        if (ch == '-' && label == 0)
                                return false;
                        label++;
                } else
                        return false;
        }
        return n > 0 && label > 0 && h[n - 1] != '-';
}

static bool host_ipv6_ok(const char *h, size_t n) {
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isxdigit((unsigned char)h[i]) && h[i] != ':' && h[i] != '.')
                        return false;
        return memchr(h, ':', n) != NULL;
}

int etcd_url_parse(const char *text, char **ret, char **ret_error) {
        const char *scheme, *p;
        if (startswith(text, "http://"))
                scheme = "http", p = text + 7;
        else if (startswith(text, "https://"))
                scheme = "https", p = text + 8;
        else
                return url_fail(ret_error, text, "want http://HOST[:PORT] or https://HOST[:PORT]");

        const char *host = p, *host_end;
        bool v6 = false;
        if (*p == '[') {
                host = p + 1;
                host_end = strchr(host, ']');
                if (!host_end)
                        return url_fail(ret_error, text, "unterminated [IPv6 address]");
                if (!host_ipv6_ok(host, host_end - host))
                        return url_fail(ret_error, text, "bad IPv6 address");
                p = host_end + 1;
                v6 = true;
        } else {
                host_end = host + strcspn(host, ":/?#@");
                if (*host_end == '@')
                        return url_fail(ret_error, text, "user names are not supported");
                if (!host_name_ok(host, host_end - host))
                        return url_fail(ret_error, text, host_end == host ? "no host" : "bad host name");
                p = host_end;
        }

        unsigned long port = 2379;
        if (*p == ':') {
                p++;
                if (!isdigit((unsigned char)*p))
                        return url_fail(ret_error, text, "bad port");
                port = 0;
                while (isdigit((unsigned char)*p)) {
                        port = port * 10 + (unsigned long)(*p++ - '0');
                        if (port > 65535)
                                break;
                }
                if (port == 0 || port > 65535)
                        return url_fail(ret_error, text, "port out of range (1-65535)");
        }
        if (*p == '/')
                p++;
        if (*p != '\0')
                return url_fail(ret_error, text, "unexpected path, query or text after the port");

        char *s = strdup_printf(v6 ? "%s://[%.*s]:%lu" : "%s://%.*s:%lu", scheme,
                                (int)(host_end - host), host, port);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int etcd_url_parse_list(const char *text, char ***ret, char **ret_error) {
        _cleanup_(strv_freep) char **v = NULL;
        const char *p = text;
        for (;;) {
                p += strspn(p, ", \t");
                if (*p == '\0')
                        break;
                size_t n = strcspn(p, ", \t");
                _cleanup_(freep) char *one = strndup(p, n);
                _cleanup_(freep) char *url = NULL;
                if (!one)
                        return -ENOMEM;
                int r = etcd_url_parse(one, &url, ret_error);
                if (r < 0)
                        return r;
                if (strv_push(&v, url) < 0)
                        return -ENOMEM;
                p += n;
        }
        if (!v) {
                if (ret_error)
                        *ret_error = strdup("no etcd endpoint given");
                return -EINVAL;
        }
        *ret = v;
        v = NULL;
        return 0;
}
