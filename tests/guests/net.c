#include "virtio.h"
void scenario_net(void) { fail("not written yet"); }
