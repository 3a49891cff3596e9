#include <mmring.h>
#include <stdio.h>

int main(void) {
    mmring_writer *w; mmring_reader *r; mmring_view v;
    if (mmring_writer_open_or_create("hello.ring", 1 << 16, &w) != MMRING_OK ||
        mmring_reader_open("hello.ring", NULL, &r) != MMRING_OK)
        return fprintf(stderr, "hello: %s\n", mmring_last_error()), 1;
    mmring_writer_send(w, "hello", 5);
    if (mmring_reader_recv(r, &v) == MMRING_OK) printf("%.*s\n", (int)v.len, (const char *)v.data);
    mmring_reader_close(&r);
    mmring_writer_close(&w);
}
