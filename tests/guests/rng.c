#include "virtio.h"
void scenario_rng(void) { fail("not written yet"); }
