/* A function a broken or a legal variant of the library adds (abi tests). */
#include "netsocket.h"

NS_API int ns_abi_test_added(void);

int ns_abi_test_added(void) { return 1; }
