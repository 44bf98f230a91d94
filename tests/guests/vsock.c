#include "virtio.h"
void scenario_vsock(void) { fail("not written yet"); }
