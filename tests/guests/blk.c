#include "virtio.h"
void scenario_blk(void) { fail("not written yet"); }
