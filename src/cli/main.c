/* cli/main.c: placeholder entry until the commands land. */
#include <stdio.h>
int main(void)
{
    puts("heaplab " HEAPLAB_VERSION);
    return 0;
}
