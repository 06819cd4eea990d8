/* xensim: domain names and UUIDs (see dom_names.h). */
#include "dom_names.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

int dom_uuid_parse(const char *s, uint8_t out[16])
{
    uint8_t tmp[16];
    if (strlen(s) != 36)
        return -EINVAL;
    int n = 0;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash) {
            if (s[i] != '-')
                return -EINVAL;
            continue;
        }
        int v = hex_digit(s[i]);
        if (v < 0)
            return -EINVAL;
        if (n % 2 == 0)
            tmp[n / 2] = (uint8_t)(v << 4);
        else
            tmp[n / 2] |= (uint8_t)v;
        n++;
    }
    if (out)
        memcpy(out, tmp, sizeof(tmp));
    return 0;
}

size_t dom_control_char_at(const char *s)
{
    for (size_t i = 0; s[i]; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return i + 1;
    return 0;
}
