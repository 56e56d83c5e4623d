/* posix_spawn.h - the C library's <spawn.h>. evd's own src/spawn.h shadows
 * it on the include path, so a module that wants posix_spawn() writes
 * #include <posix_spawn.h> (angle brackets: found through -I src), and
 * #include_next goes on searching after src/. */
#pragma once

#include_next <spawn.h>
