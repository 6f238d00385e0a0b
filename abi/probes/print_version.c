/* Prints what the loaded libnetsocket says its version is (abi/check-version.sh). */
#include <stdio.h>

#include "netsocket.h"

int main(void)
{
    printf("%s %u\n", ns_version(), ns_version_number());
    return 0;
}
